//! The host's side of a party: admitting guests, the start rule, invitations, heartbeats,
//! requests, and dropping guests that die.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use rand::Rng;

use super::{
    flood, CommandError, Guest, Host, Party, RequestOutcome, RequestPolicy, Role, StreamId,
};
use crate::core::out::{Internal, Out};
use crate::core::{Event, Instant, NodeId, PoolSong};
use crate::proto::{
    Control, Invite, MemberInfo, Message, PartyId, PartyPhase, RequestKind, Roster,
};

/// What a guest the host declared dead is told.
const DROPPED: &str = "the host stopped hearing this box";

impl Party {
    /// `chorus ctl host`: creates a party and starts inviting.
    pub(crate) fn host(
        &mut self,
        now: Instant,
        out: &mut Out,
        rng: &mut impl Rng,
    ) -> Result<PartyId, CommandError> {
        if let Some(p) = self.own_party() {
            return Err(CommandError::AlreadyInParty(p));
        }
        self.cfg.rejoin = None;
        let party = PartyId(rng.gen());
        self.role = Role::Host(Host {
            party,
            term: super::term_for(1, self.me),
            phase: PartyPhase::Forming,
            deadline: now + self.cfg.invite_window,
            round: 0,
            next_invite: now,
            guests: BTreeMap::new(),
            next_slot: 1,
            queue: Default::default(),
            founders: BTreeSet::new(),
        });
        out.event(Event::BecameHost {
            party,
            term: super::term_for(1, self.me),
        });
        self.schedule_tick(now);
        Ok(party)
    }

    /// Takes over `party` as host of `term`, keeping its phase (failover).
    pub(super) fn take_over(
        &mut self,
        now: Instant,
        out: &mut Out,
        party: PartyId,
        term: u64,
        phase: PartyPhase,
    ) {
        if let Role::Member(m) = std::mem::replace(&mut self.role, Role::Idle) {
            self.close(out, m.stream);
        }
        self.role = Role::Host(Host {
            party,
            term,
            phase,
            deadline: now + self.cfg.invite_window,
            round: 0,
            next_invite: now,
            guests: BTreeMap::new(),
            next_slot: 1,
            queue: Default::default(),
            founders: BTreeSet::new(),
        });
        out.event(Event::BecameHost { party, term });
        self.schedule_tick(now);
    }

    /// `chorus ctl end`: the host ends the party for everyone.
    pub(crate) fn end(&mut self, _now: Instant, out: &mut Out) -> Result<PartyId, CommandError> {
        let party = match &self.role {
            Role::Host(h) => h.party,
            Role::Member(_) => return Err(CommandError::NotHost),
            Role::Idle => return Err(CommandError::NotInParty),
        };
        self.abandon(out, None);
        out.event(Event::Ended { party });
        Ok(party)
    }

    /// A skip or queue request: decided here if we host, else sent to the host.
    pub(crate) fn request(
        &mut self,
        out: &mut Out,
        kind: RequestKind,
    ) -> Result<RequestOutcome, CommandError> {
        match &mut self.role {
            Role::Idle => Err(CommandError::NotInParty),
            Role::Host(h) => {
                let (accepted, reason) = apply(h, out, self.me, kind, true, self.cfg.requests);
                Ok(RequestOutcome::Answered { accepted, reason })
            }
            Role::Member(m) => {
                if m.roster.is_none() {
                    return Err(CommandError::NotJoinedYet);
                }
                self.next_request = self.next_request.wrapping_add(1);
                let id = self.next_request;
                out.send(
                    m.stream,
                    Control::Request {
                        party: m.party,
                        id,
                        kind,
                    },
                );
                Ok(RequestOutcome::Pending(id))
            }
        }
    }

    pub(super) fn host_tick(&mut self, now: Instant, out: &mut Out, relays: &[SocketAddr]) {
        let threshold = self.cfg.phi_threshold;
        let Role::Host(h) = &mut self.role else {
            return;
        };
        let dead: Vec<u32> = h
            .guests
            .iter()
            .filter(|(_, g)| g.detector.phi(now) > threshold)
            .map(|(slot, _)| *slot)
            .collect();
        let mut changed = !dead.is_empty();
        let mut closing = Vec::new();
        for slot in dead {
            if let Some(g) = h.guests.remove(&slot) {
                out.event(Event::MemberLost { id: g.info.id });
                // If the guest is alive after all (only its heartbeats were slow), this
                // tells it the host is alive too, so it rejoins instead of replacing us.
                out.send(
                    g.stream,
                    Control::Refused {
                        party: h.party,
                        reason: DROPPED.into(),
                    },
                );
                closing.push(g.stream);
            }
        }
        for g in h.guests.values() {
            out.send(
                g.stream,
                Control::Heartbeat {
                    party: h.party,
                    term: h.term,
                },
            );
        }
        if h.phase == PartyPhase::Forming
            && (h.guests.len() >= self.cfg.min_accepts || now >= h.deadline)
        {
            h.phase = PartyPhase::Started;
            h.founders = h.guests.values().map(|g| g.info.id).collect();
            out.event(Event::Started { party: h.party });
            if self.cfg.autoplay {
                out.internal.push_back(Internal::Autoplay);
            }
            changed = true;
        }
        if now >= h.next_invite {
            h.next_invite = now + self.cfg.invite_refresh;
            let invite = Invite {
                party: h.party,
                term: h.term,
                round: h.round,
                host: self.me,
                host_name: self.name.clone(),
                host_addr: SocketAddr::from((
                    std::net::Ipv4Addr::UNSPECIFIED,
                    self.cfg.control_port,
                )),
                ttl: self.cfg.invite_ttl,
                hops: 0,
                started: h.phase == PartyPhase::Started,
                members: u8::try_from(h.guests.len()).unwrap_or(u8::MAX),
            };
            h.round = h.round.wrapping_add(1);
            flood(out, &Message::Invite(invite), relays, None);
        }
        for stream in closing {
            self.close(out, stream);
        }
        if changed {
            self.broadcast_roster(out, None);
        }
    }

    /// Sends `msg` to every guest (host only).
    pub(crate) fn broadcast(&self, out: &mut Out, msg: &Control) {
        if let Role::Host(h) = &self.role {
            for g in h.guests.values() {
                out.send(g.stream, msg.clone());
            }
        }
    }

    /// Sends `msg` to the host we follow, once welcomed.
    pub(crate) fn send_to_host(&self, out: &mut Out, msg: Control) {
        if let Role::Member(m) = &self.role {
            if m.roster.is_some() {
                out.send(m.stream, msg);
            }
        }
    }

    /// Whether `stream` is the one to the host we follow.
    pub(crate) fn is_host_stream(&self, stream: StreamId) -> bool {
        matches!(&self.role, Role::Member(m) if m.stream == stream && m.roster.is_some())
    }

    /// A guest told us which pool songs it lacks: it goes into the roster.
    pub(crate) fn set_guest_missing(&mut self, out: &mut Out, stream: StreamId, missing: Vec<u32>) {
        let Role::Host(h) = &mut self.role else {
            return;
        };
        let Some(g) = h.guests.values_mut().find(|g| g.stream == stream) else {
            return;
        };
        g.holdings_known = true;
        if g.info.missing != missing {
            g.info.missing = missing;
            self.broadcast_roster(out, None);
        }
    }

    /// Whether `stream` belongs to one of our guests.
    pub(crate) fn is_guest_stream(&self, stream: StreamId) -> bool {
        matches!(&self.role, Role::Host(h) if h.guests.values().any(|g| g.stream == stream))
    }

    /// The host's clock-sync address, once welcomed: its IP with the roster's UDP port.
    pub(crate) fn host_time_addr(&self) -> Option<SocketAddr> {
        match &self.role {
            Role::Member(m) => m
                .roster
                .as_ref()
                .map(|r| SocketAddr::new(m.host_addr.ip(), r.udp_port)),
            _ => None,
        }
    }

    /// Sends the roster to every guest (a Welcome to `welcome`, a Roster to the rest).
    fn broadcast_roster(&mut self, out: &mut Out, welcome: Option<StreamId>) {
        let Role::Host(h) = &self.role else { return };
        let roster = Roster {
            party: h.party,
            term: h.term,
            phase: h.phase,
            host: self.host_info(None),
            members: h.guests.values().map(|g| g.info.clone()).collect(),
            udp_port: self.cfg.udp_port,
        };
        for g in h.guests.values() {
            let msg = if Some(g.stream) == welcome {
                Control::Welcome(roster.clone())
            } else {
                Control::Roster(roster.clone())
            };
            out.send(g.stream, msg);
        }
    }

    pub(super) fn on_join(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        term: u64,
    ) {
        let Some((hello, remote)) = self
            .streams
            .get(&stream)
            .and_then(|s| s.peer.clone().map(|h| (h, s.remote)))
        else {
            return self.refuse(out, stream, party, "say hello first");
        };
        if let Some(phase) = self.designated_for(party, term) {
            out.event(Event::Succeeded { party, term });
            self.take_over(now, out, party, term, phase);
        }
        match &self.role {
            Role::Host(h) if h.party == party => {}
            Role::Member(m) if m.party == party => {
                if let Some(r) = &m.roster {
                    let msg = Control::Redirect {
                        party,
                        term: r.term,
                        host: m.host,
                        addr: m.host_addr,
                    };
                    out.send(stream, msg);
                    return self.close(out, stream);
                }
                return self.refuse(out, stream, party, "this box is not the host");
            }
            _ => return self.refuse(out, stream, party, "no such party here"),
        }
        let max = self.cfg.max_members;
        let Role::Host(h) = &mut self.role else {
            return;
        };
        let peer = hello.id;
        let addr = SocketAddr::new(remote.ip(), hello.control_port);
        let existing = h
            .guests
            .iter()
            .find(|(_, g)| g.info.id == peer)
            .map(|(s, _)| *s);
        let newer = existing
            .and_then(|slot| h.guests.get(&slot))
            .is_some_and(|g| g.stream > stream);
        if newer {
            // A join that waited in a slow connection while the box gave up on it and got
            // in on a newer one (stream ids grow): taking it would drop the live stream.
            return self.refuse(out, stream, party, "superseded by a newer connection");
        }
        let old_stream = match existing {
            Some(slot) => h.guests.get_mut(&slot).map(|g| {
                g.info.addr = addr;
                g.info.bulk_port = hello.bulk_port;
                g.detector = self.cfg.detector(now);
                std::mem::replace(&mut g.stream, stream)
            }),
            None if h.guests.len() >= max => {
                return self.refuse(out, stream, party, "the party is full");
            }
            None => {
                let slot = h.next_slot;
                h.next_slot += 1;
                h.guests.insert(
                    slot,
                    Guest {
                        info: MemberInfo {
                            id: peer,
                            name: hello.name,
                            addr,
                            bulk_port: hello.bulk_port,
                            slot,
                            missing: Vec::new(),
                        },
                        stream,
                        detector: self.cfg.detector(now),
                        holdings_known: false,
                    },
                );
                out.event(Event::MemberJoined { id: peer });
                None
            }
        };
        if let Some(old) = old_stream {
            self.close(out, old);
        }
        self.broadcast_roster(out, Some(stream));
        out.internal.push_back(Internal::GuestJoined { stream });
        self.schedule_tick(now);
    }

    fn refuse(&mut self, out: &mut Out, stream: StreamId, party: PartyId, reason: &str) {
        out.send(
            stream,
            Control::Refused {
                party,
                reason: reason.to_owned(),
            },
        );
        self.close(out, stream);
    }

    pub(super) fn on_leave(&mut self, out: &mut Out, stream: StreamId, party: PartyId) {
        if !matches!(&self.role, Role::Host(h) if h.party == party) {
            return;
        }
        if let Some(g) = self.remove_guest(out, stream) {
            out.event(Event::MemberLeft { id: g.info.id });
            self.close(out, stream);
        }
    }

    pub(super) fn guest_stream_closed(&mut self, out: &mut Out, stream: StreamId) {
        if let Some(g) = self.remove_guest(out, stream) {
            out.event(Event::MemberLost { id: g.info.id });
        }
    }

    /// Takes the guest on `stream` out of the roster and tells the others.
    fn remove_guest(&mut self, out: &mut Out, stream: StreamId) -> Option<Guest> {
        let Role::Host(h) = &mut self.role else {
            return None;
        };
        let slot = h
            .guests
            .iter()
            .find(|(_, g)| g.stream == stream)
            .map(|(s, _)| *s)?;
        let guest = h.guests.remove(&slot);
        self.broadcast_roster(out, None);
        guest
    }

    pub(super) fn on_request(
        &mut self,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        id: u32,
        kind: RequestKind,
    ) {
        let policy = self.cfg.requests;
        let Role::Host(h) = &mut self.role else {
            return;
        };
        let Some(by) = h
            .guests
            .values()
            .find(|g| g.stream == stream)
            .map(|g| g.info.id)
        else {
            return;
        };
        if h.party != party {
            return;
        }
        let (accepted, reason) = apply(h, out, by, kind, false, policy);
        out.send(
            stream,
            Control::Answer {
                party,
                id,
                accepted,
                reason,
            },
        );
    }

    pub(super) fn on_heartbeat(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        term: u64,
    ) {
        match &mut self.role {
            Role::Host(h) if h.party == party => {
                if let Some(g) = h.guests.values_mut().find(|g| g.stream == stream) {
                    g.detector.heartbeat(now);
                }
            }
            Role::Member(m) if m.party == party && m.stream == stream => {
                if term < m.term {
                    out.counters.stale_term += 1;
                    return;
                }
                m.detector.heartbeat(now);
            }
            _ => {}
        }
    }
}

/// Applies the request policy and, if allowed, the request itself.
fn apply(
    h: &mut Host,
    out: &mut Out,
    by: NodeId,
    kind: RequestKind,
    from_host: bool,
    policy: RequestPolicy,
) -> (bool, Option<String>) {
    if !from_host && policy == RequestPolicy::HostOnly {
        return (
            false,
            Some("this party takes requests from the host only".into()),
        );
    }
    match kind {
        RequestKind::Playback(action) => {
            let action = action.into();
            out.event(Event::PlaybackRequested {
                party: h.party,
                by,
                action,
            });
            out.internal
                .push_back(Internal::PlaybackRequested { action });
            (true, None)
        }
        RequestKind::Offer { song, title } => {
            let mut song: PoolSong = song.into();
            let added = match h.queue.offer(song.song, title.clone()) {
                Ok(added) => added,
                Err(reason) => return (false, Some(reason)),
            };
            out.event(Event::Queued {
                party: h.party,
                by,
                song: title,
            });
            if added {
                song.origin = (!from_host).then_some(by);
                out.internal.push_back(Internal::Offered { song });
            }
            (true, None)
        }
    }
}
