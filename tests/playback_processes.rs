//! Three real boxes on loopback play one song into paced WAV sinks; the recordings, put on
//! the monotonic clock, start together and stay together, and pause acts on all at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::audio::{burst_onsets, spread, write_song};
use common::{ctl, neighbour_names, start_with, status, test_port, wait_for, BoxProc};

const BURSTS: usize = 6;

fn playback_state(b: &BoxProc) -> Option<String> {
    status(&b.state).and_then(|s| s.playback).map(|p| p.state)
}

/// The tests of this file each run three boxes that play in real time; on a small machine
/// they must not also compete with each other for the CPU.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Three boxes with identical music and WAV outputs, in one party hosted by the first,
/// with every member's clock locked.
fn party_of_three(dir: &Path, port: u16, bursts: usize) -> (Vec<BoxProc>, Vec<PathBuf>) {
    let mut boxes = Vec::new();
    let mut recordings: Vec<PathBuf> = Vec::new();
    for name in ["a", "b", "c"] {
        let music = dir.join(format!("music-{name}"));
        std::fs::create_dir_all(&music).unwrap();
        write_song(&music.join("bursts.wav"), bursts);
        let wav = dir.join(format!("{name}.wav"));
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "music_dir = {:?}\n[audio]\noutput = \"wav:{}\"\n",
                music.display().to_string(),
                wav.display()
            ),
        )
        .unwrap();
        boxes.push(start_with(dir, name, port, &config, &[]));
        recordings.push(wav);
    }
    let found = wait_for(Duration::from_secs(15), || {
        boxes.iter().all(|b| neighbour_names(&b.state).len() == 2)
    });
    assert!(found.is_some(), "boxes did not find each other");
    let (ok, out, err) = ctl(&boxes[0].state, &["host"]);
    assert!(ok, "{out} {err}");
    for b in &boxes[1..] {
        assert!(wait_for(Duration::from_secs(10), || {
            status(&b.state).is_some_and(|s| !s.invitations.is_empty())
        })
        .is_some());
        let (ok, out, err) = ctl(&b.state, &["join"]);
        assert!(ok, "{out} {err}");
    }
    // Members are ready once their clock locked onto the host's.
    let locked = wait_for(Duration::from_secs(15), || {
        boxes
            .iter()
            .all(|b| playback_state(b).is_some_and(|s| s != "unsynced"))
    });
    assert!(
        locked.is_some(),
        "clocks never locked: {:?}",
        boxes.iter().map(playback_state).collect::<Vec<_>>()
    );
    (boxes, recordings)
}

/// Every recording has all the bursts, each within 1 ms of the other boxes'.
fn assert_bursts_in_lock_step(recordings: &[PathBuf]) {
    let onsets: Vec<Vec<f64>> = recordings.iter().map(|w| burst_onsets(w)).collect();
    for (i, o) in onsets.iter().enumerate() {
        assert_eq!(
            o.len(),
            BURSTS,
            "box {i} recorded {} bursts: {o:?}",
            o.len()
        );
    }
    let mut worst: f64 = 0.0;
    for burst in 0..BURSTS {
        let times: Vec<f64> = onsets.iter().map(|o| o[burst]).collect();
        let spread = times.iter().cloned().fold(f64::MIN, f64::max)
            - times.iter().cloned().fold(f64::MAX, f64::min);
        worst = worst.max(spread);
        eprintln!(
            "burst {burst}: spread {:.1} us; b-a {:.1} us, c-a {:.1} us",
            spread / 1e3,
            (times[1] - times[0]) / 1e3,
            (times[2] - times[0]) / 1e3
        );
    }
    for burst in 0..BURSTS {
        let times: Vec<f64> = onsets.iter().map(|o| o[burst]).collect();
        let spread = times.iter().cloned().fold(f64::MIN, f64::max)
            - times.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread < 1e6,
            "burst {burst} spread {:.3} ms > 1 ms",
            spread / 1e6
        );
    }
    eprintln!("worst spread across boxes: {:.1} us", worst / 1e3);
}

#[test]
fn three_boxes_play_one_song_in_lock_step_and_pause_together() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (mut boxes, recordings) = party_of_three(dir.path(), test_port(21), BURSTS);
    for b in &boxes {
        eprintln!(
            "{} playback {:?}",
            b.name,
            status(&b.state).and_then(|s| s.playback)
        );
    }
    let (ok, out, err) = ctl(&boxes[1].state, &["play"]);
    assert!(ok, "a member's play request is accepted: {out} {err}");
    // The bursts end 3.2 s into the song; pause in the silent tail after them.
    std::thread::sleep(Duration::from_millis(3_600));
    let playing = boxes
        .iter()
        .all(|b| playback_state(b).as_deref() == Some("playing"));
    assert!(
        playing,
        "{:?}",
        boxes.iter().map(playback_state).collect::<Vec<_>>()
    );
    for b in &boxes {
        eprintln!(
            "{} playback {:?}",
            b.name,
            status(&b.state).and_then(|s| s.playback)
        );
    }
    let all_reach = |who: usize, command: &str, state: &str| {
        let (ok, out, err) = ctl(&boxes[who].state, &[command]);
        assert!(ok, "{out} {err}");
        wait_for(Duration::from_secs(2), || {
            boxes
                .iter()
                .all(|b| playback_state(b).as_deref() == Some(state))
        })
        .is_some()
    };
    assert!(
        all_reach(0, "pause", "paused"),
        "pause did not reach every box"
    );
    assert!(
        all_reach(2, "resume", "playing"),
        "resume did not reach every box"
    );
    // One song in the pool: skipping past it starts it over. Paused, every box then
    // holds at its start (and records no second round of bursts).
    assert!(
        all_reach(0, "pause", "paused"),
        "pause did not reach every box"
    );
    let (ok, out, err) = ctl(&boxes[1].state, &["skip"]);
    assert!(ok, "{out} {err}");
    let at_start = wait_for(Duration::from_secs(2), || {
        boxes.iter().all(|b| {
            status(&b.state)
                .and_then(|s| s.playback)
                .is_some_and(|p| p.state == "paused" && p.position_ms == Some(0))
        })
    });
    assert!(at_start.is_some(), "skip did not reach every box");
    for b in &mut boxes {
        b.terminate();
    }

    assert_bursts_in_lock_step(&recordings);
}

#[test]
fn the_music_keeps_playing_when_the_host_dies() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let bursts = 12;
    let (mut boxes, recordings) = party_of_three(dir.path(), test_port(22), bursts);
    let (ok, out, err) = ctl(&boxes[0].state, &["play"]);
    assert!(ok, "{out} {err}");
    std::thread::sleep(Duration::from_millis(2_300));
    boxes[0].kill();
    let successor = wait_for(Duration::from_secs(5), || {
        boxes[1..].iter().any(|b| {
            status(&b.state)
                .and_then(|s| s.party)
                .is_some_and(|p| p.role == chorus::core::PartyRole::Host)
        })
    });
    assert!(successor.is_some(), "no successor");
    // The bursts end 6.2 s into the song.
    std::thread::sleep(Duration::from_millis(4_500));
    for b in &mut boxes[1..] {
        b.terminate();
    }
    let onsets: Vec<Vec<f64>> = recordings[1..].iter().map(|w| burst_onsets(w)).collect();
    for (i, o) in onsets.iter().enumerate() {
        assert_eq!(
            o.len(),
            bursts,
            "survivor {i} recorded {} bursts: {o:?}",
            o.len()
        );
        // No gap and no jump across the failover: every burst 500 ms after the last.
        for pair in o.windows(2) {
            let gap_us = (pair[1] - pair[0]) / 1e3;
            assert!(
                (gap_us - 500_000.0).abs() < 1_000.0,
                "survivor {i}: bursts {gap_us:.0} us apart"
            );
        }
    }
    for burst in 0..bursts {
        let times: Vec<f64> = onsets.iter().map(|o| o[burst]).collect();
        let s = spread(&times);
        eprintln!("burst {burst}: survivors {:.1} us apart", s / 1e3);
        assert!(s < 1e6, "burst {burst}: survivors {:.3} ms apart", s / 1e6);
    }
}
