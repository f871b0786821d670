//! The machine's connections: which boxes to dial, which connections to admit, who is
//! behind each, and the hello timeout. One connection per pair of boxes: the box with the
//! lower id dials.

use std::collections::BTreeMap;

use super::{ConnId, Transfer, TransferAction, REDIAL};
use crate::core::{Instant, NodeId};
use crate::proto::{Bulk, PartyId};

#[derive(Debug)]
struct Conn {
    /// Who is (or, when we dialed, should be) at the other end.
    peer: Option<NodeId>,
    opened: Instant,
}

#[derive(Debug)]
struct Peer {
    conn: ConnId,
    /// Chunk reads in progress for it.
    reads: usize,
}

/// Open connections, connected peers, dials and admissions in progress.
#[derive(Debug, Default)]
pub(super) struct Conns {
    conns: BTreeMap<ConnId, Conn>,
    peers: BTreeMap<NodeId, Peer>,
    /// The last dial of each box, and when.
    dialing: BTreeMap<NodeId, (ConnId, Instant)>,
    /// Connections whose box said hello before our roster listed it.
    waiting: BTreeMap<ConnId, NodeId>,
    next: ConnId,
}

impl Conns {
    fn open(&mut self, now: Instant, peer: Option<NodeId>) -> ConnId {
        self.next += 1;
        self.conns.insert(self.next, Conn { peer, opened: now });
        self.next
    }

    /// Forgets everything; returns the connections to close.
    pub(super) fn clear(&mut self) -> Vec<ConnId> {
        self.peers.clear();
        self.dialing.clear();
        self.waiting.clear();
        std::mem::take(&mut self.conns).into_keys().collect()
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers.keys().copied()
    }

    pub(super) fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The connection of every connected peer.
    pub(super) fn peer_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.peers.values().map(|p| p.conn)
    }

    pub(super) fn conn_of(&self, peer: NodeId) -> Option<ConnId> {
        self.peers.get(&peer).map(|p| p.conn)
    }

    /// The peer on `conn`, if `conn` is its current connection.
    pub(super) fn peer_of(&self, conn: ConnId) -> Option<NodeId> {
        let id = self.conns.get(&conn)?.peer?;
        (self.peers.get(&id)?.conn == conn).then_some(id)
    }

    /// Starts a chunk read for `peer` unless it has `limit` in progress.
    pub(super) fn take_read(&mut self, peer: NodeId, limit: usize) -> bool {
        match self.peers.get_mut(&peer) {
            Some(p) if p.reads < limit => {
                p.reads += 1;
                true
            }
            _ => false,
        }
    }

    pub(super) fn read_done(&mut self, peer: NodeId) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.reads = p.reads.saturating_sub(1);
        }
    }

    /// Removes the connections open longer than `timeout` without a peer.
    pub(super) fn expire_silent(
        &mut self,
        now: Instant,
        timeout: std::time::Duration,
    ) -> Vec<ConnId> {
        let stale: Vec<ConnId> = self
            .conns
            .keys()
            .copied()
            .filter(|&id| self.peer_of(id).is_none())
            .filter(|id| self.conns.get(id).is_some_and(|c| now - c.opened > timeout))
            .collect();
        for id in &stale {
            self.waiting.remove(id);
            self.conns.remove(id);
        }
        stale
    }
}

impl Transfer {
    /// A box connected to our listener: its connection number, or `None` to drop it (no
    /// party, or too many connections already).
    pub fn accept(&mut self, now: Instant) -> Option<ConnId> {
        // Two connections per party box at most (one each way while a pair sorts itself
        // out): a stranger opening sockets without a hello cannot pile up tasks.
        let limit = 2 * self.view.as_ref()?.peers.len() + 4;
        if self.conns.conns.len() >= limit {
            tracing::debug!(
                conns = self.conns.conns.len(),
                "bulk connection refused: too many"
            );
            return None;
        }
        Some(self.conns.open(now, None))
    }

    /// The box on `conn` introduced itself as `id` of `party`.
    pub fn hello(&mut self, now: Instant, conn: ConnId, id: NodeId, party: PartyId) {
        let our_party = self.view.as_ref().is_some_and(|v| v.party == party);
        let known = self.listed(id);
        let expected = self
            .conns
            .conns
            .get(&conn)
            .is_some_and(|c| c.peer.is_none_or(|p| p == id));
        if !our_party || !expected || id == self.config.me {
            if self.conns.conns.remove(&conn).is_some() {
                self.push(TransferAction::Close { conn });
            }
            return;
        }
        if !known {
            // A box that joined a moment ago: our roster will list it shortly. Until then
            // (or until the hello timeout) the connection waits.
            self.conns.waiting.insert(conn, id);
            return;
        }
        self.register(now, conn, id);
        self.pump(now);
    }

    /// Connection `conn` is gone (closed by either side, or its dial failed).
    pub fn closed(&mut self, now: Instant, conn: ConnId) {
        self.conns.waiting.remove(&conn);
        let Some(c) = self.conns.conns.remove(&conn) else {
            return;
        };
        if let Some(id) = c.peer {
            if self.conns.peers.get(&id).is_some_and(|p| p.conn == conn) {
                self.conns.peers.remove(&id);
                self.swarm.peer_gone(id);
                tracing::debug!(peer = %id, "bulk connection closed");
            }
        }
        self.pump(now);
    }

    /// A [`TransferAction::Send`] could not be queued (the peer is hopelessly slow): a
    /// request is asked elsewhere.
    pub fn undeliverable(&mut self, conn: ConnId, msg: &Bulk) {
        if let (Some(peer), Bulk::Request { song, chunk }) = (self.conns.peer_of(conn), msg) {
            self.swarm.chunk_refused(peer, *song, *chunk);
        }
    }

    fn listed(&self, id: NodeId) -> bool {
        let view = self.view.as_ref();
        view.is_some_and(|v| v.peers.iter().any(|(p, _)| *p == id))
    }

    /// Dials every party box with a higher id that is not connected (the other side of
    /// each pair dials us), so each pair has one connection.
    pub(super) fn dial_missing(&mut self, now: Instant) {
        let Some(view) = &self.view else { return };
        let (me, party) = (self.config.me, view.party);
        let c = &self.conns;
        let targets: Vec<_> = view
            .peers
            .iter()
            .filter(|(id, _)| *id > me && !c.peers.contains_key(id))
            // Redial only once the last attempt is over (refused, failed or timed out).
            .filter(|(id, _)| {
                c.dialing
                    .get(id)
                    .is_none_or(|(conn, at)| !c.conns.contains_key(conn) && now - *at >= REDIAL)
            })
            .copied()
            .collect();
        for (id, addr) in targets {
            let conn = self.conns.open(now, Some(id));
            self.conns.dialing.insert(id, (conn, now));
            let hello = Bulk::Hello { id: me, party };
            self.push(TransferAction::Dial { conn, addr, hello });
        }
    }

    /// Connections from boxes the roster now lists are taken on.
    pub(super) fn admit_waiting(&mut self, now: Instant) {
        let ready: Vec<(ConnId, NodeId)> = self
            .conns
            .waiting
            .iter()
            .filter(|(_, id)| self.listed(**id))
            .map(|(c, id)| (*c, *id))
            .collect();
        for (conn, id) in ready {
            self.conns.waiting.remove(&conn);
            if self.conns.conns.contains_key(&conn) {
                self.register(now, conn, id);
            }
        }
    }

    fn register(&mut self, now: Instant, conn: ConnId, id: NodeId) {
        let accepted = self
            .conns
            .conns
            .get(&conn)
            .is_some_and(|c| c.peer.is_none());
        if let Some(c) = self.conns.conns.get_mut(&conn) {
            c.peer = Some(id);
        }
        if let (true, Some(view)) = (accepted, &self.view) {
            // The dialer waits for this before it counts us as connected.
            let msg = Bulk::Hello {
                id: self.config.me,
                party: view.party,
            };
            self.push(TransferAction::Send { conn, msg });
        }
        if let Some(old) = self.conns.peers.insert(id, Peer { conn, reads: 0 }) {
            if self.conns.conns.remove(&old.conn).is_some() {
                self.push(TransferAction::Close { conn: old.conn });
            }
            self.swarm.peer_gone(id);
        }
        self.conns.dialing.remove(&id);
        self.swarm.peer_connected(id);
        let songs: Vec<_> = self.songs.manifests.keys().copied().collect();
        for song in songs {
            if let Some(msg) = self.have_message(&song) {
                self.push(TransferAction::Send { conn, msg });
            }
        }
        self.refresh(now);
    }
}
