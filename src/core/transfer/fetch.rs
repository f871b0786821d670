//! The values the [`Swarm`](super::Swarm) planner exchanges with the runtime: its
//! configuration, the requests it wants sent, what an arrival means, progress and counters.

use std::time::Duration;

use crate::core::{NodeId, SongRef};

/// How a box fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// False: fetch every song only from its origin (no peer-to-peer trading).
    pub swarming: bool,
    /// Requests in flight per peer: enough to keep one TCP pipe busy.
    pub per_peer: usize,
    /// Requests in flight to a song's origin when swarming: few, so the origin's queue
    /// stays short and what it sends is still rare when it is sent (every member asks
    /// it; a long queue fills with chunks others have fetched meanwhile).
    pub origin_per_peer: usize,
    /// Requests in flight in total.
    pub max_in_flight: usize,
    /// A request unanswered this long is sent elsewhere.
    pub request_timeout: Duration,
    /// Tie-break seed: different per box so boxes ask for different chunks.
    pub seed: u64,
    /// When every missing chunk of the first incomplete song is in flight, ask a second
    /// peer for chunks (the last chunks then do not wait on the slowest peer).
    pub endgame: bool,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            swarming: true,
            per_peer: 4,
            origin_per_peer: 1,
            max_in_flight: 16,
            request_timeout: Duration::from_secs(10),
            seed: 0,
            endgame: true,
        }
    }
}

/// A request to send now: ask `peer` for `chunk` of `song`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetch {
    pub peer: NodeId,
    pub song: SongRef,
    pub chunk: u32,
}

/// What the runtime does with a chunk that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Valid and new: write it; the song is still incomplete.
    Stored,
    /// Valid and the last missing chunk: write it; the song is complete.
    Completed,
    /// Valid but already held (a second answer): discard it.
    Duplicate,
    /// Failed verification: discard it; it is fetched from another peer.
    Corrupt,
    /// Not asked for, or for a song no longer wanted: discard it.
    Unrequested,
}

/// How much of a song a box holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub chunks_held: u32,
    pub chunks_total: u32,
    pub bytes_held: u64,
    pub bytes_total: u64,
}

/// Totals since the swarm was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmCounters {
    pub requests: u64,
    pub timeouts: u64,
    pub corrupt: u64,
    pub unrequested: u64,
    pub refused: u64,
    pub duplicates: u64,
}
