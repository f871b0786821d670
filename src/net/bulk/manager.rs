//! The transfer manager: one task per box that owns the swarm planner, the cache and the
//! bulk connections, and turns their events into requests, served chunks and progress.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{self, ConnEvent, ConnId};
use super::disk::{Disk, DiskDone};
use super::progress::{eta_ms, Rates};
use super::{BulkCommand, BulkConfig, BulkStatus, LocalSong};
use crate::core::transfer::{ChunkSet, Manifest, Swarm, SwarmConfig};
use crate::core::{Instant, NodeId, SongRef, TransferView};
use crate::library::cache::{Cache, CacheError, Written};
use crate::net::monotonic_now;
use crate::proto::Bulk;
use crate::status::{StorageStatus, TransferStatus};

/// Housekeeping period: redials, manifest requests, status.
const TICK: Duration = Duration::from_millis(200);
/// A dial or manifest request unanswered this long is tried again.
const RETRY: Duration = Duration::from_secs(2);
/// Chunk reads in progress for one peer; further requests are refused until they finish.
const READS_PER_PEER: usize = 8;
/// A song that failed on this box (disk full, corrupt) is retried after this long.
const FAILED_BACKOFF: Duration = Duration::from_secs(30);

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
struct Peer {
    conn: ConnId,
    tx: mpsc::Sender<Bulk>,
    reads: usize,
}

#[derive(Debug)]
struct Conn {
    peer: Option<NodeId>,
    cancel: CancellationToken,
}

#[derive(Debug)]
struct Manager {
    config: BulkConfig,
    swarm: Swarm,
    disk: Disk,
    view: Option<TransferView>,
    library: HashMap<SongRef, LocalSong>,
    cached: HashMap<SongRef, PathBuf>,
    manifests: HashMap<SongRef, Arc<Manifest>>,
    /// Manifests being built from local files, downloads being started.
    pending: HashSet<SongRef>,
    /// Manifests asked of the origin, and when.
    asked: HashMap<SongRef, Instant>,
    /// Downloads started (the swarm knows what we hold of them).
    begun: HashSet<SongRef>,
    failed: HashMap<SongRef, (Instant, String)>,
    peers: HashMap<NodeId, Peer>,
    conns: HashMap<ConnId, Conn>,
    dialing: HashMap<NodeId, (ConnId, Instant)>,
    next_conn: ConnId,
    rates: Rates,
    storage_error: Option<String>,
    corrupt: u64,
    events: mpsc::Sender<ConnEvent>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    pacer: Option<Arc<conn::Pacer>>,
    /// Bytes of each song received over the network since this box started.
    received: HashMap<SongRef, u64>,
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
    fn command(&mut self, cmd: BulkCommand) {
        match cmd {
            BulkCommand::View(view) => {
                if view.as_ref().map(|v| v.party) != self.view.as_ref().map(|v| v.party) {
                    self.leave_party();
                }
                self.view = view;
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
    fn leave_party(&mut self) {
        for (_, c) in self.conns.drain() {
            c.cancel.cancel();
        }
        for (id, _) in self.peers.drain() {
            self.swarm.peer_gone(id);
        }
        self.dialing.clear();
        self.asked.clear();
        self.swarm.set_wanted(Vec::new());
    }

    /// The songs to hold, each with the box it comes from.
    fn window(&self) -> Vec<(SongRef, NodeId)> {
        self.view
            .as_ref()
            .map(|v| v.window.clone())
            .unwrap_or_default()
    }

    fn origin_of(&self, song: &SongRef) -> Option<NodeId> {
        self.view
            .as_ref()?
            .window
            .iter()
            .find(|(s, _)| s == song)
            .map(|(_, o)| *o)
    }

    fn holds_whole(&self, song: &SongRef) -> Option<PathBuf> {
        self.library
            .get(song)
            .map(|l| l.path.clone())
            .or_else(|| self.cached.get(song).cloned())
    }

    /// Brings plans in line with the view: manifests, downloads, wanted songs, dials.
    fn refresh(&mut self) {
        let now = monotonic_now();
        let window = self.window();
        let pinned: HashSet<SongRef> = window.iter().map(|(s, _)| *s).collect();
        for (song, origin) in &window {
            let origin = Some(*origin);
            if self.pending.contains(song) {
                continue;
            }
            match (self.manifests.get(song).cloned(), self.holds_whole(song)) {
                (None, Some(path)) => {
                    if let Some(local) = self.library.get(song) {
                        self.pending.insert(*song);
                        self.disk
                            .build_manifest(*song, local.path.clone(), local.tags.clone());
                    } else {
                        // A cached song: its manifest comes from the origin like any other;
                        // until then it is served to nobody but still plays here.
                        let _ = path;
                        self.ask_manifest(now, *song, origin);
                    }
                }
                (None, None) => self.ask_manifest(now, *song, origin),
                (Some(m), None) if !self.begun.contains(song) => {
                    let failed = self
                        .failed
                        .get(song)
                        .is_some_and(|(at, _)| now - *at < FAILED_BACKOFF);
                    if !failed {
                        self.pending.insert(*song);
                        self.disk.begin(m, pinned.clone());
                    }
                }
                _ => {}
            }
        }
        let wanted: Vec<(Manifest, NodeId)> = window
            .iter()
            .filter(|(s, _)| self.begun.contains(s) || self.holds_whole(s).is_some())
            .filter_map(|(s, origin)| self.manifests.get(s).map(|m| ((**m).clone(), *origin)))
            .collect();
        self.swarm.set_wanted(wanted);
        self.rates.retain(|s| pinned.contains(s));
        self.dial_missing(now);
    }

    fn ask_manifest(&mut self, now: Instant, song: SongRef, origin: Option<NodeId>) {
        let Some(origin) = origin else { return };
        if self.asked.get(&song).is_some_and(|t| now - *t < RETRY) {
            return;
        }
        if let Some(p) = self.peers.get(&origin) {
            if p.tx.try_send(Bulk::WantManifest { song }).is_ok() {
                self.asked.insert(song, now);
            }
        }
    }

    /// Dials every party box with a higher id that is not connected (the other side of
    /// each pair dials us), so each pair has one connection.
    fn dial_missing(&mut self, now: Instant) {
        let Some(view) = &self.view else { return };
        let targets: Vec<_> = view
            .peers
            .iter()
            .filter(|(id, _)| *id > self.config.me && !self.peers.contains_key(id))
            .filter(|(id, _)| {
                self.dialing
                    .get(id)
                    .is_none_or(|(_, at)| now - *at >= RETRY)
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

    fn new_conn(&mut self, peer: Option<NodeId>) -> ConnId {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conns.insert(
            conn,
            Conn {
                peer,
                cancel: self.cancel.child_token(),
            },
        );
        conn
    }

    fn conn_cancel(&self, conn: ConnId) -> CancellationToken {
        self.conns
            .get(&conn)
            .map_or_else(CancellationToken::new, |c| c.cancel.clone())
    }

    fn accept(&mut self, socket: tokio::net::TcpStream) {
        let Some(view) = &self.view else {
            return; // not in a party: nothing to trade
        };
        let hello = Bulk::Hello {
            id: self.config.me,
            party: view.party,
        };
        let conn = self.new_conn(None);
        let cancel = self.conn_cancel(conn);
        let pacer = self.pacer.clone();
        conn::spawn(
            &self.tracker,
            conn,
            socket,
            hello,
            self.events.clone(),
            cancel,
            pacer,
        );
    }

    fn conn_event(&mut self, ev: ConnEvent) {
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

    fn peer_of(&self, conn: ConnId) -> Option<NodeId> {
        let id = self.conns.get(&conn)?.peer?;
        (self.peers.get(&id)?.conn == conn).then_some(id)
    }

    fn hello(
        &mut self,
        conn: ConnId,
        id: NodeId,
        party: crate::proto::PartyId,
        tx: mpsc::Sender<Bulk>,
    ) {
        let known = self
            .view
            .as_ref()
            .is_some_and(|v| v.party == party && v.peers.iter().any(|(p, _)| *p == id));
        let expected = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.peer.is_none_or(|p| p == id));
        if !known || !expected || id == self.config.me {
            if let Some(c) = self.conns.remove(&conn) {
                c.cancel.cancel();
            }
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer = Some(id);
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

    fn have_message(&self, song: &SongRef) -> Option<Bulk> {
        let have = self.swarm.local(song)?;
        (have.count() > 0).then(|| Bulk::Have {
            song: *song,
            chunks: have.len(),
            bits: have.bits().to_vec(),
        })
    }

    fn broadcast(&self, msg: &Bulk) {
        for p in self.peers.values() {
            let _ = p.tx.try_send(msg.clone());
        }
    }

    fn message(&mut self, peer: NodeId, conn: ConnId, msg: Bulk) {
        let now = monotonic_now();
        match msg {
            Bulk::Hello { .. } => {}
            Bulk::WantManifest { song } => {
                let reply = match self.manifests.get(&song) {
                    Some(m) => Bulk::Manifest(Box::new((**m).clone())),
                    None => Bulk::NoManifest { song },
                };
                self.send(peer, reply);
            }
            Bulk::Manifest(m) => self.manifest_arrived(peer, *m),
            Bulk::NoManifest { song } => {
                self.asked.remove(&song);
            }
            Bulk::Have { song, chunks, bits } => {
                if let Ok(set) = ChunkSet::from_bits(chunks, bits) {
                    self.swarm.peer_have(peer, song, set);
                }
            }
            Bulk::Got { song, chunk } => self.swarm.peer_got(peer, song, chunk),
            Bulk::Request { song, chunk } => self.serve(peer, conn, song, chunk),
            Bulk::Chunk { song, chunk, data } => self.chunk(now, peer, song, chunk, data),
            Bulk::Refuse { song, chunk } => self.swarm.chunk_refused(peer, song, chunk),
        }
    }

    fn send(&self, peer: NodeId, msg: Bulk) {
        if let Some(p) = self.peers.get(&peer) {
            let _ = p.tx.try_send(msg);
        }
    }

    /// Only the song's origin is believed, and only for a song we asked about.
    fn manifest_arrived(&mut self, peer: NodeId, m: Manifest) {
        if self.origin_of(&m.song) != Some(peer) || !self.asked.contains_key(&m.song) {
            return;
        }
        if let Err(e) = m.validate() {
            tracing::warn!(%peer, error = %e, "manifest refused");
            return;
        }
        self.asked.remove(&m.song);
        self.manifests.insert(m.song, Arc::new(m));
        self.refresh();
    }

    fn serve(&mut self, peer: NodeId, conn: ConnId, song: SongRef, chunk: u32) {
        let manifest = self.manifests.get(&song).cloned();
        let path = self.library.get(&song).map(|l| l.path.clone());
        let held = path.is_some()
            || self.cached.contains_key(&song)
            || self.swarm.local(&song).is_some_and(|h| h.contains(chunk));
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        match manifest {
            Some(m) if held && p.reads < READS_PER_PEER && chunk < m.chunk_count() => {
                p.reads += 1;
                self.disk.read(conn, m, chunk, path);
            }
            _ => {
                let _ = p.tx.try_send(Bulk::Refuse { song, chunk });
            }
        }
    }

    fn chunk(&mut self, now: Instant, peer: NodeId, song: SongRef, chunk: u32, data: Bytes) {
        let Some(m) = self.manifests.get(&song).cloned() else {
            return;
        };
        let valid = m.verify_chunk(chunk, &data);
        match self.swarm.chunk_arrived(now, peer, song, chunk, valid) {
            crate::core::transfer::Arrival::Stored | crate::core::transfer::Arrival::Completed => {
                self.rates.add(now, song, data.len() as u64);
                *self.received.entry(song).or_default() += data.len() as u64;
                self.disk.write(m, chunk, data);
            }
            crate::core::transfer::Arrival::Corrupt => {
                self.corrupt += 1;
                tracing::warn!(%peer, ?song, chunk, "chunk failed verification; fetching it elsewhere");
            }
            _ => {}
        }
    }

    /// Handles a finished blocking job; returns the new cache contents if they changed.
    fn disk_done(&mut self, done: DiskDone) -> Option<HashMap<SongRef, PathBuf>> {
        let now = monotonic_now();
        match done {
            DiskDone::Manifest { song, result } => {
                self.pending.remove(&song);
                match result {
                    Ok(m) => {
                        let chunks = m.chunk_count();
                        self.manifests.insert(song, Arc::new(m));
                        self.swarm.set_local(song, ChunkSet::full(chunks));
                        if let Some(h) = self.have_message(&song) {
                            self.broadcast(&h);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot offer a song"),
                }
                self.refresh();
            }
            DiskDone::Begun { song, result } => {
                self.pending.remove(&song);
                match result {
                    Ok(have) => {
                        self.begun.insert(song);
                        self.failed.remove(&song);
                        let complete = have.is_complete();
                        self.swarm.set_local(song, have);
                        if let Some(h) = self.have_message(&song) {
                            self.broadcast(&h);
                        }
                        self.refresh();
                        if complete {
                            return self.completed(song);
                        }
                    }
                    Err(e) => self.fail(now, song, &e),
                }
            }
            DiskDone::Read {
                conn,
                song,
                chunk,
                result,
            } => {
                let peer = self.peer_of(conn)?;
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.reads = p.reads.saturating_sub(1);
                    let msg = match result {
                        Ok(data) => Bulk::Chunk { song, chunk, data },
                        Err(e) => {
                            tracing::debug!(?song, chunk, error = %e, "cannot serve a chunk");
                            Bulk::Refuse { song, chunk }
                        }
                    };
                    let _ = p.tx.try_send(msg);
                }
            }
            DiskDone::Wrote {
                song,
                chunk,
                result,
            } => match result {
                Ok(Written::Stored) => self.broadcast(&Bulk::Got { song, chunk }),
                Ok(Written::Complete(path)) => {
                    self.broadcast(&Bulk::Got { song, chunk });
                    tracing::info!(?song, path = %path.display(), "song fetched");
                    self.cached.insert(song, path);
                    return Some(self.cached.clone());
                }
                Err(e) => {
                    // Not written after all: the swarm must fetch it again.
                    if let Some(mut have) = self.swarm.local(&song).cloned() {
                        have.remove(chunk);
                        self.swarm.set_local(song, have);
                    }
                    self.fail(now, song, &e);
                }
            },
        }
        None
    }

    fn completed(&mut self, song: SongRef) -> Option<HashMap<SongRef, PathBuf>> {
        let path = self.disk.cache.lock().ok()?.path_of(&song)?;
        self.cached.insert(song, path);
        Some(self.cached.clone())
    }

    fn fail(&mut self, now: Instant, song: SongRef, e: &CacheError) {
        tracing::warn!(?song, error = %e, "song not fetched");
        if matches!(
            e,
            CacheError::DiskFull { .. } | CacheError::QuotaExceeded { .. }
        ) {
            self.storage_error = Some(e.to_string());
        }
        if matches!(e, CacheError::CorruptSong { .. }) {
            // The manifest lied: forget it and ask again later.
            self.manifests.remove(&song);
            self.begun.remove(&song);
        }
        self.failed.insert(song, (now, e.to_string()));
    }

    fn tick(&mut self) {
        let now = monotonic_now();
        self.failed.retain(|_, (at, _)| now - *at < FAILED_BACKOFF);
        self.refresh();
    }

    /// Sends the requests the planner wants sent now.
    fn pump(&mut self) {
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

    fn status(&self) -> BulkStatus {
        let now = monotonic_now();
        let transfers = self
            .window()
            .iter()
            .map(|(song, _)| self.transfer_status(now, song))
            .collect();
        let storage = self.disk.cache.lock().ok().map(|c| {
            let u = c.usage();
            StorageStatus {
                used_bytes: u.used,
                quota_bytes: u.quota,
                songs: u.songs,
                error: self.storage_error.clone(),
                corrupt_chunks: self.corrupt,
            }
        });
        BulkStatus { transfers, storage }
    }

    fn transfer_status(&self, now: Instant, song: &SongRef) -> TransferStatus {
        let m = self.manifests.get(song);
        let size = m.map_or(0, |m| m.size);
        let whole = self.holds_whole(song).is_some();
        let bytes = if whole {
            size
        } else {
            self.swarm.progress(song).map_or(0, |p| p.bytes_held)
        };
        let rate = self.rates.rate(now, song);
        let error = self.failed.get(song).map(|(_, e)| e.clone());
        let state = match (m, whole || (size > 0 && bytes >= size), &error) {
            (_, true, _) => "complete",
            (_, _, Some(_)) => "failed",
            (None, _, _) => "manifest",
            (Some(_), _, _) => "fetching",
        };
        TransferStatus {
            song: crate::library::SongId::from_bytes(song.0).to_string(),
            title: m.map(|m| m.title.clone()).unwrap_or_default(),
            bytes,
            size,
            rate_bps: rate,
            received_bytes: self.received.get(song).copied().unwrap_or(0),
            eta_ms: (state == "fetching")
                .then(|| eta_ms(size.saturating_sub(bytes), rate))
                .flatten(),
            state: state.into(),
            sources: self.peers.keys().filter(|_| m.is_some()).count(),
            error,
        }
    }
}
