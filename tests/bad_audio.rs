//! Bad audio never takes the party down: broken and unusual files, all generated here,
//! are each played correctly or skipped with a reason, and a song that ends before its
//! header says is over once, quietly, while the schedule moves on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_audio {
    mod catalogue;
    pub mod files;
}
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bad_audio::files;
use chorus::audio::player::{LocalTarget, Player, PlayerCommand, PlayerStatus};
use chorus::audio::wav::WavSink;
use chorus::audio::SinkFormat;
use chorus::clock::monotonic_now;
use chorus::core::Instant;
use chorus::library::Library;

/// A player recording into `dir/out.wav` (48 kHz stereo, 40 ms buffer).
fn player(dir: &Path) -> Player {
    let format = SinkFormat {
        rate: 48_000,
        channels: 2,
    };
    let sink = WavSink::create(&dir.join("out.wav"), format, Duration::from_millis(40)).unwrap();
    Player::spawn(Box::new(sink)).unwrap()
}

/// Plays `song` from its start at `start` and re-anchors it every 50 ms until `until`,
/// the way the driver does while the schedule names it; returns the status then.
fn drive(player: &Player, song: &Path, start: Instant, until: Instant) -> PlayerStatus {
    loop {
        let now = monotonic_now();
        if now >= until {
            return player.status();
        }
        let target = LocalTarget {
            song_seconds: now.saturating_duration_since(start).as_secs_f64(),
            at: now.max(start),
            pace: 1.0,
        };
        assert!(player.send(PlayerCommand::Play {
            path: song.to_path_buf(),
            target,
        }));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn song(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    files::tone_wav(&path, 44_100, 2, seconds);
    path
}

#[test]
fn a_song_ends_quietly_once_although_the_schedule_still_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let player = player(dir.path());
    let first = song(dir.path(), "first.wav", 0.5);
    let start = monotonic_now() + Duration::from_millis(100);
    // The schedule's end trails the decoder's: it names the song 1 s past its audio.
    let status = drive(&player, &first, start, start + Duration::from_millis(1_500));
    assert!(!status.playing, "{status:?}");
    assert_eq!(status.opened, 1, "opened again after its end: {status:?}");
    assert_eq!(status.last_error, None, "a normal end is no error");
}

#[test]
fn a_header_promising_minutes_over_seconds_ends_once_with_a_message_then_the_next_plays() {
    let dir = tempfile::tempdir().unwrap();
    let player = player(dir.path());
    let cut = song(dir.path(), "cut.wav", 0.5);
    files::claim_seconds(&cut, 180);
    let start = monotonic_now() + Duration::from_millis(100);
    let status = drive(&player, &cut, start, start + Duration::from_millis(2_000));
    assert!(!status.playing, "{status:?}");
    assert_eq!(status.opened, 1, "opened again after its end: {status:?}");
    let message = status.last_error.unwrap();
    assert!(
        message.contains("cut.wav") && message.contains("180.0 s its header promises"),
        "{message}"
    );
    // The schedule moves on: the next song plays.
    let next = song(dir.path(), "next.wav", 2.0);
    let start = monotonic_now() + Duration::from_millis(100);
    let status = drive(&player, &next, start, start + Duration::from_millis(600));
    assert!(status.playing, "{status:?}");
    assert_eq!((status.opened, status.last_error.as_deref()), (2, None));
    assert!(status.position_ms > 300, "{status:?}");
}

/// A music folder and a state folder.
struct Folders {
    _root: tempfile::TempDir,
    music: PathBuf,
    state: PathBuf,
}

fn folders() -> Folders {
    let root = tempfile::tempdir().unwrap();
    let music = root.path().join("music");
    let state = root.path().join("state");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    Folders {
        _root: root,
        music,
        state,
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn the_library_takes_the_length_a_file_holds_not_the_one_its_header_promises() {
    let f = folders();
    let cut = song(&f.music, "cut.wav", 2.0);
    files::claim_seconds(&cut, 180);
    // Compressed songs cut to 40 %: their headers still promise the whole second.
    for name in ["tone.flac", "tone.mp3"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        std::fs::write(f.music.join(name), &bytes[..bytes.len() * 4 / 10]).unwrap();
    }
    let honest = song(&f.music, "honest.wav", 3.0);
    let mut lib = Library::open(&f.music, &f.state).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!(report.songs, 4, "{:?}", report.skipped);
    let length = |p: &Path| {
        lib.songs()
            .iter()
            .find(|s| s.path == p)
            .and_then(|s| s.duration_ms)
            .unwrap()
    };
    let cut_ms = length(&cut);
    // To within a packet: a seek into the last packet lands on its start.
    assert!((1_980..=2_050).contains(&cut_ms), "cut.wav: {cut_ms} ms");
    assert_eq!(length(&honest), 3_000);
    for name in ["tone.flac", "tone.mp3"] {
        let ms = length(&f.music.join(name));
        // 40 % of the bytes is not quite 40 % of the audio (tags, frame sizes).
        assert!(
            (100..800).contains(&ms),
            "{name}: {ms} ms of a 1000 ms claim"
        );
    }
}

/// A box started without `CHORUS_LOG` logs a file that is not a song as one info line of
/// its own, not as the decoding library's red ERROR lines.
#[test]
fn a_file_that_is_not_a_song_is_one_line_of_ours_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::write(music.join("notes.mp3"), "not a song\n".repeat(10)).unwrap();
    std::fs::write(music.join("riff.wav"), b"RIFF\x10\0\0\0AVI LIST").unwrap();
    song(&music, "fine.wav", 0.5);
    let config = common::box_config(dir.path(), "b", &music, "null", "", "");
    let log = dir.path().join("stderr.log");
    let state = dir.path().join("b");
    let mut child = std::process::Command::new(common::BIN)
        .args(["run", "--name", "b", "--interface", "127.0.0.1"])
        .args(["--unicast-port", "0", "--control-port", "0", "--port"])
        .arg(common::test_port(91).to_string())
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(&config)
        .env_remove("CHORUS_LOG")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let scanned = common::wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("music library scanned"))
    });
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(scanned.is_some(), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
    let skipped: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("not a song, skipped"))
        .collect();
    assert_eq!(skipped.len(), 2, "{text}");
    assert!(skipped.iter().any(|l| l.contains("notes.mp3")), "{text}");
}

/// A song whose file blocks every read (a named pipe no one writes) is given up by the
/// watchdog with a message, and the next song plays on a fresh decoding thread.
#[test]
fn a_song_that_never_opens_is_skipped_by_the_watchdog_and_the_next_one_plays() {
    let dir = tempfile::tempdir().unwrap();
    let player = player(dir.path());
    let stuck = dir.path().join("stuck.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&stuck)
        .status()
        .unwrap();
    assert!(made.success());
    let start = monotonic_now() + Duration::from_millis(100);
    let status = drive(&player, &stuck, start, start + Duration::from_millis(6_000));
    assert!(!status.playing, "{status:?}");
    let message = status.last_error.clone().unwrap_or_default();
    assert!(
        message.contains("stuck.wav") && message.contains("did not answer"),
        "{status:?}"
    );
    assert_eq!(status.opened, 1, "asked again while stuck: {status:?}");
    let next = song(dir.path(), "next.wav", 2.0);
    let start = monotonic_now() + Duration::from_millis(100);
    let status = drive(&player, &next, start, start + Duration::from_millis(600));
    assert!(status.playing, "{status:?}");
    assert!(status.position_ms > 300, "{status:?}");
}

/// RMS and frequency of the left channel of the recording's non-silent part. The
/// frequency is the rate over the median distance between rising zero crossings, so a
/// short gap (a decoder that fell behind a block on a busy machine) does not bend it.
fn tone_of(recording: &Path) -> (f64, f64) {
    let mut reader = hound::WavReader::open(recording).unwrap();
    let rate = f64::from(reader.spec().sample_rate);
    let left: Vec<f32> = reader
        .samples::<f32>()
        .map(|s| s.unwrap())
        .step_by(2)
        .collect();
    let first = left.iter().position(|s| s.abs() > 0.05).unwrap_or(0);
    let last = left.iter().rposition(|s| s.abs() > 0.05).unwrap_or(0);
    let sound = &left[first..=last.max(first)];
    let rms =
        (sound.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / sound.len() as f64).sqrt();
    // Each crossing placed between its two samples, for a fraction of a sample.
    let rising: Vec<f64> = sound
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + f64::from(w[0] / (w[0] - w[1])))
        .collect();
    let mut periods: Vec<f64> = rising.windows(2).map(|p| p[1] - p[0]).collect();
    periods.sort_unstable_by(f64::total_cmp);
    let median = periods
        .get(periods.len() / 2)
        .copied()
        .unwrap_or(f64::INFINITY);
    (rms, rate / median)
}

/// 8 channels, 192 kHz and 8 kHz mono play as the same 440 Hz tone on a 48 kHz stereo
/// device: channels down- or up-mixed, the rate resampled.
#[test]
fn unusual_channel_counts_and_rates_play_as_the_right_tone() {
    for (name, rate, channels) in [
        ("8ch", 48_000, 8),
        ("192k", 192_000, 2),
        ("8k-mono", 8_000, 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.wav"));
        files::tone_wav(&path, rate, channels, 1.0);
        let player = player(dir.path());
        let start = monotonic_now() + Duration::from_millis(100);
        let status = drive(&player, &path, start, start + Duration::from_millis(1_400));
        assert_eq!(status.last_error, None, "{name}");
        assert!(!status.playing, "{name}: a 1 s song is over: {status:?}");
        drop(player);
        let (rms, hz) = tone_of(&dir.path().join("out.wav"));
        eprintln!("{name}: rms {rms:.3}, {hz:.1} Hz");
        assert!((0.3..0.4).contains(&rms), "{name}: rms {rms}");
        assert!((hz - 440.0).abs() < 5.0, "{name}: {hz} Hz");
    }
}

/// A file rewritten between the scan and its playing holds other bytes than its id
/// names: it is no longer that song (the box never plays it as such) until a rescan.
#[test]
fn a_file_rewritten_after_the_scan_is_not_the_song_it_was() {
    let f = folders();
    let path = song(&f.music, "changing.wav", 1.0);
    let mut lib = Library::open(&f.music, &f.state).unwrap();
    lib.scan().unwrap();
    let before = lib.songs()[0].clone();
    assert!(before.unchanged());
    // Same length, other content, a later modification time.
    files::tone_wav(&path, 22_050, 2, 2.0);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before.size);
    assert!(
        !before.unchanged(),
        "a rewritten file still taken for the song"
    );
    lib.scan().unwrap();
    let after = &lib.songs()[0];
    assert_ne!(after.id, before.id);
    assert!(after.unchanged());
}

/// A song that breaks part-way plays what decodes and then stops with a message: every
/// box decodes the same bytes, so every box stops at the same frame, not when its own
/// read-ahead (up to a second) reached the damage.
#[test]
fn a_song_broken_part_way_plays_up_to_the_damage_then_stops_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = std::fs::read(fixture("tone.mp3")).unwrap();
    let cut = mp3.len() * 4 / 10;
    let mut broken = mp3[..cut].to_vec();
    broken.extend(files::garbage(1 << 20));
    broken.extend_from_slice(&mp3[cut..]);
    let path = dir.path().join("broken.mp3");
    std::fs::write(&path, broken).unwrap();
    let player = player(dir.path());
    let start = monotonic_now() + Duration::from_millis(100);
    let status = drive(&player, &path, start, start + Duration::from_millis(1_500));
    assert!(!status.playing, "{status:?}");
    assert_eq!(status.opened, 1, "opened again after it broke: {status:?}");
    let message = status.last_error.clone().unwrap_or_default();
    assert!(
        message.contains("broken.mp3") && message.contains("corrupt"),
        "{status:?}"
    );
    drop(player);
    // The tone lasts the 0.42 s before the damage (18 432 frames of the fixture).
    let mut reader = hound::WavReader::open(dir.path().join("out.wav")).unwrap();
    let left: Vec<f32> = reader
        .samples::<f32>()
        .map(|s| s.unwrap())
        .step_by(2)
        .collect();
    let first = left.iter().position(|s| s.abs() > 0.05).unwrap();
    let last = left.iter().rposition(|s| s.abs() > 0.05).unwrap();
    let heard = (last - first) as f64 / 48_000.0;
    assert!(
        (0.35..0.45).contains(&heard),
        "heard {heard:.3} s of 0.42 s"
    );
}
