//! The demo on a terminal (tmux), driven like a person: every box's screen side by side
//! with a line per box, the host killed with keys (another box takes over), restarted
//! (it rejoins), and q quits, handing the terminal back with the log in the demo folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use common::terminal::Terminal;
use common::{test_port, wait_for, BIN};

/// The demo in its own terminal.
struct Session(Terminal);

impl Session {
    /// Waits until the text on screen satisfies `check`.
    fn until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = wait_for(Duration::from_secs(40), || {
            last = self.0.screen(false);
            check(&last)
        });
        // The screens' half blocks say nothing in a failure message: only the text.
        let text: Vec<&str> = last.lines().filter(|l| !l.contains("▀▀▀")).collect();
        assert!(found.is_some(), "{what} never showed:\n{}", text.join("\n"));
        last
    }
}

/// The line of the screen that starts (after the selection mark) with `name:`.
fn line<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| {
            l.trim_start_matches(['▶', ' '])
                .starts_with(&format!("{name}:"))
        })
        .unwrap_or("")
}

#[test]
fn the_screens_show_a_failover_and_a_rejoin_from_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "CHORUS_LOG=info {BIN} demo --boxes 3 --tour 0 --port {} --dir {}; echo EXITED $?; sleep 60",
        test_port(37),
        dir.path().display()
    );
    let session = Session(Terminal::start("chorus-demo", 200, 60, &command));

    let screen = session.until("a party of three playing", |s| {
        line(s, "box-1").contains("host of 3 · playing")
            && line(s, "box-2").contains("member of 3 · playing")
            && line(s, "box-3").contains("member of 3 · playing")
    });
    for label in ["box-1 [1]", "box-2 [2]", "box-3 [3]", "k kill"] {
        assert!(screen.contains(label), "no {label:?}:\n{screen}");
    }
    let colours = session.0.screen(true);
    assert!(
        colours.contains('▀') && colours.contains("38;2;"),
        "no screens drawn"
    );

    // Kill the host: one of the others takes over the party of the two left.
    session.0.press("1k");
    session.until("a failover", |s| {
        line(s, "box-1").contains("killed")
            && ["box-2", "box-3"]
                .iter()
                .any(|b| line(s, b).contains("host of 2"))
    });
    // Restart it: it comes back with its state dir and rejoins as a member.
    session.0.press("r");
    session.until("the rejoin", |s| line(s, "box-1").contains("member of 3"));

    session.0.press("q");
    let after = session.until("the demo quitting", |s| s.contains("EXITED"));
    assert!(after.contains("EXITED 0"), "{after}");
    assert!(
        !after.contains('▀'),
        "the terminal was not handed back:\n{after}"
    );
    let log = dir.path().join("demo.log");
    assert!(after.contains(&log.display().to_string()), "{after}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("box ready"), "the boxes log to the file");
    for b in ["box-1", "box-2", "box-3"] {
        let socket = std::fs::read_dir(dir.path().join(b))
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_type().is_ok_and(|t| t.is_socket()));
        assert!(!socket, "{b} left its control socket behind");
    }
}
