//! The host's side of a party: admitting guests, the start rule, invitations, heartbeats,
//! deciding requests, and dropping guests that die.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use super::common::{flood, Common};
use super::phi::PhiDetector;
use super::queue::Queue;
use super::{Decision, RequestPolicy, StreamId};
use crate::core::out::Out;
use crate::core::{Event, Instant, NodeId, PoolSong};
use crate::proto::{
    Control, Hello, Invite, MemberInfo, Message, PartyId, PartyPhase, RequestKind, Roster,
};

/// What a guest the host declared dead is told.
const DROPPED: &str = "the host stopped hearing this box";

/// One guest as its host sees it.
#[derive(Debug)]
pub(super) struct Guest {
    pub(super) info: MemberInfo,
    pub(super) stream: StreamId,
    detector: PhiDetector,
    /// Whether the guest said which pool songs it lacks yet (until then, assume all).
    pub(super) holdings_known: bool,
}

/// A box hosting a party.
#[derive(Debug)]
pub(super) struct Host {
    pub(super) party: PartyId,
    pub(super) term: u64,
    pub(super) phase: PartyPhase,
    /// The invite window closes here.
    pub(super) deadline: Instant,
    round: u32,
    next_invite: Instant,
    /// Guests by slot (join order).
    pub(super) guests: BTreeMap<u32, Guest>,
    next_slot: u32,
    /// Offered songs still to come.
    pub(super) queue: Queue,
    /// The guests in the party when it started: the first song waits for them.
    pub(super) founders: BTreeSet<NodeId>,
}

/// Where a host that gives up its party sends its guests: another host of a party.
#[derive(Clone, Copy, Debug)]
pub(super) struct Redirect {
    pub(super) party: PartyId,
    pub(super) term: u64,
    pub(super) host: NodeId,
    pub(super) addr: SocketAddr,
}

impl Host {
    /// Hosts `party` in `term` from `now`: forming when new, the old phase on failover.
    pub(super) fn new(
        c: &Common,
        now: Instant,
        party: PartyId,
        term: u64,
        phase: PartyPhase,
    ) -> Self {
        Host {
            party,
            term,
            phase,
            deadline: now + c.cfg.invite_window,
            round: 0,
            next_invite: now,
            guests: BTreeMap::new(),
            next_slot: 1,
            queue: Queue::default(),
            founders: BTreeSet::new(),
        }
    }

    /// Periodic work: drop dead guests, heartbeat the rest, the start rule, invitations.
    pub(super) fn tick(
        &mut self,
        c: &mut Common,
        now: Instant,
        out: &mut Out,
        relays: &[SocketAddr],
    ) -> Option<Decision> {
        let dead = self.drop_dead(c.cfg.phi_threshold, now, out);
        for g in self.guests.values() {
            let (party, term) = (self.party, self.term);
            out.send(g.stream, Control::Heartbeat { party, term });
        }
        let started = self.start_if_due(c, now, out);
        if now >= self.next_invite {
            self.invite(c, now, out, relays);
        }
        for stream in &dead {
            c.close(out, *stream);
        }
        if started || !dead.is_empty() {
            self.broadcast_roster(c, out, None);
        }
        (started && c.cfg.autoplay).then_some(Decision::Autoplay)
    }

    /// Takes out the guests the failure detector declares dead; returns their streams.
    fn drop_dead(&mut self, threshold: f64, now: Instant, out: &mut Out) -> Vec<StreamId> {
        let dead: Vec<u32> = (self.guests.iter())
            .filter(|(_, g)| g.detector.phi(now) > threshold)
            .map(|(slot, _)| *slot)
            .collect();
        let mut closing = Vec::new();
        for slot in dead {
            if let Some(g) = self.guests.remove(&slot) {
                out.event(Event::MemberLost { id: g.info.id });
                // If the guest is alive after all (only its heartbeats were slow), this
                // tells it the host is alive too, so it rejoins instead of replacing us.
                let reason = DROPPED.into();
                let party = self.party;
                out.send(g.stream, Control::Refused { party, reason });
                closing.push(g.stream);
            }
        }
        closing
    }

    /// The start rule: a forming party starts once enough guests joined or the invite
    /// window closed. True if it started now.
    fn start_if_due(&mut self, c: &Common, now: Instant, out: &mut Out) -> bool {
        let due = self.guests.len() >= c.cfg.min_accepts || now >= self.deadline;
        if self.phase != PartyPhase::Forming || !due {
            return false;
        }
        self.begin(out);
        true
    }

    /// The party starts: whoever is in now is a founder.
    fn begin(&mut self, out: &mut Out) {
        self.phase = PartyPhase::Started;
        self.founders = self.guests.values().map(|g| g.info.id).collect();
        out.event(Event::Started { party: self.party });
    }

    /// Floods a new round of our invitation.
    fn invite(&mut self, c: &Common, now: Instant, out: &mut Out, relays: &[SocketAddr]) {
        self.next_invite = now + c.cfg.invite_refresh;
        let invite = Invite {
            party: self.party,
            term: self.term,
            round: self.round,
            host: c.me,
            host_name: c.name.clone(),
            host_addr: SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, c.cfg.control_port)),
            ttl: c.cfg.invite_ttl,
            hops: 0,
            started: self.phase == PartyPhase::Started,
            members: u8::try_from(self.guests.len()).unwrap_or(u8::MAX),
            host_key: [0; 32],
            signature: [0; 64],
        };
        let invite = sign(invite, c.cfg.signer.as_ref());
        self.round = self.round.wrapping_add(1);
        flood(out, &Message::Invite(invite), relays, None);
    }

    /// Sends `msg` to every guest.
    pub(super) fn broadcast(&self, out: &mut Out, msg: &Control) {
        for g in self.guests.values() {
            out.send(g.stream, msg.clone());
        }
    }

    /// Sends the roster to every guest (a Welcome to `welcome`, a Roster to the rest).
    fn broadcast_roster(&self, c: &Common, out: &mut Out, welcome: Option<StreamId>) {
        let roster = Roster {
            party: self.party,
            term: self.term,
            phase: self.phase,
            host: c.host_info(),
            members: self.guests.values().map(|g| g.info.clone()).collect(),
            udp_port: c.cfg.udp_port,
        };
        for g in self.guests.values() {
            let msg = if Some(g.stream) == welcome {
                Control::Welcome(roster.clone())
            } else {
                Control::Roster(roster.clone())
            };
            out.send(g.stream, msg);
        }
    }

    /// A join for our party from `hello` at `remote` on `stream`: a new guest gets the
    /// next slot, a known one (back on a new connection) keeps its slot.
    pub(super) fn admit(
        &mut self,
        c: &mut Common,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        (hello, remote): (Hello, SocketAddr),
    ) -> Option<Decision> {
        let party = self.party;
        let addr = SocketAddr::new(remote.ip(), hello.control_port);
        let full = self.guests.len() >= c.cfg.max_members;
        let existing = self.guests.values_mut().find(|g| g.info.id == hello.id);
        let old_stream = match existing {
            Some(g) if g.stream > stream => {
                // A join that waited in a slow connection while the box gave up on it and
                // got in on a newer one (stream ids grow): taking it would drop the live
                // stream.
                c.refuse(out, stream, party, "superseded by a newer connection");
                return None;
            }
            Some(g) => {
                g.info.addr = addr;
                g.info.bulk_port = hello.bulk_port;
                g.detector = c.cfg.detector(now);
                Some(std::mem::replace(&mut g.stream, stream))
            }
            None if full => {
                c.refuse(out, stream, party, "the party is full");
                return None;
            }
            None => {
                self.add_guest(c, now, out, stream, hello, addr);
                None
            }
        };
        if let Some(old) = old_stream {
            c.close(out, old);
        }
        self.broadcast_roster(c, out, Some(stream));
        c.schedule_tick(now);
        Some(Decision::GuestJoined { stream })
    }

    fn add_guest(
        &mut self,
        c: &Common,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        hello: Hello,
        addr: SocketAddr,
    ) {
        let slot = self.next_slot;
        self.next_slot += 1;
        let id = hello.id;
        let info = MemberInfo {
            id,
            name: hello.name,
            addr,
            bulk_port: hello.bulk_port,
            slot,
            missing: Vec::new(),
        };
        let detector = c.cfg.detector(now);
        let guest = Guest {
            info,
            stream,
            detector,
            holdings_known: false,
        };
        self.guests.insert(slot, guest);
        out.event(Event::MemberJoined { id });
    }

    /// A guest says goodbye.
    pub(super) fn on_leave(
        &mut self,
        c: &mut Common,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
    ) {
        if party != self.party {
            return;
        }
        if let Some(g) = self.remove_guest(c, out, stream) {
            out.event(Event::MemberLeft { id: g.info.id });
            c.close(out, stream);
        }
    }

    /// A guest's stream broke.
    pub(super) fn stream_closed(&mut self, c: &Common, out: &mut Out, stream: StreamId) {
        if let Some(g) = self.remove_guest(c, out, stream) {
            out.event(Event::MemberLost { id: g.info.id });
        }
    }

    /// Takes the guest on `stream` out of the roster and tells the others.
    fn remove_guest(&mut self, c: &Common, out: &mut Out, stream: StreamId) -> Option<Guest> {
        let slot = (self.guests.iter())
            .find(|(_, g)| g.stream == stream)
            .map(|(s, _)| *s)?;
        let guest = self.guests.remove(&slot);
        self.broadcast_roster(c, out, None);
        guest
    }

    pub(super) fn heartbeat(&mut self, now: Instant, stream: StreamId, party: PartyId) {
        if party != self.party {
            return;
        }
        if let Some(g) = self.guests.values_mut().find(|g| g.stream == stream) {
            g.detector.heartbeat(now);
        }
    }

    /// A guest's request: decided, answered, and what was decided returned.
    pub(super) fn on_request(
        &mut self,
        c: &Common,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        id: u32,
        kind: RequestKind,
    ) -> Option<Decision> {
        let by = (self.guests.values())
            .find(|g| g.stream == stream)
            .map(|g| g.info.id)?;
        if party != self.party {
            return None;
        }
        let verdict = self.decide(c, out, by, kind, false);
        let (accepted, reason) = match &verdict {
            Ok(_) => (true, None),
            Err(reason) => (false, Some(reason.clone())),
        };
        let answer = Control::Answer {
            party,
            id,
            accepted,
            reason,
        };
        out.send(stream, answer);
        verdict.ok().flatten()
    }

    /// Applies the request policy and, if allowed, decides the request of `by`:
    /// `Ok` with what the node must carry out, or the reason it is refused.
    pub(super) fn decide(
        &mut self,
        c: &Common,
        out: &mut Out,
        by: NodeId,
        kind: RequestKind,
        from_host: bool,
    ) -> Result<Option<Decision>, String> {
        if !from_host && c.cfg.requests == RequestPolicy::HostOnly {
            return Err("this party takes requests from the host only".into());
        }
        let party = self.party;
        match kind {
            RequestKind::Playback(action) => {
                let action = action.into();
                out.event(Event::PlaybackRequested { party, by, action });
                // Music playing is a party under way: starting it here keeps everyone's
                // roster (and so a successor's) from saying "forming" while it plays.
                let plays = !matches!(
                    action,
                    crate::core::Action::Pause | crate::core::Action::Volume { .. }
                );
                if plays && self.phase == PartyPhase::Forming {
                    self.begin(out);
                    self.broadcast_roster(c, out, None);
                }
                Ok(Some(Decision::Play { action }))
            }
            RequestKind::Offer { song, title } => {
                let mut song: PoolSong = song.into();
                let added = self.queue.offer(song.song, title.clone())?;
                out.event(Event::Queued {
                    party,
                    by,
                    song: title,
                });
                song.origin = (!from_host).then_some(by);
                Ok(added.then_some(Decision::AddSong { song }))
            }
        }
    }

    /// A guest told us which pool songs it lacks: it goes into the roster.
    pub(super) fn set_guest_missing(
        &mut self,
        c: &Common,
        out: &mut Out,
        stream: StreamId,
        missing: Vec<u32>,
    ) {
        let Some(g) = self.guests.values_mut().find(|g| g.stream == stream) else {
            return;
        };
        g.holdings_known = true;
        if g.info.missing != missing {
            g.info.missing = missing;
            self.broadcast_roster(c, out, None);
        }
    }

    pub(super) fn has_guest_stream(&self, stream: StreamId) -> bool {
        self.guests.values().any(|g| g.stream == stream)
    }

    pub(super) fn guest_stream(&self, id: NodeId) -> Option<StreamId> {
        self.guests
            .values()
            .find(|g| g.info.id == id)
            .map(|g| g.stream)
    }

    /// Gives the party up: each guest is sent to `to`, or told the party ended.
    pub(super) fn dissolve(self, c: &mut Common, out: &mut Out, to: Option<Redirect>) {
        for g in self.guests.values() {
            let msg = match to {
                Some(r) => Control::Redirect {
                    party: r.party,
                    term: r.term,
                    host: r.host,
                    addr: r.addr,
                },
                None => Control::End {
                    party: self.party,
                    term: self.term,
                },
            };
            out.send(g.stream, msg);
            c.close(out, g.stream);
        }
    }
}

/// The invitation with this box's key and signature. Without a signer it stays unsigned
/// (every box drops it): a misconfigured runtime, not something a peer can cause.
fn sign(mut invite: Invite, signer: Option<&crate::core::Signer>) -> Invite {
    if let Some(signer) = signer {
        invite.host_key = signer.0.public_key();
        invite.signature = signer.0.sign(&invite.signed_bytes());
    }
    invite
}
