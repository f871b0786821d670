//! Party schedule (pure): every playback action is an entry "at party time T do X"; the
//! state at any party time is the replay of the entries up to it, so a box that hears of
//! an action late still lands at the right song position (catch-up).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::clock::PartyTime;
pub use crate::proto::SongRef;

mod replay;
mod wire;

pub(crate) use wire::{from_wire, to_wire};

/// A song of the party's pool, with what replaying positions needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSong {
    /// Which song.
    pub song: SongRef,
    /// Its sample rate (positions are counted in its own frames).
    pub rate: u32,
    /// Its length in frames; at the end the schedule moves to the next song of the pool.
    /// 0 if unknown (the song then plays until an action replaces it).
    pub frames: u64,
    /// The box the song is fetched from when it is not the host's (a member queued it).
    pub origin: Option<crate::core::NodeId>,
}

/// What to do at an entry's party time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Play `song` from frame `from_frame` (of the song's own rate).
    Play {
        /// The song.
        song: SongRef,
        /// First frame.
        from_frame: u64,
    },
    /// Hold the position.
    Pause,
    /// Continue from the held position.
    Resume,
    /// Next song of the pool, from its start; past the last song the first, and after
    /// the pool ran out the first, playing.
    Skip,
    /// Previous song of the pool (the first one stays the first), from its start.
    Previous,
    /// Song `index` of the pool, from its start, playing.
    Select {
        /// Index into the pool.
        index: u32,
    },
    /// Jump to `frame` of the current song.
    Seek {
        /// Frame of the current song.
        frame: u64,
    },
    /// Output volume.
    Volume {
        /// 0..=100; larger values mean 100.
        percent: u8,
    },
}

/// "At party time `at` do `action`"; `seq` (assigned by the host, unique in the party)
/// orders entries with the same `at` and makes insertion idempotent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// When.
    pub at: PartyTime,
    /// Host-assigned sequence number.
    pub seq: u64,
    /// What.
    pub action: Action,
}

/// Where playback stands at a given party time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaybackState {
    /// The current song, `None` before the first Play or after the pool ran out.
    pub song: Option<SongRef>,
    /// Its index in the pool, if it is in the pool.
    pub index: Option<u32>,
    /// Playing (true) or paused / stopped.
    pub playing: bool,
    /// Song frame (fractional) audible at the queried time, at `rate`.
    pub position_frames: f64,
    /// The song's rate (the pool's, or the schedule's default for a song outside it).
    pub rate: u32,
    /// 0..=100.
    pub volume: u8,
}

/// Why an entry was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// New entry stored.
    Added,
    /// An entry with this `seq` is already known (retransmission): ignored.
    Duplicate,
    /// The entry lies before the compacted horizon: too late to replay. Resynchronise
    /// from the host's state instead.
    TooLate,
    /// The schedule holds [`MAX_ENTRIES`] entries: a misbehaving host; ignored.
    Full,
}

/// Most entries kept between compactions (a party makes a few per minute).
pub const MAX_ENTRIES: usize = 4_096;

/// Shortest lead time: below this, a scheduling hiccup on the host would already be late.
pub const MIN_LEAD: Duration = Duration::from_millis(30);

/// How often a member reports its round trip and clock error bound to the host.
pub const REPORT_EVERY: Duration = Duration::from_millis(500);
/// The party's first song waits for the founders' reported clock error bounds (see
/// [`crate::core::ClockEstimator::reported_error_us`]) to be this good, in µs...
pub const SETTLED_ERROR_US: u32 = 100;
/// ...but not longer than this once every founder holds the song.
pub const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// How far ahead of now the host schedules an action, given the party's measured
/// worst-case delivery time to its members: that time plus half again (at least 10 ms),
/// never under [`MIN_LEAD`], never over 5 s (a measurement that large is a broken link).
pub fn lead_time(worst_delivery: Duration) -> Duration {
    let margin = (worst_delivery / 2).max(Duration::from_millis(10));
    (worst_delivery + margin).clamp(MIN_LEAD, Duration::from_secs(5))
}

/// What a song change adds to an action's lead: the time a box takes to open the new
/// song and decode its first blocks before its audio output needs them, so that it hands
/// over on the frame (a box told 33 ms ahead of a 45 ms output was already late, dropped
/// what it had decoded and ran dry).
pub const OPEN_AHEAD: Duration = Duration::from_millis(100);

impl Action {
    /// Whether the action makes a different song play (or the same one from its start).
    pub fn changes_song(&self) -> bool {
        matches!(
            self,
            Action::Play { .. } | Action::Skip | Action::Previous | Action::Select { .. }
        )
    }
}

/// The party's schedule: its entries in (at, seq) order, replayed on demand.
#[derive(Debug, Clone)]
pub struct Schedule {
    pool: Vec<PoolSong>,
    default_rate: u32,
    entries: BTreeMap<(PartyTime, u64), Action>,
    seqs: HashMap<u64, PartyTime>,
    /// State at `horizon`, folding every entry before it.
    base: Snapshot,
    horizon: PartyTime,
}

/// A replay position: the state as of `since`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Snapshot {
    since: PartyTime,
    song: Option<SongRef>,
    index: Option<u32>,
    playing: bool,
    /// Frame at `since`.
    frame: f64,
    volume: u8,
}

impl Schedule {
    /// An empty schedule over `pool`; songs outside the pool are counted at
    /// `default_rate` frames per second.
    pub fn new(pool: Vec<PoolSong>, default_rate: u32) -> Self {
        Schedule {
            pool,
            default_rate: default_rate.max(1),
            entries: BTreeMap::new(),
            seqs: HashMap::new(),
            base: Snapshot {
                since: PartyTime::ZERO,
                song: None,
                index: None,
                playing: false,
                frame: 0.0,
                volume: 100,
            },
            horizon: PartyTime::ZERO,
        }
    }

    /// Replace the pool (it grows as songs are announced). Every box must hold the same
    /// pool for Skip/Previous/Select and song ends to replay alike.
    pub fn set_pool(&mut self, pool: Vec<PoolSong>) {
        self.pool = pool;
    }

    /// The pool.
    pub fn pool(&self) -> &[PoolSong] {
        &self.pool
    }

    /// Every entry kept, in (at, seq) order: what a box joining late needs to replay.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .map(|(&(at, seq), &action)| Entry { at, seq, action })
            .collect()
    }

    /// The highest sequence number seen: a successor host numbers on from there.
    pub fn max_seq(&self) -> Option<u64> {
        self.seqs.keys().copied().max()
    }

    /// Add an entry; entries may arrive in any order, late, or more than once.
    pub fn insert(&mut self, entry: Entry) -> InsertOutcome {
        if self.seqs.contains_key(&entry.seq) {
            return InsertOutcome::Duplicate;
        }
        if entry.at < self.horizon {
            return InsertOutcome::TooLate;
        }
        if self.entries.len() >= MAX_ENTRIES {
            return InsertOutcome::Full;
        }
        self.seqs.insert(entry.seq, entry.at);
        self.entries.insert((entry.at, entry.seq), entry.action);
        InsertOutcome::Added
    }

    /// Entries stored (after the compacted horizon).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Playback at party time `at`: the replay of every entry with `at' <= at`.
    pub fn state_at(&self, at: PartyTime) -> PlaybackState {
        let mut snap = self.base;
        for (&(when, _), action) in self.entries.range(..=(at, u64::MAX)) {
            snap = self.advance(snap, when);
            snap = self.apply(snap, action);
        }
        let snap = self.advance(snap, at.max(snap.since));
        let position = snap.frame + self.elapsed_frames(&snap, at);
        PlaybackState {
            song: snap.song,
            index: snap.index,
            playing: snap.playing,
            position_frames: position,
            rate: self.rate_of(snap.song),
            volume: snap.volume,
        }
    }

    /// The next party time after `at` at which the state changes other than by playing
    /// on: the next entry or the end of the current song.
    pub fn next_change_after(&self, at: PartyTime) -> Option<PartyTime> {
        let entry = self
            .entries
            .range((at, u64::MAX)..)
            .map(|(&(when, _), _)| when)
            .find(|&when| when > at);
        let state = self.state_at(at);
        let end = self.song_end(&Snapshot {
            since: at,
            song: state.song,
            index: state.index,
            playing: state.playing,
            frame: state.position_frames,
            volume: state.volume,
        });
        match (entry, end.filter(|&e| e > at)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fold every entry before `upto` into the base state and forget it (keeps memory
    /// bounded on long parties). Entries arriving for earlier times are then refused.
    pub fn compact(&mut self, upto: PartyTime) {
        if upto <= self.horizon {
            return;
        }
        let mut snap = self.base;
        let keep = self.entries.split_off(&(upto, 0));
        for (&(when, _), action) in &self.entries {
            snap = self.advance(snap, when);
            snap = self.apply(snap, action);
        }
        self.base = self.advance(snap, upto.max(snap.since));
        self.entries = keep;
        self.horizon = upto;
        self.seqs.retain(|_, at| *at >= upto);
    }
}

#[cfg(test)]
#[path = "schedule/tests.rs"]
mod tests;
