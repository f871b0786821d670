//! The transfer loop: feeds connection events, disk results, the driver's commands and
//! timers into the core's [`Transfer`] machine and executes the actions it returns. It
//! decides nothing itself.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{self, ConnCtx, ConnEvent, Pacer, Side};
use super::disk::{self, Disk, DiskDone};
use super::{BulkCommand, BulkConfig, BulkStatus, LocalSong};
use crate::clock::monotonic_now;
use crate::core::transfer::{ConnId, SwarmConfig, Transfer, TransferAction, TransferConfig};
use crate::core::SongRef;
use crate::library::cache::{Cache, Written};
use crate::net::streams::SessionCtx;
use crate::proto::Bulk;

/// How often the status is published.
const STATUS_EVERY: Duration = Duration::from_millis(200);

/// The loop's channels and sockets.
#[derive(Debug)]
pub(super) struct Io {
    pub listener: TcpListener,
    pub commands: mpsc::Receiver<BulkCommand>,
    pub held: mpsc::Sender<HashMap<SongRef, PathBuf>>,
    pub status: watch::Sender<BulkStatus>,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
}

/// One connection's tasks: stopped with `cancel`; `tx` once its hello arrived.
#[derive(Debug)]
struct Link {
    cancel: CancellationToken,
    tx: Option<mpsc::Sender<Bulk>>,
}

/// The executor around the machine.
#[derive(Debug)]
struct Runtime {
    machine: Transfer,
    disk: Disk,
    /// Paths and tags of the music folder's songs (the machine knows only which).
    library: HashMap<SongRef, LocalSong>,
    links: HashMap<ConnId, Link>,
    events: mpsc::Sender<ConnEvent>,
    pacer: Option<Arc<Pacer>>,
    session: SessionCtx,
    io: Io,
}

/// Runs until cancelled.
pub(super) async fn run(config: BulkConfig, io: Io) {
    let (quota, dir) = (config.quota_bytes, config.cache_dir.clone());
    let cache = match tokio::task::spawn_blocking(move || Cache::open(&dir, quota)).await {
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
    let held: BTreeSet<SongRef> = cache.songs().into_iter().map(|(s, _)| s).collect();
    let machine_config = TransferConfig {
        me: config.me,
        swarm: SwarmConfig {
            swarming: config.swarm,
            max_in_flight: config.max_in_flight,
            seed: config.me.0,
            ..SwarmConfig::default()
        },
    };
    let (done_tx, mut done_rx) = mpsc::channel(64);
    let (events, mut events_rx) = mpsc::channel(256);
    let mut rt = Runtime {
        machine: Transfer::new(machine_config, monotonic_now(), held),
        disk: Disk::new(cache, io.tracker.clone(), done_tx),
        library: HashMap::new(),
        links: HashMap::new(),
        events,
        pacer: Pacer::new(config.upload_bytes_per_sec),
        session: config.session.clone(),
        io,
    };
    let mut status = tokio::time::interval(STATUS_EVERY);
    status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let cancel = rt.io.cancel.clone();
    loop {
        rt.execute().await;
        let due = rt.machine.poll_timeout() - monotonic_now();
        tokio::select! {
            _ = cancel.cancelled() => break,
            cmd = rt.io.commands.recv() => match cmd {
                Some(cmd) => rt.command(cmd),
                None => break,
            },
            Some(ev) = events_rx.recv() => rt.conn_event(ev),
            Some(done) = done_rx.recv() => rt.disk_done(done),
            accepted = rt.io.listener.accept() => match accepted {
                Ok((socket, remote)) => rt.accept(socket, remote),
                Err(e) => tracing::debug!(error = %e, "bulk accept failed"),
            },
            _ = tokio::time::sleep(due) => rt.machine.handle_timeout(monotonic_now()),
            _ = status.tick() => rt.publish(),
        }
    }
    for link in rt.links.values() {
        link.cancel.cancel();
    }
}

impl Runtime {
    fn conn_ctx(&self, cancel: CancellationToken) -> ConnCtx {
        ConnCtx {
            events: self.events.clone(),
            cancel,
            pacer: self.pacer.clone(),
            session: self.session.clone(),
        }
    }

    fn command(&mut self, cmd: BulkCommand) {
        let now = monotonic_now();
        match cmd {
            BulkCommand::View(view) => self.machine.set_view(now, view),
            BulkCommand::Library(songs) => {
                let refs = songs.keys().copied().collect();
                self.library = songs;
                self.machine.set_library(now, refs);
            }
            BulkCommand::Played(song) => self.machine.played(song),
        }
    }

    fn accept(&mut self, socket: TcpStream, remote: SocketAddr) {
        // Dropping a refused socket closes it.
        let Some(permit) = self.session.admit(remote) else {
            return;
        };
        let Some(conn) = self.machine.accept(monotonic_now()) else {
            self.session.stats.refused(remote, true);
            return;
        };
        let cancel = self.io.cancel.child_token();
        // We answer the dialer's hello only once the machine takes it on.
        let ctx = self.conn_ctx(cancel.clone());
        conn::spawn(&self.io.tracker, conn, socket, Side::Acceptor(permit), ctx);
        self.links.insert(conn, Link { cancel, tx: None });
    }

    fn conn_event(&mut self, ev: ConnEvent) {
        let now = monotonic_now();
        match ev {
            ConnEvent::Hello {
                conn,
                id,
                party,
                tx,
            } => {
                if let Some(link) = self.links.get_mut(&conn) {
                    link.tx = Some(tx);
                    self.machine.hello(now, conn, id, party);
                }
            }
            ConnEvent::Message(conn, msg) => self.machine.message(now, conn, msg),
            ConnEvent::Closed(conn, reason) => {
                if let Some(link) = self.links.remove(&conn) {
                    link.cancel.cancel();
                }
                tracing::trace!(conn, ?reason, "bulk connection ended");
                self.machine.closed(now, conn);
            }
        }
    }

    fn disk_done(&mut self, done: DiskDone) {
        let now = monotonic_now();
        match done {
            DiskDone::Manifest { song, result } => self.machine.manifest_built(now, song, result),
            DiskDone::Begun {
                song,
                result,
                evicted,
            } => {
                let result = result.map_err(|e| disk::failure(&e));
                self.machine.begun(now, song, result, &evicted);
            }
            DiskDone::Read {
                conn,
                song,
                chunk,
                result,
            } => self.machine.chunk_read(conn, song, chunk, result),
            DiskDone::Wrote {
                song,
                chunk,
                result,
            } => {
                let result = result
                    .map(|w| matches!(w, Written::Complete(_)))
                    .map_err(|e| disk::failure(&e));
                self.machine.chunk_written(now, song, chunk, result);
            }
        }
    }

    /// Carries out everything the machine asked for.
    async fn execute(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                TransferAction::HeldChanged(held) => {
                    let paths = self.disk.paths(&held);
                    // Status first: whoever sees the song played must see it fetched.
                    self.publish();
                    let _ = self.io.held.send(paths).await;
                }
                other => self.execute_one(other),
            }
        }
    }

    fn execute_one(&mut self, action: TransferAction) {
        match action {
            TransferAction::Send { conn, msg } => self.send(conn, msg),
            TransferAction::Dial { conn, addr, hello } => {
                let cancel = self.io.cancel.child_token();
                let ctx = self.conn_ctx(cancel.clone());
                conn::dial(&self.io.tracker, conn, addr, hello, ctx);
                self.links.insert(conn, Link { cancel, tx: None });
            }
            TransferAction::Close { conn } => {
                if let Some(link) = self.links.remove(&conn) {
                    link.cancel.cancel();
                }
            }
            TransferAction::BuildManifest { song } => match self.library.get(&song) {
                Some(l) => self
                    .disk
                    .build_manifest(song, l.file.path.clone(), l.tags.clone()),
                None => {
                    let e = Err("not in the music folder".to_owned());
                    self.machine.manifest_built(monotonic_now(), song, e);
                }
            },
            TransferAction::BeginDownload { manifest, pinned } => {
                self.disk.begin(manifest, pinned.into_iter().collect());
            }
            TransferAction::ReadChunk {
                conn,
                manifest,
                chunk,
                from_library,
            } => {
                let file = from_library
                    .then(|| self.library.get(&manifest.song).map(|l| l.file.clone()))
                    .flatten();
                self.disk.read(conn, manifest, chunk, file);
            }
            TransferAction::WriteChunk { manifest, chunk } => self.disk.write(manifest, chunk),
            TransferAction::MarkPlayed { song } => self.disk.played(song),
            TransferAction::HeldChanged(_) => {}
        }
    }

    /// Queues `msg` on the connection; a full queue is the machine's to handle.
    fn send(&mut self, conn: ConnId, msg: Bulk) {
        let tx = self.links.get(&conn).and_then(|l| l.tx.as_ref());
        let unsent = match tx {
            Some(tx) => tx.try_send(msg).err().map(|e| e.into_inner()),
            None => Some(msg),
        };
        if let Some(msg) = unsent {
            self.machine.undeliverable(conn, &msg);
        }
    }

    fn publish(&self) {
        let status = super::report::status(&self.machine, &self.disk, monotonic_now());
        self.io.status.send_replace(status);
    }
}
