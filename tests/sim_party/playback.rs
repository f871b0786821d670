//! Playback as an invariant, one random party per seed: every box runs the core's playout
//! machine and a simulated player with its own DAC error, and after every 10 ms tick each
//! settled box that holds its host's current song must play the frame the host's schedule
//! names at that true instant, within its reported clock error bound plus an allowance
//! (see `chorus::sim::audio`). The scenario skips, pauses, joins late, crashes and
//! restarts members, cuts members off for a while and crashes the host.

use std::time::Duration;

use chorus::core::PartyRequest;
use chorus::core::{Action, Event, PartyRole, PartyState, PoolSong, SongRef};
use chorus::sim::{CommandFailed, CrashMode, PlaybackCheck, PlaybackStats, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::chaos::{across_cores, env_u64};

const REPRO: &str = "cargo test --test sim_party playback -- --nocapture";

/// Runs `CHORUS_SIM_SEEDS` seeds (default 200) on all cores, or only `CHORUS_SIM_SEED`,
/// and prints the worst case.
pub(crate) fn run_seeds() {
    if let Some(seed) = env_u64("CHORUS_SIM_SEED") {
        match scenario(seed, true) {
            Ok(stats) => eprintln!("seed {seed}: {stats:?}"),
            Err(e) => panic!("seed {seed}: {e}\n  repro: CHORUS_SIM_SEED={seed} {REPRO}"),
        }
        return;
    }
    let results = across_cores(|seed| scenario(seed, false));
    let count = results.len() as u64;
    let ok: Vec<(u64, PlaybackStats)> = results
        .iter()
        .filter_map(|(s, r)| r.as_ref().ok().map(|t| (*s, *t)))
        .collect();
    let total = ok
        .iter()
        .fold(PlaybackStats::default(), |a, (_, t)| a.merge(*t));
    let worst = |f: fn(&PlaybackStats) -> f64| {
        ok.iter()
            .max_by(|a, b| f(&a.1).total_cmp(&f(&b.1)))
            .map_or(0, |(s, _)| *s)
    };
    eprintln!(
        "{count} seeds: {total:?}\n  worst error: seed {}, worst error/bound: seed {}, worst spread: seed {}",
        worst(|t| t.worst_error_us),
        worst(|t| t.worst_ratio),
        worst(|t| t.worst_spread_us),
    );
    let diverged: Vec<u64> = ok
        .iter()
        .filter(|(_, t)| t.diverged > 0)
        .map(|(s, _)| *s)
        .collect();
    if !diverged.is_empty() {
        eprintln!(
            "  schedules diverged from the host's (not failed; open bug) in {} seeds: {:?}",
            diverged.len(),
            &diverged[..diverged.len().min(20)]
        );
    }
    let mut failures: Vec<(u64, String)> = results
        .into_iter()
        .filter_map(|(seed, r)| r.err().map(|e| (seed, e)))
        .collect();
    failures.sort();
    if !failures.is_empty() {
        let shown: Vec<String> = failures
            .iter()
            .take(5)
            .map(|(s, e)| format!("seed {s}: {e}\n  repro: CHORUS_SIM_SEED={s} {REPRO}"))
            .collect();
        panic!(
            "{} of {count} seeds failed:\n{}",
            failures.len(),
            shown.join("\n")
        );
    }
    assert!(
        total.checks > count * 1_000,
        "the seeds hardly checked playback: {total:?}"
    );
}

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

fn run(sim: &mut Sim, seconds: f64) -> Result<(), String> {
    sim.run_for(Duration::from_secs_f64(seconds))
        .map_err(|v| v.to_string())
}

/// The world of `seed`: 3 to 7 boxes on one jittery, lossy segment; box 0 holds every
/// song, the others each hold most.
fn world(seed: u64, rng: &mut StdRng) -> Sim {
    let link = crate::chaos_link(rng.gen_range(0.0..0.05), rng);
    let n = rng.gen_range(3..8);
    let mut sim = Sim::builder(seed)
        .link(link)
        .configure(|_, c| c.party.start_wait = Duration::from_secs(1))
        .nodes(n)
        .build();
    sim.enable_playback(PlaybackCheck::default());
    let songs: Vec<PoolSong> = (1..7).map(|k| song(k, rng.gen_range(15..60))).collect();
    for i in 0..n {
        let pool = songs
            .iter()
            .filter(|_| i == 0 || rng.gen_bool(0.85))
            .copied()
            .collect();
        sim.set_pool(i, pool);
    }
    sim
}

/// One random scenario; returns the playback check's worst cases.
pub(crate) fn scenario(seed: u64, verbose: bool) -> Result<PlaybackStats, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x91a7_bac4);
    let mut sim = world(seed, &mut rng);
    let result = play(&mut sim, &mut rng, verbose);
    if verbose {
        dump(&sim);
    }
    result
}

/// Prints the party events.
fn dump(sim: &Sim) {
    for e in sim.events() {
        if !matches!(
            e.event,
            Event::NeighbourUp { .. } | Event::NeighbourDown { .. }
        ) {
            eprintln!("{:?} box {}: {:?}", e.at, e.node, e.event);
        }
    }
}

fn play(sim: &mut Sim, rng: &mut StdRng, verbose: bool) -> Result<PlaybackStats, String> {
    let n = sim.len();
    run(sim, 1.0)?;
    let party = sim.host(0).map_err(|e| e.to_string())?;
    // Some boxes join at once, the rest later.
    let mut out: Vec<usize> = (1..n).filter(|_| rng.gen_bool(0.4)).collect();
    run(sim, 1.5)?;
    for i in (1..n).filter(|i| !out.contains(i)) {
        command(sim.join(i, Some(party)))?;
    }
    for _ in 0..rng.gen_range(4..10) {
        let op = rng.gen_range(0..100);
        let i = rng.gen_range(0..n);
        if verbose {
            eprintln!("t={:?} op {op} on box {i}", sim.now());
        }
        match op {
            0..=19 => {
                let action = match rng.gen_range(0..4) {
                    0 => Action::Pause,
                    1 => Action::Resume,
                    2 => Action::Select {
                        index: rng.gen_range(0..6),
                    },
                    _ => Action::Skip,
                };
                let from = host_of(sim).unwrap_or(i);
                command(sim.request(from, PartyRequest::Playback(action)))?;
            }
            20..=39 if !out.is_empty() => {
                let late = out.remove(0);
                command(sim.join(late, Some(party)))?;
            }
            40..=49 => {
                // Host crash: the party fails over to a box that holds the song.
                if let Some(h) = host_of(sim) {
                    let mode = if rng.gen() {
                        CrashMode::PowerLoss
                    } else {
                        CrashMode::ProcessKill
                    };
                    sim.crash_with(h, mode);
                }
            }
            50..=64 if i != 0 => {
                sim.crash(i);
                run(sim, rng.gen_range(0.5..3.0))?;
                sim.restart(i);
                run(sim, 1.0)?;
                command(sim.join(i, Some(party)))?;
            }
            65..=79 => {
                let rest: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                sim.partition(&[&[i], &rest]);
                run(sim, rng.gen_range(0.5..4.0))?;
                sim.heal();
            }
            _ => {}
        }
        run(sim, rng.gen_range(1.0..5.0))?;
    }
    run(sim, 8.0)?;
    let stats = sim.playback_stats().unwrap_or_default();
    if verbose {
        for i in 0..n {
            let v = sim.party(i);
            eprintln!(
                "box {i}: {:?} {:?}, audible {:?}",
                v.as_ref().map(|v| v.role),
                v.as_ref().map(|v| v.state),
                sim.audible(i)
            );
        }
    }
    Ok(stats)
}

/// The live box hosting a started party, if any.
fn host_of(sim: &Sim) -> Option<usize> {
    sim.hosts()
        .into_iter()
        .find(|(_, v)| v.role == PartyRole::Host && v.state == PartyState::Started)
        .map(|(i, _)| i)
}
