//! Whole-library scans over real audio files: WAV made with hound, FLAC, Ogg Vorbis, MP3
//! and M4A from the files committed in `tests/fixtures` (made once by
//! `scripts/make-test-fixtures`), so no case depends on an encoder being installed and
//! none is skipped. The bundled songs of `music/` are scanned in `tests/bundled_music.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chorus::library::{Library, LibraryError, SongId};

fn write_wav(path: &Path, rate: u32, channels: u16, frames: u32, pitch: u32) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames * u32::from(channels) {
        let phase = (i * pitch) % 200;
        w.write_sample((phase as i16 - 100) * 150).unwrap();
    }
    w.finalize().unwrap();
}

/// Every file below `root` (hidden ones too) with its bytes, mtime and permissions.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime, fs::Permissions)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(
                    path,
                    (Vec::new(), meta.modified().unwrap(), meta.permissions()),
                );
            } else if meta.is_file() {
                let bytes = fs::read(&path).unwrap();
                out.insert(path, (bytes, meta.modified().unwrap(), meta.permissions()));
            }
        }
    }
    out
}

fn id_of(path: &Path) -> SongId {
    SongId::of_bytes(&fs::read(path).unwrap())
}

struct Dirs {
    _tmp: tempfile::TempDir,
    music: PathBuf,
    state: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("Music");
    let state = tmp.path().join("state");
    fs::create_dir(&music).unwrap();
    Dirs {
        music,
        state,
        _tmp: tmp,
    }
}

/// The tagged songs of `tests/fixtures` (one per compressed format, made by
/// `scripts/make-test-fixtures`) copied into `music`, as (file, title, artist, album).
fn tagged_songs(music: &Path) -> Vec<(PathBuf, &'static str, &'static str, &'static str)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let songs = [
        (
            "flac",
            "Artist/Album/02.flac",
            "Flac Title",
            "Flac Artist",
            "Flac Album",
        ),
        (
            "ogg",
            "Other/03.ogg",
            "Ogg Title",
            "Ogg Artist",
            "Ogg Album",
        ),
        (
            "mp3",
            "Other/04.mp3",
            "Mp3 Title",
            "Mp3 Artist",
            "Mp3 Album",
        ),
        (
            "m4a",
            "Other/05.m4a",
            "M4a Title",
            "M4a Artist",
            "M4a Album",
        ),
    ];
    songs
        .into_iter()
        .map(|(ext, to, title, artist, album)| {
            let out = music.join(to);
            fs::create_dir_all(out.parent().unwrap()).unwrap();
            fs::copy(fixtures.join(format!("tagged.{ext}")), &out).unwrap();
            (out, title, artist, album)
        })
        .collect()
}

#[test]
fn scan_finds_songs_with_tags_ids_and_durations() {
    let d = dirs();
    let src = d.music.join("Artist/Album/01 Plain.wav");
    write_wav(&src, 44_100, 2, 44_100, 3);
    let tagged = tagged_songs(&d.music);
    let before = snapshot(&d.music);

    let mut lib = Library::open(&d.music, &d.state).unwrap();
    let report = lib.scan().unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.songs, 1 + tagged.len());
    assert_eq!((report.hashed, report.reused), (report.songs, 0));

    // Path order, whatever the format.
    let paths: Vec<&Path> = lib.songs().iter().map(|s| s.path.as_path()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    let plain = lib.by_path(&src).unwrap();
    assert_eq!(plain.title, "01 Plain");
    assert_eq!(plain.id, id_of(&src));
    assert_eq!(plain.size, fs::metadata(&src).unwrap().len());
    assert_eq!(plain.duration_ms, Some(1000));
    for (path, title, artist, album) in tagged {
        let song = lib
            .by_path(&path)
            .unwrap_or_else(|| panic!("{path:?} not in library"));
        assert_eq!(song.id, id_of(&path), "{path:?}");
        assert_eq!(song.title, title);
        assert_eq!(song.artist.as_deref(), Some(artist));
        assert_eq!(song.album.as_deref(), Some(album));
        // Encoders pad a little; the container's length is close to the source's.
        let ms = song
            .duration_ms
            .unwrap_or_else(|| panic!("{path:?} has no duration"));
        assert!((950..=1100).contains(&ms), "{path:?}: {ms} ms");
        assert_eq!(lib.get(&song.id), Some(song));
    }
    assert_eq!(snapshot(&d.music), before, "the music folder was modified");
}

#[test]
fn identical_files_in_two_folders_share_an_id() {
    let d = dirs();
    write_wav(&d.music.join("a/song.wav"), 8000, 1, 4000, 5);
    fs::create_dir_all(d.music.join("b")).unwrap();
    fs::copy(d.music.join("a/song.wav"), d.music.join("b/same.wav")).unwrap();
    write_wav(&d.music.join("b/other.wav"), 8000, 1, 4000, 7);
    let mut lib = Library::open(&d.music, &d.state).unwrap();
    assert_eq!(lib.scan().unwrap().songs, 3);
    let a = lib.by_path(Path::new("a/song.wav")).unwrap();
    let b = lib.by_path(Path::new("b/same.wav")).unwrap();
    let other = lib.by_path(Path::new("b/other.wav")).unwrap();
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, other.id);
    assert_eq!(lib.get(&a.id).unwrap().path, d.music.join("a/song.wav"));
}

#[test]
fn rescan_rehashes_only_what_changed() {
    let d = dirs();
    for name in ["1.wav", "2.wav", "sub/3.wav"] {
        write_wav(&d.music.join(name), 8000, 1, 8000, name.len() as u32);
    }
    fs::write(d.music.join("cover.txt"), "not a song").unwrap();
    let mut lib = Library::open(&d.music, &d.state).unwrap();
    let first = lib.scan().unwrap();
    assert_eq!(
        (first.songs, first.hashed, first.reused, first.skipped.len()),
        (3, 3, 0, 1)
    );

    let same = lib.scan().unwrap();
    assert_eq!(
        (same.songs, same.hashed, same.reused, same.skipped.len()),
        (3, 0, 3, 1)
    );

    // A fresh process (new Library over the same state folder) also reuses the index.
    let mut reopened = Library::open(&d.music, &d.state).unwrap();
    let again = reopened.scan().unwrap();
    assert_eq!((again.songs, again.hashed, again.reused), (3, 0, 3));
    assert_eq!(reopened.songs(), lib.songs());

    // Touch one file: same bytes, new mtime -> only it is rehashed, same id.
    let touched = d.music.join("2.wav");
    let old_id = id_of(&touched);
    let later = SystemTime::now() + Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&touched)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let r = reopened.scan().unwrap();
    assert_eq!((r.hashed, r.reused), (1, 2));
    assert_eq!(reopened.by_path(&touched).unwrap().id, old_id);

    // Change another file's content: only it is rehashed, and its id follows the bytes.
    let changed = d.music.join("sub/3.wav");
    write_wav(&changed, 8000, 1, 6000, 11);
    let r = reopened.scan().unwrap();
    assert_eq!((r.hashed, r.reused), (1, 2));
    let song = reopened.by_path(&changed).unwrap();
    assert_eq!(song.id, id_of(&changed));
    assert_eq!(song.duration_ms, Some(750));

    // A removed file leaves the library and the index.
    fs::remove_file(d.music.join("1.wav")).unwrap();
    let r = reopened.scan().unwrap();
    assert_eq!((r.songs, r.hashed, r.reused), (2, 0, 2));
    assert!(!fs::read_to_string(reopened.index_path())
        .unwrap()
        .contains("\"1.wav\""));
}

#[test]
fn non_audio_truncated_and_corrupt_files_are_skipped_with_a_reason() {
    let d = dirs();
    write_wav(&d.music.join("good.wav"), 8000, 1, 8000, 3);
    let good = fs::read(d.music.join("good.wav")).unwrap();
    fs::write(d.music.join("notes.txt"), "track list\n".repeat(50)).unwrap();
    fs::write(
        d.music.join("fake.mp3"),
        "this is not an mp3 at all\n".repeat(50),
    )
    .unwrap();
    fs::write(d.music.join("empty.flac"), b"").unwrap();
    fs::write(d.music.join("truncated.wav"), &good[..30]).unwrap();
    let mut corrupt = b"fLaC".to_vec();
    corrupt.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    fs::write(d.music.join("corrupt.flac"), &corrupt).unwrap();
    fs::write(d.music.join(".hidden.wav"), &good).unwrap();
    let before = snapshot(&d.music);

    let mut lib = Library::open(&d.music, &d.state).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!(report.songs, 1);
    let skipped: Vec<(String, &str)> = report
        .skipped
        .iter()
        .map(|(p, why)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                why.as_str(),
            )
        })
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "corrupt.flac",
            "empty.flac",
            "fake.mp3",
            "notes.txt",
            "truncated.wav"
        ]
    );
    for (name, why) in &skipped {
        assert!(!why.is_empty(), "{name} skipped without a reason");
        println!("{name}: {why}");
    }
    // Rejections are remembered: the rescan neither hashes nor loses them.
    let again = lib.scan().unwrap();
    assert_eq!((again.hashed, again.skipped.len()), (0, 5));
    assert_eq!(snapshot(&d.music), before, "the music folder was modified");
}

#[test]
fn corrupt_index_is_discarded_and_rebuilt() {
    let d = dirs();
    write_wav(&d.music.join("a.wav"), 8000, 1, 800, 3);
    write_wav(&d.music.join("b.wav"), 8000, 1, 800, 4);
    Library::open(&d.music, &d.state).unwrap().scan().unwrap();
    let index = d.state.join("library.json");
    let text = fs::read_to_string(&index).unwrap();
    fs::write(&index, &text[..text.len() / 2]).unwrap();

    let mut lib = Library::open(&d.music, &d.state).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!((report.songs, report.hashed), (2, 2));
    assert!(matches!(
        report.warnings.as_slice(),
        [LibraryError::IndexDiscarded { .. }]
    ));
    // Rebuilt on disk: the next process reuses it.
    let report = Library::open(&d.music, &d.state).unwrap().scan().unwrap();
    assert_eq!((report.hashed, report.reused), (0, 2));
    assert!(report.warnings.is_empty());
}

#[test]
fn missing_music_folder_is_reported_not_fatal() {
    let d = dirs();
    let mut lib = Library::open(&d.music.join("nope"), &d.state).unwrap();
    let err = lib.scan().unwrap_err();
    assert!(matches!(err, LibraryError::MusicDirMissing(_)));
    assert!(err.to_string().contains("continuing with an empty library"));
    assert!(lib.songs().is_empty());
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_skipped_and_reported() {
    use std::os::unix::fs::PermissionsExt;
    let d = dirs();
    write_wav(&d.music.join("ok.wav"), 8000, 1, 800, 3);
    let locked = d.music.join("locked.wav");
    write_wav(&locked, 8000, 1, 800, 4);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::File::open(&locked).is_ok() {
        // Root reads any file (CI runs as root): run this test again as nobody.
        use std::os::unix::process::CommandExt;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "unreadable_file_is_skipped_and_reported",
                "--quiet",
            ])
            .uid(65_534)
            .gid(65_534)
            .status()
            .unwrap();
        assert!(status.success(), "as nobody: {status}");
        return;
    }
    let mut lib = Library::open(&d.music, &d.state).unwrap();
    let report = lib.scan().unwrap();
    assert_eq!(report.songs, 1);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, locked);
    assert!(
        report.skipped[0].1.contains("ermission"),
        "{}",
        report.skipped[0].1
    );
    // Not remembered as "not audio": once readable, it is found.
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(lib.scan().unwrap().songs, 2);
}
