//! Invitations a box has heard of, the duplicate filter for floods, and which of them
//! (by the election rule of [`super::succession`]) a box picks or yields to.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use super::succession::{newer, wins};
use crate::core::{Instant, NodeId};
use crate::proto::{Invite, PartyId};

/// How many flood ids we remember to drop duplicates.
const SEEN_CAPACITY: usize = 4096;
/// Most invitations listed at once; a flood of fake parties cannot grow memory.
const MAX_INVITATIONS: usize = 64;

/// One party we were invited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub party: PartyId,
    pub term: u64,
    pub host: NodeId,
    pub host_name: String,
    pub host_addr: SocketAddr,
    pub hops: u8,
    pub started: bool,
    pub members: u8,
    pub first_seen: Instant,
    pub last_seen: Instant,
}

/// One flood: (party, host, term, round). Each host of a party counts its rounds from 0,
/// so after a failover the new host's rounds must not look like the old host's.
type FloodId = (PartyId, NodeId, u64, u32);

/// Remembered flood ids and current invitations.
#[derive(Debug, Default)]
pub(crate) struct Invitations {
    seen: BTreeSet<FloodId>,
    seen_order: VecDeque<FloodId>,
    by_party: BTreeMap<PartyId, Invitation>,
}

impl Invitations {
    /// Records a flood id; false if it was seen before (a duplicate to drop).
    pub(crate) fn first_sight(&mut self, invite: &Invite) -> bool {
        let id = (invite.party, invite.host, invite.term, invite.round);
        if !self.seen.insert(id) {
            return false;
        }
        self.seen_order.push_back(id);
        if self.seen_order.len() > SEEN_CAPACITY {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Stores or refreshes the invitation carried by `invite`.
    pub(crate) fn record(&mut self, invite: &Invite, now: Instant) {
        if let Some(inv) = self.by_party.get_mut(&invite.party) {
            if !newer((inv.term, inv.host), (invite.term, invite.host)) {
                inv.term = invite.term;
                inv.host = invite.host;
                inv.host_name.clone_from(&invite.host_name);
                inv.host_addr = invite.host_addr;
                inv.started = invite.started;
                inv.members = invite.members;
            }
            inv.hops = inv.hops.min(invite.hops);
            inv.last_seen = now;
            return;
        }
        if self.by_party.len() >= MAX_INVITATIONS {
            return;
        }
        self.by_party.insert(
            invite.party,
            Invitation {
                party: invite.party,
                term: invite.term,
                host: invite.host,
                host_name: invite.host_name.clone(),
                host_addr: invite.host_addr,
                hops: invite.hops,
                started: invite.started,
                members: invite.members,
                first_seen: now,
                last_seen: now,
            },
        );
    }

    /// Drops invitations not refreshed within `expiry`.
    pub(crate) fn expire(&mut self, now: Instant, expiry: Duration) {
        self.by_party.retain(|_, inv| now - inv.last_seen <= expiry);
    }

    pub(crate) fn remove(&mut self, party: PartyId) {
        self.by_party.remove(&party);
    }

    pub(crate) fn get(&self, party: PartyId) -> Option<&Invitation> {
        self.by_party.get(&party)
    }

    /// Current invitations, newest first.
    pub(crate) fn list(&self) -> Vec<&Invitation> {
        let mut all: Vec<&Invitation> = self.by_party.values().collect();
        all.sort_by(|a, b| b.first_seen.cmp(&a.first_seen).then(a.party.cmp(&b.party)));
        all
    }

    /// The invitation `join` picks by default: among parties still forming, the election
    /// winner; otherwise the newest.
    pub(crate) fn preferred(&self) -> Option<&Invitation> {
        let forming = self
            .by_party
            .values()
            .filter(|i| !i.started)
            .min_by_key(|i| i.party);
        forming.or_else(|| self.list().into_iter().next())
    }

    /// The forming party that beats `party` in the election, if this box has heard of one.
    pub(crate) fn winner_over(&self, party: PartyId) -> Option<&Invitation> {
        self.by_party
            .values()
            .filter(|i| !i.started && wins(i.party, party))
            .min_by_key(|i| i.party)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn invite(party: u64, round: u32, started: bool) -> Invite {
        Invite {
            party: PartyId(party),
            term: 1,
            round,
            host: NodeId(party),
            host_name: format!("h{party}"),
            host_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7702)),
            ttl: 4,
            hops: 1,
            started,
            members: 0,
            host_key: [0; 32],
            signature: [0; 64],
        }
    }

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn duplicate_floods_are_recognised_and_memory_is_bounded() {
        let mut inv = Invitations::default();
        assert!(inv.first_sight(&invite(1, 0, false)));
        assert!(!inv.first_sight(&invite(1, 0, false)));
        assert!(inv.first_sight(&invite(1, 1, false)));
        for r in 0..(SEEN_CAPACITY as u32 + 10) {
            inv.first_sight(&invite(2, r, false));
        }
        assert_eq!(inv.seen.len(), SEEN_CAPACITY);
        assert!(
            inv.first_sight(&invite(1, 0, false)),
            "oldest ids are forgotten first"
        );
    }

    #[test]
    fn a_successor_host_counting_rounds_from_zero_is_not_a_duplicate() {
        let mut inv = Invitations::default();
        assert!(inv.first_sight(&invite(1, 0, true)));
        let successor = Invite {
            term: 3,
            host: NodeId(77),
            ..invite(1, 0, true)
        };
        assert!(inv.first_sight(&successor));
        assert!(!inv.first_sight(&successor));
    }

    #[test]
    fn election_prefers_the_lower_forming_party() {
        let mut inv = Invitations::default();
        inv.record(&invite(9, 0, false), at(0));
        inv.record(&invite(5, 0, false), at(1));
        inv.record(&invite(2, 0, true), at(2));
        assert_eq!(inv.preferred().unwrap().party, PartyId(5));
        assert_eq!(inv.winner_over(PartyId(9)).unwrap().party, PartyId(5));
        assert!(inv.winner_over(PartyId(5)).is_none());
        assert!(
            inv.winner_over(PartyId(3)).is_none(),
            "started parties do not take part"
        );
        assert_eq!(inv.list()[0].party, PartyId(2), "newest first");
    }

    #[test]
    fn invitations_expire_unless_refreshed() {
        let mut inv = Invitations::default();
        inv.record(&invite(1, 0, false), at(0));
        inv.record(&invite(2, 0, false), at(0));
        inv.record(&invite(2, 1, false), at(5000));
        inv.expire(at(7000), Duration::from_secs(6));
        assert!(inv.get(PartyId(1)).is_none());
        assert!(inv.get(PartyId(2)).is_some());
    }
}
