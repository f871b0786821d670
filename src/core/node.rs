//! The `Node` state machine of one box: today discovery (beacons, neighbours, learned peers).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::learned::LearnedPeers;
use super::neighbours::{NeighbourTable, Observed};
use super::{Instant, Neighbour, NodeId, Via};
use crate::proto::{self, Beacon, BoxState, DecodeError, Message, PeerHint, MAX_PEER_HINTS};

/// What the core needs to know about this box; the runtime builds it from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub id: NodeId,
    pub name: String,
    /// Our unicast UDP port, advertised in beacons.
    pub unicast_port: u16,
    /// Mean time between beacons.
    pub beacon_interval: Duration,
    /// Each interval is drawn uniformly from `interval * (1 ± jitter)`.
    pub beacon_jitter: f64,
    /// A neighbour is dropped after this many intervals (plus jitter) without a beacon.
    pub expiry_beacons: u32,
    pub max_neighbours: usize,
    /// Addresses that always get our beacons by unicast, from the config.
    pub static_peers: Vec<SocketAddr>,
    pub max_learned_peers: usize,
}

impl NodeConfig {
    /// Defaults suited to a LAN, for the given identity.
    pub fn new(id: NodeId, name: impl Into<String>) -> Self {
        NodeConfig {
            id,
            name: name.into(),
            unicast_port: 7701,
            beacon_interval: Duration::from_secs(1),
            beacon_jitter: 0.2,
            expiry_beacons: 3,
            max_neighbours: 64,
            static_peers: Vec::new(),
            max_learned_peers: 32,
        }
    }

    /// Silence after which a neighbour is considered gone.
    pub fn expiry(&self) -> Duration {
        self.beacon_interval
            .mul_f64(f64::from(self.expiry_beacons) + self.beacon_jitter.clamp(0.0, 1.0))
    }
}

/// Where a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The discovery multicast group on every configured interface.
    Multicast,
    Unicast(SocketAddr),
}

/// A datagram for the runtime to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub payload: Vec<u8>,
}

/// Something the runtime may log or show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    NeighbourUp {
        id: NodeId,
        name: String,
        addr: SocketAddr,
    },
    NeighbourDown {
        id: NodeId,
        name: String,
    },
    /// A datagram that failed to decode; it was dropped and counted.
    Malformed {
        from: SocketAddr,
        error: DecodeError,
    },
}

/// Counts of what happened, for status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub datagrams_in: u64,
    pub beacons_in: u64,
    pub datagrams_out: u64,
    /// Undecodable datagrams (bad magic, version, body, limits): dropped.
    pub malformed: u64,
    /// Our own beacons looped back by multicast.
    pub own: u64,
    /// Old or duplicated beacons.
    pub stale: u64,
    /// New boxes not added because the neighbour table was full.
    pub table_full: u64,
    /// Hinted peers not learned because the learned set was full.
    pub learned_full: u64,
    /// Messages we failed to encode (a bug: reported, never sent).
    pub encode_errors: u64,
}

/// One box's protocol state. See the module docs of [`crate::core`] for how to drive it.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    rng: StdRng,
    seq: u64,
    next_beacon: Instant,
    neighbours: NeighbourTable,
    learned: LearnedPeers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counters: Counters,
}

impl Node {
    /// A node that sends its first beacon soon after `now`; `seed` drives its jitter so
    /// a simulation replays exactly.
    pub fn new(config: NodeConfig, now: Instant, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        // Boxes powered on together should not beacon in lock-step, but should be
        // found quickly: the first beacon goes out within a fifth of an interval.
        let first = config.beacon_interval.mul_f64(rng.gen_range(0.0..0.2));
        Node {
            neighbours: NeighbourTable::new(config.max_neighbours),
            learned: LearnedPeers::new(config.max_learned_peers),
            next_beacon: now + first,
            config,
            rng,
            seq: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// What this box is doing; parties arrive with the party state machine.
    pub fn state(&self) -> BoxState {
        BoxState::Idle
    }

    /// Neighbours in id order.
    pub fn neighbours(&self) -> impl Iterator<Item = &Neighbour> {
        self.neighbours.iter()
    }

    pub fn neighbour(&self, id: &NodeId) -> Option<&Neighbour> {
        self.neighbours.get(id)
    }

    /// How many neighbours we hear.
    pub fn neighbour_count(&self) -> usize {
        self.neighbours.len()
    }

    /// How many hinted addresses we are probing.
    pub fn learned_len(&self) -> usize {
        self.learned.len()
    }

    /// How a neighbour reaches us now.
    pub fn via(&self, n: &Neighbour, now: Instant) -> Via {
        n.via(now, self.config.expiry())
    }

    /// Feeds one received datagram. `from` is its source address; `via` says which
    /// socket it arrived on.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, via: Via, bytes: &[u8]) {
        self.counters.datagrams_in += 1;
        match proto::decode_datagram(bytes) {
            Ok(Message::Beacon(beacon)) => self.on_beacon(now, from, via, beacon),
            Err(error) => {
                self.counters.malformed += 1;
                self.events.push_back(Event::Malformed { from, error });
            }
        }
    }

    fn on_beacon(&mut self, now: Instant, from: SocketAddr, via: Via, beacon: Beacon) {
        self.counters.beacons_in += 1;
        if beacon.id == self.config.id {
            self.counters.own += 1;
            return;
        }
        let addr = SocketAddr::new(from.ip(), beacon.unicast_port);
        match self.neighbours.observe(&beacon, addr, via, now) {
            Observed::New => {
                self.events.push_back(Event::NeighbourUp {
                    id: beacon.id,
                    name: beacon.name.clone(),
                    addr,
                });
                self.learn_from(&beacon, now);
            }
            Observed::Updated => self.learn_from(&beacon, now),
            Observed::Stale => self.counters.stale += 1,
            Observed::Full => self.counters.table_full += 1,
        }
    }

    fn learn_from(&mut self, beacon: &Beacon, now: Instant) {
        for hint in &beacon.peers {
            if hint.id == self.config.id || self.neighbours.contains(&hint.id) {
                continue;
            }
            if !self.learned.mention(hint.id, hint.addr, now) {
                self.counters.learned_full += 1;
            }
        }
    }

    /// Runs timers due at or before `now`: expiry and beacons.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expiry = u64::try_from(self.config.expiry().as_nanos()).unwrap_or(u64::MAX);
        let deadline = Instant::from_nanos(now.as_nanos().saturating_sub(expiry));
        for gone in self.neighbours.expire(deadline) {
            self.events.push_back(Event::NeighbourDown {
                id: gone.id,
                name: gone.name,
            });
        }
        let neighbours = &self.neighbours;
        self.learned.retain(deadline, |id| neighbours.contains(&id));
        if now >= self.next_beacon {
            self.send_beacons(now);
            let jitter = self.config.beacon_jitter.clamp(0.0, 0.9);
            let factor = self.rng.gen_range((1.0 - jitter)..=(1.0 + jitter));
            self.next_beacon = now + self.config.beacon_interval.mul_f64(factor);
        }
    }

    fn send_beacons(&mut self, now: Instant) {
        self.seq += 1;
        let beacon = Beacon {
            id: self.config.id,
            seq: self.seq,
            name: self.config.name.clone(),
            unicast_port: self.config.unicast_port,
            control_port: 0,
            state: self.state(),
            party: None,
            peers: self.peer_hints(),
        };
        let payload = match proto::encode_datagram(&Message::Beacon(beacon)) {
            Ok(p) => p,
            Err(_) => {
                self.counters.encode_errors += 1;
                return;
            }
        };
        let window = self.config.expiry();
        let mut unicast: Vec<SocketAddr> = self.config.static_peers.clone();
        unicast.extend(
            self.neighbours
                .iter()
                .filter(|n| n.via(now, window) == Via::Unicast)
                .map(|n| n.addr),
        );
        unicast.extend(self.learned.addrs());
        unicast.sort_unstable();
        unicast.dedup();
        self.push(Destination::Multicast, payload.clone());
        for addr in unicast {
            self.push(Destination::Unicast(addr), payload.clone());
        }
    }

    /// The most recently heard neighbours, newest first, ties by id.
    fn peer_hints(&self) -> Vec<PeerHint> {
        let mut all: Vec<&Neighbour> = self.neighbours.iter().collect();
        all.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        all.into_iter()
            .take(MAX_PEER_HINTS)
            .map(|n| PeerHint {
                id: n.id,
                addr: n.addr,
            })
            .collect()
    }

    fn push(&mut self, destination: Destination, payload: Vec<u8>) {
        self.counters.datagrams_out += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload,
        });
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event to report, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Node::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let expiry = self
            .neighbours
            .oldest()
            .map(|t| t + self.config.expiry() + Duration::from_nanos(1));
        match expiry {
            Some(e) if e < self.next_beacon => e,
            _ => self.next_beacon,
        }
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
