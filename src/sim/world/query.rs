//! Read-only views of a [`Sim`] and the network controls tests use: who sees whom,
//! node lookup, partitions, the trace.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::{Sim, SimStats};
use crate::core::{Instant, Node, NodeId};
use crate::sim::network::{LinkModel, Network};
use crate::sim::trace::TraceRecord;

impl Sim {
    /// The seed this run was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many boxes exist, running or crashed.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Box `i`'s node, if it is running.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.slots.get(i).and_then(|s| s.node.as_ref())
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.node(i).is_some()
    }

    /// Box `i`'s id (kept across crash and restart).
    pub fn id(&self, i: usize) -> Option<NodeId> {
        self.slots.get(i).map(|s| s.config.id)
    }

    /// Box `i`'s unicast address.
    pub fn addr(&self, i: usize) -> Option<SocketAddr> {
        self.slots.get(i).map(|s| s.addr)
    }

    /// The box with this id.
    pub fn index_of(&self, id: NodeId) -> Option<usize> {
        self.ids.get(&id).copied()
    }

    /// The ids box `i` lists as neighbours; empty if it is down.
    pub fn neighbour_ids(&self, i: usize) -> BTreeSet<NodeId> {
        self.node(i)
            .map(|n| n.neighbours().map(|x| x.id).collect())
            .unwrap_or_default()
    }

    /// The ids of the given boxes.
    pub fn ids_of(&self, indices: &[usize]) -> BTreeSet<NodeId> {
        indices.iter().filter_map(|&i| self.id(i)).collect()
    }

    /// Whether every box in `group` lists every other box in `group` (others may be
    /// listed too).
    pub fn all_see_each_other(&self, group: &[usize]) -> bool {
        group.iter().all(|&i| {
            let Some(node) = self.node(i) else {
                return false;
            };
            group
                .iter()
                .filter(|&&j| j != i)
                .all(|&j| self.id(j).is_some_and(|id| node.neighbour(&id).is_some()))
        })
    }

    /// Whether box `i` lists exactly the boxes in `others` and nobody else.
    pub fn sees_exactly(&self, i: usize, others: &[usize]) -> bool {
        let expected: BTreeSet<NodeId> = others
            .iter()
            .filter(|&&j| j != i)
            .filter_map(|&j| self.id(j))
            .collect();
        self.is_up(i) && self.neighbour_ids(i) == expected
    }

    /// Whether every box in `group` lists exactly the rest of `group`: the group is a
    /// complete island.
    pub fn is_island(&self, group: &[usize]) -> bool {
        group.iter().all(|&i| self.sees_exactly(i, group))
    }

    /// Whether any running box still lists box `gone`.
    pub fn anyone_lists(&self, gone: usize) -> bool {
        let Some(id) = self.id(gone) else {
            return false;
        };
        (0..self.len()).any(|i| self.node(i).is_some_and(|n| n.neighbour(&id).is_some()))
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Change links, routes and cuts; takes effect for datagrams sent from now on. Prefer
    /// [`Sim::partition`] and [`Sim::block`] for cuts: they break crossing streams at once
    /// (cuts made here break a stream only when its next message meets them).
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    /// Cuts the network between the groups (see [`Network::partition`]).
    pub fn partition(&mut self, groups: &[&[usize]]) {
        tracing::debug!(at = ?self.now, "sim: partition");
        self.network.partition(groups);
        self.break_cut_streams();
    }

    /// Cuts the link between two boxes, both ways; streams between them break.
    pub fn block(&mut self, a: usize, b: usize) {
        self.network.block(a, b);
        self.break_cut_streams();
    }

    /// Removes every cut (broken streams stay broken).
    pub fn heal(&mut self) {
        tracing::debug!(at = ?self.now, "sim: heal");
        self.network.heal();
    }

    /// Sets the link model used where no per-link override exists.
    pub fn set_default_link(&mut self, link: LinkModel) {
        self.network.set_default_link(link);
    }

    /// A hash of everything delivered and every timer fired so far: equal for two runs
    /// of the same seed, different (almost surely) otherwise.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// How many records the trace holds.
    pub fn trace_len(&self) -> u64 {
        self.trace.len()
    }

    /// The records, if the simulation was built to keep them; empty otherwise.
    pub fn trace_records(&self) -> &[TraceRecord] {
        self.trace.records()
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Datagrams and timers waiting in the queue (including superseded timers).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
