//! Parties in the deterministic simulator: HOST and JOIN, the start rule, auto-join,
//! election, failover after power loss and process kill, a partitioned host, request
//! policy, invitations across an overlay, and many random seeds with the party invariants
//! checked after every step.
//!
//! `CHORUS_SIM_SEEDS=1000 cargo test --release --test sim_party` runs more seeds;
//! `CHORUS_SIM_SEED=N cargo test --test sim_party seeds -- --nocapture` replays one.
//! `playback_seeds` checks what every box plays, the same way (`playback` as the filter);
//! `chorus bench party --seeds 10000` sweeps its scenario on all cores in release mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chorus::core::PartyRequest;
use chorus::core::{Action, NodeId, PoolSong, RequestPolicy, SongRef};
use chorus::core::{Event, Instant, NodeConfig, PartyRole, PartyState, RequestOutcome};
use chorus::proto::PartyId;
use chorus::sim::{CommandFailed, CrashMode, LinkModel, SegmentId, Sim, Violation};

#[path = "sim_party/chaos.rs"]
mod chaos;
#[path = "sim_party/playback.rs"]
mod playback;
#[path = "sim_party/playlist.rs"]
mod playlist;
#[path = "sim_party/queue.rs"]
mod queue;
#[path = "sim_party/regressions.rs"]
mod regressions;
#[path = "sim_party/start_gate.rs"]
mod start_gate;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn ok<T>(r: Result<T, Violation>) -> T {
    r.unwrap_or_else(|v| panic!("{v}"))
}

fn cmd<T>(r: Result<T, CommandFailed>) -> T {
    r.unwrap_or_else(|e| panic!("command failed: {e}"))
}

/// 0.3 ms ± 0.1 ms, 1 % loss, a little duplication and reordering.
fn lan() -> LinkModel {
    LinkModel::lan()
}

fn party_sim(seed: u64, n: usize, f: impl FnMut(usize, &mut NodeConfig) + 'static) -> Sim {
    Sim::builder(seed).link(lan()).nodes(n).configure(f).build()
}

/// Runs until `pred` holds or `within` passes; panics with `what` otherwise.
fn wait(sim: &mut Sim, within: f64, what: &str, pred: impl FnMut(&Sim) -> bool) -> Instant {
    let deadline = sim.now() + secs(within);
    let seed = sim.seed();
    ok(sim.wait_for(deadline, pred))
        .unwrap_or_else(|| panic!("seed {seed}: {what} not within {within} s"))
}

fn ids(sim: &Sim, i: usize) -> Vec<NodeId> {
    let view = sim.party(i).unwrap();
    let mut v: Vec<NodeId> = view.members.iter().map(|m| m.id).collect();
    v.sort();
    v
}

fn is_started_member_of(sim: &Sim, i: usize, party: PartyId) -> bool {
    sim.party(i).is_some_and(|v| {
        v.id == party && v.role == PartyRole::Member && v.state == PartyState::Started
    })
}

/// Settles for a quiet `quiet` seconds, then checks the eventual rules.
fn settle(sim: &mut Sim, quiet: f64) {
    ok(sim.run_for(secs(quiet)));
    ok(sim.check_settled());
}

/// Box 0 hosts at 1 s, boxes 1..n join as soon as they list the invitation; returns the
/// party once it started.
fn form_party(sim: &mut Sim, n: usize) -> PartyId {
    ok(sim.run_for(secs(1.0)));
    let party = cmd(sim.host(0));
    for i in 1..n {
        wait(sim, 3.0, "invitation listed", |s| {
            s.node(i)
                .unwrap()
                .invitations()
                .iter()
                .any(|x| x.party == party)
        });
        assert_eq!(cmd(sim.join(i, None)), party);
    }
    wait(sim, 25.0, "party started", |s| {
        (1..n).all(|i| is_started_member_of(s, i, party))
    });
    party
}

#[test]
fn four_boxes_one_hosts_three_join_and_it_starts_at_once() {
    let mut sim = party_sim(1, 4, |_, _| {});
    let party = form_party(&mut sim, 4);
    let host = sim.party(0).unwrap();
    assert_eq!(
        (host.role, host.state),
        (PartyRole::Host, PartyState::Started)
    );
    assert!(
        sim.now() < Instant::ZERO + secs(5.0),
        "started on the third guest, not at the window: {:?}",
        sim.now()
    );
    let all: Vec<NodeId> = {
        let mut v: Vec<NodeId> = (0..4).map(|i| sim.id(i).unwrap()).collect();
        v.sort();
        v
    };
    for i in 0..4 {
        assert_eq!(ids(&sim, i), all, "box {i}'s members list");
        assert_eq!(sim.party(i).unwrap().id, party);
    }
    assert!(sim.stats().streams_opened >= 3);
    settle(&mut sim, 10.0);
}

#[test]
fn a_lone_host_starts_at_the_end_of_the_window_and_a_late_box_joins() {
    let mut sim = party_sim(2, 2, |_, _| {});
    ok(sim.run_for(secs(1.0)));
    let party = cmd(sim.host(0));
    let hosted = sim.now();
    ok(sim.run_for(secs(19.5)));
    assert_eq!(sim.party(0).unwrap().state, PartyState::Forming);
    let started = wait(&mut sim, 1.0, "the lone party started", |s| {
        s.party(0).unwrap().state == PartyState::Started
    });
    let window = started - hosted;
    assert!(window >= secs(20.0) && window <= secs(20.3), "{window:?}");
    ok(sim.run_for(secs(5.0)));
    assert_eq!(
        sim.party(0).unwrap().state,
        PartyState::Started,
        "stays open"
    );
    let inv = sim.node(1).unwrap().invitations()[0].clone();
    assert!(inv.started && inv.party == party);
    cmd(sim.join(1, None));
    wait(&mut sim, 1.0, "late box in", |s| {
        is_started_member_of(s, 1, party)
    });
    assert_eq!(sim.party(0).unwrap().members.len(), 2);
    settle(&mut sim, 10.0);
}

#[test]
fn auto_join_boxes_join_by_themselves() {
    let mut sim = party_sim(3, 4, |i, c| c.party.auto_join = i != 0);
    ok(sim.run_for(secs(1.0)));
    let party = cmd(sim.host(0));
    let t0 = sim.now();
    let t = wait(&mut sim, 3.0, "everyone joined", |s| {
        (1..4).all(|i| is_started_member_of(s, i, party))
    });
    assert!(t - t0 < secs(1.0), "{:?}", t - t0);
    assert_eq!(sim.party(0).unwrap().members.len(), 4);
    settle(&mut sim, 10.0);
}

#[test]
fn two_hosts_at_once_converge_on_the_lower_party() {
    for seed in 10..14 {
        let mut sim = party_sim(seed, 6, |i, c| c.party.auto_join = i >= 2);
        ok(sim.run_for(secs(1.0)));
        let a = cmd(sim.host(0));
        let b = cmd(sim.host(1));
        let winner = a.min(b);
        wait(&mut sim, 10.0, "one party of six", |s| {
            let hosts = s.hosts();
            hosts.len() == 1
                && hosts[0].1.id == winner
                && hosts[0].1.members.len() == 6
                && (0..6).all(|i| s.party(i).is_some_and(|v| v.id == winner))
        });
        let lost = if winner == a { 1 } else { 0 };
        assert!(sim
            .events_of(lost)
            .any(|e| matches!(e, Event::LostElection { .. })));
        settle(&mut sim, 10.0);
        assert_eq!(sim.hosts().len(), 1, "seed {seed}");
    }
}

/// Forms a party of `n` auto-joining boxes hosted by box 0; returns it once started and
/// heartbeats have run a while.
fn started_party(seed: u64, n: usize) -> (Sim, PartyId) {
    let mut sim = party_sim(seed, n, |i, c| c.party.auto_join = i != 0);
    ok(sim.run_for(secs(1.0)));
    let party = cmd(sim.host(0));
    wait(&mut sim, 5.0, "party of n", |s| {
        (1..n).all(|i| is_started_member_of(s, i, party))
    });
    ok(sim.run_for(secs(5.0)));
    (sim, party)
}

/// Crashes the host; returns how long until exactly one other box hosts the same party
/// in a higher term, and checks the rest follow it.
fn failover(seed: u64, mode: CrashMode) -> Duration {
    let n = 5;
    let (mut sim, party) = started_party(seed, n);
    let term = sim.party(0).unwrap().term;
    assert!(sim.crash_with(0, mode));
    let crashed = sim.now();
    let t = wait(&mut sim, 5.0, "a successor", |s| {
        let hosts = s.hosts();
        hosts.len() == 1 && hosts[0].1.id == party && hosts[0].1.term > term
    });
    let (new_host, view) = sim.hosts().remove(0);
    wait(&mut sim, 3.0, "everyone follows the successor", |s| {
        (1..n)
            .filter(|&i| i != new_host)
            .all(|i| is_started_member_of(s, i, party))
            && s.party(new_host).unwrap().members.len() == n - 1
    });
    assert_eq!(view.state, PartyState::Started, "the party keeps going");
    settle(&mut sim, 10.0);
    t - crashed
}

#[test]
fn host_power_loss_one_successor_within_two_seconds() {
    let mut worst = Duration::ZERO;
    for seed in 20..30 {
        worst = worst.max(failover(seed, CrashMode::PowerLoss));
    }
    eprintln!("power loss: successor after at most {worst:?}");
    assert!(worst <= secs(1.6), "{worst:?}");
}

#[test]
fn host_process_kill_one_successor_at_once() {
    let mut worst = Duration::ZERO;
    for seed in 30..40 {
        worst = worst.max(failover(seed, CrashMode::ProcessKill));
    }
    eprintln!("process kill: successor after at most {worst:?}");
    assert!(worst <= secs(0.1), "{worst:?}");
}

#[test]
fn a_partitioned_host_comes_back_as_a_member() {
    for seed in 40..44 {
        let (mut sim, party) = started_party(seed, 4);
        let term = sim.party(0).unwrap().term;
        sim.partition(&[&[0], &[1, 2, 3]]);
        wait(&mut sim, 5.0, "members fail over", |s| {
            s.hosts()
                .iter()
                .any(|(i, v)| *i != 0 && v.id == party && v.term > term)
        });
        ok(sim.run_for(secs(3.0)));
        assert_eq!(sim.party(0).unwrap().role, PartyRole::Host, "still alone");
        sim.heal();
        wait(&mut sim, 10.0, "old host rejoins", |s| {
            s.party(0)
                .is_some_and(|v| v.role == PartyRole::Member && v.state == PartyState::Started)
        });
        assert!(sim
            .events_of(0)
            .any(|e| matches!(e, Event::FollowedNewerTerm { .. })));
        settle(&mut sim, 10.0);
        assert_eq!(sim.hosts().len(), 1);
        assert_eq!(sim.hosts()[0].1.members.len(), 4);
    }
}

fn answer(sim: &Sim, i: usize, id: u32) -> Option<(bool, Option<String>)> {
    sim.events_of(i).find_map(|e| match e {
        Event::RequestAnswered {
            id: got,
            accepted,
            reason,
        } if *got == id => Some((*accepted, reason.clone())),
        _ => None,
    })
}

#[test]
fn request_policy_host_only_refuses_with_a_reason_anyone_accepts() {
    for (policy, seed) in [(RequestPolicy::HostOnly, 50), (RequestPolicy::Anyone, 51)] {
        let mut sim = party_sim(seed, 3, move |i, c| {
            c.party.auto_join = i != 0;
            c.party.requests = policy;
        });
        ok(sim.run_for(secs(1.0)));
        let party = cmd(sim.host(0));
        wait(&mut sim, 5.0, "joined", |s| {
            (1..3).all(|i| {
                s.party(i)
                    .is_some_and(|v| v.id == party && v.state != PartyState::Joining)
            })
        });
        let kind = match policy {
            RequestPolicy::HostOnly => PartyRequest::Playback(Action::Skip),
            RequestPolicy::Anyone => PartyRequest::Offer {
                song: PoolSong {
                    song: SongRef([0xa; 32]),
                    rate: 44_100,
                    frames: 0,
                    origin: None,
                },
                title: "song-a".into(),
            },
        };
        let RequestOutcome::Pending(id) = cmd(sim.request(1, kind)) else {
            panic!("a member's request goes to the host");
        };
        wait(&mut sim, 1.0, "answer", |s| answer(s, 1, id).is_some());
        let (accepted, reason) = answer(&sim, 1, id).unwrap();
        match policy {
            RequestPolicy::HostOnly => {
                assert!(!accepted);
                assert!(reason.unwrap().contains("host only"));
            }
            RequestPolicy::Anyone => {
                assert!(accepted && reason.is_none());
                assert_eq!(sim.party(0).unwrap().queue, vec!["song-a".to_string()]);
            }
        }
        // The host itself is never refused.
        let own = cmd(sim.request(0, PartyRequest::Playback(Action::Skip)));
        assert_eq!(
            own,
            RequestOutcome::Answered {
                accepted: true,
                reason: None
            }
        );
    }
}

const SEG_A: SegmentId = SegmentId(0);
const SEG_B: SegmentId = SegmentId(1);

#[test]
fn an_invitation_crosses_the_overlay_and_the_far_box_joins() {
    let build = |routed: bool| {
        let mut b = Sim::builder(60)
            .link(lan())
            .nodes_on(3, &[SEG_A])
            .nodes_on(1, &[SEG_A, SEG_B])
            .nodes_on(3, &[SEG_B]);
        if routed {
            b = b.route(SEG_A, SEG_B);
        }
        b.build()
    };
    let far = 6;
    let mut sim = build(true);
    // Host before discovery crossed the route (then the host would unicast its floods to
    // the far boxes directly, hops 0): the first invitation comes through the bridge.
    ok(sim.run_for(secs(0.5)));
    let party = cmd(sim.host(0));
    wait(&mut sim, 3.0, "far box invited", |s| {
        s.node(far)
            .unwrap()
            .invitations()
            .iter()
            .any(|x| x.party == party)
    });
    let inv = sim.node(far).unwrap().invitations()[0].clone();
    assert!(inv.hops >= 1, "came through the overlay: {inv:?}");
    assert_eq!(Some(inv.host_addr.ip()), sim.addr(0).map(|a| a.ip()));
    cmd(sim.join(far, Some(party)));
    wait(&mut sim, 3.0, "far box joined", |s| {
        s.party(far)
            .is_some_and(|v| v.id == party && v.state == PartyState::Forming)
    });
    settle(&mut sim, 10.0);

    // Without a route the invitation still arrives (the bridge relays it), but TCP cannot.
    let mut sim = build(false);
    ok(sim.run_for(secs(5.0)));
    let party = cmd(sim.host(0));
    wait(&mut sim, 3.0, "far box invited", |s| {
        s.node(far)
            .unwrap()
            .invitations()
            .iter()
            .any(|x| x.party == party)
    });
    let inv = sim.node(far).unwrap().invitations()[0].clone();
    assert!(inv.hops >= 1, "only the bridge reaches segment B: {inv:?}");
    cmd(sim.join(far, Some(party)));
    wait(&mut sim, 5.0, "join fails", |s| {
        s.events_of(far)
            .any(|e| matches!(e, Event::JoinFailed { .. }))
    });
    assert!(sim.party(far).is_none());
    assert!(sim.stats().connects_failed >= 1);
}

#[test]
fn streams_replay_identically() {
    let run = |seed| {
        let (mut sim, _) = started_party(seed, 4);
        sim.crash_with(0, CrashMode::ProcessKill);
        ok(sim.run_for(secs(3.0)));
        (
            sim.trace_hash(),
            sim.trace_len(),
            sim.stats().stream_messages,
        )
    };
    let a = run(70);
    assert!(a.2 > 100, "streams carried messages: {a:?}");
    assert_eq!(a, run(70));
    assert_ne!(a.0, run(71).0);
}

#[test]
fn seeds() {
    chaos::run_seeds();
}

#[test]
fn playback_seeds() {
    playback::run_seeds();
}

/// The successor rule prefers a box that holds the current song: box 1 (slot 1) lacks
/// it, so when the host dies box 2 takes over and the music goes on.
#[test]
fn failover_prefers_a_box_that_holds_the_current_song() {
    let song = PoolSong {
        song: SongRef([7; 32]),
        rate: 44_100,
        frames: 44_100 * 600,
        origin: None,
    };
    // Box 1 never fetches the song (the simulator carries no transfers): the first song
    // waits for it only briefly.
    let mut sim = party_sim(61, 4, |_, c| c.party.start_wait = secs(0.5));
    sim.set_pool(0, vec![song]);
    sim.set_pool(1, vec![]);
    sim.set_pool(2, vec![song]);
    sim.set_pool(3, vec![song]);
    let party = form_party(&mut sim, 4);
    wait(&mut sim, 5.0, "members' clocks locked", |s| {
        (1..4).all(|i| s.node(i).unwrap().playback(s.now()).is_some())
    });
    let play = PartyRequest::Playback(Action::Select { index: 0 });
    cmd(sim.request(0, play));
    wait(&mut sim, 2.0, "box 1 reported the song missing", |s| {
        s.party(0).unwrap().members.iter().any(|m| m.missing == [0])
    });
    wait(&mut sim, 2.0, "everyone plays", |s| {
        (0..4).all(|i| {
            s.node(i)
                .unwrap()
                .playback(s.now())
                .is_some_and(|v| v.state.playing)
        })
    });
    let roster = sim.party(0).unwrap().members;
    let slot_of = |i: usize| {
        let id = sim.id(i).unwrap();
        roster.iter().find(|m| m.id == id).unwrap().slot
    };
    assert_eq!(slot_of(1), 1, "box 1 holds the first guest slot");
    // Of the boxes that hold the song, the one that joined first.
    let expected = if slot_of(2) < slot_of(3) { 2 } else { 3 };
    sim.crash(0);
    wait(&mut sim, 5.0, "a successor", |s| {
        s.hosts().iter().any(|(_, v)| v.id == party)
    });
    let (successor, _) = sim.hosts().remove(0);
    assert_eq!(
        successor, expected,
        "the first box that holds the song takes over, not slot 1"
    );
    settle(&mut sim, 5.0);
    for i in 1..4 {
        let v = sim.node(i).unwrap().playback(sim.now()).unwrap();
        assert!(v.state.playing, "box {i} still plays after the failover");
    }
}
