//! The bench's test signal: seeded band-limited noise that can be evaluated at any
//! fractional delay, so a known sub-sample delay can be made exactly.
//!
//! Noise because its correlation has one peak and no echoes at other lags (a tone or a
//! chirp repeats); band-limited (below [`CUTOFF_HZ`]) so the peak is a few samples wide
//! and a parabola through its top three points finds it within a few hundredths of a
//! sample.

use std::f64::consts::PI;
use std::path::Path;

/// The recording and song rate: the null sink runs at this rate, so nothing resamples
/// except the boxes' own steering.
pub const RATE: u32 = 48_000;
/// Upper edge of the noise band.
pub const CUTOFF_HZ: f64 = 4_000.0;
/// Half length of the windowed-sinc kernel, in samples.
const HALF: usize = 32;
/// Largest delay [`noise`] makes, either way, in samples.
pub const MAX_DELAY: f64 = 64.0;
/// Scale of the filtered noise: RMS about 0.15, peaks below 1 (no clipping).
const GAIN: f64 = 0.8;

/// White noise (xorshift64, uniform in [-1, 1)).
fn white(seed: u64, len: usize) -> Vec<f64> {
    // Zero is the one state xorshift never leaves.
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// The low-pass kernel at continuous time `t` (samples): a Blackman-windowed sinc.
fn kernel(t: f64) -> f64 {
    let half = HALF as f64;
    if t.abs() >= half {
        return 0.0;
    }
    let w = 2.0 * CUTOFF_HZ / f64::from(RATE);
    let sinc = if t == 0.0 {
        1.0
    } else {
        (PI * w * t).sin() / (PI * w * t)
    };
    let phase = PI * (t / half + 1.0);
    let blackman = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
    w * sinc * blackman
}

/// `len` samples of the noise for `seed`, delayed by `delay` samples (may be fractional
/// or negative, at most [`MAX_DELAY`] either way; clamped): sample `n` is the same
/// continuous signal at time `n - delay`, so two calls differ by exactly that delay.
pub fn noise(seed: u64, len: usize, delay: f64) -> Vec<f32> {
    let delay = delay.clamp(-MAX_DELAY, MAX_DELAY);
    // Excitation covers every tap of every output sample at any allowed delay.
    let margin = HALF + MAX_DELAY as usize + 1;
    let x = white(seed, len + 2 * margin);
    (0..len)
        .map(|n| {
            let t = (n + margin) as f64 - delay;
            let first = (t - HALF as f64).ceil().max(0.0) as usize;
            let last = ((t + HALF as f64).floor() as usize).min(x.len() - 1);
            let y: f64 = (first..=last).map(|k| x[k] * kernel(t - k as f64)).sum();
            (GAIN * y) as f32
        })
        .collect()
}

/// Writes `channels` (equal lengths) as a 16-bit WAV at [`RATE`]: the format every
/// decoder and `aplay` take; its quantization noise is far below what the correlation
/// notices.
pub fn write_wav(path: &Path, channels: &[Vec<f32>]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: u16::try_from(channels.len()).unwrap_or(u16::MAX),
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    let frames = channels.iter().map(Vec::len).min().unwrap_or(0);
    for i in 0..frames {
        for c in channels {
            w.write_sample((c[i].clamp(-1.0, 1.0) * 32_767.0).round() as i16)?;
        }
    }
    w.finalize()
}

/// Reads a WAV (integer or float) as one `Vec` per channel, scaled to [-1, 1].
pub fn read_wav(path: &Path) -> Result<(u32, Vec<Vec<f32>>), hound::Error> {
    let mut r = hound::WavReader::open(path)?;
    let spec = r.spec();
    let n = usize::from(spec.channels.max(1));
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.max(1) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let mut out = vec![Vec::with_capacity(samples.len() / n); n];
    for frame in samples.chunks_exact(n) {
        for (c, s) in out.iter_mut().zip(frame) {
            c.push(*s);
        }
    }
    Ok((spec.sample_rate, out))
}
