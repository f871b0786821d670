//! Walk the music folder: every regular, non-hidden file below it, in path order.
//!
//! Symbolic links to files inside the folder are taken; links leading outside it are
//! skipped (the user chose that folder, not the whole disk), and links to folders are
//! never followed: inside the folder they only duplicate what the walk visits anyway, and
//! following them invites loops.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// A candidate file.
#[derive(Debug)]
pub struct Found {
    /// Path as seen through the music folder (not resolved through links).
    pub path: PathBuf,
    /// The same path relative to the music folder.
    pub rel: PathBuf,
    /// Metadata of the file itself (of the link target for a link).
    pub meta: Metadata,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Candidate files, in path order.
    pub files: Vec<Found>,
    /// Entries left out and why, in path order.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Files under `root`, sorted by path, plus the entries that were skipped and why.
/// `canon_root` is `root` with links resolved, to tell where links lead. Fails only if
/// `root` itself cannot be listed.
pub fn walk(root: &Path, canon_root: &Path) -> io::Result<Walked> {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    // Fail early and distinctly for the root: the caller reports it as a folder problem.
    let mut stack = vec![sorted_entries(root)?];
    while let Some(entries) = stack.last_mut() {
        let Some(entry) = entries.pop() else {
            stack.pop();
            continue;
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                skipped.push((path, format!("cannot read: {e}")));
                continue;
            }
        };
        if file_type.is_dir() {
            match sorted_entries(&path) {
                Ok(children) => stack.push(children),
                Err(e) => skipped.push((path, format!("cannot read folder: {e}"))),
            }
            continue;
        }
        let meta = if file_type.is_symlink() {
            match resolve_link(&path, canon_root) {
                Ok(Some(meta)) => meta,
                Ok(None) => continue,
                Err(reason) => {
                    skipped.push((path, reason));
                    continue;
                }
            }
        } else if file_type.is_file() {
            match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    skipped.push((path, format!("cannot read: {e}")));
                    continue;
                }
            }
        } else {
            // FIFOs, sockets, devices: opening a FIFO would block the scan forever.
            continue;
        };
        let rel = path
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.clone());
        found.push(Found { path, rel, meta });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort();
    Ok(Walked {
        files: found,
        skipped,
    })
}

/// Entries of `dir`, sorted so that popping from the end yields them in name order.
fn sorted_entries(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
    Ok(entries)
}

/// A link's target metadata if it is a file inside the music folder; `Ok(None)` for a
/// link to a folder inside it; `Err(reason)` for links to skip and report.
fn resolve_link(path: &Path, canon_root: &Path) -> Result<Option<Metadata>, String> {
    let target = fs::canonicalize(path).map_err(|e| format!("broken symbolic link: {e}"))?;
    if !target.starts_with(canon_root) {
        return Err("symbolic link leads outside the music folder".into());
    }
    let meta = fs::metadata(&target).map_err(|e| format!("cannot read: {e}"))?;
    if meta.is_dir() {
        return Ok(None);
    }
    if !meta.is_file() {
        return Err("symbolic link to something that is not a file".into());
    }
    Ok(Some(meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(found: &[Found]) -> Vec<String> {
        found
            .iter()
            .map(|f| f.rel.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn walks_recursively_in_path_order_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "b/2.wav",
            "b/1.wav",
            "a.wav",
            "c/d/e.wav",
            ".hidden.wav",
            ".git/x.wav",
            "b/.x",
        ] {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, b"x").unwrap();
        }
        let Walked {
            files: found,
            skipped,
        } = walk(root, &fs::canonicalize(root).unwrap()).unwrap();
        assert_eq!(rels(&found), ["a.wav", "b/1.wav", "b/2.wav", "c/d/e.wav"]);
        assert!(skipped.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_are_taken_links_outside_are_skipped_folder_links_ignored() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.wav"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("real")).unwrap();
        fs::write(root.join("real/song.wav"), b"x").unwrap();
        symlink(root.join("real/song.wav"), root.join("link.wav")).unwrap();
        symlink(outside.path().join("secret.wav"), root.join("escape.wav")).unwrap();
        symlink(outside.path(), root.join("escape_dir")).unwrap();
        symlink(root.join("real"), root.join("loop")).unwrap();
        symlink(root.join("nowhere"), root.join("broken.wav")).unwrap();
        let Walked {
            files: found,
            skipped,
        } = walk(root, &fs::canonicalize(root).unwrap()).unwrap();
        assert_eq!(rels(&found), ["link.wav", "real/song.wav"]);
        let skipped: Vec<_> = skipped
            .iter()
            .map(|(p, _)| p.strip_prefix(root).unwrap().to_owned())
            .collect();
        assert_eq!(
            skipped,
            [
                Path::new("broken.wav"),
                Path::new("escape.wav"),
                Path::new("escape_dir")
            ]
        );
    }

    #[test]
    fn unlistable_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(walk(&dir.path().join("missing"), dir.path()).is_err());
    }
}
