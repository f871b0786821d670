//! Where the DAC really is: a straight line fitted through the sink's recent timing
//! readings, so that steering and the start of a song rest on the device's steady pace
//! rather than on one reading.
//!
//! A sink reports, at an instant, how many frames are still queued. Drivers report that
//! coarsely: a sound server's ALSA plugin moves its position a whole period (5.3 ms at
//! 256 frames) at a time, a Pi's I2S DMA a burst at a time. The frames the device has
//! consumed, against local time, lie on a line of slope "device rate" with that
//! quantisation as noise; a least-squares fit over the last few seconds recovers the line
//! to a few frames, and its slope follows the crystal's drift. A reading far off the line
//! (an underrun, a restarted device) starts a new line.

use std::collections::VecDeque;

use super::SinkTiming;
use crate::core::Instant;

/// Readings kept: about 5 s at the playback thread's two readings per 5 ms block.
const WINDOW: usize = 2_000;
/// Readings before the fit is trusted; until then readings pass through unchanged.
const MIN_READINGS: usize = 50;
/// A reading this far off the line (seconds) is a jump of the device, not noise.
const JUMP_S: f64 = 0.012;
/// A fitted rate further than this from the nominal one is not believed (ppm).
const MAX_RATE_ERROR_PPM: f64 = 2_000.0;

/// The fitted device position.
#[derive(Debug)]
pub struct DeviceClock {
    rate: f64,
    /// (seconds since `origin`, frames consumed).
    readings: VecDeque<(f64, f64)>,
    origin: Option<Instant>,
}

impl DeviceClock {
    /// A clock for a device of `rate` frames per second, with no readings yet.
    pub fn new(rate: u32) -> Self {
        DeviceClock {
            rate: f64::from(rate.max(1)),
            readings: VecDeque::with_capacity(WINDOW),
            origin: None,
        }
    }

    /// Forget every reading (the device restarted or lost its position).
    pub fn reset(&mut self) {
        self.readings.clear();
        self.origin = None;
    }

    /// Takes a reading and returns it with the consumed-frame count the line says for its
    /// instant: the instant moved by under a frame so that a whole frame is audible then.
    pub fn smooth(&mut self, raw: SinkTiming) -> SinkTiming {
        let origin = *self.origin.get_or_insert(raw.at);
        let t = signed_seconds(raw.at, origin);
        let consumed = raw.audible_frame() as f64;
        if let Some(line) = self.line() {
            if ((line.at(t) - consumed) / self.rate).abs() > JUMP_S {
                self.reset();
                return self.smooth(raw);
            }
        }
        if self.readings.len() == WINDOW {
            self.readings.pop_front();
        }
        self.readings.push_back((t, consumed));
        let Some(line) = self.line() else {
            return raw;
        };
        let fitted = line.at(t).clamp(0.0, raw.written as f64);
        let whole = fitted.floor();
        // Frame `whole` was audible (fitted - whole) frames before the reading.
        let back = (fitted - whole) / self.rate;
        SinkTiming {
            written: raw.written,
            delay: raw.written - whole as u64,
            at: Instant::from_nanos(raw.at.as_nanos().saturating_sub((back * 1e9) as u64)),
        }
    }

    /// The least-squares line through the readings, once there are enough and its slope
    /// is a believable device rate.
    fn line(&self) -> Option<Line> {
        let n = self.readings.len();
        if n < MIN_READINGS {
            return None;
        }
        let nf = n as f64;
        let (st, sc) = self
            .readings
            .iter()
            .fold((0.0, 0.0), |(st, sc), &(t, c)| (st + t, sc + c));
        let (mt, mc) = (st / nf, sc / nf);
        let (sxx, sxy) = self
            .readings
            .iter()
            .fold((0.0, 0.0), |(sxx, sxy), &(t, c)| {
                let dt = t - mt;
                (sxx + dt * dt, sxy + dt * (c - mc))
            });
        if sxx <= 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        if ((slope / self.rate - 1.0) * 1e6).abs() > MAX_RATE_ERROR_PPM {
            return None;
        }
        Some(Line {
            t: mt,
            c: mc,
            slope,
        })
    }
}

/// consumed = c + slope · (t - self.t)
#[derive(Debug, Clone, Copy)]
struct Line {
    t: f64,
    c: f64,
    slope: f64,
}

impl Line {
    fn at(&self, t: f64) -> f64 {
        self.c + self.slope * (t - self.t)
    }
}

fn signed_seconds(at: Instant, origin: Instant) -> f64 {
    (at.as_nanos() as f64 - origin.as_nanos() as f64) * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;
    const QUANTUM: u64 = 256;

    /// A device consuming `RATE · (1 + ppm)` frames a second, reported a quantum at a
    /// time, read at `t` seconds; the caller keeps 40 ms written ahead.
    fn reading(t: f64, ppm: f64) -> (SinkTiming, f64) {
        let exact = t * f64::from(RATE) * (1.0 + ppm * 1e-6);
        let reported = (exact as u64 / QUANTUM) * QUANTUM;
        let written = exact as u64 + 1_920;
        let timing = SinkTiming {
            written,
            delay: written - reported,
            at: Instant::from_nanos(1_000_000_000 + (t * 1e9) as u64),
        };
        (timing, exact)
    }

    fn consumed_at(timing: &SinkTiming, ppm: f64) -> f64 {
        // The exact consumed count at the returned instant, to compare with its frame.
        let t = (timing.at.as_nanos() as f64 - 1e9) * 1e-9;
        t * f64::from(RATE) * (1.0 + ppm * 1e-6)
    }

    #[test]
    fn a_quantised_position_is_recovered_to_a_few_frames() {
        let ppm = 80.0;
        let mut clock = DeviceClock::new(RATE);
        let mut worst_raw: f64 = 0.0;
        let mut worst: f64 = 0.0;
        // Readings every 2.6 ms (not a divisor of the quantum's period) for 10 s.
        for i in 0..3_800 {
            let t = f64::from(i) * 0.002_63;
            let (raw, exact) = reading(t, ppm);
            let smooth = clock.smooth(raw);
            if i > 1_000 {
                worst_raw = worst_raw.max((raw.audible_frame() as f64 - exact).abs());
                let err = smooth.audible_frame() as f64 - consumed_at(&smooth, ppm);
                worst = worst.max(err.abs());
            }
        }
        assert!(
            worst_raw > 100.0,
            "the raw readings are quantised: {worst_raw}"
        );
        // The line sits in the middle of the quantum's steps: half a quantum behind the
        // true count, the same on every box of one server; what matters is the scatter.
        assert!(
            (worst - (QUANTUM as f64) / 2.0).abs() < 8.0,
            "fitted position off by {worst} frames"
        );
    }

    #[test]
    fn a_jump_starts_a_new_line_and_early_readings_pass_through() {
        let mut clock = DeviceClock::new(RATE);
        let (first, _) = reading(0.0, 0.0);
        assert_eq!(clock.smooth(first), first);
        for i in 1..200 {
            clock.smooth(reading(f64::from(i) * 0.005, 0.0).0);
        }
        // The device lost 100 ms (an underrun): the next reading is believed as it is.
        let (mut late, _) = reading(1.0, 0.0);
        late.delay += 4_800;
        assert_eq!(clock.smooth(late), late);
    }
}
