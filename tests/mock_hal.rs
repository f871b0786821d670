//! The mock HAL driven the way a person drives it: two boxes in two terminals (tmux),
//! keys pressed with `send-keys`, the screens read back with `capture-pane`, and the
//! boxes' state checked through `chorus ctl`. Hosting, joining, skipping, this box's
//! volume and the party's volume all come from the keys alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use chorus::status::Status;
use common::terminal::Terminal;
use common::{status, test_port, wait_for};

/// One box in a terminal of its own.
struct BoxTerminal {
    terminal: Terminal,
    name: String,
    state: std::path::PathBuf,
}

impl BoxTerminal {
    fn start(dir: &Path, name: &str, port: u16, music: Option<&Path>) -> BoxTerminal {
        let state = dir.join(name);
        std::fs::create_dir_all(&state).unwrap();
        let config = dir.join(format!("{name}.toml"));
        let music_line = music.map_or(String::new(), |m| format!("music_dir = {:?}\n", m));
        std::fs::write(
            &config,
            format!(
                "{music_line}[audio]\noutput = \"null\"\n[party]\ninvite_window_ms = 1500\n\
                 [songs]\nbulk_port = 0\n"
            ),
        )
        .unwrap();
        let command = format!(
            "CHORUS_LOG=info,chorus::hal=debug {} run --hal mock --name {name} --interface 127.0.0.1 --unicast-port 0 \
             --control-port 0 --port {port} --state-dir {} --config {} --screen-png {}",
            common::BIN,
            state.display(),
            config.display(),
            state.join("screen.png").display(),
        );
        // A terminal the size of a laptop's: the screen is scaled down to fit it.
        BoxTerminal {
            terminal: Terminal::start(&format!("chorus-mock-{name}"), 100, 45, &command),
            name: name.to_owned(),
            state,
        }
    }

    fn press(&self, keys: &str) {
        self.terminal.press(keys);
    }

    /// The terminal's text, colour escapes included.
    fn screen(&self) -> String {
        self.terminal.screen(true)
    }

    fn status(&self) -> Option<Status> {
        status(&self.state)
    }

    fn until(&self, what: &str, mut check: impl FnMut(&Status) -> bool) -> Status {
        let mut last = None;
        let found = wait_for(Duration::from_secs(30), || {
            last = self.status();
            last.as_ref().is_some_and(&mut check)
        });
        if found.is_none() {
            let log = std::fs::read_to_string(self.state.join("chorus.log")).unwrap_or_default();
            panic!(
                "{}: {what} never happened; status: {last:#?}\nlog:\n{log}",
                self.name,
            );
        }
        last.unwrap()
    }
}

fn song(s: &Status) -> Option<String> {
    s.playback.as_ref().and_then(|p| p.song.clone())
}

#[test]
fn a_person_hosts_joins_skips_and_turns_both_volumes_from_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    // Different lengths: songs are named by their content, so equal files are one song.
    for (name, bursts) in [("one", 40), ("two", 41), ("three", 42)] {
        common::audio::write_song(&music.join(format!("{name}.wav")), bursts);
    }
    let port = test_port(61);
    let host = BoxTerminal::start(dir.path(), "kitchen", port, Some(&music));
    let guest = BoxTerminal::start(dir.path(), "garden", port, None);
    guest.until("seeing the other box", |s| !s.neighbours.is_empty());
    host.until("the music scanned", |s| !s.neighbours.is_empty());

    // The screen is in the terminal: true-colour half blocks and the key legend.
    let screen = host.screen();
    assert!(screen.contains('▀'), "no half blocks on screen:\n{screen}");
    assert!(screen.contains("38;2;"), "no true colour on screen");

    // A on the host: HOST.
    host.press("a");
    host.until("hosting", |s| s.party.is_some());
    // A on the other box, once it shows the invitation: JOIN.
    guest.until("an invitation", |s| !s.invitations.is_empty());
    guest.press("a");
    let joined = guest.until("joined and playing", |s| {
        s.party.as_ref().is_some_and(|p| p.members.len() == 2) && song(s).is_some()
    });
    let first = song(&joined).unwrap();

    // B on the guest: SKIP (the guest asks the host, every box moves on).
    guest.press("b");
    host.until("the next song", |s| song(s).is_some_and(|x| x != first));
    guest.until("the next song too", |s| song(s).is_some_and(|x| x != first));

    // Y twice, X once on the guest: this box's volume 100 -> 90 -> 95, the host's untouched.
    guest.press("y");
    guest.until("box volume 95", |s| s.box_volume == 95);
    guest.press("y");
    guest.until("box volume 90", |s| s.box_volume == 90);
    guest.press("x");
    guest.until("box volume 95 again", |s| s.box_volume == 95);
    assert_eq!(host.status().unwrap().box_volume, 100);
    assert_eq!(
        std::fs::read_to_string(guest.state.join("box-volume"))
            .unwrap()
            .trim(),
        "95"
    );

    // Y held on the host (shift: a long press): the party's volume goes down on every box.
    host.press("Y");
    let party_volume = |s: &Status| s.playback.as_ref().and_then(|p| p.party_volume);
    let down = host.until("party volume down", |s| {
        party_volume(s).is_some_and(|v| v < 100)
    });
    let level = party_volume(&down).unwrap();
    guest.until("party volume down on the guest", |s| {
        party_volume(s).is_some_and(|v| v < 100)
    });
    assert_eq!(
        guest.status().unwrap().box_volume,
        95,
        "a party change is not a box change"
    );
    assert!(level % 5 == 0, "steps of 5: {level}");

    // The PNG of the screen is kept up to date and readable.
    let png = std::fs::read(guest.state.join("screen.png")).unwrap();
    chorus::ui::frame::Frame::from_png(&png).expect("a 240x240 screen PNG");

    // q quits like Ctrl-C: the box stops and the terminal is given back.
    host.press("q");
    let gone = wait_for(Duration::from_secs(10), || {
        !host.state.join("control.sock").exists()
    });
    assert!(gone.is_some(), "q did not stop the box");
}
