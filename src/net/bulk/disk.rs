//! The disk executor of transfers: building manifests from local files, starting
//! downloads, writing and reading chunks, as the transfer machine asks. Each job runs on
//! a blocking thread and reports back through a channel, so the async threads never
//! touch the disk.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::core::transfer::manifest::chunk_size_for;
use crate::core::transfer::{
    ChunkSet, ConnId, DiskFailure, DiskFailureKind, Manifest, Tags, VerifiedChunk,
};
use crate::core::SongRef;
use crate::library::cache::{read_range, Cache, CacheError, Written};
use crate::library::Song;

/// The cache, shared between blocking jobs (they take turns).
pub(super) type SharedCache = Arc<Mutex<Cache>>;

/// A finished blocking job.
#[derive(Debug)]
pub(super) enum DiskDone {
    /// A manifest of a song in the music folder.
    Manifest {
        song: SongRef,
        result: Result<Manifest, String>,
    },
    /// A download started or resumed: the chunks already held, and the songs evicted
    /// to make room.
    Begun {
        song: SongRef,
        result: Result<ChunkSet, CacheError>,
        evicted: Vec<SongRef>,
    },
    /// Chunk bytes to send to the peer on `conn`.
    Read {
        conn: ConnId,
        song: SongRef,
        chunk: u32,
        result: Result<Bytes, String>,
    },
    /// A verified chunk was written (or not).
    Wrote {
        song: SongRef,
        chunk: u32,
        result: Result<Written, CacheError>,
    },
}

/// Runs blocking jobs and sends their results to the transfer loop.
#[derive(Debug, Clone)]
pub(super) struct Disk {
    pub cache: SharedCache,
    tracker: TaskTracker,
    done: mpsc::Sender<DiskDone>,
}

impl Disk {
    pub(super) fn new(cache: Cache, tracker: TaskTracker, done: mpsc::Sender<DiskDone>) -> Self {
        Disk {
            cache: Arc::new(Mutex::new(cache)),
            tracker,
            done,
        }
    }

    fn run(&self, job: impl FnOnce(&SharedCache) -> DiskDone + Send + 'static) {
        let (cache, done) = (self.cache.clone(), self.done.clone());
        self.tracker.spawn_blocking(move || {
            let _ = done.blocking_send(job(&cache));
        });
    }

    /// Describes a song of the music folder (reads the whole file once).
    pub(super) fn build_manifest(&self, song: SongRef, path: PathBuf, tags: Tags) {
        self.run(move |_| {
            let result = File::open(&path)
                .and_then(|f| {
                    let size = f.metadata()?.len();
                    Manifest::from_reader(f, chunk_size_for(size), tags)
                })
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|m| {
                    if m.song == song {
                        Ok(m)
                    } else {
                        Err(format!("{} changed since it was scanned", path.display()))
                    }
                });
            DiskDone::Manifest { song, result }
        });
    }

    pub(super) fn begin(&self, manifest: Arc<Manifest>, pinned: HashSet<SongRef>) {
        self.run(move |cache| {
            let (result, evicted) = match lock(cache) {
                Ok(mut c) => {
                    let before = c.songs();
                    let result = c.begin(&manifest, &pinned);
                    let after: HashSet<SongRef> = c.songs().into_iter().map(|(s, _)| s).collect();
                    let evicted = before
                        .into_iter()
                        .map(|(s, _)| s)
                        .filter(|s| !after.contains(s))
                        .collect();
                    (result, evicted)
                }
                Err(e) => (Err(e), Vec::new()),
            };
            DiskDone::Begun {
                song: manifest.song,
                result,
                evicted,
            }
        });
    }

    /// Where each of `held` is in the cache (a song missing from it is left out).
    pub(super) fn paths(&self, held: &BTreeSet<SongRef>) -> HashMap<SongRef, PathBuf> {
        let Ok(cache) = lock(&self.cache) else {
            return HashMap::new();
        };
        held.iter()
            .filter_map(|s| cache.path_of(s).map(|p| (*s, p)))
            .collect()
    }

    /// Reads a chunk to serve: from the music folder if `file` is given, else the cache.
    ///
    /// A music-folder chunk is not hashed: the file is served only while it has the size
    /// and modification time it was hashed at, which is what the library trusts to skip
    /// hashing at a rescan and to play it; every receiver checks every chunk anyway.
    /// (Hashing each chunk again cost the host a tenth of its CPU on a fast link.)
    pub(super) fn read(
        &self,
        conn: ConnId,
        manifest: Arc<Manifest>,
        chunk: u32,
        file: Option<Song>,
    ) {
        self.run(move |cache| {
            let result = match file {
                Some(f) => read_range(&f.path, manifest.chunk_range(chunk))
                    .map_err(|e| e.to_string())
                    .and_then(|data| match f.unchanged() {
                        true => Ok(data),
                        // Checked after the read, so an edit during it is seen.
                        false => Err("the file changed since it was scanned".into()),
                    }),
                None => lock(cache)
                    .and_then(|c| c.read_chunk(&manifest, chunk))
                    .map_err(|e| e.to_string()),
            };
            DiskDone::Read {
                conn,
                song: manifest.song,
                chunk,
                result: result.map(Bytes::from),
            }
        });
    }

    /// Writes a chunk that already passed verification.
    pub(super) fn write(&self, manifest: Arc<Manifest>, chunk: VerifiedChunk) {
        self.run(move |cache| DiskDone::Wrote {
            song: manifest.song,
            chunk: chunk.index(),
            result: lock(cache).and_then(|mut c| c.write_verified(&manifest, &chunk)),
        });
    }

    /// Records a play for least-recently-played eviction.
    pub(super) fn played(&self, song: SongRef) {
        let cache = self.cache.clone();
        self.tracker.spawn_blocking(move || {
            if let Err(e) = lock(&cache).and_then(|mut c| c.mark_played(&song)) {
                tracing::warn!(error = %e, "play log not updated");
            }
        });
    }
}

/// What a cache error means for the song, for the transfer machine.
pub(super) fn failure(e: &CacheError) -> DiskFailure {
    let kind = match e {
        CacheError::DiskFull { .. } | CacheError::QuotaExceeded { .. } => DiskFailureKind::Full,
        CacheError::CorruptSong { .. } => DiskFailureKind::CorruptSong,
        _ => DiskFailureKind::Other,
    };
    DiskFailure {
        kind,
        message: e.to_string(),
    }
}

/// A poisoned lock means a blocking job panicked mid-operation: the cache's files are
/// still consistent (every write is atomic), so carry on with its state.
fn lock(cache: &SharedCache) -> Result<std::sync::MutexGuard<'_, Cache>, CacheError> {
    Ok(cache.lock().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{index, SongId};

    /// What serving chunk 1 of the music-folder song `file` of manifest `m` gives.
    async fn serve(
        disk: &Disk,
        rx: &mut mpsc::Receiver<DiskDone>,
        m: &Manifest,
        file: &Song,
    ) -> Result<Bytes, String> {
        disk.read(7, Arc::new(m.clone()), 1, Some(file.clone()));
        match rx.recv().await {
            Some(DiskDone::Read { result, .. }) => result,
            other => Err(format!("not a read: {other:?}")),
        }
    }

    #[tokio::test]
    async fn a_music_folder_file_is_served_only_while_it_is_as_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("song.wav");
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let tags = Tags {
            format: "wav".into(),
            ..Tags::default()
        };
        let m = Manifest::from_reader(&bytes[..], 16 * 1024, tags).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let file = Song {
            id: SongId::from_bytes(m.song.0),
            path: path.clone(),
            title: "song".into(),
            artist: None,
            album: None,
            duration_ms: None,
            size: meta.len(),
            mtime_ns: index::mtime_ns(&meta),
        };
        let cache = Cache::open(&dir.path().join("cache"), u64::MAX).unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let disk = Disk::new(cache, TaskTracker::new(), tx);
        let served = serve(&disk, &mut rx, &m, &file).await.unwrap();
        assert_eq!(served, &bytes[16_384..32_768]);
        // Rewritten with the same size: a new modification time says it changed.
        let mut changed = bytes.clone();
        changed[20_000] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let refused = serve(&disk, &mut rx, &m, &file).await.unwrap_err();
        assert!(
            refused.contains("changed since it was scanned"),
            "{refused}"
        );
    }

    #[test]
    fn cache_errors_become_the_failures_the_machine_acts_on() {
        let kind = |e: CacheError| failure(&e).kind;
        let path = PathBuf::from("/x");
        let song = SongRef([1; 32]);
        assert_eq!(kind(CacheError::DiskFull { path }), DiskFailureKind::Full);
        let quota = CacheError::QuotaExceeded {
            needed: 2,
            quota: 1,
        };
        assert_eq!(kind(quota), DiskFailureKind::Full);
        assert_eq!(
            kind(CacheError::CorruptSong { song }),
            DiskFailureKind::CorruptSong
        );
        assert_eq!(
            kind(CacheError::NotStarted { song }),
            DiskFailureKind::Other
        );
        let full = failure(&CacheError::DiskFull {
            path: PathBuf::from("/cache/a.part"),
        });
        assert!(full.message.contains("disk full"), "{}", full.message);
    }
}
