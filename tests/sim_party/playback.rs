//! Playback as an invariant on many seeds: the scenario of
//! `chorus::sim::scenarios::playback` (skips, pauses, late joins, member crashes and
//! restarts, partitions, host crashes), swept by the same runner as `chorus bench party`.

use chorus::bench::party::{self, PartyBenchConfig};
use chorus::sim::scenarios::{available_threads, playback};

use crate::chaos::env_u64;

const REPRO: &str = "cargo test --all-features --test sim_party playback -- --nocapture";

/// Runs `CHORUS_SIM_SEEDS` seeds (default 300) on all cores, or only `CHORUS_SIM_SEED`
/// with its log, and prints the worst case.
pub(crate) fn run_seeds() {
    if let Some(seed) = env_u64("CHORUS_SIM_SEED") {
        let outcome = playback::run(seed, true);
        for line in &outcome.log {
            eprintln!("{line}");
        }
        match outcome.result {
            Ok(stats) => eprintln!("seed {seed} ({}): {stats:?}", outcome.profile),
            Err(e) => panic!("seed {seed}: {e}\n  repro: CHORUS_SIM_SEED={seed} {REPRO}"),
        }
        return;
    }
    let count = env_u64("CHORUS_SIM_SEEDS").unwrap_or(300);
    let report = party::run(&PartyBenchConfig {
        seeds: 0..count,
        threads: available_threads(),
    });
    eprint!("{}", report.render_text());
    assert_eq!(report.panicked, 0, "a seed's run panicked");
    if let Some(f) = report.failures.first() {
        panic!(
            "{} of {count} seeds failed; the first: seed {}: {}\n  repro: CHORUS_SIM_SEED={} {REPRO}",
            report.failures.len(),
            f.seed,
            f.error,
            f.seed
        );
    }
    assert!(
        report.checks() > count * 1_000,
        "the seeds hardly checked playback: {}",
        report.render_text()
    );
}
