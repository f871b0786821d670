//! The README's demo command works: boxes find each other, form a party, the boxes without
//! music fetch box-1's bundled songs, all play in step, the host goes through every song
//! (one per format), and the demo says how far apart the boxes' recordings are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{test_port, BIN};

#[test]
fn demo_forms_a_party_and_plays_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "demo",
            "--duration",
            "18",
            "--tour",
            "2",
            "--boxes",
            "3",
            "--port",
        ])
        .arg(test_port(31).to_string())
        .arg("--dir")
        .arg(dir.path())
        .env("CHORUS_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("hosting party"), "{stdout}");
    assert!(
        stdout.contains("every box has the song and plays it"),
        "{stdout}"
    );
    assert!(
        stdout.contains("every box played the same tune"),
        "{stdout}"
    );
    for other in ["box-2", "box-3"] {
        let songs = dir.path().join(other).join("cache/songs");
        let fetched = std::fs::read_dir(&songs).map_or(0, |d| d.count());
        assert!(fetched >= 1, "{other} fetched the first song: {stdout}");
        let own = dir.path().join(other).join("music");
        assert_eq!(std::fs::read_dir(own).unwrap().count(), 0);
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("music");
    let mut songs: Vec<_> = std::fs::read_dir(&bundled)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    songs.sort();
    let mut titles = Vec::new();
    for path in songs {
        let copy = dir.path().join("music").join(path.file_name().unwrap());
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&path).unwrap());
        // "01 Loopback Lullaby.flac" has the title tag "Loopback Lullaby".
        let stem = path.file_stem().unwrap().to_str().unwrap();
        titles.push(stem.split_once(' ').unwrap().1.to_owned());
    }
    assert_eq!(titles.len(), 5, "{titles:?}");
    // Every format was played, in folder order.
    let mut played = Vec::new();
    for line in stdout.lines() {
        if let Some(title) = line.strip_prefix("box-1 plays ") {
            played.push(title.trim_matches('"').to_owned());
        }
    }
    assert!(stdout.contains("songs played: 5 of 5"), "{stdout}");
    assert_eq!(played, titles, "{stdout}");
}
