//! The transfer manager's traffic: manifests, requests served from disk, chunks verified
//! and written, and what the cache reports back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::conn::ConnId;
use super::disk::DiskDone;
use super::manager::{Manager, READS_PER_PEER, RECENT_CHUNKS};
use crate::clock::monotonic_now;
use crate::core::transfer::{ChunkSet, Manifest};
use crate::core::{Instant, NodeId, SongRef};
use crate::library::cache::{CacheError, Written};
use crate::proto::Bulk;

/// Refusals remembered at once (bounded memory; past it the origin just serves).
const MAX_REFUSALS: usize = 65_536;

impl Manager {
    pub(super) fn message(&mut self, peer: NodeId, conn: ConnId, msg: Bulk) {
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

    /// Only the song's origin is believed, and only for a song we asked about.
    pub(super) fn manifest_arrived(&mut self, peer: NodeId, m: Manifest) {
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

    pub(super) fn serve(&mut self, peer: NodeId, conn: ConnId, song: SongRef, chunk: u32) {
        if self.seeding_refuses(peer, song, chunk) {
            self.send(peer, Bulk::Refuse { song, chunk });
            return;
        }
        let recent = self
            .recent
            .iter()
            .find(|(s, c, _)| *s == song && *c == chunk)
            .map(|(_, _, data)| data.clone());
        if let Some(data) = recent {
            self.send(peer, Bulk::Chunk { song, chunk, data });
            return;
        }
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

    /// The origin of a song sends each chunk once before it sends any twice, and never a
    /// chunk another box already has, while other boxes can pass copies on: its uplink is
    /// the bottleneck of the whole party (the idea of BitTorrent's super-seeding).
    /// Refused peers hear again what we hold at the next tick, in case the other copy is
    /// slow to come.
    pub(super) fn seeding_refuses(&mut self, peer: NodeId, song: SongRef, chunk: u32) -> bool {
        if !self.config.swarm
            || self.peers.len() < 2
            || self.origin_of(&song) != Some(self.config.me)
        {
            return false;
        }
        let Some(count) = self.manifests.get(&song).map(|m| m.chunk_count() as usize) else {
            return false;
        };
        let sent = self.sent.entry(song).or_insert_with(|| vec![0; count]);
        let Some(&times) = sent.get(chunk as usize) else {
            return false;
        };
        // Sent before, and either a copy is out there or fresh chunks come first.
        let elsewhere = || sent.contains(&0) || self.swarm.held_elsewhere(&song, chunk, peer);
        if times > 0
            && self.refused_chunks.len() < MAX_REFUSALS
            && !self.refused_chunks.contains(&(peer, song, chunk))
            && elsewhere()
        {
            self.refused_chunks.insert((peer, song, chunk));
            self.refused.insert((peer, song));
            return true;
        }
        if let Some(n) = sent.get_mut(chunk as usize) {
            *n = n.saturating_add(1);
        }
        false
    }

    pub(super) fn chunk(
        &mut self,
        now: Instant,
        peer: NodeId,
        song: SongRef,
        chunk: u32,
        data: Bytes,
    ) {
        let Some(m) = self.manifests.get(&song).cloned() else {
            return;
        };
        let valid = m.verify_chunk(chunk, &data);
        match self.swarm.chunk_arrived(now, peer, song, chunk, valid) {
            crate::core::transfer::Arrival::Stored | crate::core::transfer::Arrival::Completed => {
                self.rates.add(now, song, data.len() as u64);
                *self.received.entry(song).or_default() += data.len() as u64;
                // Verified: peers may ask for it at once; it is served from memory until
                // it is on disk.
                self.broadcast(&Bulk::Got { song, chunk });
                if self.recent.len() >= RECENT_CHUNKS {
                    self.recent.pop_front();
                }
                self.recent.push_back((song, chunk, data.clone()));
                self.pending_writes += 1;
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
    pub(super) fn disk_done(&mut self, done: DiskDone) -> Option<HashMap<SongRef, PathBuf>> {
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
                        self.storage_error = None;
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
            } => {
                self.pending_writes = self.pending_writes.saturating_sub(1);
                match result {
                    Ok(Written::Stored) => {}
                    Ok(Written::Complete(path)) => {
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
                }
            }
        }
        None
    }

    pub(super) fn completed(&mut self, song: SongRef) -> Option<HashMap<SongRef, PathBuf>> {
        let path = self.disk.cache.lock().ok()?.path_of(&song)?;
        self.cached.insert(song, path);
        Some(self.cached.clone())
    }

    pub(super) fn fail(&mut self, now: Instant, song: SongRef, e: &CacheError) {
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
}
