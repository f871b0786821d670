//! The demo's music: the songs bundled in the source tree's `music/` folder (one per
//! format), or, for a binary away from its source tree, three short tunes synthesised on
//! the spot; and the analysis that puts the boxes' recordings side by side.

use std::path::{Path, PathBuf};

use chorus::audio::wav::WavSidecar;

const RATE: u32 = 44_100;

/// (file name, notes as semitones above A3 with -1 for a rest, beat in seconds)
const TUNES: [(&str, &[i32], f64); 3] = [
    (
        "Loopback Lullaby.wav",
        &[
            0, 4, 7, 12, 7, 4, 0, -1, 2, 5, 9, 14, 9, 5, 2, -1, 0, 4, 7, 11, 12, -1, 7, 0,
        ],
        0.32,
    ),
    (
        "Multicast March.wav",
        &[
            7, 7, 12, 7, 5, 4, 2, 0, 2, 4, 5, 7, -1, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2, 0,
        ],
        0.26,
    ),
    (
        "Phi Accrual Polka.wav",
        &[
            12, 11, 12, 7, 4, 7, 0, -1, 14, 12, 14, 9, 5, 9, 2, -1, 12, 7, 4, 0, 4, 7, 12, -1,
        ],
        0.22,
    ),
];

/// Where this binary's source tree keeps the bundled songs (see `music/README.md`).
pub(super) fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("music")
}

/// Fills `dir` with music for box-1 and says what it put there and how many songs: the
/// songs of `bundled` when that folder exists, the synthesised tunes otherwise. Files
/// already in `dir` are kept as they are.
pub(super) fn ensure_music(dir: &Path, bundled: &Path) -> std::io::Result<(String, usize)> {
    if !bundled.is_dir() {
        ensure_tunes(dir)?;
        let what = format!(
            "{} synthesised WAV tunes ({} not found)",
            TUNES.len(),
            bundled.display()
        );
        return Ok((what, TUNES.len()));
    }
    std::fs::create_dir_all(dir)?;
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(bundled)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        // The folder's README is not a song: box-1 would report it as skipped.
        if !matches!(ext, "flac" | "mp3" | "ogg" | "m4a" | "wav") {
            continue;
        }
        if let Some(name) = path.file_name() {
            let to = dir.join(name);
            if !to.exists() {
                std::fs::copy(&path, &to)?;
            }
            copied.push(ext.to_uppercase());
        }
    }
    copied.sort();
    let what = format!(
        "{} bundled songs ({}) from {}",
        copied.len(),
        copied.join(", "),
        bundled.display()
    );
    Ok((what, copied.len()))
}

/// Writes the synthesised tunes into `dir` unless they are there already.
fn ensure_tunes(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, notes, beat) in TUNES {
        let path = dir.join(name);
        if !path.exists() {
            write_tune(&path, notes, beat).map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

fn write_tune(path: &Path, notes: &[i32], beat: f64) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let tmp = path.with_extension("tmp");
    let mut w = hound::WavWriter::create(&tmp, spec)?;
    let lead_in = (0.3 * f64::from(RATE)) as usize;
    for _ in 0..lead_in * 2 {
        w.write_sample(0i16)?;
    }
    let per_note = (beat * f64::from(RATE)) as usize;
    // Play the melody twice: about 12 to 15 seconds per tune.
    for &note in notes.iter().chain(notes.iter()) {
        for i in 0..per_note {
            let t = i as f64 / f64::from(RATE);
            let v = if note < 0 { 0.0 } else { voice(note, t, beat) };
            let s = (v * 20_000.0) as i16;
            w.write_sample(s)?;
            w.write_sample(s)?;
        }
    }
    w.finalize()?;
    std::fs::rename(&tmp, path).map_err(hound::Error::IoError)
}

/// A plucked note: fundamental plus two harmonics, 2 ms attack, exponential decay.
fn voice(semitones: i32, t: f64, beat: f64) -> f64 {
    let f = 220.0 * 2f64.powf(f64::from(semitones) / 12.0);
    let env = (t / 0.002).min(1.0) * (-t * 4.0 / beat).exp();
    let w = 2.0 * std::f64::consts::PI * f * t;
    env * (w.sin() * 0.6 + (2.0 * w).sin() * 0.25 + (3.0 * w).sin() * 0.15)
}

/// Monotonic nanoseconds at which the first sound of a recording was played.
pub(super) fn first_sound(wav: &Path) -> Option<f64> {
    let side = WavSidecar::read(wav).ok()?;
    let first = side.first_frame_monotonic_ns? as f64;
    let mut reader = hound::WavReader::open(wav).ok()?;
    let channels = usize::from(reader.spec().channels.max(1));
    let rate = f64::from(reader.spec().sample_rate.max(1));
    let loud = reader
        .samples::<f32>()
        .position(|s| s.map(|v| v.abs() > 0.02).unwrap_or(false))?;
    Some(first + (loud / channels) as f64 / rate * 1e9)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bundled_songs_are_copied_without_the_readme_and_kept_when_there() {
        let tmp = tempfile::tempdir().unwrap();
        let bundled = tmp.path().join("bundled");
        std::fs::create_dir(&bundled).unwrap();
        std::fs::write(bundled.join("01 a.flac"), b"flac bytes").unwrap();
        std::fs::write(bundled.join("02 b.mp3"), b"mp3 bytes").unwrap();
        std::fs::write(bundled.join("README.md"), b"licence").unwrap();
        let dir = tmp.path().join("music");
        std::fs::create_dir(&dir).unwrap();
        // A file box-1 already has is not overwritten.
        std::fs::write(dir.join("02 b.mp3"), b"edited").unwrap();

        let (what, songs) = ensure_music(&dir, &bundled).unwrap();
        assert_eq!(songs, 2, "{what}");
        assert!(what.contains("FLAC, MP3"), "{what}");
        assert_eq!(std::fs::read(dir.join("01 a.flac")).unwrap(), b"flac bytes");
        assert_eq!(std::fs::read(dir.join("02 b.mp3")).unwrap(), b"edited");
        assert!(!dir.join("README.md").exists());
    }

    #[test]
    fn without_the_bundled_folder_the_tunes_are_synthesised() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("music");
        let (what, songs) = ensure_music(&dir, &tmp.path().join("nope")).unwrap();
        assert_eq!(songs, TUNES.len());
        assert!(what.contains("not found"), "{what}");
        for (name, _, _) in TUNES {
            let reader = hound::WavReader::open(dir.join(name)).unwrap();
            assert!(reader.duration() > 44_100 * 10, "{name}");
        }
    }
}
