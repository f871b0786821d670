//! The discovery beacon: who a box is, where to reach it, what it is doing, whom it hears.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::NodeId;
use super::{MAX_NAME_LEN, MAX_PEER_HINTS};

/// Identity of one party, unique per HOST press; shown as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartyId(pub u64);

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::fmt::Debug for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for PartyId {
    type Err = super::ParseNodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<NodeId>().map(|id| PartyId(id.0))
    }
}

/// What a box is doing, as advertised in its beacon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BoxState {
    /// In no party.
    Idle,
    /// Hosting a party.
    Hosting,
    /// A member of someone else's party.
    Member,
}

/// A short summary of the party a box belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartySummary {
    pub id: PartyId,
    pub host: NodeId,
    pub term: u64,
    pub members: u8,
}

/// A neighbour of the sender, so receivers can reach boxes multicast cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerHint {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// Sent about once a second to the multicast group, static peers and learned peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beacon {
    pub id: NodeId,
    /// Random per start of the box: a new value means the box restarted and its `seq`
    /// began again.
    pub boot: u32,
    /// Increases with every beacon of this box; receivers ignore older ones.
    pub seq: u64,
    /// Human-readable name, at most [`MAX_NAME_LEN`] bytes.
    pub name: String,
    /// UDP port for unicast datagrams to this box (the address is the datagram's source).
    pub unicast_port: u16,
    /// TCP control port, 0 while the box serves none.
    pub control_port: u16,
    pub state: BoxState,
    pub party: Option<PartySummary>,
    /// Some of the sender's neighbours, at most [`MAX_PEER_HINTS`].
    pub peers: Vec<PeerHint>,
}

impl Beacon {
    /// Checks the limits a decoded or to-be-sent beacon must respect.
    pub(crate) fn check_limits(&self) -> Result<(), (&'static str, String)> {
        if self.name.len() > MAX_NAME_LEN {
            return Err((
                "beacon.name",
                format!("{} bytes, limit {MAX_NAME_LEN}", self.name.len()),
            ));
        }
        if self.peers.len() > MAX_PEER_HINTS {
            return Err((
                "beacon.peers",
                format!("{} entries, limit {MAX_PEER_HINTS}", self.peers.len()),
            ));
        }
        Ok(())
    }
}
