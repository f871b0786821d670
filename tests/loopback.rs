//! Real `chorus run` processes on loopback find each other and notice a killed box.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{neighbour_names, start, status, test_port, wait_for, BIN};

#[test]
fn three_boxes_see_each_other_and_a_killed_box_disappears() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_port(1);
    let mut boxes: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| start(dir.path(), n, port, &[]))
        .collect();
    let all_ready = wait_for(Duration::from_secs(10), || {
        boxes.iter().all(|b| status(&b.state).is_some())
    });
    assert!(all_ready.is_some(), "boxes did not start");
    let started = Instant::now();
    let found = wait_for(Duration::from_secs(10), || {
        neighbour_names(&boxes[0].state) == ["b", "c"]
            && neighbour_names(&boxes[1].state) == ["a", "c"]
            && neighbour_names(&boxes[2].state) == ["a", "b"]
    });
    let took = found.expect("boxes never listed each other");
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "discovery took {took:?} (> 3 s)"
    );
    let json = status(&boxes[0].state).unwrap();
    assert_eq!(json.name, "a");
    assert!(json.party.is_none());
    assert!(json
        .neighbours
        .iter()
        .all(|n| n.addr.starts_with("127.0.0.1:")));

    let mut killed = boxes.pop().unwrap();
    killed.kill();
    let killed_at = Instant::now();
    let gone = wait_for(Duration::from_secs(10), || {
        neighbour_names(&boxes[0].state) == ["b"] && neighbour_names(&boxes[1].state) == ["a"]
    });
    assert!(gone.is_some(), "killed box never disappeared");
    assert!(
        killed_at.elapsed() <= Duration::from_secs(5),
        "killed box took {:?} to disappear (> 5 s)",
        killed_at.elapsed()
    );
}

#[test]
fn status_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), "solo", test_port(2), &[]);
    assert!(wait_for(Duration::from_secs(10), || status(&b.state).is_some()).is_some());
    let out = Command::new(BIN)
        .args(["ctl", "status", "--json", "--state-dir"])
        .arg(&b.state)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"].as_str().unwrap().len(), 16);
    assert_eq!(v["name"], "solo");
    assert!(v["neighbours"].as_array().unwrap().is_empty());
    assert!(v["party"].is_null());
    // The id is persisted: it matches the state dir's id file.
    let id = std::fs::read_to_string(b.state.join("id")).unwrap();
    assert_eq!(v["id"].as_str().unwrap(), id.trim());
}

#[test]
fn invalid_config_exits_2_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[discovery]\nbeacon_interval_ms = \"soon\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("beacon_interval_ms"), "{err}");
}

#[test]
fn ctl_without_a_running_box_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["ctl", "status", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no chorus box is running"), "{err}");
}

#[test]
fn a_second_box_on_the_same_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_port(3);
    let first = start(dir.path(), "one", port, &[]);
    assert!(wait_for(Duration::from_secs(10), || status(&first.state).is_some()).is_some());
    let out = Command::new(BIN)
        .args([
            "run",
            "--unicast-port",
            "0",
            "--interface",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--config")
        .arg(dir.path().join("empty.toml"))
        .arg("--state-dir")
        .arg(&first.state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
    assert!(
        status(&first.state).is_some(),
        "the first box still answers"
    );
}

#[test]
fn sigterm_shuts_down_cleanly_and_removes_the_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = start(dir.path(), "quitter", test_port(4), &[]);
    assert!(wait_for(Duration::from_secs(10), || status(&b.state).is_some()).is_some());
    let sock = b.state.join("control.sock");
    assert!(sock.exists());
    let pid = b.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exited = wait_for(Duration::from_secs(5), || {
        matches!(b.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited.is_some(), "the box did not stop on SIGTERM");
    assert_eq!(b.child.wait().unwrap().code(), Some(0));
    assert!(!sock.exists(), "the control socket is removed on shutdown");
}

#[test]
fn ctl_library_lists_the_music_folder_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("album")).unwrap();
    let song = music.join("album/tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&song, spec).unwrap();
    for i in 0..8_000 {
        w.write_sample(((i % 40) * 500) as i16).unwrap();
    }
    w.finalize().unwrap();
    std::fs::write(music.join("notes.txt"), "not a song").unwrap();
    let b = start(
        dir.path(),
        "lib",
        test_port(5),
        &["--music", music.to_str().unwrap()],
    );
    let mut listed = String::new();
    let found = wait_for(Duration::from_secs(10), || {
        let out = Command::new(BIN)
            .args(["ctl", "library", "--json", "--state-dir"])
            .arg(&b.state)
            .output()
            .unwrap();
        listed = String::from_utf8_lossy(&out.stdout).into_owned();
        out.status.success()
    });
    assert!(found.is_some(), "library never answered");
    let songs: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(songs.len(), 1, "{listed}");
    let (id, _) = chorus::library::SongId::of_file(&song).unwrap();
    assert_eq!(songs[0]["id"], id.to_string());
    assert_eq!(songs[0]["title"], "tone");
}
