//! Real `chorus run` processes on loopback with a party key: two boxes with the key form
//! a party and the guest fetches its song; a box without a key and one with another key
//! never see the party, cannot join it, and cannot open a session with its boxes (nor
//! can a stranger holding a member's identity key without the party key); the keyed
//! boxes count their datagrams as dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chorus::core::PartyRole;
use chorus::identity::Identity;
use chorus::net::noise::Keys;
use chorus::party_key::PartyKey;
use common::session::handshake;
use common::{
    ctl, first_song_fetched, host_and_join, neighbour_names, start_with, status, test_port,
    wait_for, BoxProc,
};

const KEY: &str = "our living room party 2026";
const OTHER_KEY: &str = "a different party's secret";

/// `DIR/NAME.toml`: the party key (if any), music from `music`, silent output, a party
/// that starts with one guest, transfers on a free port.
fn config(dir: &Path, name: &str, key: Option<&str>, music: &Path) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let key = key.map_or(String::new(), |k| format!("party_key = {k:?}\n"));
    let text = format!(
        "{key}music_dir = {:?}\n[audio]\noutput = \"null\"\n[party]\nmin_accepts = 1\n\
         [songs]\nbulk_port = 0\n",
        music.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start_box(dir: &Path, name: &str, key: Option<&str>, music: &Path, port: u16) -> BoxProc {
    start_with(dir, name, port, &config(dir, name, key, music), &[])
}

/// Whether a box with `keys` finishes a session handshake on `port` of this machine.
fn session_opens(port: u16, keys: &Keys) -> bool {
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    handshake(socket, keys, true).is_some()
}

fn keys(key: Option<&str>) -> Keys {
    keys_of(&Identity::generate(), key)
}

fn keys_of(identity: &Identity, key: Option<&str>) -> Keys {
    let key = key.map(|k| PartyKey::derive(k).unwrap());
    Keys::new(identity).unwrap().keyed(key.as_ref())
}

#[test]
fn strangers_without_the_key_can_do_nothing_to_a_keyed_party() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let music = d.join("music");
    std::fs::create_dir_all(&music).unwrap();
    common::audio::write_song(&music.join("song.wav"), 1);
    let empty = d.join("no-music");
    std::fs::create_dir_all(&empty).unwrap();
    let port = test_port(51);
    let host = start_box(d, "host", Some(KEY), &music, port);
    let guest = start_box(d, "guest", Some(KEY), &empty, port);
    let open = start_box(d, "open", None, &empty, port);
    let wrong = start_box(d, "wrong", Some(OTHER_KEY), &empty, port);

    let met = wait_for(Duration::from_secs(20), || {
        neighbour_names(&host.state) == ["guest"] && neighbour_names(&guest.state) == ["host"]
    });
    assert!(met.is_some(), "the keyed boxes did not find each other");
    let party = host_and_join(&[&host, &guest]);
    let fetched = wait_for(Duration::from_secs(20), || {
        let member = status(&guest.state)
            .and_then(|s| s.party)
            .is_some_and(|p| p.id == party && p.role == PartyRole::Member);
        member && first_song_fetched(&guest.state)
    });
    assert!(
        fetched.is_some(),
        "the guest did not join and fetch the song"
    );

    for stranger in [&open, &wrong] {
        let s = status(&stranger.state).unwrap();
        assert!(
            s.neighbours.is_empty(),
            "{} sees {:?}",
            stranger.name,
            s.neighbours
        );
        assert!(s.invitations.is_empty(), "{} was invited", stranger.name);
        let (ok, out, err) = ctl(&stranger.state, &["join"]);
        assert!(!ok, "{} joined: {out}", stranger.name);
        assert!(!err.is_empty(), "the refusal says why");
        assert!(s.party.is_none());
        assert!(
            s.counters.wrong_key > 0,
            "{} dropped nothing",
            stranger.name
        );
    }
    let host_status = status(&host.state).unwrap();
    assert!(host_status.keyed && !status(&open.state).unwrap().keyed);
    assert!(host_status.counters.wrong_key > 0, "the strangers' beacons");
    assert_eq!(
        host_status.party.as_ref().map(|p| p.members.len()),
        Some(2),
        "no stranger in the party"
    );

    // Sessions: the host's control and transfer ports admit only the key's holders.
    let control = common::host_control_port(host_status.party.as_ref().unwrap());
    let bulk = host_status.bulk_port;
    let failed_before = host_status.sessions.handshake_failed;
    // A stranger that stole the guest's identity key, but not the party key.
    let stolen = chorus::identity::load_or_create(&guest.state).unwrap();
    for port in [control, bulk] {
        assert!(!session_opens(port, &keys(None)), "no key on port {port}");
        assert!(!session_opens(port, &keys(Some(OTHER_KEY))), "wrong key");
        assert!(!session_opens(port, &keys_of(&stolen, None)), "stolen id");
        assert!(
            session_opens(port, &keys(Some(KEY))),
            "the key opens {port}"
        );
    }
    let failed = status(&host.state).unwrap().sessions.handshake_failed;
    assert!(failed >= failed_before + 6, "{failed_before} -> {failed}");
}
