//! Song transfer planning (pure): manifests of content-addressed songs, which chunks a box
//! holds, and which chunk to fetch from which peer next (rarest first).
//!
//! - [`manifest`]: a song's size, chunk size and per-chunk BLAKE3 hashes, with limits.
//! - [`chunks`]: [`ChunkSet`], the bitfield of chunks a box holds.
//! - [`fetch`]: the planner's config, requests, arrivals, progress and counters.
//! - [`picker`]: rarest-first ordering of the chunks to request.
//! - [`swarm`]: [`Swarm`], which chunk to request from which peer, timeouts and strikes.

pub mod chunks;
pub mod fetch;
pub mod manifest;
pub mod picker;
pub mod swarm;

pub use chunks::{ChunkSet, ChunkSetError};
pub use fetch::{Arrival, Fetch, Progress, SwarmConfig, SwarmCounters};
pub use manifest::{Manifest, ManifestError, Tags, DEFAULT_CHUNK_SIZE, MAX_CHUNKS, MAX_SONG_BYTES};
pub use swarm::{Swarm, MAX_STRIKES, MAX_WANTED};
