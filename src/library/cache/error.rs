//! [`CacheError`]: what can go wrong in the song cache, each variant saying what the
//! caller should do. None is fatal to a party: a box without the song just does not play
//! it (or plays it once another peer delivers it).

use std::io;
use std::path::{Path, PathBuf};

use crate::core::transfer::ManifestError;
use crate::core::SongRef;

/// A song cache problem. The doc of each variant says how to react.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Reading or writing a cache file failed (permissions, a failing SD card). Report it
    /// in status; the song is not cached now, try again later.
    #[error("song cache: {path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The disk holding the cache is full. Report it in status; the party continues with
    /// the songs this box already has.
    #[error("song cache: disk full at {path}")]
    DiskFull {
        /// The file that could not be written.
        path: PathBuf,
    },
    /// Even after evicting every song that may be evicted, `needed` bytes do not fit the
    /// quota. Skip the song on this box (or raise the quota).
    #[error("song cache: {needed} more bytes do not fit the quota of {quota} bytes")]
    QuotaExceeded {
        /// Bytes the operation needed.
        needed: u64,
        /// The configured quota.
        quota: u64,
    },
    /// A chunk does not match its manifest hash. When receiving: nothing was written,
    /// fetch it from another peer (and trust this one less). When serving: the stored copy
    /// is damaged, do not send it.
    #[error("song cache: chunk {chunk} of {song:?} does not match its hash")]
    CorruptChunk {
        /// The song.
        song: SongRef,
        /// The chunk index.
        chunk: u32,
    },
    /// Every chunk matched but the assembled file is not the song's length (something
    /// else changed it). The download was deleted; start again.
    #[error("song cache: assembled file is not {song:?}; download discarded")]
    CorruptSong {
        /// The song.
        song: SongRef,
    },
    /// The manifest fails validation: ignore it (and the peer that sent it).
    #[error("song cache: manifest refused: {0}")]
    BadManifest(#[from] ManifestError),
    /// The chunk is not in the cache: tell the peer this box does not have it.
    #[error("song cache: chunk {chunk} of {song:?} not held")]
    NotHeld {
        /// The song.
        song: SongRef,
        /// The chunk index.
        chunk: u32,
    },
    /// No download of this song with this manifest is in progress: call `Cache::begin`
    /// first (again, if the manifest changed).
    #[error("song cache: no download of {song:?} in progress for this manifest")]
    NotStarted {
        /// The song.
        song: SongRef,
    },
}

impl CacheError {
    /// `source` while working on `path`: [`CacheError::DiskFull`] when the disk is full,
    /// [`CacheError::Io`] otherwise.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        let no_space = rustix::io::Errno::NOSPC.raw_os_error();
        if source.kind() == io::ErrorKind::StorageFull || source.raw_os_error() == Some(no_space) {
            CacheError::DiskFull {
                path: path.to_owned(),
            }
        } else {
            CacheError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// Attaches the path to an I/O result, classifying a full disk.
pub(crate) trait AtPath<T> {
    fn at(self, path: &Path) -> Result<T, CacheError>;
}

impl<T> AtPath<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, CacheError> {
        self.map_err(|e| CacheError::io(path, e))
    }
}
