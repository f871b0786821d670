//! Where the DAC really is: a delay-locked loop over the sink's (instant, audible frame)
//! readings that smooths their jitter and learns the device's true rate.
//!
//! A sink's readings are noisy in ways that depend on the driver: a sound server's plugin
//! reports its queue with scheduling jitter and now and then a whole period off; a Pi's
//! I2S DMA advances its position in bursts. Steering on single readings passes that noise
//! to the resampler, and learning the device's rate error from the controller's integral
//! takes tens of seconds. The loop here (second order, after F. Adriaensen's "Using a DLL
//! to filter time", 2005) tracks phase and rate, ignores a lone wild reading, and follows
//! a real jump (an underrun, a lost device) after a few readings agree on it. For its
//! first seconds a least-squares line through the readings stands in for it: the loop's
//! wide start-up bandwidth overshoots the rate (2x for a +100 ppm DAC), and the rate is
//! fed forward.

use std::time::Duration;

use super::SinkTiming;
use crate::core::Instant;

/// Tuning of [`DevicePosition`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DevicePositionConfig {
    /// Loop bandwidth once settled, Hz. Low enough to average a sound server's period
    /// jitter, high enough to follow a server that adapts its stream's rate within seconds
    /// (a straight line fitted over ten seconds could not).
    pub bandwidth_hz: f64,
    /// Bandwidth right after a (re)start, narrowing to `bandwidth_hz` over `settle`, so the
    /// first readings pull the estimate in quickly.
    pub start_bandwidth_hz: f64,
    /// How long the bandwidth takes to narrow.
    pub settle: Duration,
    /// A reading this far from the prediction is not filtered in but counted as a jump.
    pub jump: Duration,
    /// Jump readings in a row after which the loop starts over from the newest one.
    pub jump_readings: u32,
    /// The learned rate stays within this of nominal; a real crystal is within 100 ppm.
    pub max_rate_ppm: f64,
}

impl Default for DevicePositionConfig {
    fn default() -> Self {
        DevicePositionConfig {
            bandwidth_hz: 0.1,
            start_bandwidth_hz: 4.0,
            settle: Duration::from_secs(2),
            jump: Duration::from_millis(5),
            jump_readings: 3,
            max_rate_ppm: 1_000.0,
        }
    }
}

/// The filtered position at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionEstimate {
    /// The reading's instant.
    pub at: Instant,
    /// Output frame (fractional) leaving the DAC at `at`.
    pub audible: f64,
    /// Frames written so far (from the reading).
    pub written: u64,
    /// The device's rate in frames per second of the local clock.
    pub rate: f64,
    /// Whether `rate` is learned: false during the loop's first start-up, while it rests
    /// on a fraction of a second of readings (a controller that integrated on top of it
    /// would store its early error and play it back as an excursion seconds later).
    pub rate_learned: bool,
}

impl PositionEstimate {
    /// Frames written but not yet audible, by the estimate.
    pub fn queued(&self) -> f64 {
        (self.written as f64 - self.audible).max(0.0)
    }
}

/// The loop's state; feed it every timing reading of one open device.
#[derive(Debug, Clone)]
pub struct DevicePosition {
    config: DevicePositionConfig,
    nominal: f64,
    /// Last estimate: phase at an instant, and rate.
    state: Option<(Instant, f64)>,
    rate: f64,
    started: Option<Instant>,
    /// Until the rate is learned (the first `settle` after opening): a least-squares
    /// line through every reading since the start, which the loop then continues from.
    fit: Option<LineFit>,
    beyond: u32,
    /// Exponentially weighted mean of the squared residual, frames².
    residual_sq: f64,
    jumps: u64,
}

impl DevicePosition {
    /// A loop for a device of `nominal_rate` frames per second.
    pub fn new(nominal_rate: u32, config: DevicePositionConfig) -> Self {
        let nominal = f64::from(nominal_rate.max(1));
        DevicePosition {
            config,
            nominal,
            state: None,
            rate: nominal,
            started: None,
            fit: Some(LineFit::default()),
            beyond: 0,
            residual_sq: 0.0,
            jumps: 0,
        }
    }

    /// Forget the phase (the device was reopened: its frame count starts over); the
    /// learned rate is kept, it belongs to the crystal.
    pub fn reset(&mut self) {
        self.state = None;
        self.started = None;
        self.beyond = 0;
    }

    /// Root-mean-square distance of the readings from the filtered position: how noisy
    /// this device reports.
    pub fn jitter(&self) -> Duration {
        Duration::from_secs_f64(self.residual_sq.sqrt() / self.nominal)
    }

    /// The learned rate against nominal, ppm (positive: the device plays fast).
    pub fn rate_ppm(&self) -> f64 {
        (self.rate / self.nominal - 1.0) * 1e6
    }

    /// Times the loop started over on a jump the readings agreed on.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }

    /// One reading in, the filtered position at its instant out.
    pub fn update(&mut self, timing: &SinkTiming) -> PositionEstimate {
        let measured = timing.audible_frame() as f64;
        let audible = match self.state {
            None => self.restart(timing.at, measured),
            Some((at, phase)) => {
                let dt = timing.at.saturating_duration_since(at).as_secs_f64();
                let predicted = phase + self.rate * dt;
                self.filter(timing.at, predicted, measured - predicted, dt)
            }
        };
        let settled = self
            .started
            .is_some_and(|s| timing.at.saturating_duration_since(s) >= self.config.settle);
        if settled {
            self.fit = None;
        }
        PositionEstimate {
            at: timing.at,
            audible,
            written: timing.written,
            rate: self.rate,
            rate_learned: self.fit.is_none(),
        }
    }

    fn restart(&mut self, at: Instant, measured: f64) -> f64 {
        self.state = Some((at, measured));
        self.started = Some(at);
        self.beyond = 0;
        if let Some(fit) = self.fit.as_mut() {
            *fit = LineFit::default();
            fit.add(at, measured, self.nominal);
        }
        measured
    }

    fn filter(&mut self, at: Instant, predicted: f64, residual: f64, dt: f64) -> f64 {
        if residual.abs() > self.config.jump.as_secs_f64() * self.nominal {
            self.beyond += 1;
            if self.beyond >= self.config.jump_readings {
                self.jumps += 1;
                return self.restart(at, predicted + residual);
            }
            // Most likely a wrong reading: carry the prediction on.
            self.state = Some((at, predicted));
            return predicted;
        }
        self.beyond = 0;
        // About the last 100 readings.
        self.residual_sq += (residual * residual - self.residual_sq) * 0.01;
        let limit = self.nominal * self.config.max_rate_ppm * 1e-6;
        if let Some(fit) = self.fit.as_mut() {
            fit.add(at, predicted + residual, self.nominal);
            if let Some((phase, rate)) = fit.at(at, self.nominal) {
                self.rate = rate.clamp(self.nominal - limit, self.nominal + limit);
                self.state = Some((at, phase));
                return phase;
            }
        }
        let omega = std::f64::consts::TAU * self.bandwidth(at);
        // Critically damped second-order loop; clamping the gains keeps a long gap between
        // readings from overshooting.
        let k_phase = (std::f64::consts::SQRT_2 * omega * dt).min(1.0);
        let k_rate = (omega * omega * dt).min(1.0 / dt.max(1e-3));
        let phase = predicted + k_phase * residual;
        self.rate =
            (self.rate + k_rate * residual).clamp(self.nominal - limit, self.nominal + limit);
        self.state = Some((at, phase));
        phase
    }

    fn bandwidth(&self, at: Instant) -> f64 {
        let c = self.config;
        let since = self
            .started
            .map(|s| at.saturating_duration_since(s).as_secs_f64())
            .unwrap_or(0.0);
        let left = (1.0 - since / c.settle.as_secs_f64().max(1e-9)).max(0.0);
        c.bandwidth_hz + (c.start_bandwidth_hz - c.bandwidth_hz).max(0.0) * left
    }
}

/// Running least squares of (seconds since the first reading, frames beyond the nominal
/// rate), kept small so the sums stay exact enough over a few seconds.
#[derive(Debug, Clone, Copy, Default)]
struct LineFit {
    origin: Option<(Instant, f64)>,
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    sxy: f64,
}

impl LineFit {
    fn add(&mut self, at: Instant, measured: f64, nominal: f64) {
        let (t0, y0) = *self.origin.get_or_insert((at, measured));
        let x = at.saturating_duration_since(t0).as_secs_f64();
        let y = measured - y0 - nominal * x;
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.sxy += x * y;
    }

    /// The fitted phase at `at` and the rate; `None` until the readings span some time.
    fn at(&self, at: Instant, nominal: f64) -> Option<(f64, f64)> {
        let (t0, y0) = self.origin?;
        let det = self.n * self.sxx - self.sx * self.sx;
        if self.n < 3.0 || det <= f64::EPSILON {
            return None;
        }
        let slope = (self.n * self.sxy - self.sx * self.sy) / det;
        let offset = (self.sy - slope * self.sx) / self.n;
        let x = at.saturating_duration_since(t0).as_secs_f64();
        Some((y0 + offset + (nominal + slope) * x, nominal + slope))
    }
}

#[cfg(test)]
#[path = "device_position_tests.rs"]
mod tests;
