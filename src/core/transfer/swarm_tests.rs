use std::time::Duration;

use super::*;

const CS: u32 = 16 * 1024;
const ORIGIN: NodeId = NodeId(1);
const A: NodeId = NodeId(2);
const B: NodeId = NodeId(3);

fn manifest(tag: u8, chunks: u32) -> Manifest {
    Manifest {
        song: SongRef([tag; 32]),
        size: u64::from(chunks) * u64::from(CS) - 100,
        chunk_size: CS,
        chunks: vec![[0; 32]; chunks as usize],
        format: "flac".into(),
        title: "t".into(),
        artist: None,
        album: None,
        duration_ms: None,
    }
}

fn song(tag: u8) -> SongRef {
    SongRef([tag; 32])
}

fn at(s: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(s)
}

fn set(len: u32, held: impl IntoIterator<Item = u32>) -> ChunkSet {
    let mut s = ChunkSet::empty(len);
    for i in held {
        s.insert(i);
    }
    s
}

fn config(per_peer: usize, max_in_flight: usize) -> SwarmConfig {
    SwarmConfig {
        per_peer,
        origin_per_peer: per_peer,
        max_in_flight,
        endgame: false,
        ..SwarmConfig::default()
    }
}

/// A swarm wanting `songs` (tag, chunks), all from ORIGIN, which holds them whole.
fn swarm(cfg: SwarmConfig, songs: &[(u8, u32)]) -> Swarm {
    let mut s = Swarm::new(cfg);
    s.set_wanted(
        songs
            .iter()
            .map(|&(t, n)| (manifest(t, n), ORIGIN))
            .collect(),
    );
    s.peer_connected(ORIGIN);
    for &(t, n) in songs {
        s.peer_have(ORIGIN, song(t), ChunkSet::full(n));
    }
    s
}

fn chunks_of(fetches: &[Fetch], tag: u8) -> Vec<u32> {
    fetches
        .iter()
        .filter(|f| f.song == song(tag))
        .map(|f| f.chunk)
        .collect()
}

#[test]
fn earlier_song_first_later_only_when_all_in_flight() {
    let mut s = swarm(config(4, 16), &[(1, 3), (2, 5)]);
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 4, "one peer, four slots: {f:?}");
    let mut first = chunks_of(&f, 1);
    first.sort_unstable();
    assert_eq!(first, vec![0, 1, 2], "every chunk of song 1 asked first");
    assert_eq!(chunks_of(&f, 2).len(), 1, "the spare slot goes to song 2");
    // A chunk of song 1 nobody can serve does not hold song 2 back.
    s.chunk_refused(ORIGIN, song(1), 0);
    let f = s.poll_fetch(at(1));
    assert_eq!(
        chunks_of(&f, 1),
        Vec::<u32>::new(),
        "no holder of chunk 0 left"
    );
    assert_eq!(chunks_of(&f, 2).len(), 1);
    s.peer_got(A, song(1), 0);
    let f = s.poll_fetch(at(1));
    assert_eq!(
        f,
        vec![Fetch {
            peer: A,
            song: song(1),
            chunk: 0
        }]
    );
}

#[test]
fn a_freed_slot_goes_to_the_earlier_song() {
    let mut s = swarm(config(2, 16), &[(1, 3), (2, 3)]);
    let f = s.poll_fetch(at(0));
    assert_eq!(chunks_of(&f, 1).len(), 2);
    assert!(chunks_of(&f, 2).is_empty());
    assert_eq!(
        s.chunk_arrived(at(1), ORIGIN, song(1), f[0].chunk, true),
        Arrival::Stored
    );
    let g = s.poll_fetch(at(1));
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].song, song(1), "song 1's last chunk before song 2");
    s.chunk_arrived(at(2), ORIGIN, song(1), f[1].chunk, true);
    assert_eq!(
        s.chunk_arrived(at(2), ORIGIN, song(1), g[0].chunk, true),
        Arrival::Completed
    );
    let h = s.poll_fetch(at(2));
    assert_eq!(chunks_of(&h, 2).len(), 2, "song 1 complete: song 2 now");
}

#[test]
fn rarest_chunk_asked_first() {
    let mut s = swarm(config(1, 16), &[(1, 4)]);
    s.peer_have(A, song(1), set(4, [0, 1, 3]));
    s.peer_have(B, song(1), set(4, [0, 1]));
    // Chunk 2 has one holder (the origin), chunk 3 two, chunks 0 and 1 three.
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 3, "one slot per peer: {f:?}");
    assert_eq!(f[0].chunk, 2);
    assert_eq!(f[0].peer, ORIGIN);
    assert_eq!(f[1].chunk, 3);
    assert_eq!(f[1].peer, A);
    assert_eq!(f[2].peer, B);
}

#[test]
fn tie_breaks_differ_between_boxes() {
    let firsts: std::collections::BTreeSet<u32> = (0..16)
        .map(|seed| {
            let mut s = swarm(
                SwarmConfig {
                    seed,
                    ..config(1, 1)
                },
                &[(1, 64)],
            );
            s.poll_fetch(at(0))[0].chunk
        })
        .collect();
    assert!(firsts.len() >= 8, "16 boxes started with {firsts:?}");
}

#[test]
fn limits_are_respected() {
    let mut s = swarm(config(2, 5), &[(1, 40)]);
    for peer in [A, B, NodeId(9)] {
        s.peer_have(peer, song(1), ChunkSet::full(40));
    }
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 5, "total limit");
    for peer in [ORIGIN, A, B, NodeId(9)] {
        assert!(f.iter().filter(|x| x.peer == peer).count() <= 2);
    }
    assert!(s.poll_fetch(at(0)).is_empty());
    assert_eq!(s.in_flight_count(), 5);
    let mut chunks: Vec<u32> = f.iter().map(|x| x.chunk).collect();
    chunks.sort_unstable();
    chunks.dedup();
    assert_eq!(chunks.len(), 5, "no chunk asked twice");
}

#[test]
fn non_origin_peers_preferred_when_swarming() {
    let mut s = swarm(config(4, 16), &[(1, 8)]);
    s.peer_have(A, song(1), ChunkSet::full(8));
    let f = s.poll_fetch(at(0));
    assert_eq!(f.iter().filter(|x| x.peer == A).count(), 4);
    assert_eq!(f.iter().filter(|x| x.peer == ORIGIN).count(), 4);
    let first_four: Vec<NodeId> = f.iter().take(4).map(|x| x.peer).collect();
    assert_eq!(
        first_four,
        vec![A; 4],
        "the origin is asked only when A is full"
    );
}

#[test]
fn the_origin_gets_fewer_requests_when_swarming() {
    let cfg = SwarmConfig {
        origin_per_peer: 1,
        ..config(4, 16)
    };
    let mut s = swarm(cfg.clone(), &[(1, 8)]);
    assert_eq!(
        s.poll_fetch(at(0)).len(),
        4,
        "alone with the origin, the pipeline is full"
    );
    let mut s = swarm(cfg.clone(), &[(1, 8)]);
    s.peer_connected(A);
    assert_eq!(
        s.poll_fetch(at(0)).len(),
        1,
        "with another box to pass copies on, the origin's queue stays short"
    );
    let mut s = swarm(
        SwarmConfig {
            swarming: false,
            ..cfg
        },
        &[(1, 8)],
    );
    assert_eq!(
        s.poll_fetch(at(0)).len(),
        4,
        "without swarming it is the only source"
    );
}

#[test]
fn swarming_off_asks_only_the_origin() {
    let cfg = SwarmConfig {
        swarming: false,
        ..config(4, 16)
    };
    let mut s = swarm(cfg, &[(1, 8)]);
    s.peer_have(A, song(1), ChunkSet::full(8));
    s.peer_have(B, song(1), ChunkSet::full(8));
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 4);
    assert!(f.iter().all(|x| x.peer == ORIGIN), "{f:?}");
    s.peer_gone(ORIGIN);
    assert!(s.poll_fetch(at(0)).is_empty(), "no origin, no fetch");
}

#[test]
fn peer_gone_requeues_its_requests() {
    let mut s = swarm(config(2, 16), &[(1, 2)]);
    s.peer_have(A, song(1), ChunkSet::full(2));
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|x| x.peer == A));
    s.peer_gone(A);
    assert_eq!(s.in_flight_count(), 0);
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|x| x.peer == ORIGIN));
    // A late answer from the departed peer is not accepted.
    assert_eq!(
        s.chunk_arrived(at(0), A, song(1), 0, true),
        Arrival::Unrequested
    );
    assert_eq!(s.counters().unrequested, 1);
}

#[test]
fn timeout_requeues_and_late_answer_still_counts() {
    let mut s = swarm(config(1, 16), &[(1, 2)]);
    s.peer_have(A, song(1), ChunkSet::full(2));
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 2);
    assert_eq!(s.poll_timeout(), Some(at(10)));
    s.handle_timeout(at(9));
    assert_eq!(s.in_flight_count(), 2, "not yet");
    s.handle_timeout(at(10));
    assert_eq!(s.counters().timeouts, 2);
    assert_eq!(s.poll_timeout(), None);
    let again = s.poll_fetch(at(10));
    assert_eq!(again.len(), 2, "both chunks asked again");
    // The first, late answer to the expired request is still good data.
    let late = f[0];
    assert_eq!(
        s.chunk_arrived(at(11), late.peer, late.song, late.chunk, true),
        Arrival::Stored
    );
    // The re-sent request for that chunk then finds it held.
    let dup = again
        .iter()
        .find(|x| x.chunk == late.chunk)
        .copied()
        .unwrap();
    assert_eq!(
        s.chunk_arrived(at(11), dup.peer, dup.song, dup.chunk, true),
        Arrival::Duplicate
    );
}

#[test]
fn repeated_timeouts_leave_a_peer_one_slot() {
    let mut s = swarm(config(4, 16), &[(1, 8)]);
    s.peer_gone(ORIGIN);
    s.peer_have(A, song(1), ChunkSet::full(8));
    assert_eq!(s.poll_fetch(at(0)).len(), 4);
    s.handle_timeout(at(10));
    assert_eq!(
        s.poll_fetch(at(10)).len(),
        4,
        "one timeout in a row: still 4"
    );
    s.handle_timeout(at(20));
    let f = s.poll_fetch(at(20));
    assert_eq!(f.len(), 1, "flaky peer on probation");
    assert_eq!(
        s.chunk_arrived(at(21), A, song(1), f[0].chunk, true),
        Arrival::Stored
    );
    assert_eq!(s.poll_fetch(at(21)).len(), 4, "answering ends probation");
}

#[test]
fn corrupt_chunk_is_fetched_elsewhere_and_never_from_that_peer() {
    let mut s = swarm(config(1, 16), &[(1, 1)]);
    s.peer_have(A, song(1), ChunkSet::full(1));
    let f = s.poll_fetch(at(0));
    assert_eq!(f[0].peer, A, "non-origin first");
    assert_eq!(
        s.chunk_arrived(at(0), A, song(1), 0, false),
        Arrival::Corrupt
    );
    assert!(!s.local(&song(1)).unwrap().contains(0));
    s.peer_have(A, song(1), ChunkSet::full(1));
    let f = s.poll_fetch(at(0));
    assert_eq!(
        f,
        vec![Fetch {
            peer: ORIGIN,
            song: song(1),
            chunk: 0
        }],
        "A is banned for that chunk even though it claims it again"
    );
    assert_eq!(
        s.chunk_arrived(at(1), ORIGIN, song(1), 0, true),
        Arrival::Completed
    );
    assert_eq!(s.counters().corrupt, 1);
    assert!(s.poll_fetch(at(1)).is_empty());
}

#[test]
fn three_strikes_and_a_peer_is_never_asked() {
    let mut s = swarm(config(4, 16), &[(1, 10)]);
    s.peer_have(A, song(1), ChunkSet::full(10));
    let f = s.poll_fetch(at(0));
    let from_a: Vec<u32> = f.iter().filter(|x| x.peer == A).map(|x| x.chunk).collect();
    assert_eq!(from_a.len(), 4);
    for x in f.iter().filter(|x| x.peer == ORIGIN) {
        assert_eq!(
            s.chunk_arrived(at(0), ORIGIN, song(1), x.chunk, true),
            Arrival::Stored
        );
    }
    for &c in from_a.iter().take(3) {
        assert_eq!(
            s.chunk_arrived(at(0), A, song(1), c, false),
            Arrival::Corrupt
        );
    }
    // The fourth answer was requested and is still accepted; nothing new goes to A.
    assert_eq!(
        s.chunk_arrived(at(0), A, song(1), from_a[3], true),
        Arrival::Stored
    );
    for _ in 0..5 {
        let f = s.poll_fetch(at(0));
        assert!(f.iter().all(|x| x.peer == ORIGIN), "{f:?}");
        for x in f {
            s.chunk_arrived(at(0), x.peer, x.song, x.chunk, true);
        }
    }
    assert!(s.local(&song(1)).unwrap().is_complete());
    // Strikes survive a reconnection.
    s.peer_gone(A);
    s.set_wanted(vec![(manifest(2, 3), ORIGIN)]);
    s.peer_have(A, song(2), ChunkSet::full(3));
    s.peer_gone(ORIGIN);
    assert!(s.poll_fetch(at(0)).is_empty());
}

#[test]
fn bad_lengths_and_unknown_songs_are_ignored() {
    let mut s = swarm(config(4, 16), &[(1, 4)]);
    s.peer_gone(ORIGIN);
    s.peer_have(A, song(1), ChunkSet::full(5));
    s.peer_got(A, song(1), 7);
    s.peer_got(A, song(9), 0);
    assert!(s.poll_fetch(at(0)).is_empty());
    assert_eq!(
        s.chunk_arrived(at(0), A, song(9), 0, true),
        Arrival::Unrequested
    );
    let mut bad = manifest(3, 4);
    bad.chunks.pop();
    s.set_wanted(vec![(bad, ORIGIN)]);
    assert!(s.progress(&song(3)).is_none(), "invalid manifest skipped");
}

#[test]
fn a_have_that_arrives_before_the_pool_is_kept() {
    let mut s = Swarm::new(config(4, 16));
    s.peer_have(ORIGIN, song(1), ChunkSet::full(2));
    s.set_wanted(vec![(manifest(1, 2), ORIGIN)]);
    assert_eq!(s.poll_fetch(at(0)).len(), 2);
}

#[test]
fn dropping_a_song_drops_its_requests_and_keeps_what_is_held() {
    let mut s = swarm(config(4, 16), &[(1, 3), (2, 3)]);
    let f = s.poll_fetch(at(0));
    let c = chunks_of(&f, 1)[0];
    s.chunk_arrived(at(0), ORIGIN, song(1), c, true);
    s.set_wanted(vec![(manifest(2, 3), ORIGIN)]);
    assert_eq!(s.in_flight_count(), 1, "song 1's requests dropped");
    assert_eq!(s.local(&song(1)).map(ChunkSet::count), Some(1));
    let f = s.poll_fetch(at(0));
    assert!(f.iter().all(|x| x.song == song(2)));
    s.forget(&song(1));
    assert!(s.local(&song(1)).is_none());
}

#[test]
fn progress_counts_chunks_and_bytes() {
    let mut s = swarm(config(4, 16), &[(1, 3)]);
    s.set_local(song(1), set(3, [0, 2]));
    let p = s.progress(&song(1)).unwrap();
    assert_eq!(p.chunks_held, 2);
    assert_eq!(p.chunks_total, 3);
    assert_eq!(p.bytes_total, 3 * u64::from(CS) - 100);
    assert_eq!(p.bytes_held, 2 * u64::from(CS) - 100, "last chunk is short");
    let f = s.poll_fetch(at(0));
    assert_eq!(chunks_of(&f, 1), vec![1], "held chunks are not asked");
}

#[test]
fn endgame_asks_a_second_peer_for_the_last_chunks() {
    let cfg = SwarmConfig {
        endgame: true,
        ..config(1, 16)
    };
    let b = NodeId(3);
    let mut s = swarm(cfg.clone(), &[(1, 1)]);
    s.peer_have(A, song(1), ChunkSet::full(1));
    s.peer_have(b, song(1), ChunkSet::full(1));
    let f = s.poll_fetch(at(0));
    assert_eq!(f.len(), 2, "{f:?}");
    assert_ne!(f[0].peer, f[1].peer);
    assert!(
        f.iter().all(|f| f.peer != ORIGIN),
        "no second copy from the origin while others have it: {f:?}"
    );
    assert_eq!(
        s.chunk_arrived(at(0), f[1].peer, song(1), 0, true),
        Arrival::Completed
    );
    assert_eq!(s.in_flight_count(), 0);
    assert_eq!(
        s.chunk_arrived(at(0), f[0].peer, song(1), 0, true),
        Arrival::Duplicate
    );
    let mut s = swarm(cfg, &[(1, 1)]);
    s.peer_have(A, song(1), ChunkSet::full(1));
    assert_eq!(s.poll_fetch(at(0)).len(), 1, "A only: the origin is spared");
}

#[test]
fn held_elsewhere_names_copies_at_other_peers() {
    // The origin's own view: its peers are the boxes fetching from it.
    let b = NodeId(3);
    let mut s = Swarm::new(config(4, 16));
    s.set_wanted(vec![(manifest(1, 8), ORIGIN)]);
    s.peer_connected(A);
    s.peer_connected(b);
    s.peer_have(A, song(1), set(8, [2]));
    assert!(s.held_elsewhere(&song(1), 2, b), "b can get chunk 2 from A");
    assert!(
        !s.held_elsewhere(&song(1), 2, A),
        "A's own copy does not count for A"
    );
    assert!(
        !s.held_elsewhere(&song(1), 3, b),
        "nobody holds chunk 3 yet"
    );
}
