//! What the rest of the node sees of the party and sends through it: the beacon summary
//! and the status snapshot of a host and of a member, which founders the host's first
//! song still waits for, and the streams to the host and to the guests.

use std::net::SocketAddr;

use super::common::Common;
use super::host::Host;
use super::member::Member;
use super::{Party, PartyRole, PartyState, PartyView, Role, StreamId};
use crate::core::out::Out;
use crate::core::playback::TimeLink;
use crate::core::NodeId;
use crate::proto::{Control, MemberInfo, PartyPhase, PartySummary};

/// The roster's host entry carries the unspecified IP (the host does not know which of
/// its addresses we reach); the member knows it from its stream.
fn with_ip(mut info: MemberInfo, stream_addr: SocketAddr) -> MemberInfo {
    if info.addr.ip().is_unspecified() {
        info.addr.set_ip(stream_addr.ip());
    }
    info
}

impl Party {
    /// Sends `msg` to every guest (host only).
    pub(crate) fn broadcast(&self, out: &mut Out, msg: &Control) {
        if let Some(h) = self.hosting() {
            h.broadcast(out, msg);
        }
    }

    /// Sends `msg` to the host we follow, once welcomed.
    pub(crate) fn send_to_host(&self, out: &mut Out, msg: Control) {
        if let Some(stream) = self.following().and_then(Member::welcomed_stream) {
            out.send(stream, msg);
        }
    }

    /// Whether `stream` is the one to the host we follow (once welcomed).
    pub(crate) fn is_host_stream(&self, stream: StreamId) -> bool {
        self.following().and_then(Member::welcomed_stream) == Some(stream)
    }

    /// Whether `stream` belongs to one of our guests.
    pub(crate) fn is_guest_stream(&self, stream: StreamId) -> bool {
        self.hosting().is_some_and(|h| h.has_guest_stream(stream))
    }

    /// A guest told us which pool songs it lacks: it goes into the roster.
    pub(crate) fn set_guest_missing(&mut self, out: &mut Out, stream: StreamId, missing: Vec<u32>) {
        if let Role::Host(h) = &mut self.role {
            h.set_guest_missing(&self.c, out, stream, missing);
        }
    }

    /// How to reach the host's clock: once welcomed, over a stream whose session gave
    /// a key (without one there is nothing to authenticate the answers with).
    pub(crate) fn host_time_link(&self) -> Option<TimeLink> {
        let member = self.following()?;
        let key = self.c.key(member.welcomed_stream()?)?;
        Some(TimeLink {
            addr: member.time_addr()?,
            key,
            me: self.c.me,
        })
    }

    /// The clock-sync key of the session with our guest `id` (host only).
    pub(crate) fn guest_key(&self, id: NodeId) -> Option<[u8; 32]> {
        let stream = self.hosting()?.guest_stream(id)?;
        self.c.key(stream)
    }

    /// The session on `stream` proved `peer` and gave its clock-sync key.
    pub(crate) fn set_stream_session(&mut self, stream: StreamId, peer: NodeId, key: [u8; 32]) {
        self.c.set_session(stream, peer, key);
    }

    /// The party summary our beacons carry: only once we are really in a party.
    pub(crate) fn summary(&self) -> Option<PartySummary> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(h.summary(self.c.me)),
            Role::Member(m) => m.summary(),
        }
    }

    pub(crate) fn view(&self) -> Option<PartyView> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(h.view(&self.c)),
            Role::Member(m) => Some(m.view()),
        }
    }

    /// Guests that joined before the start and do not (yet) hold pool song `index`
    /// (host only): the first song waits for them.
    pub(crate) fn start_waits_for(&self, index: u32) -> Vec<NodeId> {
        (self.hosting()).map_or_else(Vec::new, |h| h.start_waits_for(index))
    }

    /// The control streams of the guests that joined before the start (host only).
    pub(crate) fn founder_streams(&self) -> Vec<StreamId> {
        (self.hosting()).map_or_else(Vec::new, Host::founder_streams)
    }
}

fn state_of(phase: PartyPhase) -> PartyState {
    match phase {
        PartyPhase::Forming => PartyState::Forming,
        PartyPhase::Started => PartyState::Started,
    }
}

fn count(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

impl Host {
    /// What our beacons say of the party we host.
    pub(super) fn summary(&self, me: NodeId) -> PartySummary {
        PartySummary {
            id: self.party,
            host: me,
            term: self.term,
            members: count(self.guests.len()),
        }
    }

    pub(super) fn view(&self, c: &Common) -> PartyView {
        PartyView {
            id: self.party,
            term: self.term,
            host: c.me,
            role: PartyRole::Host,
            state: state_of(self.phase),
            members: std::iter::once(c.host_info())
                .chain(self.guests.values().map(|g| g.info.clone()))
                .collect(),
            queue: self.queue.titles(),
            starts_by: (self.phase == PartyPhase::Forming).then_some(self.deadline),
        }
    }

    /// Guests that joined before the start and do not (yet) hold pool song `index`: the
    /// first song waits for them.
    pub(super) fn start_waits_for(&self, index: u32) -> Vec<NodeId> {
        (self.guests.values())
            .filter(|g| self.founders.contains(&g.info.id))
            .filter(|g| !g.holdings_known || g.info.missing.contains(&index))
            .map(|g| g.info.id)
            .collect()
    }

    /// The control streams of the guests that joined before the start.
    pub(super) fn founder_streams(&self) -> Vec<StreamId> {
        (self.guests.values())
            .filter(|g| self.founders.contains(&g.info.id))
            .map(|g| g.stream)
            .collect()
    }
}

impl Member {
    /// What our beacons say of the party: only once we are really in it.
    pub(super) fn summary(&self) -> Option<PartySummary> {
        self.roster.as_ref().map(|r| PartySummary {
            id: r.party,
            host: r.host.id,
            term: r.term,
            members: count(r.members.len()),
        })
    }

    pub(super) fn view(&self) -> PartyView {
        let (state, members) = match (&self.roster, &self.succession) {
            (Some(r), _) => (
                state_of(r.phase),
                std::iter::once(with_ip(r.host.clone(), self.host_addr))
                    .chain(r.members.iter().cloned())
                    .collect(),
            ),
            (None, Some(_)) => (PartyState::Failover, Vec::new()),
            (None, None) => (PartyState::Joining, Vec::new()),
        };
        PartyView {
            id: self.party,
            term: self.term,
            host: self.host,
            role: PartyRole::Member,
            state,
            members,
            queue: Vec::new(),
            starts_by: None,
        }
    }
}
