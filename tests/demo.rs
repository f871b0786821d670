//! The README's demo command works: boxes find each other, form a party, the boxes without
//! music fetch box-1's, all play it in step, and the demo says how far apart their
//! recordings are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{test_port, BIN};

#[test]
fn demo_forms_a_party_and_plays_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--duration", "8", "--boxes", "3", "--port"])
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
    for name in [
        "Loopback Lullaby.wav",
        "Multicast March.wav",
        "Phi Accrual Polka.wav",
    ] {
        assert!(dir.path().join("music").join(name).exists());
    }
}
