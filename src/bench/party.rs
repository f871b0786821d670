//! `chorus bench party`: the simulator's playback invariant over many seeds (issue 10),
//! spread over threads, with the worst case of every network profile: which seed, how far
//! off, how close to its bound.

use std::fmt::Write as _;
use std::ops::Range;

use serde::Serialize;

use crate::sim::scenarios::playback::{self, Outcome, Profile};
use crate::sim::scenarios::{across_threads, available_threads};
use crate::sim::PlaybackStats;

/// Which seeds, on how many threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyBenchConfig {
    pub seeds: Range<u64>,
    /// Worker threads (at least one).
    pub threads: usize,
}

impl Default for PartyBenchConfig {
    fn default() -> Self {
        PartyBenchConfig {
            seeds: 0..10_000,
            threads: available_threads(),
        }
    }
}

/// A worst case and the seed it came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Worst {
    pub value: f64,
    pub seed: u64,
}

impl Worst {
    fn take(&mut self, value: f64, seed: u64) {
        if value > self.value {
            *self = Worst { value, seed };
        }
    }
}

/// One network profile's seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileWorst {
    pub profile: Profile,
    /// Seeds of this profile that passed.
    pub seeds: u64,
    /// Box-instants checked.
    pub checks: u64,
    /// Largest |audible - scheduled| frame error, µs.
    pub error_us: Worst,
    /// Largest |error| / bound (1 would fail).
    pub ratio: Worst,
    /// Largest spread between the boxes of one party at one instant, µs.
    pub spread_us: Worst,
    /// Largest clock error bound a checked box reported, µs.
    pub reported_us: Worst,
}

/// A seed that broke an invariant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub profile: Profile,
    pub error: String,
}

/// Results of `chorus bench party`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyReport {
    pub first_seed: u64,
    pub seeds: u64,
    pub threads: usize,
    /// Wall time of the sweep, s.
    pub wall_s: f64,
    pub profiles: Vec<ProfileWorst>,
    /// Seeds that broke an invariant, in seed order.
    pub failures: Vec<Failure>,
    /// Seeds whose run ended in a panic (a bug in the simulator or the core).
    pub panicked: u64,
}

/// Runs every seed of `config` and folds the outcomes.
pub fn run(config: &PartyBenchConfig) -> PartyReport {
    let started = std::time::Instant::now();
    let outcomes = across_threads(config.seeds.clone(), config.threads, |seed| {
        // A panic is a finding like any other: report it under its seed.
        std::panic::catch_unwind(|| playback::run(seed, false)).ok()
    });
    let wall_s = started.elapsed().as_secs_f64();
    let mut report = PartyReport {
        first_seed: config.seeds.start,
        seeds: config.seeds.end.saturating_sub(config.seeds.start),
        threads: config.threads.max(1),
        wall_s,
        profiles: Vec::new(),
        failures: Vec::new(),
        panicked: 0,
    };
    let ran: Vec<Outcome> = outcomes.into_iter().filter_map(|(_, o)| o).collect();
    report.panicked = report.seeds - ran.len() as u64;
    report.profiles = Profile::ALL
        .iter()
        .map(|&p| fold(p, ran.iter().filter(|o| o.profile == p)))
        .collect();
    report.failures = ran
        .iter()
        .filter_map(|o| {
            o.result.as_ref().err().map(|e| Failure {
                seed: o.seed,
                profile: o.profile,
                error: e.clone(),
            })
        })
        .collect();
    report
}

fn fold<'a>(profile: Profile, outcomes: impl Iterator<Item = &'a Outcome>) -> ProfileWorst {
    let mut w = ProfileWorst {
        profile,
        seeds: 0,
        checks: 0,
        error_us: Worst::default(),
        ratio: Worst::default(),
        spread_us: Worst::default(),
        reported_us: Worst::default(),
    };
    for o in outcomes {
        let Ok(s) = &o.result else { continue };
        let PlaybackStats {
            checks,
            worst_error_us,
            worst_ratio,
            worst_spread_us,
            worst_reported_us,
            ..
        } = *s;
        w.seeds += 1;
        w.checks += checks;
        w.error_us.take(worst_error_us, o.seed);
        w.ratio.take(worst_ratio, o.seed);
        w.spread_us.take(worst_spread_us, o.seed);
        w.reported_us.take(worst_reported_us, o.seed);
    }
    w
}

impl PartyReport {
    /// Every seed passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.panicked == 0
    }

    /// Box-instants checked, all profiles.
    pub fn checks(&self) -> u64 {
        self.profiles.iter().map(|p| p.checks).sum()
    }

    /// The profile with the largest |error| / bound: the seed closest to failing.
    pub fn worst(&self) -> Option<&ProfileWorst> {
        self.profiles
            .iter()
            .max_by(|a, b| a.ratio.value.total_cmp(&b.ratio.value))
    }

    /// The report for people.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let last = self.first_seed + self.seeds.saturating_sub(1);
        let _ = writeln!(
            s,
            "party playback: seeds {}..={last} on {} threads, {:.1} s wall, {} checks",
            self.first_seed,
            self.threads,
            self.wall_s,
            self.checks()
        );
        let _ = writeln!(
            s,
            "{:<11} {:>6} {:>10} {:>18} {:>16} {:>18} {:>18}",
            "profile",
            "seeds",
            "checks",
            "|error| us (seed)",
            "error/bound",
            "spread us",
            "reported us"
        );
        let cell = |w: Worst, digits: usize| format!("{:.*} ({})", digits, w.value, w.seed);
        for p in &self.profiles {
            let _ = writeln!(
                s,
                "{:<11} {:>6} {:>10} {:>18} {:>16} {:>18} {:>18}",
                p.profile.name(),
                p.seeds,
                p.checks,
                cell(p.error_us, 0),
                cell(p.ratio, 2),
                cell(p.spread_us, 0),
                cell(p.reported_us, 0)
            );
        }
        if let Some(w) = self.worst() {
            let _ = writeln!(
                s,
                "worst case: seed {} ({}), |error| / bound {:.2}",
                w.ratio.seed, w.profile, w.ratio.value
            );
        }
        for f in &self.failures {
            let _ = writeln!(s, "FAILED seed {} ({}): {}", f.seed, f.profile, f.error);
        }
        if self.panicked > 0 {
            let _ = writeln!(s, "PANICKED: {} seeds", self.panicked);
        }
        let verdict = if self.passed() {
            "all passed"
        } else {
            "FAILED"
        };
        let _ = writeln!(
            s,
            "{} of {} seeds failed: {verdict}",
            self.seeds - self.passing(),
            self.seeds
        );
        s
    }

    fn passing(&self) -> u64 {
        self.profiles.iter().map(|p| p.seeds).sum()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_seeds_pass_and_are_all_accounted_for() {
        let report = run(&PartyBenchConfig {
            seeds: 0..3,
            threads: 2,
        });
        assert_eq!(report.seeds, 3);
        assert!(report.passed(), "{}", report.render_text());
        assert_eq!(report.profiles.iter().map(|p| p.seeds).sum::<u64>(), 3);
        assert!(report.checks() > 1_000, "{}", report.render_text());
        let text = report.render_text();
        assert!(text.contains("0 of 3 seeds failed"), "{text}");
    }
}
