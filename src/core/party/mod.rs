//! Parties: HOST, invitation flooding, JOIN, the start rule, election, heartbeats, failure
//! detection and host failover, as one sans-IO state machine.
//!
//! The rules, in one place (the README repeats them for makers):
//! - **Flooding.** A host re-floods its invitation every `invite_refresh` with a new round;
//!   each box forwards a (party, host, term, round) it has not seen, with TTL one less, to
//!   the multicast group and its unicast-only neighbours, until the TTL runs out.
//! - **Start.** A forming party starts when `min_accepts` guests joined or the invite
//!   window ends. Boxes join late and leave at any time.
//! - **Election.** Of two parties still forming, the lower party id wins
//!   ([`invitations::wins`]). A losing host redirects its guests to the winner and joins
//!   it; a guest of a losing party switches on its own when it sees the winner.
//! - **Failover.** Guests hold slots in join order. When the host of term `t` is lost,
//!   the guest with the lowest slot `s` not known to be dead becomes host of term
//!   `t + 1 + s`; the others join it. Within one roster a slot maps to one box, so boxes
//!   that share the roster never claim the same term. Across a partition they do not
//!   share it: each side fails over from its own roster and two boxes can end up hosting
//!   the same term number (term 1, slot 3 and term 3, slot 1 both give term 5). So a
//!   party's *epoch* is the pair (term, host id), ordered by term and then host id
//!   ([`newer`]): it names exactly one host. A box that learns of a newer epoch of its
//!   party (beacons, redirects) follows that host: an old host coming back rejoins as a
//!   guest, and of two hosts of the same term the one with the lower id joins the other.

mod host;
pub mod invitations;
mod member;
mod phi;
mod queue;
mod types;
mod views;

pub use types::{
    CommandError, PartyConfig, PartyRole, PartyState, PartyView, RequestOutcome, RequestPolicy,
    StreamAction, StreamId,
};

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use self::invitations::{Invitation, Invitations};
use self::phi::PhiDetector;
use super::out::Out;
use super::{Instant, NodeId};
use crate::proto::{Control, Invite, MemberInfo, PartyId, PartyPhase, PartySummary, Roster};

#[derive(Clone, Debug)]
struct StreamInfo {
    remote: SocketAddr,
    /// The connecting side's introduction, once it arrived.
    peer: Option<crate::proto::Hello>,
}

#[derive(Debug)]
struct Guest {
    info: MemberInfo,
    stream: StreamId,
    detector: PhiDetector,
    /// Whether the guest said which pool songs it lacks yet (until then, assume all).
    holdings_known: bool,
}

#[derive(Debug)]
struct Host {
    party: PartyId,
    term: u64,
    phase: PartyPhase,
    /// The invite window closes here.
    deadline: Instant,
    round: u32,
    next_invite: Instant,
    guests: BTreeMap<u32, Guest>,
    next_slot: u32,
    /// Offered songs still to come.
    queue: queue::Queue,
    /// The guests in the party when it started: the first song waits for them.
    founders: BTreeSet<NodeId>,
}

/// What a guest knows to find the next host: the last roster and who is known dead.
#[derive(Clone, Debug)]
struct Succession {
    base: Roster,
    suspects: BTreeSet<NodeId>,
}

#[derive(Debug)]
struct Member {
    party: PartyId,
    /// The host we follow, or are trying to join.
    host: NodeId,
    host_addr: SocketAddr,
    term: u64,
    stream: StreamId,
    /// The host's roster once welcomed; None while joining.
    roster: Option<Roster>,
    /// When the current join attempt began.
    since: Instant,
    detector: PhiDetector,
    /// Set while looking for a successor after losing the host.
    succession: Option<Succession>,
}

#[derive(Debug)]
enum Role {
    Idle,
    Host(Host),
    Member(Box<Member>),
}

/// The party state machine of one box.
#[derive(Debug)]
pub(crate) struct Party {
    cfg: PartyConfig,
    me: NodeId,
    name: String,
    invitations: Invitations,
    streams: BTreeMap<StreamId, StreamInfo>,
    next_stream: u64,
    role: Role,
    next_tick: Option<Instant>,
    next_request: u32,
    /// Pool index of the song playing now, so a failover prefers a box that holds it.
    current_song: Option<u32>,
}

impl Party {
    pub(crate) fn new(cfg: PartyConfig, me: NodeId, name: String) -> Self {
        Party {
            cfg,
            me,
            name,
            invitations: Invitations::default(),
            streams: BTreeMap::new(),
            next_stream: 0,
            role: Role::Idle,
            next_tick: None,
            next_request: 0,
            current_song: None,
        }
    }

    /// The pool index playing now (from the schedule), for the successor rule.
    pub(crate) fn set_current_song(&mut self, index: Option<u32>) {
        self.current_song = index;
    }

    /// The pool and the song playing now, so the host's queue lets go of songs that are
    /// no longer to come and can judge offers.
    pub(crate) fn follow_pool(&mut self, pool: &[crate::core::PoolSong]) {
        if let Role::Host(h) = &mut self.role {
            h.queue.follow(pool, self.current_song);
        }
    }

    pub(crate) fn config(&self) -> &PartyConfig {
        &self.cfg
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    pub(crate) fn is_host(&self) -> bool {
        matches!(self.role, Role::Host(_))
    }

    pub(crate) fn is_member(&self) -> bool {
        matches!(self.role, Role::Member(_))
    }

    pub(crate) fn invitations(&self) -> Vec<&Invitation> {
        self.invitations.list()
    }

    fn schedule_tick(&mut self, at: Instant) {
        self.next_tick = Some(match self.next_tick {
            Some(t) if t < at => t,
            _ => at,
        });
    }

    /// A new stream accepted by the transport from `remote`.
    pub(crate) fn accept_stream(&mut self, remote: SocketAddr) -> StreamId {
        self.new_stream(remote)
    }

    fn new_stream(&mut self, remote: SocketAddr) -> StreamId {
        self.next_stream += 1;
        let id = StreamId(self.next_stream);
        self.streams.insert(id, StreamInfo { remote, peer: None });
        id
    }

    fn close(&mut self, out: &mut Out, stream: StreamId) {
        if self.streams.remove(&stream).is_some() {
            out.streams.push_back(StreamAction::Close { stream });
        }
    }

    /// Opens a stream to `addr` and asks to join `party` expecting `term`.
    fn connect_and_join(
        &mut self,
        out: &mut Out,
        addr: SocketAddr,
        party: PartyId,
        term: u64,
    ) -> StreamId {
        let stream = self.new_stream(addr);
        out.streams
            .push_back(StreamAction::Connect { stream, addr });
        out.send(
            stream,
            Control::Hello(crate::proto::Hello {
                id: self.me,
                name: self.name.clone(),
                control_port: self.cfg.control_port,
                bulk_port: self.cfg.bulk_port,
            }),
        );
        out.send(stream, Control::Join { party, term });
        stream
    }

    /// Periodic work: heartbeats, failure detection, start rule, invitation refresh.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Out, relays: &[SocketAddr]) {
        if self.next_tick.is_some_and(|t| t > now) {
            return;
        }
        self.next_tick = None;
        self.invitations.expire(now, self.cfg.invite_expiry());
        match self.role {
            Role::Idle => {}
            Role::Host(_) => self.host_tick(now, out, relays),
            Role::Member(_) => self.member_tick(now, out),
        }
        if !matches!(self.role, Role::Idle) {
            self.schedule_tick(now + self.cfg.heartbeat_interval);
        } else if !self.invitations.list().is_empty() {
            // Keep expiring invitations while idle.
            self.schedule_tick(now + self.cfg.invite_refresh);
        }
    }

    /// An invitation datagram from `from`.
    pub(crate) fn handle_invite(
        &mut self,
        now: Instant,
        out: &mut Out,
        from: SocketAddr,
        mut invite: Invite,
        relays: &[SocketAddr],
    ) {
        if invite.host == self.me {
            return;
        }
        if !self.invitations.first_sight(&invite) {
            out.counters.duplicate_invites += 1;
            return;
        }
        out.counters.invites_in += 1;
        if invite.host_addr.ip().is_unspecified() {
            invite.host_addr.set_ip(from.ip());
        }
        if self.own_party() != Some(invite.party) {
            let new = self.invitations.get(invite.party).is_none();
            self.invitations.record(&invite, now);
            if new {
                out.event(super::Event::Invited {
                    party: invite.party,
                    host: invite.host,
                    host_name: invite.host_name.clone(),
                });
            }
            self.schedule_tick(now + self.cfg.invite_refresh);
        }
        if invite.ttl > 1 {
            let fwd = Invite {
                ttl: invite.ttl - 1,
                hops: invite.hops.saturating_add(1),
                ..invite
            };
            flood(out, &crate::proto::Message::Invite(fwd), relays, Some(from));
        }
        self.elect(now, out);
        if matches!(self.role, Role::Idle) {
            if self.cfg.rejoin == Some(invite.party) {
                // We were in this party before a restart: back in without a button.
                self.cfg.rejoin = None;
                let _ = self.join(now, out, Some(invite.party));
            } else if self.cfg.auto_join {
                let _ = self.join(now, out, None);
            }
        }
    }

    fn own_party(&self) -> Option<PartyId> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(h.party),
            Role::Member(m) => Some(m.party),
        }
    }

    /// `chorus ctl join`: join `party`, or the preferred invitation.
    pub(crate) fn join(
        &mut self,
        now: Instant,
        out: &mut Out,
        party: Option<PartyId>,
    ) -> Result<PartyId, CommandError> {
        if let Some(p) = self.own_party() {
            return Err(CommandError::AlreadyInParty(p));
        }
        if party != self.cfg.rejoin {
            // An explicit choice replaces the memory of the party before a restart.
            self.cfg.rejoin = None;
        }
        let inv = match party {
            Some(p) => self
                .invitations
                .get(p)
                .ok_or(CommandError::UnknownInvitation(p))?,
            None => self
                .invitations
                .preferred()
                .ok_or(CommandError::NoInvitation)?,
        }
        .clone();
        self.begin_join(now, out, inv.party, inv.host, inv.host_addr, inv.term, None);
        Ok(inv.party)
    }

    /// Becomes a member trying to join `host` at `addr`.
    #[allow(clippy::too_many_arguments)]
    fn begin_join(
        &mut self,
        now: Instant,
        out: &mut Out,
        party: PartyId,
        host: NodeId,
        addr: SocketAddr,
        term: u64,
        succession: Option<Succession>,
    ) {
        let stream = self.connect_and_join(out, addr, party, term);
        // Our own party is not an invitation to us.
        self.invitations.remove(party);
        self.role = Role::Member(Box::new(Member {
            party,
            host,
            host_addr: addr,
            term,
            stream,
            roster: None,
            since: now,
            detector: self.cfg.detector(now),
            succession,
        }));
        self.schedule_tick(now + self.cfg.heartbeat_interval);
    }

    /// `chorus ctl leave`: a guest leaves; a host ends the party.
    pub(crate) fn leave(&mut self, now: Instant, out: &mut Out) -> Result<PartyId, CommandError> {
        match std::mem::replace(&mut self.role, Role::Idle) {
            Role::Idle => Err(CommandError::NotInParty),
            Role::Host(h) => {
                self.role = Role::Host(h);
                self.end(now, out)
            }
            Role::Member(m) => {
                out.send(m.stream, Control::Leave { party: m.party });
                self.close(out, m.stream);
                out.event(super::Event::Left { party: m.party });
                Ok(m.party)
            }
        }
    }

    /// A control message on `stream`.
    pub(crate) fn handle_message(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        msg: Control,
    ) {
        let Some(info) = self.streams.get_mut(&stream) else {
            return;
        };
        match msg {
            Control::Hello(h) => info.peer = Some(h),
            Control::Join { party, term } => self.on_join(now, out, stream, party, term),
            Control::Leave { party } => self.on_leave(out, stream, party),
            Control::Request { party, id, kind } => self.on_request(out, stream, party, id, kind),
            Control::Heartbeat { party, term } => self.on_heartbeat(now, out, stream, party, term),
            other => self.member_message(now, out, stream, other),
        }
    }

    /// The transport lost `stream` (or could not open it).
    pub(crate) fn handle_stream_closed(&mut self, now: Instant, out: &mut Out, stream: StreamId) {
        if self.streams.remove(&stream).is_none() {
            return;
        }
        match &self.role {
            Role::Host(_) => self.guest_stream_closed(out, stream),
            Role::Member(m) if m.stream == stream => {
                self.host_unreachable(now, out, "connection lost")
            }
            _ => {}
        }
    }

    /// The party summary in a neighbour's beacon: a higher term of our party means the
    /// party moved on without us, so we follow its host.
    pub(crate) fn handle_summary(
        &mut self,
        now: Instant,
        out: &mut Out,
        summary: PartySummary,
        host_addr: Option<SocketAddr>,
    ) {
        let (party, term, host) = match &self.role {
            Role::Idle => return,
            Role::Host(h) => (h.party, h.term, self.me),
            Role::Member(m) => (m.party, m.term, m.host),
        };
        if summary.id != party
            || summary.host == self.me
            || summary.host == host
            || !newer((summary.term, summary.host), (term, host))
        {
            return;
        }
        let Some(addr) = host_addr else { return };
        out.event(super::Event::FollowedNewerTerm {
            party,
            term: summary.term,
            host: summary.host,
        });
        self.abandon(out, Some((summary.host, addr, summary.term, party)));
        self.begin_join(now, out, party, summary.host, addr, summary.term, None);
    }

    /// Drops the current role; a host redirects its guests to `to` (or ends the party).
    fn abandon(&mut self, out: &mut Out, to: Option<(NodeId, SocketAddr, u64, PartyId)>) {
        match std::mem::replace(&mut self.role, Role::Idle) {
            Role::Idle => {}
            Role::Host(h) => {
                for g in h.guests.values() {
                    let msg = match to {
                        Some((host, addr, term, party)) => Control::Redirect {
                            party,
                            term,
                            host,
                            addr,
                        },
                        None => Control::End {
                            party: h.party,
                            term: h.term,
                        },
                    };
                    out.send(g.stream, msg);
                    self.close(out, g.stream);
                }
            }
            Role::Member(m) => {
                out.send(m.stream, Control::Leave { party: m.party });
                self.close(out, m.stream);
            }
        }
    }

    /// Resolves colliding forming parties: follow the winner if ours loses.
    fn elect(&mut self, now: Instant, out: &mut Out) {
        let (mine, forming) = match &self.role {
            Role::Idle => return,
            Role::Host(h) => (h.party, h.phase == PartyPhase::Forming),
            Role::Member(m) => (
                m.party,
                m.succession.is_none()
                    && m.roster
                        .as_ref()
                        .is_none_or(|r| r.phase == PartyPhase::Forming),
            ),
        };
        if !forming {
            return;
        }
        let Some(winner) = self.invitations.winner_over(mine).cloned() else {
            return;
        };
        out.event(super::Event::LostElection {
            party: mine,
            winner: winner.party,
        });
        let to = (winner.host, winner.host_addr, winner.term, winner.party);
        self.abandon(out, Some(to));
        self.begin_join(
            now,
            out,
            winner.party,
            winner.host,
            winner.host_addr,
            winner.term,
            None,
        );
    }
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

/// Sends `msg` to the multicast group and to each relay except `except`.
pub(crate) fn flood(
    out: &mut Out,
    msg: &crate::proto::Message,
    relays: &[SocketAddr],
    except: Option<SocketAddr>,
) {
    out.datagram(super::Destination::Multicast, msg);
    for addr in relays.iter().filter(|a| Some(**a) != except) {
        out.datagram(super::Destination::Unicast(*addr), msg);
    }
}
