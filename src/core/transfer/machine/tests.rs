#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use bytes::Bytes;

use super::*;
use crate::core::transfer::Tags;
use crate::proto::PartyId;

const PARTY: PartyId = PartyId(9);
const ME: NodeId = NodeId(1);

fn t0() -> Instant {
    Instant::from_nanos(1_000_000_000)
}

fn song_bytes() -> Vec<u8> {
    (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// A three-chunk song (16 KiB chunks).
fn manifest() -> Manifest {
    let tags = Tags {
        format: "flac".into(),
        title: "test".into(),
        ..Tags::default()
    };
    Manifest::from_reader(&song_bytes()[..], 16 * 1024, tags).unwrap()
}

fn chunk_data(m: &Manifest, chunk: u32) -> Bytes {
    let r = m.chunk_range(chunk);
    Bytes::from(song_bytes()[r.start as usize..r.end as usize].to_vec())
}

fn addr(peer: u64) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, peer as u8], 7000))
}

fn machine(swarming: bool) -> Transfer {
    let swarm = SwarmConfig {
        swarming,
        ..SwarmConfig::default()
    };
    let mut t = Transfer::new(TransferConfig { me: ME, swarm }, t0(), BTreeSet::new());
    drain(&mut t);
    t
}

fn view(peers: &[u64], song: SongRef, origin: NodeId) -> TransferView {
    TransferView {
        party: PARTY,
        host: origin,
        peers: peers.iter().map(|&p| (NodeId(p), addr(p))).collect(),
        window: vec![(song, origin)],
        waiting_for_first_song: false,
    }
}

fn drain(t: &mut Transfer) -> Vec<TransferAction> {
    std::iter::from_fn(|| t.poll_action()).collect()
}

/// Connects `peer` (dialed by us, all test peers have higher ids) and returns its
/// connection and the actions that followed.
fn connect(t: &mut Transfer, now: Instant, peer: u64, actions: &[TransferAction]) -> ConnId {
    let conn = actions
        .iter()
        .find_map(|a| match a {
            TransferAction::Dial { conn, addr: a, .. } if *a == addr(peer) => Some(*conn),
            _ => None,
        })
        .expect("dialed");
    t.hello(now, conn, NodeId(peer), PARTY);
    conn
}

fn sends(actions: &[TransferAction], to: ConnId) -> Vec<Bulk> {
    actions
        .iter()
        .filter_map(|a| match a {
            TransferAction::Send { conn, msg } if *conn == to => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn begins(actions: &[TransferAction]) -> usize {
    let begin = |a: &&TransferAction| matches!(a, TransferAction::BeginDownload { .. });
    actions.iter().filter(begin).count()
}

/// This box is the origin of the song, in its library, with `peers` connected.
fn origin_with(peers: &[u64]) -> (Transfer, Manifest, Vec<ConnId>) {
    let m = manifest();
    let mut t = machine(true);
    t.set_library(t0(), [m.song].into());
    t.set_view(t0(), Some(view(peers, m.song, ME)));
    let dials = drain(&mut t);
    assert!(dials.contains(&TransferAction::BuildManifest { song: m.song }));
    t.manifest_built(t0(), m.song, Ok(m.clone()));
    let conns = peers
        .iter()
        .map(|&p| connect(&mut t, t0(), p, &dials))
        .collect();
    drain(&mut t);
    (t, m, conns)
}

/// This box fetches the song from its origin (peer 5), with peer 3 also connected;
/// returns after the download began.
fn member() -> (Transfer, Manifest, ConnId, ConnId) {
    let m = manifest();
    let mut t = machine(true);
    t.set_view(t0(), Some(view(&[3, 5], m.song, NodeId(5))));
    let dials = drain(&mut t);
    let other = connect(&mut t, t0(), 3, &dials);
    let origin = connect(&mut t, t0(), 5, &dials);
    let asked = drain(&mut t);
    let want = Bulk::WantManifest { song: m.song };
    assert!(sends(&asked, origin).contains(&want), "{asked:?}");
    t.message(t0(), origin, Bulk::Manifest(Box::new((&m).into())));
    assert_eq!(begins(&drain(&mut t)), 1);
    (t, m, origin, other)
}

#[test]
fn only_the_origins_manifest_is_believed() {
    let m = manifest();
    let mut t = machine(true);
    t.set_view(t0(), Some(view(&[3, 5], m.song, NodeId(5))));
    let dials = drain(&mut t);
    let other = connect(&mut t, t0(), 3, &dials);
    let origin = connect(&mut t, t0(), 5, &dials);
    drain(&mut t);
    t.message(t0(), other, Bulk::Manifest(Box::new((&m).into())));
    assert_eq!(begins(&drain(&mut t)), 0, "a non-origin manifest was used");
    assert_eq!(t.report(t0())[0].state, SongState::Manifest);
    t.message(t0(), origin, Bulk::Manifest(Box::new((&m).into())));
    assert_eq!(begins(&drain(&mut t)), 1);
}

#[test]
fn the_origin_sends_every_chunk_once_before_any_twice() {
    let (mut t, m, conns) = origin_with(&[2, 3]);
    let (a, b) = (conns[0], conns[1]);
    let request = Bulk::Request {
        song: m.song,
        chunk: 0,
    };
    t.message(t0(), a, request.clone());
    let read = |acts: &[TransferAction], to| {
        acts.iter()
            .any(|x| matches!(x, TransferAction::ReadChunk { conn, chunk: 0, .. } if *conn == to))
    };
    assert!(read(&drain(&mut t), a), "the first copy is served");
    t.message(t0(), b, request.clone());
    let refused = drain(&mut t);
    let refuse = Bulk::Refuse {
        song: m.song,
        chunk: 0,
    };
    assert_eq!(sends(&refused, b), vec![refuse], "fresh chunks come first");
    t.message(t0(), b, request);
    assert!(
        read(&drain(&mut t), b),
        "a second ask is served: never a stall"
    );
}

#[test]
fn the_origin_leaves_chunks_others_hold_to_them_and_says_so_again_later() {
    let (mut t, m, conns) = origin_with(&[2, 3]);
    let (a, b) = (conns[0], conns[1]);
    for chunk in 0..3 {
        t.message(
            t0(),
            a,
            Bulk::Request {
                song: m.song,
                chunk,
            },
        );
    }
    drain(&mut t);
    t.message(
        t0(),
        a,
        Bulk::Got {
            song: m.song,
            chunk: 0,
        },
    );
    t.message(
        t0(),
        b,
        Bulk::Request {
            song: m.song,
            chunk: 0,
        },
    );
    let refuse = Bulk::Refuse {
        song: m.song,
        chunk: 0,
    };
    assert_eq!(sends(&drain(&mut t), b), vec![refuse], "box 2 holds it");
    t.message(
        t0(),
        b,
        Bulk::Request {
            song: m.song,
            chunk: 1,
        },
    );
    let served = drain(&mut t);
    let read = |x: &TransferAction| matches!(x, TransferAction::ReadChunk { chunk: 1, .. });
    assert!(served.iter().any(read), "nobody else announced chunk 1");
    // The refused box hears again that the origin holds everything.
    let mut later = Vec::new();
    for k in 1..=REHAVE_TICKS {
        t.handle_timeout(t0() + TICK * k);
        later.extend(sends(&drain(&mut t), b));
    }
    assert!(later
        .iter()
        .any(|msg| matches!(msg, Bulk::Have { chunks: 3, .. })));
}

#[test]
fn without_swarming_the_origin_serves_every_copy() {
    let m = manifest();
    let mut t = machine(false);
    t.set_library(t0(), [m.song].into());
    t.set_view(t0(), Some(view(&[2, 3], m.song, ME)));
    let dials = drain(&mut t);
    t.manifest_built(t0(), m.song, Ok(m.clone()));
    let a = connect(&mut t, t0(), 2, &dials);
    let b = connect(&mut t, t0(), 3, &dials);
    drain(&mut t);
    for conn in [a, b] {
        t.message(
            t0(),
            conn,
            Bulk::Request {
                song: m.song,
                chunk: 0,
            },
        );
        let acts = drain(&mut t);
        assert!(acts
            .iter()
            .any(|x| matches!(x, TransferAction::ReadChunk { .. })));
    }
}

#[test]
fn reads_per_peer_are_bounded() {
    let (mut t, m, conns) = origin_with(&[2]);
    let conn = conns[0];
    let request = Bulk::Request {
        song: m.song,
        chunk: 1,
    };
    for _ in 0..READS_PER_PEER {
        t.message(t0(), conn, request.clone());
    }
    let reads = drain(&mut t)
        .iter()
        .filter(|x| matches!(x, TransferAction::ReadChunk { .. }))
        .count();
    assert_eq!(reads, READS_PER_PEER);
    t.message(t0(), conn, request.clone());
    let refuse = Bulk::Refuse {
        song: m.song,
        chunk: 1,
    };
    assert_eq!(
        sends(&drain(&mut t), conn),
        vec![refuse],
        "past the read limit"
    );
    t.chunk_read(conn, m.song, 1, Ok(chunk_data(&m, 1)));
    let served = sends(&drain(&mut t), conn);
    assert!(matches!(served[..], [Bulk::Chunk { chunk: 1, .. }]));
    t.message(t0(), conn, request);
    let acts = drain(&mut t);
    let read = acts
        .iter()
        .any(|x| matches!(x, TransferAction::ReadChunk { .. }));
    assert!(read, "a read finished, so the next request is served");
}

#[test]
fn a_failed_song_waits_for_the_backoff() {
    let (mut t, m, _, _) = member();
    let full = DiskFailure {
        kind: DiskFailureKind::Full,
        message: "disk full".into(),
    };
    t.begun(t0(), m.song, Err(full), &[]);
    assert_eq!(t.storage_error(), Some("disk full"));
    assert_eq!(t.report(t0())[0].state, SongState::Failed);
    let soon = t0() + FAILED_BACKOFF / 2;
    t.handle_timeout(soon);
    assert_eq!(begins(&drain(&mut t)), 0, "retried within the backoff");
    let later = t0() + FAILED_BACKOFF + TICK;
    t.handle_timeout(later);
    assert_eq!(begins(&drain(&mut t)), 1, "not retried after the backoff");
}

#[test]
fn a_corrupt_song_forgets_its_manifest() {
    let (mut t, m, origin, _) = member();
    let corrupt = DiskFailure {
        kind: DiskFailureKind::CorruptSong,
        message: "hash mismatch".into(),
    };
    t.begun(t0(), m.song, Err(corrupt), &[]);
    assert_eq!(t.report(t0())[0].title, "", "manifest kept");
    let later = t0() + RETRY + TICK;
    t.handle_timeout(later);
    let want = Bulk::WantManifest { song: m.song };
    assert!(sends(&drain(&mut t), origin).contains(&want));
}

#[test]
fn a_silent_connection_is_closed_after_the_hello_timeout() {
    let m = manifest();
    let mut t = machine(true);
    t.set_view(t0(), Some(view(&[2, 3], m.song, NodeId(2))));
    drain(&mut t);
    let silent = t.accept(t0()).unwrap();
    let speaking = t.accept(t0()).unwrap();
    t.hello(t0(), speaking, NodeId(2), PARTY);
    drain(&mut t);
    t.handle_timeout(t0() + HELLO_TIMEOUT / 2);
    let early = drain(&mut t);
    assert!(!early.contains(&TransferAction::Close { conn: silent }));
    let mut now = t0() + HELLO_TIMEOUT;
    let mut closes = Vec::new();
    while now <= t0() + HELLO_TIMEOUT + 2 * TICK {
        t.handle_timeout(now);
        closes.extend(drain(&mut t));
        now = now + TICK;
    }
    assert!(closes.contains(&TransferAction::Close { conn: silent }));
    assert!(!closes.contains(&TransferAction::Close { conn: speaking }));
}

#[test]
fn a_hello_from_another_party_is_closed() {
    let m = manifest();
    let mut t = machine(true);
    t.set_view(t0(), Some(view(&[2], m.song, NodeId(2))));
    drain(&mut t);
    let conn = t.accept(t0()).unwrap();
    t.hello(t0(), conn, NodeId(2), PartyId(1234));
    assert_eq!(drain(&mut t), vec![TransferAction::Close { conn }]);
}

fn requests(actions: &[TransferAction], to: ConnId) -> Vec<u32> {
    sends(actions, to)
        .iter()
        .filter_map(|msg| match msg {
            Bulk::Request { chunk, .. } => Some(*chunk),
            _ => None,
        })
        .collect()
}

/// The member's download began empty and the origin said it holds everything: the
/// requests that went out.
fn fetching() -> (Transfer, Manifest, ConnId, Vec<u32>) {
    let (mut t, m, origin, _) = member();
    t.begun(t0(), m.song, Ok(ChunkSet::empty(m.chunk_count())), &[]);
    let have = Bulk::Have {
        song: m.song,
        chunks: 3,
        bits: ChunkSet::full(3).bits().to_vec(),
    };
    t.message(t0(), origin, have);
    let asked = requests(&drain(&mut t), origin);
    assert!(!asked.is_empty());
    (t, m, origin, asked)
}

#[test]
fn the_held_set_grows_when_the_last_chunk_is_written() {
    let (mut t, m, origin, mut asked) = fetching();
    let mut writes = 0;
    while let Some(chunk) = asked.pop() {
        let data = chunk_data(&m, chunk);
        t.message(
            t0(),
            origin,
            Bulk::Chunk {
                song: m.song,
                chunk,
                data,
            },
        );
        let acts = drain(&mut t);
        writes += acts
            .iter()
            .filter(|a| matches!(a, TransferAction::WriteChunk { .. }))
            .count();
        asked.extend(requests(&acts, origin));
    }
    assert_eq!(writes, 3);
    t.chunk_written(t0(), m.song, 0, Ok(false));
    t.chunk_written(t0(), m.song, 1, Ok(false));
    let changed = |a: &TransferAction| matches!(a, TransferAction::HeldChanged(_));
    assert!(!drain(&mut t).iter().any(changed));
    t.chunk_written(t0(), m.song, 2, Ok(true));
    let held = BTreeSet::from([m.song]);
    assert!(drain(&mut t).contains(&TransferAction::HeldChanged(held.clone())));
    assert_eq!(t.held(), &held);
    assert_eq!(t.report(t0())[0].state, SongState::Complete);
    t.played(m.song);
    assert_eq!(
        drain(&mut t),
        vec![TransferAction::MarkPlayed { song: m.song }]
    );
}

#[test]
fn evicted_songs_leave_the_held_set() {
    let old = SongRef([7; 32]);
    let m = manifest();
    let swarm = SwarmConfig::default();
    let mut t = Transfer::new(TransferConfig { me: ME, swarm }, t0(), [old].into());
    assert_eq!(
        drain(&mut t),
        vec![TransferAction::HeldChanged([old].into())]
    );
    t.set_view(t0(), Some(view(&[5], m.song, NodeId(5))));
    let dials = drain(&mut t);
    let origin = connect(&mut t, t0(), 5, &dials);
    t.message(t0(), origin, Bulk::Manifest(Box::new((&m).into())));
    drain(&mut t);
    t.begun(t0(), m.song, Ok(ChunkSet::empty(3)), &[old]);
    assert!(drain(&mut t).contains(&TransferAction::HeldChanged(BTreeSet::new())));
    assert!(t.held().is_empty());
}

#[test]
fn a_corrupt_chunk_is_not_written() {
    let (mut t, m, origin, asked) = fetching();
    let chunk = asked[0];
    let data = Bytes::from(vec![0; m.chunk_len(chunk)]);
    t.message(
        t0(),
        origin,
        Bulk::Chunk {
            song: m.song,
            chunk,
            data,
        },
    );
    let acts = drain(&mut t);
    assert!(!acts
        .iter()
        .any(|a| matches!(a, TransferAction::WriteChunk { .. })));
    assert_eq!(t.corrupt_chunks(), 1);
}
