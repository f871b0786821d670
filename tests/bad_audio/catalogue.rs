//! The catalogue: every broken or unusual file in one music folder, scanned once; each
//! is a song of the right length or skipped with a reason, and the scan is quick.

use std::path::Path;
use std::time::{Duration, Instant};

use chorus::library::Library;

use super::files;

/// What the scan must make of a file.
enum Expect {
    /// A song of about this many milliseconds.
    Song(u64),
    /// Skipped, the reason containing this.
    Skipped(&'static str),
    /// Either, as long as it is one of them (a cut compressed file may still hold frames).
    Either,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap()
}

/// Writes the catalogue into `music`: (file name, what the scan must make of it).
fn catalogue(music: &Path) -> Vec<(String, Expect)> {
    let mut out = Vec::new();
    let mut add = |name: &str, expect| out.push((name.to_owned(), expect));
    let wav = music.join("whole.wav");
    files::tone_wav(&wav, 44_100, 2, 1.0);
    add("whole.wav", Expect::Song(1_000));
    let wav_bytes = std::fs::read(&wav).unwrap();
    for (len, expect) in [
        (0, Expect::Skipped("")),
        (10, Expect::Skipped("")),
        (40, Expect::Skipped("")),
        (44, Expect::Skipped("")),
        (44 + 17_640, Expect::Song(100)),
        (44 + 70_560, Expect::Song(400)),
    ] {
        let name = format!("cut-{len}.wav");
        files::prefix(&music.join(&name), &wav_bytes, len);
        add(&name, expect);
    }
    for codec in ["flac", "mp3", "ogg", "m4a"] {
        let bytes = fixture(&format!("tone.{codec}"));
        for percent in [1, 5, 30, 90] {
            let name = format!("cut-{percent}.{codec}");
            files::prefix(&music.join(&name), &bytes, bytes.len() * percent / 100);
            add(&name, Expect::Either);
        }
    }
    std::fs::write(music.join("empty.flac"), b"").unwrap();
    add("empty.flac", Expect::Skipped(""));
    std::fs::write(music.join("wav-named.mp3"), &wav_bytes).unwrap();
    add("wav-named.mp3", Expect::Song(1_000));
    std::fs::write(music.join("mp3-named.wav"), fixture("tone.mp3")).unwrap();
    add("mp3-named.wav", Expect::Either);
    let mut flac_over_garbage = fixture("tone.flac")[..42].to_vec();
    flac_over_garbage[4] |= 0x80; // STREAMINFO is the last metadata block
    flac_over_garbage.extend(files::garbage(256 * 1024));
    std::fs::write(music.join("header-over-garbage.flac"), flac_over_garbage).unwrap();
    add("header-over-garbage.flac", Expect::Skipped(""));
    let mp3 = fixture("tone.mp3");
    let title = files::huge_title(10 << 20);
    files::with_id3(&music.join("huge-tag.mp3"), b"TIT2", &title, &mp3);
    add("huge-tag.mp3", Expect::Either);
    let picture = files::huge_picture(10 << 20);
    files::with_id3(&music.join("huge-picture.mp3"), b"APIC", &picture, &mp3);
    add("huge-picture.mp3", Expect::Either);
    let adpcm = music.join("adpcm.wav");
    files::tone_wav(&adpcm, 44_100, 2, 1.0);
    files::set_format_tag(&adpcm, 0x0002);
    add("adpcm.wav", Expect::Skipped(""));
    files::tone_wav(&music.join("eight-channels.wav"), 48_000, 8, 1.0);
    add("eight-channels.wav", Expect::Song(1_000));
    files::tone_wav(&music.join("192k.wav"), 192_000, 2, 1.0);
    add("192k.wav", Expect::Song(1_000));
    files::tone_wav(&music.join("8k-mono.wav"), 8_000, 1, 1.0);
    add("8k-mono.wav", Expect::Song(1_000));
    // 10 hours of 8 kHz mono: 576 MB, sparse; and of 44.1 kHz mono: 3.2 GB, too big to share.
    files::sparse_wav(&music.join("ten-hours-8k.wav"), 8_000, 36_000);
    add("ten-hours-8k.wav", Expect::Song(36_000_000));
    files::sparse_wav(&music.join("ten-hours-44k.wav"), 44_100, 36_000);
    add(
        "ten-hours-44k.wav",
        Expect::Skipped("larger than the 1024 MiB"),
    );
    out
}

#[test]
fn every_file_of_the_catalogue_is_a_song_of_its_length_or_skipped_with_a_reason() {
    let root = tempfile::tempdir().unwrap();
    let music = root.path().join("music");
    let state = root.path().join("state");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let expected = catalogue(&music);
    let mut lib = Library::open(&music, &state).unwrap();
    let began = Instant::now();
    let report = lib.scan().unwrap();
    let took = began.elapsed();
    eprintln!("scanned {} files in {took:?}", expected.len());
    for (name, expect) in &expected {
        let path = music.join(name);
        let song = lib.songs().iter().find(|s| s.path == path);
        let skipped = report.skipped.iter().find(|(p, _)| *p == path);
        eprintln!(
            "{name}: {:?} {:?}",
            song.map(|s| s.duration_ms),
            skipped.map(|s| &s.1)
        );
        match (expect, song, skipped) {
            (Expect::Song(ms), Some(song), None) => {
                let got = song.duration_ms.unwrap();
                assert!(
                    got.abs_diff(*ms) <= ms / 20 + 30,
                    "{name}: {got} ms, not {ms}"
                );
            }
            (Expect::Skipped(why), None, Some((_, reason))) => {
                assert!(
                    !reason.is_empty() && reason.contains(why),
                    "{name}: {reason}"
                );
            }
            (Expect::Either, Some(_), None) => {}
            (Expect::Either, None, Some((_, reason))) => assert!(!reason.is_empty()),
            _ => panic!("{name}: song {song:?}, skipped {skipped:?}"),
        }
    }
    let tagged = lib
        .songs()
        .iter()
        .find(|s| s.path.ends_with("huge-tag.mp3"));
    let title = tagged.map(|s| s.title.chars().count());
    assert!(
        title.is_none_or(|n| n <= 256),
        "a 10 MB title kept: {title:?}"
    );
    assert!(
        lib.songs().iter().all(|s| s.duration_ms != Some(0)),
        "a song of no length would never end"
    );
    assert_eq!(report.songs + report.skipped.len(), expected.len());
    assert!(took < Duration::from_secs(60), "the scan took {took:?}");
}
