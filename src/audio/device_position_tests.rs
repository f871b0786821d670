//! The loop against synthetic devices: jittery, burst-granular, wrong now and then,
//! jumping, and changing rate.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const RATE: f64 = 48_000.0;
/// A reading every block of 240 frames, as the playback thread takes them.
const STEP_NS: u64 = 5_000_000;

/// A device playing at `ppm` off nominal; `report` turns the true audible frame at a
/// reading's instant into what the driver says.
struct Device {
    ppm: f64,
    t_ns: u64,
    /// True audible frame now.
    frames: f64,
    rng: StdRng,
}

impl Device {
    fn new(ppm: f64) -> Self {
        Device {
            ppm,
            t_ns: 1_000_000_000,
            frames: 0.0,
            rng: StdRng::seed_from_u64(7),
        }
    }

    /// Lets one reading interval pass; returns the true audible frame.
    fn step(&mut self) -> f64 {
        self.t_ns += STEP_NS;
        self.frames += STEP_NS as f64 * 1e-9 * RATE * (1.0 + self.ppm * 1e-6);
        self.frames
    }

    fn reading(&mut self, reported: f64) -> SinkTiming {
        let written = reported.max(0.0) as u64 + 960;
        SinkTiming {
            written,
            delay: written - reported.max(0.0) as u64,
            at: Instant::from_nanos(self.t_ns),
        }
    }
}

/// Steps `seconds` of readings through `dpos`; returns the RMS and max |estimate − truth|
/// (µs) over the last `tail` seconds.
fn run(
    dev: &mut Device,
    dpos: &mut DevicePosition,
    seconds: f64,
    tail: f64,
    report: impl Fn(f64, &mut StdRng) -> f64,
) -> (f64, f64) {
    let steps = (seconds * 1e9 / STEP_NS as f64) as u64;
    let tail_from = steps - (tail * 1e9 / STEP_NS as f64) as u64;
    let (mut sum_sq, mut n, mut max) = (0.0, 0.0, 0.0f64);
    for i in 0..steps {
        let truth = dev.step();
        let reported = report(truth, &mut dev.rng);
        let est = dpos.update(&dev.reading(reported));
        if i >= tail_from {
            let err = (est.audible - truth) / RATE * 1e6;
            sum_sq += err * err;
            n += 1.0;
            max = max.max(err.abs());
        }
    }
    ((sum_sq / n).sqrt(), max)
}

fn dpos() -> DevicePosition {
    DevicePosition::new(48_000, DevicePositionConfig::default())
}

#[test]
fn smooths_sound_server_jitter_and_learns_the_rate() {
    let (mut dev, mut d) = (Device::new(100.0), dpos());
    // ±1 ms of uniform jitter on every reading (RMS 577 µs).
    let (rms, max) = run(&mut dev, &mut d, 20.0, 10.0, |t, rng| {
        t + rng.gen_range(-48.0..48.0)
    });
    println!(
        "jitter ±1 ms: rms {rms:.1} us, max {max:.1} us, rate {:.1} ppm",
        d.rate_ppm()
    );
    assert!(rms < 40.0, "rms {rms}");
    assert!((d.rate_ppm() - 100.0).abs() < 10.0, "{}", d.rate_ppm());
    // It knows how noisy the readings are: about 577 µs.
    let jitter = d.jitter().as_secs_f64() * 1e6;
    assert!((400.0..800.0).contains(&jitter), "{jitter}");
}

#[test]
fn burst_granular_positions_read_as_a_steady_line() {
    let (mut dev, mut d) = (Device::new(-60.0), dpos());
    // A DMA that moves its pointer every 256 frames: raw readings are up to 5.3 ms off.
    let (rms, _) = run(&mut dev, &mut d, 20.0, 10.0, |t, _| {
        (t / 256.0).floor() * 256.0
    });
    // The estimate sits half a burst behind (common to every box with that driver) and
    // steady: its spread around that offset is what matters for steering.
    println!("bursts of 256: rms {rms:.1} us (half a burst is 2667 us)");
    assert!((rms - 2_667.0).abs() < 150.0, "rms {rms}");
    assert!((d.rate_ppm() + 60.0).abs() < 10.0, "{}", d.rate_ppm());
}

#[test]
fn a_lone_wrong_reading_is_ignored() {
    let (mut dev, mut d) = (Device::new(0.0), dpos());
    run(&mut dev, &mut d, 5.0, 1.0, |t, _| t);
    let truth = dev.step();
    // One reading a 1024-frame period off.
    let est = d.update(&dev.reading(truth - 1024.0));
    assert!(
        (est.audible - truth).abs() < 1.0,
        "{} vs {truth}",
        est.audible
    );
    let (_, max) = run(&mut dev, &mut d, 1.0, 1.0, |t, _| t);
    assert!(max < 1.0, "{max}");
    assert_eq!(d.jumps(), 0);
}

#[test]
fn follows_a_real_jump_after_three_readings() {
    let (mut dev, mut d) = (Device::new(0.0), dpos());
    run(&mut dev, &mut d, 5.0, 1.0, |t, _| t);
    // The device lost 20 ms (an underrun): from now on it reports 960 frames less.
    let mut errors = Vec::new();
    for _ in 0..4 {
        let truth = dev.step() - 960.0;
        let est = d.update(&dev.reading(truth));
        errors.push((est.audible - truth).abs());
    }
    assert!(errors[0] > 900.0 && errors[1] > 900.0, "{errors:?}");
    assert!(errors[2] < 1.0 && errors[3] < 1.0, "{errors:?}");
    assert_eq!(d.jumps(), 1);
}

#[test]
fn follows_a_server_that_changes_its_rate() {
    let (mut dev, mut d) = (Device::new(0.0), dpos());
    let jitter = |t: f64, rng: &mut StdRng| t + rng.gen_range(-10.0..10.0);
    run(&mut dev, &mut d, 5.0, 1.0, jitter);
    // A sound server re-tunes its stream by 200 ppm; the position stays continuous.
    dev.ppm = 200.0;
    let (rms, max) = run(&mut dev, &mut d, 20.0, 5.0, jitter);
    println!("rate step 200 ppm: rms {rms:.1} us, max {max:.1} us after 15 s");
    assert!(max < 40.0, "max {max}");
    assert!((d.rate_ppm() - 200.0).abs() < 10.0, "{}", d.rate_ppm());
}

#[test]
fn learns_the_rate_at_start_without_overshoot() {
    // Readings exact but for the driver's whole frames: the start-up fit must reach the
    // DAC's rate without swinging past it (a swing is fed forward and played).
    for ppm in [100.0, -80.0] {
        let (mut dev, mut d) = (Device::new(ppm), dpos());
        let (mut worst_rate, mut overshoot, mut worst_error) = (0.0f64, 0.0f64, 0.0f64);
        let mut learned_at = None;
        for i in 0..1_000 {
            let truth = dev.step();
            let est = d.update(&dev.reading(truth.floor()));
            overshoot = overshoot.max((d.rate_ppm() - ppm) * ppm.signum());
            // Whole frames hide 100 ppm for the first 0.2 s; from 0.5 s on the fit has it.
            if i >= 100 {
                worst_rate = worst_rate.max((d.rate_ppm() - ppm).abs());
                worst_error = worst_error.max(((est.audible - truth) / RATE * 1e6).abs());
            }
            if est.rate_learned && learned_at.is_none() {
                learned_at = Some(i as f64 * STEP_NS as f64 * 1e-9);
            }
        }
        println!("{ppm} ppm: rate off by {worst_rate:.1} ppm, past it by {overshoot:.1}, position {worst_error:.1} us");
        assert!(worst_rate < 25.0, "{ppm}: {worst_rate}");
        assert!(overshoot < 5.0, "{ppm}: {overshoot}");
        // Half a frame (10.4 µs) is the floor of whole-frame readings.
        assert!(worst_error < 16.0, "{ppm}: {worst_error}");
        // The rate counts as learned once the start-up is over, not before.
        let learned_at = learned_at.unwrap_or(f64::INFINITY);
        assert!((1.9..2.1).contains(&learned_at), "{learned_at}");
    }
}
