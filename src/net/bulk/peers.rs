//! The transfer manager's connections: dialing the boxes of the party, accepting theirs,
//! checking who speaks, and telling peers what this box holds.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::conn::{self, ConnEvent, ConnId};
use super::manager::{Conn, Manager, Peer, REDIAL};
use crate::clock::monotonic_now;
use crate::core::{Instant, NodeId, SongRef};
use crate::proto::Bulk;

impl Manager {
    /// Dials every party box with a higher id that is not connected (the other side of
    /// each pair dials us), so each pair has one connection.
    pub(super) fn dial_missing(&mut self, now: Instant) {
        let Some(view) = &self.view else { return };
        let targets: Vec<_> = view
            .peers
            .iter()
            .filter(|(id, _)| *id > self.config.me && !self.peers.contains_key(id))
            // Redial only once the last attempt is over (refused, failed or timed out).
            .filter(|(id, _)| {
                self.dialing
                    .get(id)
                    .is_none_or(|(conn, at)| !self.conns.contains_key(conn) && now - *at >= REDIAL)
            })
            .copied()
            .collect();
        let party = view.party;
        for (id, addr) in targets {
            let conn = self.new_conn(Some(id));
            self.dialing.insert(id, (conn, now));
            let hello = Bulk::Hello {
                id: self.config.me,
                party,
            };
            let cancel = self.conn_cancel(conn);
            let pacer = self.pacer.clone();
            conn::dial(
                &self.tracker,
                conn,
                addr,
                hello,
                self.events.clone(),
                cancel,
                pacer,
            );
        }
    }

    pub(super) fn new_conn(&mut self, peer: Option<NodeId>) -> ConnId {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conns.insert(
            conn,
            Conn {
                peer,
                cancel: self.cancel.child_token(),
                opened: monotonic_now(),
            },
        );
        conn
    }

    pub(super) fn conn_cancel(&self, conn: ConnId) -> CancellationToken {
        self.conns
            .get(&conn)
            .map_or_else(CancellationToken::new, |c| c.cancel.clone())
    }

    pub(super) fn accept(&mut self, socket: tokio::net::TcpStream) {
        let Some(view) = &self.view else {
            return; // not in a party: nothing to trade
        };
        // Two connections per party box at most (one each way while a pair sorts itself
        // out): a stranger opening sockets without a hello cannot pile up tasks.
        let limit = 2 * view.peers.len() + 4;
        if self.conns.len() >= limit {
            tracing::debug!(
                conns = self.conns.len(),
                "bulk connection refused: too many"
            );
            return;
        }
        let conn = self.new_conn(None);
        let cancel = self.conn_cancel(conn);
        let pacer = self.pacer.clone();
        // We answer the dialer's hello only once we take it on (see `register`).
        let events = self.events.clone();
        conn::spawn(&self.tracker, conn, socket, None, events, cancel, pacer);
    }

    pub(super) fn conn_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Hello {
                conn,
                id,
                party,
                tx,
            } => self.hello(conn, id, party, tx),
            ConnEvent::Message(conn, msg) => {
                let Some(peer) = self.peer_of(conn) else {
                    tracing::trace!(conn, "message from a connection without a peer");
                    return;
                };
                tracing::trace!(%peer, ?msg, "bulk message");
                self.message(peer, conn, msg);
            }
            ConnEvent::Closed(conn, reason) => {
                self.waiting.remove(&conn);
                if let Some(c) = self.conns.remove(&conn) {
                    c.cancel.cancel();
                    if let Some(id) = c.peer {
                        if self.peers.get(&id).is_some_and(|p| p.conn == conn) {
                            self.peers.remove(&id);
                            self.swarm.peer_gone(id);
                            tracing::debug!(peer = %id, ?reason, "bulk connection closed");
                        }
                    }
                }
            }
        }
    }

    pub(super) fn peer_of(&self, conn: ConnId) -> Option<NodeId> {
        let id = self.conns.get(&conn)?.peer?;
        (self.peers.get(&id)?.conn == conn).then_some(id)
    }

    pub(super) fn hello(
        &mut self,
        conn: ConnId,
        id: NodeId,
        party: crate::proto::PartyId,
        tx: mpsc::Sender<Bulk>,
    ) {
        let our_party = self.view.as_ref().is_some_and(|v| v.party == party);
        let known = self
            .view
            .as_ref()
            .is_some_and(|v| v.peers.iter().any(|(p, _)| *p == id));
        let expected = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.peer.is_none_or(|p| p == id));
        if !our_party || !expected || id == self.config.me {
            if let Some(c) = self.conns.remove(&conn) {
                c.cancel.cancel();
            }
            return;
        }
        if !known {
            // A box that joined a moment ago: our roster will list it shortly. Until
            // then (or until the hello timeout) the connection waits.
            self.waiting.insert(conn, (id, tx));
            return;
        }
        self.register(conn, id, tx);
    }

    /// Connections from boxes the roster now lists are taken on.
    pub(super) fn admit_waiting(&mut self) {
        let Some(view) = &self.view else { return };
        let ready: Vec<ConnId> = self
            .waiting
            .iter()
            .filter(|(_, (id, _))| view.peers.iter().any(|(p, _)| p == id))
            .map(|(c, _)| *c)
            .collect();
        for conn in ready {
            if let Some((id, tx)) = self.waiting.remove(&conn) {
                if self.conns.contains_key(&conn) {
                    self.register(conn, id, tx);
                }
            }
        }
    }

    fn register(&mut self, conn: ConnId, id: NodeId, tx: mpsc::Sender<Bulk>) {
        let accepted = self.conns.get(&conn).is_some_and(|c| c.peer.is_none());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer = Some(id);
        }
        if let (true, Some(view)) = (accepted, &self.view) {
            // The dialer waits for this before it counts us as connected.
            let hello = Bulk::Hello {
                id: self.config.me,
                party: view.party,
            };
            if tx.try_send(hello).is_err() {
                return;
            }
        }
        if let Some(old) = self.peers.insert(id, Peer { conn, tx, reads: 0 }) {
            if let Some(c) = self.conns.remove(&old.conn) {
                c.cancel.cancel();
            }
            self.swarm.peer_gone(id);
        }
        self.dialing.remove(&id);
        self.swarm.peer_connected(id);
        let haves: Vec<Bulk> = self
            .manifests
            .keys()
            .filter_map(|s| self.have_message(s))
            .collect();
        if let Some(p) = self.peers.get(&id) {
            for h in haves {
                let _ = p.tx.try_send(h);
            }
        }
        self.refresh();
    }

    pub(super) fn have_message(&self, song: &SongRef) -> Option<Bulk> {
        let have = self.swarm.local(song)?;
        (have.count() > 0).then(|| Bulk::Have {
            song: *song,
            chunks: have.len(),
            bits: have.bits().to_vec(),
        })
    }

    pub(super) fn broadcast(&self, msg: &Bulk) {
        for p in self.peers.values() {
            let _ = p.tx.try_send(msg.clone());
        }
    }

    pub(super) fn send(&self, peer: NodeId, msg: Bulk) {
        if let Some(p) = self.peers.get(&peer) {
            let _ = p.tx.try_send(msg);
        }
    }
}
