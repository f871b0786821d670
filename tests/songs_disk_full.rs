//! A box whose disk is full cannot fetch the song: it says so in its status, stays in the
//! party, follows the schedule silently, and the others play on. Needs root (a 1 MiB
//! tmpfs holds that box's state dir); prints why it skipped otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::audio::write_song;
use common::{box_config, host_and_join, neighbour_names, start_with, status, test_port, wait_for};

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tiny_tmpfs(at: &Path) -> Option<Mount> {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mount(at.to_path_buf()))
}

fn config(dir: &Path, name: &str, music: &Path) -> std::path::PathBuf {
    let party = "min_accepts = 1\nstart_wait_ms = 2000";
    box_config(dir, name, music, "null", party, "")
}

#[test]
fn a_full_disk_is_reported_and_the_party_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The box's state dir (and so its cache) lives on a 1 MiB file system.
    let Some(_mount) = mount_tiny_tmpfs(&d.join("b")) else {
        eprintln!("skipped: mounting a tmpfs needs root (this test runs in CI as root)");
        return;
    };
    let (music_a, music_b) = (d.join("music-a"), d.join("music-b"));
    std::fs::create_dir_all(&music_a).unwrap();
    std::fs::create_dir_all(&music_b).unwrap();
    write_song(&music_a.join("big.wav"), 40); // about 2 MB
    let port = test_port(34);
    let a = start_with(d, "a", port, &config(d, "a", &music_a), &[]);
    let b = start_with(d, "b", port, &config(d, "b", &music_b), &[]);
    let seen = wait_for(Duration::from_secs(15), || {
        !neighbour_names(&b.state).is_empty()
    });
    assert!(seen.is_some(), "the boxes did not find each other");
    host_and_join(&[&a, &b]);
    let reported = wait_for(Duration::from_secs(15), || {
        status(&b.state)
            .and_then(|s| s.storage)
            .is_some_and(|st| st.error.is_some_and(|e| e.contains("disk full")))
    });
    assert!(
        reported.is_some(),
        "{:?}",
        status(&b.state).map(|s| (s.storage, s.transfers))
    );
    // The host stops waiting for it after start_wait and plays; b follows silently.
    let playing = wait_for(Duration::from_secs(10), || {
        let host = status(&a.state).and_then(|s| s.playback);
        let member = status(&b.state).and_then(|s| s.playback);
        host.is_some_and(|p| p.state == "playing" && !p.missing_song)
            && member.is_some_and(|p| p.state == "playing" && p.missing_song)
    });
    assert!(playing.is_some(), "the party plays on without the full box");
    let s = status(&b.state).unwrap();
    assert_eq!(
        s.party.unwrap().members.len(),
        2,
        "the full box stays in the party"
    );
    let t = &s.transfers[0];
    assert_eq!(t.state, "failed", "{t:?}");
    // Nothing half-written is left where songs are played from.
    let songs = b.state.join("cache/songs");
    assert_eq!(std::fs::read_dir(songs).map_or(0, |d| d.count()), 0);
}
