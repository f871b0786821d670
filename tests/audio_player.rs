//! The playback thread starts a song at the scheduled instant and keeps it there, as
//! recorded by the real-time WAV sink.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chorus::audio::player::{LocalTarget, Player, PlayerCommand};
use chorus::audio::wav::{sidecar_path, WavSidecar, WavSink};
use chorus::audio::{Sink, SinkError, SinkFormat, SinkTiming};
use chorus::clock::monotonic_now;

/// A 44.1 kHz mono song: 50 ms of silence, then a 1 kHz tone.
fn write_song(path: &Path, seconds: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (seconds * 44_100.0) as usize;
    for i in 0..n {
        let v = if i < 2_205 {
            0.0
        } else {
            (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() * 0.5
        };
        w.write_sample((v * 32_767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// A player recording into `dir/out.wav` (48 kHz stereo, 40 ms buffer), and a song of
/// `seconds` in `dir/song.wav`: (player, song, recording).
fn recorded_player(dir: &Path, seconds: f64) -> (Player, PathBuf, PathBuf) {
    let song = dir.join("song.wav");
    write_song(&song, seconds);
    let out = dir.join("out.wav");
    let format = SinkFormat {
        rate: 48_000,
        channels: 2,
    };
    let sink = WavSink::create(&out, format, Duration::from_millis(40)).unwrap();
    (Player::spawn(Box::new(sink)).unwrap(), song, out)
}

#[test]
fn song_starts_at_the_scheduled_instant() {
    let dir = tempfile::tempdir().unwrap();
    let (player, song, out) = recorded_player(dir.path(), 1.0);
    let start = monotonic_now() + Duration::from_millis(300);
    let target = LocalTarget {
        song_seconds: 0.0,
        at: start,
        pace: 1.0,
    };
    assert!(player.send(PlayerCommand::Play {
        path: song.clone(),
        target
    }));
    std::thread::sleep(Duration::from_millis(1_500));
    let status = player.status();
    assert_eq!(status.last_error, None);
    assert!(!status.playing, "a 1 s song is over after 1.2 s");
    drop(player);

    let first = sidecar(&out).first_frame_monotonic_ns.unwrap();
    let mut reader = hound::WavReader::open(&out).unwrap();
    let samples: Vec<f32> = reader.samples::<f32>().map(|s| s.unwrap()).collect();
    let onset = samples.iter().position(|s| s.abs() > 0.05).unwrap() / 2;
    let onset_ns = first + (onset as u64 * 1_000_000_000 / 48_000);
    // The tone begins 50 ms into the song.
    let due_ns = (start + Duration::from_millis(50)).as_nanos();
    let error_ms = (onset_ns as f64 - due_ns as f64) / 1e6;
    eprintln!("tone onset {error_ms:+.3} ms from schedule");
    assert!(
        error_ms.abs() < 2.0,
        "tone started {error_ms:.3} ms off schedule"
    );
}

#[test]
fn an_unreadable_song_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mp3");
    std::fs::write(&bad, b"this is not audio at all").unwrap();
    let out = dir.path().join("out.wav");
    let format = SinkFormat {
        rate: 48_000,
        channels: 2,
    };
    let sink = WavSink::create(&out, format, Duration::from_millis(40)).unwrap();
    let player = Player::spawn(Box::new(sink)).unwrap();
    let target = LocalTarget {
        song_seconds: 0.0,
        at: monotonic_now(),
        pace: 1.0,
    };
    assert!(player.send(PlayerCommand::Play { path: bad, target }));
    std::thread::sleep(Duration::from_millis(200));
    let status = player.status();
    assert!(!status.playing);
    assert!(status.last_error.unwrap().contains("bad.mp3"));
    // The thread is still alive and takes commands.
    assert!(player.send(PlayerCommand::Stop));
}

#[test]
fn a_song_already_under_way_is_joined_at_the_right_position() {
    let dir = tempfile::tempdir().unwrap();
    let (player, song, out) = recorded_player(dir.path(), 2.0);
    std::thread::sleep(Duration::from_millis(200));
    // The schedule says the song began 400 ms ago: a box that learns of it late (or
    // just got the song) comes in at 0.4 s, not at the start.
    join_under_way(&player, &song, Duration::from_millis(400), 10);
    let (status, at_once) = in_step(&player);
    let error_us = status.playout_error_us.unwrap();
    assert!(status.playing);
    assert!(
        error_us.abs() < 1_000.0,
        "{error_us:.0} us off after joining mid-song"
    );
    drop(player);
    // Joining never re-seeks nor needs time to settle; a starved thread (an emulated
    // CPU) may, and is counted.
    let excused = excuses(&out, &status);
    assert!(at_once || excused > 0, "settled late: {status:?}");
    assert!(status.reseeks <= excused, "{status:?}");
}

/// Tells `player`, `times` over 50 ms apart as a box's playout machine does, to play
/// `song`, which the schedule says began `ago`.
fn join_under_way(player: &Player, song: &Path, ago: Duration, times: usize) {
    let began = monotonic_now().as_nanos() - ago.as_nanos() as u64;
    for _ in 0..times {
        let now = monotonic_now();
        let target = LocalTarget {
            song_seconds: (now.as_nanos() - began) as f64 / 1e9,
            at: now,
            pace: 1.0,
        };
        player.send(PlayerCommand::Play {
            path: song.to_path_buf(),
            target,
        });
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The player's status once it is within 1 ms of its schedule (looked at for up to 2 s),
/// and whether it already was at the first look.
fn in_step(player: &Player) -> (chorus::audio::player::PlayerStatus, bool) {
    let in_step = |s: &chorus::audio::player::PlayerStatus| {
        s.playout_error_us.is_some_and(|e| e.abs() < 1_000.0)
    };
    let first = player.status();
    if in_step(&first) {
        return (first, true);
    }
    let mut status = first;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        status = player.status();
        if in_step(&status) {
            break;
        }
    }
    (status, false)
}

/// Re-seeks a run may have needed through no fault of the player: the sink's underruns
/// (read from `out`'s sidecar, once the player is dropped) and late decoder blocks.
fn excuses(out: &Path, status: &chorus::audio::player::PlayerStatus) -> u64 {
    sidecar(out).underruns + status.decoder_late
}

/// The sidecar of the recording at `out`, written when its player was dropped.
fn sidecar(out: &Path) -> WavSidecar {
    WavSidecar::read(out).unwrap()
}

/// A paced null sink whose device can be unplugged: while `gone` is set every call
/// fails with `DeviceGone`, and the calls are counted.
#[derive(Debug)]
struct Unpluggable {
    inner: chorus::audio::null::NullSink,
    gone: Arc<AtomicBool>,
    calls_while_gone: Arc<AtomicU64>,
}

impl Unpluggable {
    fn check(&self) -> Result<(), SinkError> {
        if !self.gone.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.calls_while_gone.fetch_add(1, Ordering::SeqCst);
        Err(SinkError::DeviceGone {
            device: "usb-dac".into(),
            retry_after: Duration::from_millis(100),
            reason: "No such device".into(),
        })
    }
}

impl Sink for Unpluggable {
    fn format(&self) -> SinkFormat {
        self.inner.format()
    }
    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        self.check()?;
        self.inner.write(samples)
    }
    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        self.check()?;
        self.inner.timing()
    }
    fn pause(&mut self) -> Result<(), SinkError> {
        self.inner.pause()
    }
    fn resume(&mut self) -> Result<(), SinkError> {
        self.inner.resume()
    }
    fn drain(&mut self) -> Result<(), SinkError> {
        self.check()?;
        self.inner.drain()
    }
}

#[test]
fn a_vanished_device_is_reported_waited_for_and_played_on_schedule_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_song(&song, 4.0);
    let format = SinkFormat {
        rate: 48_000,
        channels: 2,
    };
    let gone = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let sink = Unpluggable {
        inner: chorus::audio::null::NullSink::new(format, Duration::from_millis(40)),
        gone: Arc::clone(&gone),
        calls_while_gone: Arc::clone(&calls),
    };
    let player = Player::spawn(Box::new(sink)).unwrap();
    let start = monotonic_now() + Duration::from_millis(100);
    let target = LocalTarget {
        song_seconds: 0.0,
        at: start,
        pace: 1.0,
    };
    assert!(player.send(PlayerCommand::Play { path: song, target }));
    std::thread::sleep(Duration::from_millis(500));
    assert!(player.status().position_ms > 200);

    gone.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1_000));
    let during = player.status();
    let error = during.last_error.clone().unwrap_or_default();
    assert!(error.contains("usb-dac"), "status error: {error:?}");
    assert!(during.playing, "the song is still scheduled");
    // Retried every 100 ms as the sink asked, not in a busy loop.
    let attempts = calls.load(Ordering::SeqCst);
    assert!(
        (3..=20).contains(&attempts),
        "{attempts} calls in 1 s of outage"
    );

    gone.store(false, Ordering::SeqCst);
    // The error clears once the device has worked for half a second.
    std::thread::sleep(Duration::from_millis(1_000));
    let after = player.status();
    assert_eq!(after.last_error, None);
    assert!(after.playing);
    // Back on the schedule, not where the song stopped when the device vanished.
    let due_ms = (monotonic_now() - start).as_millis() as f64;
    let error_ms = after.position_ms as f64 - due_ms;
    assert!(
        error_ms.abs() < 100.0,
        "position {} ms, schedule {due_ms} ms",
        after.position_ms
    );
    assert!(after.playout_error_us.unwrap().abs() < 2_000.0);
}

/// A jump in the schedule is re-seeked (and counted) with a short fade out and in: the
/// recorded tone never steps by more than a sine's own slope, where a cut would step by
/// its whole amplitude.
#[test]
fn a_reseek_fades_out_and_in_instead_of_clicking() {
    let dir = tempfile::tempdir().unwrap();
    let (player, song, out) = recorded_player(dir.path(), 4.0);
    let start = monotonic_now() + Duration::from_millis(200);
    let target = LocalTarget {
        song_seconds: 0.0,
        at: start,
        pace: 1.0,
    };
    let play = |target| PlayerCommand::Play {
        path: song.clone(),
        target,
    };
    assert!(player.send(play(target)));
    std::thread::sleep(Duration::from_millis(900));
    let before = player.status().reseeks;
    // The schedule now wants the song a second further on.
    let jumped = LocalTarget {
        song_seconds: 1.0,
        ..target
    };
    assert!(player.send(play(jumped)));
    std::thread::sleep(Duration::from_millis(900));
    let status = player.status();
    assert!(status.playout_error_us.is_some_and(|e| e.abs() < 1_000.0));
    drop(player);
    // One re-seek for the jump; any other only where a starved thread explains it.
    let excused = excuses(&out, &status);
    assert!(
        before <= excused,
        "{before} re-seeks before the jump: {status:?}"
    );
    assert!(
        status.reseeks >= 1 && status.reseeks - 1 <= excused,
        "{status:?}"
    );

    let mut reader = hound::WavReader::open(&out).unwrap();
    let left: Vec<f32> = reader
        .samples::<f32>()
        .map(|s| s.unwrap())
        .step_by(2)
        .collect();
    // A 1 kHz sine of amplitude 0.5 moves at most 0.065 per 48 kHz sample. Where the
    // device ran dry (a starved thread) it cut to silence and back: that is the sink's
    // gap, recorded in the sidecar, not the player's.
    let gap_edges: Vec<usize> = sidecar(&out)
        .gaps
        .iter()
        .flat_map(|&[at, frames]| [at as usize, (at + frames) as usize])
        .collect();
    let (at, steepest) = left
        .windows(2)
        .enumerate()
        .filter(|(i, _)| !gap_edges.contains(&(i + 1)))
        .map(|(i, w)| (i + 1, (w[1] - w[0]).abs()))
        .fold((0, 0.0f32), |a, b| if b.1 > a.1 { b } else { a });
    assert!(
        steepest < 0.1,
        "a click: the output stepped by {steepest} at frame {at} (device gaps at {gap_edges:?})"
    );
}

/// Every bundled song of `music/` (one per format, mono 22.05 kHz to stereo 44.1 kHz),
/// joined 10 s in as a late box would, plays through the player at the device's 48 kHz
/// in step with its schedule.
#[test]
fn every_bundled_format_is_joined_mid_song_and_plays_in_step() {
    let music = Path::new(env!("CARGO_MANIFEST_DIR")).join("music");
    let mut songs: Vec<PathBuf> = std::fs::read_dir(&music)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    songs.sort();
    assert_eq!(songs.len(), 5, "{songs:?}");
    let dir = tempfile::tempdir().unwrap();
    for song in songs {
        let format = SinkFormat {
            rate: 48_000,
            channels: 2,
        };
        let sink = WavSink::create(
            &dir.path().join("out.wav"),
            format,
            Duration::from_millis(40),
        )
        .unwrap();
        let player = Player::spawn(Box::new(sink)).unwrap();
        join_under_way(&player, &song, Duration::from_secs(10), 12);
        let (status, at_once) = in_step(&player);
        assert_eq!(status.last_error, None, "{song:?}");
        assert!(status.playing, "{song:?}");
        let error_us = status.playout_error_us.unwrap();
        assert!(error_us.abs() < 1_000.0, "{song:?}: {error_us:.0} us off");
        drop(player);
        // The join itself never re-seeks nor needs time to settle; a device that ran dry
        // or a decoder that fell behind (a starved thread on a slow or emulated CPU) may,
        // and the box must be back in step soon after (checked above).
        let excused = excuses(&dir.path().join("out.wav"), &status);
        assert!(at_once || excused > 0, "{song:?} settled late: {status:?}");
        assert!(
            status.reseeks <= excused,
            "{song:?}: {} re-seeks with {} late decoder blocks and the underruns of {}",
            status.reseeks,
            status.decoder_late,
            sidecar_path(&dir.path().join("out.wav")).display()
        );
        // What reached the device is the song, not silence.
        let mut reader = hound::WavReader::open(dir.path().join("out.wav")).unwrap();
        let peak = reader
            .samples::<f32>()
            .map(|s| s.unwrap().abs())
            .fold(0.0f32, f32::max);
        assert!(peak > 0.1, "{song:?}: recorded peak {peak}");
    }
}
