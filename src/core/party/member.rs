//! A guest's side of a party: joining, the welcome and roster updates, watching the host,
//! asking it for things, and finding the successor when the host is lost.

use std::net::SocketAddr;

use super::common::Common;
use super::phi::PhiDetector;
use super::succession::{self, Succession};
use super::{CommandError, Step, StreamId};
use crate::core::out::Out;
use crate::core::{Event, Instant, NodeId};
use crate::proto::{Control, PartyId, PartyPhase, RequestKind, Roster};

/// A box in someone else's party, or trying to get into one.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) party: PartyId,
    /// The host we follow, or are trying to join.
    pub(super) host: NodeId,
    pub(super) host_addr: SocketAddr,
    pub(super) term: u64,
    pub(super) stream: StreamId,
    /// The host's roster once welcomed; None while joining.
    pub(super) roster: Option<Roster>,
    /// When the current join attempt began.
    since: Instant,
    detector: PhiDetector,
    /// Set while looking for a successor after losing the host.
    pub(super) succession: Option<Succession>,
}

/// A host to join: where, under which term, and the succession that led to it, if any.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) party: PartyId,
    pub(super) host: NodeId,
    pub(super) addr: SocketAddr,
    pub(super) term: u64,
    pub(super) succession: Option<Succession>,
}

impl Member {
    /// Opens a stream to the target host and asks to join its party.
    pub(super) fn join(c: &mut Common, now: Instant, out: &mut Out, to: Target) -> Self {
        let stream = c.connect_and_join(out, to.addr, to.party, to.term);
        // Our own party is not an invitation to us.
        c.invitations.remove(to.party);
        c.schedule_tick(now + c.cfg.heartbeat_interval);
        Member {
            party: to.party,
            host: to.host,
            host_addr: to.addr,
            term: to.term,
            stream,
            roster: None,
            since: now,
            detector: c.cfg.detector(now),
            succession: to.succession,
        }
    }

    /// The stream to the host, once it welcomed us.
    pub(super) fn welcomed_stream(&self) -> Option<StreamId> {
        self.roster.as_ref().map(|_| self.stream)
    }

    /// The host's clock-sync address, once welcomed: its IP with the roster's UDP port.
    pub(super) fn time_addr(&self) -> Option<SocketAddr> {
        (self.roster.as_ref()).map(|r| SocketAddr::new(self.host_addr.ip(), r.udp_port))
    }

    /// Whether our party may still lose an election: forming, and not failing over.
    pub(super) fn forming(&self) -> bool {
        self.succession.is_none()
            && (self.roster.as_ref()).is_none_or(|r| r.phase == PartyPhase::Forming)
    }

    /// If a join for `party` at `term` names `me` as the successor, the phase to keep.
    pub(super) fn designated(&self, me: NodeId, party: PartyId, term: u64) -> Option<PartyPhase> {
        if self.party != party {
            return None;
        }
        let base = (self.roster.as_ref()).or(self.succession.as_ref().map(|s| &s.base))?;
        succession::designated(base, me, term)
    }

    /// Periodic work: heartbeat the host and watch it (or the join attempt).
    pub(super) fn tick(&mut self, c: &Common, now: Instant, out: &mut Out) -> Step {
        if self.roster.is_none() {
            if now - self.since > c.cfg.join_timeout {
                return Step::Lost("no answer".into());
            }
            return Step::Stay;
        }
        let (party, term) = (self.party, self.term);
        out.send(self.stream, Control::Heartbeat { party, term });
        if self.detector.phi(now) > c.cfg.phi_threshold {
            return Step::Lost("heartbeats stopped".into());
        }
        Step::Stay
    }

    pub(super) fn heartbeat(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
        term: u64,
    ) {
        if party != self.party || stream != self.stream {
            return;
        }
        if term < self.term {
            out.counters.stale_term += 1;
            return;
        }
        self.detector.heartbeat(now);
    }

    /// Sends a request to the host; its id comes back in `Event::RequestAnswered`.
    pub(super) fn ask(
        &self,
        c: &mut Common,
        out: &mut Out,
        kind: RequestKind,
    ) -> Result<u32, CommandError> {
        if self.roster.is_none() {
            return Err(CommandError::NotJoinedYet);
        }
        c.next_request = c.next_request.wrapping_add(1);
        let id = c.next_request;
        let party = self.party;
        out.send(self.stream, Control::Request { party, id, kind });
        Ok(id)
    }

    /// Someone asks us to let them into our party: we are no host, but once welcomed we
    /// know who is.
    pub(super) fn answer_join(
        &self,
        c: &mut Common,
        out: &mut Out,
        stream: StreamId,
        party: PartyId,
    ) {
        let Some(r) = &self.roster else {
            return c.refuse(out, stream, party, "this box is not the host");
        };
        let msg = Control::Redirect {
            party,
            term: r.term,
            host: self.host,
            addr: self.host_addr,
        };
        out.send(stream, msg);
        c.close(out, stream);
    }

    /// Messages only a guest expects, from the host it follows (on `self.stream`).
    pub(super) fn on_message(
        &mut self,
        c: &mut Common,
        now: Instant,
        out: &mut Out,
        msg: Control,
    ) -> Step {
        let (stream, me) = (self.stream, c.me);
        match msg {
            // The host's address may come from a relay (it fills in the IP of an
            // invitation): only the box that proved the host's id may welcome us.
            Control::Welcome(_) if c.proven(stream) != Some(self.host) => {
                out.counters.unexpected_control += 1;
                Step::Lost("the box at the host's address did not prove the host's id".into())
            }
            Control::Welcome(roster) | Control::Roster(roster) => self.on_roster(now, out, roster),
            Control::Refused { reason, .. } if self.roster.is_none() => Step::Lost(reason),
            Control::Refused { .. } => {
                // Our host is alive (it just wrote to us) but dropped us, most likely
                // because our heartbeats were late: join it again rather than fail over,
                // which would make a slow guest the successor of a healthy host.
                c.close(out, stream);
                Step::Join(Target {
                    party: self.party,
                    host: self.host,
                    addr: self.host_addr,
                    term: self.term,
                    succession: None,
                })
            }
            Control::Redirect { party, host, .. } if host == me => {
                // Our host followed a stale invitation of a party we hosted and ended:
                // there is nothing to join.
                c.close(out, stream);
                let reason = "redirected to a party this box no longer hosts".into();
                out.event(Event::JoinFailed { party, reason });
                Step::Idle
            }
            Control::Redirect {
                party,
                term,
                host,
                addr,
            } => {
                c.close(out, stream);
                out.event(Event::Redirected { party, host });
                let succession = None;
                Step::Join(Target {
                    party,
                    host,
                    addr,
                    term,
                    succession,
                })
            }
            Control::End { party, .. } if party == self.party => {
                c.close(out, stream);
                out.event(Event::Ended { party });
                Step::Idle
            }
            Control::Answer {
                id,
                accepted,
                reason,
                ..
            } => {
                out.event(Event::RequestAnswered {
                    id,
                    accepted,
                    reason,
                });
                Step::Stay
            }
            _ => {
                out.counters.unexpected_control += 1;
                Step::Stay
            }
        }
    }

    /// A welcome or a roster update from the host.
    fn on_roster(&mut self, now: Instant, out: &mut Out, mut roster: Roster) -> Step {
        // A welcome is authoritative whatever term we expected; a roster update from an
        // older term is a leftover.
        let welcome = self.roster.is_none();
        if roster.party != self.party || (!welcome && roster.term < self.term) {
            out.counters.stale_term += 1;
            return Step::Stay;
        }
        if welcome {
            out.event(Event::Joined {
                party: self.party,
                host: roster.host.id,
                term: roster.term,
            });
        }
        self.term = roster.term;
        self.host = roster.host.id;
        self.succession = None;
        self.detector.heartbeat(now);
        // The host does not know its own address as we see it.
        roster.host.addr = self.host_addr;
        self.roster = Some(roster);
        // Electing among forming parties may now apply to us.
        Step::Elect
    }

    /// Says goodbye to the host and closes the stream.
    pub(super) fn leave(self, c: &mut Common, out: &mut Out) {
        out.send(self.stream, Control::Leave { party: self.party });
        c.close(out, self.stream);
    }

    /// The host (or the successor we tried) cannot be reached: find the next host, or
    /// give up if we never got in.
    pub(super) fn lose_host(self, c: &mut Common, out: &mut Out, reason: &str) -> Step {
        c.close(out, self.stream);
        let succession = match (self.roster, self.succession) {
            (Some(roster), _) => {
                out.event(Event::HostLost {
                    party: self.party,
                    host: self.host,
                });
                Succession::after_losing(roster, self.host)
            }
            (None, Some(mut s)) => {
                s.suspects.insert(self.host);
                s
            }
            (None, None) => {
                let reason = reason.to_owned();
                out.event(Event::JoinFailed {
                    party: self.party,
                    reason,
                });
                return Step::Idle;
            }
        };
        succeed(c, out, succession)
    }
}

/// Joins (or becomes) the next host the successor rule picks from the last roster.
fn succeed(c: &Common, out: &mut Out, s: Succession) -> Step {
    let party = s.base.party;
    let Some((next, term)) = s.next(c.current_song) else {
        let reason = "every member of the party is gone".into();
        out.event(Event::JoinFailed { party, reason });
        return Step::Idle;
    };
    if next.id == c.me {
        out.event(Event::Succeeded { party, term });
        let phase = s.base.phase;
        return Step::TakeOver { party, term, phase };
    }
    Step::Join(Target {
        party,
        host: next.id,
        addr: next.addr,
        term,
        succession: Some(s),
    })
}
