//! A deterministic simulation of one song spreading through a party: every box runs the
//! core's [`Transfer`] machine (the one the runtime runs: connections, the origin's
//! manifest, super-seeding, serving, verification) on virtual time while the simulator
//! carries out its actions (links with latency and loss, finite uplinks, an instant
//! disk), with members leaving mid-transfer and an optional hostile peer that serves
//! corrupt chunks.
//!
//! [`run`] returns a [`TransferSimReport`]; the same config (seed included) always gives
//! the same report.
//!
//! [`Transfer`]: crate::core::transfer::Transfer

use std::time::Duration;

use crate::core::transfer::{SwarmConfig, SwarmCounters};

mod exec;
mod world;

/// One simulated transfer: box 0 is the origin holding the whole song, boxes
/// `1..=members` fetch it, and one more box is hostile if `hostile` is set.
#[derive(Debug, Clone)]
pub struct TransferSimConfig {
    pub seed: u64,
    pub members: usize,
    pub song_bytes: u64,
    /// A power of two the manifest accepts (16 KiB to 512 KiB).
    pub chunk_size: u32,
    /// Every box's upload rate in bytes per second; downloads are not limited.
    pub uplink: u64,
    /// Mean one-way latency; each link gets a fixed latency in [0.5, 1.5] times this.
    pub latency: Duration,
    /// Probability that a request or a chunk is lost (the requester's timeout fires).
    pub loss: f64,
    /// Members that leave between 20 % and 60 % of the ideal transfer time.
    pub leavers: usize,
    /// A peer that claims every chunk and answers every request with garbage.
    pub hostile: bool,
    /// Every box's planner config; its seed is replaced by one drawn per box.
    pub swarm: SwarmConfig,
    /// Virtual time after which the run stops.
    pub time_limit: Duration,
}

impl Default for TransferSimConfig {
    fn default() -> Self {
        TransferSimConfig {
            seed: 1,
            members: 8,
            song_bytes: 8 << 20,
            chunk_size: 128 * 1024,
            // 100 Mbit/s, a Raspberry Pi's Ethernet.
            uplink: 12_500_000,
            latency: Duration::from_millis(1),
            loss: 0.0,
            leavers: 0,
            hostile: false,
            swarm: SwarmConfig {
                request_timeout: Duration::from_secs(2),
                ..SwarmConfig::default()
            },
            time_limit: Duration::from_secs(600),
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSimReport {
    pub seed: u64,
    /// When the last member still present completed; `None` if one had not by the limit.
    pub finish: Option<Duration>,
    /// `song_bytes / uplink`: no box can have the song before the origin sent it once.
    pub lower_bound: Duration,
    pub song_bytes: u64,
    pub origin_bytes: u64,
    /// Members that did not leave, and how many of them completed.
    pub stayed: usize,
    pub completed: usize,
    /// Chunks a box stored although they arrived invalid (must be 0).
    pub corrupt_stored: u64,
    /// Boxes whose planner's held set differs from what the simulator stored (must be 0).
    pub mismatched: usize,
    /// All boxes' planner counters added up.
    pub counters: SwarmCounters,
    /// Hash of every event handled: equal for equal configs.
    pub trace: u64,
}

impl TransferSimReport {
    /// Finish time over the lower bound.
    pub fn slowdown(&self) -> Option<f64> {
        let bound = self.lower_bound.as_secs_f64();
        self.finish.map(|f| f.as_secs_f64() / bound.max(1e-9))
    }

    /// Bytes the origin uploaded, in songs.
    pub fn origin_songs(&self) -> f64 {
        self.origin_bytes as f64 / self.song_bytes.max(1) as f64
    }
}

/// Runs one transfer simulation to completion or the time limit.
pub fn run(config: TransferSimConfig) -> TransferSimReport {
    let mut world = world::World::new(config);
    world.run();
    world.report()
}
