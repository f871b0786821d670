//! Real boxes with disjoint music folders: the host's songs reach the members over the
//! bulk connections, verified and cached, a member's offered song reaches everyone else,
//! and every box plays them in step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::audio::{burst_onsets, spread, write_song};
use common::{
    box_config, ctl, host_and_join, neighbour_names, start_with, status, test_port, wait_for,
    BoxProc,
};

/// The tests of this file run several real-time boxes; on a small machine they take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Party {
    boxes: Vec<BoxProc>,
    recordings: Vec<PathBuf>,
    music: Vec<PathBuf>,
}

/// Boxes named `names`, each with its own music folder filled by `fill`, WAV outputs, a
/// party that starts once everyone joined; the first hosts and the rest join.
fn party(dir: &Path, port: u16, names: &[&str], fill: impl Fn(&str, &Path)) -> Party {
    party_with(dir, port, names, "", fill)
}

/// Like [`party`], with `songs` appended to every box's `[songs]` table.
fn party_with(
    dir: &Path,
    port: u16,
    names: &[&str],
    songs: &str,
    fill: impl Fn(&str, &Path),
) -> Party {
    let mut p = Party {
        boxes: Vec::new(),
        recordings: Vec::new(),
        music: Vec::new(),
    };
    for name in names {
        let music = dir.join(format!("music-{name}"));
        std::fs::create_dir_all(&music).unwrap();
        fill(name, &music);
        let wav = dir.join(format!("{name}.wav"));
        let output = format!("wav:{}", wav.display());
        let party = format!("min_accepts = {}", names.len() - 1);
        let config = box_config(dir, name, &music, &output, &party, songs);
        p.boxes.push(start_with(dir, name, port, &config, &[]));
        p.recordings.push(wav);
        p.music.push(music);
    }
    let n = names.len() - 1;
    let found = wait_for(Duration::from_secs(15), || {
        p.boxes.iter().all(|b| neighbour_names(&b.state).len() == n)
    });
    assert!(found.is_some(), "boxes did not find each other");
    host_and_join(&p.boxes);
    p
}

fn playing_song(b: &BoxProc) -> Option<String> {
    let p = status(&b.state)?.playback?;
    (p.state == "playing" && !p.missing_song).then_some(p.song?)
}

fn stop(boxes: &mut [BoxProc]) {
    for b in boxes {
        b.terminate();
    }
}

/// The members play the host's first song from their caches, byte for byte, and the
/// music folders are left alone.
fn assert_first_song_cached(p: &Party) {
    let first = std::fs::read(p.music[0].join("1-first.wav")).unwrap();
    let id = blake3::hash(&first).to_hex().to_string();
    for b in &p.boxes[1..] {
        let s = status(&b.state).unwrap();
        assert_eq!(s.playback.unwrap().song.as_deref(), Some(id.as_str()));
        let t = s.transfers.iter().find(|t| t.song == id).unwrap();
        assert_eq!(
            (t.state.as_str(), t.bytes),
            ("complete", first.len() as u64)
        );
        let cached = b.state.join("cache/songs").join(format!("{id}.wav"));
        assert_eq!(std::fs::read(&cached).unwrap(), first, "{}", b.name);
    }
    // The user's music folders are only ever read.
    assert_eq!(std::fs::read_dir(&p.music[2]).unwrap().count(), 0);
}

/// Member b offers its own song; it joins the pool, everyone fetches it from b, and it
/// plays everywhere.
fn offer_and_play_everywhere(p: &Party) {
    let offered = p.music[1].join("other.wav");
    let (ok, out, err) = ctl(&p.boxes[1].state, &["queue", offered.to_str().unwrap()]);
    assert!(ok, "{out} {err}");
    let other = std::fs::read(&offered).unwrap();
    let other_id = blake3::hash(&other).to_hex().to_string();
    let fetched = wait_for(Duration::from_secs(20), || {
        [0, 2].iter().all(|&i| {
            status(&p.boxes[i].state).is_some_and(|s| {
                s.transfers
                    .iter()
                    .any(|t| t.song == other_id && t.state == "complete")
            })
        })
    });
    assert!(
        fetched.is_some(),
        "{:?}",
        status(&p.boxes[0].state).map(|s| s.transfers)
    );
    let (ok, out, err) = ctl(&p.boxes[2].state, &["play", "2"]);
    assert!(ok, "{out} {err}");
    let all = wait_for(Duration::from_secs(5), || {
        p.boxes
            .iter()
            .all(|b| playing_song(b).as_deref() == Some(other_id.as_str()))
    });
    assert!(all.is_some(), "the offered song plays everywhere");
    for b in [&p.boxes[0], &p.boxes[2]] {
        let cached = b.state.join("cache/songs").join(format!("{other_id}.wav"));
        assert_eq!(std::fs::read(cached).unwrap(), other, "{}", b.name);
    }
}

/// The first five bursts of every recording start at about the same time.
fn assert_bursts_in_step(recordings: &[PathBuf]) {
    let onsets: Vec<Vec<f64>> = recordings.iter().map(|w| burst_onsets(w)).collect();
    for (i, o) in onsets.iter().enumerate() {
        assert!(o.len() >= 5, "box {i} recorded bursts {o:?}");
    }
    for k in 0..5 {
        let at: Vec<f64> = onsets.iter().map(|o| o[k]).collect();
        let s = spread(&at);
        eprintln!("burst {k}: spread {:.1} us", s / 1e3);
        assert!(s < 1e6, "burst {k} spread {:.1} us", s / 1e3);
    }
}

#[test]
fn members_without_the_song_fetch_it_and_all_play_in_step() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut p = party(
        dir.path(),
        test_port(31),
        &["a", "b", "c"],
        |name, music| match name {
            "a" => {
                write_song(&music.join("1-first.wav"), 6);
                write_song(&music.join("2-second.wav"), 3);
            }
            "b" => write_song(&music.join("other.wav"), 4),
            _ => {}
        },
    );
    // The party starts when both joined; the first song waits until both hold it, then
    // plays by itself on every box.
    let song = wait_for(Duration::from_secs(30), || {
        let songs: Vec<_> = p.boxes.iter().map(playing_song).collect();
        songs.iter().all(|s| s.is_some() && *s == songs[0])
    });
    assert!(
        song.is_some(),
        "not all playing: {:?}",
        p.boxes
            .iter()
            .map(|b| status(&b.state).map(|s| (s.playback, s.transfers)))
            .collect::<Vec<_>>()
    );
    assert_first_song_cached(&p);
    std::thread::sleep(Duration::from_millis(3_500));

    offer_and_play_everywhere(&p);
    stop(&mut p.boxes);
    assert_bursts_in_step(&p.recordings);
}

#[test]
fn a_member_killed_mid_transfer_resumes_and_never_exposes_a_partial_file() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // About 6 MB, sent at 16 Mbit/s: the transfer takes about 3 s.
    let limit = "upload_limit_kbps = 16000";
    let mut p = party_with(
        dir.path(),
        test_port(32),
        &["a", "b"],
        limit,
        |name, music| {
            if name == "a" {
                write_song(&music.join("long.wav"), 130);
            }
        },
    );
    let song = std::fs::read(p.music[0].join("long.wav")).unwrap();
    let id = blake3::hash(&song).to_hex().to_string();
    let cached = p.boxes[1]
        .state
        .join("cache/songs")
        .join(format!("{id}.wav"));
    let partial = p.boxes[1]
        .state
        .join("cache/partial")
        .join(format!("{id}.part"));
    let received = |b: &BoxProc| {
        status(&b.state)
            .and_then(|s| s.transfers.into_iter().find(|t| t.song == id))
            .map(|t| (t.state, t.bytes, t.received_bytes))
    };
    let midway = wait_for(Duration::from_secs(20), || {
        received(&p.boxes[1]).is_some_and(|(_, bytes, _)| bytes >= 3_000_000)
    });
    assert!(
        midway.is_some(),
        "transfer never started: {:?}",
        received(&p.boxes[1])
    );
    p.boxes[1].kill();
    assert!(
        !cached.exists(),
        "a partial song is never in the cache's songs"
    );
    assert!(
        partial.exists(),
        "the partial download stays for the restart"
    );

    // The box restarts, rejoins its party and fetches only what it lacks.
    let config = dir.path().join("b.toml");
    p.boxes[1] = start_with(dir.path(), "b", test_port(32), &config, &[]);
    let done = wait_for(Duration::from_secs(30), || {
        received(&p.boxes[1]).is_some_and(|(state, _, _)| state == "complete")
    });
    assert!(done.is_some(), "not resumed: {:?}", received(&p.boxes[1]));
    let (_, bytes, fetched) = received(&p.boxes[1]).unwrap();
    assert_eq!(bytes, song.len() as u64);
    // Progress is saved every 16 chunks or 250 ms: at most that is fetched twice.
    assert!(
        fetched < song.len() as u64 - 2_000_000,
        "fetched {fetched} of {} bytes after the restart: it started over",
        song.len()
    );
    assert_eq!(std::fs::read(&cached).unwrap(), song);
    assert!(!partial.exists());
    // Both then play it.
    let both = wait_for(Duration::from_secs(10), || {
        p.boxes
            .iter()
            .all(|b| playing_song(b).as_deref() == Some(id.as_str()))
    });
    assert!(both.is_some());
}
