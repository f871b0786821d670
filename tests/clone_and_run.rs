//! A new user's first try, as a test: a fresh clone of this repository runs the README's
//! demo command without a terminal for a fixed time, and its summary must show a party,
//! the same songs in the same order on every box, the first song's first note within 1 ms
//! on every box's recording and every new song's first note within 1 ms there too; the log
//! must hold no warning or error.
//!
//! The clone builds with the README's command (`./scripts/demo`, a release build) into
//! this build's target folder, so only chorus itself is compiled again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the demo runs once built: the party forms, the host goes through the songs
/// every 6 s, and the last song plays on.
const DEMO_SECS: &str = "60";

/// The build, the run and the comparison of the recordings together stay well within this.
const LIMIT: Duration = Duration::from_secs(30 * 60);

/// The target folder this test binary was built in (`target/debug/deps/..` up two).
fn target_dir() -> PathBuf {
    Path::new(common::BIN)
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in target/PROFILE/")
        .to_path_buf()
}

fn git_clone(to: &Path) {
    let out = Command::new("git")
        .args(["clone", "--quiet", "--local", "--no-hardlinks"])
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg(to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `./scripts/demo ARGS` in `clone` with stdout and stderr piped; returns (exit
/// status, stdout, stderr). The demo's own folder is under `tmp` (its default is in
/// `$TMPDIR`).
fn run_demo(clone: &Path, tmp: &Path, args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new("./scripts/demo")
        .args(args)
        .current_dir(clone)
        .env("TMPDIR", tmp)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CHORUS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: cargo and the demo it starts are stopped together.
        .process_group(0)
        .spawn()
        .unwrap();
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        let mut r = r.expect("piped");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = r.read_to_string(&mut text);
            text
        })
    };
    let stdout = pipe(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = pipe(child.stderr.take().map(|s| Box::new(s) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            panic!(
                "./scripts/demo ran over {LIMIT:?}: {}",
                stdout.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (
        status.success(),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

/// The titles after `prefix` on the line that starts with it, split at ", ".
fn listed(stdout: &str, prefix: &str) -> Option<Vec<String>> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(prefix))?;
    Some(line.split(", ").map(str::to_owned).collect())
}

#[test]
fn a_fresh_clone_runs_the_readme_demo_and_the_boxes_play_in_step() {
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("chorus");
    git_clone(&clone);
    let port = common::test_port(51).to_string();
    let (ok, stdout, stderr) = run_demo(
        &clone,
        tmp.path(),
        &["--duration", DEMO_SECS, "--port", &port],
    );
    let all = format!("{stdout}\n--- stderr ---\n{stderr}");
    assert!(ok, "the demo failed:\n{all}");
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "colour codes off a terminal:\n{all}"
    );
    assert!(stdout.contains("box-1: hosting party"), "{all}");
    assert!(
        stdout.contains("every box has the song and plays it"),
        "{all}"
    );

    // The same songs in the same order on every box, and more than one: songs changed.
    let order = listed(&stdout, "songs in order, the same on every box: ")
        .unwrap_or_else(|| panic!("no common song order:\n{all}"));
    assert!(order.len() >= 2, "no song change to check:\n{all}");
    // box-1's tour ("songs played: 5 of 5: A, B, ...") names the same songs.
    let tour = listed(&stdout, "songs played: ").expect("box-1's tour");
    let tour = tour.join(", ");
    let tour = tour.split_once(": ").map_or("", |(_, titles)| titles);
    assert_eq!(tour, order.join(", "), "{all}");

    // Every song change was timed on the recordings, on every box, and within 1 ms (the
    // demo's exit status holds it too).
    let changes: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("song changes ("))
        .skip(1)
        .take_while(|l| l.starts_with("  \""))
        .collect();
    assert_eq!(changes.len(), order.len() - 1, "{all}");
    for line in &changes {
        assert!(
            line.contains(" box-2 ") && line.contains(" box-3 "),
            "{line}\n{all}"
        );
    }
    let worst: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("every box played the same tune; largest difference "))
        .and_then(|rest| rest.strip_suffix(" us"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure of merit:\n{all}"));
    assert!(worst <= 1_000.0, "boxes {worst} us apart:\n{all}");
    let (changes, missed) = stdout
        .lines()
        .find_map(|l| l.strip_prefix("song changes: largest difference "))
        .and_then(|rest| rest.split_once(" us; first notes missed "))
        .and_then(|(us, missed)| Some((us.parse::<f64>().ok()?, missed.parse::<u32>().ok()?)))
        .unwrap_or_else(|| panic!("no song-change figure:\n{all}"));
    assert!(
        changes <= 1_000.0 && missed == 0,
        "song changes {changes} us apart, {missed} first notes missed:\n{all}"
    );

    // Songs end and change without a word of complaint in the log. A machine that
    // refuses real-time scheduling (a container, a test run under nice) says so once per
    // box; that is about the machine, not the songs.
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .filter(|l| !l.contains("real-time scheduling was refused"))
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}\n{all}");
}
