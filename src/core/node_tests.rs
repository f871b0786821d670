//! Behaviour of the discovery node, driven by hand.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::core::limit::CLOCK_REQUESTS;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, 0, 0, last), 7701))
}

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn node(id: u64) -> Node {
    Node::new(NodeConfig::new(NodeId(id), format!("box{id}")), at(0), id)
}

fn drain(node: &mut Node) -> Vec<Transmit> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn events(node: &mut Node) -> Vec<Event> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

/// Runs `node`'s timers until its next beacon has gone out; returns it.
fn next_beacon(node: &mut Node) -> (Instant, Vec<Transmit>) {
    loop {
        let t = node.poll_timeout();
        node.handle_timeout(t);
        let out = drain(node);
        if !out.is_empty() {
            return (t, out);
        }
    }
}

#[test]
fn first_beacon_is_prompt_and_later_ones_are_jittered_around_the_interval() {
    let mut n = node(1);
    let (first, out) = next_beacon(&mut n);
    assert!(first <= at(200), "first beacon at {first:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].destination, Destination::Multicast);
    let mut last = first;
    for _ in 0..50 {
        let (t, _) = next_beacon(&mut n);
        let gap = t - last;
        assert!(
            gap >= Duration::from_millis(800) && gap <= Duration::from_millis(1200),
            "{gap:?}"
        );
        last = t;
    }
}

#[test]
fn static_peers_get_every_beacon_by_unicast() {
    let mut cfg = NodeConfig::new(NodeId(1), "a");
    cfg.static_peers = vec![addr(9), addr(8)];
    let mut n = Node::new(cfg, at(0), 1);
    let (_, out) = next_beacon(&mut n);
    let dests: Vec<_> = out.iter().map(|t| t.destination).collect();
    assert_eq!(
        dests,
        vec![
            Destination::Multicast,
            Destination::Unicast(addr(8)),
            Destination::Unicast(addr(9))
        ]
    );
}

#[test]
fn two_boxes_find_each_other_and_ignore_their_own_echo() {
    let mut a = node(1);
    let mut b = node(2);
    let (t, out) = next_beacon(&mut a);
    // Multicast loops our own beacon back to us.
    a.handle_datagram(t, addr(1), Via::Multicast, &out[0].payload);
    assert_eq!(a.neighbours().count(), 0);
    assert_eq!(a.counters().own, 1);
    b.handle_datagram(
        t,
        SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 40000)),
        Via::Multicast,
        &out[0].payload,
    );
    let up = events(&mut b);
    assert_eq!(
        up,
        vec![Event::NeighbourUp {
            id: NodeId(1),
            name: "box1".into(),
            addr: addr(1), // the beacon's unicast port, not the source port
        }]
    );
    let seen = b.neighbour(&NodeId(1)).unwrap();
    assert_eq!(b.via(seen, t), Via::Multicast);
}

#[test]
fn a_beacon_with_our_id_from_another_process_is_reported_our_echo_is_not() {
    let mut a = node(1);
    let mut clone = Node::new(NodeConfig::new(NodeId(1), "box1"), at(0), 99);
    let (t, ours) = next_beacon(&mut a);
    a.handle_datagram(t, addr(1), Via::Multicast, &ours[0].payload);
    assert_eq!(events(&mut a), vec![]);
    let (t, theirs) = next_beacon(&mut clone);
    a.handle_datagram(t, addr(2), Via::Multicast, &theirs[0].payload);
    let port = NodeConfig::new(NodeId(1), "box1").party.control_port;
    let control = SocketAddr::new(addr(2).ip(), port);
    assert_eq!(events(&mut a), vec![Event::OwnIdSeen { control }]);
    assert_eq!(a.neighbours().count(), 0);
    assert_eq!(a.counters().own, 2);
}

#[test]
fn silent_neighbour_expires_after_the_configured_beacons() {
    let mut a = node(1);
    let mut b = node(2);
    let (t, out) = next_beacon(&mut a);
    b.handle_datagram(t, addr(1), Via::Multicast, &out[0].payload);
    events(&mut b);
    // b keeps running but a falls silent.
    let expiry = b.config().expiry();
    let mut now = t;
    while b.neighbour(&NodeId(1)).is_some() {
        now = b.poll_timeout();
        b.handle_timeout(now);
        drain(&mut b);
    }
    assert!(
        now - t > expiry && now - t <= expiry + Duration::from_millis(1),
        "{:?}",
        now - t
    );
    assert_eq!(
        events(&mut b),
        vec![Event::NeighbourDown {
            id: NodeId(1),
            name: "box1".into()
        }]
    );
}

#[test]
fn reordered_beacon_does_not_roll_state_back() {
    let mut a = node(1);
    let mut b = node(2);
    let (t1, old) = next_beacon(&mut a);
    let (t2, new) = next_beacon(&mut a);
    b.handle_datagram(t2, addr(1), Via::Multicast, &new[0].payload);
    b.handle_datagram(t2, addr(2), Via::Multicast, &old[0].payload);
    assert_eq!(b.neighbour(&NodeId(1)).unwrap().addr, addr(1));
    assert_eq!(b.neighbour(&NodeId(1)).unwrap().seq, 2);
    assert_eq!(b.counters().stale, 1);
    assert!(t1 < t2);
}

#[test]
fn hinted_peers_are_probed_by_unicast_and_answered_by_unicast() {
    // b hears a (multicast) and c (unicast); a learns c from b's hints.
    let mut a = node(1);
    let mut b = node(2);
    let mut c = node(3);
    let (t, out_c) = next_beacon(&mut c);
    b.handle_datagram(t, addr(3), Via::Unicast, &out_c[0].payload);
    let (t, out_b) = next_beacon(&mut b);
    // b answers c by unicast because c is not on its multicast segment.
    assert!(out_b
        .iter()
        .any(|x| x.destination == Destination::Unicast(addr(3))));
    a.handle_datagram(t, addr(2), Via::Multicast, &out_b[0].payload);
    assert_eq!(a.learned_len(), 1);
    let (_, out_a) = next_beacon(&mut a);
    let dests: Vec<_> = out_a.iter().map(|x| x.destination).collect();
    assert_eq!(
        dests,
        vec![Destination::Multicast, Destination::Unicast(addr(3))]
    );
    // c hears a's probe and becomes a's neighbour; a stops treating c as a candidate.
    let (t, _) = next_beacon(&mut a);
    c.handle_datagram(t, addr(1), Via::Unicast, &out_a[1].payload);
    let (t, out_c) = next_beacon(&mut c);
    let to_a: Vec<_> = out_c
        .iter()
        .filter(|x| x.destination == Destination::Unicast(addr(1)))
        .collect();
    assert_eq!(to_a.len(), 1, "c answers a by unicast");
    a.handle_datagram(t, addr(3), Via::Unicast, &to_a[0].payload);
    assert!(a.neighbour(&NodeId(3)).is_some());
    a.handle_timeout(t);
    assert_eq!(a.learned_len(), 0);
}

#[test]
fn malformed_datagrams_are_dropped_counted_and_reported() {
    let mut a = node(1);
    a.handle_datagram(at(1), addr(9), Via::Multicast, b"GET / HTTP/1.1\r\n");
    a.handle_datagram(at(1), addr(9), Via::Unicast, &[]);
    assert_eq!(a.counters().malformed, 2);
    assert_eq!(a.neighbours().count(), 0);
    let evs = events(&mut a);
    assert_eq!(evs.len(), 2);
    assert!(evs
        .iter()
        .all(|e| matches!(e, Event::Malformed { from, .. } if *from == addr(9))));
}

#[test]
fn full_table_counts_and_keeps_existing_neighbours() {
    let mut cfg = NodeConfig::new(NodeId(1), "a");
    cfg.max_neighbours = 1;
    let mut a = Node::new(cfg, at(0), 1);
    let mut b = node(2);
    let mut c = node(3);
    let (t, out_b) = next_beacon(&mut b);
    let (_, out_c) = next_beacon(&mut c);
    a.handle_datagram(t, addr(2), Via::Multicast, &out_b[0].payload);
    a.handle_datagram(t, addr(3), Via::Multicast, &out_c[0].payload);
    assert_eq!(
        a.neighbours().map(|n| n.id).collect::<Vec<_>>(),
        vec![NodeId(2)]
    );
    assert_eq!(a.counters().table_full, 1);
}

#[test]
fn a_host_checks_clock_requests_up_to_each_sources_limit() {
    let mut host = node(1);
    let party = host.host(at(0)).unwrap();
    drain(&mut host);
    // A stranger's requests carry no valid MAC: the ones let through reach the MAC check
    // and are counted forged; the rest never cost the host more than a count.
    let request = |seq| {
        let req = crate::proto::TimeRequest {
            party,
            seq,
            t1: 5,
            member: NodeId(9),
            mac: [0; crate::proto::MAC_LEN],
        };
        crate::proto::encode_datagram(&Message::TimeRequest(req)).unwrap()
    };
    let checked = |host: &Node| host.counters().forged_time;
    for seq in 0..1_000 {
        host.handle_datagram(at(1), addr(9), Via::Unicast, &request(seq));
    }
    let burst = u64::from(CLOCK_REQUESTS.burst);
    assert_eq!(checked(&host), burst);
    assert_eq!(host.counters().clock_limited, 1_000 - burst);
    let answers = drain(&mut host)
        .iter()
        .filter(|t| {
            matches!(
                crate::proto::decode_datagram(&t.payload),
                Ok(Message::TimeReply(_))
            )
        })
        .count();
    assert_eq!(answers, 0, "a stranger gets no answer");
    // Another box is not held back by the flood.
    host.handle_datagram(at(1), addr(8), Via::Unicast, &request(1));
    assert_eq!(checked(&host), burst + 1);
    // A second later the flooder has its rate again, no more.
    for seq in 0..1_000 {
        host.handle_datagram(at(1_001), addr(9), Via::Unicast, &request(seq));
    }
    assert_eq!(
        checked(&host),
        burst + 1 + u64::from(CLOCK_REQUESTS.per_sec)
    );
}
