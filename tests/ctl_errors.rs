//! Every `chorus ctl` subcommand where it does not apply fails with a non-zero exit and a
//! message that says what to do; the help texts and the error output carry no colour codes
//! off a terminal or with `NO_COLOR`, and the log on a terminal is coloured only without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::terminal::Terminal;
use common::{start_with, status, test_port, wait_for, BIN};

/// Every subcommand with arguments that would do something on a box in a party.
const ALL: [&[&str]; 15] = [
    &["status"],
    &["status", "--json"],
    &["library"],
    &["host"],
    &["join"],
    &["leave"],
    &["end"],
    &["skip"],
    &["previous"],
    &["play"],
    &["pause"],
    &["resume"],
    &["volume", "box", "50"],
    &["volume", "+5"],
    &["queue", "song"],
];

fn chorus(args: &[&str], state: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

/// Runs `chorus ctl ARGS` and expects it to fail with exit status `code` and a message
/// holding each of `says`.
fn fails(state: &Path, args: &[&str], code: i32, says: &[&str]) {
    let mut all = vec!["ctl"];
    all.extend_from_slice(args);
    let out = chorus(&all, state);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "ctl {args:?}: {err}");
    for s in says {
        assert!(err.contains(s), "ctl {args:?} should say {s:?}: {err}");
    }
    assert!(out.stdout.is_empty(), "ctl {args:?} printed to stdout");
}

#[test]
fn without_a_box_every_subcommand_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nobody");
    let shown = state.display().to_string();
    for args in ALL {
        fails(
            &state,
            args,
            1,
            &["no chorus box is running", &shown, "chorus run"],
        );
    }
}

#[test]
fn a_box_in_no_party_refuses_party_commands_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    common::audio::write_song(&music.join("song.wav"), 1);
    let config = dir.path().join("box.toml");
    std::fs::write(
        &config,
        format!("music_dir = {music:?}\n[audio]\noutput = \"null\"\n"),
    )
    .unwrap();
    let b = start_with(dir.path(), "lone", test_port(41), &config, &[]);
    let scanned = wait_for(Duration::from_secs(15), || {
        common::ctl(&b.state, &["library"]).0
    });
    assert!(scanned.is_some(), "the box never listed its music");

    let no_party = ["in no party", "host", "join"];
    for args in [
        &["leave"][..],
        &["end"],
        &["skip"],
        &["previous"],
        &["play"],
        &["pause"],
        &["resume"],
        &["volume", "party", "40"],
        &["volume", "-5"],
        &["queue", "song"],
    ] {
        fails(&b.state, args, 1, &no_party);
    }
    fails(&b.state, &["join"], 1, &["no invitation"]);
    fails(
        &b.state,
        &["join", "0123456789abcdef"],
        1,
        &["no invitation for party 0123456789abcdef", "status"],
    );
    fails(
        &b.state,
        &["join", "nonsense"],
        1,
        &["bad party id", "16 hexadecimal digits"],
    );
    fails(
        &b.state,
        &["queue", "nonexistent"],
        1,
        &["no song \"nonexistent\"", "library"],
    );
    // The command line itself is wrong: exit status 2.
    fails(&b.state, &["volume", "box", "101"], 2, &["0 to 100"]);
    fails(&b.state, &["volume", "both", "5"], 2, &["`box` or `party`"]);

    // Where they apply: readable text, and hosting twice is refused.
    let (ok, out, err) = common::ctl(&b.state, &["status"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("box ") && out.contains("lone"), "{out}");
    assert!(out.contains("party none"), "{out}");
    let (ok, out, err) = common::ctl(&b.state, &["library"]);
    assert!(ok, "{err}");
    assert!(out.contains("song") && out.ends_with("1 song\n"), "{out}");
    let (ok, out, err) = common::ctl(&b.state, &["host"]);
    assert!(ok && out.contains("hosting party"), "{out} {err}");
    let party = status(&b.state).and_then(|s| s.party).unwrap().id;
    fails(
        &b.state,
        &["host"],
        1,
        &[&format!("already in party {party}"), "leave"],
    );
    fails(&b.state, &["join"], 1, &["already in party"]);
}

#[test]
fn off_a_terminal_or_with_no_color_nothing_is_coloured() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    let helps: [&[&str]; 7] = [
        &["--help"],
        &["run", "--help"],
        &["ctl", "--help"],
        &["ctl", "volume", "--help"],
        &["demo", "--help"],
        &["bench", "--help"],
        &["ctl", "status"],
    ];
    for args in helps {
        for no_color in [false, true] {
            let mut cmd = Command::new(BIN);
            cmd.args(args).arg("--state-dir").arg(&state);
            // Even a caller that asks for colour gets none with NO_COLOR.
            if no_color {
                cmd.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
            } else {
                cmd.env_remove("NO_COLOR");
            }
            let out = cmd.output().unwrap();
            let text = [out.stdout, out.stderr].concat();
            assert!(!text.is_empty(), "{args:?} printed nothing");
            assert!(
                !text.contains(&0x1b),
                "{args:?} (NO_COLOR {no_color}): {}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}

#[test]
fn on_a_terminal_the_log_is_coloured_unless_no_color_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    for (env, coloured) in [("", true), ("NO_COLOR=1 ", false)] {
        let command = format!(
            "{env}CHORUS_LOG=info {BIN} run --hal none --audio null --interface 127.0.0.1 \
             --unicast-port 0 --control-port 0 --port {} --state-dir {} --config {}",
            test_port(42),
            dir.path().join(format!("box-{coloured}")).display(),
            config.display(),
        );
        let terminal = Terminal::start(&format!("chorus-colour-{coloured}"), 200, 50, &command);
        // The terminal's text, colour escapes included, once the box has logged.
        let mut screen = String::new();
        let logged = wait_for(Duration::from_secs(15), || {
            screen = terminal.screen(true);
            screen.contains("INFO")
        });
        drop(terminal);
        assert!(logged.is_some(), "the box logged nothing: {screen}");
        assert_eq!(screen.contains('\u{1b}'), coloured, "{env}: {screen}");
    }
}
