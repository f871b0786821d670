//! What the machine shows of each song being transferred: progress, rate, ETA, state and
//! error, and the rates behind them (from the bytes each song gained).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::Transfer;
use crate::core::{Instant, SongRef};

/// Rates are averaged over this window.
const WINDOW: Duration = Duration::from_secs(3);

/// Bytes received per song, timestamped.
#[derive(Debug, Default)]
pub(super) struct Rates {
    samples: BTreeMap<SongRef, VecDeque<(Instant, u64)>>,
}

impl Rates {
    pub(super) fn add(&mut self, now: Instant, song: SongRef, bytes: u64) {
        let q = self.samples.entry(song).or_default();
        q.push_back((now, bytes));
        while q.front().is_some_and(|(t, _)| now - *t > WINDOW) {
            q.pop_front();
        }
    }

    /// Bytes per second over the last few seconds.
    pub(super) fn rate(&self, now: Instant, song: &SongRef) -> u64 {
        let Some(q) = self.samples.get(song) else {
            return 0;
        };
        let recent: u64 = q
            .iter()
            .filter(|(t, _)| now - *t <= WINDOW)
            .map(|(_, b)| b)
            .sum();
        (recent as f64 / WINDOW.as_secs_f64()) as u64
    }

    /// Forgets songs no longer fetched.
    pub(super) fn retain(&mut self, keep: impl Fn(&SongRef) -> bool) {
        self.samples.retain(|s, _| keep(s));
    }
}

/// Milliseconds to fetch `left` bytes at `rate` bytes/s; `None` when stalled.
fn eta_ms(left: u64, rate: u64) -> Option<u64> {
    (rate > 0).then(|| left.saturating_mul(1000) / rate)
}

/// Where a song of the window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SongState {
    /// Waiting for its manifest.
    Manifest,
    Fetching,
    /// Failed on this box; retried after the backoff.
    Failed,
    Complete,
}

impl SongState {
    pub fn as_str(self) -> &'static str {
        match self {
            SongState::Manifest => "manifest",
            SongState::Fetching => "fetching",
            SongState::Failed => "failed",
            SongState::Complete => "complete",
        }
    }
}

/// One song of the window, for the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SongReport {
    pub song: SongRef,
    pub title: String,
    pub bytes: u64,
    pub size: u64,
    pub rate_bps: u64,
    pub received_bytes: u64,
    pub eta_ms: Option<u64>,
    pub state: SongState,
    pub sources: usize,
    pub error: Option<String>,
}

impl Transfer {
    /// Every song of the window, the current one first.
    pub fn report(&self, now: Instant) -> Vec<SongReport> {
        self.window()
            .iter()
            .map(|(song, _)| self.song_report(now, song))
            .collect()
    }

    /// The last disk-full or quota error, until a download starts again.
    pub fn storage_error(&self) -> Option<&str> {
        self.intake.storage_error.as_deref()
    }

    /// Chunks that failed verification since the machine started.
    pub fn corrupt_chunks(&self) -> u64 {
        self.intake.corrupt
    }

    fn song_report(&self, now: Instant, song: &SongRef) -> SongReport {
        let m = self.songs.manifests.get(song);
        let size = m.map_or(0, |m| m.size);
        let whole = self.holds_whole(song);
        let bytes = if whole {
            size
        } else {
            self.swarm.progress(song).map_or(0, |p| p.bytes_held)
        };
        let rate = self.intake.rates.rate(now, song);
        let error = self.songs.failed.get(song).map(|(_, e)| e.clone());
        let state = match (m, whole || (size > 0 && bytes >= size), &error) {
            (_, true, _) => SongState::Complete,
            (_, _, Some(_)) => SongState::Failed,
            (None, _, _) => SongState::Manifest,
            (Some(_), _, _) => SongState::Fetching,
        };
        SongReport {
            song: *song,
            title: m.map(|m| m.title.clone()).unwrap_or_default(),
            bytes,
            size,
            rate_bps: rate,
            received_bytes: self.intake.received.get(song).copied().unwrap_or(0),
            eta_ms: (state == SongState::Fetching)
                .then(|| eta_ms(size.saturating_sub(bytes), rate))
                .flatten(),
            state,
            sources: if m.is_some() {
                self.conns.peer_count()
            } else {
                0
            },
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_recent_average() {
        let mut r = Rates::default();
        let song = SongRef([1; 32]);
        let t0 = Instant::from_nanos(10_000_000_000);
        r.add(t0, song, 3_000_000);
        assert_eq!(r.rate(t0, &song), 1_000_000);
        // Old samples fall out of the window.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(r.rate(later, &song), 0);
        assert_eq!(eta_ms(2_000_000, 1_000_000), Some(2000));
        assert_eq!(eta_ms(1, 0), None);
    }
}
