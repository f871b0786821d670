//! The songs shipped in `music/` (one per format) decode through the product's decoder to
//! the generator's music, and the library scan reads their tags and the cover art. Nothing
//! here needs an encoder, so nothing is ever skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The generator's own score and cover, so the tests compare against what was encoded.
#[path = "../examples/make_music/cover.rs"]
#[allow(dead_code)] // only `pixel` and `SIDE` are needed here, not the PNG encoder
mod cover;
#[path = "../examples/make_music/tunes.rs"]
mod tunes;

use std::path::{Path, PathBuf};

use chorus::audio::decode::Decoder;
use chorus::library::Library;
use tunes::{Tune, TUNES};

fn music_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("music")
}

/// Every sample of the song at `path`, and the format the decoder reported.
fn decode(path: &Path) -> (Vec<f32>, u32, u16) {
    let mut decoder = Decoder::open(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let info = decoder.info();
    let mut out = Vec::new();
    while let Some(block) = decoder.next_block().unwrap() {
        out.extend_from_slice(block);
    }
    (out, info.rate, info.channels)
}

fn is_lossless(tune: &Tune) -> bool {
    tune.file.ends_with(".flac") || tune.file.ends_with(".wav")
}

/// Root mean square of each 50 ms window of the mono mix of `samples`.
fn envelope(samples: &[f32], rate: u32, channels: u16) -> Vec<f64> {
    let ch = usize::from(channels);
    let window = rate as usize / 20 * ch;
    samples
        .chunks_exact(window)
        .map(|w| {
            let sum: f64 = w.iter().map(|&s| f64::from(s).powi(2)).sum();
            (sum / w.len() as f64).sqrt()
        })
        .collect()
}

/// Pearson correlation of the common length of `a` and `b`.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    cov / (var(a, ma) * var(b, mb)).sqrt()
}

#[test]
fn every_format_is_shipped_once() {
    let mut exts: Vec<&str> = TUNES
        .iter()
        .map(|t| Path::new(t.file).extension().unwrap().to_str().unwrap())
        .collect();
    exts.sort_unstable();
    assert_eq!(exts, ["flac", "m4a", "mp3", "ogg", "wav"]);
    for tune in TUNES {
        assert!(
            (30.0..=50.0).contains(&tune.seconds().round()),
            "{}: {} s",
            tune.file,
            tune.seconds()
        );
        assert!(
            music_dir().join(tune.file).is_file(),
            "{} missing",
            tune.file
        );
    }
}

#[test]
fn every_bundled_song_decodes_to_the_generated_music() {
    for tune in TUNES {
        let path = music_dir().join(tune.file);
        let (decoded, rate, channels) = decode(&path);
        assert_eq!(
            (rate, channels),
            (tune.rate, tune.channels),
            "{}",
            tune.file
        );
        let expected = tune.render();
        let frames = decoded.len() / usize::from(channels);
        let seconds = frames as f64 / f64::from(rate);
        // Lossy encoders add up to a few frames of padding at either end.
        let slack = if is_lossless(&tune) { 0.0 } else { 0.1 };
        assert!(
            (seconds - tune.seconds()).abs() <= slack + 1e-3,
            "{}: {seconds} s decoded, {} s generated",
            tune.file,
            tune.seconds()
        );
        let peak = decoded.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.2, "{}: silent (peak {peak})", tune.file);

        if is_lossless(&tune) {
            assert_eq!(decoded.len(), expected.len(), "{}", tune.file);
            // Within one step of 16 bits: the generator's floating point may round a
            // sample the other way on another machine.
            let worst = decoded
                .iter()
                .zip(&expected)
                .map(|(&d, &e)| ((d * 32_768.0).round() as i32 - i32::from(e)).abs())
                .max()
                .unwrap();
            assert!(worst <= 1, "{}: off by {worst} LSB", tune.file);
        } else {
            // Lossy: the loudness over time follows the generated song's.
            let generated: Vec<f32> = expected.iter().map(|&s| f32::from(s) / 32_768.0).collect();
            let r = correlation(
                &envelope(&decoded, rate, channels),
                &envelope(&generated, rate, channels),
            );
            assert!(r > 0.9, "{}: envelope correlation {r}", tune.file);
        }
    }
}

#[test]
fn the_library_reads_titles_artists_and_the_cover() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    for tune in TUNES {
        std::fs::copy(music_dir().join(tune.file), music.join(tune.file)).unwrap();
    }
    let mut lib = Library::open(&music, &tmp.path().join("state")).unwrap();
    let report = lib.scan().unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.songs, TUNES.len());
    // Folder order is the order a host plays them in.
    let titles: Vec<&str> = lib.songs().iter().map(|s| s.title.as_str()).collect();
    let expected: Vec<&str> = TUNES.iter().map(|t| t.title).collect();
    assert_eq!(titles, expected);
    for tune in TUNES {
        let song = lib.by_path(&music.join(tune.file)).unwrap();
        assert_eq!(song.artist.as_deref(), Some(tunes::ARTIST), "{}", tune.file);
        assert_eq!(song.album.as_deref(), Some(tunes::ALBUM), "{}", tune.file);
        let ms = song
            .duration_ms
            .unwrap_or_else(|| panic!("{}: no duration", tune.file));
        let want = tune.seconds() * 1e3;
        assert!((ms as f64 - want).abs() < 150.0, "{}: {ms} ms", tune.file);
    }

    let flac = music.join(TUNES[0].file);
    let bytes = chorus::library::artwork::embedded_picture(&flac).expect("the FLAC has a cover");
    let picture = chorus::ui::cover::decode(&bytes).unwrap();
    assert_eq!((picture.width, picture.height), (cover::SIDE, cover::SIDE));
    for (i, px) in picture.rgb.chunks_exact(3).enumerate() {
        let (x, y) = (i as u32 % cover::SIDE, i as u32 / cover::SIDE);
        assert_eq!(px, cover::pixel(x, y), "cover pixel ({x}, {y})");
    }
    for tune in &TUNES[1..] {
        let path = music.join(tune.file);
        assert!(
            chorus::library::artwork::embedded_picture(&path).is_none(),
            "{path:?}"
        );
    }
}
