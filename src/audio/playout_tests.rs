//! The controller against a simulated DAC with a crystal error, in virtual time.

use super::*;
use crate::audio::device_position::{DevicePosition, DevicePositionConfig};
use crate::audio::simdac::{SimDac, SimDacConfig};
use crate::audio::{Sink, SinkFormat};

const RATE: u32 = 48_000;
const BLOCK: usize = 480;

struct Run {
    max_abs_ppm: f64,
    reseeks: usize,
    /// Largest |error| in the last 20 s, seconds.
    settled_error: f64,
    /// Largest |error| from 5 s on, seconds.
    error_after_5s: f64,
    final_ppm: f64,
}

/// Play `seconds` of a song through a DAC running `dac_ppm` fast, scheduled so that song
/// frame 0 should be audible `offset` seconds after the DAC started (negative: before).
/// The resampler is modelled exactly: each output frame advances the song 1/(1+ppm).
fn run(dac_ppm: f64, offset: f64, seconds: u64) -> Run {
    let start = Instant::from_nanos(5_000_000_000);
    let mut dac = SimDac::new(SimDacConfig {
        format: SinkFormat {
            rate: RATE,
            channels: 1,
        },
        rate_error_ppm: dac_ppm,
        buffer_frames: 960,
        start,
        noise: Default::default(),
    });
    let target = PlayoutTarget {
        song_frame: 0.0,
        at: Instant::from_nanos((start.as_nanos() as f64 + offset * 1e9) as u64),
        song_rate: RATE,
        pace: 1.0,
    };
    let mut controller = PlayoutController::new(PlayoutConfig::default());
    let mut map = PositionMap::new(64);
    let (mut song, mut out, mut ppm) = (0.0f64, 0u64, 0.0f64);
    let mut result = Run {
        max_abs_ppm: 0.0,
        reseeks: 0,
        settled_error: 0.0,
        error_after_5s: 0.0,
        final_ppm: 0.0,
    };
    let mut device = DevicePosition::new(RATE, DevicePositionConfig::default());
    let block = vec![0.0f32; BLOCK];
    let blocks = seconds * u64::from(RATE) / BLOCK as u64;
    for n in 0..blocks {
        map.record(out, song);
        song += BLOCK as f64 / (1.0 + ppm * 1e-6);
        out += BLOCK as u64;
        assert!(dac.write(&block).is_ok());
        let Ok(timing) = dac.timing() else { continue };
        let estimate = device.update(&timing);
        match controller.update(&target, &estimate, &map, RATE) {
            PlayoutDecision::Steer { ppm: p, error } => {
                ppm = p;
                result.max_abs_ppm = result.max_abs_ppm.max(p.abs());
                let at = n * BLOCK as u64;
                if at >= seconds.saturating_sub(20) * u64::from(RATE) {
                    result.settled_error = result.settled_error.max(error.abs());
                }
                if at >= 5 * u64::from(RATE) {
                    result.error_after_5s = result.error_after_5s.max(error.abs());
                }
            }
            PlayoutDecision::Reseek { .. } => result.reseeks += 1,
            PlayoutDecision::Wait => {}
        }
    }
    result.final_ppm = ppm;
    result
}

#[test]
fn locks_onto_a_fast_dac_within_50_us_and_500_ppm() {
    let r = run(80.0, 0.0, 60);
    println!(
        "+80 ppm DAC: settled error {:.1} us, steering {:.1} ppm, max |steer| {:.1} ppm",
        r.settled_error * 1e6,
        r.final_ppm,
        r.max_abs_ppm
    );
    assert_eq!(r.reseeks, 0);
    assert!(r.settled_error < 50e-6, "{} s", r.settled_error);
    assert!(r.max_abs_ppm <= 500.0);
    assert!(
        (r.final_ppm - 80.0).abs() < 10.0,
        "learned {} ppm",
        r.final_ppm
    );
}

#[test]
fn a_fast_dac_is_in_step_within_seconds_not_tens_of_seconds() {
    // The device position filter measures the rate; the controller feeds it forward
    // instead of learning it through its integral (which takes ~20 s at these gains).
    let r = run(100.0, 0.0, 10);
    println!(
        "+100 ppm DAC: largest error after 5 s {:.1} us",
        r.error_after_5s * 1e6
    );
    assert_eq!(r.reseeks, 0);
    assert!(r.error_after_5s < 20e-6, "{} s", r.error_after_5s);
}

#[test]
fn steers_away_a_small_offset_without_reseeking() {
    // 1.5 ms early and a slow DAC: too small to re-seek, so it must be steered away.
    let r = run(-100.0, 0.0015, 90);
    println!(
        "1.5 ms offset, -100 ppm DAC: settled error {:.1} us, max |steer| {:.1} ppm",
        r.settled_error * 1e6,
        r.max_abs_ppm
    );
    assert_eq!(r.reseeks, 0);
    assert!(r.settled_error < 50e-6, "{} s", r.settled_error);
    assert!(r.max_abs_ppm <= 500.0);
}

#[test]
fn reseeks_a_repeated_large_error_to_the_frame_due_next() {
    let mut controller = PlayoutController::new(PlayoutConfig::default());
    let mut map = PositionMap::new(8);
    map.record(0, 0.0);
    map.record(48_000, 48_000.0);
    let device = PositionEstimate {
        written: 48_000,
        audible: 47_040.0,
        at: Instant::from_nanos(2_000_000_000),
        rate: f64::from(RATE),
        rate_learned: true,
    };
    // The schedule wanted song frame 0 at t = 0.9 s: at 2 s frame 52 800 is due, the DAC
    // plays 47 040 (120 ms behind).
    let target = PlayoutTarget {
        song_frame: 0.0,
        at: Instant::from_nanos(900_000_000),
        song_rate: RATE,
        pace: 1.0,
    };
    // One reading so far off may be the device's reporting: only a repeated one re-seeks.
    for _ in 1..super::RESEEK_AFTER_READINGS {
        match controller.update(&target, &device, &map, RATE) {
            PlayoutDecision::Steer { ppm, error } => {
                assert_eq!(ppm, 0.0, "not steered on");
                assert!((error + 0.12).abs() < 1e-9, "{error}");
            }
            other => panic!("expected no re-seek yet, got {other:?}"),
        }
    }
    match controller.update(&target, &device, &map, RATE) {
        PlayoutDecision::Reseek { song_frame, error } => {
            assert!((error + 0.12).abs() < 1e-9, "{error}");
            assert!((song_frame - 53_760.0).abs() < 1e-6, "{song_frame}");
        }
        other => panic!("expected a re-seek, got {other:?}"),
    }
    assert_eq!(PositionMap::new(4).song_frame_at(10.0), None);
}

#[test]
fn the_integral_holds_still_while_the_device_rate_is_learned() {
    let mut controller = PlayoutController::new(PlayoutConfig::default());
    let at = |ms: u64| Instant::from_nanos(ms * 1_000_000);
    // 100 µs behind for a second, while the fed-forward rate is still being learned:
    // proportional only, nothing stored.
    for ms in (0..1_000).step_by(10) {
        let ppm = controller.steer(-100e-6, at(ms), 30.0, false);
        assert!((ppm - (30.0 - 200.0)).abs() < 1e-9, "{ppm}");
    }
    // Once learned, the same error starts charging the integral.
    let first = controller.steer(-100e-6, at(1_000), 30.0, true);
    let later = controller.steer(-100e-6, at(1_500), 30.0, true);
    assert!(later < first - 10.0, "{first} then {later}");
}
