//! The play log: for each cached song, the value of a counter when it was last played
//! (or finished downloading), persisted so eviction is least-recently-played first across
//! restarts. A counter, not wall time: boxes have no real-time clock.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::CacheError;
use super::files;
use crate::core::SongRef;
use crate::library::SongId;

/// Bumped when the format changes; another version is discarded.
const VERSION: u32 = 1;

/// The file: JSON, small and inspectable by hand on a box.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PlayFile {
    version: u32,
    /// The last sequence number handed out.
    last: u64,
    /// Song hash (hex) -> sequence number of its last use.
    played: BTreeMap<String, u64>,
}

/// Last-use sequence numbers of cached songs.
#[derive(Debug)]
pub struct PlayLog {
    path: PathBuf,
    last: u64,
    played: HashMap<SongRef, u64>,
}

impl PlayLog {
    /// The log at `path`. Missing: empty. Damaged: empty plus the reason (eviction order
    /// is then arbitrary until songs are played again, which is harmless).
    pub fn load(path: &Path) -> (PlayLog, Option<String>) {
        let mut log = PlayLog {
            path: path.to_owned(),
            last: 0,
            played: HashMap::new(),
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (log, None),
            Err(e) => return (log, Some(format!("cannot read it: {e}"))),
        };
        let file: PlayFile = match serde_json::from_slice(&bytes) {
            Ok(file) => file,
            Err(e) => return (log, Some(format!("corrupt: {e}"))),
        };
        if file.version != VERSION {
            return (log, Some(format!("format version {}", file.version)));
        }
        for (hex, seq) in file.played {
            if let Ok(id) = hex.parse::<SongId>() {
                log.played.insert(SongRef(*id.as_bytes()), seq);
            }
        }
        // A hand-edited file must not make new plays look older than old ones.
        log.last = log.played.values().copied().fold(file.last, u64::max);
        (log, None)
    }

    /// Sequence number of the song's last use; 0 if never used (evicted first).
    pub fn seq(&self, song: &SongRef) -> u64 {
        self.played.get(song).copied().unwrap_or(0)
    }

    /// Record a use of `song`: it becomes the most recently used.
    pub fn touch(&mut self, song: SongRef) {
        self.last = self.last.saturating_add(1);
        self.played.insert(song, self.last);
    }

    /// Forget a song that left the cache.
    pub fn forget(&mut self, song: &SongRef) {
        self.played.remove(song);
    }

    /// Keep only the songs `keep` accepts (the ones still in the cache).
    pub fn retain(&mut self, mut keep: impl FnMut(&SongRef) -> bool) {
        self.played.retain(|song, _| keep(song));
    }

    /// Write the log atomically.
    pub fn save(&self) -> Result<(), CacheError> {
        let file = PlayFile {
            version: VERSION,
            last: self.last,
            played: self
                .played
                .iter()
                .map(|(song, &seq)| (files::hex(song), seq))
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| CacheError::io(&self.path, io::Error::other(e)))?;
        files::write_atomic(&self.path, &bytes)
    }
}
