//! The download path: start or resume a song, take verified chunks, and turn the
//! finished `.part` file into a complete song.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use super::error::{AtPath, CacheError};
use super::{direct, files, partial, Begun, Cache, Partial, Stored, Written};
use crate::core::transfer::{ChunkSet, Manifest, VerifiedChunk};
use crate::core::SongRef;

/// The `.have` file is saved after this many new chunks...
pub const SAVE_EVERY: u32 = 16;
/// ...or when this long passed since it was last saved, whichever comes first.
pub const SAVE_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Hash of everything in a manifest that decides which bytes are chunk `i`.
/// What a download's held chunks were checked against: a different manifest for the same
/// song needs another `begin`. Compared by value (a memcmp per chunk written), never
/// re-hashed: hashing the chunk list for every chunk made large songs quadratic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ManifestKey {
    size: u64,
    chunk_size: u32,
    chunks: Vec<[u8; 32]>,
}

impl ManifestKey {
    pub(super) fn of(m: &Manifest) -> Self {
        ManifestKey {
            size: m.size,
            chunk_size: m.chunk_size,
            chunks: m.chunks.clone(),
        }
    }

    pub(super) fn matches(&self, m: &Manifest) -> bool {
        self.size == m.size && self.chunk_size == m.chunk_size && self.chunks == m.chunks
    }
}

/// Where a chunk goes.
#[derive(Debug)]
enum Slot {
    /// Nothing to write: the chunk, or the whole song, is held already.
    Held(Written),
    /// At `offset` in the download's `.part` file.
    Write { part: PathBuf, offset: u64 },
}

impl Cache {
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
        let key = ManifestKey::of(manifest);
        let reserved = match self.partials.get(&song) {
            Some(p) => match &p.begun {
                Some(b) if b.manifest_key == key && !b.have.is_complete() => {
                    return Ok(b.have.clone())
                }
                Some(b) if b.manifest_key == key => {
                    // Every chunk is held but the move into songs/ failed: try again.
                    let have = b.have.clone();
                    self.finish(manifest)?;
                    return Ok(have);
                }
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
                unsaved: 0,
                saved_at: std::time::Instant::now(),
                size: manifest.size,
                chunk_size: manifest.chunk_size,
            });
        }
        if complete {
            // An empty song, or a crash after the last chunk but before the rename.
            self.finish(manifest)?;
        }
        Ok(have)
    }

    /// Verify `data` as chunk `chunk` of `manifest` ([`CacheError::CorruptChunk`]: nothing
    /// written), then write and record it as [`Cache::write_verified`] does.
    pub fn write_chunk(
        &mut self,
        manifest: &Manifest,
        chunk: u32,
        data: &[u8],
    ) -> Result<Written, CacheError> {
        let slot = self.slot_of(manifest, chunk)?;
        if let Slot::Held(Written::Complete(path)) = slot {
            return Ok(Written::Complete(path));
        }
        if !manifest.verify_chunk(chunk, data) {
            let song = manifest.song;
            return Err(CacheError::CorruptChunk { song, chunk });
        }
        self.write_at(manifest, chunk, slot, data)
    }

    /// Write a chunk the transfer machine verified (not hashed again: a comparison shows
    /// it is a chunk of this manifest, else [`CacheError::CorruptChunk`]) at its offset
    /// and record it in the `.have` file, which is saved every [`SAVE_EVERY`] chunks or
    /// [`SAVE_AFTER`]. The last chunk triggers the flush, a length check and the move
    /// into `songs/` ([`CacheError::CorruptSong`]: the download is deleted). A chunk
    /// already held is not written again. Whole blocks go to the disk directly, not
    /// through the page cache.
    ///
    /// Chunks are not flushed one by one (three fsyncs per chunk held a fast link to tens
    /// of MB/s): after a crash the `.have` file may claim chunks whose bytes never reached
    /// the disk, and [`Cache::begin`] re-hashes every claimed chunk, so those are simply
    /// fetched again. A song is only ever visible in `songs/` once flushed, every chunk of
    /// it having hashed to its place in a manifest whose hashes make the song's id.
    pub fn write_verified(
        &mut self,
        manifest: &Manifest,
        chunk: &VerifiedChunk,
    ) -> Result<Written, CacheError> {
        if !chunk.belongs_to(manifest) {
            let (song, chunk) = (manifest.song, chunk.index());
            return Err(CacheError::CorruptChunk { song, chunk });
        }
        let slot = self.slot_of(manifest, chunk.index())?;
        self.write_at(manifest, chunk.index(), slot, chunk.data())
    }

    fn slot_of(&self, manifest: &Manifest, chunk: u32) -> Result<Slot, CacheError> {
        let song = manifest.song;
        if let Some(path) = self.path_of(&song) {
            return Ok(Slot::Held(Written::Complete(path)));
        }
        match self.begun(&song) {
            Some(b) if b.manifest_key.matches(manifest) && b.have.contains(chunk) => {
                Ok(Slot::Held(Written::Stored))
            }
            Some(b) if b.manifest_key.matches(manifest) => Ok(Slot::Write {
                part: self.part_path(&song),
                offset: manifest.chunk_range(chunk).start,
            }),
            _ => Err(CacheError::NotStarted { song }),
        }
    }

    fn write_at(
        &mut self,
        manifest: &Manifest,
        chunk: u32,
        slot: Slot,
        data: &[u8],
    ) -> Result<Written, CacheError> {
        match slot {
            Slot::Held(written) => Ok(written),
            Slot::Write { part, offset } => {
                direct::write_at(&part, offset, data, &mut self.direct).at(&part)?;
                self.record(manifest, chunk)
            }
        }
    }

    fn record(&mut self, manifest: &Manifest, chunk: u32) -> Result<Written, CacheError> {
        let song = manifest.song;
        let have_path = self.have_path(&song);
        let Some(begun) = self.begun_mut(&song) else {
            return Err(CacheError::NotStarted { song });
        };
        begun.have.insert(chunk);
        if begun.have.is_complete() {
            return self.finish(manifest).map(Written::Complete);
        }
        begun.unsaved += 1;
        if begun.unsaved >= SAVE_EVERY || begun.saved_at.elapsed() >= SAVE_AFTER {
            if let Err(e) = partial::save_have(&have_path, manifest, &begun.have) {
                // The chunk is on disk but not recorded: forget it, it will be fetched again.
                begun.have.remove(chunk);
                return Err(e);
            }
            begun.unsaved = 0;
            begun.saved_at = std::time::Instant::now();
        }
        Ok(Written::Stored)
    }

    /// Saves the `.have` file of every download with unsaved chunks (on drop, and when the
    /// runtime stops); a crash instead just loses those chunks, which are fetched again.
    pub fn flush(&mut self) -> Result<(), CacheError> {
        let mut first_error = None;
        let dir = self.partial_dir.clone();
        for (song, p) in &mut self.partials {
            let Some(b) = p.begun.as_mut().filter(|b| b.unsaved > 0) else {
                continue;
            };
            let path = files::song_file(&dir, song, files::HAVE_EXT);
            match partial::save_have_bits(&path, b.size, b.chunk_size, &b.have) {
                Ok(()) => b.unsaved = 0,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every chunk is held: flush the file and move it into `songs/`.
    fn finish(&mut self, manifest: &Manifest) -> Result<PathBuf, CacheError> {
        let song = manifest.song;
        let part = self.part_path(&song);
        let started = std::time::Instant::now();
        let is_song = partial::seal(&part, manifest.size)?;
        tracing::debug!(
            ?song,
            ms = started.elapsed().as_millis() as u64,
            "flushed the whole song"
        );
        if !is_song {
            tracing::warn!(song = ?song, "assembled file is not the song's length");
            self.abandon(&song)?;
            return Err(CacheError::CorruptSong { song });
        }
        // The format checked by `begin`, whatever the caller passes now.
        let format = match self.begun(&song) {
            Some(b) => b.format.clone(),
            None => return Err(CacheError::NotStarted { song }),
        };
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
}
