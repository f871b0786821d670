//! The host's side of the party clock: what it stamps time-sync responses with.

use super::{ClockEstimate, ClockEstimator, PartyTime};
use crate::core::Instant;

/// What the host stamps party time with. A fresh host's party time is its own monotonic
/// clock; a member promoted after a failover keeps the mapping it had estimated (rate
/// frozen), so the party timeline continues without a jump.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostClock {
    mapping: ClockEstimate,
}

impl HostClock {
    /// A fresh host: party time is local time.
    pub fn fresh() -> Self {
        HostClock {
            mapping: ClockEstimate::identity(),
        }
    }

    /// A new host continuing, from local instant `now` on, the timeline it estimated as
    /// a member (fresh if it had no estimate, which only happens if it never
    /// synchronized).
    ///
    /// The rate is frozen, and every box follows it from now on, so it is held to what
    /// two crystals can differ by: a young estimate (a few samples over a jittery link)
    /// can claim up to ±2000 ppm, which no player can steer after (500 ppm at most), and
    /// the party would drift off the audible timeline by milliseconds a second. The
    /// mapping is re-expressed at `now` first, so the party time now does not move.
    pub fn continuing(estimator: &ClockEstimator, now: Instant) -> Self {
        let Some(e) = estimator.estimate() else {
            return HostClock::fresh();
        };
        let limit = estimator.config().rate_prior_ppm;
        HostClock {
            mapping: ClockEstimate {
                reference: now,
                offset_ns: e.offset_at(now),
                rate_ppm: e.rate_ppm.clamp(-limit, limit),
                error_ns: e.error_at(now),
                ..e
            },
        }
    }

    /// Party time now.
    pub fn now(&self, local: Instant) -> PartyTime {
        self.mapping.to_party(local)
    }

    /// The local instant at which party time reads `party`.
    pub fn to_local(&self, party: PartyTime) -> Instant {
        self.mapping.to_local(party)
    }

    /// The mapping in use (identity on a fresh host).
    pub fn mapping(&self) -> &ClockEstimate {
        &self.mapping
    }
}
