//! What the playout machine sees of the party's playback: the state now and the next
//! change coming, on this box's clock.

use std::time::Duration;

use super::clock::{ClockEstimate, PartyTime};
use super::schedule::{PlaybackState, Schedule};
use super::{Instant, PartyRole};

/// How far ahead the view looks for the next change: more than the runtime's playout
/// period (50 ms) with room for a late tick, and beyond a song change's lead (its
/// output latency plus [`super::schedule::OPEN_AHEAD`]), so every box hears of a start
/// or a song change as soon as it is scheduled, in time to open the song and line its
/// first frame up.
pub const LOOKAHEAD: Duration = Duration::from_millis(300);

/// What the runtime needs to play in step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaybackView {
    /// The schedule's state at the local `now` the view was taken at.
    pub state: PlaybackState,
    /// The next change of the schedule (an entry or a song's end) if it comes within
    /// [`LOOKAHEAD`]: the local instant it takes effect and the state from then on. A sink
    /// told early can start the new song on its first scheduled frame.
    pub upcoming: Option<(Instant, PlaybackState)>,
    /// The member's clock estimate (`None` on the host, whose clock is the party's).
    pub clock: Option<ClockEstimate>,
    pub role: PartyRole,
}

impl PlaybackView {
    /// The view of `schedule` at party time `party_now`, looking [`LOOKAHEAD`] ahead;
    /// `to_local` maps a party time to this box's clock.
    pub fn of(
        schedule: &Schedule,
        party_now: PartyTime,
        clock: Option<ClockEstimate>,
        role: PartyRole,
        to_local: impl Fn(PartyTime) -> Option<Instant>,
    ) -> PlaybackView {
        let upcoming = schedule
            .next_change_after(party_now)
            .filter(|&at| at - party_now <= LOOKAHEAD)
            .and_then(|at| Some((to_local(at)?, schedule.state_at(at))));
        PlaybackView {
            state: schedule.state_at(party_now),
            upcoming,
            clock,
            role,
        }
    }
}
