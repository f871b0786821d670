//! Source and chunk selection of the [`Swarm`]: who may be asked, how many hold each
//! chunk, which peer serves a chunk, and the endgame's second requests.

use super::{Peer, Swarm, Wanted, FLAKY_AFTER};
use crate::core::transfer::picker::mix;
use crate::core::transfer::Fetch;
use crate::core::{Instant, NodeId};

impl Swarm {
    /// Whether `peer` may serve `w` at all.
    fn may_ask(&self, peer: NodeId, w: &Wanted) -> bool {
        (self.config.swarming || peer == w.origin) && !self.struck_out(peer)
    }

    /// Per chunk of `w`, how many askable peers hold it.
    pub(super) fn holders(&self, w: &Wanted) -> Vec<u16> {
        let mut n = vec![0u16; w.count as usize];
        for (&id, p) in &self.peers {
            let Some(have) = p.haves.get(&w.song).filter(|_| self.may_ask(id, w)) else {
                continue;
            };
            for (i, slot) in n.iter_mut().enumerate() {
                if have.contains(i as u32) {
                    *slot = slot.saturating_add(1);
                }
            }
        }
        n
    }

    /// The peer to ask for `chunk`: it holds it, has a free slot, is not banned for it and
    /// was not already asked; non-origin peers first when swarming (to spare the origin's
    /// uplink), then responsive ones, then the least loaded.
    pub(super) fn choose_source(&self, w: &Wanted, chunk: u32) -> Option<NodeId> {
        self.peers
            .iter()
            .filter(|&(&id, p)| {
                self.may_ask(id, w)
                    && p.haves.get(&w.song).is_some_and(|h| h.contains(chunk))
                    && !self.banned.contains(&(w.song, chunk, id))
                    && !self
                        .requests
                        .iter()
                        .any(|r| r.peer == id && r.song == w.song && r.chunk == chunk)
                    && self.load(id) < self.limit(id, p, w)
            })
            .min_by_key(|&(&id, p)| {
                (
                    self.config.swarming && id == w.origin,
                    p.timeouts_in_a_row > 0,
                    self.load(id),
                    mix(self.config.seed ^ id.0),
                )
            })
            .map(|(&id, _)| id)
    }

    /// Whether any peer that may serve `w` has a free request slot.
    pub(super) fn has_free_source(&self, w: &Wanted) -> bool {
        self.peers
            .iter()
            .any(|(&id, p)| self.may_ask(id, w) && self.load(id) < self.limit(id, p, w))
    }

    fn load(&self, peer: NodeId) -> usize {
        self.requests.iter().filter(|r| r.peer == peer).count()
    }

    fn limit(&self, id: NodeId, p: &Peer, w: &Wanted) -> usize {
        if p.timeouts_in_a_row >= FLAKY_AFTER {
            1
        } else if self.config.swarming
            && id == w.origin
            && self.peers.keys().any(|&other| other != w.origin)
        {
            // Only while other boxes can pass copies on: alone with the origin, a box
            // fetches from it at full pipeline depth.
            self.config
                .origin_per_peer
                .clamp(1, self.config.per_peer.max(1))
        } else {
            self.config.per_peer.max(1)
        }
    }

    /// Every missing chunk of `w` is in flight: ask a second peer for the ones asked
    /// only once, oldest first.
    pub(super) fn endgame(&mut self, w: &Wanted, deadline: Instant, out: &mut Vec<Fetch>) {
        let Some(local) = self.local.get(&w.song) else {
            return;
        };
        let holders = self.holders(w);
        let stalled = local
            .missing()
            .any(|c| holders.get(c as usize).is_some_and(|&n| n > 0) && !self.in_flight(w.song, c));
        if stalled {
            return;
        }
        let once: Vec<u32> = self
            .requests
            .iter()
            .filter(|r| r.song == w.song)
            .map(|r| r.chunk)
            .filter(|&c| {
                self.requests
                    .iter()
                    .filter(|r| r.song == w.song && r.chunk == c)
                    .count()
                    == 1
            })
            .collect();
        for chunk in once {
            if self.requests.len() >= self.config.max_in_flight {
                return;
            }
            // The origin's uplink is the party's bottleneck: no second copies from it
            // while other boxes can pass them on.
            let spare_origin = |p: &NodeId| {
                *p != w.origin
                    || !self.config.swarming
                    || !self.peers.keys().any(|&o| o != w.origin)
            };
            if let Some(peer) = self.choose_source(w, chunk).filter(spare_origin) {
                out.push(self.send(peer, w.song, chunk, deadline));
            }
        }
    }
}
