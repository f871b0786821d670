//! What the party looks like from outside: the beacon summary, the status snapshot, the
//! roster entries, and which founders the first song still waits for.

use std::net::SocketAddr;

use super::*;

/// The roster's host entry carries the unspecified IP (the host does not know which of
/// its addresses we reach); the member knows it from its stream.
fn with_ip(mut info: MemberInfo, stream_addr: SocketAddr) -> MemberInfo {
    if info.addr.ip().is_unspecified() {
        info.addr.set_ip(stream_addr.ip());
    }
    info
}

impl Party {
    /// The party summary our beacons carry: only once we are really in a party.
    pub(crate) fn summary(&self) -> Option<PartySummary> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(PartySummary {
                id: h.party,
                host: self.me,
                term: h.term,
                members: u8::try_from(h.guests.len()).unwrap_or(u8::MAX),
            }),
            Role::Member(m) => m.roster.as_ref().map(|r| PartySummary {
                id: r.party,
                host: r.host.id,
                term: r.term,
                members: u8::try_from(r.members.len()).unwrap_or(u8::MAX),
            }),
        }
    }
    pub(crate) fn view(&self) -> Option<PartyView> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(PartyView {
                id: h.party,
                term: h.term,
                host: self.me,
                role: PartyRole::Host,
                state: match h.phase {
                    PartyPhase::Forming => PartyState::Forming,
                    PartyPhase::Started => PartyState::Started,
                },
                members: std::iter::once(self.host_info(None))
                    .chain(h.guests.values().map(|g| g.info.clone()))
                    .collect(),
                queue: h.queue.titles(),
                starts_by: (h.phase == PartyPhase::Forming).then_some(h.deadline),
            }),
            Role::Member(m) => {
                let (state, members) = match (&m.roster, &m.succession) {
                    (Some(r), _) => (
                        match r.phase {
                            PartyPhase::Forming => PartyState::Forming,
                            PartyPhase::Started => PartyState::Started,
                        },
                        std::iter::once(with_ip(r.host.clone(), m.host_addr))
                            .chain(r.members.iter().cloned())
                            .collect(),
                    ),
                    (None, Some(_)) => (PartyState::Failover, Vec::new()),
                    (None, None) => (PartyState::Joining, Vec::new()),
                };
                Some(PartyView {
                    id: m.party,
                    term: m.term,
                    host: m.host,
                    role: PartyRole::Member,
                    state,
                    members,
                    queue: Vec::new(),
                    starts_by: None,
                })
            }
        }
    }
    /// Guests that joined before the start and do not (yet) hold pool song `index`
    /// (host only): the first song waits for them.
    pub(crate) fn start_waits_for(&self, index: u32) -> Vec<NodeId> {
        let Role::Host(h) = &self.role else {
            return Vec::new();
        };
        h.guests
            .values()
            .filter(|g| h.founders.contains(&g.info.id))
            .filter(|g| !g.holdings_known || g.info.missing.contains(&index))
            .map(|g| g.info.id)
            .collect()
    }
    /// The control streams of the guests that joined before the start (host only).
    pub(crate) fn founder_streams(&self) -> Vec<StreamId> {
        let Role::Host(h) = &self.role else {
            return Vec::new();
        };
        h.guests
            .values()
            .filter(|g| h.founders.contains(&g.info.id))
            .map(|g| g.stream)
            .collect()
    }
    /// Our own entry as host; the address's IP is filled in by whoever knows it.
    pub(super) fn host_info(&self, ip_from: Option<SocketAddr>) -> MemberInfo {
        let ip = ip_from.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
        MemberInfo {
            id: self.me,
            name: self.name.clone(),
            addr: SocketAddr::new(ip, self.cfg.control_port),
            bulk_port: self.cfg.bulk_port,
            slot: 0,
            missing: Vec::new(),
        }
    }
}
