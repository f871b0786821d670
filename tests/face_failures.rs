//! The face never takes the box down: a missing display or buttons, or no terminal for
//! the mock HAL, is one clear log line, and the box keeps running and answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{status, test_port, wait_for};

/// Runs a box with `args` until `ready` says so from its state dir, then stops it and
/// returns its log (stderr).
fn run_box(dir: &std::path::Path, config: &str, args: &[&str], ready: impl Fn() -> bool) -> String {
    let config_path = dir.join("box.toml");
    std::fs::write(&config_path, config).unwrap();
    let state = dir.join("state");
    let mut child = Command::new(common::BIN)
        .args(["run", "--name", "faceless", "--interface", "127.0.0.1"])
        .args([
            "--unicast-port",
            "0",
            "--control-port",
            "0",
            "--audio",
            "null",
        ])
        .arg("--port")
        .arg(test_port(71).to_string())
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(&config_path)
        .args(args)
        .env("CHORUS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = wait_for(Duration::from_secs(20), || {
        status(&state).is_some() && ready()
    });
    // Still running, and still answering: the face's trouble did not stop it.
    let answering = status(&state).is_some();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        up.is_some() && answering,
        "the box did not run; log:\n{log}"
    );
    assert!(exit.success(), "the box failed ({exit}); log:\n{log}");
    log
}

#[test]
fn a_box_without_display_or_buttons_says_what_to_fix_once_and_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[buttons]\nchip = \"/nonexistent/gpiochip9\"\n\
                  [display]\nspi = \"/nonexistent/spidev9.1\"\nchip = \"/nonexistent/gpiochip9\"\n";
    let log = run_box(dir.path(), config, &["--hal", "rpi"], || true);
    let lines: Vec<&str> = log.lines().collect();
    let display: Vec<_> = lines.iter().filter(|l| l.contains("spidev9.1")).collect();
    let buttons: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("gpiochip9") && l.contains("no buttons"))
        .collect();
    assert_eq!(display.len(), 1, "one line about the display:\n{log}");
    assert!(
        display[0].contains("dtparam=spi=on"),
        "it says how to enable SPI: {}",
        display[0]
    );
    assert_eq!(buttons.len(), 1, "one line about the buttons:\n{log}");
}

#[test]
fn the_mock_hal_without_a_terminal_says_so_once_and_still_writes_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("screen.png");
    let png_arg = png.display().to_string();
    let log = run_box(
        dir.path(),
        "",
        &["--hal", "mock", "--screen-png", &png_arg],
        || png.exists(),
    );
    let said = log.lines().filter(|l| l.contains("not a terminal")).count();
    assert_eq!(said, 1, "one line about the missing terminal:\n{log}");
    let frame = chorus::ui::frame::Frame::from_png(&std::fs::read(&png).unwrap()).unwrap();
    // The idle screen: not a blank frame.
    let lit = frame
        .pixels()
        .iter()
        .filter(|p| **p != frame.pixels()[0])
        .count();
    assert!(
        lit > 1_000,
        "the screen PNG shows something ({lit} pixels differ)"
    );
}
