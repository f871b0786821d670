//! The sync benchmark's results: per profile, printed for people or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::net::NetProfile;
use super::rig::Rig;
use super::speaker::{Speaker, RATE};
use super::{snr, Samples, SyncBenchConfig};

/// p50 / p99 / max of a set of values (µs in this report).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Values summarized.
    pub count: usize,
}

impl Percentiles {
    /// Percentiles of `values` scaled by `scale`; `None` if empty.
    fn of(values: &[f64], scale: f64) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().map(|x| x * scale).collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((q * v.len() as f64).ceil() as usize).saturating_sub(1);
            v.get(i.min(v.len().saturating_sub(1))).copied()
        };
        Some(Percentiles {
            p50: at(0.5)?,
            p99: at(0.99)?,
            max: *v.last()?,
            count: v.len(),
        })
    }
}

/// One network profile's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    /// Profile name (`lan`, `wifi`).
    pub profile: String,
    /// The profile's parameters.
    pub network: NetProfile,
    /// Seconds from power-up until the song's first sample was due: the host is asked
    /// to play at 0.5 s and holds the song until the members' clocks settle, as the
    /// product does (`None`: the song never started).
    pub start_s: Option<f64>,
    /// Seconds from the song's first sample until every box plays within 1 ms of every
    /// other, for good (`None`: not by the end of the run).
    pub lock_s: Option<f64>,
    /// After lock, per 10 ms tick: spread (max - min) across all boxes of the true time
    /// at which they play the same song frame, µs.
    pub playout_spread_us: Option<Percentiles>,
    /// The same over the second half of the run only (steady state).
    pub settled_spread_us: Option<Percentiles>,
    /// From 10 s on, per 0.5 s window: spread of each box's mean error over the window,
    /// µs. `bench playout` measures this on real boxes (cross-correlation windows).
    pub window_spread_us: Option<Percentiles>,
    /// After lock, per member and tick: |estimated - true| party time, µs.
    pub clock_error_us: Option<Percentiles>,
    /// Share of those where the estimator's own error bound covered the true error.
    pub clock_bound_coverage: Option<f64>,
    /// SNR (dB) of a 1 kHz sine through rubato steered like box 1 from its start.
    pub snr_db: Option<f64>,
    /// Hard re-seeks, all boxes.
    pub reseeks: u64,
    /// Largest steering any box applied, ppm.
    pub max_steer_ppm: f64,
    /// Time-sync exchanges sent / lost, all members.
    pub exchanges: u64,
    /// Exchanges with a lost request or reply.
    pub lost_exchanges: u64,
    /// Target p99 of the spread for this profile, µs (issue 4), if it has one.
    pub target_p99_us: Option<f64>,
    /// p99, lock time (≤ 1 s) and SNR (≥ 90 dB) all within target.
    pub meets_targets: bool,
}

/// Results of `chorus bench sync`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// Boxes simulated (host included).
    pub boxes: usize,
    /// Virtual seconds per profile.
    pub seconds: f64,
    /// Seed.
    pub seed: u64,
    /// What the boxes were built from.
    pub rig: Rig,
    /// One entry per profile.
    pub profiles: Vec<ProfileReport>,
}

impl SyncReport {
    /// A table for people.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "sync: {} boxes ({} rig), {} s virtual per profile, seed {}",
            self.boxes, self.rig.name, self.seconds, self.seed
        );
        let _ = writeln!(
            s,
            "{:<8} {:>7} {:>7} {:>24} {:>16} {:>16} {:>16} {:>7} {:>7} {:>7}",
            "net",
            "start",
            "lock",
            "spread p50/p99/max us",
            "settled p99/max",
            "0.5s-win p99/max",
            "clock p99/max us",
            "SNR dB",
            "reseeks",
            "target"
        );
        for p in &self.profiles {
            let lock = p.lock_s.map_or("never".into(), |l| format!("{l:.2} s"));
            let start = p.start_s.map_or("never".into(), |l| format!("{l:.2} s"));
            let spread = p.playout_spread_us.map_or("-".into(), |q| {
                format!("{:.1} / {:.1} / {:.1}", q.p50, q.p99, q.max)
            });
            let pair = |q: Option<Percentiles>| {
                q.map_or("-".into(), |q| format!("{:.1} / {:.1}", q.p99, q.max))
            };
            let (settled, clock) = (pair(p.settled_spread_us), pair(p.clock_error_us));
            let windows = pair(p.window_spread_us);
            let snr = p.snr_db.map_or("-".into(), |d| format!("{d:.1}"));
            let verdict = match (p.target_p99_us, p.meets_targets) {
                (None, _) => "-",
                (Some(_), true) => "met",
                (Some(_), false) => "MISSED",
            };
            let _ = writeln!(
                s,
                "{:<8} {:>7} {:>7} {:>24} {:>16} {:>16} {:>16} {:>7} {:>7} {:>7}",
                p.profile, start, lock, spread, settled, windows, clock, snr, p.reseeks, verdict
            );
        }
        s
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Fold one profile's samples into its report.
pub(super) fn summarize(
    config: &SyncBenchConfig,
    profile: &NetProfile,
    speakers: &[Speaker],
    samples: &Samples,
    (start, lock): (Option<f64>, f64),
    tick_secs: f64,
) -> ProfileReport {
    let locked = start.is_some() && lock < config.seconds;
    let lock_after_start = start.map(|s| (lock - s).max(0.0));
    let spread: Vec<f64> = samples
        .spread
        .iter()
        .filter(|s| s.0 >= lock)
        .map(|s| s.1)
        .collect();
    let playout = if locked {
        Percentiles::of(&spread, 1e6)
    } else {
        None
    };
    let settled: Vec<f64> = samples
        .spread
        .iter()
        .filter(|s| s.0 >= lock.max(config.seconds / 2.0))
        .map(|s| s.1)
        .collect();
    let windows: Vec<f64> = samples
        .windows
        .iter()
        .filter(|w| w.0 >= 10.0)
        .map(|w| w.1)
        .collect();
    let clock = Percentiles::of(&samples.clock_error, 1e6);
    let coverage = (!samples.clock_error.is_empty())
        .then(|| samples.covered as f64 / samples.clock_error.len() as f64);
    let snr_ticks = (config.snr_seconds / tick_secs).ceil() as usize;
    let snr_db = speakers.get(1).and_then(|s| {
        let trace = &s.steer_trace[..s.steer_trace.len().min(snr_ticks)];
        snr::steered_sine_snr(trace, tick_secs, RATE).ok()
    });
    let target = match profile.name.as_str() {
        "lan" => Some(50.0),
        "wifi" => Some(500.0),
        _ => None,
    };
    let meets = locked
        && target.is_some()
        && lock_after_start.is_some_and(|l| l <= 1.0)
        && snr_db.is_some_and(|d| d >= 90.0)
        && playout.is_some_and(|q| target.is_some_and(|t| q.p99 <= t));
    ProfileReport {
        profile: profile.name.clone(),
        network: profile.clone(),
        start_s: start,
        lock_s: lock_after_start.filter(|_| locked),
        playout_spread_us: playout,
        settled_spread_us: if locked {
            Percentiles::of(&settled, 1e6)
        } else {
            None
        },
        window_spread_us: Percentiles::of(&windows, 1e6),
        clock_error_us: clock,
        clock_bound_coverage: coverage,
        snr_db,
        reseeks: speakers.iter().map(|s| s.reseeks()).sum(),
        max_steer_ppm: speakers.iter().map(|s| s.max_steer).fold(0.0, f64::max),
        exchanges: speakers.iter().map(|s| s.exchanges).sum(),
        lost_exchanges: speakers.iter().map(|s| s.lost).sum(),
        target_p99_us: target,
        meets_targets: meets,
    }
}
