//! The simulation loop on tiny worlds: clock bounds, crash, restart, determinism.

use super::*;

fn two_boxes(seed: u64) -> Sim {
    Sim::builder(seed).nodes(2).build()
}

#[test]
fn run_until_never_passes_its_bound() {
    let mut sim = two_boxes(1);
    let bound = Instant::ZERO + Duration::from_millis(1_500);
    sim.run_until(bound).unwrap();
    assert_eq!(sim.now(), bound);
    assert!(sim.next_event_time().is_some_and(|t| t > bound));
    assert!(sim.all_see_each_other(&[0, 1]));
}

#[test]
fn a_crashed_box_gets_nothing_and_a_restart_brings_it_back() {
    let mut sim = two_boxes(2);
    sim.run_for(Duration::from_secs(2)).unwrap();
    assert!(sim.crash(1));
    assert!(!sim.crash(1), "already down");
    assert!(sim.neighbour_ids(1).is_empty());
    sim.run_for(Duration::from_secs(5)).unwrap();
    assert!(sim.stats().dropped_at_crashed > 0);
    assert!(!sim.anyone_lists(1));
    assert!(sim.restart(1));
    assert_eq!(
        sim.id(1),
        sim.node(1).map(|n| n.id()),
        "same id after restart"
    );
    sim.run_for(Duration::from_secs(2)).unwrap();
    assert!(sim.all_see_each_other(&[0, 1]));
}

#[test]
fn addresses_follow_the_index() {
    assert_eq!(node_addr(0).to_string(), "10.0.0.1:7701");
    assert_eq!(node_addr(300).to_string(), "10.0.1.45:7701");
    let sim = two_boxes(3);
    assert_eq!(sim.addr(1), Some(node_addr(1)));
    assert_eq!(sim.index_of(sim.id(1).unwrap()), Some(1));
}
