//! What the disk executor reports back: manifests built, downloads begun, chunks read and
//! written, and failures with what they mean for the song (backoff, storage error, a
//! manifest that lied).

use std::sync::Arc;

use bytes::Bytes;

use super::{ConnId, Transfer, TransferAction};
use crate::core::transfer::{ChunkSet, Manifest};
use crate::core::{Instant, SongRef};
use crate::proto::Bulk;

/// What kind of disk failure a song hit; decides what the machine does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFailureKind {
    /// The disk or the cache quota is full: shown as the storage error.
    Full,
    /// The whole song did not hash to its id: the manifest lied, so it is forgotten and
    /// asked for again.
    CorruptSong,
    /// Anything else: the song is retried after the backoff.
    Other,
}

/// A failed disk job, with the message the status shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFailure {
    pub kind: DiskFailureKind,
    pub message: String,
}

impl Transfer {
    /// The manifest of a music-folder song was built (or could not be).
    pub fn manifest_built(
        &mut self,
        now: Instant,
        song: SongRef,
        result: Result<Manifest, String>,
    ) {
        self.songs.pending.remove(&song);
        match result {
            Ok(m) if m.song == song => {
                let chunks = m.chunk_count();
                self.songs.manifests.insert(song, Arc::new(m));
                self.swarm.set_local(song, ChunkSet::full(chunks));
                if let Some(h) = self.have_message(&song) {
                    self.broadcast(&h);
                }
            }
            Ok(_) => tracing::warn!(?song, "cannot offer a song: the file changed"),
            Err(e) => tracing::warn!(error = %e, "cannot offer a song"),
        }
        self.refresh(now);
        self.pump(now);
    }

    /// A download started or resumed: `result` holds the chunks already there. `evicted`
    /// are the songs the cache removed to make room.
    pub fn begun(
        &mut self,
        now: Instant,
        song: SongRef,
        result: Result<ChunkSet, DiskFailure>,
        evicted: &[SongRef],
    ) {
        self.songs.pending.remove(&song);
        let mut changed = false;
        for gone in evicted {
            changed |= self.songs.held.remove(gone);
            self.swarm.forget(gone);
        }
        match result {
            Ok(have) => {
                self.songs.begun.insert(song);
                self.songs.failed.remove(&song);
                self.intake.storage_error = None;
                let complete = have.is_complete();
                self.swarm.set_local(song, have);
                if let Some(h) = self.have_message(&song) {
                    self.broadcast(&h);
                }
                self.refresh(now);
                if complete {
                    changed |= self.songs.held.insert(song);
                }
            }
            Err(e) => self.fail(now, song, e),
        }
        if changed {
            self.held_changed();
        }
        self.pump(now);
    }

    /// A chunk read for the peer on `conn` finished.
    pub fn chunk_read(
        &mut self,
        conn: ConnId,
        song: SongRef,
        chunk: u32,
        result: Result<Bytes, String>,
    ) {
        let Some(peer) = self.conns.peer_of(conn) else {
            return;
        };
        self.conns.read_done(peer);
        let msg = match result {
            Ok(data) => Bulk::Chunk { song, chunk, data },
            Err(e) => {
                tracing::debug!(?song, chunk, error = %e, "cannot serve a chunk");
                Bulk::Refuse { song, chunk }
            }
        };
        self.push(TransferAction::Send { conn, msg });
    }

    /// A verified chunk was written; `Ok(true)`: it was the last one and the song is now
    /// complete in the cache.
    pub fn chunk_written(
        &mut self,
        now: Instant,
        song: SongRef,
        chunk: u32,
        result: Result<bool, DiskFailure>,
    ) {
        self.intake.pending_writes = self.intake.pending_writes.saturating_sub(1);
        match result {
            Ok(false) => {}
            Ok(true) => {
                // A chunk that arrives from a second peer after the song completed is
                // written (verified) again and reported complete again: say it once.
                if self.songs.held.insert(song) {
                    tracing::info!(?song, "song fetched");
                    self.held_changed();
                }
            }
            Err(e) => {
                // Not written after all: the swarm must fetch it again.
                if let Some(mut have) = self.swarm.local(&song).cloned() {
                    have.remove(chunk);
                    self.swarm.set_local(song, have);
                }
                self.fail(now, song, e);
            }
        }
        self.pump(now);
    }

    fn fail(&mut self, now: Instant, song: SongRef, e: DiskFailure) {
        tracing::warn!(?song, error = %e.message, "song not fetched");
        match e.kind {
            DiskFailureKind::Full => self.intake.storage_error = Some(e.message.clone()),
            DiskFailureKind::CorruptSong => {
                // The manifest lied: forget it and ask again later.
                self.songs.manifests.remove(&song);
                self.songs.begun.remove(&song);
            }
            DiskFailureKind::Other => {}
        }
        self.songs.failed.insert(song, (now, e.message));
    }
}
