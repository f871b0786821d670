//! Skips during a run (`--skip-every`): box 1 asks for the next song every few seconds,
//! as a person pressing NEXT on a member would, and the recording says where each box
//! began the new song and how far apart the boxes were in its first samples.

use std::time::Instant;

use serde::Serialize;

use super::analyze::{spread, Analysis, MAX_LAG_S, WINDOW_S};
use super::correlate::{find, lag};

/// Past any fade at a song's very start, seconds; the piece searched for begins here.
const INTO_SONG_S: f64 = 0.020;
/// Length of the piece of the new song searched for in box 1's channel, samples.
const PIECE: usize = 4_096;
/// The new song is searched for from this long before the skip was asked (the
/// recorder's start latency makes the asked-at sample a little late)…
const SEARCH_BEFORE_S: f64 = 0.5;
/// …to this long after it (the party schedules a skip a lead time ahead).
const SEARCH_AFTER_S: f64 = 2.5;

/// The songs a run with skips plays: two, alternating, each this much longer than the
/// time between skips.
pub const SONGS: usize = 2;

/// One skip as the recording shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SongChange {
    /// When the skip was asked, seconds on the analysis timeline (approximate: within
    /// ~0.1 s).
    pub asked_at_s: f64,
    /// When box 1's first sample of the new song came out, seconds on the analysis
    /// timeline; `None`: the new song was not found after the skip.
    pub began_at_s: Option<f64>,
    /// Per box: how far its new song came after box 1's, µs (sub-sample); `None`: not
    /// found within the correlation's ±10 ms.
    pub lag_us: Vec<Option<f64>>,
    /// Largest minus smallest of those; `None` if a box's was not found.
    pub worst_pair_us: Option<f64>,
}

/// Asks box 1 for a skip every `every` seconds of play while there is time for the new
/// song to land inside the run.
#[derive(Debug)]
pub struct Skipper {
    every: Option<f64>,
    seconds: f64,
    played: Instant,
    done: usize,
    /// Seconds since the recorder started, at each skip asked.
    pub asked: Vec<f64>,
}

impl Skipper {
    pub fn new(every: Option<f64>, seconds: f64, played: Instant) -> Self {
        Skipper {
            every,
            seconds,
            played,
            done: 0,
            asked: Vec::new(),
        }
    }

    /// Whether a skip is due now; the caller asks for it and then calls [`Skipper::asked`].
    pub fn due(&self) -> bool {
        let Some(every) = self.every else {
            return false;
        };
        let next = every * (self.done + 1) as f64;
        let t = self.played.elapsed().as_secs_f64();
        t >= next && next + SEARCH_AFTER_S + WINDOW_S < self.seconds
    }

    pub fn asked(&mut self, recorder_started: Instant) {
        self.done += 1;
        self.asked.push(recorder_started.elapsed().as_secs_f64());
    }
}

/// The song that skip `k` (0 for the first) brings: the songs alternate from the first.
pub fn song_after(k: usize) -> usize {
    (k + 1) % SONGS
}

/// Where each skip's new song began in every channel. `songs[i]` is the start of song
/// `i` (a few seconds are enough), `asked_s` the recorder times of the skips.
pub fn song_changes(
    analysis: &Analysis,
    channels: &[Vec<f32>],
    songs: &[Vec<f32>],
    asked_s: &[f64],
    rate: u32,
) -> Vec<SongChange> {
    let rate_f = f64::from(rate);
    let origin = analysis.origin_sample as f64;
    let into = (INTO_SONG_S * rate_f) as usize;
    let len = (WINDOW_S * rate_f) as usize;
    let max_lag = (MAX_LAG_S * rate_f) as usize;
    asked_s
        .iter()
        .enumerate()
        .map(|(k, &asked)| {
            let near = asked * rate_f;
            let from = (near - SEARCH_BEFORE_S * rate_f).max(0.0) as usize;
            let to = (near + SEARCH_AFTER_S * rate_f) as usize;
            let piece = songs
                .get(song_after(k))
                .and_then(|s| s.get(into..into + PIECE));
            let found = match (channels.first(), piece) {
                (Some(reference), Some(piece)) => find(reference, piece, from, to),
                _ => None,
            };
            let lag_us: Vec<Option<f64>> = match found {
                Some(at) => channels
                    .iter()
                    .map(|c| {
                        lag(&channels[0], c, at, len, max_lag).map(|l| l.samples * 1e6 / rate_f)
                    })
                    .collect(),
                None => vec![None; channels.len()],
            };
            let all: Option<Vec<f64>> = lag_us.iter().copied().collect();
            SongChange {
                asked_at_s: (near - origin) / rate_f,
                began_at_s: found.map(|at| (at as f64 - into as f64 - origin) / rate_f),
                worst_pair_us: all.filter(|v| !v.is_empty()).map(|v| spread(&v)),
                lag_us,
            }
        })
        .collect()
}
