//! The box's party buttons: host, join, leave, end, and requests (skip, play, queue...),
//! each answered at once with what it did or why not.

use rand::Rng;

use super::member::Target;
use super::{term_for, CommandError, Decision, Party, RequestOutcome, Role};
use crate::core::out::Out;
use crate::core::{Event, Instant};
use crate::proto::{PartyId, PartyPhase, RequestKind};

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
        self.c.cfg.rejoin = None;
        let party = PartyId(rng.gen());
        let term = term_for(1, self.c.me);
        self.take_over(now, out, party, term, PartyPhase::Forming);
        Ok(party)
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
        if party != self.c.cfg.rejoin {
            // An explicit choice replaces the memory of the party before a restart.
            self.c.cfg.rejoin = None;
        }
        let inv = match party {
            Some(p) => (self.c.invitations.get(p)).ok_or(CommandError::UnknownInvitation(p))?,
            None => (self.c.invitations.preferred()).ok_or(CommandError::NoInvitation)?,
        };
        let joined = inv.party;
        let to = Target {
            party: inv.party,
            host: inv.host,
            addr: inv.host_addr,
            term: inv.term,
            succession: None,
        };
        self.begin_join(now, out, to);
        Ok(joined)
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
                let party = m.party;
                m.leave(&mut self.c, out);
                out.event(Event::Left { party });
                Ok(party)
            }
        }
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

    /// A skip, play or queue request: decided here if we host (with what the node must
    /// carry out), else sent to the host.
    pub(crate) fn request(
        &mut self,
        out: &mut Out,
        kind: RequestKind,
    ) -> Result<(RequestOutcome, Option<Decision>), CommandError> {
        match &mut self.role {
            Role::Idle => Err(CommandError::NotInParty),
            Role::Host(h) => {
                let verdict = h.decide(&self.c, out, self.c.me, kind, true);
                Ok(match verdict {
                    Ok(decision) => (
                        RequestOutcome::Answered {
                            accepted: true,
                            reason: None,
                        },
                        decision,
                    ),
                    Err(reason) => (
                        RequestOutcome::Answered {
                            accepted: false,
                            reason: Some(reason),
                        },
                        None,
                    ),
                })
            }
            Role::Member(m) => Ok((
                RequestOutcome::Pending(m.ask(&mut self.c, out, kind)?),
                None,
            )),
        }
    }
}
