//! Replaying schedule entries: how each action and each song end changes the state.

use std::time::Duration;

use super::{Action, PartyTime, Schedule, Snapshot, SongRef};

impl Schedule {
    pub(super) fn rate_of(&self, song: Option<SongRef>) -> u32 {
        song.and_then(|s| self.pool.iter().find(|p| p.song == s))
            .map_or(self.default_rate, |p| p.rate.max(1))
    }

    fn frames_of(&self, song: Option<SongRef>) -> u64 {
        song.and_then(|s| self.pool.iter().find(|p| p.song == s))
            .map_or(0, |p| p.frames)
    }

    /// Frames played from `snap.since` to `at` (none while paused).
    pub(super) fn elapsed_frames(&self, snap: &Snapshot, at: PartyTime) -> f64 {
        if !snap.playing || snap.song.is_none() {
            return 0.0;
        }
        let secs = at.saturating_duration_since(snap.since).as_secs_f64();
        secs * f64::from(self.rate_of(snap.song))
    }

    /// When the current song runs out, if it is playing and its length is known.
    pub(super) fn song_end(&self, snap: &Snapshot) -> Option<PartyTime> {
        let frames = self.frames_of(snap.song);
        if !snap.playing || frames == 0 {
            return None;
        }
        let left = (frames as f64 - snap.frame).max(0.0);
        let secs = left / f64::from(self.rate_of(snap.song));
        Some(snap.since + Duration::from_secs_f64(secs))
    }

    /// Play on from `snap.since` to `to`, moving through the pool at song ends.
    pub(super) fn advance(&self, mut snap: Snapshot, to: PartyTime) -> Snapshot {
        // Each song end moves one place down the pool, so this ends within its length.
        for _ in 0..=self.pool.len() {
            match self.song_end(&snap) {
                Some(end) if end <= to => snap = self.song_ended(snap, end),
                _ => break,
            }
        }
        snap.frame += self.elapsed_frames(&snap, to);
        snap.since = to.max(snap.since);
        snap
    }

    fn song_ended(&self, snap: Snapshot, at: PartyTime) -> Snapshot {
        let next = snap.index.map_or(0, |i| i.saturating_add(1));
        self.select(Snapshot { since: at, ..snap }, next, snap.playing)
    }

    /// Song `index` of the pool from its start, or stopped past the pool's end.
    fn select(&self, snap: Snapshot, index: u32, playing: bool) -> Snapshot {
        match self.pool.get(index as usize) {
            Some(p) => Snapshot {
                song: Some(p.song),
                index: Some(index),
                playing,
                frame: 0.0,
                ..snap
            },
            None => Snapshot {
                song: None,
                index: None,
                playing: false,
                frame: 0.0,
                ..snap
            },
        }
    }

    /// Apply `action` at `snap.since` (the snapshot has been advanced to it).
    pub(super) fn apply(&self, snap: Snapshot, action: &Action) -> Snapshot {
        match *action {
            Action::Play { song, from_frame } => Snapshot {
                song: Some(song),
                index: self
                    .pool
                    .iter()
                    .position(|p| p.song == song)
                    .and_then(|i| u32::try_from(i).ok()),
                playing: true,
                frame: from_frame as f64,
                ..snap
            },
            Action::Pause => Snapshot {
                playing: false,
                ..snap
            },
            Action::Resume => Snapshot {
                playing: snap.song.is_some(),
                ..snap
            },
            // Past the last song the pool starts over, and a skip after the pool ran
            // out starts it: a person pressing skip expects music, not silence.
            Action::Skip => {
                let next = snap.index.map_or(0, |i| i.saturating_add(1));
                let next = match u32::try_from(self.pool.len()) {
                    Ok(len) if len > 0 => next % len,
                    _ => next,
                };
                self.select(snap, next, snap.playing || snap.song.is_none())
            }
            Action::Previous => {
                let prev = snap.index.map_or(0, |i| i.saturating_sub(1));
                self.select(snap, prev, snap.playing)
            }
            Action::Select { index } => {
                if (index as usize) < self.pool.len() {
                    self.select(snap, index, true)
                } else {
                    // An index outside the pool (a stale or hostile entry): no change.
                    snap
                }
            }
            Action::Seek { frame } if snap.song.is_some() => Snapshot {
                frame: frame as f64,
                ..snap
            },
            Action::Seek { .. } => snap,
            Action::Volume { percent } => Snapshot {
                volume: percent.min(100),
                ..snap
            },
        }
    }
}
