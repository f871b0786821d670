//! The party schedule as it travels: pool songs, actions and timed entries.
//!
//! These mirror the core's schedule types field for field, so the postcard bytes are the
//! same; the core converts at its edge (`core::schedule::wire`), which lets either side
//! change its own types without changing the other.

use serde::{Deserialize, Serialize};

use super::{NodeId, SongRef};

/// A song of the party's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSong {
    pub song: SongRef,
    /// Sample rate of the song's own frames.
    pub rate: u32,
    /// Length in frames, 0 if unknown.
    pub frames: u64,
    /// The box the song is fetched from when it is not the host's.
    pub origin: Option<NodeId>,
}

/// What to do at an entry's party time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Play { song: SongRef, from_frame: u64 },
    Pause,
    Resume,
    Skip,
    Previous,
    Select { index: u32 },
    Seek { frame: u64 },
    Volume { percent: u8 },
}

/// "At party time `at_ns` do `action`", with the host's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Nanoseconds on the host's party timeline.
    pub at_ns: u64,
    pub seq: u64,
    pub action: Action,
}
