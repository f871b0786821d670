//! A hostile box in the party: it claims to hold every chunk, answers requests with
//! garbage and pushes a manifest full of paths. The honest member discards the garbage,
//! fetches those chunks from the host, ends with the exact song, and writes nothing
//! outside its cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::audio::write_song;
use common::{
    box_config, ctl, first_song_fetched, neighbour_names, start_with, status, test_port, wait_for,
};

use chorus::core::transfer::manifest::chunk_size_for;
use chorus::core::transfer::{Manifest, Tags};
use chorus::core::NodeId;
use chorus::net::noise::Keys;
use chorus::proto::{Bulk, Control, Hello, Message, PartyId};
use common::session::{handshake, keys_above, Wire};

fn config(dir: &Path, name: &str, music: &Path, extra: &str) -> std::path::PathBuf {
    let party = "min_accepts = 2\nstart_wait_ms = 1000";
    box_config(dir, name, music, "null", party, extra)
}

/// Joins the party as the box of `keys` through the host's control port, announcing
/// `bulk_port` for song transfers, and keeps the membership alive with heartbeats.
fn join_as(keys: &Keys, host_port: u16, party_id: PartyId, term: u64, bulk_port: u16) {
    let control = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    let (mut reader, mut writer) = handshake(control, keys, true).expect("host handshake");
    let hello = Hello {
        id: keys.id(),
        name: "evil".into(),
        control_port: 1,
        bulk_port,
    };
    writer
        .send(&Message::Control(Control::Hello(hello)))
        .unwrap();
    let join = Control::Join {
        party: party_id,
        term,
    };
    writer.send(&Message::Control(join)).unwrap();
    std::thread::spawn(move || loop {
        let hb = Message::Control(Control::Heartbeat {
            party: party_id,
            term,
        });
        if writer.send(&hb).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    });
    std::thread::spawn(move || while reader.recv().is_some() {});
}

/// Fails if any file or folder under `root` has `word` in its name.
fn assert_nothing_named(root: &Path, word: &str) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            assert!(
                !e.file_name().to_string_lossy().contains(word),
                "{:?}",
                e.path()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

/// The id of the box at `state`, once it runs.
fn id_of(state: &Path) -> NodeId {
    let up = wait_for(Duration::from_secs(10), || status(state).is_some());
    assert!(up.is_some());
    NodeId(u64::from_str_radix(&status(state).unwrap().id, 16).unwrap())
}

/// Once the box at `state` hosts: its party, term and control port.
fn hosted_party(state: &Path) -> (PartyId, u64, u16) {
    let party = wait_for(Duration::from_secs(10), || {
        status(state).and_then(|s| s.party).is_some()
    });
    assert!(party.is_some());
    let s = status(state).unwrap().party.unwrap();
    let party_id = PartyId(u64::from_str_radix(&s.id, 16).unwrap());
    let host_port = common::host_control_port(&s);
    (party_id, s.term, host_port)
}

/// Lies to every box that connects to `listener`; counts the requests answered.
fn lie_to_all(
    listener: TcpListener,
    evil: Keys,
    party: PartyId,
    manifest: Manifest,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for peer in listener.incoming() {
            let (Ok(peer), m, count) = (peer, manifest.clone(), count.clone()) else {
                continue;
            };
            let keys = evil.clone();
            std::thread::spawn(move || lie_to(peer, &keys, party, &m, &count));
        }
    });
    answered
}

#[test]
fn garbage_chunks_are_refetched_and_peer_names_never_become_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = test_port(33);
    let (music_a, music_b) = (d.join("music-a"), d.join("music-b"));
    std::fs::create_dir_all(&music_a).unwrap();
    std::fs::create_dir_all(&music_b).unwrap();
    write_song(&music_a.join("song.wav"), 40); // about 2 MB: 8 chunks
    let song = std::fs::read(music_a.join("song.wav")).unwrap();
    let manifest: Manifest = Manifest::from_reader(
        &song[..],
        chunk_size_for(song.len() as u64),
        Tags::default(),
    )
    .unwrap();
    // The host sends slowly, so the member asks the (fast, lying) third box first.
    let a_cfg = config(d, "a", &music_a, "upload_limit_kbps = 8000");
    let b_cfg = config(d, "b", &music_b, "");
    let a = start_with(d, "a", port, &a_cfg, &[]);
    let b = start_with(d, "b", port, &b_cfg, &[]);
    assert!(
        wait_for(Duration::from_secs(15), || neighbour_names(&b.state).len()
            == 1)
        .is_some()
    );
    let (ok, out, err) = ctl(&a.state, &["host"]);
    assert!(ok, "{out} {err}");
    let (party_id, term, host_port) = hosted_party(&a.state);

    // The hostile box joins through the host's control port, with the highest id so the
    // honest member dials its bulk port.
    let evil_bulk = TcpListener::bind("127.0.0.1:0").unwrap();
    let evil = keys_above(&[id_of(&a.state), id_of(&b.state)]);
    join_as(
        &evil,
        host_port,
        party_id,
        term,
        evil_bulk.local_addr().unwrap().port(),
    );

    let (ok, out, err) = ctl(&b.state, &["join"]);
    assert!(ok, "{out} {err}");
    // Every box of the party dials the hostile one (its id is the highest): each gets
    // the same treatment.
    let answered = lie_to_all(evil_bulk, evil, party_id, manifest);
    let asked = wait_for(Duration::from_secs(20), || {
        answered.load(std::sync::atomic::Ordering::SeqCst) > 0
    });
    assert!(asked.is_some(), "the member never asked the hostile box");
    let done = wait_for(Duration::from_secs(30), || first_song_fetched(&b.state));
    assert!(
        done.is_some(),
        "{:?}",
        status(&b.state).map(|s| s.transfers)
    );
    let st = status(&b.state).unwrap();
    let corrupt = st.storage.unwrap().corrupt_chunks;
    assert!(corrupt >= 1, "garbage chunks were counted: {corrupt}");
    let id = blake3::hash(&song).to_hex().to_string();
    let cached = b.state.join("cache/songs").join(format!("{id}.wav"));
    assert_eq!(
        std::fs::read(cached).unwrap(),
        song,
        "exact bytes despite the garbage"
    );
    // Nothing named after the lie exists anywhere.
    assert_nothing_named(d, "evil");
    assert!(!Path::new("/tmp/evil").exists());
}

/// The hostile box's side of one bulk connection: claim every chunk, push a manifest
/// whose names are paths, answer every request with garbage.
fn lie_to(
    peer: TcpStream,
    evil: &Keys,
    party: PartyId,
    manifest: &Manifest,
    answered: &std::sync::atomic::AtomicUsize,
) {
    let Some((mut reader, mut peer)) = handshake(peer, evil, false) else {
        return;
    };
    let send = |peer: &mut Wire, msg: &Message| {
        let _ = peer.send(msg);
    };
    if !matches!(reader.recv(), Some(Message::Bulk(Bulk::Hello { .. }))) {
        return;
    }
    let id = evil.id();
    send(&mut peer, &Message::Bulk(Bulk::Hello { id, party }));
    let all = chorus::core::transfer::ChunkSet::full(manifest.chunk_count());
    send(
        &mut peer,
        &Message::Bulk(Bulk::Have {
            song: manifest.song,
            chunks: all.len(),
            bits: all.bits().to_vec(),
        }),
    );
    let mut lie = manifest.clone();
    lie.title = "../../../../evil".into();
    lie.artist = Some("/tmp/evil".into());
    send(
        &mut peer,
        &Message::Bulk(Bulk::Manifest(Box::new((&lie).into()))),
    );
    while let Some(msg) = reader.recv() {
        if let Message::Bulk(Bulk::Request { song, chunk }) = msg {
            let data = vec![0x55u8; manifest.chunk_len(chunk)].into();
            send(&mut peer, &Message::Bulk(Bulk::Chunk { song, chunk, data }));
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// A stranger opens many connections to the host's transfer port and never says hello:
/// they are refused past a small bound or closed after the hello timeout, and the real
/// member still gets the song.
#[test]
fn idle_connections_cannot_crowd_out_the_party() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = test_port(35);
    let (music_a, music_b) = (d.join("music-a"), d.join("music-b"));
    std::fs::create_dir_all(&music_a).unwrap();
    std::fs::create_dir_all(&music_b).unwrap();
    write_song(&music_a.join("song.wav"), 10);
    let a = start_with(d, "a", port, &config(d, "a", &music_a, ""), &[]);
    let b = start_with(d, "b", port, &config(d, "b", &music_b, ""), &[]);
    let bulk = wait_for(Duration::from_secs(5), || status(&a.state).is_some())
        .and_then(|_| status(&a.state))
        .unwrap()
        .bulk_port;
    assert_ne!(bulk, 0);
    // Idle sockets, opened while the host is in its party: connected, silent, kept open.
    let (ok, out, err) = ctl(&a.state, &["host"]);
    assert!(ok, "{out} {err}");
    let idle: Vec<TcpStream> = (0..64)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", bulk)).ok())
        .collect();
    assert!(!idle.is_empty());
    assert!(wait_for(Duration::from_secs(10), || {
        status(&b.state).is_some_and(|s| !s.invitations.is_empty())
    })
    .is_some());
    let (ok, out, err) = ctl(&b.state, &["join"]);
    assert!(ok, "{out} {err}");
    let done = wait_for(Duration::from_secs(30), || first_song_fetched(&b.state));
    assert!(
        done.is_some(),
        "{:?}",
        status(&b.state).map(|s| s.transfers)
    );
    // The host closed every idle socket: at once past the bound, the rest after the
    // 5 s hello timeout (checked on its 200 ms tick).
    std::thread::sleep(Duration::from_secs(6));
    let open = idle
        .into_iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut buf = [0u8; 1];
            match (&*s).read(&mut buf) {
                Ok(0) => false,
                Err(e) => matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                Ok(_) => true,
            }
        })
        .count();
    assert_eq!(open, 0, "{open} idle connections are still open");
    assert!(status(&a.state).is_some(), "the host still answers");
}
