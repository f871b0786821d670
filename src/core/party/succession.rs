//! Who leads a party: the election between two colliding forming parties, the successor
//! rule when a host is lost (who takes over, under which term), and the epochs that say
//! which of two hosts of one party is the newer. Pure rules, no state machine.

use std::collections::BTreeSet;

use crate::core::NodeId;
use crate::proto::{MemberInfo, PartyId, PartyPhase, Roster};

/// The election rule: of two parties still forming, the one with the lower party id wins.
/// Party ids are random, so neither host is favoured, and every box that sees both
/// invitations reaches the same verdict without talking to anyone.
pub fn wins(a: PartyId, b: PartyId) -> bool {
    a < b
}

/// Whether epoch `a` (term, host) of a party is newer than `b`: a higher term, or the
/// same term under a higher host id (two sides of a partition can pick the same term).
pub fn newer(a: (u64, NodeId), b: (u64, NodeId)) -> bool {
    a > b
}

/// A term names its host: the generation in the high 32 bits, the low 32 bits of the
/// host's id below. Terms compare as numbers: a higher generation always wins, and two
/// hosts of one generation (possible only after a partition) still have different
/// terms, the higher id winning.
pub fn term_for(generation: u32, host: NodeId) -> u64 {
    (u64::from(generation) << 32) | (host.0 & 0xFFFF_FFFF)
}

/// The generation of a term: 1 for the first host, one more (plus the successor's
/// slot) with each failover.
pub fn generation(term: u64) -> u32 {
    u32::try_from(term >> 32).unwrap_or(u32::MAX)
}

/// The term the guest `id` in `slot` hosts if the host of `base` is lost: the generation
/// rises by one plus the slot (so successors in slot order never share a generation
/// within a roster), and the term names its host (so two sides of a partition never
/// share a term either).
pub(super) fn successor_term(base: &Roster, slot: u32, id: NodeId) -> u64 {
    let generation = generation(base.term).saturating_add(1).saturating_add(slot);
    term_for(generation, id)
}

/// If a join for `term` names `me` as the successor in `base`, the phase to keep.
pub(super) fn designated(base: &Roster, me: NodeId, term: u64) -> Option<PartyPhase> {
    let mine = base.members.iter().find(|g| g.id == me)?;
    (successor_term(base, mine.slot, me) == term && term > base.term).then_some(base.phase)
}

/// What a guest knows to find the next host: the last roster and who is known dead.
#[derive(Clone, Debug)]
pub(super) struct Succession {
    pub(super) base: Roster,
    pub(super) suspects: BTreeSet<NodeId>,
}

impl Succession {
    /// The host of `roster` was just lost.
    pub(super) fn after_losing(roster: Roster, host: NodeId) -> Self {
        Succession {
            base: roster,
            suspects: BTreeSet::from([host]),
        }
    }

    /// The next host and its term: the first guest of the last roster not known to be
    /// dead. A box that holds `current_song` comes first, so the music goes on from the
    /// new host too; then join order. Every guest holds the same roster and schedule, so
    /// all pick the same box.
    pub(super) fn next(&self, current_song: Option<u32>) -> Option<(MemberInfo, u64)> {
        let lacks = |g: &MemberInfo| current_song.is_some_and(|i| g.missing.contains(&i));
        let next = self
            .base
            .members
            .iter()
            .filter(|g| !self.suspects.contains(&g.id))
            .min_by_key(|g| (lacks(g), g.slot))?;
        let term = successor_term(&self.base, next.slot, next.id);
        Some((next.clone(), term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn guest(id: u64, slot: u32, missing: &[u32]) -> MemberInfo {
        MemberInfo {
            id: NodeId(id),
            name: format!("box{id}"),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7702)),
            bulk_port: 0,
            slot,
            missing: missing.to_vec(),
        }
    }

    fn roster(term: u64, members: Vec<MemberInfo>) -> Roster {
        Roster {
            party: PartyId(7),
            term,
            phase: PartyPhase::Started,
            host: guest(1, 0, &[]),
            members,
            udp_port: 7701,
        }
    }

    #[test]
    fn the_lower_party_wins_the_election() {
        assert!(wins(PartyId(3), PartyId(9)));
        assert!(!wins(PartyId(9), PartyId(3)));
        assert!(
            !wins(PartyId(5), PartyId(5)),
            "a party does not beat itself"
        );
    }

    #[test]
    fn an_epoch_is_newer_by_term_then_by_host_id() {
        assert!(newer((5, NodeId(1)), (4, NodeId(9))));
        assert!(newer((5, NodeId(9)), (5, NodeId(1))));
        assert!(!newer((5, NodeId(1)), (5, NodeId(1))));
    }

    #[test]
    fn a_term_carries_its_generation_and_names_its_host() {
        let t = term_for(3, NodeId(0xAB_0000_0042));
        assert_eq!(generation(t), 3);
        assert_eq!(t & 0xFFFF_FFFF, 0x42);
        assert!(term_for(4, NodeId(1)) > term_for(3, NodeId(u64::MAX)));
    }

    #[test]
    fn successors_of_one_roster_never_share_a_generation() {
        let base = roster(term_for(1, NodeId(1)), vec![]);
        let terms: BTreeSet<u32> = (1..=5)
            .map(|slot| generation(successor_term(&base, slot, NodeId(u64::from(slot)))))
            .collect();
        assert_eq!(terms.len(), 5);
        // Across a partition the same generation can come up, but the host id differs.
        let a = term_for(1, NodeId(1));
        let far = roster(term_for(3, NodeId(8)), vec![]);
        let near = roster(a, vec![]);
        assert_eq!(
            generation(successor_term(&near, 3, NodeId(2))),
            generation(successor_term(&far, 1, NodeId(3)))
        );
        assert_ne!(
            successor_term(&near, 3, NodeId(2)),
            successor_term(&far, 1, NodeId(3))
        );
    }

    #[test]
    fn the_next_host_is_the_first_live_slot_preferring_a_holder_of_the_current_song() {
        let base = roster(
            term_for(1, NodeId(1)),
            vec![guest(2, 1, &[4]), guest(3, 2, &[]), guest(4, 3, &[])],
        );
        let mut s = Succession::after_losing(base.clone(), NodeId(1));
        let pick = |s: &Succession, song| s.next(song).map(|(g, _)| g.id);
        assert_eq!(pick(&s, None), Some(NodeId(2)), "join order");
        assert_eq!(pick(&s, Some(4)), Some(NodeId(3)), "box 2 lacks song 4");
        s.suspects.insert(NodeId(2));
        let (next, term) = s.next(None).unwrap();
        assert_eq!(next.id, NodeId(3));
        assert_eq!(term, successor_term(&base, 2, NodeId(3)));
        s.suspects.extend([NodeId(3), NodeId(4)]);
        assert!(s.next(None).is_none(), "everyone is gone");
    }

    #[test]
    fn only_the_guest_a_term_names_is_designated() {
        let base = roster(
            term_for(1, NodeId(1)),
            vec![guest(2, 1, &[]), guest(3, 2, &[])],
        );
        let t3 = successor_term(&base, 2, NodeId(3));
        assert_eq!(designated(&base, NodeId(3), t3), Some(PartyPhase::Started));
        assert_eq!(designated(&base, NodeId(2), t3), None);
        assert_eq!(designated(&base, NodeId(9), t3), None, "not in the roster");
        // Generations saturate: a successor term no newer than the roster's names no one.
        let worn = Roster {
            term: term_for(u32::MAX, NodeId(9)),
            ..base
        };
        let stale = successor_term(&worn, 2, NodeId(3));
        assert_eq!(designated(&worn, NodeId(3), stale), None);
    }
}
