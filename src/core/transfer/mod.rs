//! Song transfer (pure): manifests of content-addressed songs, which chunks a box holds,
//! which chunk to fetch from which peer next (rarest first), and the machine that makes
//! every other transfer decision of a box.
//!
//! - [`manifest`]: a song's size, chunk size and per-chunk BLAKE3 hashes, with limits.
//! - [`chunks`]: [`ChunkSet`], the bitfield of chunks a box holds.
//! - [`fetch`]: the planner's config, requests, arrivals, progress and counters.
//! - [`picker`]: rarest-first ordering of the chunks to request.
//! - [`swarm`]: [`Swarm`], which chunk to request from which peer, timeouts and strikes.
//! - [`machine`]: [`Transfer`], the sans-IO machine around the planner: connections and
//!   admission, the manifest trust rule, serving and refusals (the origin's first-copy
//!   rule), failure backoff, and the one set of songs this box holds.

pub mod chunks;
pub mod fetch;
pub mod machine;
pub mod manifest;
pub mod picker;
pub mod swarm;

pub use chunks::{ChunkSet, ChunkSetError};
pub use fetch::{Arrival, Fetch, Progress, SwarmConfig, SwarmCounters};
pub use machine::{
    ConnId, DiskFailure, DiskFailureKind, SongReport, SongState, Transfer, TransferAction,
    TransferConfig,
};
pub use manifest::{
    Manifest, ManifestError, Tags, VerifiedChunk, DEFAULT_CHUNK_SIZE, MAX_CHUNKS, MAX_SONG_BYTES,
};
pub use swarm::{Swarm, MAX_STRIKES, MAX_WANTED};
