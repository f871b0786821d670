//! Opening the cache: create the folders, sweep what a crash left behind, and take stock
//! of the complete songs and downloads on disk.

use std::collections::BTreeMap;
use std::fs::{self, DirEntry};
use std::path::Path;

use super::error::{AtPath, CacheError};
use super::files::{self, HAVE_EXT, PARTIAL_DIR, PART_EXT, PLAYS_FILE, SONGS_DIR};
use super::playlog::PlayLog;
use super::{Cache, Partial, Stored};
use crate::core::SongRef;

pub(super) fn open(dir: &Path, quota: u64) -> Result<Cache, CacheError> {
    let songs_dir = dir.join(SONGS_DIR);
    let partial_dir = dir.join(PARTIAL_DIR);
    for d in [dir, &songs_dir, &partial_dir] {
        fs::create_dir_all(d).at(d)?;
        files::sweep_temps(d)?;
    }
    let complete = scan_songs(&songs_dir)?;
    let partials = scan_partials(&partial_dir, &complete)?;
    let (mut plays, warning) = PlayLog::load(&dir.join(PLAYS_FILE));
    if let Some(why) = warning {
        tracing::warn!(dir = %dir.display(), "song cache play log discarded ({why}); eviction order restarts");
    }
    plays.retain(|song| complete.contains_key(song) || partials.contains_key(song));
    let cache = Cache {
        songs_dir,
        partial_dir,
        quota,
        complete,
        partials,
        plays,
        direct: Default::default(),
    };
    let usage = cache.usage();
    tracing::info!(
        dir = %dir.display(),
        used = usage.used,
        quota,
        songs = usage.songs,
        partials = usage.partials,
        "song cache opened"
    );
    Ok(cache)
}

/// The cache's own files in `dir`: regular files named `<hex>.<ext>`, with their length.
/// Anything else is left alone (and not counted).
fn own_files(dir: &Path) -> Result<Vec<(SongRef, String, u64, std::path::PathBuf)>, CacheError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry: DirEntry = entry.at(dir)?;
        let path = entry.path();
        let meta = entry.metadata().at(&path)?;
        let parsed = entry
            .file_name()
            .to_str()
            .and_then(|n| files::parse_name(n).map(|(s, e)| (s, e.to_owned())));
        match parsed {
            Some((song, ext)) if meta.is_file() => out.push((song, ext, meta.len(), path)),
            _ => tracing::debug!(path = %path.display(), "not a song cache file; ignored"),
        }
    }
    // Deterministic choice when a song appears twice.
    out.sort_by(|a, b| a.3.cmp(&b.3));
    Ok(out)
}

fn scan_songs(dir: &Path) -> Result<BTreeMap<SongRef, Stored>, CacheError> {
    let mut complete = BTreeMap::new();
    for (song, format, size, path) in own_files(dir)? {
        if complete.contains_key(&song) {
            // The same song under a second format: one copy is enough.
            files::remove(&path)?;
            continue;
        }
        complete.insert(song, Stored { format, size });
    }
    Ok(complete)
}

fn scan_partials(
    dir: &Path,
    complete: &BTreeMap<SongRef, Stored>,
) -> Result<BTreeMap<SongRef, Partial>, CacheError> {
    let found = own_files(dir)?;
    let mut partials = BTreeMap::new();
    for (song, ext, size, path) in &found {
        if ext != PART_EXT {
            continue;
        }
        if complete.contains_key(song) {
            files::remove(path)?;
            continue;
        }
        partials.insert(
            *song,
            Partial {
                size: *size,
                begun: None,
            },
        );
    }
    for (song, ext, _, path) in &found {
        // A bitfield without its download: the crash came after the rename into songs/
        // (or after the .part was deleted).
        let orphan = ext == HAVE_EXT && !partials.contains_key(song);
        if orphan || (ext != PART_EXT && ext != HAVE_EXT) {
            files::remove(path)?;
        }
    }
    Ok(partials)
}
