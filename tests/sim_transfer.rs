//! Song transfer in the deterministic simulator: eight members fetch a song from its
//! origin with and without swarming, under loss, with members leaving and with a hostile
//! peer serving garbage; every seed must replay identically.
//!
//! `CHORUS_SIM_SEEDS=500 cargo test --release --test sim_transfer -- --nocapture` runs
//! more seeds and prints the numbers; `CHORUS_SIM_SEED=N` replays one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chorus::core::transfer::SwarmConfig;
use chorus::sim::transfer::{run, TransferSimConfig, TransferSimReport};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = env_u64("CHORUS_SIM_SEED") {
        return vec![seed];
    }
    (1..=env_u64("CHORUS_SIM_SEEDS").unwrap_or(50)).collect()
}

/// Runs every seed, checks what must hold in every run, and returns the reports.
fn run_all(name: &str, config: impl Fn(u64) -> TransferSimConfig) -> Vec<TransferSimReport> {
    let reports: Vec<TransferSimReport> = seeds().into_iter().map(|s| run(config(s))).collect();
    for r in &reports {
        let repro = format!(
            "{name}, repro: CHORUS_SIM_SEED={} cargo test --test sim_transfer {name}",
            r.seed
        );
        assert_eq!(
            r.completed, r.stayed,
            "{repro}: a member did not complete: {r:?}"
        );
        assert!(r.finish.is_some(), "{repro}: {r:?}");
        assert_eq!(
            r.corrupt_stored, 0,
            "{repro}: a box stored an invalid chunk"
        );
        assert_eq!(r.mismatched, 0, "{repro}: planner and store disagree");
    }
    summarise(name, &reports);
    reports
}

fn summarise(name: &str, reports: &[TransferSimReport]) {
    let slow: Vec<f64> = reports
        .iter()
        .filter_map(TransferSimReport::slowdown)
        .collect();
    let origin: Vec<f64> = reports
        .iter()
        .map(TransferSimReport::origin_songs)
        .collect();
    let stats = |v: &[f64]| {
        let max = v.iter().copied().fold(f64::MIN, f64::max);
        let min = v.iter().copied().fold(f64::MAX, f64::min);
        (min, v.iter().sum::<f64>() / v.len().max(1) as f64, max)
    };
    let (smin, smean, smax) = stats(&slow);
    let (omin, omean, omax) = stats(&origin);
    println!(
        "{name}: {} seeds, finish/bound min {smin:.2} mean {smean:.2} max {smax:.2}; \
         origin uploaded (songs) min {omin:.2} mean {omean:.2} max {omax:.2}; bound {:?}",
        reports.len(),
        reports.first().map(|r| r.lower_bound).unwrap_or_default()
    );
}

fn base(seed: u64) -> TransferSimConfig {
    TransferSimConfig {
        seed,
        ..TransferSimConfig::default()
    }
}

#[test]
fn swarming_spares_the_origin_and_finishes_near_the_bound() {
    let reports = run_all("swarming", base);
    for r in &reports {
        assert!(
            r.origin_songs() < 1.3,
            "seed {}: origin uploaded {:.2} songs for 8 members",
            r.seed,
            r.origin_songs()
        );
        let slowdown = r.slowdown().unwrap();
        assert!(
            slowdown < 1.4,
            "seed {}: finish {slowdown:.2} x bound",
            r.seed
        );
    }
}

#[test]
fn without_swarming_the_origin_sends_every_copy() {
    let reports = run_all("no swarming", |seed| TransferSimConfig {
        swarm: SwarmConfig {
            swarming: false,
            ..base(seed).swarm
        },
        ..base(seed)
    });
    for r in &reports {
        assert!(
            (7.99..8.2).contains(&r.origin_songs()),
            "seed {}: origin uploaded {:.2} songs",
            r.seed,
            r.origin_songs()
        );
        let slowdown = r.slowdown().unwrap();
        assert!(
            (7.9..8.5).contains(&slowdown),
            "seed {}: finish {slowdown:.2} x bound",
            r.seed
        );
    }
}

#[test]
fn loss_and_members_leaving_do_not_stop_the_others() {
    let reports = run_all("loss 10 % and 2 leave", |seed| TransferSimConfig {
        loss: 0.1,
        leavers: 2,
        ..base(seed)
    });
    for r in &reports {
        assert_eq!(r.stayed, 6);
        assert!(
            r.counters.timeouts > 0,
            "seed {}: loss never noticed",
            r.seed
        );
    }
}

#[test]
fn a_hostile_peer_is_struck_out_and_nobody_keeps_its_garbage() {
    let reports = run_all("hostile peer, loss 5 %", |seed| TransferSimConfig {
        hostile: true,
        loss: 0.05,
        ..base(seed)
    });
    for r in &reports {
        assert!(
            r.counters.corrupt > 0,
            "seed {}: hostile never asked",
            r.seed
        );
        // Each member strikes it out after 3; requests already sent may still come back.
        let cap = 8 * (3 + 4);
        assert!(
            r.counters.corrupt <= cap,
            "seed {}: {} corrupt chunks (cap {cap})",
            r.seed,
            r.counters.corrupt
        );
    }
}

#[test]
fn same_seed_same_run() {
    let config = |seed| TransferSimConfig {
        loss: 0.1,
        leavers: 2,
        hostile: true,
        ..base(seed)
    };
    let a = run(config(7));
    assert_eq!(a, run(config(7)));
    assert_ne!(a.trace, run(config(8)).trace);
}
