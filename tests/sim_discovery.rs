//! Discovery in the deterministic simulator: 50 boxes find each other, partitions hide
//! and healing restores, crashes are noticed, routes carry discovery across segments, and
//! hundreds of random seeds keep every invariant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chorus::core::{Instant, Via};
use chorus::sim::{node_addr, Jitter, LinkModel, SegmentId, Sim, Violation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BOXES: usize = 50;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn at(s: f64) -> Instant {
    Instant::ZERO + secs(s)
}

/// 0.3 ms ± 0.1 ms, 1 % loss, some duplication, some beacons held back long enough to
/// arrive after the next one.
fn lan() -> LinkModel {
    LinkModel {
        delay: Duration::from_micros(300),
        jitter: Jitter::Uniform(Duration::from_micros(100)),
        loss: 0.01,
        duplicate: 0.02,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(1_200),
    }
}

fn lan_sim(seed: u64) -> Sim {
    Sim::builder(seed).link(lan()).nodes(BOXES).build()
}

fn ok<T>(r: Result<T, Violation>) -> T {
    r.unwrap_or_else(|v| panic!("{v}"))
}

#[test]
fn fifty_boxes_find_each_other_within_three_seconds() {
    let all: Vec<usize> = (0..BOXES).collect();
    for seed in 1..=4 {
        let mut sim = lan_sim(seed);
        let found = ok(sim.first_time_when(at(3.0), |s| s.all_see_each_other(&all)));
        let t = found.unwrap_or_else(|| panic!("seed {seed}: not all found each other by 3 s"));
        assert!(t <= at(3.0), "seed {seed}: full discovery at {t:?}");
        assert!(
            sim.is_island(&all),
            "seed {seed}: each box lists exactly the other 49"
        );
        // Stays complete under 1 % loss, duplication and reordering.
        ok(sim.run_for(secs(5.0)));
        assert!(
            sim.is_island(&all),
            "seed {seed}: a box dropped out by {:?}",
            sim.now()
        );
    }
}

#[test]
fn partition_hides_the_halves_and_healing_restores_them() {
    let mut sim = lan_sim(2);
    let all: Vec<usize> = (0..BOXES).collect();
    let (a, b) = all.split_at(BOXES / 2);
    assert!(ok(sim.first_time_when(at(3.0), |s| s.all_see_each_other(&all))).is_some());

    sim.partition(&[a, b]);
    let cut = sim.now();
    let expiry = sim.node(0).unwrap().config().expiry();
    // Expiry (3.2 s) plus one beacon interval of margin for the last beacon in flight.
    ok(sim.run_until(cut + expiry + secs(1.0)));
    assert!(sim.is_island(a), "half A lists only its own 24 others");
    assert!(sim.is_island(b), "half B lists only its own 24 others");
    assert_eq!(sim.neighbour_ids(0).len(), 24);

    sim.heal();
    let healed = sim.now();
    let back = ok(sim.first_time_when(healed + secs(3.0), |s| s.all_see_each_other(&all)));
    let t = back.unwrap_or_else(|| panic!("seed 2: halves did not rejoin within 3 s"));
    assert!(t - healed <= secs(3.0));
    assert!(sim.is_island(&all));
}

fn trace_of(seed: u64) -> (u64, u64) {
    let mut sim = Sim::builder(seed).link(lan()).nodes(12).build();
    ok(sim.run_for(secs(6.0)));
    sim.crash(3);
    sim.partition(&[&[0, 1, 2], &[4, 5, 6, 7]]);
    ok(sim.run_for(secs(2.0)));
    sim.heal();
    sim.restart(3);
    ok(sim.run_for(secs(4.0)));
    (sim.trace_hash(), sim.trace_len())
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let first = trace_of(3);
    assert_eq!(first, trace_of(3), "seed 3 did not replay");
    assert_ne!(first.0, trace_of(4).0, "seeds 3 and 4 gave the same trace");
}

#[test]
fn trace_records_replay_exactly() {
    let run = |seed| {
        let mut sim = Sim::builder(seed)
            .link(lan())
            .nodes(5)
            .keep_trace(true)
            .build();
        ok(sim.run_for(secs(3.0)));
        sim.trace_records().to_vec()
    };
    let a = run(9);
    assert!(!a.is_empty());
    assert_eq!(a, run(9));
}

#[test]
fn a_crashed_box_disappears_within_expiry_plus_an_interval() {
    let mut sim = lan_sim(5);
    let all: Vec<usize> = (0..BOXES).collect();
    assert!(ok(sim.first_time_when(at(3.0), |s| s.all_see_each_other(&all))).is_some());
    let config = sim.node(17).unwrap().config().clone();
    let crashed = sim.now();
    assert!(sim.crash(17));
    let bound = config.expiry() + config.beacon_interval;
    let gone = ok(sim.first_time_when(crashed + bound, |s| !s.anyone_lists(17)));
    let t = gone.unwrap_or_else(|| panic!("seed 5: box 17 still listed after {bound:?}"));
    assert!(t - crashed <= bound);
    let rest: Vec<usize> = all.iter().copied().filter(|&i| i != 17).collect();
    assert!(sim.is_island(&rest), "the others still see each other");
}

#[test]
fn a_restarted_box_is_listed_again() {
    let mut sim = lan_sim(7);
    let all: Vec<usize> = (0..BOXES).collect();
    assert!(ok(sim.first_time_when(at(3.0), |s| s.all_see_each_other(&all))).is_some());
    let config = sim.node(30).unwrap().config().clone();
    sim.crash(30);
    ok(sim.run_for(secs(0.5)));
    let back = sim.now();
    assert!(sim.restart(30));
    // The reborn box restarts its beacon sequence at 1, so the others ignore it as stale
    // until its old entry expires: rejoining takes up to the expiry plus an interval.
    let bound = config.expiry() + config.beacon_interval * 2;
    let t = ok(sim.first_time_when(back + bound, |s| s.all_see_each_other(&all)));
    assert!(t.is_some(), "seed 7: box 30 not back within {bound:?}");
}

const SEG_A: SegmentId = SegmentId(0);
const SEG_B: SegmentId = SegmentId(1);

/// Boxes 0..4 on segment A, box 4 on both, boxes 5..9 on segment B.
fn two_segments(seed: u64, routed: bool) -> Sim {
    let mut builder = Sim::builder(seed)
        .link(lan())
        .nodes_on(4, &[SEG_A])
        .nodes_on(1, &[SEG_A, SEG_B])
        .nodes_on(4, &[SEG_B]);
    if routed {
        builder = builder.route(SEG_A, SEG_B);
    }
    builder.build()
}

#[test]
fn segments_join_through_hints_only_with_a_route() {
    let all: Vec<usize> = (0..9).collect();
    let mut sim = two_segments(6, true);
    let t = ok(sim.first_time_when(at(10.0), |s| s.all_see_each_other(&all)));
    assert!(t.is_some(), "seed 6: routed segments did not merge");
    ok(sim.run_for(secs(1.0)));
    let (node, now) = (sim.node(0).unwrap(), sim.now());
    let across = node.neighbour(&sim.id(7).unwrap()).unwrap();
    assert_eq!(node.via(across, now), Via::Unicast, "A hears B by unicast");
    let bridge = node.neighbour(&sim.id(4).unwrap()).unwrap();
    assert_eq!(node.via(bridge, now), Via::Multicast);

    let mut sim = two_segments(6, false);
    ok(sim.run_for(secs(15.0)));
    assert!(sim.all_see_each_other(&[0, 1, 2, 3, 4]));
    assert!(sim.all_see_each_other(&[4, 5, 6, 7, 8]));
    for a in 0..4 {
        let seen = sim.neighbour_ids(a);
        assert!(
            (5..9).all(|b| !seen.contains(&sim.id(b).unwrap())),
            "box {a} heard segment B without a route"
        );
    }
    assert!(sim.stats().unroutable > 0, "A did try to reach B");
}

/// A random lossy world per seed: two segments with a bridge box, sometimes a route,
/// static peers, small tables, partitions, crashes and restarts, with invariants checked
/// on every step.
fn chaos(seed: u64) -> Result<(), Violation> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let link = LinkModel {
        delay: Duration::from_micros(rng.gen_range(50..5_000)),
        jitter: if rng.gen() {
            Jitter::Uniform(Duration::from_micros(rng.gen_range(0..3_000)))
        } else {
            Jitter::Exponential(Duration::from_micros(rng.gen_range(0..20_000)))
        },
        loss: rng.gen_range(0.0..0.2),
        duplicate: rng.gen_range(0.0..0.1),
        reorder: rng.gen_range(0.0..0.1),
        reorder_delay: Duration::from_millis(rng.gen_range(0..1_500)),
    };
    let (on_a, on_b) = (rng.gen_range(2..10), rng.gen_range(0..5));
    let total = on_a + 1 + on_b;
    let max_neighbours = rng.gen_range(2..12);
    let max_learned = rng.gen_range(1..6);
    let statics: Vec<Option<usize>> = (0..total)
        .map(|_| rng.gen_bool(0.2).then(|| rng.gen_range(0..total)))
        .collect();
    let mut builder = Sim::builder(seed)
        .link(link)
        .nodes_on(on_a, &[SEG_A])
        .nodes_on(1, &[SEG_A, SEG_B])
        .nodes_on(on_b, &[SEG_B])
        .configure(move |i, c| {
            c.max_neighbours = max_neighbours;
            c.max_learned_peers = max_learned;
            c.static_peers = statics[i].map(node_addr).into_iter().collect();
        });
    if rng.gen() {
        builder = builder.route(SEG_A, SEG_B);
    }
    let mut sim = builder.build();
    let all: Vec<usize> = (0..total).collect();
    for _ in 0..8 {
        match rng.gen_range(0..6) {
            0 => {
                let cut = rng.gen_range(1..total);
                sim.partition(&[&all[..cut], &all[cut..]]);
            }
            1 => sim.heal(),
            2 => {
                sim.crash(rng.gen_range(0..total));
            }
            3 => {
                sim.restart(rng.gen_range(0..total));
            }
            _ => {}
        }
        sim.run_for(Duration::from_millis(rng.gen_range(200..3_000)))?;
    }
    sim.check_invariants()
}

#[test]
fn hundreds_of_random_seeds_keep_the_invariants() {
    let failures: Vec<String> = (0..300)
        .filter_map(|seed| chaos(seed).err().map(|v| v.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} seeds failed, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
