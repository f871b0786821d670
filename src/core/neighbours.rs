//! The neighbour table: boxes heard recently, bounded in size, expired after silence.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{Instant, NodeId};
use crate::proto::{Beacon, BoxState, PartySummary, PeerHint};

/// How a neighbour's beacons reach us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// On the multicast group: same segment.
    Multicast,
    /// Unicast only: a static peer, or a peer learned from a neighbour's beacon.
    Unicast,
}

/// One box we hear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub id: NodeId,
    pub name: String,
    /// Where its unicast socket is: the beacon's source address with its unicast port.
    pub addr: SocketAddr,
    pub control_port: u16,
    pub state: BoxState,
    pub party: Option<PartySummary>,
    /// When its last (newest) beacon arrived.
    pub last_seen: Instant,
    /// When a beacon of it last arrived on the multicast group, if ever.
    pub last_multicast: Option<Instant>,
    /// Its boot number; a change means it restarted.
    pub boot: u32,
    /// Sequence number of its newest beacon; older ones are ignored.
    pub seq: u64,
    /// The neighbours it told us about, for reaching boxes multicast cannot.
    pub hints: Vec<PeerHint>,
}

impl Neighbour {
    /// How we hear it now: multicast if a multicast beacon is recent enough.
    pub fn via(&self, now: Instant, window: std::time::Duration) -> Via {
        match self.last_multicast {
            Some(t) if now - t <= window => Via::Multicast,
            _ => Via::Unicast,
        }
    }
}

/// What [`NeighbourTable::observe`] did with a beacon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// A box we did not know.
    New,
    /// A newer beacon of a known box.
    Updated,
    /// An older or repeated beacon (reordered or duplicated); nothing changed.
    Stale,
    /// The table is full; the box was not added.
    Full,
}

/// Neighbours by id, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct NeighbourTable {
    capacity: usize,
    by_id: BTreeMap<NodeId, Neighbour>,
}

impl NeighbourTable {
    pub(crate) fn new(capacity: usize) -> Self {
        NeighbourTable {
            capacity,
            by_id: BTreeMap::new(),
        }
    }

    pub(crate) fn observe(
        &mut self,
        beacon: &Beacon,
        addr: SocketAddr,
        via: Via,
        now: Instant,
    ) -> Observed {
        let multicast = (via == Via::Multicast).then_some(now);
        if let Some(n) = self.by_id.get_mut(&beacon.id) {
            // A restarted box counts its beacons from 1 again: its new boot number
            // makes its first beacon news, not an old copy.
            if beacon.boot == n.boot && beacon.seq <= n.seq {
                // Still proof of life for a box heard both ways, but no state change.
                if beacon.seq == n.seq && multicast.is_some() {
                    n.last_multicast = multicast;
                }
                return Observed::Stale;
            }
            n.name.clone_from(&beacon.name);
            n.addr = addr;
            n.control_port = beacon.control_port;
            n.state = beacon.state;
            n.party = beacon.party;
            n.last_seen = now;
            n.last_multicast = multicast.or(n.last_multicast);
            n.seq = beacon.seq;
            n.boot = beacon.boot;
            n.hints.clone_from(&beacon.peers);
            return Observed::Updated;
        }
        if self.by_id.len() >= self.capacity {
            return Observed::Full;
        }
        self.by_id.insert(
            beacon.id,
            Neighbour {
                id: beacon.id,
                name: beacon.name.clone(),
                addr,
                control_port: beacon.control_port,
                state: beacon.state,
                party: beacon.party,
                last_seen: now,
                last_multicast: multicast,
                boot: beacon.boot,
                seq: beacon.seq,
                hints: beacon.peers.clone(),
            },
        );
        Observed::New
    }

    /// Removes and returns every neighbour silent since before `deadline`.
    pub(crate) fn expire(&mut self, deadline: Instant) -> Vec<Neighbour> {
        let dead: Vec<NodeId> = self
            .by_id
            .values()
            .filter(|n| n.last_seen < deadline)
            .map(|n| n.id)
            .collect();
        dead.iter().filter_map(|id| self.by_id.remove(id)).collect()
    }

    /// The earliest `last_seen` in the table, to schedule the next expiry.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.by_id.values().map(|n| n.last_seen).min()
    }

    pub(crate) fn get(&self, id: &NodeId) -> Option<&Neighbour> {
        self.by_id.get(id)
    }

    pub(crate) fn contains(&self, id: &NodeId) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Neighbour> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn beacon(id: u64, seq: u64) -> Beacon {
        Beacon {
            id: NodeId(id),
            boot: 1,
            seq,
            name: format!("box{id}"),
            unicast_port: 7701,
            control_port: 0,
            state: BoxState::Idle,
            party: None,
            peers: vec![],
        }
    }

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::new(10, 0, 0, last), 7701))
    }

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn newer_beacons_update_and_older_ones_are_stale() {
        let mut t = NeighbourTable::new(8);
        assert_eq!(
            t.observe(&beacon(1, 5), addr(1), Via::Multicast, at(0)),
            Observed::New
        );
        assert_eq!(
            t.observe(&beacon(1, 4), addr(2), Via::Multicast, at(10)),
            Observed::Stale
        );
        assert_eq!(t.get(&NodeId(1)).unwrap().addr, addr(1));
        assert_eq!(t.get(&NodeId(1)).unwrap().last_seen, at(0));
        assert_eq!(
            t.observe(&beacon(1, 6), addr(2), Via::Unicast, at(20)),
            Observed::Updated
        );
        let n = t.get(&NodeId(1)).unwrap();
        assert_eq!((n.addr, n.last_seen, n.seq), (addr(2), at(20), 6));
        assert_eq!(
            n.last_multicast,
            Some(at(0)),
            "unicast keeps the multicast memory"
        );
    }

    #[test]
    fn a_restarted_box_is_news_even_with_a_low_seq() {
        let mut t = NeighbourTable::new(8);
        t.observe(&beacon(1, 50), addr(1), Via::Multicast, at(0));
        let reboot = Beacon {
            boot: 2,
            ..beacon(1, 1)
        };
        assert_eq!(
            t.observe(&reboot, addr(1), Via::Multicast, at(10)),
            Observed::Updated
        );
        assert_eq!(t.get(&NodeId(1)).unwrap().seq, 1);
        assert_eq!(
            t.observe(&reboot, addr(1), Via::Multicast, at(20)),
            Observed::Stale
        );
    }

    #[test]
    fn table_is_bounded() {
        let mut t = NeighbourTable::new(2);
        assert_eq!(
            t.observe(&beacon(1, 1), addr(1), Via::Multicast, at(0)),
            Observed::New
        );
        assert_eq!(
            t.observe(&beacon(2, 1), addr(2), Via::Multicast, at(0)),
            Observed::New
        );
        assert_eq!(
            t.observe(&beacon(3, 1), addr(3), Via::Multicast, at(0)),
            Observed::Full
        );
        assert_eq!(t.len(), 2);
        // Known boxes still update when the table is full.
        assert_eq!(
            t.observe(&beacon(2, 2), addr(2), Via::Multicast, at(5)),
            Observed::Updated
        );
    }

    #[test]
    fn expire_removes_only_silent_boxes() {
        let mut t = NeighbourTable::new(8);
        t.observe(&beacon(1, 1), addr(1), Via::Multicast, at(0));
        t.observe(&beacon(2, 1), addr(2), Via::Multicast, at(100));
        assert_eq!(t.oldest(), Some(at(0)));
        let gone = t.expire(at(50));
        assert_eq!(
            gone.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![NodeId(1)]
        );
        assert!(t.contains(&NodeId(2)));
        assert_eq!(t.oldest(), Some(at(100)));
    }

    #[test]
    fn via_reflects_recent_multicast() {
        let mut t = NeighbourTable::new(8);
        t.observe(&beacon(1, 1), addr(1), Via::Multicast, at(0));
        let window = std::time::Duration::from_millis(100);
        let n = t.get(&NodeId(1)).unwrap();
        assert_eq!(n.via(at(50), window), Via::Multicast);
        assert_eq!(n.via(at(500), window), Via::Unicast);
    }
}
