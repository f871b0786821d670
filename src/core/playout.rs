//! Playout policy (sans-IO): turns what the schedule wants audible now into commands for
//! a sink (play song S so that song-second X is audible at local instant T, have the next
//! song ready to take over at its instant, stop, set the volume), issued only on change
//! (of song, clock estimate or volume) plus a periodic re-anchoring, and says when a song
//! started so the song transfer can count it as played.
//!
//! The runtime executes these commands on the playback thread (mapping a song to its
//! file), `chorus bench sync` and the simulator on a simulated DAC: all three run the same
//! decisions, so what the benchmark and the simulator observe is what a box does.

use std::time::Duration;

use super::schedule::PlaybackState;
use super::{ClockEstimate, Instant, PlaybackView, SongRef};

/// How often a playing song is re-anchored. Between anchors the sink extrapolates at the
/// estimated clock rate ([`Anchor::pace`]); a new anchor carries the estimate's latest
/// correction (an error bound of tens of µs that moves by a few µs per exchange).
pub const REANCHOR: Duration = Duration::from_millis(50);

/// Where in a song the schedule wants to be: `song_seconds` into it is audible at the
/// local instant `at`, advancing `pace` song seconds per local second from there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub song_seconds: f64,
    pub at: Instant,
    /// The party clock's rate against this box's (1 + the estimate's ppm; 1 on the host):
    /// between anchors the sink follows the party clock, not its own, so re-anchoring
    /// only corrects the estimate's updates rather than up to 200 ppm of drift.
    pub pace: f64,
}

/// What a sink should do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SinkCommand {
    /// Play `song` on `anchor`; a different song replaces the current one, the same song
    /// only moves the anchor.
    Play { song: SongRef, anchor: Anchor },
    /// While the current song plays: have `song` ready, and from `anchor.at` on play it
    /// instead (a song's end or a skip). The sink opens it ahead and hands over on the
    /// frame, so a song change lands on its sample like a first song; a later `Next`
    /// replaces this one, and a `Play` of this song finds it ready.
    Next { song: SongRef, anchor: Anchor },
    /// The next song told is not coming after all (the schedule changed).
    CancelNext,
    /// Silence (the device keeps running, so timing stays continuous).
    Stop,
    /// The party volume, 0 to 100.
    Volume(u8),
}

/// What one [`Playout::update`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayoutStep {
    /// For the sink, in order.
    pub commands: Vec<SinkCommand>,
    /// A song this box just started playing (the transfer keeps played songs longer).
    pub started: Option<SongRef>,
}

/// The playout machine of one box: remembers what it last told the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Playout {
    reanchor: Duration,
    playing: Option<SongRef>,
    anchored_at: Option<Instant>,
    /// The clock estimate the last anchor was taken with.
    anchored_clock: Option<ClockEstimate>,
    /// The song the sink was told comes next, and when.
    queued: Option<(SongRef, Instant)>,
    volume: Option<u8>,
}

impl Default for Playout {
    fn default() -> Self {
        Playout::new(REANCHOR)
    }
}

impl Playout {
    /// A machine that has told the sink nothing yet and re-anchors every `reanchor`.
    pub fn new(reanchor: Duration) -> Self {
        Playout {
            reanchor,
            playing: None,
            anchored_at: None,
            anchored_clock: None,
            queued: None,
            volume: None,
        }
    }

    /// The song the sink was last told to play, if it is playing.
    pub fn playing(&self) -> Option<SongRef> {
        self.playing
    }

    /// One decision at local instant `now`, given the node's view of playback (`None`
    /// while this box does not know the party's time) and which songs this box holds.
    ///
    /// A playing song is re-anchored once its anchor is older than half the period, so a
    /// caller that ticks every period re-anchors on every tick despite timer jitter.
    pub fn update(
        &mut self,
        now: Instant,
        view: Option<&PlaybackView>,
        holds: impl Fn(&SongRef) -> bool,
    ) -> PlayoutStep {
        let mut step = PlayoutStep::default();
        let state = view.map(|v| v.state).filter(|s| s.playing);
        let audible = state.and_then(|s| s.song.filter(|song| holds(song)).map(|song| (s, song)));
        // A song about to start while the sink is silent: tell the sink now, anchored at
        // its start, so it begins on its first scheduled frame instead of joining late.
        // (While a song plays, a different next song is told as `Next` instead.)
        let early = view
            .and_then(|v| v.upcoming)
            .filter(|(at, next)| *at > now && next.playing && audible.is_none())
            .and_then(|(at, next)| next.song.filter(|s| holds(s)).map(|song| (at, next, song)));
        let clock = view.and_then(|v| v.clock);
        match (early, audible) {
            (Some((at, next, song)), _) => self.play(&mut step, now, clock, song, next, at),
            (None, Some((s, song))) => self.play(&mut step, now, clock, song, s, now),
            // Paused, stopped, not yet in step, or a song this box lacks: stay silent,
            // and come in at the right position as soon as that changes.
            (None, None) => {
                self.anchored_at = None;
                self.queued = None;
                if self.playing.take().is_some() {
                    step.commands.push(SinkCommand::Stop);
                }
            }
        }
        // A different song taking over from the one playing: the sink readies it now.
        let then = view
            .and_then(|v| v.upcoming)
            .filter(|(at, next)| *at > now && next.playing && early.is_none())
            .and_then(|(at, next)| next.song.filter(|s| holds(s)).map(|song| (at, next, song)))
            .filter(|(_, _, song)| audible.is_some_and(|(_, playing)| playing != *song));
        self.queue(&mut step, clock, then);
        if let Some(v) = view {
            if self.volume != Some(v.state.volume) {
                step.commands.push(SinkCommand::Volume(v.state.volume));
                self.volume = Some(v.state.volume);
            }
        }
        step
    }

    /// Plays `song` with `state`'s position audible at `at`, re-anchoring when the song,
    /// the clock estimate or the period says so.
    fn play(
        &mut self,
        step: &mut PlayoutStep,
        now: Instant,
        clock: Option<ClockEstimate>,
        song: SongRef,
        state: PlaybackState,
        at: Instant,
    ) {
        let changed = self.playing != Some(song);
        // A new clock estimate moves party time at once; waiting for the period would
        // leave the sink on the old one for up to 50 ms.
        let stale = clock != self.anchored_clock
            || self
                .anchored_at
                .is_none_or(|a| now.saturating_duration_since(a) > self.reanchor / 2);
        if changed || stale {
            let anchor = Anchor {
                song_seconds: state.position_frames / f64::from(state.rate.max(1)),
                at,
                pace: clock.map_or(1.0, |c| 1.0 + c.rate_ppm * 1e-6),
            };
            step.commands.push(SinkCommand::Play { song, anchor });
            self.anchored_at = Some(now);
            self.anchored_clock = clock;
        }
        if changed {
            step.started = Some(song);
            // The song told to come next has come (the sink handed over to it).
            if self.queued.is_some_and(|(q, _)| q == song) {
                self.queued = None;
            }
        }
        self.playing = Some(song);
    }

    /// Tells the sink which song takes over next and when: anew when that changes or
    /// whenever the playing song was re-anchored (the same clock estimate moves both).
    fn queue(
        &mut self,
        step: &mut PlayoutStep,
        clock: Option<ClockEstimate>,
        then: Option<(Instant, PlaybackState, SongRef)>,
    ) {
        let Some((at, state, song)) = then else {
            if self.queued.take().is_some() && self.playing.is_some() {
                step.commands.push(SinkCommand::CancelNext);
            }
            return;
        };
        let reanchored = step
            .commands
            .iter()
            .any(|c| matches!(c, SinkCommand::Play { .. }));
        if self.queued == Some((song, at)) && !reanchored {
            return;
        }
        step.commands.push(SinkCommand::Next {
            song,
            anchor: Anchor {
                song_seconds: state.position_frames / f64::from(state.rate.max(1)),
                at,
                pace: clock.map_or(1.0, |c| 1.0 + c.rate_ppm * 1e-6),
            },
        });
        self.queued = Some((song, at));
    }
}

#[cfg(test)]
#[path = "playout_tests.rs"]
mod tests;
