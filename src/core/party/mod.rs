//! Parties: HOST, invitation flooding, JOIN, the start rule, election, heartbeats, failure
//! detection and host failover, as one sans-IO state machine.
//!
//! [`Party`] is a box's role, idle, `Host` or `Member` (each its own type with its own
//! methods, in `host.rs` and `member.rs`), plus what the box keeps whatever its role
//! (`Common`). It looks at the role once per event and forwards to that role's method.
//! A member's handler answers with a `Step` when the box must change role; a call that
//! decides something the rest of the node carries out (a guest joined, a song to play or
//! to add to the pool) returns that `Decision`, and the node applies it at once.
//!
//! The rules, in one place (the README repeats them for makers; the election and
//! successor rules themselves are in [`succession`]):
//! - **Flooding.** A host re-floods its invitation every `invite_refresh` with a new round;
//!   each box forwards a (party, host, term, round) it has not seen, with TTL one less, to
//!   the multicast group and its unicast-only neighbours, until the TTL runs out.
//! - **Start.** A forming party starts when `min_accepts` guests joined or the invite
//!   window ends. Boxes join late and leave at any time.
//! - **Election.** Of two parties still forming, the lower party id wins
//!   ([`succession::wins`]). A losing host redirects its guests to the winner and joins
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

mod commands;
mod common;
mod host;
pub mod invitations;
mod member;
mod phi;
mod queue;
pub mod succession;
mod types;
mod views;

pub use succession::{generation, newer, term_for};
pub(crate) use types::Decision;
pub use types::{
    CommandError, PartyConfig, PartyRole, PartyState, PartyView, RequestOutcome, RequestPolicy,
    StreamAction, StreamId,
};

use std::net::SocketAddr;

use self::common::{flood, Common};
use self::host::{Host, Redirect};
use self::invitations::Invitation;
use self::member::{Member, Target};
use super::out::Out;
use super::{Event, Instant};
use crate::proto::{Control, Invite, Message, PartyId, PartyPhase, PartySummary};

/// What a box is in its party.
#[derive(Debug)]
enum Role {
    Idle,
    Host(Host),
    Member(Box<Member>),
}

/// A role change a member's handler asks for; [`Party::go`] carries it out.
#[derive(Debug)]
enum Step {
    Stay,
    /// Stay, but the party may now lose an election.
    Elect,
    /// Out of the party (the handler reported why).
    Idle,
    /// Join (or rejoin) a host.
    Join(Target),
    /// Take the party over as its host.
    TakeOver {
        party: PartyId,
        term: u64,
        phase: PartyPhase,
    },
    /// The host (or the successor tried) cannot be reached, for this reason.
    Lost(String),
}

/// Where a box in a party stands, whatever its role.
struct Standing {
    party: PartyId,
    /// The (term, host) it follows: its own when hosting.
    epoch: (u64, super::NodeId),
    /// Whether the party still forms, so it may still lose an election.
    forming: bool,
}

/// The party state machine of one box.
#[derive(Debug)]
pub(crate) struct Party {
    c: Common,
    role: Role,
}

impl Party {
    pub(crate) fn new(cfg: PartyConfig, me: super::NodeId, name: String) -> Self {
        Party {
            c: Common::new(cfg, me, name),
            role: Role::Idle,
        }
    }

    /// The pool index playing now (from the schedule), for the successor rule.
    pub(crate) fn set_current_song(&mut self, index: Option<u32>) {
        self.c.current_song = index;
    }

    /// The pool and the song playing now, so the host's queue lets go of songs that are
    /// no longer to come and can judge offers.
    pub(crate) fn follow_pool(&mut self, pool: &[crate::core::PoolSong]) {
        if let Role::Host(h) = &mut self.role {
            h.queue.follow(pool, self.c.current_song);
        }
    }

    pub(crate) fn config(&self) -> &PartyConfig {
        &self.c.cfg
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.c.next_tick()
    }

    pub(crate) fn invitations(&self) -> Vec<&Invitation> {
        self.c.invitations.list()
    }

    /// A new stream accepted by the transport from `remote`.
    pub(crate) fn accept_stream(&mut self, remote: SocketAddr) -> StreamId {
        self.c.new_stream(remote)
    }

    fn hosting(&self) -> Option<&Host> {
        match &self.role {
            Role::Host(h) => Some(h),
            _ => None,
        }
    }

    fn following(&self) -> Option<&Member> {
        match &self.role {
            Role::Member(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn is_host(&self) -> bool {
        self.hosting().is_some()
    }

    pub(crate) fn is_member(&self) -> bool {
        self.following().is_some()
    }

    /// Where the box stands in its party, unless idle.
    fn standing(&self) -> Option<Standing> {
        match &self.role {
            Role::Idle => None,
            Role::Host(h) => Some(Standing {
                party: h.party,
                epoch: (h.term, self.c.me),
                forming: h.phase == PartyPhase::Forming,
            }),
            Role::Member(m) => Some(Standing {
                party: m.party,
                epoch: (m.term, m.host),
                forming: m.forming(),
            }),
        }
    }

    fn own_party(&self) -> Option<PartyId> {
        self.standing().map(|s| s.party)
    }

    /// Periodic work: heartbeats, failure detection, start rule, invitation refresh.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Out,
        relays: &[SocketAddr],
    ) -> Option<Decision> {
        if !self.c.tick_due(now) {
            return None;
        }
        self.c.invitations.expire(now, self.c.cfg.invite_expiry());
        let decision = match &mut self.role {
            Role::Idle => None,
            Role::Host(h) => h.tick(&mut self.c, now, out, relays),
            Role::Member(m) => {
                let step = m.tick(&self.c, now, out);
                self.go(now, out, step);
                None
            }
        };
        if !matches!(self.role, Role::Idle) {
            self.c.schedule_tick(now + self.c.cfg.heartbeat_interval);
        } else if !self.c.invitations.list().is_empty() {
            // Keep expiring invitations while idle.
            self.c.schedule_tick(now + self.c.cfg.invite_refresh);
        }
        decision
    }

    /// An invitation datagram from `from`: believed, listed and relayed only if its
    /// host signed it (see [`Invite::verify`]); a forgery is only counted.
    pub(crate) fn handle_invite(
        &mut self,
        now: Instant,
        out: &mut Out,
        from: SocketAddr,
        mut invite: Invite,
        relays: &[SocketAddr],
    ) {
        if invite.host == self.c.me {
            return;
        }
        // Checked before the duplicate filter, so a forgery cannot take the flood id of
        // a real round and have the real copies dropped as duplicates.
        if invite.verify().is_err() {
            out.counters.forged_invites += 1;
            return;
        }
        if !self.c.invitations.first_sight(&invite) {
            out.counters.duplicate_invites += 1;
            return;
        }
        out.counters.invites_in += 1;
        if invite.host_addr.ip().is_unspecified() {
            invite.host_addr.set_ip(from.ip());
        }
        if self.own_party() != Some(invite.party) {
            let new = self.c.invitations.get(invite.party).is_none();
            self.c.invitations.record(&invite, now);
            if new {
                out.event(Event::Invited {
                    party: invite.party,
                    host: invite.host,
                    host_name: invite.host_name.clone(),
                });
            }
            self.c.schedule_tick(now + self.c.cfg.invite_refresh);
        }
        if invite.ttl > 1 {
            let fwd = Invite {
                ttl: invite.ttl - 1,
                hops: invite.hops.saturating_add(1),
                ..invite
            };
            flood(out, &Message::Invite(fwd), relays, Some(from));
        }
        self.elect(now, out);
        if matches!(self.role, Role::Idle) {
            if self.c.cfg.rejoin == Some(invite.party) {
                // We were in this party before a restart: back in without a button. The
                // memory stays until the host welcomes us, so a failed attempt is retried.
                let _ = self.join(now, out, Some(invite.party));
            } else if self.c.cfg.auto_join {
                let _ = self.join(now, out, None);
            }
        }
    }

    /// A control message on `stream`; returns what the host decided, if anything.
    pub(crate) fn handle_message(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        msg: Control,
    ) -> Option<Decision> {
        if !self.c.knows(stream) {
            return None;
        }
        let c = &mut self.c;
        match (msg, &mut self.role) {
            (Control::Hello(h), _) => c.set_peer(stream, h),
            (Control::Join { party, term }, _) => {
                return self.on_join(now, out, stream, party, term)
            }
            (Control::Leave { party }, Role::Host(h)) => h.on_leave(c, out, stream, party),
            (Control::Request { party, id, kind }, Role::Host(h)) => {
                return h.on_request(c, out, stream, party, id, kind)
            }
            (Control::Heartbeat { party, .. }, Role::Host(h)) => h.heartbeat(now, stream, party),
            (Control::Heartbeat { party, term }, Role::Member(m)) => {
                m.heartbeat(now, out, stream, party, term)
            }
            (Control::Leave { .. } | Control::Request { .. } | Control::Heartbeat { .. }, _) => {}
            (other, Role::Member(m)) if m.stream == stream => {
                let step = m.on_message(c, now, out, other);
                if m.welcomed_stream().is_some() && c.cfg.rejoin == Some(m.party) {
                    // Back in the party we were in before the restart.
                    c.cfg.rejoin = None;
                }
                self.go(now, out, step);
            }
            _ => {}
        }
        None
    }

    /// A join on `stream`: the designated successor takes over first; a host admits,
    /// a guest points to its host.
    fn on_join(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        term: u64,
    ) -> Option<Decision> {
        let Some(peer) = self.c.peer(stream) else {
            self.c.refuse(out, stream, party, "say hello first");
            return None;
        };
        let designated = (self.following()).and_then(|m| m.designated(self.c.me, party, term));
        if let Some(phase) = designated {
            out.event(Event::Succeeded { party, term });
            self.take_over(now, out, party, term, phase);
        }
        match &mut self.role {
            Role::Host(h) if h.party == party => {
                return h.admit(&mut self.c, now, out, stream, peer)
            }
            Role::Member(m) if m.party == party => m.answer_join(&mut self.c, out, stream, party),
            _ => self.c.refuse(out, stream, party, "no such party here"),
        }
        None
    }

    /// The transport lost `stream` (or could not open it).
    pub(crate) fn handle_stream_closed(&mut self, now: Instant, out: &mut Out, stream: StreamId) {
        if !self.c.forget(stream) {
            return;
        }
        match &mut self.role {
            Role::Host(h) => h.stream_closed(&self.c, out, stream),
            Role::Member(m) if m.stream == stream => {
                self.go(now, out, Step::Lost("connection lost".into()))
            }
            _ => {}
        }
    }

    /// The party summary in a neighbour's beacon: a newer epoch of our party means the
    /// party moved on without us, so we follow its host.
    pub(crate) fn handle_summary(
        &mut self,
        now: Instant,
        out: &mut Out,
        summary: PartySummary,
        host_addr: Option<SocketAddr>,
    ) {
        let Some(Standing { party, epoch, .. }) = self.standing() else {
            return;
        };
        if summary.id != party
            || summary.host == self.c.me
            || summary.host == epoch.1
            || !newer((summary.term, summary.host), epoch)
        {
            return;
        }
        let Some(addr) = host_addr else { return };
        let (host, term) = (summary.host, summary.term);
        out.event(Event::FollowedNewerTerm { party, term, host });
        self.follow(
            now,
            out,
            Redirect {
                party,
                term,
                host,
                addr,
            },
        );
    }

    /// Carries out a role change.
    fn go(&mut self, now: Instant, out: &mut Out, step: Step) {
        match step {
            Step::Stay => {}
            Step::Elect => self.elect(now, out),
            Step::Idle => self.role = Role::Idle,
            Step::Join(to) => self.begin_join(now, out, to),
            Step::TakeOver { party, term, phase } => self.take_over(now, out, party, term, phase),
            Step::Lost(reason) => {
                let Role::Member(m) = std::mem::replace(&mut self.role, Role::Idle) else {
                    return;
                };
                let step = m.lose_host(&mut self.c, out, &reason);
                self.go(now, out, step);
            }
        }
    }

    /// Becomes a member trying to join the target host.
    fn begin_join(&mut self, now: Instant, out: &mut Out, to: Target) {
        let member = Member::join(&mut self.c, now, out, to);
        self.role = Role::Member(Box::new(member));
    }

    /// Hosts `party` in `term` from now on, in `phase` (a successor keeps the party's).
    fn take_over(
        &mut self,
        now: Instant,
        out: &mut Out,
        party: PartyId,
        term: u64,
        phase: PartyPhase,
    ) {
        if let Role::Member(m) = std::mem::replace(&mut self.role, Role::Idle) {
            self.c.close(out, m.stream);
        }
        self.role = Role::Host(Host::new(&self.c, now, party, term, phase));
        out.event(Event::BecameHost { party, term });
        self.c.schedule_tick(now);
    }

    /// Drops the current role; a host sends its guests to `to` (or ends the party).
    fn abandon(&mut self, out: &mut Out, to: Option<Redirect>) {
        match std::mem::replace(&mut self.role, Role::Idle) {
            Role::Idle => {}
            Role::Host(h) => h.dissolve(&mut self.c, out, to),
            Role::Member(m) => m.leave(&mut self.c, out),
        }
    }

    /// Resolves colliding forming parties: follow the winner if ours loses.
    fn elect(&mut self, now: Instant, out: &mut Out) {
        let Some(mine) = self.standing().filter(|s| s.forming).map(|s| s.party) else {
            return;
        };
        let Some(w) = self.c.invitations.winner_over(mine).cloned() else {
            return;
        };
        out.event(Event::LostElection {
            party: mine,
            winner: w.party,
        });
        let (party, host, addr, term) = (w.party, w.host, w.host_addr, w.term);
        self.follow(
            now,
            out,
            Redirect {
                party,
                term,
                host,
                addr,
            },
        );
    }

    /// Gives up our role for another host of a party (ours after a failover we missed,
    /// or the election winner): our guests, if we host, are sent there too.
    fn follow(&mut self, now: Instant, out: &mut Out, to: Redirect) {
        self.abandon(out, Some(to));
        let Redirect {
            party,
            term,
            host,
            addr,
        } = to;
        let succession = None;
        let to = Target {
            party,
            host,
            addr,
            term,
            succession,
        };
        self.begin_join(now, out, to);
    }
}

#[cfg(test)]
mod rejoin_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "invite_tests.rs"]
mod invite_tests;
