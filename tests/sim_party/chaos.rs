//! Random party scenarios, one per seed: lossy jittery links, partitions, host and member
//! crashes (power loss and process kill), restarts, concurrent invitations, joins, leaves
//! and requests, with the invariants checked after every step and the eventual rules
//! after a quiet period.

use std::time::Duration;

use chorus::core::party::generation;
use chorus::core::PartyRequest;
use chorus::core::{Action, Event, PartyRole, PoolSong, RequestPolicy, SongRef};
use chorus::sim::scenarios::{across_threads, available_threads, chaos_link};
use chorus::sim::{CommandFailed, CrashMode, LinkModel, SegmentId, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Quiet time before the eventual rules are checked (longer if the invite window is: a
/// party may start late in the quiet period, and its new phase needs time to spread).
const QUIET: Duration = Duration::from_secs(10);

pub(crate) fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs `scenario` for seeds `0..CHORUS_SIM_SEEDS` (default 200), spread over all cores;
/// returns every seed's result.
pub(crate) fn across_cores<T: Send>(
    scenario: impl Fn(u64) -> Result<T, String> + Sync,
) -> Vec<(u64, Result<T, String>)> {
    let count = env_u64("CHORUS_SIM_SEEDS").unwrap_or(200);
    let results = across_threads(0..count, available_threads(), scenario);
    assert_eq!(results.len() as u64, count, "a seed's run panicked");
    results
}

/// Runs `CHORUS_SIM_SEEDS` seeds (default 200) on all cores, or only `CHORUS_SIM_SEED`.
pub(crate) fn run_seeds() {
    if let Some(seed) = env_u64("CHORUS_SIM_SEED") {
        if let Err(e) = scenario(seed, true) {
            panic!("{}", report(seed, &e));
        }
        return;
    }
    let results = across_cores(|seed| scenario(seed, false));
    let count = results.len() as u64;
    let total = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .fold(Tally::default(), |a, t| a.add(*t));
    eprintln!("{count} seeds: {total:?}");
    let failures: Vec<(u64, String)> = results
        .into_iter()
        .filter_map(|(seed, r)| r.err().map(|e| (seed, e)))
        .collect();
    if !failures.is_empty() {
        let mut failures = failures;
        failures.sort();
        let shown: Vec<String> = failures
            .iter()
            .take(5)
            .map(|(s, e)| report(*s, e))
            .collect();
        panic!(
            "{} of {count} seeds failed:\n{}",
            failures.len(),
            shown.join("\n")
        );
    }
}

fn report(seed: u64, error: &str) -> String {
    format!(
        "seed {seed}: {error}\n  repro: CHORUS_SIM_SEED={seed} cargo test --test sim_party seeds -- --nocapture"
    )
}

/// Turns a command's outcome into the scenario's: refusals are part of the game.
fn command<T>(r: Result<T, CommandFailed>) -> Result<(), String> {
    match r {
        Err(CommandFailed::Violation(v)) => Err(v.to_string()),
        _ => Ok(()),
    }
}

/// Builds the world of `seed`: one segment, or two joined by a bridge box and a route.
fn world(seed: u64, rng: &mut StdRng) -> Sim {
    let loss = rng.gen_range(0.0..0.2);
    let link = chaos_link(loss, rng);
    let n = rng.gen_range(3..10);
    let auto: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.6)).collect();
    let min_accepts = rng.gen_range(1..4);
    let window = Duration::from_millis(rng.gen_range(2_000..20_000));
    let requests = if rng.gen() {
        RequestPolicy::Anyone
    } else {
        RequestPolicy::HostOnly
    };
    let builder = Sim::builder(seed).link(link).configure(move |i, c| {
        c.party.auto_join = auto.get(i).copied().unwrap_or(false);
        c.party.min_accepts = min_accepts;
        c.party.invite_window = window;
        c.party.requests = requests;
    });
    let builder = if rng.gen_bool(0.25) {
        let (a, b) = (SegmentId(0), SegmentId(1));
        let on_a = rng.gen_range(1..n - 1);
        builder
            .nodes_on(on_a, &[a])
            .nodes_on(1, &[a, b])
            .nodes_on(n - on_a - 1, &[b])
            .route(a, b)
    } else {
        builder.nodes(n)
    };
    builder.build()
}

/// The box on the most segments (the bridge, when there are two).
fn bridge(sim: &Sim) -> usize {
    (0..sim.len())
        .max_by_key(|&i| sim.network().segments_of(i).count())
        .unwrap_or(0)
}

/// One random scenario; `verbose` prints what it does (for replaying a seed).
pub(crate) fn scenario(seed: u64, verbose: bool) -> Result<Tally, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9a47_5eed);
    let mut sim = world(seed, &mut rng);
    let result = play(&mut sim, &mut rng, verbose);
    if verbose {
        dump(&sim);
    }
    result.map(|()| Tally::of(&sim))
}

/// What the seeds did, summed, to show they exercise the protocol.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    seconds: u64,
    hosted: u64,
    joined: u64,
    failovers: u64,
    elections: u64,
    followed: u64,
    term_twins: u64,
    streams: u64,
    broken: u64,
}

impl Tally {
    fn of(sim: &Sim) -> Tally {
        let count =
            |f: fn(&Event) -> bool| sim.events().iter().filter(|e| f(&e.event)).count() as u64;
        Tally {
            seconds: sim.now().as_nanos() / 1_000_000_000,
            hosted: count(
                |e| matches!(e, Event::BecameHost { term, .. } if generation(*term) == 1),
            ),
            joined: count(|e| matches!(e, Event::Joined { .. })),
            failovers: count(|e| matches!(e, Event::Succeeded { .. })),
            elections: count(|e| matches!(e, Event::LostElection { .. })),
            followed: count(|e| matches!(e, Event::FollowedNewerTerm { .. })),
            term_twins: sim.stats().term_twins,
            streams: sim.stats().streams_opened,
            broken: sim.stats().streams_broken,
        }
    }

    fn add(self, o: Tally) -> Tally {
        Tally {
            seconds: self.seconds + o.seconds,
            hosted: self.hosted + o.hosted,
            joined: self.joined + o.joined,
            failovers: self.failovers + o.failovers,
            elections: self.elections + o.elections,
            followed: self.followed + o.followed,
            term_twins: self.term_twins + o.term_twins,
            streams: self.streams + o.streams,
            broken: self.broken + o.broken,
        }
    }
}

/// Prints the party events and every box's party.
fn dump(sim: &Sim) {
    eprintln!("{:?}\n{:?}", sim.stats(), sim.network());
    for e in sim.events() {
        if !matches!(
            e.event,
            Event::NeighbourUp { .. } | Event::NeighbourDown { .. }
        ) {
            eprintln!("{:?} box {}: {:?}", e.at, e.node, e.event);
        }
    }
    for i in 0..sim.len() {
        eprintln!("box {i} = {:?}: {:?}", sim.id(i), sim.party(i));
        eprintln!(
            "  segments {:?}, hears {:?}",
            sim.network().segments_of(i).collect::<Vec<_>>(),
            sim.neighbour_ids(i)
        );
    }
}

fn play(sim: &mut Sim, rng: &mut StdRng, verbose: bool) -> Result<(), String> {
    let n = sim.len();
    let link = *sim.network().link(0, 1);
    sim.run_for(Duration::from_secs(1))
        .map_err(|v| v.to_string())?;
    for _ in 0..rng.gen_range(10..40) {
        let i = rng.gen_range(0..n);
        let op = rng.gen_range(0..100);
        if verbose {
            eprintln!("t={:?} op {op} on box {i}", sim.now());
        }
        chaos_op(sim, rng, i, op)?;
        let pause = Duration::from_millis(rng.gen_range(100..4_000));
        sim.run_for(pause).map_err(|v| v.to_string())?;
    }
    settle(sim, link)
}

/// Operation `op` (0 to 99) of the random script, on box `i`.
fn chaos_op(sim: &mut Sim, rng: &mut StdRng, i: usize, op: i32) -> Result<(), String> {
    let n = sim.len();
    let all: Vec<usize> = (0..n).collect();
    match op {
        0..=14 => command(sim.host(i))?,
        15..=19 => {
            // Concurrent invitations: two boxes press HOST at the same instant.
            command(sim.host(i))?;
            command(sim.host((i + 1) % n))?;
        }
        20..=29 => command(sim.join(i, None))?,
        30..=34 => command(sim.leave(i))?,
        35..=37 => command(sim.end(i))?,
        38..=44 => {
            let kind = if rng.gen() {
                PartyRequest::Playback(Action::Skip)
            } else {
                let n = rng.gen_range(0..9u8);
                let song = PoolSong {
                    song: SongRef([n; 32]),
                    rate: 44_100,
                    frames: 0,
                    origin: None,
                };
                let title = format!("song-{n}");
                PartyRequest::Offer { song, title }
            };
            command(sim.request(i, kind))?;
        }
        45..=59 => {
            // Prefer crashing a host: failover is what this is about.
            let hosts = sim.hosts();
            let victim = if !hosts.is_empty() && rng.gen_bool(0.7) {
                hosts[rng.gen_range(0..hosts.len())].0
            } else {
                i
            };
            let mode = if rng.gen() {
                CrashMode::PowerLoss
            } else {
                CrashMode::ProcessKill
            };
            sim.crash_with(victim, mode);
        }
        60..=69 if !sim.is_up(i) || rng.gen_bool(0.2) => {
            sim.restart(i);
        }
        70..=79 => {
            let cut = rng.gen_range(1..n);
            sim.partition(&[&all[..cut], &all[cut..]]);
        }
        80..=87 => sim.heal(),
        _ => {}
    }
    Ok(())
}

/// Ends the faults, waits the quiet period and checks the boxes settled.
fn settle(sim: &mut Sim, link: LinkModel) -> Result<(), String> {
    let n = sim.len();
    // Faults end: cuts heal, and a bridge box comes back (without it two segments cannot
    // even discover each other, which is a partition too).
    sim.heal();
    // Loss is a fault too: at 20 % a stream message now and then waits out several
    // retransmissions, long enough for the failure detector to give up on its sender.
    let calm = LinkModel {
        loss: link.loss.min(0.01),
        ..link
    };
    sim.set_default_link(calm);
    if sim.network().segments_of(bridge(sim)).count() > 1 && !sim.is_up(bridge(sim)) {
        sim.restart(bridge(sim));
    }
    let window = (0..n)
        .find_map(|i| sim.node(i))
        .map_or(Duration::ZERO, |node| node.config().party.invite_window);
    sim.run_for(QUIET.max(window + Duration::from_secs(3)))
        .map_err(|v| v.to_string())?;
    sim.check_settled().map_err(|v| v.to_string())?;
    // At most one host per party among live boxes (also in check_settled, said plainly).
    let hosts = sim.hosts();
    let mut ids: Vec<_> = hosts.iter().map(|(_, v)| v.id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != hosts.len() || hosts.iter().any(|(_, v)| v.role != PartyRole::Host) {
        return Err(format!("hosts after the quiet period: {hosts:?}"));
    }
    Ok(())
}
