//! Peers learned from neighbours' beacons: addresses to probe with unicast beacons so that
//! boxes on segments multicast cannot cross still find each other.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{Instant, NodeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Candidate {
    id: NodeId,
    last_mentioned: Instant,
}

/// Candidate addresses by address, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct LearnedPeers {
    capacity: usize,
    by_addr: BTreeMap<SocketAddr, Candidate>,
}

impl LearnedPeers {
    pub(crate) fn new(capacity: usize) -> Self {
        LearnedPeers {
            capacity,
            by_addr: BTreeMap::new(),
        }
    }

    /// Records that a neighbour mentioned `id` at `addr`. Returns false if the set is
    /// full and the address is new.
    pub(crate) fn mention(&mut self, id: NodeId, addr: SocketAddr, now: Instant) -> bool {
        if let Some(c) = self.by_addr.get_mut(&addr) {
            *c = Candidate {
                id,
                last_mentioned: now,
            };
            return true;
        }
        if self.by_addr.len() >= self.capacity {
            return false;
        }
        self.by_addr.insert(
            addr,
            Candidate {
                id,
                last_mentioned: now,
            },
        );
        true
    }

    /// Forgets candidates that became neighbours or are no longer mentioned.
    pub(crate) fn retain(&mut self, deadline: Instant, mut is_known: impl FnMut(NodeId) -> bool) {
        self.by_addr
            .retain(|_, c| c.last_mentioned >= deadline && !is_known(c.id));
    }

    pub(crate) fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.by_addr.keys().copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::new(10, 1, 0, last), 7701))
    }

    #[test]
    fn bounded_and_forgets_stale_or_known_candidates() {
        let mut l = LearnedPeers::new(2);
        let t0 = Instant::from_nanos(0);
        let t1 = Instant::from_nanos(10);
        assert!(l.mention(NodeId(1), addr(1), t0));
        assert!(l.mention(NodeId(2), addr(2), t1));
        assert!(!l.mention(NodeId(3), addr(3), t1), "full");
        assert!(
            l.mention(NodeId(1), addr(1), t1),
            "refresh of a known address"
        );
        l.retain(t1, |id| id == NodeId(2));
        assert_eq!(l.addrs().collect::<Vec<_>>(), vec![addr(1)]);
        l.retain(Instant::from_nanos(11), |_| false);
        assert_eq!(l.len(), 0);
    }
}
