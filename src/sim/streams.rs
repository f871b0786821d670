//! Simulated control streams (TCP): the model's knobs, how a box goes down, and the table
//! of connections between two nodes' stream ends.
//!
//! A connection is reliable and ordered per direction: loss becomes delay, never a lost
//! message. A partition breaks the connections crossing it (both ends are told after
//! [`StreamModel::break_delay`]); healing does not revive them. What the dispatcher in
//! `world::streams` does with each event is documented there.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::core::{Instant, StreamId};

/// How simulated TCP behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamModel {
    /// A connect to an unreachable or powered-off box fails after this long.
    pub connect_timeout: Duration,
    /// A connection cut by a partition is reported closed to both ends after this long.
    pub break_delay: Duration,
    /// Extra delay for each "lost" draw of the link: the retransmission.
    pub retransmit_penalty: Duration,
    /// Most retransmissions one message suffers (bounds the delay on a very lossy link).
    pub max_retransmits: u32,
}

impl Default for StreamModel {
    fn default() -> Self {
        StreamModel {
            connect_timeout: Duration::from_secs(1),
            break_delay: Duration::from_secs(3),
            retransmit_penalty: Duration::from_millis(200),
            max_retransmits: 8,
        }
    }
}

/// How a box goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// The plug is pulled: peers are told nothing; their failure detectors must notice.
    PowerLoss,
    /// The process dies but the kernel lives: it resets every connection (peers are told
    /// after one link delay) and refuses new ones.
    ProcessKill,
}

/// One end of a connection: which node, which incarnation of it, and its stream id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EndRef {
    pub(crate) node: usize,
    pub(crate) boot: u64,
    pub(crate) stream: StreamId,
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Connect asked for; the open event has not run yet.
    Connecting,
    Open,
    /// Cut by a partition, reset, or the connect failed: nothing more is delivered.
    Broken,
}

/// One simulated TCP connection. End 0 connected, end 1 accepted; direction `d` carries
/// what end `d` sends.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) ends: [Option<EndRef>; 2],
    /// The control address end 0 asked for.
    pub(crate) addr: SocketAddr,
    pub(crate) started: Instant,
    pub(crate) state: ConnState,
    /// What end 0 sent before the connection opened, encoded, in order.
    pub(crate) queued: Vec<Arc<[u8]>>,
    /// The end's node no longer has this stream: it closed it, was told it closed, or died.
    pub(crate) done: [bool; 2],
    /// When the last message (or close) sent in each direction arrives.
    pub(crate) last: [Instant; 2],
}

/// Every connection of the simulation, by id and by end.
#[derive(Debug, Default)]
pub(crate) struct StreamTable {
    conns: BTreeMap<u64, Conn>,
    by_end: BTreeMap<EndRef, (u64, usize)>,
    next_conn: u64,
    next_port: u16,
}

impl StreamTable {
    /// Registers a connection that end `from` asked for; returns its id.
    pub(crate) fn connect(&mut self, from: EndRef, addr: SocketAddr, now: Instant) -> u64 {
        self.next_conn += 1;
        let id = self.next_conn;
        self.conns.insert(
            id,
            Conn {
                ends: [Some(from), None],
                addr,
                started: now,
                state: ConnState::Connecting,
                queued: Vec::new(),
                done: [false, false],
                last: [now, now],
            },
        );
        self.by_end.insert(from, (id, 0));
        id
    }

    /// Records the accepting end of `conn`.
    pub(crate) fn accepted(&mut self, conn: u64, end: EndRef) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.ends[1] = Some(end);
            c.state = ConnState::Open;
            self.by_end.insert(end, (conn, 1));
        }
    }

    /// The connection and side of a node's stream.
    pub(crate) fn find(&self, end: &EndRef) -> Option<(u64, usize)> {
        self.by_end.get(end).copied()
    }

    pub(crate) fn get(&self, conn: u64) -> Option<&Conn> {
        self.conns.get(&conn)
    }

    pub(crate) fn get_mut(&mut self, conn: u64) -> Option<&mut Conn> {
        self.conns.get_mut(&conn)
    }

    /// A fresh ephemeral port for a connecting side, as a kernel would pick.
    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        self.next_port = self.next_port.wrapping_add(1) % 16_384;
        49_152 + self.next_port
    }

    /// Ids of the connections with a live end on `node` at incarnation `boot`.
    pub(crate) fn of_node(&self, node: usize, boot: u64) -> Vec<(u64, usize)> {
        self.by_end
            .iter()
            .filter(|(e, _)| e.node == node && e.boot == boot)
            .map(|(_, v)| *v)
            .collect()
    }

    /// Ids of every connection not yet broken.
    pub(crate) fn unbroken(&self) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.state != ConnState::Broken)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets `conn` once neither end has it any more.
    pub(crate) fn collect(&mut self, conn: u64) {
        let finished = self.conns.get(&conn).is_some_and(|c| {
            c.done[0] && (c.done[1] || c.ends[1].is_none() && c.state == ConnState::Broken)
        });
        if !finished {
            return;
        }
        if let Some(c) = self.conns.remove(&conn) {
            for end in c.ends.iter().flatten() {
                self.by_end.remove(end);
            }
        }
    }

    /// Forgets `conn` at once (its initiator is gone before it opened).
    pub(crate) fn remove(&mut self, conn: u64) {
        if let Some(c) = self.conns.remove(&conn) {
            for end in c.ends.iter().flatten() {
                self.by_end.remove(end);
            }
        }
    }

    /// How many connections are open or opening.
    pub(crate) fn live(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.state != ConnState::Broken)
            .count()
    }
}
