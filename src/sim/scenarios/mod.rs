//! Seeded scenarios shared by the test suite and `chorus bench`: a random world per seed,
//! and the runner that spreads a range of seeds over threads.
//!
//! - [`playback`]: a party under skips, late joins, crashes, partitions and host
//!   failovers, with the playback invariant checked after every step.
//! - [`soak`]: one party for hours with churn, reported period by period.

pub mod playback;
pub mod soak;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;

use super::{CommandFailed, Jitter, LinkModel, Sim};
use crate::core::{PartyRole, PartyState, PoolSong, SongRef};

/// Runs `scenario` for every seed of `seeds` on `workers` threads (at least one) and
/// returns the results in seed order. Threads take the next seed as they finish one, so a
/// few long seeds do not leave the other threads idle.
pub fn across_threads<T: Send>(
    seeds: Range<u64>,
    workers: usize,
    scenario: impl Fn(u64) -> T + Sync,
) -> Vec<(u64, T)> {
    let next = AtomicU64::new(seeds.start);
    let (next, scenario) = (&next, &scenario);
    let end = seeds.end;
    let mut results: Vec<(u64, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed >= end {
                            return done;
                        }
                        done.push((seed, scenario(seed)));
                    }
                })
            })
            .collect();
        // A worker that panicked loses its seeds; the caller sees fewer results than
        // seeds and says so rather than this runner panicking in turn.
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .flatten()
            .collect()
    });
    results.sort_by_key(|r| r.0);
    results
}

/// The threads worth using on this machine.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A random rough link: 0.1 to 3 ms of delay, uniform (up to ±2 ms) or exponential (mean
/// up to 10 ms, like Wi-Fi) jitter, `loss`, up to 5 % duplicates and 10 % of datagrams
/// held back by up to 500 ms.
pub fn chaos_link(loss: f64, rng: &mut impl Rng) -> LinkModel {
    LinkModel {
        delay: Duration::from_micros(rng.gen_range(100..3_000)),
        jitter: if rng.gen() {
            Jitter::Uniform(Duration::from_micros(rng.gen_range(0..2_000)))
        } else {
            Jitter::Exponential(Duration::from_micros(rng.gen_range(0..10_000)))
        },
        loss,
        duplicate: rng.gen_range(0.0..0.05),
        reorder: rng.gen_range(0.0..0.1),
        reorder_delay: Duration::from_millis(rng.gen_range(0..500)),
    }
}

/// Song `n` of a scenario's pool: `seconds` long at 48 kHz.
fn song(n: u8, seconds: u64) -> PoolSong {
    PoolSong {
        song: SongRef([n; 32]),
        rate: 48_000,
        frames: 48_000 * seconds,
        origin: None,
    }
}

/// Commands may be refused (that is part of the game), never break an invariant.
fn command<T>(r: Result<T, CommandFailed>) -> Result<(), String> {
    match r {
        Err(CommandFailed::Violation(v)) => Err(v.to_string()),
        _ => Ok(()),
    }
}

fn advance(sim: &mut Sim, seconds: f64) -> Result<(), String> {
    sim.run_for(Duration::from_secs_f64(seconds))
        .map_err(|v| v.to_string())
}

/// The live box hosting a started party, if any.
fn host_of(sim: &Sim) -> Option<usize> {
    sim.hosts()
        .into_iter()
        .find(|(_, v)| v.role == PartyRole::Host && v.state == PartyState::Started)
        .map(|(i, _)| i)
}
