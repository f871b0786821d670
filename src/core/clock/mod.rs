//! Party clock (pure): a member estimates the host's monotonic timeline from four-timestamp
//! exchanges (`party = local + offset + rate * (local - reference)`), and the host stamps it.

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Instant;
use fit::Point;

mod fit;
mod host;

pub use host::HostClock;

/// A point on the party timeline: the host's monotonic clock, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct PartyTime(u64);

impl PartyTime {
    /// The origin of the timeline.
    pub const ZERO: PartyTime = PartyTime(0);

    /// `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        PartyTime(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: PartyTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for PartyTime {
    type Output = PartyTime;
    fn add(self, rhs: Duration) -> PartyTime {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        PartyTime(self.0.saturating_add(nanos))
    }
}

impl Sub<PartyTime> for PartyTime {
    type Output = Duration;
    fn sub(self, rhs: PartyTime) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for PartyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party {:.6}s", self.0 as f64 / 1e9)
    }
}

/// One request/response exchange with the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSample {
    /// Member sent the request (local clock).
    pub t1: Instant,
    /// Host received it (party time).
    pub t2: PartyTime,
    /// Host sent the response (party time).
    pub t3: PartyTime,
    /// Member received the response (local clock).
    pub t4: Instant,
}

/// Tuning of [`ClockEstimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockConfig {
    /// Most samples kept (bounds the work per sample).
    pub window: usize,
    /// Samples older than this (behind the newest) leave the fit: the drift-tracking
    /// horizon. Counted in time, not samples, so a fast exchange period while unlocked
    /// does not shrink the baseline the rate is measured over.
    pub horizon: Duration,
    /// Exchanges sent right after start (or a reset), `burst_interval` apart. The fit
    /// rests on the fastest exchanges, and how close the fastest of n come to the path's
    /// minimum delay shrinks with n: a dense start makes the clock good before the party's
    /// first song, which waits for it (5 s at 50 a second: two datagrams of under 100 bytes
    /// each, nothing on any network).
    pub burst: u32,
    /// Spacing of the start burst.
    pub burst_interval: Duration,
    /// Spacing once locked.
    pub period: Duration,
    /// Spacing while not locked, or while the error expected by the next periodic
    /// exchange exceeds `target_error`: the estimate improves with every sample (the
    /// envelope tightens), so exchanges stay frequent until it is good enough.
    pub fast_period: Duration,
    /// The accuracy worth paying extra exchanges for.
    pub target_error: Duration,
    /// `locked()` once the error estimate is below this.
    pub lock_error: Duration,
    /// Timestamping noise floor per sample (software stamps jitter by a few µs).
    pub stamp_noise: Duration,
    /// Prior on the rate (1σ, ppm): crystals are within ±100 ppm, so early fits from a
    /// few samples 50 ms apart cannot run off to absurd rates.
    pub rate_prior_ppm: f64,
    /// Round trips longer than this are rejected outright (useless and likely hostile).
    pub max_round_trip: Duration,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            window: 512,
            horizon: Duration::from_secs(90),
            burst: 250,
            burst_interval: Duration::from_millis(20),
            period: Duration::from_secs(1),
            fast_period: Duration::from_millis(100),
            target_error: Duration::from_micros(50),
            lock_error: Duration::from_millis(1),
            stamp_noise: Duration::from_micros(2),
            rate_prior_ppm: 200.0,
            max_round_trip: Duration::from_secs(2),
        }
    }
}

/// The fitted mapping: `party = local + offset_ns + rate_ppm·1e-6·(local - reference)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockEstimate {
    /// Local instant the offset refers to (the newest sample's midpoint).
    pub reference: Instant,
    /// party - local at `reference`, ns.
    pub offset_ns: f64,
    /// How much faster the party clock runs than the local one, ppm.
    pub rate_ppm: f64,
    /// ~3σ bound on |estimated - true party time| at `reference`, assuming the path's
    /// minimum delays are the same both ways (an asymmetric path adds up to half of
    /// `path_delay_ns`, which no exchange can observe).
    pub error_ns: f64,
    /// ~3σ uncertainty of the rate, ppm: the error grows by this much per second away
    /// from `reference`.
    pub rate_error_ppm: f64,
    /// Smallest round-trip delay in the window, ns.
    pub path_delay_ns: f64,
    /// Samples the fit used.
    pub samples: usize,
}

impl ClockEstimate {
    /// The identity mapping (a fresh host).
    pub fn identity() -> Self {
        ClockEstimate {
            reference: Instant::ZERO,
            offset_ns: 0.0,
            rate_ppm: 0.0,
            error_ns: 0.0,
            rate_error_ppm: 0.0,
            path_delay_ns: 0.0,
            samples: 0,
        }
    }

    /// party - local at `local`, ns.
    pub fn offset_at(&self, local: Instant) -> f64 {
        let dx = local.as_nanos() as f64 - self.reference.as_nanos() as f64;
        self.offset_ns + self.rate_ppm * 1e-6 * dx
    }

    /// The error bound at `local`: grows with the rate uncertainty away from `reference`.
    pub fn error_at(&self, local: Instant) -> f64 {
        let dx = (local.as_nanos() as f64 - self.reference.as_nanos() as f64).abs();
        self.error_ns.hypot(self.rate_error_ppm * 1e-6 * dx)
    }

    /// Party time at `local`, in (fractional) nanoseconds.
    pub fn party_nanos(&self, local: Instant) -> f64 {
        local.as_nanos() as f64 + self.offset_at(local)
    }

    /// Party time at `local`.
    pub fn to_party(&self, local: Instant) -> PartyTime {
        PartyTime(saturate(
            i128::from(local.as_nanos()) + self.offset_at(local).round() as i128,
        ))
    }

    /// The local instant at which the party clock reads `party`.
    pub fn to_local(&self, party: PartyTime) -> Instant {
        // party - ref = (local - ref)(1 + r) + offset  =>  solve for local - ref.
        let reference = i128::from(self.reference.as_nanos());
        let rel = (i128::from(party.as_nanos()) - reference) as f64;
        let local_rel = (rel - self.offset_ns) / (1.0 + self.rate_ppm * 1e-6);
        Instant::from_nanos(saturate(reference + local_rel.round() as i128))
    }
}

fn saturate(nanos: i128) -> u64 {
    u64::try_from(nanos.max(0)).unwrap_or(u64::MAX)
}

/// What the estimator has seen, for status and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClockCounters {
    /// Samples taken into the window.
    pub accepted: u64,
    /// Impossible samples (t4 < t1, host time running backwards, absurd round trip).
    pub rejected: u64,
    /// Samples far off the fit (kept out of it); a run of them restarts the estimate.
    pub outliers: u64,
    /// Restarts after the timeline jumped (e.g. a new host with another timeline).
    pub resets: u64,
    /// Exchanges sent (see [`ClockEstimator::exchange_sent`]).
    pub sent: u64,
}

/// Consecutive outliers after which the timeline is assumed to have jumped.
const JUMP_AFTER: u32 = 4;
/// Slack before a sample counts as an outlier: far beyond any plausible estimate error.
const OUTLIER_SLACK_NS: f64 = 2e6;

/// A member's estimate of party time from exchanges with the host. Pure: fed samples.
#[derive(Debug, Clone)]
pub struct ClockEstimator {
    config: ClockConfig,
    window: VecDeque<Point>,
    estimate: Option<ClockEstimate>,
    counters: ClockCounters,
    last_sent: Option<Instant>,
    sent_since_reset: u64,
    outlier_run: u32,
    /// After [`ClockEstimator::rebase`]: the estimate is the old timeline's, kept until
    /// the new samples lock.
    provisional: bool,
    /// Meanwhile, how far the new samples' (unlocked) fit puts the new timeline from the
    /// old estimate, plus that fit's error, ns: added to the error bound reported.
    step_ns: f64,
}

impl ClockEstimator {
    /// An estimator with no samples.
    pub fn new(config: ClockConfig) -> Self {
        ClockEstimator {
            config,
            window: VecDeque::with_capacity(config.window.max(2)),
            estimate: None,
            counters: ClockCounters::default(),
            last_sent: None,
            sent_since_reset: 0,
            outlier_run: 0,
            provisional: false,
            step_ns: 0.0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClockConfig {
        &self.config
    }

    /// Counters since creation.
    pub fn counters(&self) -> ClockCounters {
        self.counters
    }

    /// Forget every sample (e.g. the party changed host to one with another timeline);
    /// the next exchanges form a new burst.
    pub fn reset(&mut self) {
        self.window.clear();
        self.estimate = None;
        self.sent_since_reset = 0;
        self.outlier_run = 0;
        self.provisional = false;
        self.step_ns = 0.0;
        self.counters.resets += 1;
    }

    /// The host changed, and the new one continues the party's timeline from its own
    /// estimate of the old host's clock, which may miss it by that estimate's error (the
    /// timeline steps by up to a millisecond). The samples measured the old clock: mixed
    /// with the new ones they would bend the fit for a whole horizon while its error bound
    /// claimed a few µs. So they leave the fit, and a new burst starts; the current
    /// estimate stays in use until the new samples lock, so the music plays on meanwhile.
    pub fn rebase(&mut self) {
        self.window.clear();
        self.sent_since_reset = 0;
        self.outlier_run = 0;
        self.provisional = self.estimate.is_some();
        self.step_ns = 0.0;
    }

    /// Take one exchange. Impossible samples are counted and ignored, never trusted.
    pub fn add(&mut self, s: ClockSample) {
        let Some(point) = self.reduce(&s) else {
            self.counters.rejected += 1;
            return;
        };
        if let Some(est) = &self.estimate {
            let min_delay = self.min_delay();
            let bound = (point.delay - min_delay).max(0.0) / 2.0
                + est.error_at(Instant::from_nanos(point.mid));
            if (point.theta - est.offset_at(Instant::from_nanos(point.mid))).abs()
                > bound + OUTLIER_SLACK_NS
            {
                self.counters.outliers += 1;
                self.outlier_run += 1;
                if self.outlier_run < JUMP_AFTER {
                    return;
                }
                self.reset();
            }
        }
        self.outlier_run = 0;
        self.window.push_back(point);
        let horizon = u64::try_from(self.config.horizon.as_nanos()).unwrap_or(u64::MAX);
        let oldest = point.mid.saturating_sub(horizon);
        while self.window.len() > self.config.window.max(2)
            || (self.window.len() > 8 && self.window.front().is_some_and(|p| p.mid < oldest))
        {
            self.window.pop_front();
        }
        self.counters.accepted += 1;
        let fit = self.fit();
        // A young fit over a jittery path can lock with a rate no pair of crystals has
        // (up to ±2000 ppm): on the old estimate the music is in step but for the step
        // of the timeline, on such a fit it runs away faster than a player can steer.
        let rate_limit = 2.0 * self.config.rate_prior_ppm;
        if self.provisional
            && !fit.is_some_and(|e| self.locks(&e) && e.rate_ppm.abs() <= rate_limit)
        {
            // The step is unknown until the new samples lock; the bound says what they
            // suggest so far (a young fit is noisy: it errs on the wide side).
            if let (Some(new), Some(old)) = (fit, self.estimate) {
                self.step_ns = (new.offset_ns - old.offset_at(new.reference)).abs() + new.error_ns;
            }
            return;
        }
        self.provisional = false;
        self.step_ns = 0.0;
        self.estimate = fit;
    }

    /// The current estimate, `None` before the first sample. After a
    /// [`ClockEstimator::rebase`], until the new samples lock, the old one with its error
    /// bound widened by the step they suggest.
    pub fn estimate(&self) -> Option<ClockEstimate> {
        self.estimate.map(|e| ClockEstimate {
            error_ns: e.error_ns + self.step_ns,
            ..e
        })
    }

    /// Party time at local instant `local`.
    pub fn to_party(&self, local: Instant) -> Option<PartyTime> {
        self.estimate.map(|e| e.to_party(local))
    }

    /// Local instant at which the party clock reads `party`.
    pub fn to_local(&self, party: PartyTime) -> Option<Instant> {
        self.estimate.map(|e| e.to_local(party))
    }

    /// A few samples in and the error bound below `lock_error`.
    pub fn locked(&self) -> bool {
        self.estimate.is_some_and(|e| self.locks(&e))
    }

    /// The error bound a member reports to its host, µs: `u32::MAX` until locked.
    pub fn reported_error_us(&self) -> u32 {
        match self.estimate() {
            Some(e) if self.locked() => {
                (e.error_ns / 1e3).clamp(0.0, f64::from(u32::MAX - 1)) as u32
            }
            _ => u32::MAX,
        }
    }

    fn locks(&self, e: &ClockEstimate) -> bool {
        e.samples >= 4 && e.error_ns <= self.config.lock_error.as_nanos() as f64
    }

    /// Record that an exchange was sent at `at` (drives [`ClockEstimator::next_exchange`]).
    pub fn exchange_sent(&mut self, at: Instant) {
        self.last_sent = Some(at);
        self.sent_since_reset += 1;
        self.counters.sent += 1;
    }

    /// When to send the next exchange: a burst first, then `period`, or `fast_period`
    /// while unlocked, still on the old timeline after a [`ClockEstimator::rebase`], or
    /// while the error expected at the next periodic exchange would exceed `target_error`.
    pub fn next_exchange(&self, now: Instant) -> Instant {
        let Some(last) = self.last_sent else {
            return now;
        };
        let c = &self.config;
        let drifting = self
            .estimate
            .is_some_and(|e| e.error_at(now + c.period) > c.target_error.as_nanos() as f64);
        let gap = if self.sent_since_reset < u64::from(c.burst) {
            c.burst_interval
        } else if !self.locked() || drifting || self.provisional {
            c.fast_period
        } else {
            c.period
        };
        last + gap
    }

    /// Sanity checks and reduction to what the fit needs.
    fn reduce(&self, s: &ClockSample) -> Option<Point> {
        let round_trip = s.t4.as_nanos().checked_sub(s.t1.as_nanos())?;
        let processing = s.t3.as_nanos().checked_sub(s.t2.as_nanos())?;
        let delay = round_trip.checked_sub(processing)?;
        if round_trip > u64::try_from(self.config.max_round_trip.as_nanos()).unwrap_or(u64::MAX) {
            return None;
        }
        let diff = |party: PartyTime, local: Instant| {
            (i128::from(party.as_nanos()) - i128::from(local.as_nanos())) as f64
        };
        let (fwd, back) = (diff(s.t2, s.t1), diff(s.t3, s.t4));
        // With equal one-way delays the host's midpoint is the member's midpoint.
        let mid = s.t1.as_nanos() + round_trip / 2;
        let exact_mid = s.t1.as_nanos() as f64 + round_trip as f64 / 2.0;
        let theta = (fwd + back) / 2.0 + (exact_mid - mid as f64);
        Some(Point {
            mid,
            theta,
            delay: delay as f64,
            t1: s.t1.as_nanos(),
            fwd,
            t4: s.t4.as_nanos(),
            back,
        })
    }

    fn min_delay(&self) -> f64 {
        self.window
            .iter()
            .map(|p| p.delay)
            .fold(f64::INFINITY, f64::min)
    }

    /// Fit the window (see [`fit`]) and express it at the newest sample.
    fn fit(&self) -> Option<ClockEstimate> {
        let newest = self.window.back()?;
        let points: Vec<Point> = self.window.iter().copied().collect();
        let stamp = self.config.stamp_noise.as_nanos() as f64;
        let line = fit::fit(
            &points,
            newest.mid,
            stamp,
            self.config.rate_prior_ppm * 1e-6,
        )?;
        Some(ClockEstimate {
            reference: Instant::from_nanos(newest.mid),
            offset_ns: line.offset,
            rate_ppm: line.slope * 1e6,
            error_ns: 3.0 * line.var_offset.sqrt(),
            rate_error_ppm: 3.0 * line.var_slope.sqrt() * 1e6,
            path_delay_ns: self.min_delay(),
            samples: points.len(),
        })
    }
}

#[cfg(test)]
mod tests;
