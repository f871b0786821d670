//! Parties in the simulation: the commands tests give boxes (host, join, leave, end,
//! requests), the event log, and the party invariants, both those checked after every step
//! and the eventual ones checked after a quiet period.

use std::collections::BTreeMap;

use super::{Sim, SimEvent};
use crate::core::{
    CommandError, Event, Node, PartyRequest, PartyRole, PartyState, PartyView, RequestOutcome,
};
use crate::proto::PartyId;
use crate::sim::invariants::{Breach, Violation};
use crate::sim::trace::TraceKind;

/// Why a command given to a simulated box did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandFailed {
    #[error("box {0} is not running")]
    Down(usize),
    /// The node refused the command.
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// Running the command broke an invariant.
    #[error(transparent)]
    Violation(#[from] Violation),
}

impl Sim {
    /// Runs `f` on box `i`'s node now, then sends its output and checks it.
    fn command<T>(
        &mut self,
        i: usize,
        name: &'static str,
        f: impl FnOnce(&mut Node, crate::core::Instant) -> Result<T, CommandError>,
    ) -> Result<T, CommandFailed> {
        let now = self.now;
        let node = self
            .slots
            .get_mut(i)
            .and_then(|s| s.node.as_mut())
            .ok_or(CommandFailed::Down(i))?;
        let result = f(node, now);
        self.record(i, TraceKind::Command { name }, &[]);
        self.after_step(i, false)?;
        Ok(result?)
    }

    /// The songs box `i` holds (what its library would give it).
    pub fn set_pool(&mut self, i: usize, pool: Vec<crate::core::PoolSong>) {
        self.set_playlist(i, pool, None);
    }

    /// The songs box `i` offers when it hosts, from the playlist `name` (what
    /// `chorus ctl host --playlist` gives it; `None`: its whole library).
    pub fn set_playlist(&mut self, i: usize, pool: Vec<crate::core::PoolSong>, name: Option<&str>) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.pool.clone_from(&pool);
            slot.playlist = name.map(str::to_owned);
            if let Some(node) = slot.node.as_mut() {
                node.set_playlist(pool, slot.playlist.clone());
            }
        }
    }

    /// Songs box `i` fetched into its cache (as its transfer manager would report them).
    pub fn set_held(&mut self, i: usize, songs: &[crate::core::SongRef]) {
        let now = self.now;
        if let Some(slot) = self.slots.get_mut(i) {
            slot.held = songs.to_vec();
            if let Some(node) = slot.node.as_mut() {
                node.set_held(now, songs.iter().copied().collect());
            }
        }
    }

    /// HOST on box `i`.
    pub fn host(&mut self, i: usize) -> Result<PartyId, CommandFailed> {
        self.command(i, "host", |n, now| n.host(now))
    }

    /// JOIN on box `i`: the given invitation, or the preferred one.
    pub fn join(&mut self, i: usize, party: Option<PartyId>) -> Result<PartyId, CommandFailed> {
        self.command(i, "join", |n, now| n.join(now, party))
    }

    /// LEAVE on box `i` (a host ends its party).
    pub fn leave(&mut self, i: usize) -> Result<PartyId, CommandFailed> {
        self.command(i, "leave", |n, now| n.leave(now))
    }

    /// END on box `i`, which must host.
    pub fn end(&mut self, i: usize) -> Result<PartyId, CommandFailed> {
        self.command(i, "end", |n, now| n.end(now))
    }

    /// A skip or queue request from box `i`.
    pub fn request(
        &mut self,
        i: usize,
        kind: PartyRequest,
    ) -> Result<RequestOutcome, CommandFailed> {
        self.command(i, "request", |n, now| n.request(now, kind))
    }

    /// Box `i`'s party as its status shows it.
    pub fn party(&self, i: usize) -> Option<PartyView> {
        self.node(i).and_then(Node::party)
    }

    /// Every event any node reported, in order.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    /// Forgets the events reported so far: a run of hours keeps only what it reads.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// The events box `i` reported (across restarts).
    pub fn events_of(&self, i: usize) -> impl Iterator<Item = &Event> + '_ {
        self.events
            .iter()
            .filter(move |e| e.node == i)
            .map(|e| &e.event)
    }

    /// Running boxes that host a party, with their views.
    pub fn hosts(&self) -> Vec<(usize, PartyView)> {
        (0..self.len())
            .filter_map(|i| self.party(i).map(|v| (i, v)))
            .filter(|(_, v)| v.role == PartyRole::Host)
            .collect()
    }

    /// The per-step party rules for box `i`: a member never follows itself and, once
    /// welcomed, is in its own list; and a term names one host (see [`Sim::check_twins`]).
    pub(super) fn check_party(&mut self, i: usize) -> Result<(), Violation> {
        let Some(node) = self.node(i) else {
            return Ok(());
        };
        let me = node.id();
        let view = node.party();
        match &view {
            Some(v) if v.role == PartyRole::Member && v.host == me => {
                Err(self.violation(i, Breach::FollowsItself { party: v.id }))
            }
            Some(v)
                if v.role == PartyRole::Member
                    && matches!(v.state, PartyState::Forming | PartyState::Started)
                    && !v.members.iter().any(|m| m.id == me) =>
            {
                Err(self.violation(i, Breach::NotInOwnRoster { party: v.id }))
            }
            _ => self.check_twins(i, view.filter(|v| v.role == PartyRole::Host)),
        }
    }

    /// Two live boxes hosting the same party in the same term: never allowed. A term
    /// names its host (see `core::party::term_for`), so even the two sides of a partition
    /// that both fail over host different terms. Counted, then reported.
    fn check_twins(&mut self, i: usize, view: Option<PartyView>) -> Result<(), Violation> {
        let Some(v) = view else { return Ok(()) };
        let twin = (0..self.len()).filter(|&j| j != i).find(|&j| {
            self.party(j)
                .is_some_and(|w| w.role == PartyRole::Host && w.id == v.id && w.term == v.term)
        });
        match twin {
            Some(other) => {
                self.stats.term_twins += 1;
                let (party, term) = (v.id, v.term);
                Err(self.violation(i, Breach::TwoHosts { party, term, other }))
            }
            None => Ok(()),
        }
    }

    /// The eventual rules, for after a quiet period without faults: one live host per
    /// party; every live member settled under a live host of its party and term, with the
    /// same members list; every guest a host lists is its live member.
    pub fn check_settled(&self) -> Result<(), Violation> {
        let mut by_party: BTreeMap<PartyId, Vec<usize>> = BTreeMap::new();
        for (i, v) in self.hosts() {
            by_party.entry(v.id).or_default().push(i);
            for guest in v.members.iter().skip(1) {
                let member = self.index_of(guest.id).and_then(|g| self.party(g));
                let ok = member.is_some_and(|m| {
                    m.role == PartyRole::Member && m.id == v.id && Some(m.host) == self.id(i)
                });
                if !ok {
                    let breach = Breach::GhostGuest {
                        party: v.id,
                        guest: guest.id,
                    };
                    return Err(self.violation(i, breach));
                }
            }
        }
        if let Some((party, hosts)) = by_party.into_iter().find(|(_, h)| h.len() > 1) {
            let first = hosts.first().copied().unwrap_or(0);
            return Err(self.violation(first, Breach::SplitParty { party, hosts }));
        }
        (0..self.len()).try_for_each(|i| self.check_member_settled(i))
    }

    fn check_member_settled(&self, i: usize) -> Result<(), Violation> {
        let Some(v) = self.party(i).filter(|v| v.role == PartyRole::Member) else {
            return Ok(());
        };
        let unsettled = |detail: String| {
            self.violation(
                i,
                Breach::Unsettled {
                    party: v.id,
                    detail,
                },
            )
        };
        if !matches!(v.state, PartyState::Forming | PartyState::Started) {
            return Err(unsettled(format!("still {:?}", v.state)));
        }
        let host = self.index_of(v.host);
        let Some((h, hv)) = host.and_then(|h| self.party(h).map(|hv| (h, hv))) else {
            return Err(unsettled(format!("its host {} is down or idle", v.host)));
        };
        if hv.role != PartyRole::Host || hv.id != v.id || hv.term != v.term {
            return Err(unsettled(format!(
                "its host {} is {:?} of {} term {} (member thinks term {})",
                v.host, hv.role, hv.id, hv.term, v.term
            )));
        }
        let ids = |view: &PartyView| view.members.iter().map(|m| m.id).collect::<Vec<_>>();
        if ids(&v) != ids(&hv) || v.state != hv.state {
            let breach = Breach::ViewsDiffer {
                host: h,
                member: ids(&v),
                hosts: ids(&hv),
                member_state: v.state,
                host_state: hv.state,
            };
            return Err(self.violation(i, breach));
        }
        Ok(())
    }
}
