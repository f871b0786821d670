//! A simulated DAC in virtual time for the simulator and benchmarks: it drains its buffer
//! at its nominal rate times a configurable error (ppm), reports its position with the
//! noise real drivers show, and never sleeps; whoever drives it advances time.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Sink, SinkError, SinkFormat, SinkTiming};
use crate::core::Instant;

/// How the simulated DAC behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimDacConfig {
    /// Nominal format (what the sink reports).
    pub format: SinkFormat,
    /// Crystal error: the DAC really plays `rate * (1 + rate_error_ppm / 1e6)` frames/s.
    pub rate_error_ppm: f64,
    /// Buffer size in frames (how far `write` can run ahead of playback).
    pub buffer_frames: u64,
    /// Virtual time at creation.
    pub start: Instant,
    /// How its timing readings differ from the truth.
    pub noise: TimingNoise,
}

/// How a driver's timing readings differ from where the DAC really is. The default is
/// an exact driver.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimingNoise {
    /// RMS of each reading's error, uniformly distributed: a sound server's plugin reads
    /// its queue and the clock at slightly different moments (scheduling jitter).
    pub rms: Duration,
    /// A bias that wanders slowly (RMS, and its correlation time): a sound server that
    /// re-tunes its stream's rate moves audio between its queues in ways the reported
    /// delay does not show, so the box cannot see this part and the recording can.
    pub wander_rms: Duration,
    pub wander_tau: Duration,
    /// Seeds the noise.
    pub seed: u64,
}

/// A DAC whose clock is virtual: [`SimDac::advance_to`] moves it, and [`Sink::write`]
/// moves it as far as a real blocking write would have waited.
#[derive(Debug)]
pub struct SimDac {
    config: SimDacConfig,
    now: Instant,
    written: u64,
    /// Frames played, with the fraction of the frame now being played.
    played: f64,
    started: bool,
    paused: bool,
    dry: bool,
    underruns: u64,
    rng: StdRng,
    /// The wandering bias now (frames) and when it was last moved.
    wander: f64,
    wander_at: Instant,
}

impl SimDac {
    /// A stopped DAC at `config.start`; it starts playing at the first write.
    pub fn new(config: SimDacConfig) -> Self {
        SimDac {
            config,
            now: config.start,
            written: 0,
            played: 0.0,
            started: false,
            paused: false,
            dry: false,
            underruns: 0,
            rng: StdRng::seed_from_u64(config.noise.seed),
            wander: 0.0,
            wander_at: config.start,
        }
    }

    /// Moves the wandering bias to now (an Ornstein-Uhlenbeck process) and returns it.
    fn wander(&mut self) -> f64 {
        let n = self.config.noise;
        if n.wander_rms.is_zero() || n.wander_tau.is_zero() {
            return 0.0;
        }
        let dt = self
            .now
            .saturating_duration_since(self.wander_at)
            .as_secs_f64();
        self.wander_at = self.now;
        let keep = (-dt / n.wander_tau.as_secs_f64()).exp();
        let sigma = n.wander_rms.as_secs_f64() * f64::from(self.config.format.rate);
        // Box-Muller: one standard normal from two uniforms.
        let (u1, u2): (f64, f64) = (self.rng.gen_range(f64::EPSILON..1.0), self.rng.gen());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        self.wander = self.wander * keep + sigma * (1.0 - keep * keep).sqrt() * normal;
        self.wander
    }

    /// Frames played as the driver reports it at this instant.
    fn reported_played(&mut self) -> u64 {
        let n = self.config.noise;
        let mut played = self.played + self.wander();
        if n.rms > Duration::ZERO {
            // Uniform in ±a has an RMS of a/√3.
            let a = n.rms.as_secs_f64() * 3f64.sqrt() * f64::from(self.config.format.rate);
            played += self.rng.gen_range(-a..a);
        }
        (played.floor().max(0.0) as u64).min(self.written)
    }

    /// The DAC's virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Frames per second the DAC really plays (nominal rate with its error).
    pub fn true_rate(&self) -> f64 {
        f64::from(self.config.format.rate) * (1.0 + self.config.rate_error_ppm * 1e-6)
    }

    /// Exact (fractional) frames played so far; the ground truth for tests and benchmarks.
    pub fn played_exact(&self) -> f64 {
        self.played
    }

    /// Times the buffer ran dry while playing.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Frames `write` can take now without advancing time.
    pub fn free_frames(&self) -> u64 {
        let queued = self.written - self.played.floor() as u64;
        self.config.buffer_frames.saturating_sub(queued)
    }

    /// Let the DAC play until virtual time `t` (earlier times are ignored).
    pub fn advance_to(&mut self, t: Instant) {
        if t <= self.now {
            return;
        }
        let dt = t.saturating_duration_since(self.now).as_secs_f64();
        self.now = t;
        if !self.started || self.paused {
            return;
        }
        let played = self.played + dt * self.true_rate();
        if played >= self.written as f64 {
            // The buffer ran dry: the DAC plays silence until the next write.
            if !self.dry {
                self.underruns += 1;
            }
            self.dry = true;
            self.played = self.written as f64;
        } else {
            self.played = played;
        }
    }

    /// Let the DAC play for `d`.
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }
}

impl Sink for SimDac {
    fn format(&self) -> SinkFormat {
        self.config.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        let mut remaining = self.config.format.frames_in(samples.len())? as u64;
        self.started = true;
        while remaining > 0 {
            let room = self.free_frames();
            if room > 0 {
                let take = room.min(remaining);
                self.written += take;
                remaining -= take;
                self.dry = false;
                continue;
            }
            if self.paused {
                return Err(SinkError::Paused);
            }
            // Block in virtual time until enough has drained (at least one frame).
            let need = remaining.min(self.config.buffer_frames).max(1) as f64;
            let target = self.played.floor() + need;
            let secs = (target - self.played) / self.true_rate();
            let ns = (secs * 1e9).ceil().max(1.0) as u64;
            self.advance(Duration::from_nanos(ns));
        }
        Ok(())
    }

    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        let played = self.reported_played();
        Ok(SinkTiming {
            written: self.written,
            delay: self.written - played,
            at: self.now,
        })
    }

    fn pause(&mut self) -> Result<(), SinkError> {
        self.paused = true;
        Ok(())
    }

    fn resume(&mut self) -> Result<(), SinkError> {
        self.paused = false;
        Ok(())
    }

    fn drain(&mut self) -> Result<(), SinkError> {
        if self.paused {
            return Err(SinkError::Paused);
        }
        let left = self.written as f64 - self.played;
        if left > 0.0 {
            let ns = (left / self.true_rate() * 1e9).ceil() as u64;
            self.advance(Duration::from_nanos(ns));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dac(ppm: f64) -> SimDac {
        SimDac::new(SimDacConfig {
            format: SinkFormat {
                rate: 48_000,
                channels: 2,
            },
            rate_error_ppm: ppm,
            buffer_frames: 960,
            start: Instant::from_nanos(1_000_000_000),
            noise: TimingNoise::default(),
        })
    }

    #[test]
    fn plays_at_its_erroneous_rate_in_virtual_time() {
        let mut dac = dac(100.0);
        let chunk = vec![0.0f32; 2 * 480];
        for _ in 0..1_000 {
            assert!(dac.write(&chunk).is_ok()); // 10 s of audio
        }
        let t = dac.timing().ok();
        let Some(t) = t else { return };
        assert_eq!(t.written, 480_000);
        assert!(t.delay <= 960);
        // Wall time to play written - delay frames at 48 000 * (1 + 100e-6) frames/s.
        let secs = (t.at - Instant::from_nanos(1_000_000_000)).as_secs_f64();
        let expect = t.audible_frame() as f64 / 48_004.8;
        assert!((secs - expect).abs() < 1.0 / 48_000.0, "{secs} vs {expect}");
        assert_eq!(dac.underruns(), 0);
    }

    #[test]
    fn underrun_stalls_the_position_and_is_counted() {
        let mut dac = dac(0.0);
        assert!(dac.write(&[0.0; 2 * 480]).is_ok());
        dac.advance(Duration::from_millis(50));
        assert_eq!(dac.timing().ok().map(|t| t.delay), Some(0));
        assert_eq!(dac.underruns(), 1);
        assert!(dac.pause().is_ok());
        assert!(dac.write(&[0.0; 2 * 960]).is_ok());
        assert!(matches!(dac.write(&[0.0; 2]), Err(SinkError::Paused)));
    }
}
