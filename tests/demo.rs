//! The README's demo command works: boxes find each other, form a party, the boxes without
//! music fetch box-1's bundled songs, all play in step, the host goes through every song
//! (one per format), and the demo says how far apart the boxes' recordings are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{test_port, BIN};

/// One demo at a time: each runs three boxes in real time, and two at once on a small
/// machine (a debug build, two cores) starve each other's playback threads.
static ONE_DEMO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_demo() -> std::sync::MutexGuard<'static, ()> {
    ONE_DEMO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn demo_forms_a_party_and_plays_in_step() {
    let _alone = one_demo();
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

/// Ctrl-C (SIGINT) mid-song ends the demo promptly and cleanly: every box stops, its
/// recording is finalised, no control socket is left, and nothing is written outside the
/// demo's folder.
#[test]
fn ctrl_c_ends_the_demo_and_leaves_nothing_outside_its_folder() {
    let _alone = one_demo();
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = Command::new(BIN)
        .args(["demo", "--duration", "0", "--boxes", "3", "--port"])
        .arg(test_port(36).to_string())
        .arg("--dir")
        .arg(dir.path())
        .env("CHORUS_LOG", "warn")
        // Anything the demo wrote to a temporary folder of its own would land here.
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(demo.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !seen.contains("every box has the song and plays it") {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("the demo ended by itself: {seen}");
        }
        seen.push_str(&line);
    }
    let pressed = std::time::Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The rest of what it says, up to its exit.
    std::io::Read::read_to_string(&mut out, &mut String::new()).unwrap();
    let status = demo.wait().unwrap();
    let took = pressed.elapsed();
    assert!(status.code().is_some(), "killed by a signal: {status:?}");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    for b in ["box-1", "box-2", "box-3"] {
        let socket = std::fs::read_dir(dir.path().join(b))
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| std::os::unix::fs::FileTypeExt::is_socket(&e.file_type().unwrap()));
        assert!(!socket, "{b} left its control socket behind");
    }
    for b in ["box-1", "box-2", "box-3"] {
        let wav = hound::WavReader::open(dir.path().join(format!("{b}.wav")))
            .unwrap_or_else(|e| panic!("{b}'s recording is not a finished WAV: {e}"));
        assert!(wav.duration() > 0, "{b} recorded nothing");
    }
    let stray: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        stray.is_empty(),
        "written outside the demo's folder: {stray:?}"
    );
}
