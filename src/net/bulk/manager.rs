//! The transfer manager: one task per box that owns the swarm planner, the cache and the
//! bulk connections, and turns their events into requests, served chunks and progress.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{self, ConnEvent, ConnId};
use super::disk::Disk;
use super::progress::Rates;
use super::{BulkCommand, BulkConfig, BulkStatus, LocalSong};
use crate::clock::monotonic_now;
use crate::core::transfer::{Manifest, Swarm, SwarmConfig};
use crate::core::{Instant, NodeId, SongRef, TransferView};
use crate::library::cache::Cache;
use crate::proto::Bulk;

/// Housekeeping period: redials, manifest requests, status.
const TICK: Duration = Duration::from_millis(200);
/// A dial or manifest request unanswered this long is tried again.
pub(super) const RETRY: Duration = Duration::from_secs(2);
/// A box is redialed this soon: when a whole party joins at once, a box often hears of a
/// peer before that peer heard of it, and is turned away once.
pub(super) const REDIAL: Duration = Duration::from_millis(250);
/// Chunks kept in memory after they arrived, to serve peers without reading them back
/// (and before they are written): at least as many as may wait for the disk.
pub(super) const RECENT_CHUNKS: usize = 64;
/// Verified chunks waiting for the disk; no new requests go out beyond this, so a slow
/// SD card holds the download back instead of filling memory.
pub(super) const MAX_PENDING_WRITES: usize = 32;
/// A connection must introduce itself within this long.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Every this many ticks the origin tells refused boxes again that it holds everything.
const REHAVE_TICKS: u32 = 3;
/// Chunk reads in progress for one peer; further requests are refused until they finish.
pub(super) const READS_PER_PEER: usize = 8;
/// A song that failed on this box (disk full, corrupt) is retried after this long.
pub(super) const FAILED_BACKOFF: Duration = Duration::from_secs(30);

/// The manager's channels and sockets.
#[derive(Debug)]
pub(super) struct Io {
    pub listener: TcpListener,
    pub commands: mpsc::Receiver<BulkCommand>,
    pub held: mpsc::Sender<HashMap<SongRef, PathBuf>>,
    pub status: watch::Sender<BulkStatus>,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
}

#[derive(Debug)]
pub(super) struct Peer {
    pub(super) conn: ConnId,
    pub(super) tx: mpsc::Sender<Bulk>,
    pub(super) reads: usize,
}

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) peer: Option<NodeId>,
    pub(super) cancel: CancellationToken,
    pub(super) opened: Instant,
}

#[derive(Debug)]
pub(super) struct Manager {
    pub(super) config: BulkConfig,
    pub(super) swarm: Swarm,
    pub(super) disk: Disk,
    pub(super) view: Option<TransferView>,
    pub(super) library: HashMap<SongRef, LocalSong>,
    pub(super) cached: HashMap<SongRef, PathBuf>,
    pub(super) manifests: HashMap<SongRef, Arc<Manifest>>,
    /// Manifests being built from local files, downloads being started.
    pub(super) pending: HashSet<SongRef>,
    /// Manifests asked of the origin, and when.
    pub(super) asked: HashMap<SongRef, Instant>,
    /// Downloads started (the swarm knows what we hold of them).
    pub(super) begun: HashSet<SongRef>,
    pub(super) failed: HashMap<SongRef, (Instant, String)>,
    pub(super) peers: HashMap<NodeId, Peer>,
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) dialing: HashMap<NodeId, (ConnId, Instant)>,
    pub(super) next_conn: ConnId,
    pub(super) rates: Rates,
    pub(super) storage_error: Option<String>,
    pub(super) corrupt: u64,
    pub(super) events: mpsc::Sender<ConnEvent>,
    pub(super) tracker: TaskTracker,
    pub(super) cancel: CancellationToken,
    pub(super) pacer: Option<Arc<conn::Pacer>>,
    /// Ticks since the manager started.
    pub(super) ticks: u32,
    /// Connections whose box said hello before our roster listed it.
    pub(super) waiting: HashMap<ConnId, (NodeId, mpsc::Sender<Bulk>)>,
    /// What the planner was last told to fetch, and from whom.
    pub(super) wanted: Vec<(SongRef, NodeId)>,
    /// Chunk writes handed to the disk and not done yet.
    pub(super) pending_writes: usize,
    /// The last chunks that arrived, served from memory.
    pub(super) recent: std::collections::VecDeque<(SongRef, u32, bytes::Bytes)>,
    /// Per song this box is the origin of: how often each chunk went out (see
    /// [`Manager::seeding_refuses`]).
    pub(super) sent: HashMap<SongRef, Vec<u16>>,
    /// Peers refused a chunk by the origin's first-copy rule: told again what we hold at
    /// the next tick, so they may ask us once the copies are out.
    pub(super) refused: HashSet<(NodeId, SongRef)>,
    /// Chunks the origin refused, by peer: a second request for one is served, so a wrong
    /// guess about where copies are costs one round trip, never a stall.
    pub(super) refused_chunks: HashSet<(NodeId, SongRef, u32)>,
    /// Bytes of each song received over the network since this box started.
    pub(super) received: HashMap<SongRef, u64>,
}

/// Runs until cancelled.
pub(super) async fn run(config: BulkConfig, mut io: Io) {
    let quota = config.quota_bytes;
    let config_upload = config.upload_bytes_per_sec;
    let dir = config.cache_dir.clone();
    let opened = tokio::task::spawn_blocking(move || Cache::open(&dir, quota)).await;
    let cache = match opened {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "song cache unusable; this box plays only its own music");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "song cache not opened");
            return;
        }
    };
    let (done_tx, mut done_rx) = mpsc::channel(64);
    let (events, mut events_rx) = mpsc::channel(256);
    let cached: HashMap<SongRef, PathBuf> = cache
        .songs()
        .into_iter()
        .filter_map(|(s, _)| cache.path_of(&s).map(|p| (s, p)))
        .collect();
    let _ = io.held.send(cached.clone()).await;
    let swarm = Swarm::new(SwarmConfig {
        swarming: config.swarm,
        max_in_flight: config.max_in_flight,
        seed: config.me.0,
        ..SwarmConfig::default()
    });
    let mut m = Manager {
        disk: Disk::new(cache, io.tracker.clone(), done_tx),
        config,
        swarm,
        view: None,
        library: HashMap::new(),
        cached,
        manifests: HashMap::new(),
        pending: HashSet::new(),
        asked: HashMap::new(),
        begun: HashSet::new(),
        failed: HashMap::new(),
        peers: HashMap::new(),
        conns: HashMap::new(),
        dialing: HashMap::new(),
        next_conn: 0,
        rates: Rates::default(),
        storage_error: None,
        corrupt: 0,
        events,
        tracker: io.tracker.clone(),
        cancel: io.cancel.clone(),
        pacer: conn::Pacer::new(config_upload),
        received: HashMap::new(),
        recent: std::collections::VecDeque::new(),
        pending_writes: 0,
        wanted: Vec::new(),
        waiting: HashMap::new(),
        ticks: 0,
        sent: HashMap::new(),
        refused: HashSet::new(),
        refused_chunks: HashSet::new(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now_before = monotonic_now();
        let swarm_due = m
            .swarm
            .poll_timeout()
            .map_or(Duration::from_secs(3600), |t| t - now_before);
        tokio::select! {
            _ = io.cancel.cancelled() => break,
            cmd = io.commands.recv() => match cmd {
                Some(cmd) => m.command(cmd),
                None => break,
            },
            Some(ev) = events_rx.recv() => m.conn_event(ev),
            Some(done) = done_rx.recv() => {
                if let Some(held) = m.disk_done(done) {
                    // Status first: whoever sees the song played must see it fetched.
                    io.status.send_replace(m.status());
                    let _ = io.held.send(held).await;
                }
            }
            accepted = io.listener.accept() => match accepted {
                Ok((socket, _)) => m.accept(socket),
                Err(e) => tracing::debug!(error = %e, "bulk accept failed"),
            },
            _ = tokio::time::sleep(swarm_due) => m.swarm.handle_timeout(monotonic_now()),
            _ = tick.tick() => {
                m.tick();
                io.status.send_replace(m.status());
            }
        }
        m.pump();
    }
    for c in m.conns.values() {
        c.cancel.cancel();
    }
}

impl Manager {
    pub(super) fn command(&mut self, cmd: BulkCommand) {
        match cmd {
            BulkCommand::View(view) => {
                if view.as_ref().map(|v| v.party) != self.view.as_ref().map(|v| v.party) {
                    self.leave_party();
                }
                self.view = view;
                self.admit_waiting();
                self.refresh();
            }
            BulkCommand::Library(songs) => {
                self.library = songs;
                self.refresh();
            }
            BulkCommand::Played(song) => {
                if self.cached.contains_key(&song) {
                    self.disk.played(song);
                }
            }
        }
    }

    /// Drops every connection and download plan (the party ended or changed).
    pub(super) fn leave_party(&mut self) {
        self.waiting.clear();
        for (_, c) in self.conns.drain() {
            c.cancel.cancel();
        }
        for (id, _) in self.peers.drain() {
            self.swarm.peer_gone(id);
        }
        self.dialing.clear();
        self.asked.clear();
        self.swarm.set_wanted(Vec::new());
        self.wanted.clear();
        // Manifests come from the origin of each party's songs: start afresh, so memory
        // stays bounded over many parties.
        for song in self.manifests.keys().copied().collect::<Vec<_>>() {
            self.swarm.forget(&song);
        }
        self.manifests.clear();
        self.begun.clear();
        self.failed.clear();
        self.sent.clear();
        self.refused.clear();
        self.refused_chunks.clear();
        self.recent.clear();
    }

    /// The songs to hold, each with the box it comes from.
    pub(super) fn window(&self) -> Vec<(SongRef, NodeId)> {
        self.view
            .as_ref()
            .map(|v| v.window.clone())
            .unwrap_or_default()
    }

    pub(super) fn origin_of(&self, song: &SongRef) -> Option<NodeId> {
        self.view
            .as_ref()?
            .window
            .iter()
            .find(|(s, _)| s == song)
            .map(|(_, o)| *o)
    }

    pub(super) fn holds_whole(&self, song: &SongRef) -> Option<PathBuf> {
        self.library
            .get(song)
            .map(|l| l.path.clone())
            .or_else(|| self.cached.get(song).cloned())
    }

    /// Brings plans in line with the view: manifests, downloads, wanted songs, dials.
    pub(super) fn refresh(&mut self) {
        let now = monotonic_now();
        let window = self.window();
        let pinned: HashSet<SongRef> = window.iter().map(|(s, _)| *s).collect();
        for &(song, origin) in &window {
            if self.pending.contains(&song) {
                continue;
            }
            match self.manifests.get(&song).cloned() {
                None => match self.library.get(&song) {
                    Some(local) => {
                        self.pending.insert(song);
                        let (path, tags) = (local.path.clone(), local.tags.clone());
                        self.disk.build_manifest(song, path, tags);
                    }
                    // Not in our music folder (missing, or only in the cache): the manifest
                    // comes from the origin. A cached song plays meanwhile, served to nobody.
                    None => self.ask_manifest(now, song, origin),
                },
                Some(m) if self.holds_whole(&song).is_none() && !self.begun.contains(&song) => {
                    let failed = self
                        .failed
                        .get(&song)
                        .is_some_and(|(at, _)| now - *at < FAILED_BACKOFF);
                    if !failed {
                        self.pending.insert(song);
                        self.disk.begin(m, pinned.clone());
                    }
                }
                _ => {}
            }
        }
        // The planner is told only when the list changes: refresh runs on every tick, and
        // each manifest carries its whole chunk list.
        let wanted: Vec<(SongRef, NodeId)> = window
            .iter()
            .filter(|(s, _)| self.begun.contains(s) || self.holds_whole(s).is_some())
            .filter(|(s, _)| self.manifests.contains_key(s))
            .copied()
            .collect();
        if wanted != self.wanted {
            let manifests = wanted
                .iter()
                .filter_map(|(s, origin)| self.manifests.get(s).map(|m| ((**m).clone(), *origin)))
                .collect();
            self.swarm.set_wanted(manifests);
            self.wanted = wanted;
        }
        self.rates.retain(|s| pinned.contains(s));
        self.dial_missing(now);
    }

    pub(super) fn ask_manifest(&mut self, now: Instant, song: SongRef, origin: NodeId) {
        if self.asked.get(&song).is_some_and(|t| now - *t < RETRY) {
            return;
        }
        if let Some(p) = self.peers.get(&origin) {
            if p.tx.try_send(Bulk::WantManifest { song }).is_ok() {
                self.asked.insert(song, now);
            }
        }
    }

    pub(super) fn tick(&mut self) {
        let now = monotonic_now();
        self.failed.retain(|_, (at, _)| now - *at < FAILED_BACKOFF);
        // A connection that never said hello is closed, so it cannot hold a slot.
        let stale: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, c)| now - c.opened > HELLO_TIMEOUT && self.peer_of(**id).is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.waiting.remove(&id);
            if let Some(c) = self.conns.remove(&id) {
                c.cancel.cancel();
            }
        }
        // Refused boxes get a while to find the copies before the origin is theirs again.
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % REHAVE_TICKS == 0 {
            for (peer, song) in std::mem::take(&mut self.refused) {
                if let Some(have) = self.have_message(&song) {
                    self.send(peer, have);
                }
            }
        }
        self.refresh();
    }

    /// Sends the requests the planner wants sent now.
    pub(super) fn pump(&mut self) {
        if self.pending_writes >= MAX_PENDING_WRITES {
            return;
        }
        for f in self.swarm.poll_fetch(monotonic_now()) {
            let msg = Bulk::Request {
                song: f.song,
                chunk: f.chunk,
            };
            tracing::trace!(peer = %f.peer, song = ?f.song, chunk = f.chunk, "request");
            if let Some(p) = self.peers.get(&f.peer) {
                if p.tx.try_send(msg).is_err() {
                    self.swarm.chunk_refused(f.peer, f.song, f.chunk);
                }
            }
        }
    }
}
