//! The benchmark's network: one-way delays uniform in `delay ± jitter`, independent loss,
//! and stalls (the link holds every packet for a while, as Wi-Fi does on a rescan).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// A network profile of the benchmark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetProfile {
    /// Name printed in the report.
    pub name: String,
    /// Mean one-way delay.
    pub delay: Duration,
    /// Half-width of the uniform one-way delay distribution.
    pub jitter: Duration,
    /// Chance that a packet is lost.
    pub loss: f64,
    /// Stalls per second per link (Poisson).
    pub stalls_per_sec: f64,
    /// How long a stall holds packets.
    pub stall: Duration,
    /// How long before it really leaves a member stamps its time request: the runtime
    /// reads the clock, then finishes the event before the datagram is sent. The host's
    /// answer is stamped the same way; what matters is the difference, which biases the
    /// offset estimate by half of it.
    pub stamp_lead: Duration,
}

impl NetProfile {
    /// Wired LAN: 0.3 ms ± 0.1 ms one way, nothing lost.
    pub fn lan() -> Self {
        NetProfile {
            name: "lan".into(),
            delay: Duration::from_micros(300),
            jitter: Duration::from_micros(100),
            loss: 0.0,
            stalls_per_sec: 0.0,
            stall: Duration::ZERO,
            stamp_lead: Duration::ZERO,
        }
    }

    /// Loopback on one machine, as in `bench playout`: 40 µs ± 20 µs one way, and the
    /// stamping lead that `bench playout` measured there (members' clock errors of 4 to
    /// 10 µs at the end of ten-minute runs on one machine, where the truth is 0).
    pub fn loopback() -> Self {
        NetProfile {
            name: "loopback".into(),
            delay: Duration::from_micros(40),
            jitter: Duration::from_micros(20),
            loss: 0.0,
            stalls_per_sec: 0.0,
            stall: Duration::ZERO,
            stamp_lead: Duration::from_micros(14),
        }
    }

    /// Wi-Fi: 3 ms ± 2 ms one way, 1 % loss, a 50 ms stall every 10 s on average.
    pub fn wifi() -> Self {
        NetProfile {
            name: "wifi".into(),
            delay: Duration::from_millis(3),
            jitter: Duration::from_millis(2),
            loss: 0.01,
            stalls_per_sec: 0.1,
            stall: Duration::from_millis(50),
            stamp_lead: Duration::ZERO,
        }
    }
}

/// One member's link to the host (both directions share its stalls).
#[derive(Debug)]
pub(super) struct Link {
    profile: NetProfile,
    rng: StdRng,
    /// True time (ns) until which the current stall holds packets.
    stall_until: f64,
    /// True time (ns) the next stall begins.
    next_stall: f64,
}

impl Link {
    /// How long after its stamp a member's request really leaves, ns.
    pub(super) fn stamp_lead(&self) -> f64 {
        self.profile.stamp_lead.as_secs_f64() * 1e9
    }

    pub(super) fn new(profile: &NetProfile, seed: u64) -> Self {
        let mut link = Link {
            profile: profile.clone(),
            rng: StdRng::seed_from_u64(seed),
            stall_until: 0.0,
            next_stall: 0.0,
        };
        link.next_stall = link.gap();
        link
    }

    /// Exponential time to the next stall, ns (never, without stalls).
    fn gap(&mut self) -> f64 {
        if self.profile.stalls_per_sec <= 0.0 {
            return f64::INFINITY;
        }
        let u: f64 = self.rng.gen();
        -(1.0 - u).ln() / self.profile.stalls_per_sec * 1e9
    }

    /// When a packet sent at true time `sent` (ns) arrives, or `None` if it is lost.
    pub(super) fn deliver(&mut self, sent: f64) -> Option<f64> {
        while self.next_stall <= sent {
            self.stall_until = self.next_stall + self.profile.stall.as_nanos() as f64;
            self.next_stall += self.gap().max(self.profile.stall.as_nanos() as f64);
        }
        let lost = self.rng.gen::<f64>() < self.profile.loss;
        let mean = self.profile.delay.as_nanos() as f64;
        let jitter = self.profile.jitter.as_nanos() as f64;
        let delay = mean + jitter * (2.0 * self.rng.gen::<f64>() - 1.0);
        let leaves = if sent < self.stall_until {
            self.stall_until
        } else {
            sent
        };
        (!lost).then_some(leaves + delay.max(0.0))
    }

    /// Host processing time between receiving a request and stamping the reply, ns.
    pub(super) fn processing(&mut self) -> f64 {
        self.rng.gen_range(20e3..40e3)
    }
}
