//! Playlists in the music folder (M3U, M3U8, PLS): which there are, which one a name
//! means, and the library's songs one lists, in its order.
//!
//! - [`parse`](mod@parse): the locations a playlist file lists (pure).
//! - [`resolve`](mod@resolve): where they lead, refusing anything outside the folder.
//!
//! A location that does not lead to a song of the library is skipped with a message
//! (logged, and kept for the status); so is a song listed a second time, because a
//! party's pool holds each song once (as in folder order).

pub mod parse;
pub mod resolve;

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use parse::Format;
pub use resolve::Skipped;

use super::{Library, Song, SongId};

/// Larger playlist files are refused unread: thousands of songs fit in far less, and a
/// card may hold anything under a playlist's name.
pub const MAX_PLAYLIST_BYTES: u64 = 1 << 20;

/// Why a playlist cannot be used. Each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaylistError {
    /// No playlist has this name: ask again with one of `available` (the names of the
    /// playlists in the music folder, possibly none).
    #[error("no playlist {name:?} in the music folder; {}", available_text(.available))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    /// The playlist file cannot be read: check the file (or the card).
    #[error("cannot read playlist {path}: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    /// The file is too large to be a playlist: check what it is.
    #[error("playlist {path} is larger than {} KiB; not read", MAX_PLAYLIST_BYTES >> 10)]
    TooLarge { path: PathBuf },
}

fn available_text(available: &[String]) -> String {
    if available.is_empty() {
        "there are no playlists (.m3u, .m3u8, .pls) in it".to_owned()
    } else {
        format!("available: {}", available.join(", "))
    }
}

/// A playlist's name: its file name without the extension.
pub fn name_of(path: &Path) -> String {
    path.file_stem()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// The playlist files under `music_dir` (hidden ones and links leading out excepted),
/// in path order. A folder that cannot be listed has none.
pub fn list(music_dir: &Path) -> Vec<PathBuf> {
    let Ok(canon) = fs::canonicalize(music_dir) else {
        return Vec::new();
    };
    let Ok(walked) = super::walk::walk(music_dir, &canon) else {
        return Vec::new();
    };
    walked
        .files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| Format::of_path(p).is_some())
        .collect()
}

/// The playlist of `playlists` that `name` means: its file name, with or without the
/// extension, ignoring case. Two with the same name: the first in path order.
pub fn find<'a>(playlists: &'a [PathBuf], name: &str) -> Result<&'a PathBuf, PlaylistError> {
    let wanted = name.trim().to_lowercase();
    let is = |p: &&PathBuf| {
        let file = p.file_name().map(|f| f.to_string_lossy().to_lowercase());
        file.as_deref() == Some(&wanted) || name_of(p).to_lowercase() == wanted
    };
    playlists
        .iter()
        .find(is)
        .ok_or_else(|| PlaylistError::Unknown {
            name: name.to_owned(),
            available: playlists.iter().map(|p| name_of(p)).collect(),
        })
}

/// A playlist read against the library.
#[derive(Debug)]
pub struct Loaded<'l> {
    /// Its name ([`name_of`]).
    pub name: String,
    /// The library's songs it lists, in its order, each once.
    pub songs: Vec<&'l Song>,
    /// Its locations that do not play, in its order.
    pub skipped: Vec<Skipped>,
}

/// Reads the playlist at `path` and finds its songs in `library`. Every location
/// skipped is logged as a warning.
pub fn load<'l>(library: &'l Library, path: &Path) -> Result<Loaded<'l>, PlaylistError> {
    let bytes = read_limited(path)?;
    let format = Format::of_path(path).unwrap_or(Format::M3u);
    let entries = parse::parse(&bytes, format);
    let unreadable = |source| PlaylistError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let canon_root = fs::canonicalize(library.music_dir()).map_err(unreadable)?;
    let dir = fs::canonicalize(path.parent().unwrap_or(Path::new("."))).map_err(unreadable)?;
    let resolved = resolve::resolve(&entries, &dir, &canon_root);
    let mut loaded = Loaded {
        name: name_of(path),
        songs: Vec::new(),
        skipped: resolved.skipped,
    };
    let mut seen = std::collections::HashSet::<SongId>::new();
    for (entry, rel) in resolved.files {
        let reason = match library.by_path(&rel) {
            Some(song) if seen.insert(song.id) => {
                loaded.songs.push(song);
                continue;
            }
            Some(_) => "listed before; the pool holds each song once",
            None => "not a song of the library (not audio, hidden, or added since the scan)",
        };
        loaded.skipped.push(Skipped {
            entry,
            reason: reason.to_owned(),
        });
    }
    for s in &loaded.skipped {
        tracing::warn!(playlist = %path.display(), entry = %s.entry, reason = %s.reason, "playlist entry skipped");
    }
    Ok(loaded)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, PlaylistError> {
    let unreadable = |source| PlaylistError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLAYLIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PLAYLIST_BYTES {
        return Err(PlaylistError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
