//! Unit tests of `Library` edge cases; whole scans of real audio files are in
//! `tests/library_scan.rs`.

use super::*;

/// A tiny mono WAV at `path` (folders made as needed); the playlist tests use it too.
pub(super) fn write_wav(path: &Path, frames: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        w.write_sample((i % 100) as i16 * 100).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn state_dir_inside_music_dir_is_refused() {
    let music = tempfile::tempdir().unwrap();
    for state in [
        music.path().to_owned(),
        music.path().join("state"),
        music.path().join("a/../b/c"),
    ] {
        let err = Library::open(music.path(), &state).unwrap_err();
        assert!(
            matches!(err, LibraryError::StateDirInsideMusicDir { .. }),
            "{state:?}"
        );
    }
    let state = tempfile::tempdir().unwrap();
    assert!(Library::open(music.path(), state.path()).is_ok());
    // The music folder must not have been touched by the refusals.
    assert_eq!(fs::read_dir(music.path()).unwrap().count(), 0);
}

#[test]
fn missing_music_dir_gives_an_empty_library_and_keeps_the_index() {
    let root = tempfile::tempdir().unwrap();
    let music = root.path().join("music");
    let state = root.path().join("state");
    fs::create_dir(&music).unwrap();
    write_wav(&music.join("a.wav"), 800);
    let mut lib = Library::open(&music, &state).unwrap();
    assert_eq!(lib.scan().unwrap().hashed, 1);
    let saved = fs::read(lib.index_path()).unwrap();

    fs::rename(&music, root.path().join("unplugged")).unwrap();
    assert!(matches!(lib.scan(), Err(LibraryError::MusicDirMissing(_))));
    assert!(lib.songs().is_empty());
    assert_eq!(fs::read(lib.index_path()).unwrap(), saved);

    fs::rename(root.path().join("unplugged"), &music).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!((report.songs, report.hashed, report.reused), (1, 0, 1));
}

#[test]
fn untagged_wav_is_titled_by_file_name_with_duration() {
    let music = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_wav(&music.path().join("My Song.wav"), 12_000);
    let mut lib = Library::open(music.path(), state.path()).unwrap();
    lib.scan().unwrap();
    let song = lib.by_path(Path::new("My Song.wav")).unwrap();
    assert_eq!(song.title, "My Song");
    assert_eq!(song.duration_ms, Some(1500));
    assert_eq!(song.artist, None);
    assert_eq!(lib.get(&song.id), Some(song));
    assert_eq!(lib.by_path(&music.path().join("My Song.wav")), Some(song));
}

#[test]
fn unwritable_state_dir_warns_and_still_scans() {
    let music = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_wav(&music.path().join("a.wav"), 800);
    // A file where the state folder should be: unwritable even for root.
    let blocked = state.path().join("not-a-folder");
    fs::write(&blocked, b"").unwrap();
    let mut lib = Library::open(music.path(), &blocked).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!(report.songs, 1);
    assert!(matches!(
        report.warnings.as_slice(),
        [LibraryError::StateDirUnwritable { .. }]
    ));
    // Within the process the in-memory index still saves the rehash.
    let again = lib.scan().unwrap();
    assert_eq!((again.hashed, again.reused), (0, 1));
}

#[test]
fn title_falls_back_sensibly() {
    assert_eq!(title_from_name(Path::new("/m/a/Track 01.flac")), "Track 01");
    assert_eq!(title_from_name(Path::new("/m/.wav")), ".wav");
    assert_eq!(title_from_name(Path::new("/m/\u{7}")), "untitled");
}

#[test]
fn find_names_a_song_by_hash_path_or_unique_title() {
    let root = tempfile::tempdir().unwrap();
    let music = root.path().join("music");
    fs::create_dir_all(music.join("x")).unwrap();
    write_wav(&music.join("one.wav"), 800);
    write_wav(&music.join("x/same.wav"), 900);
    write_wav(&music.join("same.wav"), 1000);
    let mut lib = Library::open(&music, &root.path().join("state")).unwrap();
    assert_eq!(lib.scan().unwrap().songs, 3);
    let one = lib.by_path(Path::new("one.wav")).unwrap().clone();
    assert_eq!(lib.find(&one.id.to_string()), Some(&one));
    assert_eq!(lib.find("one.wav"), Some(&one));
    assert_eq!(
        lib.find(music.join("x/../one.wav").to_str().unwrap()),
        Some(&one)
    );
    assert_eq!(lib.find("ONE"), Some(&one), "the title, in any ASCII case");
    assert_eq!(lib.find("same"), None, "two songs have this title");
    assert_eq!(lib.find("nothing"), None);
}
