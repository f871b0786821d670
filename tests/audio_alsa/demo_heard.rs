//! The demo's audible box reaches a sound device: `chorus demo --speaker alsa:default`
//! plays box-1 through real ALSA into the sound server while the other boxes record to
//! WAV files; a recording of the server's sink holds the same music as box-2's file, at
//! the same pace, as loud.

use std::process::{Command, Stdio};
use std::time::Duration;

use chorus::audio::wav::{sidecar_path, WavSidecar};
use chorus::bench::playout::signal::read_wav;
use chorus::clock::monotonic_now;

/// Samples per envelope step: 10 ms at 48 kHz.
const STEP: usize = 480;

/// RMS of each 10 ms of `x`.
fn envelope(x: &[f32]) -> Vec<f64> {
    x.chunks_exact(STEP)
        .map(|c| (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / STEP as f64).sqrt())
        .collect()
}

/// Normalized correlation of `a` with `b` shifted by `lag` steps, over where both exist,
/// and the RMS ratio b/a there.
fn similarity(a: &[f64], b: &[f64], lag: isize) -> (f64, f64) {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .enumerate()
        .filter_map(|(i, &x)| Some((x, *b.get(i.checked_add_signed(lag)?)?)))
        .collect();
    if pairs.len() < 300 {
        return (0.0, 0.0);
    }
    let n = pairs.len() as f64;
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(p, q), (x, y)| (p + x, q + y));
    let (ma, mb) = (ma / n, mb / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    let level = |s: f64| (s / n).sqrt();
    let ea: f64 = pairs.iter().map(|(x, _)| x * x).sum();
    let eb: f64 = pairs.iter().map(|(_, y)| y * y).sum();
    (
        sab / (saa * sbb).sqrt().max(1e-12),
        level(eb) / level(ea).max(1e-12),
    )
}

#[test]
fn the_demos_audible_box_is_heard_through_alsa() {
    let _server = super::server();
    // The same device the demo's box will open: skips (or fails, when required) as the
    // other real-ALSA tests do.
    let Some(probe) = super::open(super::config()) else {
        return;
    };
    drop(probe);
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("heard.wav");
    let recording_from = monotonic_now();
    let mut recorder = Command::new("pw-record")
        .args([
            "--target",
            "null-sink",
            "-P",
            "{ stream.capture.sink = true }",
        ])
        .args(["--rate", "48000", "--channels", "2", "--format", "f32"])
        .arg(&heard)
        .stdout(Stdio::null())
        .spawn()
        .expect("pw-record (from pipewire-bin) records the sound server's sink");
    let port = 20_000 + (std::process::id() % 30_000) as u16;
    let demo = Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["demo", "--duration", "18", "--tour", "4", "--boxes", "3"])
        .args(["--speaker", "alsa:default", "--audible", "1", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir.path())
        .env("CHORUS_LOG", "warn")
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &recorder.id().to_string()])
        .status();
    recorder.wait().unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(
        stdout.contains("box-1 plays through alsa:default"),
        "{stdout}"
    );
    assert!(!dir.path().join("box-1.wav").exists(), "box-1 recorded");

    let (rate, rec) = read_wav(&heard).unwrap();
    assert_eq!(rate, 48_000);
    let box2 = dir.path().join("box-2.wav");
    let (rate2, other) = read_wav(&box2).unwrap();
    assert_eq!(rate2, 48_000);
    let side: WavSidecar =
        serde_json::from_slice(&std::fs::read(sidecar_path(&box2)).unwrap()).unwrap();
    let heard_env = envelope(&rec[0]);
    let box2_env = envelope(&other[0]);
    // Where box-2's first frame should sit in the sink's recording, by the clock; the
    // recorder starts a little after it was spawned, so look up to 3 s either side.
    let first = side.first_frame_monotonic_ns.unwrap();
    let predicted = (first.saturating_sub(recording_from.as_nanos()) / 10_000_000) as isize;
    let (lag, (corr, level)) = (predicted - 300..=predicted + 300)
        .map(|lag| (lag, similarity(&box2_env, &heard_env, lag)))
        .fold((0, (f64::MIN, 0.0)), |best, c| {
            if c.1 .0 > best.1 .0 {
                c
            } else {
                best
            }
        });
    eprintln!(
        "heard: {:.1} s recorded; box-2's music found {} ms from the clock's guess, \
         envelope correlation {corr:.3}, level {level:.2} of box-2's",
        rec[0].len() as f64 / 48_000.0,
        (lag - predicted) * 10
    );
    assert!(
        corr > 0.9,
        "the sound device did not hear box-2's music in step: correlation {corr:.3}"
    );
    assert!(
        (0.7..1.4).contains(&level),
        "the audible box played at {level:.2} of box-2's level"
    );
}
