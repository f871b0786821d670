//! Which inbound TCP connections get a session handshake: each source address within its
//! rate, and only so many handshakes under way at once, so strangers opening connections
//! in a loop can burn neither the CPU a handshake costs nor memory on half-open ones.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::monotonic_now;
use crate::core::limit::{Limiter, HANDSHAKES, HANDSHAKE_SOURCES};

/// Handshakes under way at once on one listener. Each may hold a 64 KiB message buffer
/// for up to the handshake timeout, so this bounds what slow or half-open strangers can
/// pin to about 4 MiB per listener (8 MiB for the box); a party's boxes finish theirs in
/// milliseconds and need a handful at a time.
pub(crate) const MAX_PENDING_HANDSHAKES: usize = 64;

/// Why an inbound connection was closed before its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its source address opened connections faster than [`HANDSHAKES`] allows.
    RateLimited,
    /// [`MAX_PENDING_HANDSHAKES`] were already under way.
    Busy,
}

/// The admission rules of one listener. The control and song-transfer ports each have
/// their own, so strangers filling one never lock boxes out of the other.
#[derive(Debug)]
pub(crate) struct Gate {
    rates: Mutex<Limiter<IpAddr>>,
    pending: Arc<AtomicUsize>,
    max_pending: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(MAX_PENDING_HANDSHAKES)
    }
}

/// A handshake under way; dropping it (once the handshake ended) frees its slot.
#[derive(Debug)]
pub(crate) struct Permit {
    pending: Arc<AtomicUsize>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub(crate) fn new(max_pending: usize) -> Self {
        Gate {
            rates: Mutex::new(Limiter::new(HANDSHAKES, HANDSHAKE_SOURCES)),
            pending: Arc::new(AtomicUsize::new(0)),
            max_pending,
        }
    }

    /// Whether a connection from `remote` may run its handshake now.
    pub(crate) fn admit(&self, remote: SocketAddr) -> Result<Permit, Refusal> {
        // A poisoned lock only means another task panicked mid-update: the buckets
        // are still numbers, good enough to go on limiting with.
        let allowed = self
            .rates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(monotonic_now(), remote.ip());
        if !allowed {
            return Err(Refusal::RateLimited);
        }
        let taken = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_pending).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Permit {
                pending: self.pending.clone(),
            }),
            Err(_) => Err(Refusal::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 40_000))
    }

    #[test]
    fn an_address_over_its_rate_is_refused_others_are_not() {
        let gate = Gate::new(usize::MAX);
        let burst = HANDSHAKES.burst as usize;
        let admitted = (0..burst * 2)
            .filter(|_| gate.admit(from(1)).is_ok())
            .count();
        // The whole burst; a test slower than 1/16 s per try might earn one more.
        assert!((burst..=burst + 2).contains(&admitted), "{admitted}");
        assert_eq!(gate.admit(from(1)).err(), Some(Refusal::RateLimited));
        assert!(gate.admit(from(2)).is_ok());
    }

    #[test]
    fn handshakes_under_way_are_capped_until_one_ends() {
        let gate = Gate::new(2);
        let first = gate.admit(from(1)).unwrap();
        let _second = gate.admit(from(2)).unwrap();
        assert_eq!(gate.admit(from(3)).err(), Some(Refusal::Busy));
        drop(first);
        assert!(gate.admit(from(3)).is_ok());
    }
}
