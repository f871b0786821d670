//! A guest's side of a party: the welcome, roster updates, watching the host, and finding
//! the successor when the host is lost.

use std::collections::BTreeSet;

use super::{Party, Role, StreamId, Succession};
use crate::core::out::Out;
use crate::core::{Event, Instant, NodeId};
use crate::proto::{Control, PartyId, PartyPhase, Roster};

impl Party {
    pub(super) fn member_tick(&mut self, now: Instant, out: &mut Out) {
        let threshold = self.cfg.phi_threshold;
        let join_timeout = self.cfg.join_timeout;
        let Role::Member(m) = &mut self.role else {
            return;
        };
        if m.roster.is_none() {
            if now - m.since > join_timeout {
                self.host_unreachable(now, out, "no answer");
            }
            return;
        }
        out.send(
            m.stream,
            Control::Heartbeat {
                party: m.party,
                term: m.term,
            },
        );
        if m.detector.phi(now) > threshold {
            self.host_unreachable(now, out, "heartbeats stopped");
        }
    }

    /// Messages only a guest expects, from the host it follows.
    pub(super) fn member_message(
        &mut self,
        now: Instant,
        out: &mut Out,
        stream: StreamId,
        msg: Control,
    ) {
        let me = self.me;
        let Role::Member(m) = &mut self.role else {
            return;
        };
        if m.stream != stream {
            return;
        }
        match msg {
            Control::Welcome(roster) | Control::Roster(roster) => {
                // A welcome is authoritative whatever term we expected; a roster update
                // from an older term is a leftover.
                let welcome = m.roster.is_none();
                if roster.party != m.party || (!welcome && roster.term < m.term) {
                    out.counters.stale_term += 1;
                    return;
                }
                if welcome {
                    out.event(Event::Joined {
                        party: m.party,
                        host: roster.host.id,
                        term: roster.term,
                    });
                }
                m.term = roster.term;
                m.host = roster.host.id;
                m.succession = None;
                m.detector.heartbeat(now);
                let mut roster = roster;
                // The host does not know its own address as we see it.
                roster.host.addr = m.host_addr;
                m.roster = Some(roster);
                // Electing among forming parties may now apply to us.
                self.elect(now, out);
            }
            Control::Refused { reason, .. } if m.roster.is_none() => {
                self.host_unreachable(now, out, &reason);
            }
            Control::Refused { .. } => {
                // Our host is alive (it just wrote to us) but dropped us, most likely
                // because our heartbeats were late: join it again rather than fail over,
                // which would make a slow guest the successor of a healthy host.
                let (party, host, addr, term) = (m.party, m.host, m.host_addr, m.term);
                let stream = m.stream;
                self.close(out, stream);
                self.begin_join(now, out, party, host, addr, term, None);
            }
            Control::Redirect { party, host, .. } if host == me => {
                // Our host followed a stale invitation of a party we hosted and ended:
                // there is nothing to join.
                let stream = m.stream;
                self.role = Role::Idle;
                self.close(out, stream);
                out.event(Event::JoinFailed {
                    party,
                    reason: "redirected to a party this box no longer hosts".into(),
                });
            }
            Control::Redirect {
                party,
                term,
                host,
                addr,
            } => {
                let stream = m.stream;
                self.close(out, stream);
                out.event(Event::Redirected { party, host });
                self.begin_join(now, out, party, host, addr, term, None);
            }
            Control::End { party, .. } if party == m.party => {
                let stream = m.stream;
                self.role = Role::Idle;
                self.close(out, stream);
                out.event(Event::Ended { party });
            }
            Control::Answer {
                id,
                accepted,
                reason,
                ..
            } => out.event(Event::RequestAnswered {
                id,
                accepted,
                reason,
            }),
            _ => out.counters.unexpected_control += 1,
        }
    }

    /// The host (or the successor we tried) cannot be reached: find the next host, or
    /// give up if we never got in.
    pub(super) fn host_unreachable(&mut self, now: Instant, out: &mut Out, reason: &str) {
        let Role::Member(m) = std::mem::replace(&mut self.role, Role::Idle) else {
            return;
        };
        self.close(out, m.stream);
        let succession = match (m.roster, m.succession) {
            (Some(roster), _) => {
                out.event(Event::HostLost {
                    party: m.party,
                    host: m.host,
                });
                Succession {
                    base: roster,
                    suspects: BTreeSet::from([m.host]),
                }
            }
            (None, Some(mut s)) => {
                s.suspects.insert(m.host);
                s
            }
            (None, None) => {
                out.event(Event::JoinFailed {
                    party: m.party,
                    reason: reason.to_owned(),
                });
                return;
            }
        };
        self.succeed(now, out, succession);
    }

    /// Joins (or becomes) the first live guest in slot order of the last roster.
    fn succeed(&mut self, now: Instant, out: &mut Out, s: Succession) {
        let base = &s.base;
        // A box that holds the current song comes first, so the music goes on from the new
        // host too; then join order. Every guest holds the same roster and schedule, so
        // all pick the same box.
        let lacks = |g: &crate::proto::MemberInfo| {
            self.current_song.is_some_and(|i| g.missing.contains(&i))
        };
        let next = base
            .members
            .iter()
            .filter(|g| !s.suspects.contains(&g.id))
            .min_by_key(|g| (lacks(g), g.slot))
            .cloned();
        let Some(next) = next else {
            out.event(Event::JoinFailed {
                party: base.party,
                reason: "every member of the party is gone".into(),
            });
            return;
        };
        let term = successor_term(base, next.slot, next.id);
        if next.id == self.me {
            out.event(Event::Succeeded {
                party: base.party,
                term,
            });
            self.take_over(now, out, base.party, term, base.phase);
        } else {
            let party = base.party;
            self.begin_join(now, out, party, next.id, next.addr, term, Some(s));
        }
    }

    /// If a join for `party` at `term` names us as the successor, the phase to keep.
    pub(super) fn designated_for(&self, party: PartyId, term: u64) -> Option<PartyPhase> {
        let Role::Member(m) = &self.role else {
            return None;
        };
        if m.party != party {
            return None;
        }
        let base = m
            .roster
            .as_ref()
            .or(m.succession.as_ref().map(|s| &s.base))?;
        let mine = base.members.iter().find(|g| g.id == self.me)?;
        (successor_term(base, mine.slot, self.me) == term && term > base.term).then_some(base.phase)
    }
}

/// The term the guest `id` in `slot` hosts if the host of `base` is lost: the generation
/// rises by one plus the slot (so successors in slot order never share a generation
/// within a roster), and the term names its host (so two sides of a partition never
/// share a term either).
fn successor_term(base: &Roster, slot: u32, id: NodeId) -> u64 {
    let generation = super::generation(base.term)
        .saturating_add(1)
        .saturating_add(slot);
    super::term_for(generation, id)
}
