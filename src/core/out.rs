//! What a node hands its driver: the datagrams, stream actions and events it queues, and
//! the counters of what happened.

use std::collections::VecDeque;

use std::net::SocketAddr;

use super::{NodeId, StreamAction, StreamId};
use crate::proto::{self, Control, DecodeError, Message, PartyId};

/// Where a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The discovery multicast group on every configured interface.
    Multicast,
    Unicast(SocketAddr),
}

/// A datagram for the runtime to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub payload: Vec<u8>,
}

/// Something the runtime may log or show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    NeighbourUp {
        id: NodeId,
        name: String,
        addr: SocketAddr,
    },
    NeighbourDown {
        id: NodeId,
        name: String,
    },
    /// Another box's beacon announced our own id; its TCP control address is `control`.
    OwnIdSeen {
        control: SocketAddr,
    },
    /// A datagram that failed to decode; it was dropped and counted.
    Malformed {
        from: SocketAddr,
        error: DecodeError,
    },
    /// A new invitation arrived.
    Invited {
        party: PartyId,
        host: NodeId,
        host_name: String,
    },
    /// We host `party` in `term` (HOST pressed, or took over after a failover).
    BecameHost {
        party: PartyId,
        term: u64,
    },
    /// We are the designated successor and take over in `term`.
    Succeeded {
        party: PartyId,
        term: u64,
    },
    /// The host welcomed us.
    Joined {
        party: PartyId,
        host: NodeId,
        term: u64,
    },
    JoinFailed {
        party: PartyId,
        reason: String,
    },
    Left {
        party: PartyId,
    },
    Ended {
        party: PartyId,
    },
    /// The forming party we were in lost an election to `winner`.
    LostElection {
        party: PartyId,
        winner: PartyId,
    },
    /// The host sent us to another host.
    Redirected {
        party: PartyId,
        host: NodeId,
    },
    /// Our party continues under a higher term we learned of; we follow its host.
    FollowedNewerTerm {
        party: PartyId,
        term: u64,
        host: NodeId,
    },
    /// The host of our party is unreachable; looking for its successor.
    HostLost {
        party: PartyId,
        host: NodeId,
    },
    /// The forming party started.
    Started {
        party: PartyId,
    },
    MemberJoined {
        id: NodeId,
    },
    MemberLeft {
        id: NodeId,
    },
    /// A guest stopped answering or its stream broke.
    MemberLost {
        id: NodeId,
    },
    /// The host accepted a playback action from `by` (itself or a guest).
    PlaybackRequested {
        party: PartyId,
        by: NodeId,
        action: crate::core::Action,
    },
    Queued {
        party: PartyId,
        by: NodeId,
        song: String,
    },
    /// The host answered our request `id`.
    RequestAnswered {
        id: u32,
        accepted: bool,
        reason: Option<String>,
    },
}

/// Counts of what happened, for status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub datagrams_in: u64,
    pub beacons_in: u64,
    pub datagrams_out: u64,
    /// Undecodable datagrams (bad magic, version, body, limits): dropped.
    pub malformed: u64,
    /// Our own beacons looped back by multicast.
    pub own: u64,
    /// Old or duplicated beacons.
    pub stale: u64,
    /// New boxes not added because the neighbour table was full.
    pub table_full: u64,
    /// Hinted peers not learned because the learned set was full.
    pub learned_full: u64,
    /// Messages we failed to encode (a bug: reported, never sent).
    pub encode_errors: u64,
    /// Invitations seen for the first time.
    pub invites_in: u64,
    /// Flood copies of an invitation already seen: dropped.
    pub duplicate_invites: u64,
    /// Invitations whose host id is not their key's or whose signature does not verify
    /// (forged or altered on the way): dropped, never relayed.
    pub forged_invites: u64,
    /// Clock-sync requests and replies without a valid MAC from the session with the
    /// party's host (forged, replayed, or before a session exists): dropped.
    pub forged_time: u64,
    /// Control messages from an older term: ignored.
    pub stale_term: u64,
    /// Control messages that made no sense in our state: ignored.
    pub unexpected_control: u64,
    /// Datagrams of a kind that belongs on a stream: dropped.
    pub misdirected: u64,
    /// Clock-sync requests over their source's rate limit: not answered.
    #[serde(default)]
    pub clock_limited: u64,
    /// Datagrams dropped by the runtime before they reached the core: sealed under
    /// another party key or altered, open ones at a keyed box, sealed ones at an open box.
    #[serde(default)]
    pub wrong_key: u64,
}

/// Everything the state machines ask of the outside world, in order.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) streams: VecDeque<StreamAction>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) counters: Counters,
}

impl Out {
    /// Encodes and queues a datagram; an encoding failure is a bug, counted, not sent.
    pub(crate) fn datagram(&mut self, destination: Destination, msg: &Message) {
        match proto::encode_datagram(msg) {
            Ok(payload) => self.raw(destination, payload),
            Err(_) => self.counters.encode_errors += 1,
        }
    }

    pub(crate) fn raw(&mut self, destination: Destination, payload: Vec<u8>) {
        self.counters.datagrams_out += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload,
        });
    }

    pub(crate) fn send(&mut self, stream: StreamId, msg: Control) {
        self.streams.push_back(StreamAction::Send { stream, msg });
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}
