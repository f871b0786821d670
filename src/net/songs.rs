//! Where this box finds each song's file: its music folder once scanned, else the cache
//! of songs fetched from other boxes.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::core::SongRef;
use crate::library::{Library, SongId};

/// The songs this box holds, by content hash.
#[derive(Debug, Default)]
pub(super) struct Songs {
    /// The music folder, once its first scan finished.
    library: Option<Library>,
    /// Songs fetched into the cache.
    cached: HashMap<SongRef, PathBuf>,
}

impl Songs {
    /// The music folder, once scanned.
    pub(super) fn library(&self) -> Option<&Library> {
        self.library.as_ref()
    }

    pub(super) fn set_library(&mut self, library: Library) {
        self.library = Some(library);
    }

    /// Every song now in the cache, as the transfer manager reported it.
    pub(super) fn set_cached(&mut self, cached: HashMap<SongRef, PathBuf>) {
        self.cached = cached;
    }

    /// Where this box has `song`: its music folder (unless the file changed since it was
    /// scanned), or the song cache.
    pub(super) fn path(&self, song: &SongRef) -> Option<PathBuf> {
        self.library
            .as_ref()
            .and_then(|l| l.get(&SongId::from_bytes(song.0)))
            // A file rewritten since the scan is other bytes: never played as this song.
            .filter(|s| s.unchanged())
            .map(|s| s.path.clone())
            .or_else(|| self.cached.get(song).cloned())
    }
}
