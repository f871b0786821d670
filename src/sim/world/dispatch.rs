//! How one event runs: a timer fires or a datagram arrives, the node's output is put on
//! the simulated network (datagrams and stream actions), its events are logged, its timer
//! is re-armed and its invariants are checked.

use std::sync::Arc;

use super::{node_addr, Pending, Sim, SimEvent};
use crate::core::{Destination, Event, NodeId, Transmit, Via};
use crate::sim::invariants::{self, Breach, Known, Violation};
use crate::sim::trace::{TraceKind, TraceRecord};

impl Sim {
    pub(super) fn fire_timer(&mut self, i: usize) -> Result<(), Violation> {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(i) else {
            return Ok(());
        };
        slot.timer_at = None;
        let Some(node) = slot.node.as_mut() else {
            return Ok(());
        };
        node.handle_timeout(now);
        self.stats.timeouts += 1;
        self.record(i, TraceKind::Timeout, &[]);
        self.after_step(i, true)
    }

    pub(super) fn deliver(
        &mut self,
        to: usize,
        from: usize,
        via: Via,
        payload: &[u8],
    ) -> Result<(), Violation> {
        let now = self.now;
        let from_addr = self
            .slots
            .get(from)
            .map_or_else(|| node_addr(from), |s| s.addr);
        // A cut made while the datagram was in flight stops it too: a partition hides
        // the sides from each other from the moment it starts.
        if self.network.is_blocked(from, to) {
            self.stats.blocked += 1;
            return Ok(());
        }
        let Some(node) = self.slots.get_mut(to).and_then(|s| s.node.as_mut()) else {
            self.stats.dropped_at_crashed += 1;
            self.record(to, TraceKind::DropAtCrashed { from: from_addr }, &[]);
            return Ok(());
        };
        node.handle_datagram(now, from_addr, via, payload);
        self.stats.delivered += 1;
        let kind = TraceKind::Deliver {
            from: from_addr,
            via,
            len: payload.len(),
        };
        self.record(to, kind, payload);
        self.after_step(to, false)
    }

    pub(super) fn record(&mut self, node: usize, kind: TraceKind, payload: &[u8]) {
        let at = self.now;
        self.trace.push(TraceRecord { at, node, kind }, payload);
    }

    /// Sends what node `i` queued, collects its events, re-arms its timer and checks it.
    pub(super) fn after_step(&mut self, i: usize, after_timeout: bool) -> Result<(), Violation> {
        let mut out = Vec::new();
        let mut actions = Vec::new();
        let mut malformed = None;
        let at = self.now;
        if let Some(node) = self.slots.get_mut(i).and_then(|s| s.node.as_mut()) {
            while let Some(t) = node.poll_transmit() {
                out.push(t);
            }
            while let Some(a) = node.poll_stream_action() {
                actions.push(a);
            }
            while let Some(event) = node.poll_event() {
                self.events.push(SimEvent {
                    at,
                    node: i,
                    event: event.clone(),
                });
                // Not an exhaustive match: events added to the core later (party,
                // election) do not concern the simulator's bookkeeping.
                if matches!(
                    event,
                    Event::NeighbourUp { .. } | Event::NeighbourDown { .. }
                ) {
                    tracing::trace!(node = i, ?event, "sim: event");
                    self.topology_version += 1;
                } else if let Event::Malformed { from, error } = event {
                    malformed = Some(Breach::Malformed {
                        from: from.to_string(),
                        error: error.to_string(),
                    });
                }
            }
        }
        for t in out {
            self.send(i, t);
        }
        for a in actions {
            self.stream_action(i, a)?;
        }
        self.schedule_timer(i);
        if let Some(breach) = malformed {
            return Err(self.violation(i, breach));
        }
        self.check_node(i, after_timeout)?;
        self.check_party(i)
    }

    pub(super) fn schedule_timer(&mut self, i: usize) {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let Some(node) = slot.node.as_ref() else {
            return;
        };
        let at = node.poll_timeout().max(now);
        if slot.timer_at == Some(at) {
            return;
        }
        slot.timer_generation += 1;
        slot.timer_at = Some(at);
        let generation = slot.timer_generation;
        self.queue.push(
            at,
            Pending::Timer {
                node: i,
                generation,
            },
        );
    }

    pub(super) fn send(&mut self, from: usize, transmit: Transmit) {
        self.stats.transmits += 1;
        let payload: Arc<[u8]> = transmit.payload.into();
        let targets = match transmit.destination {
            Destination::Multicast => self
                .network
                .multicast_targets(from)
                .into_iter()
                .map(|to| (to, Via::Multicast))
                .collect(),
            Destination::Unicast(addr) => match self.addrs.get(&addr) {
                Some(&to) if self.network.unicast_reachable(from, to) => vec![(to, Via::Unicast)],
                _ => {
                    self.stats.unroutable += 1;
                    Vec::new()
                }
            },
        };
        for (to, via) in targets {
            if self.network.is_blocked(from, to) {
                self.stats.blocked += 1;
                continue;
            }
            let delays = self.network.transit(&mut self.rng, from, to);
            match delays.len() {
                0 => self.stats.lost += 1,
                1 => {}
                _ => self.stats.duplicated += 1,
            }
            for d in delays {
                let at = self.now + d;
                self.stats.scheduled += 1;
                if let Some(slot) = self.slots.get_mut(from) {
                    slot.last_arrival = slot.last_arrival.max(at);
                }
                let payload = Arc::clone(&payload);
                self.queue.push(
                    at,
                    Pending::Deliver {
                        to,
                        from,
                        via,
                        payload,
                    },
                );
            }
        }
    }

    pub(super) fn violation(&self, i: usize, breach: Breach) -> Violation {
        Violation {
            seed: self.seed,
            at: self.now,
            node: i,
            id: self.id(i).unwrap_or(NodeId(0)),
            breach,
        }
    }

    pub(super) fn check_node(&self, i: usize, after_timeout: bool) -> Result<(), Violation> {
        let Some(node) = self.node(i) else {
            return Ok(());
        };
        let known = |id: NodeId| match self.ids.get(&id).and_then(|&j| self.slots.get(j)) {
            None => Known::Unknown,
            Some(s) if s.node.is_some() => Known::Live,
            Some(s) => Known::Crashed {
                last_arrival: s.last_arrival,
            },
        };
        invariants::check(node, self.now, after_timeout, known).map_err(|b| self.violation(i, b))
    }
}
