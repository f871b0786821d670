//! Real ALSA: play a generated sine through the `alsa` sink into a paced device (a
//! PipeWire null sink in CI: `scripts/pipewire-null-sink.sh start`) and check that it
//! takes real time and that the reported position tracks CLOCK_MONOTONIC; then take the
//! device away under a playing player and bring it back; and hear the demo's audible box.
#![cfg(feature = "alsa")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "audio_alsa/demo_heard.rs"]
mod demo_heard;
#[path = "audio_alsa/vanish.rs"]
mod vanish;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant as StdInstant};

use chorus::audio::alsa::{AlsaConfig, AlsaSink};
use chorus::audio::{Sink, SinkParams};

/// The PipeWire runtime dir scripts/pipewire-null-sink.sh uses.
const PW_RUN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pw/run");

/// One test at a time owns the sound server: timing is measured, and one test takes
/// the device away.
static SERVER: Mutex<()> = Mutex::new(());

/// Takes the sound server and points ALSA clients at the one the script started, when
/// the caller did not export its runtime dir.
fn server() -> MutexGuard<'static, ()> {
    let guard = SERVER.lock().unwrap_or_else(PoisonError::into_inner);
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::path::Path::new(PW_RUN).exists() {
        std::env::set_var("XDG_RUNTIME_DIR", PW_RUN);
    }
    guard
}

/// The device under test: `CHORUS_ALSA_DEVICE`, or ALSA's default.
fn config() -> AlsaConfig {
    AlsaConfig {
        device: std::env::var("CHORUS_ALSA_DEVICE").unwrap_or_else(|_| "default".into()),
        ..AlsaConfig::from_params(&SinkParams::default())
    }
}

/// Opens the device; without one the test is skipped, unless `CHORUS_ALSA_REQUIRED` says
/// there must be one (`scripts/test` sets it once its null sink is up; CI always).
fn open(config: AlsaConfig) -> Option<AlsaSink> {
    let device = config.device.clone();
    match AlsaSink::open(config) {
        Ok(sink) => Some(sink),
        Err(err) if std::env::var_os("CHORUS_ALSA_REQUIRED").is_some() => {
            panic!("cannot open ALSA device {device:?}: {err}")
        }
        Err(err) => {
            println!("skipped: cannot open ALSA device {device:?}: {err} (start scripts/pipewire-null-sink.sh)");
            None
        }
    }
}

/// `frames` of a 1 kHz sine at `rate`, stereo, continuing from `phase`.
fn sine(frames: usize, rate: f64, phase: &mut f64) -> Vec<f32> {
    let mut samples = Vec::with_capacity(frames * 2);
    for _ in 0..frames {
        let s = (0.2 * phase.sin()) as f32;
        samples.extend_from_slice(&[s, s]);
        *phase += std::f64::consts::TAU * 1_000.0 / rate;
    }
    samples
}

#[test]
fn an_underrun_is_recovered_by_reopening_and_the_position_keeps_to_the_clock() {
    let _server = server();
    let Some(mut sink) = open(config()) else {
        return;
    };
    let granted = sink.granted();
    let rate = f64::from(sink.format().rate);
    let block = 480usize;
    let mut phase = 0.0f64;
    // Per reading: time minus played position (s; constant while the stream flows) and
    // the underruns so far.
    let mut segment = |sink: &mut AlsaSink, blocks: usize| -> Vec<(f64, u64)> {
        let mut readings = Vec::new();
        for n in 0..blocks {
            sink.write(&sine(block, rate, &mut phase)).unwrap();
            if n >= 10 && n % 5 == 0 {
                let t = sink.timing().unwrap();
                let lag = t.at.as_nanos() as f64 * 1e-9 - t.audible_frame() as f64 / rate;
                readings.push((lag, sink.underruns()));
            }
        }
        readings
    };
    let before = segment(&mut sink, 100);
    let underruns = sink.underruns();
    // Far longer than the buffer: the device runs dry.
    std::thread::sleep(Duration::from_millis(250));
    let after = segment(&mut sink, 150);
    assert!(sink.underruns() > underruns, "the stall was an underrun");
    assert_eq!(sink.granted(), granted, "reopened with the same parameters");
    // A loaded machine may underrun again on its own: judge the stretch after the last.
    let last = sink.underruns();
    let settled: Vec<f64> = after
        .iter()
        .filter(|(_, u)| *u == last)
        .map(|(l, _)| *l)
        .collect();
    assert!(
        settled.len() >= 5,
        "too few readings after recovery: {after:?}"
    );
    let lo = settled.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = settled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Every frame written is numbered once: after the gap the position goes on from where
    // it was, behind the clock by the silence, and keeps to the clock again.
    let jump = after[0].0 - before[before.len() - 1].0;
    println!(
        "time - position after recovery: spread {:.2} ms; fell behind by {:.1} ms",
        (hi - lo) * 1e3,
        jump * 1e3
    );
    assert!(hi - lo < 0.020, "after the underrun: {after:?}");
    assert!(
        (0.150..2.0).contains(&jump),
        "the position fell behind the clock by the silence, not {jump} s"
    );
}

/// Plays 2 s of a sine; returns how long that took and how far `written - delay` strayed
/// from the monotonic clock (seconds).
fn play_two_seconds(sink: &mut AlsaSink) -> (Duration, f64) {
    let rate = f64::from(sink.format().rate);
    let block = 480usize;
    let total_blocks = (2.0 * rate) as usize / block;
    let mut phase = 0.0f64;
    let mut offsets = Vec::new();
    let start = StdInstant::now();
    for n in 0..total_blocks {
        if let Err(err) = sink.write(&sine(block, rate, &mut phase)) {
            panic!("write failed: {err}");
        }
        // Sample the position every 100 ms once the stream is running.
        if n >= 10 && n % 10 == 0 {
            let Ok(t) = sink.timing() else { continue };
            let played = t.audible_frame() as f64 / rate;
            offsets.push((t.at.as_nanos() as f64 * 1e-9 - played, t.delay));
        }
    }
    if let Err(err) = sink.drain() {
        panic!("drain failed: {err}");
    }
    let elapsed = start.elapsed();
    assert!(offsets.len() >= 10);
    let base = offsets[0].0;
    let worst = offsets
        .iter()
        .map(|(o, _)| (o - base).abs())
        .fold(0.0, f64::max);
    println!(
        "2 s of audio took {elapsed:?}, underruns {}; position vs monotonic clock over {} \
         readings: worst drift {:.2} ms, delays {:?}",
        sink.underruns(),
        offsets.len(),
        worst * 1e3,
        offsets.iter().map(|(_, d)| *d).collect::<Vec<_>>()
    );
    (elapsed, worst)
}

/// The sound server here is driven by a timer on a virtual machine, and now and then the
/// host does not run it for a cycle: the stream then plays a quantum later, with no
/// underrun to see (seen once in about ten runs: 2.038 s for 2 s of audio and a step of
/// exactly 1024 frames). Such a window is played again, at most this many times in all.
const WINDOWS: usize = 3;

#[test]
fn sine_plays_in_real_time_and_position_tracks_the_monotonic_clock() {
    let _server = server();
    let config = config();
    let Some(mut sink) = open(config) else { return };
    let granted = sink.granted();
    println!("granted: {granted:?}");
    assert!(granted.period_frames <= 480 * 2, "period {granted:?}");
    let mut worst = f64::INFINITY;
    for _ in 0..WINDOWS {
        let (elapsed, drift) = play_two_seconds(&mut sink);
        assert!(
            elapsed >= Duration::from_millis(1_800),
            "{elapsed:?}: not paced"
        );
        worst = worst.min(drift);
        if worst < 0.020 {
            break;
        }
    }
    assert!(
        worst < 0.020,
        "written - delay drifted {:.1} ms from the clock in each of {WINDOWS} windows",
        worst * 1e3
    );
}
