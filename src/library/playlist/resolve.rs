//! Turns a playlist's locations into files of the music folder. A playlist is untrusted
//! (copied onto a card from anywhere): a location that is a URL, missing, or leads
//! outside the music folder (through `..`, an absolute path or a link) is skipped with
//! the reason, and never opened.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A location of the playlist that does not play, and why (for the log and status).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// The location as the playlist writes it.
    pub entry: String,
    /// Why it was skipped, for a person.
    pub reason: String,
}

/// Where each location leads: the files (relative to the music folder, in the
/// playlist's order), and the locations skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    pub files: Vec<(String, PathBuf)>,
    pub skipped: Vec<Skipped>,
}

/// Resolves `entries` of a playlist in the folder `playlist_dir` against the music folder
/// whose resolved path is `canon_root`. Relative locations are relative to the playlist's
/// folder; absolute ones must lie inside the music folder. Backslashes count as folder
/// separators: playlists written on Windows use them, and file names on a music card
/// hardly ever contain one.
pub fn resolve(entries: &[String], playlist_dir: &Path, canon_root: &Path) -> Resolved {
    let mut out = Resolved::default();
    for entry in entries {
        match locate(entry, playlist_dir, canon_root) {
            Ok(rel) => out.files.push((entry.clone(), rel)),
            Err(reason) => out.skipped.push(Skipped {
                entry: entry.clone(),
                reason,
            }),
        }
    }
    out
}

/// The file `entry` names, relative to the music folder, or why it is skipped.
fn locate(entry: &str, playlist_dir: &Path, canon_root: &Path) -> Result<PathBuf, String> {
    if is_url(entry) {
        return Err("a URL; only files in the music folder play".into());
    }
    let full = playlist_dir.join(entry.replace('\\', "/"));
    let canon = fs::canonicalize(&full).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => format!("cannot read: {e}"),
    })?;
    let rel = canon
        .strip_prefix(canon_root)
        .map_err(|_| "outside the music folder".to_owned())?;
    if !canon.is_file() {
        return Err("not a file".into());
    }
    Ok(rel.to_owned())
}

/// `scheme://…` (http, https, file, rtsp …): a stream or a URL, not a path.
fn is_url(entry: &str) -> bool {
    entry.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() >= 2
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(r: &Resolved) -> Vec<(&str, &str)> {
        r.skipped
            .iter()
            .map(|s| (s.entry.as_str(), s.reason.as_str()))
            .collect()
    }

    fn files(r: &Resolved) -> Vec<String> {
        r.files
            .iter()
            .map(|(_, p)| p.to_string_lossy().into_owned())
            .collect()
    }

    /// A music folder with `a.wav`, `sub/b.wav`, `lists/` and a secret file beside it.
    fn folder() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("lists")).unwrap();
        fs::write(root.join("a.wav"), b"a").unwrap();
        fs::write(root.join("sub/b.wav"), b"b").unwrap();
        fs::write(dir.path().join("secret.wav"), b"s").unwrap();
        let canon = fs::canonicalize(&root).unwrap();
        (dir, root, canon)
    }

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn relative_locations_are_relative_to_the_playlist_folder() {
        let (_dir, root, canon) = folder();
        let r = resolve(
            &entries(&["../sub/b.wav", "../a.wav", "..\\sub\\b.wav"]),
            &root.join("lists"),
            &canon,
        );
        assert_eq!(files(&r), ["sub/b.wav", "a.wav", "sub/b.wav"]);
        assert!(r.skipped.is_empty());
    }

    #[test]
    fn absolute_paths_inside_the_music_folder_play_and_outside_do_not() {
        let (dir, root, canon) = folder();
        let inside = root.join("a.wav").display().to_string();
        let outside = dir.path().join("secret.wav").display().to_string();
        let r = resolve(&entries(&[&inside, &outside]), &root, &canon);
        assert_eq!(files(&r), ["a.wav"]);
        assert_eq!(
            reasons(&r),
            [(outside.as_str(), "outside the music folder")]
        );
    }

    #[test]
    fn escapes_urls_missing_files_and_folders_are_skipped_with_a_reason() {
        let (_dir, root, canon) = folder();
        let r = resolve(
            &entries(&[
                "../secret.wav",
                "sub/../../secret.wav",
                "http://example.com/x.mp3",
                "file:///etc/passwd",
                "gone.wav",
                "sub",
                "a.wav",
            ]),
            &root,
            &canon,
        );
        assert_eq!(files(&r), ["a.wav"]);
        assert_eq!(
            reasons(&r),
            [
                ("../secret.wav", "outside the music folder"),
                ("sub/../../secret.wav", "outside the music folder"),
                (
                    "http://example.com/x.mp3",
                    "a URL; only files in the music folder play"
                ),
                (
                    "file:///etc/passwd",
                    "a URL; only files in the music folder play"
                ),
                ("gone.wav", "no such file"),
                ("sub", "not a file"),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_leading_outside_is_outside() {
        let (dir, root, canon) = folder();
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), root.join("link.wav")).unwrap();
        let r = resolve(&entries(&["link.wav"]), &root, &canon);
        assert_eq!(reasons(&r), [("link.wav", "outside the music folder")]);
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("https://x/y"));
        assert!(is_url("rtsp+tcp://x"));
        assert!(!is_url("C:/Music/x.mp3"));
        assert!(!is_url("weird name ://.wav"));
    }
}
