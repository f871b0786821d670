//! The content-addressed song cache: songs fetched from peers, stored under their BLAKE3
//! hash, assembled chunk by chunk with every byte verified, resumable after a power cut,
//! and kept within a quota by evicting the least recently played.
//!
//! Layout under the cache folder:
//! - `songs/<64 hex>.<format>`: complete songs, each verified whole before it appears.
//! - `partial/<64 hex>.part` and `partial/<64 hex>.have`: a download in progress and the
//!   bitfield of the chunks it holds (written atomically after the chunk is fsynced).
//! - `plays.json`: the play log ([`playlog`]).
//!
//! Only the hex hash and the validated format ever become file names; nothing else a peer
//! sends does. All of it is blocking `std::fs` code: call it from a blocking thread.
//!
//! - [`error`]: [`CacheError`].
//! - [`files`]: names, atomic writes, [`read_range`].
//! - [`partial`]: the `.part` / `.have` files of one download.
//! - [`playlog`]: last-played sequence numbers.
//! - [`quota`]: which songs to evict.

pub mod error;
pub mod files;
pub mod partial;
pub mod playlog;
pub mod quota;

mod open;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

pub use error::CacheError;
pub use files::read_range;

use crate::core::transfer::{ChunkSet, Manifest};
use crate::core::SongRef;
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
    manifest_key: [u8; 32],
    format: String,
    have: ChunkSet,
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
}

/// Hash of everything in a manifest that decides which bytes are chunk `i`.
fn manifest_key(m: &Manifest) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&m.song.0);
    h.update(&m.size.to_le_bytes());
    h.update(&m.chunk_size.to_le_bytes());
    for c in &m.chunks {
        h.update(c);
    }
    *h.finalize().as_bytes()
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

    /// Start or resume downloading `manifest`'s song; returns the chunks already held
    /// (all of them if the song is complete). On resume every chunk the `.have` file lists
    /// is re-hashed and dropped if wrong (a crash can leave the bitfield ahead of the
    /// data). Makes room by evicting songs not in `pinned`, or fails with
    /// [`CacheError::QuotaExceeded`] / [`CacheError::DiskFull`].
    pub fn begin(
        &mut self,
        manifest: &Manifest,
        pinned: &HashSet<SongRef>,
    ) -> Result<ChunkSet, CacheError> {
        manifest.validate()?;
        let song = manifest.song;
        if self.complete.contains_key(&song) {
            return Ok(ChunkSet::full(manifest.chunk_count()));
        }
        let key = manifest_key(manifest);
        let reserved = match self.partials.get(&song) {
            Some(p) => match &p.begun {
                Some(b) if b.manifest_key == key => return Ok(b.have.clone()),
                _ => p.size,
            },
            None => 0,
        };
        self.make_room(manifest.size.saturating_sub(reserved), pinned)?;
        let part = self.part_path(&song);
        let have_path = self.have_path(&song);
        if let Err(e) = partial::prepare_part(&part, manifest.size) {
            if reserved == 0 && !self.partials.contains_key(&song) {
                // Best effort: a new, empty file; the next open would keep it otherwise.
                let _ = files::remove(&part);
            }
            return Err(e);
        }
        self.partials.insert(
            song,
            Partial {
                size: manifest.size,
                begun: None,
            },
        );
        let claimed = partial::load_have(&have_path, manifest);
        let have = partial::verify_held(&part, manifest, &claimed)?;
        if have != claimed || !have_path.exists() {
            partial::save_have(&have_path, manifest, &have)?;
        }
        tracing::debug!(song = ?song, held = have.count(), of = have.len(), "download begun");
        let complete = have.is_complete();
        if let Some(p) = self.partials.get_mut(&song) {
            p.begun = Some(Begun {
                manifest_key: key,
                format: manifest.format.clone(),
                have: have.clone(),
            });
        }
        if complete {
            // An empty song, or a crash after the last chunk but before the rename.
            self.finish(manifest)?;
        }
        Ok(have)
    }

    /// Verify `data` as chunk `chunk` of `manifest` ([`CacheError::CorruptChunk`]: nothing
    /// written), write it at its offset, fsync, then record it in the `.have` file. The
    /// last chunk triggers the whole-file check and the move into `songs/`
    /// ([`CacheError::CorruptSong`]: the download is deleted). A chunk already held is
    /// not written again.
    pub fn write_chunk(
        &mut self,
        manifest: &Manifest,
        chunk: u32,
        data: &[u8],
    ) -> Result<Written, CacheError> {
        let song = manifest.song;
        if let Some(path) = self.path_of(&song) {
            return Ok(Written::Complete(path));
        }
        let key = manifest_key(manifest);
        let held = match self.begun(&song) {
            Some(b) if b.manifest_key == key => b.have.contains(chunk),
            _ => return Err(CacheError::NotStarted { song }),
        };
        if !manifest.verify_chunk(chunk, data) {
            return Err(CacheError::CorruptChunk { song, chunk });
        }
        if held {
            return Ok(Written::Stored);
        }
        let part = self.part_path(&song);
        partial::write_at(&part, manifest.chunk_range(chunk).start, data)?;
        let have_path = self.have_path(&song);
        let Some(begun) = self.begun_mut(&song) else {
            return Err(CacheError::NotStarted { song });
        };
        begun.have.insert(chunk);
        if begun.have.is_complete() {
            return self.finish(manifest).map(Written::Complete);
        }
        if let Err(e) = partial::save_have(&have_path, manifest, &begun.have) {
            // The chunk is on disk but not recorded: forget it, it will be fetched again.
            begun.have.remove(chunk);
            return Err(e);
        }
        Ok(Written::Stored)
    }

    /// The bytes of chunk `chunk` to serve to a peer, from a complete song or from the
    /// held chunks of a download begun this session. They are re-verified, so damage on
    /// disk is not passed on ([`CacheError::CorruptChunk`]).
    pub fn read_chunk(&self, manifest: &Manifest, chunk: u32) -> Result<Vec<u8>, CacheError> {
        let song = manifest.song;
        let not_held = CacheError::NotHeld { song, chunk };
        if chunk >= manifest.chunk_count() {
            return Err(not_held);
        }
        let path = match (self.complete.get(&song), self.begun(&song)) {
            (Some(stored), _) if stored.size == manifest.size => {
                files::song_file(&self.songs_dir, &song, &stored.format)
            }
            (None, Some(b))
                if b.manifest_key == manifest_key(manifest) && b.have.contains(chunk) =>
            {
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
        if self.partials.remove(song).is_none() {
            return Ok(());
        }
        files::remove(&self.part_path(song))?;
        files::remove(&self.have_path(song))?;
        files::sync_dir(&self.partial_dir);
        self.plays.forget(song);
        Ok(())
    }

    /// Every chunk is held: check the whole file and move it into `songs/`.
    fn finish(&mut self, manifest: &Manifest) -> Result<PathBuf, CacheError> {
        let song = manifest.song;
        let part = self.part_path(&song);
        if !partial::is_song(&part, &song, manifest.size)? {
            tracing::warn!(song = ?song, "assembled file does not match the song hash");
            self.abandon(&song)?;
            return Err(CacheError::CorruptSong { song });
        }
        let format = self
            .begun(&song)
            .map_or_else(|| manifest.format.clone(), |b| b.format.clone());
        let dest = files::song_file(&self.songs_dir, &song, &format);
        fs::rename(&part, &dest).at(&dest)?;
        files::sync_dir(&self.songs_dir);
        self.partials.remove(&song);
        self.complete.insert(
            song,
            Stored {
                format,
                size: manifest.size,
            },
        );
        // The song is safe in songs/; a leftover .have is removed at the next open.
        if let Err(e) = files::remove(&self.have_path(&song)) {
            tracing::debug!(error = %e, "cannot remove the bitfield of a finished song");
        }
        files::sync_dir(&self.partial_dir);
        // A song just fetched is about to be played: it should not be the first evicted.
        self.plays.touch(song);
        self.save_plays_quietly();
        tracing::info!(song = ?song, path = %dest.display(), "song cached");
        Ok(dest)
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

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
