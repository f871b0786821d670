//! Song transfer between the boxes of a party, executed: a bulk TCP listener, one
//! connection per pair of boxes, and a task that runs the core's sans-IO [`Transfer`]
//! machine (which makes every decision) and carries out its actions on the connections
//! and the song [`Cache`].
//!
//! - [`conn`]: connection tasks (reader and writer apart, so two boxes sending each other
//!   chunks never deadlock).
//! - [`run`]: the loop that feeds the machine and executes its actions.
//! - [`disk`]: the disk executor: cache and file work on blocking threads.
//! - [`report`]: the `transfers`/`storage` status.
//!
//! [`Transfer`]: crate::core::transfer::Transfer
//! [`Cache`]: crate::library::cache::Cache

mod conn;
mod disk;
mod report;
mod run;

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::streams::SessionCtx;
use crate::core::transfer::Tags;
use crate::core::{NodeId, SongRef, TransferView};
use crate::status::{StorageStatus, TransferStatus};

/// How a box fetches and keeps songs (from the `[songs]` config table).
#[derive(Debug, Clone)]
pub(crate) struct BulkConfig {
    pub me: NodeId,
    pub cache_dir: PathBuf,
    pub quota_bytes: u64,
    pub swarm: bool,
    pub max_in_flight: usize,
    /// Upload limit over all peers; 0: none.
    pub upload_bytes_per_sec: u64,
    /// This box's session keys: every connection is authenticated.
    pub session: SessionCtx,
}

/// A song of the music folder this box can serve.
#[derive(Debug, Clone)]
pub(crate) struct LocalSong {
    /// The file as the last scan saw it.
    pub file: crate::library::Song,
    pub tags: Tags,
}

/// What the driver tells the transfer loop.
#[derive(Debug)]
pub(crate) enum BulkCommand {
    /// The party, its boxes and the songs to hold changed.
    View(Option<TransferView>),
    /// The music folder was scanned.
    Library(HashMap<SongRef, LocalSong>),
    /// A song started playing (least-recently-played eviction).
    Played(SongRef),
}

/// Progress for the status.
#[derive(Debug, Clone, Default)]
pub(crate) struct BulkStatus {
    pub transfers: Vec<TransferStatus>,
    pub storage: Option<StorageStatus>,
}

/// The driver's side of the transfer loop.
#[derive(Debug)]
pub(crate) struct BulkHandle {
    pub commands: mpsc::Sender<BulkCommand>,
    /// The transfer machine's held set (every song complete in the cache) with each
    /// song's file, sent whenever it changes.
    pub held: mpsc::Receiver<HashMap<SongRef, PathBuf>>,
    pub status: watch::Receiver<BulkStatus>,
}

/// Starts the transfer loop on `listener`.
pub(crate) fn spawn(
    config: BulkConfig,
    listener: TcpListener,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> BulkHandle {
    let (commands, commands_rx) = mpsc::channel(16);
    let (held_tx, held) = mpsc::channel(4);
    let (status_tx, status) = watch::channel(BulkStatus::default());
    let inner = tracker.clone();
    tracker.spawn(async move {
        let io = run::Io {
            listener,
            commands: commands_rx,
            held: held_tx,
            status: status_tx,
            tracker: inner,
            cancel,
        };
        run::run(config, io).await;
    });
    BulkHandle {
        commands,
        held,
        status,
    }
}

/// The songs of `library` as transfer sources, with the tags their manifests carry.
pub(crate) fn local_songs(library: &crate::library::Library) -> HashMap<SongRef, LocalSong> {
    library
        .songs()
        .iter()
        .map(|song| {
            let format = song
                .path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_owned();
            let tags = Tags {
                format,
                title: song.title.clone(),
                artist: song.artist.clone(),
                album: song.album.clone(),
                duration_ms: song.duration_ms,
            };
            let local = LocalSong {
                file: song.clone(),
                tags,
            };
            (SongRef(*song.id.as_bytes()), local)
        })
        .collect()
}
