//! The local music library: scan the music folder for songs symphonia decodes, identify
//! each by the BLAKE3 hash of its bytes ([`SongId`]), and remember the scan in the state
//! folder so a rescan only rehashes files whose size or mtime changed.
//!
//! - [`id`]: [`SongId`], the content hash every other part uses to name a song.
//! - [`walk`]: the folder walk (hidden files skipped, links kept inside the folder).
//! - [`probe`]: "is this playable?", tags and duration.
//! - [`guard`]: refuses a file whose tags claim more bytes than it holds, before
//!   symphonia allocates them; [`contain`]: a panic inside symphonia becomes an error.
//! - [`index`]: the persistent index, written atomically.
//! - [`order`](mod@order): folder or seeded shuffle order for the host's pool.
//! - [`playlist`]: M3U and PLS playlists in the music folder, read against the library.
//! - [`cache`]: songs fetched from peers, content-addressed, verified, within a quota.
//!
//! The user's music folder is only ever read. Scanning blocks on disk I/O and hashing:
//! run it on a blocking thread, not in an async task.

pub mod artwork;
pub mod cache;
pub mod contain;
pub mod error;
pub mod guard;
pub mod id;
pub mod index;
pub mod order;
pub mod playlist;
pub mod probe;
pub mod walk;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

pub use cache::{read_range, Cache, CacheError, CacheUsage, Written};
pub use error::LibraryError;
pub use id::{ParseSongIdError, SongId};
pub use order::{order, Order};

use index::{Entry, EntryKind, Index};
use probe::Reject;

/// A playable song in the music folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Song {
    /// BLAKE3 of the file's bytes.
    pub id: SongId,
    /// Where the file is (the music folder joined with its relative path).
    pub path: PathBuf,
    /// Title tag, or the file name without extension.
    pub title: String,
    /// Artist tag.
    pub artist: Option<String>,
    /// Album tag.
    pub album: Option<String>,
    /// Length, when the container says; less if the file holds less audio than its
    /// header promises (see [`probe`](mod@probe)).
    pub duration_ms: Option<u64>,
    /// File length in bytes.
    pub size: u64,
    /// The file's modification time when it was hashed (ns since the epoch), if known.
    pub mtime_ns: Option<i64>,
}

impl Song {
    /// Whether the file still has the size and modification time it was hashed at. A file
    /// rewritten since holds other bytes than its id names: it is not this song until the
    /// next scan hashes it again (a stat, where hashing would read it all).
    pub fn unchanged(&self) -> bool {
        fs::metadata(&self.path)
            .is_ok_and(|m| m.len() == self.size && index::mtime_ns(&m) == self.mtime_ns)
    }
}

/// What a scan did.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Songs in the library after the scan.
    pub songs: usize,
    /// Files hashed (new or changed).
    pub hashed: usize,
    /// Songs taken from the index without reading them (size and mtime unchanged).
    pub reused: usize,
    /// Files (or folders) that are not in the library, and why; in path order.
    pub skipped: Vec<(PathBuf, String)>,
    /// Problems that did not stop the scan (index discarded or not writable); already
    /// logged as warnings.
    pub warnings: Vec<LibraryError>,
}

/// The songs of one music folder.
#[derive(Debug)]
pub struct Library {
    music_dir: PathBuf,
    index_path: PathBuf,
    /// What the last scan (or the index file) knows; compared with the next scan's result
    /// to write the file only when something changed (SD cards wear out).
    index: Index,
    /// Set when the file on disk does not match `index` (discarded or never written).
    index_stale: bool,
    /// Warnings from `open`, handed out with the first scan report.
    pending: Vec<LibraryError>,
    songs: Vec<Song>,
    by_id: HashMap<SongId, usize>,
    by_path: HashMap<PathBuf, usize>,
}

impl Library {
    /// A library of `music_dir` keeping its index in `state_dir`. Empty until
    /// [`Library::scan`]. Fails only if `state_dir` is inside `music_dir` (the music folder
    /// is never written to); a missing music folder is reported by `scan`.
    pub fn open(music_dir: &Path, state_dir: &Path) -> Result<Library, LibraryError> {
        if is_inside(state_dir, music_dir) {
            return Err(LibraryError::StateDirInsideMusicDir {
                state: state_dir.to_owned(),
                music: music_dir.to_owned(),
            });
        }
        let index_path = index::index_path(state_dir);
        let (index, warning) = Index::load(&index_path, music_dir);
        let pending: Vec<LibraryError> = warning.into_iter().collect();
        for w in &pending {
            tracing::warn!("{w}");
        }
        Ok(Library {
            music_dir: music_dir.to_owned(),
            index_path,
            index,
            index_stale: !pending.is_empty(),
            pending,
            songs: Vec::new(),
            by_id: HashMap::new(),
            by_path: HashMap::new(),
        })
    }

    /// Walk the music folder and bring the library up to date. A missing or unreadable
    /// music folder empties the library and returns the error (continue without songs);
    /// the index is then kept as it was, so an unmounted USB stick does not cost a full
    /// rehash when it comes back.
    pub fn scan(&mut self) -> Result<ScanReport, LibraryError> {
        let mut report = ScanReport {
            warnings: std::mem::take(&mut self.pending),
            ..ScanReport::default()
        };
        let listed = self.list();
        let walk::Walked { files, skipped } = match listed {
            Ok(listed) => listed,
            Err(e) => {
                self.set_songs(Vec::new());
                tracing::warn!("{e}");
                return Err(e);
            }
        };
        report.skipped = skipped;
        let mut next = Index::new(&self.music_dir);
        let mut songs = Vec::new();
        // Playlists are read by `playlist`, not probed as songs that are not audio.
        for file in files
            .into_iter()
            .filter(|f| playlist::Format::of_path(&f.path).is_none())
        {
            self.scan_file(file, &mut next, &mut songs, &mut report);
        }
        report.skipped.sort();
        if self.index_stale || next != self.index {
            match next.save(&self.index_path) {
                Ok(()) => self.index_stale = false,
                Err(e) => {
                    tracing::warn!("{e}");
                    self.index_stale = true;
                    report.warnings.push(e);
                }
            }
        }
        self.index = next;
        songs.sort_by(|a, b| a.path.cmp(&b.path));
        report.songs = songs.len();
        self.set_songs(songs);
        Ok(report)
    }

    /// The candidate files, or why the music folder cannot be scanned.
    fn list(&self) -> Result<walk::Walked, LibraryError> {
        let unreadable = |source: io::Error| LibraryError::MusicDirUnreadable {
            path: self.music_dir.clone(),
            source,
        };
        let canon = match fs::canonicalize(&self.music_dir) {
            Ok(canon) => canon,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LibraryError::MusicDirMissing(self.music_dir.clone()))
            }
            Err(e) => return Err(unreadable(e)),
        };
        walk::walk(&self.music_dir, &canon).map_err(unreadable)
    }

    /// Take one file into `songs` and `next`, from the index when unchanged.
    fn scan_file(
        &self,
        file: walk::Found,
        next: &mut Index,
        songs: &mut Vec<Song>,
        report: &mut ScanReport,
    ) {
        let size = file.meta.len();
        let mtime = index::mtime_ns(&file.meta);
        // Non-UTF-8 names work but cannot be keys of the JSON index.
        let key = file.rel.to_str().map(str::to_owned);
        if let Some(entry) = key
            .as_deref()
            .and_then(|k| self.index.fresh(k, size, mtime))
        {
            match &entry.kind {
                EntryKind::Song { .. } => {
                    songs.extend(song_of(&file.path, entry));
                    report.reused += 1;
                }
                EntryKind::Rejected { reason } => report.skipped.push((file.path, reason.clone())),
            }
            if let Some(key) = key {
                next.files.insert(key, entry.clone());
            }
            return;
        }
        let kind = match examine(&file.path, size, mtime) {
            Ok(kind) => kind,
            Err(reason) => {
                // Read errors and files changing under us are not remembered: next scan
                // tries again.
                tracing::info!(file = %file.path.display(), %reason, "file skipped for now");
                report.skipped.push((file.path, reason));
                return;
            }
        };
        let entry = Entry {
            size,
            mtime_ns: mtime.unwrap_or(i64::MIN),
            kind,
        };
        match &entry.kind {
            EntryKind::Song { .. } => {
                report.hashed += 1;
                songs.extend(song_of(&file.path, &entry));
            }
            // Once per file: the index remembers it, and later scans skip it quietly.
            EntryKind::Rejected { reason } => {
                tracing::info!(file = %file.path.display(), %reason, "not a song, skipped");
                report.skipped.push((file.path.clone(), reason.clone()))
            }
        }
        if let (Some(key), Some(_)) = (key, mtime) {
            next.files.insert(key, entry);
        }
    }

    fn set_songs(&mut self, songs: Vec<Song>) {
        self.by_id.clear();
        self.by_path.clear();
        for (i, song) in songs.iter().enumerate() {
            // Identical files in two folders share an id; the first path stands for it.
            self.by_id.entry(song.id).or_insert(i);
            self.by_path.insert(song.path.clone(), i);
        }
        self.songs = songs;
    }

    /// All songs, in path order. Identical files in two folders appear once per path.
    pub fn songs(&self) -> &[Song] {
        &self.songs
    }

    /// The song with this content (its first path when several files have it).
    pub fn get(&self, id: &SongId) -> Option<&Song> {
        self.by_id.get(id).and_then(|&i| self.songs.get(i))
    }

    /// The song at `path`, either as listed in [`Song::path`] or relative to the music folder.
    pub fn by_path(&self, path: &Path) -> Option<&Song> {
        let i = match self.by_path.get(path) {
            Some(i) => Some(i),
            None if path.is_relative() => self.by_path.get(&self.music_dir.join(path)),
            None => None,
        };
        i.and_then(|&i| self.songs.get(i))
    }

    /// The song `what` names: its content hash, its path (as listed, relative to the
    /// music folder, or any path to the same file) or its title, if only one song has it
    /// (ignoring ASCII case).
    pub fn find(&self, what: &str) -> Option<&Song> {
        let by_id = what.parse::<SongId>().ok().and_then(|id| self.get(&id));
        let by_path = || {
            let path = Path::new(what);
            self.by_path(path).or_else(|| {
                let canonical = std::fs::canonicalize(path).ok()?;
                self.songs
                    .iter()
                    .find(|s| std::fs::canonicalize(&s.path).ok().as_ref() == Some(&canonical))
            })
        };
        let by_title = || {
            let mut matches = self
                .songs
                .iter()
                .filter(|s| s.title.eq_ignore_ascii_case(what));
            matches.next().filter(|_| matches.next().is_none())
        };
        by_id.or_else(by_path).or_else(by_title)
    }

    /// The music folder.
    pub fn music_dir(&self) -> &Path {
        &self.music_dir
    }

    /// Where the index file is kept.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }
}

/// Probe and hash a new or changed file: its index verdict, or why it is skipped
/// without being remembered.
fn examine(path: &Path, size: u64, mtime: Option<i64>) -> Result<EntryKind, String> {
    // Hashing a file of many gigabytes would hold the scan up for minutes, and no party
    // could share it: refused before it is read.
    if size > crate::proto::manifest::MAX_SONG_BYTES {
        let limit = crate::proto::manifest::MAX_SONG_BYTES >> 20;
        let reason = format!("larger than the {limit} MiB a party can share");
        return Ok(EntryKind::Rejected { reason });
    }
    let tags = match probe::probe(path) {
        Ok(tags) => tags,
        Err(Reject::NotAudio(reason)) => return Ok(EntryKind::Rejected { reason }),
        Err(e @ Reject::Io(_)) => return Err(e.to_string()),
    };
    let (id, hashed) = SongId::of_file(path).map_err(|e| format!("cannot read: {e}"))?;
    // A file still being copied in would get the id of a prefix of it.
    let now = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if hashed != size || now.len() != size || index::mtime_ns(&now) != mtime {
        return Err("file changed while being scanned; will retry on the next scan".into());
    }
    Ok(EntryKind::Song {
        id,
        title: tags.title,
        artist: tags.artist,
        album: tags.album,
        duration_ms: tags.duration_ms,
    })
}

/// The song an index entry describes, for the file at `path`.
fn song_of(path: &Path, entry: &Entry) -> Option<Song> {
    let EntryKind::Song {
        id,
        title,
        artist,
        album,
        duration_ms,
    } = &entry.kind
    else {
        return None;
    };
    Some(Song {
        id: *id,
        path: path.to_owned(),
        title: title.clone().unwrap_or_else(|| title_from_name(path)),
        artist: artist.clone(),
        album: album.clone(),
        duration_ms: *duration_ms,
        size: entry.size,
        mtime_ns: (entry.mtime_ns != i64::MIN).then_some(entry.mtime_ns),
    })
}

/// The file name without extension, as a title for an untagged song.
fn title_from_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .or_else(|| path.file_name())
        .map(|s| s.to_string_lossy());
    stem.and_then(|s| probe::clean(&s))
        .unwrap_or_else(|| "untitled".into())
}

/// Whether `inner` is `outer` or below it, comparing resolved paths so that links and
/// `..` cannot hide it. Paths that do not exist yet are resolved through their deepest
/// existing ancestor.
fn is_inside(inner: &Path, outer: &Path) -> bool {
    match (resolve(inner), resolve(outer)) {
        (Some(inner), Some(outer)) => inner.starts_with(outer),
        _ => false,
    }
}

fn resolve(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(canon) = fs::canonicalize(base) {
            let mut out = canon;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(name) => out.push(name),
                    _ => {}
                }
            }
            return Some(out);
        }
        rest.push(base.components().next_back()?);
        base = base.parent()?;
    }
}

#[cfg(test)]
#[path = "library_tests.rs"]
mod tests;
