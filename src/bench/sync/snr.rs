//! Audio quality of the correction: a 1 kHz sine at 44.1 kHz through the real rubato
//! resampler to 48 kHz, steered tick by tick exactly as a box's controller steered,
//! compared with the ideal sine at the song positions the resampler reports.

use crate::audio::resample::{ResampleError, Resampler, MAX_STEER_PPM};

const SONG_RATE: u32 = 44_100;
const TONE: f64 = 1_000.0;
const AMPLITUDE: f64 = 0.5;
/// Output frames skipped while the sinc filter fills.
const WARMUP: usize = 1_024;

/// SNR (dB) of the steered resampler's output against the ideal sine. `steering` holds
/// one ppm value per tick of `tick_secs`.
pub(super) fn steered_sine_snr(
    steering: &[f64],
    tick_secs: f64,
    device_rate: u32,
) -> Result<f64, ResampleError> {
    let mut r = Resampler::new(SONG_RATE, device_rate, 1)?;
    let per_tick = (f64::from(SONG_RATE) * tick_secs).round() as usize;
    let (mut fed, mut out, mut positions) = (0usize, Vec::new(), Vec::new());
    for &ppm in steering {
        r.set_ppm(ppm.clamp(-MAX_STEER_PPM, MAX_STEER_PPM))?;
        let input: Vec<f32> = (fed..fed + per_tick)
            .map(|n| ideal(n as f64) as f32)
            .collect();
        fed += per_tick;
        // Song position of each new output frame: rubato ramps 1/ratio linearly over a
        // chunk (see `Resampler::song_position`); at most one chunk runs per tick.
        let t0 = 1.0 / r.ratio();
        let last = r.song_position() - t0;
        r.push(&input);
        let before = out.len();
        r.pull(&mut out)?;
        let n = out.len() - before;
        let inc = (1.0 / r.ratio() - t0) / n.max(1) as f64;
        positions.extend((1..=n).map(|k| {
            let k = k as f64;
            last + k * t0 + inc * k * (k + 1.0) / 2.0
        }));
    }
    let (mut signal, mut noise) = (0.0, 0.0);
    for (&y, &p) in out.iter().zip(&positions).skip(WARMUP) {
        let want = ideal(p);
        signal += want * want;
        noise += (f64::from(y) - want).powi(2);
    }
    Ok(10.0 * (signal / noise.max(1e-30)).log10())
}

/// The song: a 1 kHz sine, at (fractional) song frame `n`.
fn ideal(n: f64) -> f64 {
    AMPLITUDE * (std::f64::consts::TAU * TONE * n / f64::from(SONG_RATE)).sin()
}
