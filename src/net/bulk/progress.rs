//! Download rates and ETAs for the `transfers` status, from the bytes each song gained.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::core::{Instant, SongRef};

/// Rates are averaged over this window.
const WINDOW: Duration = Duration::from_secs(3);

/// Bytes received per song, timestamped.
#[derive(Debug, Default)]
pub(super) struct Rates {
    samples: HashMap<SongRef, VecDeque<(Instant, u64)>>,
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
pub(super) fn eta_ms(left: u64, rate: u64) -> Option<u64> {
    (rate > 0).then(|| left.saturating_mul(1000) / rate)
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
