//! Volume: a gain stage that ramps linearly to each new level so changes never click.

use std::time::Duration;

/// The linear gain for a volume in percent: a cubic curve, which tracks perceived
/// loudness far better than a linear one (50 % is about -18 dB).
pub fn curve(percent: u8) -> f32 {
    let x = f32::from(percent.min(100)) / 100.0;
    x * x * x
}

/// The linear gain of the party volume and this box's own volume together: the two
/// knobs multiply, as a speaker's knob after a mixer's fader.
pub fn loudness((party, own): (u8, u8)) -> f32 {
    curve(party) * curve(own)
}

/// Multiplies interleaved frames by a gain that moves to its target over a short ramp.
#[derive(Debug, Clone)]
pub struct Gain {
    current: f32,
    target: f32,
    step: f32,
    ramp_frames: u32,
}

impl Gain {
    /// Unity gain at `rate`, changing over `ramp` (20 ms is inaudible as a step).
    pub fn new(rate: u32, ramp: Duration) -> Self {
        let ramp_frames = (ramp.as_secs_f64() * f64::from(rate)).round().max(1.0) as u32;
        Gain {
            current: 1.0,
            target: 1.0,
            step: 0.0,
            ramp_frames,
        }
    }

    /// Move to a linear gain (clamped to 0..=1, so volume never clips the DAC).
    pub fn set_linear(&mut self, gain: f32) {
        let gain = if gain.is_finite() {
            gain.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.target = gain;
        self.step = (gain - self.current) / self.ramp_frames as f32;
    }

    /// Move to a volume in percent on a cubic curve, which tracks perceived loudness far
    /// better than a linear one (50 % is about -18 dB).
    pub fn set_percent(&mut self, percent: u8) {
        self.set_linear(curve(percent));
    }

    /// The gain applied to the next frame.
    pub fn current(&self) -> f32 {
        self.current
    }

    /// Apply the gain in place to interleaved frames of `channels` channels.
    pub fn apply(&mut self, samples: &mut [f32], channels: usize) {
        let channels = channels.max(1);
        if self.current == self.target {
            if self.current != 1.0 {
                samples.iter_mut().for_each(|s| *s *= self.current);
            }
            return;
        }
        for frame in samples.chunks_mut(channels) {
            let next = self.current + self.step;
            let done = (self.step > 0.0 && next >= self.target)
                || (self.step < 0.0 && next <= self.target)
                || self.step == 0.0;
            self.current = if done { self.target } else { next };
            frame.iter_mut().for_each(|s| *s *= self.current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_without_steps_and_lands_on_target() {
        let mut gain = Gain::new(48_000, Duration::from_millis(20));
        gain.set_percent(50);
        let mut dc = vec![1.0f32; 2 * 2_000];
        gain.apply(&mut dc, 2);
        let max_jump = dc
            .chunks(2)
            .zip(dc.chunks(2).skip(1))
            .map(|(a, b)| (a[0] - b[0]).abs())
            .fold(0.0f32, f32::max);
        // 0.875 spread over 960 frames: each step is under 0.001 (no click).
        assert!(max_jump < 0.001, "max jump {max_jump}");
        assert!(dc[0] < 1.0 && dc[0] > 0.99);
        assert!((gain.current() - 0.125).abs() < 1e-6);
        assert_eq!(dc[3_998], 0.125);
        gain.set_linear(f32::NAN);
        let mut more = vec![1.0f32; 2 * 1_000];
        gain.apply(&mut more, 2);
        assert_eq!(more[1_999], 0.0);
    }

    #[test]
    fn box_and_party_volumes_multiply() {
        assert_eq!(loudness((100, 100)), 1.0);
        assert_eq!(loudness((100, 0)), 0.0);
        assert!((loudness((50, 50)) - 0.125 * 0.125).abs() < 1e-7);
    }
}
