//! The content-addressed song cache: songs fetched from peers, stored under their BLAKE3
//! hash, assembled chunk by chunk with every byte verified, resumable after a power cut,
//! and kept within a quota by evicting the least recently played.
//!
//! Layout under the cache folder:
//! - `songs/<64 hex>.<format>`: complete songs; every chunk of one matched its place in
//!   the song's hash tree, and the file was flushed, before it appears.
//! - `partial/<64 hex>.part` and `partial/<64 hex>.have`: a download in progress and the
//!   bitfield of the chunks it holds (replaced atomically every few chunks; see
//!   [`Cache::write_verified`] for why it may run ahead of the data after a crash).
//! - `plays.json`: the play log ([`playlog`]).
//!
//! Only the hex hash and the validated format ever become file names; nothing else a peer
//! sends does. All of it is blocking `std::fs` code: call it from a blocking thread.
//!
//! - [`error`]: [`CacheError`], what can go wrong and what to do about it.
//! - [`files`]: names, atomic writes, [`read_range`].
//! - `download`: [`Cache::begin`], [`Cache::write_chunk`] / [`Cache::write_verified`] and
//!   the move into `songs/`.
//! - `direct`: chunk writes past the page cache.
//! - [`partial`]: the `.part` / `.have` files of one download.
//! - [`playlog`]: last-played sequence numbers.
//! - [`quota`]: which songs to evict.

mod direct;
pub mod error;
pub mod files;
pub mod partial;
pub mod playlog;
pub mod quota;

mod download;
mod open;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub use error::CacheError;
pub use files::read_range;

use crate::core::transfer::{ChunkSet, Manifest};
use crate::core::SongRef;
use download::ManifestKey;
use error::AtPath;
use playlog::PlayLog;

/// What [`Cache::write_chunk`] did with a good chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored; the song still lacks other chunks.
    Stored,
    /// That was the last chunk: the song is verified and playable at this path.
    Complete(PathBuf),
}

/// How full the cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUsage {
    /// Bytes of complete songs plus the full size of every download in progress.
    pub used: u64,
    /// The configured quota.
    pub quota: u64,
    /// Complete songs.
    pub songs: usize,
    /// Downloads in progress.
    pub partials: usize,
}

/// A complete song on disk.
#[derive(Debug, Clone)]
struct Stored {
    format: String,
    size: u64,
}

/// A download in progress.
#[derive(Debug)]
struct Partial {
    /// Bytes reserved: the `.part` file's length (the song's size).
    size: u64,
    /// Set once [`Cache::begin`] has verified the held chunks this session.
    begun: Option<Begun>,
}

/// A download whose held chunks are verified against one manifest.
#[derive(Debug)]
struct Begun {
    /// Identifies the manifest (size, chunking and chunk hashes) the chunks were checked
    /// against; another manifest for the same song needs another `begin`.
    manifest_key: ManifestKey,
    format: String,
    have: ChunkSet,
    /// Chunks written since the `.have` file was last saved, and when that was: the file
    /// is saved every few chunks, not after each one (see [`Cache::write_chunk`]).
    unsaved: u32,
    saved_at: std::time::Instant,
    /// What the `.have` file needs besides the bits (to save it without a manifest).
    size: u64,
    chunk_size: u32,
}

/// The song cache of one box.
#[derive(Debug)]
pub struct Cache {
    songs_dir: PathBuf,
    partial_dir: PathBuf,
    quota: u64,
    complete: BTreeMap<SongRef, Stored>,
    partials: BTreeMap<SongRef, Partial>,
    plays: PlayLog,
    /// The aligned buffer chunk writes go through.
    direct: direct::DirectBuf,
}

impl Cache {
    /// The cache in `dir` (created if needed), limited to `quota_bytes`. Creates the
    /// folders, removes temp files left by a crash and stray files of unfinished
    /// operations, loads the play log and measures usage.
    pub fn open(dir: &Path, quota_bytes: u64) -> Result<Cache, CacheError> {
        open::open(dir, quota_bytes)
    }

    /// Where a complete song is; `None` while it is missing or still downloading.
    pub fn path_of(&self, song: &SongRef) -> Option<PathBuf> {
        let stored = self.complete.get(song)?;
        Some(files::song_file(&self.songs_dir, song, &stored.format))
    }

    /// Complete songs and their sizes, in hash order.
    pub fn songs(&self) -> Vec<(SongRef, u64)> {
        self.complete.iter().map(|(s, st)| (*s, st.size)).collect()
    }

    /// The bytes of chunk `chunk` to serve to a peer, from a complete song or from the
    /// held chunks of a download begun this session. They are re-verified, so damage on
    /// disk is not passed on ([`CacheError::CorruptChunk`]).
    pub fn read_chunk(&self, manifest: &Manifest, chunk: u32) -> Result<Vec<u8>, CacheError> {
        // Bounds only: merging every chunk hash for each chunk served would make serving
        // a song quadratic, and what is served is checked against the hash anyway.
        manifest.check_bounds()?;
        let song = manifest.song;
        let not_held = CacheError::NotHeld { song, chunk };
        if chunk >= manifest.chunk_count() {
            return Err(not_held);
        }
        let path = match (self.complete.get(&song), self.begun(&song)) {
            (Some(stored), _) if stored.size == manifest.size => {
                files::song_file(&self.songs_dir, &song, &stored.format)
            }
            (None, Some(b)) if b.manifest_key.matches(manifest) && b.have.contains(chunk) => {
                self.part_path(&song)
            }
            _ => return Err(not_held),
        };
        let data = read_range(&path, manifest.chunk_range(chunk)).at(&path)?;
        if !manifest.verify_chunk(chunk, &data) {
            tracing::warn!(path = %path.display(), chunk, "cached chunk damaged; not serving it");
            return Err(CacheError::CorruptChunk { song, chunk });
        }
        Ok(data)
    }

    /// Record that `song` was played: it becomes the last to be evicted. Songs not in the
    /// cache are ignored.
    pub fn mark_played(&mut self, song: &SongRef) -> Result<(), CacheError> {
        if !self.complete.contains_key(song) && !self.partials.contains_key(song) {
            return Ok(());
        }
        self.plays.touch(*song);
        self.plays.save()
    }

    /// Delete least-recently-played complete songs, never one in `pinned` nor a download
    /// in progress, until `needed` more bytes fit the quota; returns the evicted songs.
    /// When that is impossible nothing is deleted and the error is
    /// [`CacheError::QuotaExceeded`].
    pub fn make_room(
        &mut self,
        needed: u64,
        pinned: &HashSet<SongRef>,
    ) -> Result<Vec<SongRef>, CacheError> {
        let candidates = self
            .complete
            .iter()
            .filter(|(song, _)| !pinned.contains(*song))
            .map(|(song, stored)| quota::Candidate {
                song: *song,
                size: stored.size,
                seq: self.plays.seq(song),
            })
            .collect();
        let victims = quota::victims(self.used(), self.quota, needed, candidates).ok_or(
            CacheError::QuotaExceeded {
                needed,
                quota: self.quota,
            },
        )?;
        for song in &victims {
            if let Some(path) = self.path_of(song) {
                files::remove(&path)?;
            }
            self.complete.remove(song);
            self.plays.forget(song);
            tracing::info!(song = ?song, "evicted from the song cache");
        }
        if !victims.is_empty() {
            files::sync_dir(&self.songs_dir);
            self.save_plays_quietly();
        }
        Ok(victims)
    }

    /// How full the cache is.
    pub fn usage(&self) -> CacheUsage {
        CacheUsage {
            used: self.used(),
            quota: self.quota,
            songs: self.complete.len(),
            partials: self.partials.len(),
        }
    }

    /// Drop a download in progress and its files; nothing to do if there is none.
    pub fn abandon(&mut self, song: &SongRef) -> Result<(), CacheError> {
        if !self.partials.contains_key(song) {
            return Ok(());
        }
        files::remove(&self.part_path(song))?;
        files::remove(&self.have_path(song))?;
        files::sync_dir(&self.partial_dir);
        self.partials.remove(song);
        self.plays.forget(song);
        Ok(())
    }

    /// Save the play log, only warning on failure: losing it merely makes eviction
    /// order less good.
    fn save_plays_quietly(&self) {
        if let Err(e) = self.plays.save() {
            tracing::warn!("{e}");
        }
    }

    fn used(&self) -> u64 {
        let songs = self.complete.values().map(|s| s.size);
        let partials = self.partials.values().map(|p| p.size);
        songs.chain(partials).fold(0, u64::saturating_add)
    }

    fn begun(&self, song: &SongRef) -> Option<&Begun> {
        self.partials.get(song)?.begun.as_ref()
    }

    fn begun_mut(&mut self, song: &SongRef) -> Option<&mut Begun> {
        self.partials.get_mut(song)?.begun.as_mut()
    }

    fn part_path(&self, song: &SongRef) -> PathBuf {
        files::song_file(&self.partial_dir, song, files::PART_EXT)
    }

    fn have_path(&self, song: &SongRef) -> PathBuf {
        files::song_file(&self.partial_dir, song, files::HAVE_EXT)
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "download progress not saved; those chunks will be fetched again");
        }
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod manifest_tests;
#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "verified_tests.rs"]
mod verified_tests;
