//! Messages from peers: manifests (only the origin's are believed), bitfields, requests
//! served or refused, and chunks verified before anything keeps them.

use std::sync::Arc;

use bytes::Bytes;

use super::{ConnId, Transfer, TransferAction, READS_PER_PEER, RECENT_CHUNKS};
use crate::core::transfer::{Arrival, ChunkSet, Manifest};
use crate::core::{Instant, NodeId, SongRef};
use crate::proto::{manifest as wire, Bulk};

impl Transfer {
    /// A message arrived on `conn` (after its hello; a hello here is ignored).
    pub fn message(&mut self, now: Instant, conn: ConnId, msg: Bulk) {
        let Some(peer) = self.conns.peer_of(conn) else {
            tracing::trace!(conn, "message from a connection without a peer");
            return;
        };
        match msg {
            Bulk::Hello { .. } => {}
            Bulk::WantManifest { song } => {
                let msg = match self.songs.manifests.get(&song) {
                    Some(m) => Bulk::Manifest(Box::new((&**m).into())),
                    None => Bulk::NoManifest { song },
                };
                self.push(TransferAction::Send { conn, msg });
            }
            Bulk::Manifest(m) => self.manifest_arrived(now, peer, *m),
            Bulk::NoManifest { song } => {
                self.songs.asked.remove(&song);
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
        self.pump(now);
    }

    /// The trust rule: only the song's origin is believed, and only for a song we asked
    /// about; the manifest must pass its bounds.
    fn manifest_arrived(&mut self, now: Instant, peer: NodeId, m: wire::Manifest) {
        if self.origin_of(&m.song) != Some(peer) || !self.songs.asked.contains_key(&m.song) {
            tracing::debug!(%peer, song = ?m.song, "manifest not from the origin; ignored");
            return;
        }
        let m = match Manifest::try_from(m) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "manifest refused");
                return;
            }
        };
        self.songs.asked.remove(&m.song);
        self.songs.manifests.insert(m.song, Arc::new(m));
        self.refresh(now);
    }

    /// Serves a request from memory or disk, or refuses it (first-copy rule, not held,
    /// too many reads for this peer).
    fn serve(&mut self, peer: NodeId, conn: ConnId, song: SongRef, chunk: u32) {
        if self.seeding_refuses(peer, song, chunk) {
            let msg = Bulk::Refuse { song, chunk };
            self.push(TransferAction::Send { conn, msg });
            return;
        }
        let recent = self
            .intake
            .recent
            .iter()
            .find(|(s, c, _)| *s == song && *c == chunk)
            .map(|(_, _, data)| data.clone());
        if let Some(data) = recent {
            let msg = Bulk::Chunk { song, chunk, data };
            self.push(TransferAction::Send { conn, msg });
            return;
        }
        let from_library = self.songs.library.contains(&song);
        let held = from_library
            || self.songs.held.contains(&song)
            || self.swarm.local(&song).is_some_and(|h| h.contains(chunk));
        match self.songs.manifests.get(&song).cloned() {
            Some(manifest)
                if held
                    && chunk < manifest.chunk_count()
                    && self.conns.take_read(peer, READS_PER_PEER) =>
            {
                self.push(TransferAction::ReadChunk {
                    conn,
                    manifest,
                    chunk,
                    from_library,
                });
            }
            _ => {
                let msg = Bulk::Refuse { song, chunk };
                self.push(TransferAction::Send { conn, msg });
            }
        }
    }

    /// A chunk arrived: verified against the manifest, then written and announced, or
    /// dropped.
    fn chunk(&mut self, now: Instant, peer: NodeId, song: SongRef, chunk: u32, data: Bytes) {
        let Some(manifest) = self.songs.manifests.get(&song).cloned() else {
            return;
        };
        let verified = manifest.verified(chunk, data);
        let arrival = self
            .swarm
            .chunk_arrived(now, peer, song, chunk, verified.is_some());
        match (arrival, verified) {
            (Arrival::Stored | Arrival::Completed, Some(verified)) => {
                let data = verified.data().clone();
                let len = data.len() as u64;
                self.intake.rates.add(now, song, len);
                *self.intake.received.entry(song).or_default() += len;
                // Verified: peers may ask for it at once; it is served from memory until
                // it is on disk.
                self.broadcast(&Bulk::Got { song, chunk });
                if self.intake.recent.len() >= RECENT_CHUNKS {
                    self.intake.recent.pop_front();
                }
                self.intake.recent.push_back((song, chunk, data));
                self.intake.pending_writes += 1;
                let chunk = verified;
                self.push(TransferAction::WriteChunk { manifest, chunk });
            }
            (Arrival::Corrupt, _) => {
                self.intake.corrupt += 1;
                tracing::warn!(%peer, ?song, chunk, "chunk failed verification; fetching it elsewhere");
            }
            _ => {}
        }
    }
}
