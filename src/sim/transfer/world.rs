//! The simulated party behind [`run`](super::run): boxes running the core's [`Transfer`]
//! machine, their uplinks and links, the event queue, and a hostile peer. What the
//! machines ask for is carried out in `exec`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{TransferSimConfig, TransferSimReport};
use crate::core::transfer::picker::mix;
use crate::core::transfer::{
    ChunkSet, ConnId, Manifest, SwarmConfig, SwarmCounters, Tags, Transfer, TransferConfig,
};
use crate::core::{Instant, NodeId, SongRef, TransferView};
use crate::proto::{Bulk, PartyId};
use crate::sim::queue::EventQueue;

/// The party every box is in.
pub(super) const PARTY: PartyId = PartyId(1);

#[derive(Debug, Clone)]
pub(super) enum Ev {
    /// `msg` from box `from` arrives at box `to` on `to`'s connection `conn`.
    Deliver {
        from: usize,
        to: usize,
        conn: ConnId,
        msg: Bulk,
    },
    /// Box `from` dialed box `to` on its connection `conn`, speaking first with `hello`.
    Connect {
        from: usize,
        to: usize,
        conn: ConnId,
        hello: Bulk,
    },
    /// Connection `conn` of box `to` is gone (refused, or closed by the other side).
    Closed {
        to: usize,
        conn: ConnId,
    },
    Wake(usize),
    Leave(usize),
}

#[derive(Debug)]
pub(super) struct SimBox {
    /// `None` for the hostile peer, which the simulator plays itself.
    pub(super) machine: Option<Transfer>,
    pub(super) alive: bool,
    pub(super) hostile: bool,
    pub(super) left: bool,
    /// Each connection: the box at the other end and its number there.
    pub(super) links: BTreeMap<ConnId, (usize, ConnId)>,
    /// What the box wrote to its simulated disk.
    pub(super) stored: ChunkSet,
    pub(super) busy_until: Instant,
    pub(super) uploaded: u64,
    /// The song is in its held set (the origin holds it in its library).
    pub(super) done: bool,
    pub(super) wake: Option<Instant>,
    /// Connection numbers of the hostile peer (machines number their own).
    pub(super) next_conn: ConnId,
}

#[derive(Debug)]
pub(super) struct World {
    pub(super) config: TransferSimConfig,
    pub(super) rng: StdRng,
    pub(super) queue: EventQueue<Ev>,
    pub(super) now: Instant,
    pub(super) song: SongRef,
    pub(super) manifest: Manifest,
    /// The song's bytes, which boxes serve slices of.
    pub(super) data: Bytes,
    pub(super) boxes: Vec<SimBox>,
    /// Each link's latency is a hash of this and its ends.
    link_seed: u64,
    finish: Option<Instant>,
    pub(super) corrupt_stored: u64,
    trace: u64,
}

pub(super) fn id(i: usize) -> NodeId {
    NodeId(0x100 + i as u64)
}

/// A box's bulk address: 10.0.x.y, where x.y is its index.
pub(super) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7000))
}

pub(super) fn index_of(addr: SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(a) => {
            let [_, _, hi, lo] = a.ip().octets();
            usize::from(hi) << 8 | usize::from(lo)
        }
        SocketAddr::V6(_) => usize::MAX,
    }
}

impl World {
    pub(super) fn new(config: TransferSimConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut bytes = vec![0u8; usize::try_from(config.song_bytes).unwrap_or(0)];
        rng.fill(&mut bytes[..]);
        let tags = Tags {
            format: "flac".into(),
            title: "sim".into(),
            ..Tags::default()
        };
        let manifest = Manifest::from_reader(&bytes[..], config.chunk_size, tags)
            .unwrap_or_else(|_| empty_manifest());
        let (song, n) = (manifest.song, manifest.chunk_count());
        let total = config.members + 1 + usize::from(config.hostile);
        let boxes = (0..total)
            .map(|i| {
                let hostile = config.hostile && i == total - 1;
                let swarm = SwarmConfig {
                    seed: rng.gen(),
                    ..config.swarm.clone()
                };
                let machine_config = TransferConfig { me: id(i), swarm };
                let machine = (!hostile)
                    .then(|| Transfer::new(machine_config, Instant::ZERO, Default::default()));
                let whole = i == 0 || hostile;
                SimBox {
                    machine,
                    alive: true,
                    hostile,
                    left: false,
                    links: BTreeMap::new(),
                    stored: if whole {
                        ChunkSet::full(n)
                    } else {
                        ChunkSet::empty(n)
                    },
                    busy_until: Instant::ZERO,
                    uploaded: 0,
                    done: whole,
                    wake: None,
                    next_conn: 0,
                }
            })
            .collect();
        let link_seed = rng.gen();
        let mut world = World {
            config,
            rng,
            queue: EventQueue::new(),
            now: Instant::ZERO,
            song,
            manifest,
            data: Bytes::from(bytes),
            boxes,
            link_seed,
            finish: None,
            corrupt_stored: 0,
            trace: 0,
        };
        world.join_all();
        world.schedule_leavers();
        world
    }

    /// Every box learns the party at time zero; the origin holds the song in its library.
    fn join_all(&mut self) {
        let total = self.boxes.len();
        let window = vec![(self.song, id(0))];
        for i in 0..total {
            let view = TransferView {
                party: PARTY,
                host: id(0),
                peers: (0..total)
                    .filter(|&j| j != i)
                    .map(|j| (id(j), addr(j)))
                    .collect(),
                window: window.clone(),
                waiting_for_first_song: false,
            };
            let song = self.song;
            if let Some(m) = self.boxes.get_mut(i).and_then(|b| b.machine.as_mut()) {
                if i == 0 {
                    m.set_library(Instant::ZERO, [song].into());
                }
                m.set_view(Instant::ZERO, Some(view));
            }
            self.step(i);
        }
    }

    fn schedule_leavers(&mut self) {
        let mut members: Vec<usize> = (1..=self.config.members).collect();
        let bound = self.lower_bound();
        for _ in 0..self.config.leavers.min(members.len()) {
            let who = members.swap_remove(self.rng.gen_range(0..members.len()));
            let at = Instant::ZERO + bound.mul_f64(self.rng.gen_range(0.2..0.6));
            self.queue.push(at, Ev::Leave(who));
        }
    }

    fn lower_bound(&self) -> Duration {
        Duration::from_secs_f64(self.config.song_bytes as f64 / self.config.uplink.max(1) as f64)
    }

    pub(super) fn run(&mut self) {
        let limit = Instant::ZERO + self.config.time_limit;
        while self.finish.is_none() {
            let Some((at, ev)) = self.queue.pop() else {
                break;
            };
            if at > limit {
                break;
            }
            self.now = at;
            self.record(&ev);
            self.handle(ev);
            if self.boxes.iter().all(|b| b.done || b.left || b.hostile) {
                self.finish = Some(self.now);
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Deliver {
                from,
                to,
                conn,
                msg,
            } if self.linked(from, to) => self.deliver(to, conn, msg),
            Ev::Connect {
                from,
                to,
                conn,
                hello,
            } if self.linked(from, from) => self.connect(from, to, conn, hello),
            Ev::Closed { to, conn } if self.linked(to, to) => {
                if let Some(b) = self.boxes.get_mut(to) {
                    b.links.remove(&conn);
                    if let Some(m) = b.machine.as_mut() {
                        m.closed(now, conn);
                    }
                }
                self.step(to);
            }
            Ev::Wake(i) if self.linked(i, i) => {
                if let Some(b) = self.boxes.get_mut(i) {
                    if b.wake == Some(now) {
                        b.wake = None;
                    }
                    if let Some(m) = b.machine.as_mut() {
                        m.handle_timeout(now);
                    }
                }
                self.step(i);
            }
            Ev::Leave(i) => self.leave(i),
            // Anything to or from a box that left died with its connection.
            _ => {}
        }
    }

    /// Box `i` leaves: every connection to it closes at once.
    fn leave(&mut self, i: usize) {
        let Some(b) = self.boxes.get_mut(i) else {
            return;
        };
        b.alive = false;
        b.left = true;
        let links = std::mem::take(&mut b.links);
        for (j, conn) in links.into_values() {
            if let Some(other) = self.boxes.get_mut(j) {
                other.links.remove(&conn);
                if let Some(m) = other.machine.as_mut() {
                    m.closed(self.now, conn);
                }
            }
            self.step(j);
        }
    }

    /// Whether both ends are present (`linked(i, i)`: box `i` is).
    pub(super) fn linked(&self, a: usize, b: usize) -> bool {
        let alive = |i: usize| self.boxes.get(i).is_some_and(|x| x.alive);
        alive(a) && alive(b)
    }

    /// The one-way latency of the link between `a` and `b`, fixed for the run.
    pub(super) fn latency(&self, a: usize, b: usize) -> Duration {
        let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
        let spread = (mix(self.link_seed ^ (lo << 32) ^ hi) % 1001) as f64 / 1000.0;
        self.config.latency.mul_f64(0.5 + spread)
    }

    pub(super) fn lost(&mut self) -> bool {
        self.config.loss > 0.0 && self.rng.gen_bool(self.config.loss.min(1.0))
    }

    fn record(&mut self, ev: &Ev) {
        let (kind, a, b, c) = match ev {
            Ev::Deliver { from, to, msg, .. } => {
                let (k, chunk) = msg_key(msg);
                (k, *from, *to, chunk)
            }
            Ev::Connect { from, to, conn, .. } => (20, *from, *to, *conn as u32),
            Ev::Closed { to, conn } => (21, 0, *to, *conn as u32),
            Ev::Wake(i) => (22, *i, 0, 0),
            Ev::Leave(i) => (23, *i, 0, 0),
        };
        let word = self.now.as_nanos()
            ^ (kind << 56)
            ^ ((a as u64) << 40)
            ^ ((b as u64) << 24)
            ^ u64::from(c);
        self.trace = mix(self.trace ^ mix(word));
    }

    pub(super) fn report(&self) -> TransferSimReport {
        let members = self
            .boxes
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| !b.hostile);
        let stayed = members.clone().filter(|(_, b)| !b.left).count();
        let completed = members.clone().filter(|(_, b)| !b.left && b.done).count();
        let machines = self
            .boxes
            .iter()
            .filter_map(|b| Some((b.machine.as_ref()?, b)));
        let mismatched = machines
            .clone()
            .filter(|(m, b)| m.local(&self.song) != Some(&b.stored))
            .count();
        let mut counters = SwarmCounters::default();
        for (m, _) in machines {
            let c = m.counters();
            counters.requests += c.requests;
            counters.timeouts += c.timeouts;
            counters.corrupt += c.corrupt;
            counters.unrequested += c.unrequested;
            counters.refused += c.refused;
            counters.duplicates += c.duplicates;
        }
        TransferSimReport {
            seed: self.config.seed,
            finish: self
                .finish
                .map(|t| t - Instant::ZERO)
                .filter(|_| completed == stayed),
            lower_bound: self.lower_bound(),
            song_bytes: self.config.song_bytes,
            origin_bytes: self.boxes.first().map_or(0, |b| b.uploaded),
            stayed,
            completed,
            corrupt_stored: self.corrupt_stored,
            mismatched,
            counters,
            trace: self.trace,
        }
    }
}

/// A message's kind and chunk, for the trace.
fn msg_key(msg: &Bulk) -> (u64, u32) {
    match msg {
        Bulk::Hello { .. } => (1, 0),
        Bulk::WantManifest { .. } => (2, 0),
        Bulk::Manifest(_) => (3, 0),
        Bulk::NoManifest { .. } => (4, 0),
        Bulk::Have { .. } => (5, 0),
        Bulk::Got { chunk, .. } => (6, *chunk),
        Bulk::Request { chunk, .. } => (7, *chunk),
        Bulk::Chunk { chunk, .. } => (8, *chunk),
        Bulk::Refuse { chunk, .. } => (9, *chunk),
    }
}

/// Only if the configured song cannot be described (larger than a party distributes).
fn empty_manifest() -> Manifest {
    Manifest {
        song: SongRef(*blake3::hash(&[]).as_bytes()),
        size: 0,
        chunk_size: crate::core::transfer::DEFAULT_CHUNK_SIZE,
        chunks: Vec::new(),
        format: "flac".into(),
        title: "sim".into(),
        artist: None,
        album: None,
        duration_ms: None,
    }
}
