//! Helpers for tests that run real `chorus` processes on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod audio;
pub mod session;
pub mod terminal;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chorus::status::Status;

pub const BIN: &str = env!("CARGO_BIN_EXE_chorus");

/// The host's control port, from the first member's address in a status (`IP:PORT`).
pub fn host_control_port(party: &chorus::status::PartyStatus) -> u16 {
    party.members[0]
        .addr
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A multicast port no other test binary uses at the same time.
pub fn test_port(salt: u16) -> u16 {
    20_000
        + ((std::process::id() as u16)
            .wrapping_mul(7)
            .wrapping_add(salt * 101)
            % 30_000)
}

/// A running `chorus run`, killed when dropped.
pub struct BoxProc {
    pub child: Child,
    pub state: PathBuf,
    pub name: String,
}

impl Drop for BoxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BoxProc {
    /// SIGTERM, then wait: the box shuts down cleanly (recordings are finalized).
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGKILL: the box gets no chance to say goodbye.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Starts a box named `name` with its state under `dir`, on loopback only, with
/// ephemeral unicast and control ports and an empty config file.
pub fn start(dir: &Path, name: &str, port: u16, extra: &[&str]) -> BoxProc {
    let config = dir.join("empty.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    start_with(dir, name, port, &config, extra)
}

/// Like [`start`] with the given config file.
pub fn start_with(dir: &Path, name: &str, port: u16, config: &Path, extra: &[&str]) -> BoxProc {
    let state = dir.join(name);
    let child = Command::new(BIN)
        .args(["run", "--name", name, "--interface", "127.0.0.1"])
        .args(["--unicast-port", "0", "--control-port", "0"])
        .arg("--port")
        .arg(port.to_string())
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(config)
        .args(extra)
        // CHORUS_TEST_LOG=debug shows what the boxes do when a test fails.
        .env(
            "CHORUS_LOG",
            std::env::var("CHORUS_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    BoxProc {
        child,
        state,
        name: name.to_owned(),
    }
}

/// Writes `DIR/NAME.toml` for a box with music in `music`, sound going to `output`, and
/// the given extra lines in its `[party]` and `[songs]` tables (song transfers on any
/// free port).
pub fn box_config(
    dir: &Path,
    name: &str,
    music: &Path,
    output: &str,
    party: &str,
    songs: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "music_dir = {:?}\n[audio]\noutput = {output:?}\n[party]\n{party}\n\
         [songs]\nbulk_port = 0\n{songs}\n",
        music.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The first box hosts a party and every other box, once that party's invitation reached
/// it, joins; returns the party id. The boxes must already see each other.
pub fn host_and_join<B: std::borrow::Borrow<BoxProc>>(boxes: &[B]) -> String {
    let (host, members) = boxes.split_first().expect("a host");
    let host = host.borrow();
    let (ok, out, err) = ctl(&host.state, &["host"]);
    assert!(ok, "host failed: {out} {err}");
    let party = status(&host.state)
        .and_then(|s| s.party)
        .expect("hosting")
        .id;
    for b in members.iter().map(|b| b.borrow()) {
        let invited = wait_for(Duration::from_secs(10), || {
            status(&b.state).is_some_and(|s| s.invitations.iter().any(|i| i.party == party))
        });
        assert!(invited.is_some(), "{} never got the invitation", b.name);
        let (ok, out, err) = ctl(&b.state, &["join"]);
        assert!(ok, "{} join failed: {out} {err}", b.name);
    }
    party
}

/// Whether the first song of the party's window is complete on the box at `state`.
pub fn first_song_fetched(state: &Path) -> bool {
    status(state)
        .and_then(|s| s.transfers.first().cloned())
        .is_some_and(|t| t.state == "complete")
}

/// Runs `chorus ctl ARGS --state-dir STATE`; returns (success, stdout, stderr).
pub fn ctl(state: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("ctl")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn status(state: &Path) -> Option<Status> {
    let (ok, stdout, _) = ctl(state, &["status", "--json"]);
    ok.then(|| serde_json::from_str(&stdout).unwrap())
}

pub fn neighbour_names(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = status(state)
        .map(|s| s.neighbours.into_iter().map(|n| n.name).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Polls until `done` holds, returning how long it took, or None after `limit`.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
