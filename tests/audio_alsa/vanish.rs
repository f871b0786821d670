//! The ALSA device vanishes under a playing player and comes back: PipeWire first loses
//! its sink (writes find no room), then the whole sound server restarts (every write
//! underruns, then opening fails). The player must report it, keep its timeline, and
//! play on the schedule again once the device is back.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chorus::audio::alsa::{AlsaConfig, AlsaSink};
use chorus::audio::player::{LocalTarget, Player, PlayerCommand, PlayerStatus};
use chorus::audio::SinkParams;
use chorus::clock::monotonic_now;
use chorus::core::Instant;

/// The null sink of scripts/pipewire-null-sink.sh, made to outlive the pw-cli that
/// creates it.
const NULL_SINK: &str = "{ factory.name=support.null-audio-sink node.name=null-sink \
    media.class=Audio/Sink audio.position=[FL FR] audio.rate=48000 node.driver=true \
    priority.driver=1000 object.linger=true }";

fn pw_cli(args: &[&str]) -> String {
    let out = Command::new("pw-cli").args(args).output().unwrap();
    assert!(out.status.success(), "pw-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The PipeWire object id of the null sink, from `pw-cli ls Node`.
fn null_sink_id() -> Option<String> {
    let mut id = None;
    for line in pw_cli(&["ls", "Node"]).lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("id ") {
            id = rest.split(',').next().map(str::to_owned);
        } else if line == "node.name = \"null-sink\"" {
            return id;
        }
    }
    None
}

fn server_script(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pipewire-null-sink.sh");
    let out = Command::new(script).arg(action).output().unwrap();
    assert!(out.status.success(), "{script} {action}: {out:?}");
}

/// A 48 kHz stereo 1 kHz sine, `seconds` long.
fn write_song(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..seconds * 48_000 {
        let v = (std::f64::consts::TAU * 1_000.0 * f64::from(i) / 48_000.0).sin() * 0.3;
        let s = (v * 32_767.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Polls the player's status until `ok` holds; fails with the last status after `timeout`.
fn wait_for(
    player: &Player,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&PlayerStatus) -> bool,
) -> PlayerStatus {
    let deadline = monotonic_now() + timeout;
    loop {
        let status = player.status();
        if ok(&status) {
            return status;
        }
        assert!(
            monotonic_now() < deadline,
            "not {what} within {timeout:?}: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Playing without error, at the position the schedule (song start at `start`) wants,
/// and within a millisecond of it by the playout controller's own measure.
fn on_schedule(s: &PlayerStatus, start: Instant) -> bool {
    let due_ms = (monotonic_now() - start).as_millis() as f64;
    s.playing
        && s.last_error.is_none()
        && (s.position_ms as f64 - due_ms).abs() < 50.0
        && s.playout_error_us.is_some_and(|e| e.abs() < 1_000.0)
}

/// Settles in step: within ten seconds, a whole second on schedule without a re-seek.
///
/// Not the first second after it is back: a sound server that has just restarted may
/// still underrun in its first cycles, and a stream that the server moved to a re-created
/// sink plays with a delay a few milliseconds different, which the device position
/// filter takes seconds to follow (a step under its 5 ms jump threshold is filtered like
/// jitter) and the controller meanwhile meets with a re-seek or two. Both were seen, about
/// one run in six, 1 to 4 s after the player was first back on schedule.
fn settles_in_step(player: &Player, start: Instant) {
    let mut last = player.status();
    for window in 1..=10 {
        std::thread::sleep(Duration::from_secs(1));
        let s = player.status();
        if on_schedule(&s, start) && s.reseeks == last.reseeks {
            println!("in step for a second after {window} s");
            return;
        }
        last = s;
    }
    panic!("never a second in step within 10 s: {last:?}");
}

fn unavailable(s: &PlayerStatus) -> bool {
    s.last_error
        .as_deref()
        .is_some_and(|e| e.contains("unavailable"))
}

#[test]
fn player_survives_its_device_vanishing_and_plays_on_schedule_when_it_returns() {
    let _server = super::server();
    // Only a server this test may restart: the one scripts/pipewire-null-sink.sh runs.
    let ours = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| d == super::PW_RUN)
        && Path::new(super::PW_RUN).join("../pid").exists()
        && std::env::var_os("CHORUS_ALSA_DEVICE").is_none();
    if !ours || null_sink_id().is_none() {
        println!("skipped: needs the PipeWire null sink of scripts/pipewire-null-sink.sh");
        return;
    }
    let sink = match AlsaSink::open(AlsaConfig::from_params(&SinkParams::default())) {
        Ok(sink) => sink,
        Err(err) => {
            println!("skipped: cannot open ALSA device default: {err}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("sine.wav");
    write_song(&song, 60);
    let player = Player::spawn(Box::new(sink)).unwrap();
    let start = monotonic_now() + Duration::from_millis(300);
    let target = LocalTarget {
        song_seconds: 0.0,
        at: start,
        pace: 1.0,
    };
    assert!(player.send(PlayerCommand::Play { path: song, target }));
    let secs = Duration::from_secs;
    let first = wait_for(&player, "playing on schedule", secs(5), |s| {
        on_schedule(s, start) && s.position_ms > 500
    });
    println!(
        "playing: position {} ms, playout error {:?} us",
        first.position_ms, first.playout_error_us
    );

    // The sound server loses its sink: the stream is no longer driven.
    pw_cli(&["destroy", &null_sink_id().unwrap()]);
    let during = wait_for(&player, "reporting the lost sink", secs(5), unavailable);
    println!("sink removed: {:?}", during.last_error);
    assert!(during.playing, "the song stays scheduled");
    std::thread::sleep(secs(1));
    pw_cli(&["create-node", "adapter", NULL_SINK]);
    let back = wait_for(&player, "back on schedule", secs(15), |s| {
        on_schedule(s, start)
    });
    println!(
        "sink back: position {} ms, playout error {:?} us",
        back.position_ms, back.playout_error_us
    );
    settles_in_step(&player, start);

    // The whole sound server restarts.
    server_script("stop");
    let during = wait_for(
        &player,
        "reporting the stopped server",
        secs(5),
        unavailable,
    );
    println!("server stopped: {:?}", during.last_error);
    std::thread::sleep(secs(1));
    server_script("start");
    let back = wait_for(&player, "back on schedule", secs(15), |s| {
        on_schedule(s, start)
    });
    println!(
        "server back: position {} ms, playout error {:?} us",
        back.position_ms, back.playout_error_us
    );
    settles_in_step(&player, start);
}
