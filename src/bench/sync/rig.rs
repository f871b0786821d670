//! What the benchmark's boxes are built from: their clocks' and DACs' rate errors, how
//! their drivers report timing, their buffers, and how often their playback thread starves.

use std::time::Duration;

use serde::Serialize;

use crate::audio::simdac::TimingNoise;
use crate::audio::simplayer::Stalls;

/// The hardware and runtime of every box of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rig {
    /// Name printed in the report.
    pub name: String,
    /// Each box's monotonic clock runs uniformly within ± this, ppm.
    pub crystal_ppm: f64,
    /// Each box's DAC runs uniformly within ± this off nominal, ppm.
    pub dac_ppm: f64,
    /// Frames per write and per timing reading.
    pub block: usize,
    /// DAC buffer, frames.
    pub buffer: u64,
    /// RMS error of each timing reading.
    #[serde(serialize_with = "micros")]
    pub timing_rms: Duration,
    /// A slowly wandering bias of the readings that the box cannot see: RMS and
    /// correlation time.
    #[serde(serialize_with = "micros")]
    pub wander_rms: Duration,
    #[serde(serialize_with = "micros")]
    pub wander_tau: Duration,
    /// Playback-thread stalls per second, and the longest.
    pub stalls_per_sec: f64,
    #[serde(serialize_with = "micros")]
    pub longest_stall: Duration,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e6)
}

impl Rig {
    /// Boxes of their own: independent crystals and DACs within ±100 ppm, drivers that
    /// report the position exactly (the model the benchmark has always used).
    pub fn boxes() -> Self {
        Rig {
            name: "boxes".into(),
            crystal_ppm: 100.0,
            dac_ppm: 100.0,
            block: 480,
            buffer: 960,
            timing_rms: Duration::ZERO,
            wander_rms: Duration::ZERO,
            wander_tau: Duration::ZERO,
            stalls_per_sec: 0.0,
            longest_stall: Duration::ZERO,
        }
    }

    /// `chorus bench playout`'s rig: every box on one machine (one monotonic clock, a
    /// null sink paced by it), writing 240-frame blocks into PipeWire's ALSA plugin,
    /// whose timing readings scatter as measured there (`position_jitter_us` in
    /// `ctl status`; see BENCHMARKS.md).
    pub fn pipewire() -> Self {
        Rig {
            name: "pipewire".into(),
            crystal_ppm: 0.0,
            dac_ppm: 0.0,
            block: 240,
            // The plugin's queue as the boxes report it (`latency_us`): ~30 ms.
            buffer: 1_536,
            timing_rms: Duration::from_micros(PIPEWIRE_JITTER_US),
            wander_rms: Duration::from_micros(PIPEWIRE_WANDER_US),
            wander_tau: Duration::from_secs(PIPEWIRE_WANDER_TAU_S),
            stalls_per_sec: 0.0,
            longest_stall: Duration::ZERO,
        }
    }

    /// The DAC noise of box `index` of a run seeded `seed`.
    pub(super) fn noise(&self, seed: u64, index: usize) -> TimingNoise {
        TimingNoise {
            rms: self.timing_rms,
            wander_rms: self.wander_rms,
            wander_tau: self.wander_tau,
            seed: seed ^ (index as u64).rotate_left(17),
        }
    }

    /// The stalls of box `index` of a run seeded `seed`.
    pub(super) fn stalls(&self, seed: u64, index: usize) -> Stalls {
        Stalls {
            per_second: self.stalls_per_sec,
            longest: self.longest_stall,
            seed: seed ^ (index as u64).rotate_left(29),
        }
    }
}

/// RMS scatter of PipeWire's ALSA plugin timing readings around the filtered position,
/// as `bench playout` measured it on the development machine (6-7 µs per box on a quiet
/// machine, up to 18 µs with builds running beside it).
const PIPEWIRE_JITTER_US: u64 = 7;

/// The wander of one box's lag as `bench playout` measured it in ten-minute runs: RMS
/// (the pairwise 4.8-6.5 µs over √2) and correlation time (4-17 s).
const PIPEWIRE_WANDER_US: u64 = 4;
const PIPEWIRE_WANDER_TAU_S: u64 = 10;
