//! Clock-sync stamps (receive times measure the network, processing times do not) and
//! the MACs that keep anyone but the host off the clock.

use std::net::{Ipv4Addr, SocketAddr};

use super::*;
use crate::proto;
use crate::proto::{Message, TimeReply, TimeRequest, MAC_LEN};

const PARTY: PartyId = PartyId(7);

fn at_us(us: u64) -> Instant {
    Instant::from_nanos(us * 1_000)
}

fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 7701))
}

/// The key of the member's (box 2) session with the host.
const KEY: [u8; 32] = [9; 32];

fn link() -> TimeLink {
    TimeLink {
        addr: addr(),
        key: KEY,
        me: NodeId(2),
    }
}

fn request(key: &[u8; 32]) -> TimeRequest {
    let mut req = TimeRequest {
        party: PARTY,
        seq: 1,
        t1: 5,
        member: NodeId(2),
        mac: [0; MAC_LEN],
    };
    req.mac = req.mac_with(key);
    req
}

/// The host's answer to `req`, MACed under `key`.
fn answer(req: &TimeRequest, key: &[u8; 32]) -> TimeReply {
    let mut reply = TimeReply {
        party: PARTY,
        seq: req.seq,
        t1: req.t1,
        t2: 1_000_000_000,
        t3: 1_000_100_000,
        mac: [0; MAC_LEN],
    };
    reply.mac = reply.mac_with(key, &req.mac);
    reply
}

fn sent(out: &mut Out) -> Message {
    let t = out.transmits.pop_front().unwrap();
    proto::decode_datagram(&t.payload).unwrap()
}

#[test]
fn host_stamps_arrival_at_receive_time_and_departure_at_processing_time() {
    let mut host = Playback::new();
    host.seat(at_us(0), Some((PARTY, PartyRole::Host, NodeId(1))), None);
    let mut out = Out::default();
    let req = request(&KEY);
    host.time_request(
        at_us(1_300),
        at_us(1_000),
        &mut out,
        addr(),
        (req.clone(), Some(KEY)),
    );
    let Message::TimeReply(reply) = sent(&mut out) else {
        panic!("expected a time reply");
    };
    assert!(reply.authentic(&KEY, &req.mac));
    // A fresh host's party time is its local time.
    assert_eq!(reply.t2, at_us(1_000).as_nanos());
    assert_eq!(reply.t3, at_us(1_300).as_nanos());
}

/// Box 2, a member with its session key, and the first time request it sent.
fn member_asking() -> (Playback, Out, TimeRequest) {
    let mut member = Playback::new();
    let seat = Some((PARTY, PartyRole::Member, NodeId(2)));
    member.seat(at_us(0), seat, Some(link()));
    let mut out = Out::default();
    member.handle_timeout(at_us(0), &mut out);
    let Message::TimeRequest(req) = sent(&mut out) else {
        panic!("expected a time request");
    };
    (member, out, req)
}

#[test]
fn member_measures_round_trip_to_receive_time() {
    let (mut member, mut out, req) = member_asking();
    assert!(req.authentic(&KEY));
    // Received at 600 us: 600 us minus the host's 100 us of processing.
    member.time_reply(at_us(600), &mut out, answer(&req, &KEY));
    assert_eq!(out.counters.forged_time, 0);
    // One sample: the round trip is known, the clock not locked yet.
    assert_eq!(member.report_due(at_us(2_000)), Some((500, u32::MAX)));
}

#[test]
fn the_first_song_waits_for_settled_clocks_but_not_for_long() {
    let first = Action::Select { index: 0 };
    let mut host = Playback::new();
    host.gate(first, at_us(60_000_000));
    assert_eq!(host.gate_open(at_us(1_000_000), |_| true, false), None);
    assert_eq!(host.gate_open(at_us(5_999_999), |_| true, false), None);
    assert_eq!(
        host.gate_open(at_us(6_000_000), |_| true, false),
        Some(first),
        "5 s after the song is everywhere it plays, settled or not"
    );
    host.gate(first, at_us(60_000_000));
    assert_eq!(
        host.gate_open(at_us(7_000_000), |_| false, true),
        None,
        "settled clocks alone do not start a song nobody has"
    );
    assert_eq!(
        host.gate_open(at_us(7_000_001), |_| true, true),
        Some(first)
    );
}

#[test]
fn clocks_count_as_settled_once_every_founder_reported_a_small_error() {
    let mut host = Playback::new();
    let (a, b) = (StreamId(1), StreamId(2));
    assert!(!host.clocks_settled(&[a]), "nothing reported yet");
    let settled = crate::core::schedule::SETTLED_ERROR_US;
    host.guest_rtt(at_us(0), a, 500, settled - 50);
    host.guest_rtt(at_us(0), b, 500, u32::MAX);
    assert!(host.clocks_settled(&[a]));
    assert!(!host.clocks_settled(&[a, b]), "b is not locked");
    host.guest_rtt(at_us(500_000), b, 500, settled + 1);
    assert!(
        !host.clocks_settled(&[a, b]),
        "b's clock is not good enough yet"
    );
    host.guest_rtt(at_us(1_000_000), b, 500, settled);
    assert!(host.clocks_settled(&[a, b]));
}

#[test]
fn a_skip_while_the_first_song_waits_changes_which_song_waits() {
    let song = |n: u8| PoolSong {
        song: SongRef([n; 32]),
        rate: 48_000,
        frames: 48_000,
        origin: None,
    };
    let mut host = Playback::new();
    host.host_pool(vec![song(1), song(2), song(3)], None);
    assert!(
        !host.retarget_gate(&Action::Skip),
        "nothing held back: schedule it"
    );
    host.gate(Action::Select { index: 0 }, at_us(5_000_000));
    assert!(host.retarget_gate(&Action::Skip));
    assert!(host.retarget_gate(&Action::Skip));
    // Past the last song: the first, then the second again.
    assert!(host.retarget_gate(&Action::Skip));
    assert!(host.retarget_gate(&Action::Skip));
    assert!(host.retarget_gate(&Action::Previous));
    assert!(!host.retarget_gate(&Action::Pause));
    let opened = host.gate_open(at_us(6_000_000), |_| true, true);
    assert_eq!(opened, Some(Action::Select { index: 0 }));
}

fn entry(seq: u64, index: u32) -> Entry {
    Entry {
        at: PartyTime::from_nanos(seq * 1_000_000_000),
        seq,
        action: Action::Select { index },
    }
}

/// Seed 939 of the playback sweep: two sides of a partition hosted the same party, and
/// each numbered its first entry 1. A member that followed the other side's host kept its
/// own entry 1 (the new one looked like a duplicate) and played another song than the
/// party. Following another host, the first schedule it sends replaces ours.
#[test]
fn a_member_following_another_host_takes_its_schedule_instead_of_merging() {
    let mut member = Playback::new();
    member.seat(at_us(0), Some((PARTY, PartyRole::Member, NodeId(1))), None);
    member.host_entries(vec![entry(1, 0), entry(2, 3)]);
    // Reconnecting to the same host adds to what we have.
    member.host_entries(vec![entry(3, 4)]);
    assert_eq!(member.schedule.len(), 3);
    member.seat(at_us(1), Some((PARTY, PartyRole::Member, NodeId(2))), None);
    assert_eq!(
        member.schedule.len(),
        3,
        "plays on until the new schedule comes"
    );
    member.host_entries(vec![entry(1, 5)]);
    member.host_entries(vec![entry(2, 1)]);
    assert_eq!(member.schedule.entries(), vec![entry(1, 5), entry(2, 1)]);

    // A host with no entries still sends one (empty) schedule, which empties ours.
    let mut host = Playback::new();
    host.seat(at_us(0), Some((PARTY, PartyRole::Host, NodeId(2))), None);
    let messages = host.schedule_messages(2);
    assert_eq!(messages, vec![Vec::<Entry>::new()]);
    member.seat(at_us(2), Some((PARTY, PartyRole::Member, NodeId(3))), None);
    for m in messages {
        member.host_entries(m);
    }
    assert!(member.schedule.is_empty());
    for k in 1..=5 {
        host.schedule.insert(entry(k, 0));
    }
    let sizes: Vec<usize> = host.schedule_messages(2).iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

/// The host schedules far enough ahead for its audio output to make the start audible
/// on time, and a sink reporting an absurd latency does not hold the party back.
#[test]
fn the_lead_covers_the_output_latency_within_reason() {
    let mut host = Playback::new();
    host.seat(at_us(0), Some((PARTY, PartyRole::Host, NodeId(1))), None);
    let lead = |host: &mut Playback| {
        let now = at_us(1_000_000);
        let entry = host.schedule(now, Action::Pause).unwrap();
        Duration::from_nanos(entry.at.as_nanos() - now.as_nanos())
    };
    // No guest measured yet: 50 ms assumed, plus half.
    assert_eq!(lead(&mut host), Duration::from_millis(75));
    host.set_output_latency(Duration::from_millis(80));
    assert_eq!(lead(&mut host), Duration::from_millis(120));
    host.set_output_latency(Duration::from_secs(30));
    assert_eq!(lead(&mut host), Duration::from_millis(750));
    // A song change gives every box the time to open the new song too.
    host.set_output_latency(Duration::from_millis(80));
    let now = at_us(2_000_000);
    for action in [Action::Skip, Action::Previous, Action::Select { index: 1 }] {
        let entry = host.schedule(now, action).unwrap();
        let lead = Duration::from_nanos(entry.at.as_nanos() - now.as_nanos());
        assert_eq!(lead, Duration::from_millis(220), "{action:?}");
    }
}

#[test]
fn forged_and_replayed_replies_are_counted_and_never_reach_the_clock() {
    let (mut member, mut out, req) = member_asking();
    let untouched = member.clock.counters();
    let wrong_key = answer(&req, &[1; 32]);
    let mut moved = answer(&req, &KEY);
    moved.t2 += 5_000_000;
    let unmaced = TimeReply {
        mac: [0; MAC_LEN],
        ..answer(&req, &KEY)
    };
    for forged in [wrong_key, moved, unmaced] {
        member.time_reply(at_us(600), &mut out, forged);
    }
    assert_eq!(out.counters.forged_time, 3);
    assert_eq!(
        member.clock.counters(),
        untouched,
        "no forged sample reached the clock"
    );
    assert_eq!(member.rtt, None);

    let genuine = answer(&req, &KEY);
    member.time_reply(at_us(600), &mut out, genuine.clone());
    assert_eq!(member.clock.counters().accepted, untouched.accepted + 1);
    let taken = member.clock.counters();
    member.time_reply(at_us(900), &mut out, genuine);
    assert_eq!(out.counters.forged_time, 4, "a replayed reply is counted");
    assert_eq!(member.clock.counters(), taken, "and not taken twice");
}

#[test]
fn without_a_session_key_a_member_does_not_ask_and_a_host_does_not_answer() {
    let mut member = Playback::new();
    let seat = Some((PARTY, PartyRole::Member, NodeId(2)));
    member.seat(at_us(0), seat, None);
    let mut out = Out::default();
    member.handle_timeout(at_us(0), &mut out);
    assert!(out.transmits.is_empty(), "no request without a key");
    assert_eq!(member.poll_timeout(), None);

    let mut host = Playback::new();
    host.seat(at_us(0), Some((PARTY, PartyRole::Host, NodeId(1))), None);
    let req = request(&KEY);
    host.time_request(at_us(10), at_us(10), &mut out, addr(), (req.clone(), None));
    let forged = request(&[1; 32]);
    host.time_request(at_us(10), at_us(10), &mut out, addr(), (forged, Some(KEY)));
    assert!(
        out.transmits.is_empty(),
        "no answer to an unauthenticated request"
    );
    assert_eq!(out.counters.forged_time, 2);
    host.time_request(at_us(10), at_us(10), &mut out, addr(), (req, Some(KEY)));
    assert_eq!(out.transmits.len(), 1);
}

#[test]
fn a_new_host_takes_its_playlist_with_its_pool_cut_to_the_wire_limit() {
    let song = PoolSong {
        song: SongRef([1; 32]),
        rate: 48_000,
        frames: 48_000,
        origin: None,
    };
    let mut p = Playback::new();
    // 40 two-byte letters: 80 bytes, over the limit of 64.
    p.set_local_pool(vec![song], Some("é".repeat(40)));
    assert_eq!(p.playlist(), None, "no party yet");
    p.seat(at_us(0), Some((PARTY, PartyRole::Host, NodeId(1))), None);
    let name = p.playlist().unwrap();
    assert_eq!(name, "é".repeat(32), "cut on a character boundary");
    assert_eq!(p.pool_songs(), [song]);
    p.seat(at_us(1), None, None);
    assert_eq!(p.playlist(), None, "out of the party");
}
