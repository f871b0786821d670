//! Invariants every node must keep, checked by the simulator after every step, and the
//! typed [`Violation`] that reports a broken one together with the seed that reproduces it.

use crate::core::{Instant, Node, NodeId, PartyState};
use crate::proto::PartyId;

/// Which rule a node broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    #[error("lists itself as a neighbour")]
    ListsItself,
    #[error("{count} neighbours, more than max_neighbours = {max}")]
    TooManyNeighbours { count: usize, max: usize },
    #[error("{count} learned peers, more than max_learned_peers = {max}")]
    TooManyLearned { count: usize, max: usize },
    /// The expiry timer ran but left a silent neighbour behind.
    #[error("after its timeout still lists {neighbour}, silent for {silent_ms} ms (expiry {expiry_ms} ms)")]
    NotExpired {
        neighbour: NodeId,
        silent_ms: u128,
        expiry_ms: u128,
    },
    /// A neighbour heard "in the future": the node mixed up its timestamps.
    #[error("neighbour {neighbour} last seen after now")]
    SeenInFuture { neighbour: NodeId },
    /// No simulated box has this id: the node made it up or mangled a beacon.
    #[error("lists {neighbour}, which is no box of the simulation")]
    UnknownNeighbour { neighbour: NodeId },
    /// A crashed box stayed listed for longer than the expiry after its last datagram.
    #[error("still lists crashed box {neighbour} {silent_ms} ms after its last datagram arrived")]
    GhostNeighbour { neighbour: NodeId, silent_ms: u128 },
    /// The simulator never corrupts bytes, so any decode failure is a bug.
    #[error("reported a malformed datagram from {from}: {error}")]
    Malformed { from: String, error: String },
    /// A control message the node asked to send does not encode within `MAX_FRAME`.
    #[error("a control message it sent does not encode: {error}")]
    StreamEncode { error: String },
    /// A control message did not survive the encode/decode round trip.
    #[error("a control message it received does not decode: {error}")]
    StreamDecode { error: String },
    /// Two live boxes that hear each other have hosted the same party in the same term
    /// for longer than the neighbour expiry: the lower epoch did not follow the higher.
    #[error("hosts party {party} in term {term}, and so does box {other}, which it hears")]
    TwoHosts {
        party: PartyId,
        term: u64,
        other: usize,
    },
    /// A welcomed member missing from its own members list.
    #[error("is a welcomed member of party {party} but not in its own members list")]
    NotInOwnRoster { party: PartyId },
    /// A member whose host is itself.
    #[error("is a member of party {party} whose host is itself")]
    FollowsItself { party: PartyId },
    /// After a quiet period: several live hosts of one party (a split never merged).
    #[error("after the quiet period party {party} has several hosts: boxes {hosts:?}")]
    SplitParty { party: PartyId, hosts: Vec<usize> },
    /// After a quiet period: a member still joining or failing over, or following a box
    /// that does not host its party in its term.
    #[error("after the quiet period is an unsettled member of {party}: {detail}")]
    Unsettled { party: PartyId, detail: String },
    /// After a quiet period: a member's list differs from its host's.
    #[error("after the quiet period sees {member_state:?} {member:?} but host box {host} has {host_state:?} {hosts:?}")]
    ViewsDiffer {
        host: usize,
        member: Vec<NodeId>,
        hosts: Vec<NodeId>,
        member_state: PartyState,
        host_state: PartyState,
    },
    /// After a quiet period: a host lists a guest that is down or not its member.
    #[error("after the quiet period hosts {party} but lists {guest}, which is not its member")]
    GhostGuest { party: PartyId, guest: NodeId },
    /// A settled box plays another frame than its host's schedule names at the same true
    /// instant, by more than its reported clock error bound allows.
    #[error("plays {error_us} us off its host's schedule at song second {song_ms} ms (its own schedule says {own_us} us; bound {bound_us} us, reported clock error {reported_us} us)")]
    OutOfStep {
        song_ms: u64,
        error_us: i64,
        /// Where its own view of the schedule is against the host's, µs.
        own_us: i64,
        bound_us: u64,
        reported_us: u64,
    },
    /// A settled box's own schedule names another song, or a position further from its
    /// host's than its clock error allows: the boxes disagree on the schedule itself.
    #[error("its own schedule plays {own:?} {own_us} us off its host's song and position (bound {bound_us} us)")]
    ScheduleDiverged {
        own: Option<crate::core::SongRef>,
        own_us: i64,
        bound_us: u64,
    },
    /// A settled box that holds its host's current song plays another song or nothing.
    #[error("should play {expected:?} but plays {audible:?}")]
    WrongSong {
        expected: crate::core::SongRef,
        audible: Option<crate::core::SongRef>,
    },
}

/// A broken invariant: the seed, virtual time and node that reproduce it, and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated (seed {seed}, t={at:?}, node {node} = {id}): {breach}")]
pub struct Violation {
    pub seed: u64,
    pub at: Instant,
    pub node: usize,
    pub id: NodeId,
    pub breach: Breach,
}

/// What the simulator knows about a box another node lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// No box has this id.
    Unknown,
    Live,
    /// Crashed; `last_arrival` is when the last datagram it sent reached anyone (or will).
    Crashed {
        last_arrival: Instant,
    },
}

/// Checks `node` at `now`. `after_timeout` says whether the step ran its timers, which
/// is when silent neighbours must be gone. `known` looks up the box behind an id.
pub(crate) fn check(
    node: &Node,
    now: Instant,
    after_timeout: bool,
    known: impl Fn(NodeId) -> Known,
) -> Result<(), Breach> {
    let config = node.config();
    let count = node.neighbour_count();
    if count > config.max_neighbours {
        return Err(Breach::TooManyNeighbours {
            count,
            max: config.max_neighbours,
        });
    }
    let learned = node.learned_len();
    if learned > config.max_learned_peers {
        return Err(Breach::TooManyLearned {
            count: learned,
            max: config.max_learned_peers,
        });
    }
    let expiry = config.expiry();
    for n in node.neighbours() {
        if n.id == node.id() {
            return Err(Breach::ListsItself);
        }
        if n.last_seen > now {
            return Err(Breach::SeenInFuture { neighbour: n.id });
        }
        let silent = now - n.last_seen;
        if after_timeout && silent > expiry {
            return Err(Breach::NotExpired {
                neighbour: n.id,
                silent_ms: silent.as_millis(),
                expiry_ms: expiry.as_millis(),
            });
        }
        match known(n.id) {
            Known::Unknown => return Err(Breach::UnknownNeighbour { neighbour: n.id }),
            Known::Live => {}
            Known::Crashed { last_arrival } => {
                let since = now - last_arrival;
                if after_timeout && since > expiry {
                    return Err(Breach::GhostNeighbour {
                        neighbour: n.id,
                        silent_ms: since.as_millis(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::NodeConfig;

    #[test]
    fn violation_display_names_the_seed() {
        let v = Violation {
            seed: 42,
            at: Instant::from_nanos(1_500_000_000),
            node: 3,
            id: NodeId(7),
            breach: Breach::ListsItself,
        };
        let text = v.to_string();
        assert!(text.contains("seed 42"), "{text}");
        assert!(text.contains("lists itself"), "{text}");
    }

    use crate::core::Via;
    use crate::proto::{encode_datagram, Beacon, BoxState, Message};
    use std::net::SocketAddr;
    use std::time::Duration;

    /// A node at time zero that has heard one beacon of box 2.
    fn node_hearing_two() -> Node {
        let mut node = Node::new(NodeConfig::new(NodeId(1), "a"), Instant::ZERO, 1);
        let beacon = Beacon {
            id: NodeId(2),
            boot: 1,
            seq: 1,
            name: "b".into(),
            unicast_port: 7701,
            control_port: 0,
            state: BoxState::Idle,
            party: None,
            peers: vec![],
        };
        let bytes = encode_datagram(&Message::Beacon(beacon)).unwrap();
        let from = SocketAddr::from(([10, 0, 0, 2], 7701));
        node.handle_datagram(Instant::ZERO, from, Via::Multicast, &bytes);
        node
    }

    #[test]
    fn a_healthy_node_passes() {
        let node = node_hearing_two();
        assert_eq!(check(&node, Instant::ZERO, true, |_| Known::Live), Ok(()));
    }

    #[test]
    fn unknown_ids_and_unexpired_neighbours_are_caught() {
        let node = node_hearing_two();
        assert_eq!(
            check(&node, Instant::ZERO, false, |_| Known::Unknown),
            Err(Breach::UnknownNeighbour {
                neighbour: NodeId(2)
            })
        );
        // Ten seconds later without running its timers: only a timeout step must be clean.
        let later = Instant::ZERO + Duration::from_secs(10);
        assert_eq!(check(&node, later, false, |_| Known::Live), Ok(()));
        assert!(matches!(
            check(&node, later, true, |_| Known::Live),
            Err(Breach::NotExpired { .. })
        ));
        let crashed = Known::Crashed {
            last_arrival: Instant::ZERO,
        };
        let soon = Instant::ZERO + Duration::from_secs(1);
        assert_eq!(check(&node, soon, true, |_| crashed), Ok(()));
    }

    #[test]
    fn a_timeout_clears_what_the_checks_would_flag() {
        let mut node = node_hearing_two();
        let later = Instant::ZERO + Duration::from_secs(10);
        node.handle_timeout(later);
        assert_eq!(check(&node, later, true, |_| Known::Live), Ok(()));
    }
}
