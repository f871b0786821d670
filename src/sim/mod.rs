//! Deterministic simulator: many core [`Node`](crate::core::Node)s on virtual time over a
//! lossy, partitionable network, with invariants checked after every step.
//!
//! Everything random comes from one seed, nothing reads the real clock, and simultaneous
//! events run in insertion order, so a seed replays the same run forever: a failing seed
//! is a reproducible bug report (every [`Violation`] prints its seed).
//!
//! - [`network`]: link models (delay, jitter, loss, duplication, reordering), multicast
//!   segments, unicast routes, partitions.
//! - [`streams`]: control streams (TCP): reliable, ordered, broken by partitions and
//!   crashes; [`StreamModel`] and [`CrashMode`].
//! - [`world`]: the [`Sim`] itself: nodes, the event queue, crash/restart; its
//!   `dispatch` runs one event, `streams` carries control streams, `party` gives boxes
//!   commands and checks the party rules, and `query` answers who sees whom.
//! - [`transfer`]: one song spreading through a party of [`Swarm`](crate::core::transfer::Swarm)
//!   planners over finite uplinks ([`transfer::run`]).
//! - [`audio`]: every box's playout machine and simulated player, and the check that
//!   each plays its host's schedule (enabled by [`Sim::enable_playback`]).
//! - [`invariants`]: the rules checked after every step and the [`Violation`] error.
//! - [`scenarios`]: seeded random worlds shared by the tests and `chorus bench`, and the
//!   runner that spreads seeds over threads.
//! - `builder`: [`SimBuilder`], segments, routes and per-box config.
//! - `queue`, `trace`: the (time, insertion order) event queue and the run's trace hash.

pub mod audio;
mod builder;
pub mod invariants;
pub mod network;
mod queue;
pub mod scenarios;
pub mod streams;
mod trace;
pub mod transfer;
pub mod world;

pub use audio::{PlaybackCheck, PlaybackStats};
pub use builder::{SimBuilder, DEFAULT_SEGMENT};
pub use invariants::{Breach, Violation};
pub use network::{Jitter, LinkModel, Network, SegmentId, LOOPBACK_DELAY};
pub use streams::{CrashMode, StreamModel};
pub use trace::{TraceKind, TraceRecord};
pub use transfer::{TransferSimConfig, TransferSimReport};
pub use world::{node_addr, CommandFailed, Sim, SimEvent, SimStats, NODE_PORT};
