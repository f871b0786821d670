//! The run's trace: every delivery (datagram or stream), timeout, crash and restart folded
//! into a 64-bit hash, optionally also kept as records, so two runs can be compared exactly.

use std::net::SocketAddr;

use crate::core::{Instant, StreamId, Via};

/// What happened at one step of the simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A datagram handed to a node.
    Deliver {
        from: SocketAddr,
        via: Via,
        len: usize,
    },
    /// A datagram that arrived at a crashed node and was dropped.
    DropAtCrashed {
        from: SocketAddr,
    },
    /// A node's timer fired.
    Timeout,
    Crash,
    Restart,
    /// A control stream from `from` accepted as `stream`.
    StreamOpen {
        from: SocketAddr,
        stream: StreamId,
    },
    /// A control message handed to a node on `stream` (its encoded bytes are hashed).
    StreamData {
        stream: StreamId,
        len: usize,
    },
    /// A node told that `stream` closed or could not be opened.
    StreamClosed {
        stream: StreamId,
    },
    /// A test ran a party command (host, join, leave, end, request) on the node.
    Command {
        name: &'static str,
    },
}

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    pub at: Instant,
    pub node: usize,
    pub kind: TraceKind,
}

/// A running FNV-1a hash of everything that happened, plus optional records.
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    hash: u64,
    len: u64,
    records: Option<Vec<TraceRecord>>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Trace {
    pub(crate) fn new(keep_records: bool) -> Self {
        Trace {
            hash: FNV_OFFSET,
            len: 0,
            records: keep_records.then(Vec::new),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    fn addr(&mut self, addr: &SocketAddr) {
        match addr {
            SocketAddr::V4(a) => self.bytes(&a.ip().octets()),
            SocketAddr::V6(a) => self.bytes(&a.ip().octets()),
        }
        self.bytes(&addr.port().to_le_bytes());
    }

    /// Folds one record in; `payload` (the datagram, if any) is hashed too, so a node
    /// that sends different bytes changes the trace even if timing does not.
    pub(crate) fn push(&mut self, record: TraceRecord, payload: &[u8]) {
        self.len += 1;
        self.bytes(&record.at.as_nanos().to_le_bytes());
        self.bytes(&(record.node as u64).to_le_bytes());
        match &record.kind {
            TraceKind::Deliver { from, via, len } => {
                self.bytes(&[1, u8::from(*via == Via::Multicast)]);
                self.addr(from);
                self.bytes(&(*len as u64).to_le_bytes());
                self.bytes(payload);
            }
            TraceKind::DropAtCrashed { from } => {
                self.bytes(&[2]);
                self.addr(from);
            }
            TraceKind::Timeout => self.bytes(&[3]),
            TraceKind::Crash => self.bytes(&[4]),
            TraceKind::Restart => self.bytes(&[5]),
            TraceKind::StreamOpen { from, stream } => {
                self.bytes(&[6]);
                self.addr(from);
                self.bytes(&stream.0.to_le_bytes());
            }
            TraceKind::StreamData { stream, len } => {
                self.bytes(&[7]);
                self.bytes(&stream.0.to_le_bytes());
                self.bytes(&(*len as u64).to_le_bytes());
                self.bytes(payload);
            }
            TraceKind::StreamClosed { stream } => {
                self.bytes(&[8]);
                self.bytes(&stream.0.to_le_bytes());
            }
            TraceKind::Command { name } => {
                self.bytes(&[9]);
                self.bytes(name.as_bytes());
            }
        }
        if let Some(records) = &mut self.records {
            records.push(record);
        }
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn records(&self) -> &[TraceRecord] {
        self.records.as_deref().unwrap_or(&[])
    }
}
