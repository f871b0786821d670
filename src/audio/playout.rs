//! The playout controller (pure): compares which song frame the DAC is playing (by the
//! filtered [`PositionEstimate`]) with the one the schedule wants audible now, and steers
//! the resampling ratio (the device's measured rate fed forward plus a PI controller on the
//! error, clamped to ±500 ppm) or asks for a hard re-seek when the error is too large.

use std::collections::VecDeque;
use std::time::Duration;

use super::device_position::PositionEstimate;
use crate::core::Instant;

/// Tuning of [`PlayoutController`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayoutConfig {
    /// Proportional gain, ppm per second of error per second: 2/s corrects an error with
    /// a ~0.5 s time constant. The device position it steers on is already filtered (its
    /// jitter averaged over seconds), so the controller itself need not be slow; fast,
    /// it follows the clock estimate's early corrections closely.
    pub kp: f64,
    /// Integral gain (1/s²); it learns what the fed-forward device rate misses. kp²/4 is
    /// critically damped.
    pub ki: f64,
    /// Steering limit; 500 ppm is a pitch change of under a cent, inaudible.
    pub max_ppm: f64,
    /// Errors above this are not steered away but re-seeked: at 500 ppm, 2 ms take 4 s to
    /// steer out, and a sound server that skips a cycle under load shifts a box by a few
    /// ms at once; seconds of a flam are worse than a 10 ms fade.
    pub reseek_threshold: Duration,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            kp: 2.0,
            ki: 1.0,
            max_ppm: 500.0,
            reseek_threshold: Duration::from_millis(2),
        }
    }
}

/// The schedule's wish: song frame `song_frame` is audible at local instant `at`, and the
/// song advances `song_rate · pace` frames per second of local time from there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayoutTarget {
    /// Song frame (fractional) due at `at`.
    pub song_frame: f64,
    /// Local monotonic instant.
    pub at: Instant,
    /// Song frames per second.
    pub song_rate: u32,
    /// Song seconds per local second (the party clock's rate against the local one).
    pub pace: f64,
}

impl PlayoutTarget {
    /// The song frame due at `t` (before `at` as well as after).
    pub fn frame_at(&self, t: Instant) -> f64 {
        let dt = t.as_nanos() as f64 - self.at.as_nanos() as f64;
        self.song_frame + dt * 1e-9 * f64::from(self.song_rate) * self.pace
    }
}

/// Which song frame each output frame carries, recorded as the pipeline writes (e.g.
/// from [`super::resample::Resampler::song_position`]) and looked up when the sink says
/// which output frame is audible. Keeps the last `capacity` points.
#[derive(Debug, Clone)]
pub struct PositionMap {
    points: VecDeque<(u64, f64)>,
    capacity: usize,
}

impl PositionMap {
    /// A map remembering `capacity` points (cover at least the sink's buffer).
    pub fn new(capacity: usize) -> Self {
        PositionMap {
            points: VecDeque::with_capacity(capacity.max(2)),
            capacity: capacity.max(2),
        }
    }

    /// Output frame `output_frame` carries song frame `song_frame`. Call with increasing
    /// output frames (once per written block is enough).
    pub fn record(&mut self, output_frame: u64, song_frame: f64) {
        if self.points.back().is_some_and(|&(o, _)| o >= output_frame) {
            self.points.clear();
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back((output_frame, song_frame));
    }

    /// Forget everything (after a seek).
    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// The song frame (fractional) output frame `output_frame` carries, interpolated
    /// between recorded points (extrapolated past the last one); `None` before the first
    /// point.
    pub fn song_frame_at(&self, output_frame: f64) -> Option<f64> {
        let idx = self
            .points
            .partition_point(|&(o, _)| o as f64 <= output_frame);
        let (lo, hi) = match idx {
            0 => return None,
            i if i < self.points.len() => (self.points.get(i - 1)?, self.points.get(i)?),
            // Past the last point: extrapolate along the last segment (or unit slope).
            i => {
                let last = self.points.get(i - 1)?;
                let Some(prev) = i.checked_sub(2).and_then(|j| self.points.get(j)) else {
                    return Some(last.1 + (output_frame - last.0 as f64));
                };
                (prev, last)
            }
        };
        let span = (hi.0 - lo.0) as f64;
        let slope = if span > 0.0 {
            (hi.1 - lo.1) / span
        } else {
            1.0
        };
        Some(lo.1 + slope * (output_frame - lo.0 as f64))
    }
}

/// What the pipeline should do after a timing reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayoutDecision {
    /// Set the resampler's steering to `ppm` (positive: the song advances more slowly).
    Steer {
        /// Steering in ppm, within ±`max_ppm`.
        ppm: f64,
        /// Measured error in seconds (positive: playing ahead of the schedule).
        error: f64,
    },
    /// The error is beyond the threshold: seek the decoder so that the next frame written
    /// is `song_frame`, reset the resampler and the [`PositionMap`].
    Reseek {
        /// Song frame to write next.
        song_frame: f64,
        /// Measured error in seconds.
        error: f64,
    },
    /// Nothing written yet (or nothing audible): no decision possible.
    Wait,
}

/// A PI controller from playout error to resampler steering. Pure: fed readings, owns no
/// clock.
#[derive(Debug, Clone)]
pub struct PlayoutController {
    config: PlayoutConfig,
    /// ∫ error dt, in seconds²; clamped so its term alone never exceeds `max_ppm`.
    integral: f64,
    last_at: Option<Instant>,
    ppm: f64,
    /// Readings in a row beyond the re-seek threshold.
    beyond: u32,
}

/// Readings in a row that must exceed the re-seek threshold before a re-seek: a sound
/// server's plugin now and then reports the delay a whole period off for one reading, and
/// re-seeking on that would make the slip it fears.
pub const RESEEK_AFTER_READINGS: u32 = 3;

impl PlayoutController {
    /// A controller with no history.
    pub fn new(config: PlayoutConfig) -> Self {
        PlayoutController {
            config,
            integral: 0.0,
            last_at: None,
            ppm: 0.0,
            beyond: 0,
        }
    }

    /// Steering last returned.
    pub fn ppm(&self) -> f64 {
        self.ppm
    }

    /// One reading: where the device is, the map of output to song frames, and the
    /// target. `sink_rate` is the device's nominal rate.
    pub fn update(
        &mut self,
        target: &PlayoutTarget,
        device: &PositionEstimate,
        map: &PositionMap,
        sink_rate: u32,
    ) -> PlayoutDecision {
        let Some(actual) = map.song_frame_at(device.audible) else {
            return PlayoutDecision::Wait;
        };
        let error = (actual - target.frame_at(device.at)) / f64::from(target.song_rate.max(1));
        if error.abs() > self.config.reseek_threshold.as_secs_f64() {
            self.beyond += 1;
            if self.beyond < RESEEK_AFTER_READINGS {
                // Not steered on either: one such reading is more likely wrong than the
                // position.
                return PlayoutDecision::Steer {
                    ppm: self.ppm,
                    error,
                };
            }
            self.beyond = 0;
            // The next frame written becomes audible once the queued ones have played.
            let queued = Duration::from_secs_f64(device.queued() / device.rate.max(1.0));
            self.last_at = None;
            return PlayoutDecision::Reseek {
                song_frame: target.frame_at(device.at + queued),
                error,
            };
        }
        self.beyond = 0;
        // The ratio that keeps the song at the schedule's pace on this device, were the
        // error zero: the PI then only corrects what the estimate misses.
        let nominal = f64::from(sink_rate.max(1)) * target.pace.max(f64::MIN_POSITIVE);
        let feed_forward = (device.rate / nominal - 1.0) * 1e6;
        let ppm = self.steer(error, device.at, feed_forward, device.rate_learned);
        PlayoutDecision::Steer { ppm, error }
    }

    /// The PI step for a measured `error` (seconds, positive = ahead) at `at`, on top of
    /// `feed_forward` ppm; the integral holds still unless `integrate` (while the fed-forward
    /// rate is still being learned, its error is not a steady offset worth storing).
    pub fn steer(&mut self, error: f64, at: Instant, feed_forward: f64, integrate: bool) -> f64 {
        let c = self.config;
        let dt = self
            .last_at
            .map(|last| at.saturating_duration_since(last).as_secs_f64())
            .unwrap_or(0.0)
            .min(1.0);
        self.last_at = Some(at);
        let p = feed_forward + c.kp * error * 1e6;
        let candidate = self.integral + error * dt;
        let i = c.ki * candidate * 1e6;
        // Conditional integration (anti-windup): only integrate while not saturated, or
        // when integrating pulls the output back inside the limit.
        if integrate && ((p + i).abs() <= c.max_ppm || candidate.abs() < self.integral.abs()) {
            self.integral = candidate;
        }
        let limit = c.max_ppm / (c.ki * 1e6).max(f64::MIN_POSITIVE);
        self.integral = self.integral.clamp(-limit, limit);
        self.ppm = (p + c.ki * self.integral * 1e6).clamp(-c.max_ppm, c.max_ppm);
        self.ppm
    }
}

#[cfg(test)]
#[path = "playout_tests.rs"]
mod tests;
