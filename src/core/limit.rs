//! Per-source rate limits: a token bucket for each source in a bounded table, so a
//! stranger can make a box spend neither CPU nor table memory without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use super::Instant;

/// How much one source may do: `burst` at once, then `per_sec` on average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_sec: u32,
    pub burst: u32,
}

/// Clock-sync requests one address may have answered. A member asks 50 times a second
/// in its start burst, then at most 10; this lets eight boxes behind one address (boxes
/// sharing a machine) all burst at once, while a stranger's flood costs the host a few
/// hundred answers a second at most.
pub const CLOCK_REQUESTS: RateLimit = RateLimit {
    per_sec: 400,
    burst: 400,
};
/// Addresses tracked for [`CLOCK_REQUESTS`]: far more than a party has boxes.
pub const CLOCK_SOURCES: usize = 256;

/// Session handshakes one address may start. Each costs the box about a millisecond of
/// CPU; a box of a party opens two sessions (control, song transfer) to another and
/// redials with backoff, so even eight boxes behind one address starting together stay
/// well inside the burst.
pub const HANDSHAKES: RateLimit = RateLimit {
    per_sec: 16,
    burst: 64,
};
/// Addresses tracked for [`HANDSHAKES`].
pub const HANDSHAKE_SOURCES: usize = 256;

/// How often a full table is swept for sources that went quiet: a stranger cycling
/// addresses keeps it full, and sweeping on every new one would cost a scan per packet.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// One source's allowance.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let earned = (now - self.at).as_secs_f64() * f64::from(limit.per_sec);
        self.tokens = (self.tokens + earned).min(f64::from(limit.burst));
        self.at = self.at.max(now);
    }

    fn take(&mut self, limit: RateLimit, now: Instant) -> bool {
        self.refill(limit, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        false
    }
}

/// Token buckets for at most `capacity` sources. While the table is full of sources
/// still spending, new ones share one extra bucket: cycling source addresses then buys
/// one source's allowance, not one per address.
#[derive(Debug)]
pub struct Limiter<K> {
    limit: RateLimit,
    capacity: usize,
    table: HashMap<K, Bucket>,
    overflow: Bucket,
    swept: Option<Instant>,
}

impl<K: Hash + Eq + Copy> Limiter<K> {
    pub fn new(limit: RateLimit, capacity: usize) -> Self {
        Limiter {
            limit,
            capacity,
            table: HashMap::new(),
            overflow: Bucket::full(limit, Instant::ZERO),
            swept: None,
        }
    }

    /// Whether `source` may go ahead at `now`; counts it if so.
    pub fn allow(&mut self, now: Instant, source: K) -> bool {
        let limit = self.limit;
        if let Some(bucket) = self.table.get_mut(&source) {
            return bucket.take(limit, now);
        }
        if self.table.len() >= self.capacity {
            self.sweep(now);
        }
        if self.table.len() >= self.capacity {
            return self.overflow.take(limit, now);
        }
        let mut bucket = Bucket::full(limit, now);
        let allowed = bucket.take(limit, now);
        self.table.insert(source, bucket);
        allowed
    }

    /// Forgets sources whose bucket filled up again: to them, a fresh bucket is the same.
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|at| now - at < SWEEP_EVERY) {
            return;
        }
        self.swept = Some(now);
        let limit = self.limit;
        self.table.retain(|_, bucket| {
            bucket.refill(limit, now);
            bucket.tokens < f64::from(limit.burst)
        });
    }

    /// Sources tracked (at most the capacity).
    pub fn tracked(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_sec: 10,
        burst: 5,
    };

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn allowed(limiter: &mut Limiter<u32>, now: Instant, source: u32, tries: usize) -> usize {
        (0..tries).filter(|_| limiter.allow(now, source)).count()
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let mut limiter = Limiter::new(LIMIT, 4);
        assert_eq!(allowed(&mut limiter, at(0), 1, 100), 5);
        // 10 per second: one more every 100 ms.
        assert_eq!(allowed(&mut limiter, at(100), 1, 100), 1);
        assert_eq!(allowed(&mut limiter, at(350), 1, 100), 2);
        // Idle long enough, the whole burst again, never more.
        assert_eq!(allowed(&mut limiter, at(60_000), 1, 100), 5);
    }

    #[test]
    fn sources_do_not_share_an_allowance() {
        let mut limiter = Limiter::new(LIMIT, 4);
        assert_eq!(allowed(&mut limiter, at(0), 1, 100), 5);
        assert_eq!(allowed(&mut limiter, at(0), 2, 100), 5);
    }

    #[test]
    fn cycling_sources_neither_grows_the_table_nor_multiplies_the_allowance() {
        let mut limiter = Limiter::new(LIMIT, 4);
        let fresh: usize = (0..10_000)
            .map(|source| allowed(&mut limiter, at(0), source, 1))
            .sum();
        assert_eq!(limiter.tracked(), 4);
        // Four sources in the table with one each, then one shared burst for the rest.
        assert_eq!(fresh, 4 + 5);
    }

    #[test]
    fn quiet_sources_make_room_for_new_ones() {
        let mut limiter = Limiter::new(LIMIT, 2);
        allowed(&mut limiter, at(0), 1, 1);
        allowed(&mut limiter, at(0), 2, 1);
        // Both refilled by 1 s: swept, and the newcomer gets a bucket of its own.
        assert_eq!(allowed(&mut limiter, at(1_000), 3, 100), 5);
        assert_eq!(allowed(&mut limiter, at(1_000), 4, 100), 5);
        assert_eq!(limiter.tracked(), 2);
    }
}
