//! What can go wrong with the library, each variant saying what the caller should do.
//!
//! Nothing here is fatal to a box: a party can always run with whatever songs were found
//! (even none, as a member that only plays what the host sends).

use std::io;
use std::path::PathBuf;

/// A library problem. The doc of each variant says how to react.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryError {
    /// The music folder does not exist. Say so and continue with an empty library (the box
    /// can still join parties and play what the host sends).
    #[error("music folder {0} does not exist; continuing with an empty library")]
    MusicDirMissing(PathBuf),
    /// The music folder exists but cannot be listed (permission, not a folder, I/O error).
    /// Say so and continue with an empty library.
    #[error("cannot read music folder {path}: {source}; continuing with an empty library")]
    MusicDirUnreadable {
        /// The configured music folder.
        path: PathBuf,
        /// Why listing it failed.
        source: io::Error,
    },
    /// The state folder lies inside the music folder; using it would write into the user's
    /// music. A configuration error: ask for another state folder.
    #[error(
        "state folder {state} is inside the music folder {music}; choose another state folder"
    )]
    StateDirInsideMusicDir {
        /// The configured state folder.
        state: PathBuf,
        /// The configured music folder.
        music: PathBuf,
    },
    /// The state folder cannot be created or the index cannot be written there. Warn; the
    /// library works without a persistent index (every scan rehashes everything).
    #[error(
        "cannot write the library index in {path}: {source}; every scan will rehash all songs"
    )]
    StateDirUnwritable {
        /// The index file (or the state folder) that could not be written.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The index file was unreadable or corrupt and has been discarded. Warn; it is rebuilt
    /// by the scan (which therefore rehashes everything once).
    #[error("library index {path} discarded ({reason}); rebuilding it")]
    IndexDiscarded {
        /// The index file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}
