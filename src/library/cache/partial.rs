//! The files of one download in progress: the `.part` file (the song at its final size,
//! chunks written at their offsets) and the `.have` file (which chunks it holds), and the
//! checks that decide what a resumed download really holds.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{AtPath, CacheError};
use super::files;
use crate::core::transfer::{ChunkSet, Manifest};

/// Bumped when the `.have` format changes; another version is read as "nothing held".
const HAVE_VERSION: u32 = 1;

/// The `.have` file: the bitfield plus the chunking it is about, so a bitfield made for
/// another manifest of the same song is not misread.
#[derive(Debug, Serialize, Deserialize)]
struct HaveFile {
    version: u32,
    size: u64,
    chunk_size: u32,
    bits: Vec<u8>,
}

/// The chunks the `.have` file at `path` claims for `manifest`'s chunking: only a
/// candidate list (a crash can leave it ahead of the data). Missing, damaged or made for
/// another chunking: nothing.
pub fn load_have(path: &Path, manifest: &Manifest) -> ChunkSet {
    let count = manifest.chunk_count();
    let empty = ChunkSet::empty(count);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return empty,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read; refetching the song");
            return empty;
        }
    };
    match postcard::from_bytes::<HaveFile>(&bytes) {
        Ok(have)
            if have.version == HAVE_VERSION
                && have.size == manifest.size
                && have.chunk_size == manifest.chunk_size =>
        {
            ChunkSet::from_bits(count, have.bits).unwrap_or(empty)
        }
        _ => {
            tracing::info!(path = %path.display(), "bitfield unusable for this manifest; refetching");
            empty
        }
    }
}

/// Persist `held` for `manifest` at `path`, atomically.
pub fn save_have(path: &Path, manifest: &Manifest, held: &ChunkSet) -> Result<(), CacheError> {
    save_have_bits(path, manifest.size, manifest.chunk_size, held)
}

/// [`save_have`] for a song of `size` bytes cut into `chunk_size` chunks.
pub fn save_have_bits(
    path: &Path,
    size: u64,
    chunk_size: u32,
    held: &ChunkSet,
) -> Result<(), CacheError> {
    let have = HaveFile {
        version: HAVE_VERSION,
        size,
        chunk_size,
        bits: held.bits().to_vec(),
    };
    let bytes =
        postcard::to_stdvec(&have).map_err(|e| CacheError::io(path, io::Error::other(e)))?;
    files::write_atomic(path, &bytes)
}

/// Of the `candidates`, the chunks whose bytes in the `.part` file at `path` match the
/// manifest. Unreadable chunks (a file cut short) count as missing.
pub fn verify_held(
    path: &Path,
    manifest: &Manifest,
    candidates: &ChunkSet,
) -> Result<ChunkSet, CacheError> {
    let mut held = ChunkSet::empty(manifest.chunk_count());
    if candidates.count() == 0 {
        return Ok(held);
    }
    let file = File::open(path).at(path)?;
    let mut buf = Vec::new();
    for i in candidates.iter() {
        let range = manifest.chunk_range(i);
        buf.resize(manifest.chunk_len(i), 0);
        match file.read_exact_at(&mut buf, range.start) {
            Ok(()) if manifest.verify_chunk(i, &buf) => {
                held.insert(i);
            }
            Ok(()) => {
                tracing::info!(chunk = i, song = ?manifest.song, "held chunk damaged; refetching it")
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(CacheError::io(path, e)),
        }
    }
    Ok(held)
}

/// Create (or resize) the `.part` file at `path` to `size` bytes and reserve its disk
/// space, so a full disk shows now ([`CacheError::DiskFull`]) rather than halfway through.
pub fn prepare_part(path: &Path, size: u64) -> Result<(), CacheError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .at(path)?;
    if file.metadata().at(path)?.len() != size {
        file.set_len(size).at(path)?;
    }
    if size > 0 {
        let reserved = rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size);
        match reserved {
            Ok(()) => {}
            // File systems without preallocation (tmpfs on old kernels, FAT): writes then
            // report a full disk when it happens.
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(CacheError::io(path, e.into())),
        }
    }
    Ok(())
}

/// Makes the complete `.part` file at `path` durable; whether it is `size` bytes long.
///
/// Its bytes are not hashed again: each chunk in it hashed to its place in the manifest
/// (as it arrived, or as `begin` re-read it on resume), and the manifest's chunk hashes
/// make the song's hash (`begin` refuses a manifest whose do not), so the file holds the
/// song. A second hash would read back the page cache, not the disk, and costs a tenth
/// of a fast download.
pub fn seal(path: &Path, size: u64) -> Result<bool, CacheError> {
    let file = File::open(path).at(path)?;
    file.sync_all().at(path)?;
    Ok(file.metadata().at(path)?.len() == size)
}
