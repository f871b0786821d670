//! The control (a known delay through the same recording path) and the bench's report,
//! printed for people or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::analyze::{Analysis, Percentiles, LOCK_S, MAX_LAG_S, SETTLE_S, WINDOW_S};
use super::correlate::{lag, onset};
use super::signal::RATE;

/// The control's padding: channel 1 plays the noise this many samples after channel 2.
pub const CONTROL_PAD: usize = 37;
/// The control must read [`CONTROL_PAD`] within this (samples) in every window.
pub const CONTROL_TOLERANCE: f64 = 0.1;
/// The control's length, seconds.
pub const CONTROL_S: f64 = 3.0;

/// The control's result: one stream, its two channels padded by a known delay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlReport {
    pub expected_samples: f64,
    /// The delay read in each window, samples.
    pub measured_samples: Vec<f64>,
    /// Largest distance from the expected delay, samples.
    pub worst_error_samples: f64,
    pub passed: bool,
}

impl ControlReport {
    /// Reads the delay of `late` behind `early` in 0.5 s windows from `early`'s onset
    /// (skipping its first 0.1 s, where the stream may still be starting).
    pub fn measure(early: &[f32], late: &[f32]) -> ControlReport {
        let rate = f64::from(RATE);
        let len = (WINDOW_S * rate) as usize;
        let max_lag = (MAX_LAG_S * rate) as usize;
        let mut measured = Vec::new();
        if let Some(first) = onset(early) {
            let mut start = first + (0.1 * rate) as usize;
            while let Some(l) = lag(early, late, start, len, max_lag) {
                measured.push(l.samples);
                start += len;
            }
        }
        let expected = CONTROL_PAD as f64;
        let worst = measured
            .iter()
            .map(|m| (m - expected).abs())
            .fold(0.0, f64::max);
        ControlReport {
            expected_samples: expected,
            // Two windows at least: one could match by luck.
            passed: measured.len() >= 2 && worst <= CONTROL_TOLERANCE,
            worst_error_samples: if measured.is_empty() {
                f64::INFINITY
            } else {
                worst
            },
            measured_samples: measured,
        }
    }

    pub fn render_text(&self) -> String {
        let reads: Vec<String> = self
            .measured_samples
            .iter()
            .map(|m| format!("{m:.3}"))
            .collect();
        format!(
            "control: {} ({} samples expected, read [{}], worst error {:.3} samples, \
             tolerance {CONTROL_TOLERANCE})\n",
            if self.passed { "PASS" } else { "FAIL" },
            self.expected_samples,
            reads.join(", "),
            self.worst_error_samples
        )
    }
}

/// Everything one `chorus bench playout` run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayoutReport {
    pub boxes: usize,
    pub seconds: f64,
    /// Busy-loop threads competing for the cores during the run.
    pub load: usize,
    /// When the host (the last box) was SIGKILLed, seconds after play was pressed.
    pub kill_host_at_s: Option<f64>,
    /// How many times the sound server was frozen for 150 ms (`--stall-server`).
    pub server_stalls: usize,
    /// Box 1 asked for the next song this often, seconds (`--skip-every`).
    pub skip_every_s: Option<f64>,
    /// Whether the rig held a request for zero CPU wake-up latency (needs root).
    pub wake_latency_held: bool,
    /// Box 1's nice value while it ran: the systemd unit's -5 when this user may set it.
    pub nice: Option<i32>,
    pub control: ControlReport,
    pub analysis: Analysis,
    /// Per box: ALSA underruns it logged.
    pub underruns: Vec<u64>,
    /// Per box: re-seeks at the end of the run, from `ctl status` (`None`: the box did
    /// not answer, e.g. the killed host).
    pub reseeks: Vec<Option<u64>>,
    /// Per box: how its lag behind box 1 wanders from 10 s on.
    pub wander: Vec<Option<super::wander::Wander>>,
    /// Per box: how far its sink's timing readings scatter around the filtered device
    /// position (RMS, µs), from `ctl status` at the end of the run.
    pub device_jitter_us: Vec<Option<f64>>,
    /// Per box: its device's rate against nominal on its own clock (ppm).
    pub device_rate_ppm: Vec<Option<f64>>,
    /// Per member: the party clock's offset from its own clock as it estimates it, µs,
    /// at the end (`None` on the host). Every box runs on one machine, so the truth is 0
    /// and this is the member's clock error.
    pub clock_offset_us: Vec<Option<f64>>,
    /// What happened after the host was killed (`--kill-host-at`).
    pub host_kill: Option<HostKill>,
    /// Every skip asked (`--skip-every`): where the boxes began the new song.
    pub song_changes: Vec<super::skips::SongChange>,
    /// Per box: its resident memory from 10 s after play to the end (`None`: never
    /// sampled, e.g. a run shorter than 10 s).
    pub memory: Vec<Option<super::memory::Rss>>,
}

/// The members after the host was SIGKILLed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostKill {
    /// When, seconds on the analysis timeline (approximate: within ~0.1 s).
    pub at_s: f64,
    /// Until box 1's status named a new host with the party started again, seconds
    /// (polled every ~0.1 s).
    pub new_host_after_s: Option<f64>,
    /// Per member: its longest silence (of 1 ms or more) from 0.5 s before the kill
    /// on, ms (0: none).
    pub member_longest_silence_ms: Vec<f64>,
    /// The members' spread from one window after the kill on, µs.
    pub spread_after_us: Option<Percentiles>,
}

fn pct(p: Option<Percentiles>) -> String {
    p.map_or_else(
        || "n/a".into(),
        |p| {
            format!(
                "p50 {:.1} / p99 {:.1} / max {:.1} µs over {} windows",
                p.p50, p.p99, p.max, p.count
            )
        },
    )
}

fn opt_us(v: &Option<f64>) -> String {
    v.map_or_else(|| "none".into(), |v| format!("{v:+.1}"))
}

impl PlayoutReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn render_text(&self) -> String {
        let a = &self.analysis;
        let mut s = self.control.render_text();
        let _ = writeln!(
            s,
            "playout: {} boxes (box {} hosts), {} s, load {}{}",
            self.boxes,
            self.boxes,
            self.seconds,
            self.load,
            self.kill_host_at_s
                .map_or(String::new(), |t| format!(", host killed at {t} s"))
                + &self
                    .skip_every_s
                    .map_or(String::new(), |t| format!(", skip every {t} s"))
                + &match self.server_stalls {
                    0 => String::new(),
                    n => format!(", sound server stalled {n} times"),
                }
                + if self.wake_latency_held {
                    ""
                } else {
                    ", CPU wake-up latency not held"
                }
                + &match self.nice {
                    Some(super::boxes::NICE) => String::new(),
                    Some(n) =>
                        format!(", boxes at nice {n}, not the unit's {}", super::boxes::NICE),
                    None => ", boxes' nice value unknown".into(),
                }
        );
        let firsts: Vec<String> = a.first_sample_offset_us.iter().map(opt_us).collect();
        let _ = writeln!(
            s,
            "  first sample vs box 1 (µs):   [{}], worst pair {:.1}",
            firsts.join(", "),
            a.first_sample_worst_pair_us
        );
        let song: Vec<String> = a
            .first_song_ms
            .iter()
            .map(|v| v.map_or_else(|| "?".into(), |v| format!("{v:.2}")))
            .collect();
        let _ = writeln!(
            s,
            "  song position of first sample (ms): [{}]",
            song.join(", ")
        );
        let lags: Vec<String> = a.first_window_lag_us.iter().map(opt_us).collect();
        let _ = writeln!(s, "  lag once all play (µs):       [{}]", lags.join(", "));
        let _ = writeln!(
            s,
            "  time to lock (all within {} ms for good): {}",
            LOCK_S * 1e3,
            a.lock_s.map_or("never".into(), |t| format!("{t:.1} s"))
        );
        let _ = writeln!(s, "  spread after lock:   {}", pct(a.spread_after_lock_us));
        let _ = writeln!(
            s,
            "  spread after {SETTLE_S} s:  {}",
            pct(a.spread_after_settle_us)
        );
        let _ = writeln!(
            s,
            "  excursions after {SETTLE_S} s (> {} ms or no match): {} of {} windows",
            LOCK_S * 1e3,
            a.excursions,
            a.series.iter().filter(|w| w.t >= SETTLE_S).count()
        );
        self.render_events(&mut s);
        s
    }

    /// Gaps, underruns, re-seeks and the host kill.
    fn render_events(&self, s: &mut String) {
        let a = &self.analysis;
        let gaps: Vec<String> = a
            .gaps
            .iter()
            .map(|g| {
                let at: Vec<String> = g.at_s.iter().map(|t| format!("{t:.2}")).collect();
                format!(
                    "{} ({:.1} ms longest; at [{}] s; {} its own, {:.1} ms longest)",
                    g.count,
                    g.longest_ms,
                    at.join(" "),
                    g.own,
                    g.own_longest_ms
                )
            })
            .collect();
        // "Its own": no other box went silent at the same instant.
        let _ = writeln!(s, "  silent gaps per box: {}", gaps.join("; "));
        let _ = writeln!(s, "  underruns per box (logged): {:?}", self.underruns);
        let _ = writeln!(
            s,
            "  re-seeks per box: {}",
            self.reseeks
                .iter()
                .map(|r| r.map_or_else(|| "?".into(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let show = |v: &[Option<f64>]| {
            v.iter()
                .map(|r| r.map_or_else(|| "?".into(), |x| format!("{x:.1}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let wander: Vec<String> = (self.wander.iter().skip(1))
            .map(|w| {
                w.map_or_else(
                    || "?".into(),
                    |w| match w.tau_s {
                        Some(t) => format!("{:.1} µs / {t:.1} s", w.rms_us),
                        None => format!("{:.1} µs / longer than the run", w.rms_us),
                    },
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "  lag wander vs box 1 after 10 s (RMS / correlation time): {}",
            wander.join(", ")
        );
        let _ = writeln!(
            s,
            "  device timing jitter per box (RMS µs): {}; device rate (ppm): {}",
            show(&self.device_jitter_us),
            show(&self.device_rate_ppm)
        );
        let _ = writeln!(
            s,
            "  members' clock error at the end (µs; one machine, so the true offset is 0): {}",
            show(&self.clock_offset_us)
        );
        let _ = writeln!(s, "{}", self.memory_line());
        self.render_skips(s);
        if let Some(k) = &self.host_kill {
            let _ = writeln!(
                s,
                "  host killed at {:.1} s: new host after {}, members' longest silence {:?} ms, \
                 spread after: {}",
                k.at_s,
                k.new_host_after_s
                    .map_or_else(|| "never".into(), |t| format!("{t:.2} s")),
                k.member_longest_silence_ms,
                pct(k.spread_after_us)
            );
        }
    }

    /// Each skip: where box 1 began the new song and how far apart the boxes did.
    fn render_skips(&self, s: &mut String) {
        if self.song_changes.is_empty() {
            return;
        }
        let worst: Vec<f64> = (self.song_changes.iter())
            .filter_map(|c| c.worst_pair_us)
            .collect();
        let _ = writeln!(
            s,
            "  after a skip, worst pair at the new song's first samples: {} of {} skips found, \
             worst {}",
            worst.len(),
            self.song_changes.len(),
            worst
                .iter()
                .copied()
                .reduce(f64::max)
                .map_or_else(|| "n/a".into(), |w| format!("{w:.1} µs"))
        );
        for c in &self.song_changes {
            let lags: Vec<String> = c.lag_us.iter().map(opt_us).collect();
            let _ = writeln!(
                s,
                "    skip asked at {:.1} s, new song at {}: lag vs box 1 [{}] µs",
                c.asked_at_s,
                c.began_at_s
                    .map_or_else(|| "not found".into(), |t| format!("{t:.3} s")),
                lags.join(", ")
            );
        }
    }

    /// Resident memory per box, 10 s after play, half-way and at the end.
    fn memory_line(&self) -> String {
        let memory: Vec<String> = self
            .memory
            .iter()
            .map(|m| {
                m.map_or_else(
                    || "?".into(),
                    |m| {
                        let mb = |kib: u64| kib as f64 / 1024.0;
                        format!(
                            "{:.1} -> {:.1} -> {:.1} (max {:.1})",
                            mb(m.settled_kib),
                            mb(m.half_kib),
                            mb(m.end_kib),
                            mb(m.max_kib)
                        )
                    },
                )
            })
            .collect();
        format!(
            "  resident memory per box, MiB (10 s after play -> half-way -> end): {}",
            memory.join(", ")
        )
    }
}
