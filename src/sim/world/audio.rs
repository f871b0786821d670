//! The simulator's ears: when enabled, every box's speaker ([`Speaker`]) is ticked every
//! [`TICK`] of virtual time from its node's playback view, and after every tick each
//! settled box's true audible frame is compared with its host's schedule at that same
//! true instant (see [`crate::sim::audio`]).

use std::time::Duration;

use super::Sim;
use crate::core::{Instant, PartyRole, PartyState, PlaybackView, SongRef};
use crate::proto::PartyId;
use crate::sim::audio::{Key, PlaybackCheck, PlaybackStats, Speaker, TICK};
use crate::sim::invariants::{Breach, Violation};

/// The speakers of every box and the check's bookkeeping.
#[derive(Debug)]
pub(super) struct Audio {
    check: PlaybackCheck,
    speakers: Vec<Speaker>,
    next_tick: Instant,
    stats: PlaybackStats,
}

/// One checked box at one instant: its party and its error, seconds.
type Checked = Option<(PartyId, f64)>;

impl Sim {
    /// Gives every box (also those added later) a speaker and checks playback from now on.
    pub fn enable_playback(&mut self, check: PlaybackCheck) {
        self.audio = Some(Box::new(Audio {
            check,
            speakers: Vec::new(),
            next_tick: self.now,
            stats: PlaybackStats::default(),
        }));
    }

    /// The playback check's worst cases so far (`None` unless enabled).
    pub fn playback_stats(&self) -> Option<PlaybackStats> {
        self.audio.as_ref().map(|a| a.stats)
    }

    /// The playback check's worst cases since the last call (or since enabled), and
    /// starts counting afresh: one period of a long run at a time.
    pub fn take_playback_stats(&mut self) -> Option<PlaybackStats> {
        self.audio.as_mut().map(|a| std::mem::take(&mut a.stats))
    }

    /// Ground truth: the song and song second box `i`'s DAC plays now.
    pub fn audible(&self, i: usize) -> Option<(SongRef, f64)> {
        self.audio.as_ref()?.speakers.get(i)?.audible()
    }

    /// Whether box `i` holds `song` (its pool or its cache).
    fn holds(&self, i: usize, song: &SongRef) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| s.pool.iter().any(|p| p.song == *song) || s.held.contains(song))
    }

    /// Runs every tick due at or before `until`.
    pub(super) fn audio_until(&mut self, until: Instant) -> Result<(), Violation> {
        let Some(mut audio) = self.audio.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        while audio.next_tick <= until && result.is_ok() {
            let t = audio.next_tick;
            audio.next_tick = t + TICK;
            result = self.audio_tick(&mut audio, t);
        }
        self.audio = Some(audio);
        result
    }

    fn audio_tick(&self, audio: &mut Audio, t: Instant) -> Result<(), Violation> {
        for (i, slot) in self.slots.iter().enumerate() {
            if audio.speakers.len() <= i {
                audio
                    .speakers
                    .push(Speaker::new(self.seed, i, slot.boot, t));
            }
            let Some(node) = slot.node.as_ref() else {
                continue;
            };
            let speaker = &mut audio.speakers[i];
            if speaker.boot != slot.boot {
                // A new process: a fresh playout machine and player on the same DAC.
                *speaker = Speaker::new(self.seed, i, slot.boot, t);
            }
            speaker.tick(t, node.playback(t).as_ref(), |s| self.holds(i, s));
        }
        let mut checked = Vec::new();
        for i in 0..self.slots.len() {
            if let Some(c) = self.check_playback(audio, i, t)? {
                checked.push(c);
            }
        }
        checked.sort_by_key(|c| c.0);
        for group in checked.chunk_by(|a, b| a.0 == b.0) {
            let (lo, hi) = group.iter().fold((f64::MAX, f64::MIN), |(lo, hi), c| {
                (lo.min(c.1), hi.max(c.1))
            });
            let spread = (hi - lo) * 1e6;
            audio.stats.worst_spread_us = audio.stats.worst_spread_us.max(spread);
        }
        Ok(())
    }

    /// The speaker key of box `i` at `t` with its host's song second due now, when box
    /// `i` should be playing in step with its host: both in the same started party, its
    /// clock locked and its schedule playing, and it holds the host's current song.
    fn playback_key(&self, i: usize, t: Instant) -> Option<(Key, f64)> {
        let node = self.node(i)?;
        let party = node.party().filter(|p| p.state == PartyState::Started)?;
        // Without a locked clock (a jittery link) a box rightly stays silent.
        node.playback(t).filter(|v| v.state.playing)?;
        let h = *self.ids.get(&party.host)?;
        let host = self.node(h)?;
        host.party()
            .filter(|p| p.id == party.id && p.role == PartyRole::Host)?;
        let due = host.playback(t)?.state;
        let song = due.song.filter(|s| due.playing && self.holds(i, s))?;
        let key = Key {
            boot: self.slots.get(i)?.boot,
            host: h,
            host_boot: self.slots.get(h)?.boot,
            party: party.id,
            song,
            index: due.index,
            cut: self.network.is_blocked(h, i) || self.network.is_blocked(i, h),
        };
        Some((key, due.position_frames / f64::from(due.rate.max(1))))
    }

    /// Whether box `i`'s own schedule names `song` within `bound` s of `t`: at a song's
    /// end a box whose clock is a little ahead is on the next song already, in step.
    fn at_song_end(&self, i: usize, t: Instant, song: SongRef, bound: f64) -> bool {
        let margin = Duration::from_secs_f64(bound);
        let before = Instant::from_nanos(t.as_nanos().saturating_sub(margin.as_nanos() as u64));
        [before, t + margin].iter().any(|&at| {
            self.node(i)
                .and_then(|n| n.playback(at))
                .is_some_and(|v| v.state.song == Some(song))
        })
    }

    fn check_playback(
        &self,
        audio: &mut Audio,
        i: usize,
        t: Instant,
    ) -> Result<Checked, Violation> {
        let settle = audio.check.settle;
        let Some(speaker) = audio.speakers.get_mut(i) else {
            return Ok(None);
        };
        let Some((key, due)) = self.playback_key(i, t) else {
            speaker.unsettle();
            return Ok(None);
        };
        let now = t.as_nanos() as f64 * 1e-9;
        let view = self.node(i).and_then(|n| n.playback(t));
        let own = view
            .filter(|v| v.state.song == Some(key.song))
            .map(|v| now - v.state.position_frames / f64::from(v.state.rate.max(1)));
        if !speaker.settled(t, Some(key), (now - due, own), settle) {
            return Ok(None);
        }
        let audible = speaker.audible();
        let violation = |breach| Violation {
            seed: self.seed,
            at: t,
            node: i,
            id: self.id(i).unwrap_or(crate::core::NodeId(0)),
            breach,
        };
        let reported = view
            .and_then(|v| v.clock)
            .map_or(0.0, |c| c.error_at(t) * 1e-9);
        let bound = audio.check.error_factor * reported + audio.check.allowance.as_secs_f64();
        // The box's own schedule must name its host's song and position: a box cut off
        // from its host cannot hear of a change, every other one has had `settle` to.
        if let Some(breach) = view.and_then(|v| diverged(&v, &key, due, bound)) {
            let boundary = self.at_song_end(i, t, key.song, bound);
            return if key.cut || boundary {
                Ok(None)
            } else {
                Err(violation(breach))
            };
        }
        let Some(second) = audible.filter(|a| a.0 == key.song).map(|a| a.1) else {
            // Cut off from its host a box cannot know of a skip: not its fault.
            let knows = view.is_some_and(|v| v.state.song == Some(key.song));
            if key.cut && !knows {
                return Ok(None);
            }
            let audible = audible.map(|a| a.0);
            return Err(violation(Breach::WrongSong {
                expected: key.song,
                audible,
            }));
        };
        let error = second - due;
        let stats = &mut audio.stats;
        stats.checks += 1;
        stats.worst_error_us = stats.worst_error_us.max(error.abs() * 1e6);
        stats.total_error_us += error.abs() * 1e6;
        stats.worst_ratio = stats.worst_ratio.max(error.abs() / bound);
        stats.worst_reported_us = stats.worst_reported_us.max(reported * 1e6);
        if error.abs() > bound {
            return Err(violation(Breach::OutOfStep {
                song_ms: (due * 1e3).max(0.0) as u64,
                error_us: (error * 1e6).round() as i64,
                own_us: view.map_or(0, |v| {
                    let own = v.state.position_frames / f64::from(v.state.rate.max(1));
                    ((own - due) * 1e6).round() as i64
                }),
                bound_us: (bound * 1e6).round() as u64,
                reported_us: (reported * 1e6).round() as u64,
            }));
        }
        Ok(Some((key.party, error)))
    }
}

/// How a box's own schedule `view` strays from its host's song `key.song` at `due` s, if
/// it names another song or a position more than `bound` s away.
fn diverged(view: &PlaybackView, key: &Key, due: f64, bound: f64) -> Option<Breach> {
    let at = view.state.position_frames / f64::from(view.state.rate.max(1));
    (view.state.song != Some(key.song) || (at - due).abs() > bound).then(|| {
        Breach::ScheduleDiverged {
            own: view.state.song,
            own_us: ((at - due) * 1e6).round() as i64,
            bound_us: (bound * 1e6).round() as u64,
        }
    })
}
