//! Delay between two recordings of one signal: cross-correlation over a lag window, its
//! peak refined to a fraction of a sample by a parabola through the top three points.
//!
//! Plain O(n·lags): a coarse search over the whole lag window on a short stretch finds
//! the peak (band-limited noise has one), then the full window is correlated at the few
//! lags around it. That is a few million multiply-adds per window, well under the time
//! the recording took, so an FFT would not earn its place.

/// Samples the coarse search correlates: enough for an unambiguous peak on noise.
const COARSE: usize = 4_096;
/// A peak weaker than this (normalized correlation) is no match: silence, a gap, or
/// a box playing something else.
pub const MIN_QUALITY: f64 = 0.5;

/// The delay of one stretch of `other` behind `reference`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Samples `other` is late (negative: early); fractional.
    pub samples: f64,
    /// Normalized correlation at the peak, 0 to 1.
    pub quality: f64,
}

/// Σ reference[start + i] · other[start + i + lag] for i in 0..len.
fn dot(reference: &[f32], other: &[f32], start: usize, len: usize, lag: isize) -> f64 {
    let a = &reference[start..start + len];
    let from = start.wrapping_add_signed(lag);
    let b = &other[from..from + len];
    // f32 products summed in f64 blocks: fast, and exact enough for a 24k-sample sum.
    a.chunks(256)
        .zip(b.chunks(256))
        .map(|(x, y)| f64::from(x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>()))
        .sum()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

/// The delay of `other` behind `reference` over `reference[start..start + len]`,
/// searched within ±`max_lag` samples; `None` if the window (with its lags) does not fit
/// in both, or no lag matches (peak below [`MIN_QUALITY`] or on the window's edge).
pub fn lag(
    reference: &[f32],
    other: &[f32],
    start: usize,
    len: usize,
    max_lag: usize,
) -> Option<Lag> {
    let m = isize::try_from(max_lag).ok()?;
    if len < 3 || start < max_lag || start + len + max_lag > reference.len().min(other.len()) {
        return None;
    }
    let coarse = len.min(COARSE);
    let mut best = (f64::MIN, 0isize);
    for l in -m..=m {
        let c = dot(reference, other, start, coarse, l);
        if c > best.0 {
            best = (c, l);
        }
    }
    // The full window at the coarse peak and its neighbours: the peak may move by one.
    let full = |l: isize| dot(reference, other, start, len, l);
    let mut peak = best.1;
    for _ in 0..4 {
        let (here, left, right) = (full(peak), full(peak - 1), full(peak + 1));
        if left > here && peak - 1 > -m {
            peak -= 1;
        } else if right > here && peak + 1 < m {
            peak += 1;
        } else {
            break;
        }
    }
    if peak <= -m || peak >= m {
        return None;
    }
    let (c0, cl, cr) = (full(peak), full(peak - 1), full(peak + 1));
    let from = start.wrapping_add_signed(peak);
    let norm = (energy(&reference[start..start + len]) * energy(&other[from..from + len])).sqrt();
    let quality = if norm > 0.0 { c0 / norm } else { 0.0 };
    if quality < MIN_QUALITY {
        return None;
    }
    let curve = cl - 2.0 * c0 + cr;
    let offset = if curve < 0.0 {
        0.5 * (cl - cr) / curve
    } else {
        0.0
    };
    Some(Lag {
        samples: peak as f64 + offset.clamp(-0.5, 0.5),
        quality,
    })
}

/// The first sample louder than a fiftieth of the channel's peak: where sound starts.
pub fn onset(x: &[f32]) -> Option<usize> {
    let threshold = peak(x) / 50.0;
    (threshold > 0.0).then(|| x.iter().position(|v| v.abs() > threshold))?
}

/// The last sample louder than a fiftieth of the channel's peak: where sound ends.
pub fn offset_end(x: &[f32]) -> Option<usize> {
    let threshold = peak(x) / 50.0;
    (threshold > 0.0).then(|| x.iter().rposition(|v| v.abs() > threshold))?
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Silent stretches in `x[from..to]` at least `min_len` samples long, as (start, length).
/// Band-limited noise is never this quiet for long, so each one is a gap in playback.
pub fn silences(x: &[f32], from: usize, to: usize, min_len: usize) -> Vec<(usize, usize)> {
    // A thousandth of the peak: far below the noise, far above a resampler's ringing tail.
    let quiet = peak(x) / 1_000.0;
    let mut out = Vec::new();
    let mut run_start = None;
    for (i, v) in x.iter().enumerate().take(to.min(x.len())).skip(from) {
        match (v.abs() <= quiet, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                if i - s >= min_len {
                    out.push((s, i - s));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = run_start {
        let end = to.min(x.len());
        if end - s >= min_len {
            out.push((s, end - s));
        }
    }
    out
}

/// Where in `song` (sample index, within `0..max_pos`) the stretch `x[at..at + len]`
/// comes from; `None` if nothing matches (sample resolution: enough to say which part of
/// the song a box began with).
pub fn find_in(song: &[f32], x: &[f32], at: usize, len: usize, max_pos: usize) -> Option<usize> {
    find(song, x.get(at..at + len)?, 0, max_pos)
}

/// Where in `x`, starting within `from..to`, the samples `piece` are (sample
/// resolution); `None` if they match nowhere there.
pub fn find(x: &[f32], piece: &[f32], from: usize, to: usize) -> Option<usize> {
    let len = piece.len();
    let mut best = (f64::MIN, 0usize);
    for p in from..to.min(x.len().saturating_sub(len)) {
        let c: f64 = piece
            .chunks(256)
            .zip(x[p..p + len].chunks(256))
            .map(|(a, b)| f64::from(a.iter().zip(b).map(|(u, v)| u * v).sum::<f32>()))
            .sum();
        if c > best.0 {
            best = (c, p);
        }
    }
    let here = x.get(best.1..best.1 + len)?;
    let norm = (energy(piece) * energy(here)).sqrt();
    (norm > 0.0 && best.0 / norm >= MIN_QUALITY).then_some(best.1)
}
