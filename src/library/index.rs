//! The persistent scan index (`state_dir/library.json`): what each file was at its last
//! scan (size, mtime, id and tags, or why it is not a song), so a rescan only rehashes
//! files whose size or mtime changed.
//!
//! JSON rather than postcard: it is read once at start, stays small (about 300 bytes a
//! song), can be inspected by hand on a box, and a damaged file fails to parse instead of
//! decoding into plausible garbage.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::error::LibraryError;
use super::id::SongId;

/// File name of the index inside the state folder.
pub const INDEX_FILE: &str = "library.json";

/// Bumped when the format changes; an index of another version is discarded and rebuilt.
const VERSION: u32 = 1;

/// What a file was when it was last looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Song or not.
    pub kind: EntryKind,
}

/// The verdict on a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A playable song.
    Song {
        /// BLAKE3 of the bytes.
        id: SongId,
        /// Title tag (the file name is used when absent).
        title: Option<String>,
        /// Artist tag.
        artist: Option<String>,
        /// Album tag.
        album: Option<String>,
        /// Length in milliseconds.
        duration_ms: Option<u64>,
    },
    /// Not a song; remembered so it is not probed again until it changes.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// The index: entries keyed by path relative to the music folder (UTF-8 paths only; a file
/// whose name is not UTF-8 works but is rehashed on every scan).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    version: u32,
    /// The music folder the relative paths belong to.
    music_dir: String,
    /// Relative path -> entry.
    pub files: BTreeMap<String, Entry>,
}

impl Index {
    /// An empty index for `music_dir`.
    pub fn new(music_dir: &Path) -> Self {
        Index {
            version: VERSION,
            music_dir: music_dir.to_string_lossy().into_owned(),
            files: BTreeMap::new(),
        }
    }

    /// The entry for `rel` if the file still has this size and mtime.
    pub fn fresh(&self, rel: &str, size: u64, mtime_ns: Option<i64>) -> Option<&Entry> {
        let entry = self.files.get(rel)?;
        (entry.size == size && Some(entry.mtime_ns) == mtime_ns).then_some(entry)
    }

    /// Load the index at `path` made for `music_dir`. A missing file is an empty index;
    /// an unreadable, corrupt or foreign one is an empty index plus the warning to show.
    pub fn load(path: &Path, music_dir: &Path) -> (Index, Option<LibraryError>) {
        let empty = Index::new(music_dir);
        let discard = |reason: String| {
            let warning = LibraryError::IndexDiscarded {
                path: path.to_owned(),
                reason,
            };
            (Index::new(music_dir), Some(warning))
        };
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return (empty, None)
            }
            Err(e) => return discard(format!("cannot read it: {e}")),
        };
        let index: Index = match serde_json::from_slice(&bytes) {
            Ok(index) => index,
            Err(e) => return discard(format!("corrupt: {e}")),
        };
        if index.version != VERSION {
            return discard(format!("format version {} is not {VERSION}", index.version));
        }
        if index.music_dir != empty.music_dir {
            return discard(format!("made for music folder {}", index.music_dir));
        }
        (index, None)
    }

    /// Write the index to `path` atomically: a temp file in the same folder, fsynced, then
    /// renamed over the old one, then the folder fsynced. A box is unplugged without
    /// warning; after a power cut there is either the old index or the new, never half.
    pub fn save(&self, path: &Path) -> Result<(), LibraryError> {
        let unwritable = |source: io::Error| LibraryError::StateDirUnwritable {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .ok_or_else(|| unwritable(io::Error::other("index path has no folder")))?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| unwritable(e.into()))?;
        fs::create_dir_all(dir).map_err(unwritable)?;
        // The pid keeps two processes sharing a state folder from writing one temp file.
        let tmp = dir.join(format!(".{INDEX_FILE}.{}.tmp", std::process::id()));
        let written = write_synced(&tmp, &bytes).and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = written {
            // Best effort: a leftover temp file is harmless, only untidy.
            let _ = fs::remove_file(&tmp);
            return Err(unwritable(e));
        }
        // Makes the rename itself durable. Some file systems refuse to fsync a folder;
        // the index is then merely as durable as the OS makes it, which is acceptable.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::debug!(error = %e, "cannot fsync the state folder");
        }
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Modification time in nanoseconds since the Unix epoch (negative before it), or `None`
/// when the platform has none or it is out of range (such a file is always rehashed).
pub fn mtime_ns(meta: &Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Where the index of `state_dir` lives.
pub fn index_path(state_dir: &Path) -> PathBuf {
    state_dir.join(INDEX_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(music: &Path) -> Index {
        let mut index = Index::new(music);
        let song = EntryKind::Song {
            id: SongId::of_bytes(b"a"),
            title: Some("A".into()),
            artist: None,
            album: Some("Album".into()),
            duration_ms: Some(1234),
        };
        index.files.insert(
            "x/a.flac".into(),
            Entry {
                size: 10,
                mtime_ns: -5,
                kind: song,
            },
        );
        let reject = EntryKind::Rejected {
            reason: "text".into(),
        };
        index.files.insert(
            "b.txt".into(),
            Entry {
                size: 3,
                mtime_ns: 7,
                kind: reject,
            },
        );
        index
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let state = tempfile::tempdir().unwrap();
        let path = index_path(state.path());
        let index = sample(Path::new("/music"));
        index.save(&path).unwrap();
        let (loaded, warning) = Index::load(&path, Path::new("/music"));
        assert!(warning.is_none());
        assert_eq!(loaded, index);
        let names: Vec<_> = fs::read_dir(state.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![INDEX_FILE]);
        assert!(loaded.fresh("x/a.flac", 10, Some(-5)).is_some());
        assert!(loaded.fresh("x/a.flac", 11, Some(-5)).is_none());
        assert!(loaded.fresh("x/a.flac", 10, Some(-4)).is_none());
        assert!(loaded.fresh("x/a.flac", 10, None).is_none());
    }

    #[test]
    fn missing_index_is_empty_without_warning() {
        let state = tempfile::tempdir().unwrap();
        let (index, warning) = Index::load(&index_path(state.path()), Path::new("/m"));
        assert!(warning.is_none());
        assert!(index.files.is_empty());
    }

    #[test]
    fn corrupt_foreign_or_old_index_is_discarded_with_a_warning() {
        let state = tempfile::tempdir().unwrap();
        let path = index_path(state.path());
        for bytes in [
            &b"{\"version\": 1, \"files\": {tr"[..],
            b"\x00\xff garbage",
            b"",
        ] {
            fs::write(&path, bytes).unwrap();
            let (index, warning) = Index::load(&path, Path::new("/m"));
            assert!(index.files.is_empty());
            assert!(matches!(warning, Some(LibraryError::IndexDiscarded { .. })));
        }
        sample(Path::new("/elsewhere")).save(&path).unwrap();
        let (index, warning) = Index::load(&path, Path::new("/m"));
        assert!(index.files.is_empty() && warning.is_some());
        let mut old = sample(Path::new("/m"));
        old.version = 0;
        old.save(&path).unwrap();
        assert!(Index::load(&path, Path::new("/m")).1.is_some());
    }
}
