//! The status snapshot `chorus ctl status` prints: a stable JSON contract (see README).

use serde::{Deserialize, Serialize};

use crate::core::{Counters, Instant, Node, Via};

/// The whole status of one box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Box id, 16 hex digits.
    pub id: String,
    pub name: String,
    /// The unicast address the box listens on.
    pub addr: String,
    pub neighbours: Vec<NeighbourStatus>,
    /// The party this box belongs to; `null` outside a party.
    pub party: Option<serde_json::Value>,
    pub counters: Counters,
}

/// One neighbour as `chorus ctl status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourStatus {
    pub id: String,
    pub name: String,
    pub addr: String,
    /// Milliseconds since its last beacon.
    pub age_ms: u64,
    pub via: Via,
}

impl Status {
    /// Snapshot of `node` at `now`; `addr` is where its unicast socket is bound.
    pub fn of(node: &Node, now: Instant, addr: String) -> Self {
        Status {
            id: node.id().to_string(),
            name: node.name().to_owned(),
            addr,
            neighbours: node
                .neighbours()
                .map(|n| NeighbourStatus {
                    id: n.id.to_string(),
                    name: n.name.clone(),
                    addr: n.addr.to_string(),
                    age_ms: u64::try_from((now - n.last_seen).as_millis()).unwrap_or(u64::MAX),
                    via: node.via(n, now),
                })
                .collect(),
            party: None,
            counters: node.counters(),
        }
    }
}
