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

    /// A new host continuing the timeline it estimated as a member (fresh if it had no
    /// estimate, which only happens if it never synchronized).
    pub fn continuing(estimator: &ClockEstimator) -> Self {
        estimator
            .estimate()
            .map_or_else(HostClock::fresh, |mapping| HostClock { mapping })
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
