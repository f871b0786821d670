//! `chorus bench soak`: one simulated party for hours of virtual time with churn, one line
//! per period (playout error, churn, this process's resident memory), and whether the
//! error or the memory grew from the first period to the last.

use std::fmt::Write as _;

use serde::Serialize;

use crate::sim::scenarios::soak::{self, SoakConfig, SoakPeriod};

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakReport {
    pub seed: u64,
    pub boxes: usize,
    pub periods: Vec<SoakPeriod>,
    /// Resident memory after the first period and at the end, bytes.
    pub memory_first: u64,
    pub memory_last: u64,
    /// Mean playout error of the first and the last period, µs.
    pub mean_error_first_us: f64,
    pub mean_error_last_us: f64,
}

/// Why the soak failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SoakError {
    /// The simulated party broke an invariant: a bug; replay the seed to see it.
    #[error("seed {seed} broke an invariant: {violation}")]
    Violation { seed: u64, violation: String },
}

/// Runs the soak, printing each period as it ends when `progress`.
pub fn run(config: &SoakConfig, progress: bool) -> Result<SoakReport, SoakError> {
    if progress {
        println!("{}", header());
    }
    let periods = soak::run(config, resident_bytes, |p| {
        if progress {
            println!("{}", line(p));
        }
    })
    .map_err(|violation| SoakError::Violation {
        seed: config.seed,
        violation,
    })?;
    let first = periods.first();
    let last = periods.last();
    Ok(SoakReport {
        seed: config.seed,
        boxes: config.boxes,
        memory_first: first.map_or(0, |p| p.memory_bytes),
        memory_last: last.map_or(0, |p| p.memory_bytes),
        mean_error_first_us: first.map_or(0.0, |p| p.mean_error_us),
        mean_error_last_us: last.map_or(0.0, |p| p.mean_error_us),
        periods,
    })
}

fn header() -> String {
    "  hour  playing   checks   mean µs  worst µs  spread µs  churn  host kills  reformed  pending  RSS MB"
        .to_string()
}

fn line(p: &SoakPeriod) -> String {
    format!(
        "{:>6.2} {:>7.0}% {:>8} {:>9.1} {:>9.1} {:>10.1} {:>6} {:>11} {:>9} {:>8} {:>7.1}",
        p.end_s / 3600.0,
        100.0 * p.playing_s / p.period_s.max(1e-9),
        p.checks,
        p.mean_error_us,
        p.worst_error_us,
        p.worst_spread_us,
        p.churn,
        p.host_kills,
        p.reformed,
        p.pending,
        p.memory_bytes as f64 / 1e6
    )
}

/// The closing lines: the trend from the first period to the last.
pub fn summary(r: &SoakReport) -> String {
    let mut s = String::new();
    let churn: u32 = r.periods.iter().map(|p| p.churn).sum();
    let kills: u32 = r.periods.iter().map(|p| p.host_kills).sum();
    let worst = r
        .periods
        .iter()
        .map(|p| p.worst_error_us)
        .fold(0.0, f64::max);
    let _ = writeln!(
        s,
        "soak: seed {}, {} boxes, {:.1} h, {churn} churn events ({kills} host kills): no invariant broken",
        r.seed,
        r.boxes,
        r.periods.last().map_or(0.0, |p| p.end_s / 3600.0)
    );
    let _ = writeln!(
        s,
        "  mean playout error, first / last period: {:.1} / {:.1} µs; worst of the run {worst:.1} µs",
        r.mean_error_first_us, r.mean_error_last_us
    );
    let _ = write!(
        s,
        "  resident memory, first / last period: {:.1} / {:.1} MB",
        r.memory_first as f64 / 1e6,
        r.memory_last as f64 / 1e6
    );
    s
}

/// This process's resident set (`VmRSS`; 0 where /proc is missing).
fn resident_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
