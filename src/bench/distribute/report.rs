//! The distribution benchmark's results and the bounds they are judged against, printed
//! for people or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// Bits per second of every box's link in the namespace runs (`tbf rate 100mbit`).
pub const LINK_BITS_PER_SEC: u64 = 100_000_000;
/// The swarming target: within this factor of the lower bound.
pub const SWARM_TARGET_RATIO: f64 = 1.3;
/// The single-pair loopback target.
pub const LOOPBACK_TARGET_MB_PER_SEC: f64 = 500.0;

/// Seconds the host needs at least to send `size_bytes` once over an uplink of
/// `uplink_bits_per_sec`: every byte leaves the host at least once, whoever relays it.
pub fn lower_bound_s(size_bytes: u64, uplink_bits_per_sec: u64) -> Option<f64> {
    (uplink_bits_per_sec > 0).then(|| size_bytes as f64 * 8.0 / uplink_bits_per_sec as f64)
}

/// One distribution run (swarming on or off).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Members fetch from each other (`[songs] swarm`).
    pub swarm: bool,
    /// Seconds from the join requests until the last member held the song.
    pub seconds: f64,
    /// Seconds until each member held it, in member order.
    pub member_seconds: Vec<f64>,
    /// Bytes the host's interface sent during the run (all traffic, TCP/IP headers
    /// included); `None` if the counters could not be read.
    pub host_tx_bytes: Option<u64>,
}

/// The namespace benchmark: one song, a host and its members, each on its own link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributeReport {
    pub members: usize,
    pub song_bytes: u64,
    pub link_bits_per_sec: u64,
    /// Seconds: song size / host uplink.
    pub lower_bound_s: f64,
    pub runs: Vec<RunReport>,
}

/// Two boxes on loopback, no rate limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopbackReport {
    pub song_bytes: u64,
    /// Seconds from the join request until the member held the song.
    pub seconds: f64,
    /// Song megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// MB/s of a plain write of as many bytes to a new file just before and just after
    /// the run: what the machine's page cache allowed at the time (the member's copy of
    /// the song into its cache is such a write).
    pub plain_write_mb_per_sec: Option<(f64, f64)>,
    /// CPU seconds the host and the member used from the join until the member held
    /// the song (to the kernel's 10 ms tick).
    pub cpu_seconds: Option<(f64, f64)>,
}

/// Everything one `chorus bench distribute` printed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BenchReport {
    pub namespaces: Option<DistributeReport>,
    pub loopback: Option<LoopbackReport>,
}

impl RunReport {
    /// Time over the lower bound.
    pub fn ratio(&self, lower_bound_s: f64) -> Option<f64> {
        (lower_bound_s > 0.0).then(|| self.seconds / lower_bound_s)
    }
}

impl LoopbackReport {
    pub fn new(song_bytes: u64, seconds: f64) -> Self {
        let mb_per_sec = if seconds > 0.0 {
            song_bytes as f64 / 1e6 / seconds
        } else {
            0.0
        };
        LoopbackReport {
            song_bytes,
            seconds,
            mb_per_sec,
            plain_write_mb_per_sec: None,
            cpu_seconds: None,
        }
    }
}

impl BenchReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.namespaces {
            render_namespaces(&mut out, d);
        }
        if let Some(l) = &self.loopback {
            let verdict = if l.mb_per_sec >= LOOPBACK_TARGET_MB_PER_SEC {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(
                out,
                "loopback pair: {:.1} MB in {:.3} s = {:.1} MB/s (target >= {:.0} MB/s: {verdict})",
                l.song_bytes as f64 / 1e6,
                l.seconds,
                l.mb_per_sec,
                LOOPBACK_TARGET_MB_PER_SEC
            );
            if let Some((before, after)) = l.plain_write_mb_per_sec {
                let _ = writeln!(
                    out,
                    "  the same size written plainly to a new file: {before:.0} MB/s before, \
                     {after:.0} MB/s after"
                );
            }
            if let Some((host, member)) = l.cpu_seconds {
                let _ = writeln!(
                    out,
                    "  CPU used meanwhile: host {host:.2} s, member {member:.2} s ({:.2} s per GB)",
                    (host + member) / (l.song_bytes as f64 / 1e9).max(1e-9)
                );
            }
        }
        out
    }
}

fn render_namespaces(out: &mut String, d: &DistributeReport) {
    let _ = writeln!(
        out,
        "distribute: {:.1} MB song, host + {} members, {} Mbit/s per link (tbf, both ways)",
        d.song_bytes as f64 / 1e6,
        d.members,
        d.link_bits_per_sec / 1_000_000
    );
    let _ = writeln!(
        out,
        "lower bound (size / host uplink): {:.3} s",
        d.lower_bound_s
    );
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>7} {:>12} {:>10}  {:<21}  target",
        "mode", "time s", "ratio", "host sent MB", "x song", "member s (min/max)"
    );
    for r in &d.runs {
        let mode = if r.swarm { "swarm" } else { "origin" };
        let ratio = r.ratio(d.lower_bound_s).unwrap_or(f64::NAN);
        let (sent, times) = match r.host_tx_bytes {
            Some(b) => (
                format!("{:.1}", b as f64 / 1e6),
                format!("{:.2}", b as f64 / d.song_bytes.max(1) as f64),
            ),
            None => ("-".into(), "-".into()),
        };
        let min = r
            .member_seconds
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = r.member_seconds.iter().copied().fold(0.0, f64::max);
        let target = if !r.swarm {
            "-"
        } else if ratio <= SWARM_TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        };
        let _ = writeln!(
            out,
            "{mode:<10} {:>9.3} {:>7.2} {sent:>12} {times:>10}  {:<21}  {target}",
            r.seconds,
            ratio,
            format!("{min:.2} / {max:.2}"),
        );
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
