//! The soak's short version: one simulated party for an hour of virtual time with churn
//! every minute or so; the playout error and the heap in use must not grow from the first
//! period to the last (`chorus bench soak` runs the 24-hour one).

use std::alloc::System;
use std::time::Duration;

use chorus::sim::scenarios::soak::{self, SoakConfig};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed by this test process.
fn live_heap() -> u64 {
    let s = GLOBAL.stats();
    (s.bytes_allocated as u64).saturating_sub(s.bytes_deallocated as u64)
}

#[test]
fn an_hour_of_churn_grows_neither_the_error_nor_the_heap() {
    let config = SoakConfig {
        seed: 7,
        boxes: 5,
        duration: Duration::from_secs(3600),
        period: Duration::from_secs(900),
        churn_every: Duration::from_secs(60),
    };
    let periods = soak::run(&config, live_heap, |_| {}).unwrap();
    assert_eq!(periods.len(), 4, "{periods:#?}");
    let churn: u32 = periods.iter().map(|p| p.churn).sum();
    let kills: u32 = periods.iter().map(|p| p.host_kills).sum();
    assert!(churn >= 40 && kills >= 3, "too little churn: {periods:#?}");
    for p in &periods {
        // The party kept playing through every period (someone presses play when the
        // pool runs out; pauses and host failovers take their share), and boxes were checked
        // in step.
        assert!(p.playing_s > 0.5 * p.period_s, "{p:#?}");
        assert!(p.checks > 10_000, "{p:#?}");
        assert_eq!(p.reformed, 0, "the party fell apart: {p:#?}");
        assert!(p.worst_error_us < 1_000.0, "{p:#?}");
    }
    let (first, last) = (&periods[1], &periods[3]);
    assert!(
        last.mean_error_us <= 2.0 * first.mean_error_us + 5.0,
        "playout error grew: {periods:#?}"
    );
    // From the second period on (the first one includes the world's start-up), the heap
    // stays where it was; a quarter plus 64 KiB of slack covers churn at the moment of
    // the reading.
    assert!(
        last.memory_bytes <= first.memory_bytes + first.memory_bytes / 4 + 65_536,
        "heap grew: {} -> {} bytes",
        first.memory_bytes,
        last.memory_bytes
    );
}
