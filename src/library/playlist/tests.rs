//! Playlists read against a scanned library of real (tiny) WAV files.

use super::*;
use crate::library::tests::write_wav;

/// A scanned library with `a.wav`, `b/b.wav`, `c.wav` (the same bytes as `a.wav`) and
/// a text file that is not audio.
fn library() -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    write_wav(&music.join("a.wav"), 800);
    write_wav(&music.join("b/b.wav"), 1600);
    write_wav(&music.join("c.wav"), 800);
    fs::write(music.join("notes.txt"), "not audio").unwrap();
    let mut lib = Library::open(&music, &dir.path().join("state")).unwrap();
    lib.scan().unwrap();
    (dir, lib)
}

fn titles(loaded: &Loaded<'_>) -> Vec<String> {
    loaded.songs.iter().map(|s| s.title.clone()).collect()
}

#[test]
fn a_playlist_lists_library_songs_in_its_order_skipping_what_does_not_play() {
    let (_dir, lib) = library();
    let path = lib.music_dir().join("b/Mix.m3u");
    let text =
        "#EXTM3U\n#EXTINF:1,B\nb.wav\n../a.wav\n../c.wav\n../notes.txt\n../gone.wav\nb.wav\n";
    fs::write(&path, text).unwrap();
    let loaded = load(&lib, &path).unwrap();
    assert_eq!(loaded.name, "Mix");
    assert_eq!(titles(&loaded), ["b", "a"]);
    let skipped: Vec<(&str, &str)> = loaded
        .skipped
        .iter()
        .map(|s| (s.entry.as_str(), &s.reason[..12]))
        .collect();
    assert_eq!(
        skipped,
        [
            ("../gone.wav", "no such file"),
            ("../c.wav", "listed befor"),
            ("../notes.txt", "not a song o"),
            ("b.wav", "listed befor"),
        ]
    );
}

#[test]
fn pls_files_play_too() {
    let (_dir, lib) = library();
    let path = lib.music_dir().join("Party.pls");
    fs::write(
        &path,
        "[playlist]\nFile2=a.wav\nFile1=b\\b.wav\nNumberOfEntries=2\n",
    )
    .unwrap();
    assert_eq!(titles(&load(&lib, &path).unwrap()), ["b", "a"]);
}

#[test]
fn playlists_are_found_by_name_with_or_without_extension_in_any_case() {
    let (_dir, lib) = library();
    let music = lib.music_dir();
    fs::write(music.join("Road Trip.m3u8"), "a.wav\n").unwrap();
    fs::write(music.join("b/Quiet.pls"), "").unwrap();
    fs::write(music.join(".hidden.m3u"), "").unwrap();
    let lists = list(music);
    let names: Vec<String> = lists.iter().map(|p| name_of(p)).collect();
    assert_eq!(names, ["Road Trip", "Quiet"]);
    assert_eq!(
        find(&lists, "road trip").unwrap(),
        &music.join("Road Trip.m3u8")
    );
    assert_eq!(
        find(&lists, "ROAD TRIP.M3U8").unwrap(),
        &music.join("Road Trip.m3u8")
    );
    assert_eq!(find(&lists, "quiet").unwrap(), &music.join("b/Quiet.pls"));
    let unknown = find(&lists, "Loud").unwrap_err().to_string();
    assert!(
        unknown.contains("\"Loud\"") && unknown.contains("available: Road Trip, Quiet"),
        "{unknown}"
    );
    let none = find(&[], "x").unwrap_err().to_string();
    assert!(none.contains("no playlists"), "{none}");
}

#[test]
fn a_huge_file_is_not_read_as_a_playlist() {
    let (_dir, lib) = library();
    let path = lib.music_dir().join("huge.m3u");
    fs::write(&path, vec![b'#'; MAX_PLAYLIST_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        load(&lib, &path),
        Err(PlaylistError::TooLarge { .. })
    ));
}
