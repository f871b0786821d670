//! The simulated party behind [`run`](super::run): boxes, their uplinks and links, the
//! event queue, and the runtime's part (serving, verifying, announcing).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{TransferSimConfig, TransferSimReport};
use crate::core::transfer::picker::mix;
use crate::core::transfer::{Arrival, ChunkSet, Manifest, Swarm, SwarmConfig, SwarmCounters};
use crate::core::{Instant, NodeId, SongRef};
use crate::sim::queue::EventQueue;

#[derive(Debug, Clone, Copy)]
enum Ev {
    Request {
        from: usize,
        to: usize,
        chunk: u32,
    },
    Chunk {
        from: usize,
        to: usize,
        chunk: u32,
        valid: bool,
    },
    Refused {
        from: usize,
        to: usize,
        chunk: u32,
    },
    Got {
        from: usize,
        to: usize,
        chunk: u32,
    },
    Wake(usize),
    Leave(usize),
}

#[derive(Debug)]
struct SimBox {
    swarm: Swarm,
    alive: bool,
    hostile: bool,
    left: bool,
    /// What the box stored: only what its planner said to keep.
    stored: ChunkSet,
    busy_until: Instant,
    uploaded: u64,
    done: bool,
    wake: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct World {
    config: TransferSimConfig,
    rng: StdRng,
    queue: EventQueue<Ev>,
    now: Instant,
    song: SongRef,
    manifest: Manifest,
    boxes: Vec<SimBox>,
    /// Each link's latency is a hash of this and its ends.
    link_seed: u64,
    finish: Option<Instant>,
    corrupt_stored: u64,
    trace: u64,
}

fn id(i: usize) -> NodeId {
    NodeId(0x100 + i as u64)
}

fn index(peer: NodeId) -> usize {
    peer.0.saturating_sub(0x100) as usize
}

impl World {
    pub(super) fn new(config: TransferSimConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let count = config
            .song_bytes
            .div_ceil(u64::from(config.chunk_size.max(1)));
        let song = SongRef(rng.gen());
        let manifest = Manifest {
            song,
            size: config.song_bytes,
            chunk_size: config.chunk_size,
            chunks: vec![[0; 32]; count as usize],
            format: "flac".into(),
            title: "sim".into(),
            artist: None,
            album: None,
            duration_ms: None,
        };
        let n = manifest.chunk_count();
        let total = config.members + 1 + usize::from(config.hostile);
        let mut boxes = Vec::with_capacity(total);
        for i in 0..total {
            let hostile = config.hostile && i == total - 1;
            let mut swarm = Swarm::new(SwarmConfig {
                seed: rng.gen(),
                ..config.swarm.clone()
            });
            let stored = if i == 0 || hostile {
                ChunkSet::full(n)
            } else {
                ChunkSet::empty(n)
            };
            if !hostile {
                swarm.set_wanted(vec![(manifest.clone(), id(0))]);
                swarm.set_local(song, stored.clone());
            }
            boxes.push(SimBox {
                swarm,
                alive: true,
                hostile,
                left: false,
                stored,
                busy_until: Instant::ZERO,
                uploaded: 0,
                done: i == 0 || hostile,
                wake: None,
            });
        }
        let link_seed = rng.gen();
        let mut world = World {
            config,
            rng,
            queue: EventQueue::new(),
            now: Instant::ZERO,
            song,
            manifest,
            boxes,
            link_seed,
            finish: None,
            corrupt_stored: 0,
            trace: 0,
        };
        world.connect_all();
        world.schedule_leavers();
        world
    }

    /// Every pair connects at time zero and exchanges bitfields.
    fn connect_all(&mut self) {
        let total = self.boxes.len();
        let haves: Vec<ChunkSet> = self.boxes.iter().map(|b| b.stored.clone()).collect();
        for (i, b) in self.boxes.iter_mut().enumerate() {
            for (j, have) in haves.iter().enumerate().filter(|&(j, _)| j != i) {
                b.swarm.peer_connected(id(j));
                b.swarm.peer_have(id(j), self.song, have.clone());
            }
        }
        for i in 0..total {
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
            self.record(ev);
            self.handle(ev);
            if self.boxes.iter().all(|b| b.done || b.left || b.hostile) {
                self.finish = Some(self.now);
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Request { from, to, chunk } if self.linked(from, to) => {
                self.serve(from, to, chunk);
            }
            Ev::Chunk {
                from,
                to,
                chunk,
                valid,
            } if self.linked(from, to) => self.arrive(from, to, chunk, valid),
            Ev::Refused { from, to, chunk } if self.linked(from, to) => {
                let song = self.song;
                if let Some(b) = self.boxes.get_mut(to) {
                    b.swarm.chunk_refused(id(from), song, chunk);
                }
                self.step(to);
            }
            Ev::Got { from, to, chunk } if self.linked(from, to) => {
                let song = self.song;
                if let Some(b) = self.boxes.get_mut(to) {
                    b.swarm.peer_got(id(from), song, chunk);
                }
                self.step(to);
            }
            Ev::Wake(i) if self.linked(i, i) => {
                let now = self.now;
                if let Some(b) = self.boxes.get_mut(i) {
                    if b.wake == Some(now) {
                        b.wake = None;
                    }
                    b.swarm.handle_timeout(now);
                }
                self.step(i);
            }
            Ev::Leave(i) => {
                if let Some(b) = self.boxes.get_mut(i) {
                    b.alive = false;
                    b.left = true;
                }
                for j in 0..self.boxes.len() {
                    if self.linked(j, j) {
                        if let Some(b) = self.boxes.get_mut(j) {
                            b.swarm.peer_gone(id(i));
                        }
                        self.step(j);
                    }
                }
            }
            // Anything to or from a box that left died with its connection.
            _ => {}
        }
    }

    /// Whether both ends are present (`linked(i, i)`: box `i` is).
    fn linked(&self, a: usize, b: usize) -> bool {
        let alive = |i: usize| self.boxes.get(i).is_some_and(|x| x.alive);
        alive(a) && alive(b)
    }

    /// The one-way latency of the link between `a` and `b`, fixed for the run.
    fn latency(&self, a: usize, b: usize) -> Duration {
        let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
        let spread = (mix(self.link_seed ^ (lo << 32) ^ hi) % 1001) as f64 / 1000.0;
        self.config.latency.mul_f64(0.5 + spread)
    }

    /// Uploader `to` serves `from`: chunks queue on its uplink, first come first served.
    fn serve(&mut self, from: usize, to: usize, chunk: u32) {
        let latency = self.latency(from, to);
        let len = self.manifest.chunk_len(chunk) as u64;
        let nanos = u128::from(len) * 1_000_000_000 / u128::from(self.config.uplink.max(1));
        let air = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let now = self.now;
        let Some(uploader) = self.boxes.get_mut(to) else {
            return;
        };
        let valid = !uploader.hostile;
        if !uploader.stored.contains(chunk) {
            self.queue.push(
                now + latency,
                Ev::Refused {
                    from: to,
                    to: from,
                    chunk,
                },
            );
            return;
        }
        let end = uploader.busy_until.max(now) + air;
        uploader.busy_until = end;
        uploader.uploaded += len;
        if !self.lost() {
            let ev = Ev::Chunk {
                from: to,
                to: from,
                chunk,
                valid,
            };
            self.queue.push(end + latency, ev);
        }
    }

    fn arrive(&mut self, from: usize, to: usize, chunk: u32, valid: bool) {
        let (now, song) = (self.now, self.song);
        let Some(b) = self.boxes.get_mut(to) else {
            return;
        };
        let arrival = b.swarm.chunk_arrived(now, id(from), song, chunk, valid);
        if matches!(arrival, Arrival::Stored | Arrival::Completed) {
            b.stored.insert(chunk);
            b.done |= arrival == Arrival::Completed;
            if !valid {
                self.corrupt_stored += 1;
            }
            for j in 0..self.boxes.len() {
                if j != to && self.linked(j, j) {
                    let at = now + self.latency(to, j);
                    self.queue.push(
                        at,
                        Ev::Got {
                            from: to,
                            to: j,
                            chunk,
                        },
                    );
                }
            }
        }
        self.step(to);
    }

    /// Sends what box `i`'s planner wants and keeps its wake-up scheduled.
    fn step(&mut self, i: usize) {
        let now = self.now;
        let fetches = match self.boxes.get_mut(i) {
            Some(b) if b.alive && !b.hostile => b.swarm.poll_fetch(now),
            _ => return,
        };
        for f in fetches {
            let to = index(f.peer);
            if to < self.boxes.len() && !self.lost() {
                let at = now + self.latency(i, to);
                let chunk = f.chunk;
                self.queue.push(at, Ev::Request { from: i, to, chunk });
            }
        }
        let Some(b) = self.boxes.get_mut(i) else {
            return;
        };
        if let Some(t) = b.swarm.poll_timeout() {
            if b.wake != Some(t) {
                b.wake = Some(t);
                self.queue.push(t, Ev::Wake(i));
            }
        }
    }

    fn lost(&mut self) -> bool {
        self.config.loss > 0.0 && self.rng.gen_bool(self.config.loss.min(1.0))
    }

    fn record(&mut self, ev: Ev) {
        let (kind, a, b, c) = match ev {
            Ev::Request { from, to, chunk } => (1, from, to, chunk),
            Ev::Chunk {
                from, to, chunk, ..
            } => (2, from, to, chunk),
            Ev::Refused { from, to, chunk } => (3, from, to, chunk),
            Ev::Got { from, to, chunk } => (4, from, to, chunk),
            Ev::Wake(i) => (5, i, 0, 0),
            Ev::Leave(i) => (6, i, 0, 0),
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
        let mismatched = self
            .boxes
            .iter()
            .filter(|b| !b.hostile && b.swarm.local(&self.song) != Some(&b.stored))
            .count();
        let mut counters = SwarmCounters::default();
        for b in &self.boxes {
            let c = b.swarm.counters();
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
