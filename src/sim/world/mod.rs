//! The simulation itself: core nodes on a virtual clock, the queue of pending deliveries
//! and timers, crash and restart, and the trace.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::invariants::Violation;
use super::network::{LinkModel, Network, SegmentId};
use super::queue::EventQueue;
use super::streams::{CrashMode, EndRef, StreamModel, StreamTable};
use super::trace::{Trace, TraceKind};
use crate::core::{Event, Instant, Node, NodeConfig, NodeId, PoolSong, Signer, SongRef, Via};
use crate::identity::Identity;

/// The UDP port every simulated box listens on unless its config says otherwise.
pub const NODE_PORT: u16 = 7701;

/// The address of box `index`: 10.0.x.y:7701, counting from 10.0.0.1.
pub fn node_addr(index: usize) -> SocketAddr {
    let n = index.wrapping_add(1);
    let [x, y] = [(n >> 8) as u8, n as u8];
    SocketAddr::from((Ipv4Addr::new(10, 0, x, y), NODE_PORT))
}

/// Counts of what the network did, for tests of the network model itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams the nodes asked to send.
    pub transmits: u64,
    /// Copies put on the wire (one per receiver of a multicast, more when duplicated).
    pub scheduled: u64,
    pub lost: u64,
    /// Copies dropped by a partition or cut link.
    pub blocked: u64,
    pub duplicated: u64,
    /// Unicast to an address no box has, or with no route to it.
    pub unroutable: u64,
    pub delivered: u64,
    pub dropped_at_crashed: u64,
    pub timeouts: u64,
    /// Control streams accepted by their target.
    pub streams_opened: u64,
    /// Connects that failed (unreachable, refused, timed out).
    pub connects_failed: u64,
    /// Streams cut by a partition or reset by a restarted box.
    pub streams_broken: u64,
    /// Stream messages handed to a node.
    pub stream_messages: u64,
    /// Sends on a stream the simulator does not know or that is broken: dropped.
    pub stream_sends_dropped: u64,
    /// Pairs of live boxes seen hosting the same party in the same term (allowed while
    /// they cannot hear each other, and briefly after; see `Breach::TwoHosts`).
    pub term_twins: u64,
}

/// An event a node reported, with when and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    pub at: Instant,
    pub node: usize,
    pub event: Event,
}

#[derive(Debug)]
enum Pending {
    Deliver {
        to: usize,
        from: usize,
        via: Via,
        payload: Arc<[u8]>,
    },
    Timer {
        node: usize,
        generation: u64,
    },
    /// The connect of stream connection `conn` reaches its target.
    StreamOpen {
        conn: u64,
    },
    /// A message sent by end `dir` of `conn` arrives at the other end.
    StreamData {
        conn: u64,
        dir: usize,
        payload: Arc<[u8]>,
    },
    /// End `to` of `conn` learns that its stream closed (or never opened).
    StreamClosed {
        conn: u64,
        to: EndRef,
    },
}

#[derive(Debug)]
struct Slot {
    config: NodeConfig,
    addr: SocketAddr,
    node: Option<Node>,
    /// Bumped whenever a new timer is queued; older timers are ignored when they pop.
    timer_generation: u64,
    timer_at: Option<Instant>,
    /// When the last datagram this box sent arrives (or arrived) anywhere.
    last_arrival: Instant,
    /// Incarnation: bumped at every crash and restart, so old streams stay old.
    boot: u64,
    /// How the box went down, while it is down.
    down: Option<CrashMode>,
    /// Its library and song cache: they survive a crash, and a restarted node gets them.
    pool: Vec<PoolSong>,
    /// The playlist `pool` follows, if one.
    playlist: Option<String>,
    held: Vec<SongRef>,
}

/// N core nodes on a simulated network, driven one event at a time.
#[derive(Debug)]
pub struct Sim {
    seed: u64,
    rng: StdRng,
    now: Instant,
    network: Network,
    slots: Vec<Slot>,
    ids: BTreeMap<NodeId, usize>,
    addrs: BTreeMap<SocketAddr, usize>,
    /// Control (TCP) addresses: the box's IP and its `party.control_port`.
    control_addrs: BTreeMap<SocketAddr, usize>,
    streams: StreamTable,
    stream_model: StreamModel,
    events: Vec<SimEvent>,
    queue: EventQueue<Pending>,
    trace: Trace,
    stats: SimStats,
    /// Bumped whenever any neighbour table gains or loses a box.
    topology_version: u64,
    /// The boxes' speakers, when playback is checked ([`Sim::enable_playback`]).
    audio: Option<Box<audio::Audio>>,
}

impl Sim {
    /// An empty simulation at time zero; see [`Sim::builder`] for the usual way in.
    pub fn new(seed: u64, default_link: LinkModel, keep_trace_records: bool) -> Self {
        Sim {
            seed,
            rng: StdRng::seed_from_u64(seed),
            now: Instant::ZERO,
            network: Network::new(default_link),
            slots: Vec::new(),
            ids: BTreeMap::new(),
            addrs: BTreeMap::new(),
            control_addrs: BTreeMap::new(),
            streams: StreamTable::default(),
            stream_model: StreamModel::default(),
            events: Vec::new(),
            queue: EventQueue::new(),
            trace: Trace::new(keep_trace_records),
            stats: SimStats::default(),
            topology_version: 0,
            audio: None,
        }
    }

    /// Powers on a new box on `segments`; `configure` adjusts its default config (id and
    /// name are already set). Returns its index.
    pub fn add_node(
        &mut self,
        segments: &[SegmentId],
        configure: impl FnOnce(&mut NodeConfig),
    ) -> usize {
        let index = self.network.add_box(segments);
        // Each box has a key of its own, drawn from the run's seed, and the id it proves.
        let identity = loop {
            let identity = Identity::from_secret(self.rng.gen());
            if !self.ids.contains_key(&identity.id()) {
                break identity;
            }
        };
        let mut config = NodeConfig::new(identity.id(), format!("box{index}"));
        config.party.signer = Some(Signer::new(identity));
        config.unicast_port = NODE_PORT;
        configure(&mut config);
        let addr = SocketAddr::new(node_addr(index).ip(), config.unicast_port);
        let seed = self.rng.gen();
        self.ids.insert(config.id, index);
        self.addrs.insert(addr, index);
        let control = SocketAddr::new(addr.ip(), config.party.control_port);
        self.control_addrs.insert(control, index);
        self.slots.push(Slot {
            node: Some(Node::new(config.clone(), self.now, seed)),
            config,
            addr,
            timer_generation: 0,
            timer_at: None,
            last_arrival: Instant::ZERO,
            boot: 0,
            down: None,
            pool: Vec::new(),
            playlist: None,
            held: Vec::new(),
        });
        self.schedule_timer(index);
        index
    }

    /// Runs the next queued event. Returns false if nothing is left to run.
    pub fn step(&mut self) -> Result<bool, Violation> {
        self.skip_stale_timers();
        let Some((at, pending)) = self.queue.pop() else {
            return Ok(false);
        };
        self.audio_until(at)?;
        self.now = self.now.max(at);
        match pending {
            Pending::Timer { node, .. } => self.fire_timer(node)?,
            Pending::Deliver {
                to,
                from,
                via,
                payload,
            } => self.deliver(to, from, via, &payload)?,
            Pending::StreamOpen { conn } => self.open_stream(conn)?,
            Pending::StreamData { conn, dir, payload } => {
                self.deliver_stream(conn, dir, &payload)?;
            }
            Pending::StreamClosed { conn, to } => self.notify_closed(conn, to)?,
        }
        Ok(true)
    }

    /// Runs every event due at or before `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) -> Result<(), Violation> {
        while self.next_event_time().is_some_and(|t| t <= until) {
            self.step()?;
        }
        self.audio_until(until)?;
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Violation> {
        self.run_until(self.now + d)
    }

    /// Runs until `pred` holds, at most until `deadline`; returns when it first held.
    /// `pred` is evaluated at the start and after every step in which some node gained or
    /// lost a neighbour, so it should depend on neighbour tables only.
    pub fn first_time_when(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Sim) -> bool,
    ) -> Result<Option<Instant>, Violation> {
        let mut seen = self.topology_version;
        if pred(self) {
            return Ok(Some(self.now));
        }
        while self.next_event_time().is_some_and(|t| t <= deadline) {
            self.step()?;
            if self.topology_version != seen {
                seen = self.topology_version;
                if pred(self) {
                    return Ok(Some(self.now));
                }
            }
        }
        self.audio_until(deadline)?;
        self.now = self.now.max(deadline);
        Ok(None)
    }

    /// Runs until `pred` holds, checking after every step, at most until `deadline`;
    /// returns when it first held (unlike [`Sim::first_time_when`], any state may be
    /// tested, at the cost of evaluating `pred` after each event).
    pub fn wait_for(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Sim) -> bool,
    ) -> Result<Option<Instant>, Violation> {
        if pred(self) {
            return Ok(Some(self.now));
        }
        while self.next_event_time().is_some_and(|t| t <= deadline) {
            self.step()?;
            if pred(self) {
                return Ok(Some(self.now));
            }
        }
        self.audio_until(deadline)?;
        self.now = self.now.max(deadline);
        Ok(None)
    }

    /// Kills box `i` by pulling its plug ([`CrashMode::PowerLoss`]): nothing more is
    /// delivered to it and its timers stop; what it already sent still arrives. Returns
    /// false if it was not running.
    pub fn crash(&mut self, i: usize) -> bool {
        self.crash_with(i, CrashMode::PowerLoss)
    }

    /// Kills box `i` in the given mode (see [`CrashMode`] for what its peers notice).
    pub fn crash_with(&mut self, i: usize, mode: CrashMode) -> bool {
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        if slot.node.take().is_none() {
            return false;
        }
        slot.timer_at = None;
        slot.down = Some(mode);
        let old_boot = slot.boot;
        slot.boot += 1;
        self.drop_streams_of(i, old_boot, mode);
        self.topology_version += 1;
        self.record(i, TraceKind::Crash, &[]);
        tracing::debug!(node = i, at = ?self.now, "sim: crash");
        true
    }

    /// Boots box `i` again: a fresh node with the same config (and id) and a new seed;
    /// its old streams are gone. A running box is rebooted (its process is killed
    /// first). Returns false if there is no such box.
    pub fn restart(&mut self, i: usize) -> bool {
        if self.is_up(i) {
            self.crash_with(i, CrashMode::ProcessKill);
        }
        let seed = self.rng.gen();
        let now = self.now;
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        slot.boot += 1;
        slot.down = None;
        let mut node = Node::new(slot.config.clone(), now, seed);
        // A reboot keeps the box's library and cache.
        node.set_playlist(slot.pool.clone(), slot.playlist.clone());
        if !slot.held.is_empty() {
            node.set_held(now, slot.held.iter().copied().collect());
        }
        slot.node = Some(node);
        slot.timer_at = None;
        self.topology_version += 1;
        self.record(i, TraceKind::Restart, &[]);
        self.schedule_timer(i);
        tracing::debug!(node = i, at = ?now, "sim: restart");
        true
    }

    /// Drops the queued timers of nodes that rescheduled or crashed, so the queue head
    /// is a real event and `run_until` never runs past its bound.
    fn skip_stale_timers(&mut self) {
        while let Some((_, Pending::Timer { node, generation })) = self.queue.peek() {
            let live = self
                .slots
                .get(*node)
                .is_some_and(|s| s.node.is_some() && s.timer_generation == *generation);
            if live {
                return;
            }
            self.queue.pop();
        }
    }

    fn next_event_time(&mut self) -> Option<Instant> {
        self.skip_stale_timers();
        self.queue.peek_time()
    }

    /// Checks every running node now (the timer-dependent rules are skipped).
    pub fn check_invariants(&self) -> Result<(), Violation> {
        (0..self.slots.len()).try_for_each(|i| self.check_node(i, false))
    }
}

mod audio;
mod dispatch;
mod party;
mod query;
mod stream_faults;
mod streams;

pub use party::CommandFailed;

#[cfg(test)]
mod tests;
