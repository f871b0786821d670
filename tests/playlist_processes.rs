//! A real host started with `chorus ctl host --playlist` on loopback: it offers exactly
//! the playlist's songs, in its order, says which entries it skipped, and a member shows
//! the playlist's name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chorus::library::SongId;
use common::audio::write_song;
use common::{box_config, ctl, neighbour_names, start_with, status, test_port, wait_for};

/// The content hash `chorus ctl status` names a song by.
fn id_of(path: &Path) -> String {
    SongId::of_bytes(&std::fs::read(path).unwrap()).to_string()
}

/// `ROOT/music` with songs a to d and two playlists, `lists/Road Trip.m3u8` (c, a, d and
/// three entries that do not play) and `Quiet.pls` (b); a fifth song lies outside it.
fn music_with_playlists(root: &Path) -> PathBuf {
    let music = root.join("music");
    std::fs::create_dir_all(music.join("lists")).unwrap();
    // Four different songs (different numbers of bursts), one more outside the folder.
    for (name, bursts) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
        write_song(&music.join(format!("{name}.wav")), bursts);
    }
    write_song(&root.join("outside.wav"), 5);
    std::fs::write(
        music.join("lists/Road Trip.m3u8"),
        "\u{FEFF}#EXTM3U\r\n#EXTINF:4,C\r\n../c.wav\r\n../a.wav\r\n../missing.wav\r\n\
         ../../outside.wav\r\n../d.wav\r\n../c.wav\r\n",
    )
    .unwrap();
    std::fs::write(music.join("Quiet.pls"), "[playlist]\nFile1=b.wav\n").unwrap();
    music
}

#[test]
fn a_host_plays_its_playlist_in_order_and_every_box_shows_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let music = music_with_playlists(root);
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let port = test_port(31);
    let host_cfg = box_config(root, "h", &music, "null", "min_accepts = 1", "");
    let member_cfg = box_config(root, "m", &empty, "null", "", "");
    let host = start_with(root, "h", port, &host_cfg, &[]);
    let member = start_with(root, "m", port, &member_cfg, &[]);
    let found = wait_for(Duration::from_secs(15), || {
        neighbour_names(&host.state).len() == 1 && neighbour_names(&member.state).len() == 1
    });
    assert!(found.is_some(), "boxes did not find each other");

    // The library lists the playlists once the folder is scanned.
    let mut listing = String::new();
    let scanned = wait_for(Duration::from_secs(20), || {
        let (ok, out, _) = ctl(&host.state, &["library"]);
        listing = out;
        ok
    });
    assert!(scanned.is_some(), "the music folder was never scanned");
    assert!(listing.contains("playlist Quiet: 1 song\n"), "{listing}");
    assert!(
        listing.contains("playlist Road Trip: 3 songs, 3 entries skipped"),
        "{listing}"
    );

    let (ok, _, err) = ctl(&host.state, &["host", "--playlist", "Loud"]);
    assert!(!ok, "an unknown playlist is refused");
    assert!(err.contains("available: Quiet, Road Trip"), "{err}");
    assert!(
        status(&host.state).unwrap().party.is_none(),
        "no party made"
    );

    let (ok, out, err) = ctl(&host.state, &["host", "--playlist", "road trip"]);
    assert!(ok, "{out} {err}");
    assert!(out.contains("\"Road Trip\": 3 songs"), "{out}");
    let playlist = status(&host.state)
        .unwrap()
        .playlist
        .expect("the host's playlist");
    assert_eq!(playlist.name, "Road Trip");
    let skipped: Vec<&str> = playlist.skipped.iter().map(|s| s.entry.as_str()).collect();
    assert_eq!(skipped, ["../missing.wav", "../../outside.wav", "../c.wav"]);

    let invited = wait_for(Duration::from_secs(10), || {
        status(&member.state).is_some_and(|s| !s.invitations.is_empty())
    });
    assert!(invited.is_some(), "the member was never invited");
    let (ok, out, err) = ctl(&member.state, &["join"]);
    assert!(ok, "{out} {err}");

    // What the member plays, song after song, until the pool runs out.
    let expected: Vec<String> = ["c", "a", "d"]
        .iter()
        .map(|n| id_of(&music.join(format!("{n}.wav"))))
        .collect();
    let mut heard: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let done = wait_for(Duration::from_secs(60), || {
        let Some(s) = status(&member.state) else {
            return false;
        };
        names.extend(s.playlist.map(|p| p.name));
        let song = s.playback.and_then(|p| p.song);
        if let Some(song) = song.filter(|song| heard.last() != Some(song)) {
            heard.push(song);
        }
        heard.len() >= expected.len() && names.len() > 1
    });
    assert!(done.is_some(), "heard {heard:?}, expected {expected:?}");
    assert_eq!(heard, expected, "the member plays the playlist's order");
    assert!(names.iter().all(|n| n == "Road Trip"), "{names:?}");
    let (_, text, _) = ctl(&member.state, &["status"]);
    assert!(text.contains("playlist Road Trip"), "{text}");
}
