//! The cache's file names and the careful file operations it needs: names made only of a
//! song's hash and its validated format, atomic small-file writes, folder fsyncs and
//! bounded byte-range reads.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::error::{AtPath, CacheError};
use crate::core::transfer::manifest::{MAX_CHUNK_SIZE, MAX_FORMAT_LEN};
use crate::core::SongRef;
use crate::library::SongId;

/// Complete, verified songs: `songs/<64 hex>.<format>`.
pub const SONGS_DIR: &str = "songs";
/// Downloads in progress: `partial/<64 hex>.part` and `partial/<64 hex>.have`.
pub const PARTIAL_DIR: &str = "partial";
/// The play log (LRU order).
pub const PLAYS_FILE: &str = "plays.json";
/// Suffix of the temp file an atomic write renames into place; any left at start-up are
/// the remains of a crash.
pub const TMP_SUFFIX: &str = ".tmp";
pub const PART_EXT: &str = "part";
pub const HAVE_EXT: &str = "have";

/// The song's hash as 64 lowercase hex digits: the only part of a peer's data that
/// becomes a file name (with the validated format).
pub fn hex(song: &SongRef) -> String {
    SongId::from_bytes(song.0).to_string()
}

/// Whether `format` may be a file extension: what `Manifest::validate` accepts.
pub fn valid_format(format: &str) -> bool {
    (1..=MAX_FORMAT_LEN).contains(&format.len())
        && format
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `<hex>.<ext>` split into the song and the extension, if the name is one the cache
/// writes.
pub fn parse_name(name: &str) -> Option<(SongRef, &str)> {
    let (stem, ext) = name.split_once('.')?;
    let id: SongId = stem.parse().ok()?;
    valid_format(ext).then_some((SongRef(*id.as_bytes()), ext))
}

/// `dir/<hex>.<ext>`.
pub fn song_file(dir: &Path, song: &SongRef, ext: &str) -> PathBuf {
    dir.join(format!("{}.{ext}", hex(song)))
}

/// Write `bytes` to `path` so that after a power cut there is the old file or the new,
/// never half: a temp file in the same folder, fsynced, renamed over, folder fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        // Best effort: a leftover temp file is swept at the next start.
        let _ = fs::remove_file(&tmp);
        return Err(CacheError::io(path, e));
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Make renames and deletions in `dir` durable. Some file systems refuse to fsync a
/// folder; the cache is then only as durable as the OS makes it, which resume tolerates
/// (every held chunk is re-verified).
pub fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "cannot fsync the folder");
    }
}

/// Delete `path`; a file already gone is fine.
pub fn remove(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::io(path, e)),
        _ => Ok(()),
    }
}

/// Delete the temp files a crash left in `dir`.
pub fn sweep_temps(dir: &Path) -> Result<(), CacheError> {
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let is_temp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TMP_SUFFIX));
        if is_temp && path.is_file() {
            tracing::info!(path = %path.display(), "removing a temp file left by a crash");
            remove(&path)?;
        }
    }
    Ok(())
}

/// The bytes of `range` in the file at `path`, which is only read (the host serves chunks
/// straight from the user's music folder). A range longer than the largest chunk is
/// refused (`InvalidInput`); one past the end of the file fails with `UnexpectedEof`.
pub fn read_range(path: &Path, range: Range<u64>) -> io::Result<Vec<u8>> {
    let len = range
        .end
        .checked_sub(range.start)
        .filter(|&len| len <= u64::from(MAX_CHUNK_SIZE))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("range {range:?} is not a chunk of at most {MAX_CHUNK_SIZE} bytes"),
            )
        })?;
    // Read into spare capacity: zeroing a buffer only to overwrite it cost the serving box
    // a memset per chunk.
    let mut buf = Vec::with_capacity(usize::try_from(len).map_err(io::Error::other)?);
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(range.start))?;
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}
