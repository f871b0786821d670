//! Phi-accrual failure detector (Hayashibara et al.): how unlikely the current silence is,
//! given the heartbeat intervals seen so far, so a slow link is not taken for a dead box.

use std::collections::VecDeque;
use std::time::Duration;

use crate::core::Instant;

/// Intervals remembered; older ones fall out so the estimate follows the link.
const WINDOW: usize = 100;

/// Tracks one peer's heartbeats.
#[derive(Clone, Debug)]
pub(crate) struct PhiDetector {
    intervals_ms: VecDeque<f64>,
    last: Instant,
    min_std_ms: f64,
}

impl PhiDetector {
    /// Starts watching at `now`, assuming heartbeats every `expected` until real ones
    /// arrive. The standard deviation never drops below `min_std` so a very regular link
    /// does not make a single late heartbeat look fatal.
    pub(crate) fn new(now: Instant, expected: Duration, min_std: Duration) -> Self {
        let mean = expected.as_secs_f64() * 1e3;
        let spread = mean / 4.0;
        PhiDetector {
            // Two synthetic samples give the bootstrap mean and spread (as Akka does).
            intervals_ms: VecDeque::from([mean - spread, mean + spread]),
            last: now,
            min_std_ms: min_std.as_secs_f64() * 1e3,
        }
    }

    pub(crate) fn heartbeat(&mut self, now: Instant) {
        let interval = (now - self.last).as_secs_f64() * 1e3;
        self.last = now;
        if self.intervals_ms.len() == WINDOW {
            self.intervals_ms.pop_front();
        }
        self.intervals_ms.push_back(interval);
    }

    /// Suspicion level at `now`: phi = -log10(P(a heartbeat still comes)).
    pub(crate) fn phi(&self, now: Instant) -> f64 {
        let n = self.intervals_ms.len() as f64;
        let mean = self.intervals_ms.iter().sum::<f64>() / n;
        let var = self
            .intervals_ms
            .iter()
            .map(|x| (x - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = var.sqrt().max(self.min_std_ms);
        let elapsed = (now - self.last).as_secs_f64() * 1e3;
        // Logistic approximation of the normal CDF, numerically stable in both tails.
        let y = (elapsed - mean) / std;
        let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
        let p_later = if elapsed > mean {
            e / (1.0 + e)
        } else {
            1.0 - 1.0 / (1.0 + e)
        };
        -p_later.max(f64::MIN_POSITIVE).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_nanos(v * 1_000_000)
    }

    fn steady() -> PhiDetector {
        let mut d = PhiDetector::new(
            ms(0),
            Duration::from_millis(250),
            Duration::from_millis(100),
        );
        for i in 1..=40 {
            d.heartbeat(ms(i * 250));
        }
        d
    }

    #[test]
    fn phi_grows_with_silence() {
        let d = steady();
        let last = 40 * 250;
        let p1 = d.phi(ms(last + 100));
        let p2 = d.phi(ms(last + 500));
        let p3 = d.phi(ms(last + 1000));
        assert!(p1 < 1.0, "{p1}");
        assert!(p1 < p2 && p2 < p3, "{p1} {p2} {p3}");
        assert!(
            p3 > 8.0,
            "a second of silence on a 250 ms link is fatal: {p3}"
        );
    }

    #[test]
    fn default_threshold_detects_within_a_second_and_a_half() {
        let d = steady();
        let last = 40 * 250;
        let first_over = (0..3000).find(|t| d.phi(ms(last + t)) > 8.0).unwrap();
        assert!((600..=1250).contains(&first_over), "{first_over} ms");
    }

    #[test]
    fn jittery_link_is_given_more_slack() {
        let mut d = PhiDetector::new(ms(0), Duration::from_millis(250), Duration::from_millis(10));
        let mut t = 0;
        for i in 0..60 {
            t += if i % 2 == 0 { 50 } else { 450 };
            d.heartbeat(ms(t));
        }
        let steady = steady();
        let silence = 700;
        assert!(d.phi(ms(t + silence)) < steady.phi(ms(40 * 250 + silence)));
    }
}
