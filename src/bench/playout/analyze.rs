//! From one multichannel recording (one channel per box) to the playout numbers: each
//! box's lag behind box 1 in short windows, and what those lags say about starting in
//! step, locking and staying locked.

use serde::Serialize;

use super::correlate::{find_in, lag, offset_end, onset, silences};

/// Correlation window length, seconds.
pub const WINDOW_S: f64 = 0.5;
/// Lags searched either way, seconds: wider than any start error we expect to see.
pub const MAX_LAG_S: f64 = 0.010;
/// In step: every box within this of every other (seconds).
pub const LOCK_S: f64 = 0.001;
/// Steady state is judged from this far into the song (seconds).
pub const SETTLE_S: f64 = 10.0;
/// A silence at least this long inside a box's playing stretch is a gap (seconds).
const GAP_S: f64 = 0.001;
/// Gaps of different boxes this close (seconds) are one event.
const COMMON_S: f64 = 0.010;
/// Gaps listed by position, per box.
const MAX_GAPS_LISTED: usize = 10;

/// p50 / p99 / max of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub count: usize,
}

impl Percentiles {
    /// Nearest-rank percentiles; `None` if empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((q * v.len() as f64).ceil() as usize).saturating_sub(1);
            v.get(i.min(v.len().saturating_sub(1))).copied()
        };
        Some(Percentiles {
            p50: at(0.5)?,
            p99: at(0.99)?,
            max: *v.last()?,
            count: v.len(),
        })
    }
}

/// Silences inside one box's playing stretch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gaps {
    pub count: usize,
    pub longest_ms: f64,
    pub total_ms: f64,
    /// Where the first few are, seconds from box 1's first sample: gaps at the same
    /// instant on every box are the recording's, not the boxes'.
    pub at_s: Vec<f64>,
    /// Gaps no other box had at the same instant: this box's own.
    pub own: usize,
    pub own_longest_ms: f64,
}

/// What the recording says (times in seconds from the first sample any box played,
/// lags in µs behind box 1).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Analysis {
    /// Per box: when its first sample came out relative to box 1's, µs (sample
    /// resolution, ±21 µs); `None`: the box never played.
    pub first_sample_offset_us: Vec<Option<f64>>,
    /// Per box: where in the song its first sample was, ms (set by [`first_song_ms`]).
    /// Equal first samples and song positions: a clean common start; different first
    /// samples whose song positions differ by as much: late boxes entered in step.
    pub first_song_ms: Vec<Option<f64>>,
    /// Largest minus smallest of those, µs.
    pub first_sample_worst_pair_us: f64,
    /// Per box: its lag behind box 1 in the first window where every box matched, µs
    /// (sub-sample).
    pub first_window_lag_us: Vec<Option<f64>>,
    /// From the first box's first sample until every box is within 1 ms of every other for the
    /// rest of the run; `None`: never.
    pub lock_s: Option<f64>,
    /// Pairwise spread (largest minus smallest lag) per window from the lock on, µs.
    pub spread_after_lock_us: Option<Percentiles>,
    /// The same from [`SETTLE_S`] on (windows where every box matched).
    pub spread_after_settle_us: Option<Percentiles>,
    /// Windows from [`SETTLE_S`] on with a spread over 1 ms or a box that did not match.
    pub excursions: usize,
    /// The recording's sample where time 0 is.
    pub origin_sample: usize,
    /// Windows analysed.
    pub windows: usize,
    /// Per box: silent stretches while it played (underruns, stalls, a lost host).
    pub gaps: Vec<Gaps>,
    /// Every window, in order.
    pub series: Vec<Window>,
}

/// One analysed window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Start, seconds from the first box's first sample.
    pub t: f64,
    /// Each box's lag behind box 1, µs; `None`: no match, not started, or ended.
    pub lags_us: Vec<Option<f64>>,
    /// Largest minus smallest lag of the boxes playing, µs; `None` if one of them
    /// did not match or had not started yet.
    pub spread_us: Option<f64>,
}

/// One box in one window.
enum Seen {
    Lag(f64),
    /// Should be playing (started, not ended) but does not match box 1.
    Missing,
    /// Its sound ended before this window (a killed host): out of the spread.
    Ended,
}

fn window(
    channels: &[Vec<f32>],
    ranges: &[Option<(usize, usize)>],
    start: usize,
    len: usize,
    max_lag: usize,
) -> Vec<Seen> {
    let reference = &channels[0];
    channels
        .iter()
        .zip(ranges)
        .enumerate()
        .map(|(i, (ch, range))| {
            let Some((first, end)) = *range else {
                return Seen::Missing;
            };
            if end < start + len {
                Seen::Ended
            } else if start < first {
                Seen::Missing
            } else if i == 0 {
                Seen::Lag(0.0)
            } else {
                lag(reference, ch, start, len, max_lag)
                    .map_or(Seen::Missing, |l| Seen::Lag(l.samples))
            }
        })
        .collect()
}

/// Largest minus smallest of `values`: the worst pair of boxes.
pub fn spread(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::MIN, f64::max)
        - values.iter().copied().fold(f64::MAX, f64::min)
}

/// Per box: where in `song` (its first seconds) the box's first sample was, ms.
pub fn first_song_ms(channels: &[Vec<f32>], song: &[f32], rate: u32) -> Vec<Option<f64>> {
    let rate_f = f64::from(rate);
    // Past any ramp at the very start; 4096 samples say unambiguously where we are.
    let skip = (0.02 * rate_f) as usize;
    channels
        .iter()
        .map(|c| {
            let first = onset(c)?;
            let at = find_in(song, c, first + skip, 4_096, song.len())?;
            Some((at as f64 - skip as f64) * 1e3 / rate_f)
        })
        .collect()
}

/// Analyses `channels` (box 1 first) recorded at `rate`, over `seconds` from box 1's
/// first sample. A box whose sound ended (a killed host) leaves the spread from then on.
pub fn analyse(channels: &[Vec<f32>], rate: u32, seconds: f64) -> Analysis {
    let rate_f = f64::from(rate);
    let us = 1e6 / rate_f;
    let ranges: Vec<Option<(usize, usize)>> = channels
        .iter()
        .map(|c| Some((onset(c)?, offset_end(c)?)))
        .collect();
    let mut out = Analysis::default();
    let Some(Some((first_ref, _))) = ranges.first().copied() else {
        return out;
    };
    out.first_sample_offset_us = ranges
        .iter()
        .map(|r| r.map(|(first, _)| (first as f64 - first_ref as f64) * us))
        .collect();
    let known: Vec<f64> = out
        .first_sample_offset_us
        .iter()
        .flatten()
        .copied()
        .collect();
    out.first_sample_worst_pair_us = spread(&known);
    // Time starts with the first box's first sample, whichever box that is.
    let origin = ranges
        .iter()
        .flatten()
        .map(|(first, _)| *first)
        .min()
        .unwrap_or(first_ref);
    out.origin_sample = origin;
    let len = (WINDOW_S * rate_f) as usize;
    let max_lag = (MAX_LAG_S * rate_f) as usize;
    let total = channels.iter().map(Vec::len).min().unwrap_or(0);
    let last = (origin + (seconds * rate_f) as usize).min(total.saturating_sub(len + max_lag));
    let mut start = origin.max(max_lag);
    while start <= last {
        let seen = window(channels, &ranges, start, len, max_lag);
        let mut lags = Vec::new();
        let mut all = true;
        for s in &seen {
            match s {
                Seen::Lag(v) => lags.push(*v * us),
                Seen::Missing => all = false,
                Seen::Ended => {}
            }
        }
        out.series.push(Window {
            t: (start - origin) as f64 / rate_f,
            lags_us: seen
                .iter()
                .map(|s| match s {
                    Seen::Lag(v) => Some(v * us),
                    _ => None,
                })
                .collect(),
            spread_us: all.then_some(spread(&lags)),
        });
        start += len;
    }
    out.windows = out.series.len();
    out.first_window_lag_us = out
        .series
        .iter()
        .find(|w| w.spread_us.is_some())
        .map(|w| w.lags_us.clone())
        .unwrap_or_default();
    summarize(&mut out, channels, &ranges, rate_f);
    out
}

fn summarize(
    out: &mut Analysis,
    channels: &[Vec<f32>],
    ranges: &[Option<(usize, usize)>],
    rate: f64,
) {
    let lock_us = LOCK_S * 1e6;
    let spreads: Vec<(f64, Option<f64>)> = out.series.iter().map(|w| (w.t, w.spread_us)).collect();
    let good = |s: &Option<f64>| s.is_some_and(|v| v <= lock_us);
    let first_locked = spreads
        .iter()
        .rposition(|(_, s)| !good(s))
        .map_or(Some(0), |bad| (bad + 1 < spreads.len()).then_some(bad + 1));
    out.lock_s = first_locked.and_then(|i| spreads.get(i)).map(|(t, _)| *t);
    if let Some(i) = first_locked {
        let after: Vec<f64> = spreads[i..].iter().filter_map(|(_, s)| *s).collect();
        out.spread_after_lock_us = Percentiles::of(&after);
    }
    let settled: Vec<&(f64, Option<f64>)> =
        spreads.iter().filter(|(t, _)| *t >= SETTLE_S).collect();
    let matched: Vec<f64> = settled.iter().filter_map(|(_, s)| *s).collect();
    out.spread_after_settle_us = Percentiles::of(&matched);
    out.excursions = settled.iter().filter(|(_, s)| !good(s)).count();
    let min_gap = (GAP_S * rate) as usize;
    let origin = out.origin_sample;
    let found: Vec<Vec<(usize, usize)>> = channels
        .iter()
        .zip(ranges)
        .map(|(c, r)| r.map_or_else(Vec::new, |(first, end)| silences(c, first, end, min_gap)))
        .collect();
    let ms = |n: usize| n as f64 * 1e3 / rate;
    let near = (COMMON_S * rate) as usize;
    out.gaps = found
        .iter()
        .enumerate()
        .map(|(i, mine)| {
            // Shared: every other box still playing there went silent at the same
            // instant. That is the sound server or the recorder starved, not this box.
            let shared = |at: usize| {
                found.len() > 1
                    && found
                        .iter()
                        .zip(ranges)
                        .enumerate()
                        .all(|(j, (theirs, r))| {
                            j == i
                                || r.is_some_and(|(_, end)| end < at)
                                || theirs.iter().any(|(t, _)| t.abs_diff(at) <= near)
                        })
            };
            let own: Vec<&(usize, usize)> = mine.iter().filter(|(at, _)| !shared(*at)).collect();
            Gaps {
                count: mine.len(),
                longest_ms: mine.iter().map(|(_, n)| ms(*n)).fold(0.0, f64::max),
                total_ms: mine.iter().map(|(_, n)| ms(*n)).sum(),
                at_s: mine
                    .iter()
                    .take(MAX_GAPS_LISTED)
                    .map(|(at, _)| (*at as f64 - origin as f64) / rate)
                    .collect(),
                own: own.len(),
                own_longest_ms: own.iter().map(|(_, n)| ms(*n)).fold(0.0, f64::max),
            }
        })
        .collect();
}
