//! Decoder tests: WAV generated here with hound, the compressed formats from the files
//! in `tests/fixtures` (the same tone, made by `scripts/make-test-fixtures`).

use std::path::{Path, PathBuf};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const RATE: u32 = 44_100;

/// One second of a stereo 440 Hz / 660 Hz pair as 16-bit samples.
fn tone() -> Vec<i16> {
    (0..RATE as usize)
        .flat_map(|n| {
            let t = n as f64 / f64::from(RATE);
            let l = 0.5 * (std::f64::consts::TAU * 440.0 * t).sin();
            let r = 0.5 * (std::f64::consts::TAU * 660.0 * t).sin();
            [(l * 32767.0) as i16, (r * 32767.0) as i16]
        })
        .collect()
}

fn write_wav(path: &Path, samples: &[i16]) -> TestResult {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        writer.write_sample(s)?;
    }
    writer.finalize()?;
    Ok(())
}

fn decode_all(decoder: &mut Decoder) -> Result<Vec<f32>, DecodeError> {
    let mut out = Vec::new();
    while let Some(block) = decoder.next_block()? {
        out.extend_from_slice(block);
    }
    Ok(out)
}

#[test]
fn wav_decodes_exactly_and_seeks_to_the_frame() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tone.wav");
    let original = tone();
    write_wav(&path, &original)?;
    let mut decoder = Decoder::open(&path)?;
    let info = decoder.info();
    assert_eq!(
        (info.rate, info.channels, info.frames),
        (RATE, 2, Some(44_100))
    );
    assert_eq!(info.duration(), Some(Duration::from_secs(1)));
    let samples = decode_all(&mut decoder)?;
    assert_eq!(samples.len(), original.len());
    for (d, o) in samples.iter().zip(&original) {
        assert!((d - f32::from(*o) / 32768.0).abs() < 1e-4);
    }
    assert_eq!(decoder.position(), 44_100);
    assert!(decoder.next_block()?.is_none(), "EOF is sticky");

    assert_eq!(decoder.seek(12_345)?, 12_345);
    let block = decoder
        .next_block()?
        .map(|b| b.to_vec())
        .unwrap_or_default();
    assert!((block[0] - f32::from(original[2 * 12_345]) / 32768.0).abs() < 1e-4);
    assert!((block[1] - f32::from(original[2 * 12_345 + 1]) / 32768.0).abs() < 1e-4);
    Ok(())
}

#[test]
fn garbage_is_unsupported_and_missing_is_io() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("noise.mp3");
    std::fs::write(
        &path,
        (0..4_096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )?;
    assert!(matches!(
        Decoder::open(&path),
        Err(DecodeError::Unsupported(_))
    ));
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"")?;
    assert!(matches!(
        Decoder::open(&empty),
        Err(DecodeError::Unsupported(_))
    ));
    assert!(matches!(
        Decoder::open(&dir.path().join("missing.ogg")),
        Err(DecodeError::Io(_))
    ));
    Ok(())
}

/// A compressed copy of [`tone`] from the repository's test fixtures.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn every_compressed_format_decodes_to_the_tone() -> TestResult {
    for name in ["flac", "mp3", "ogg", "m4a"] {
        let path = fixture(&format!("tone.{name}"));
        let mut decoder = Decoder::open(&path)?;
        let info = decoder.info();
        assert_eq!((info.rate, info.channels), (RATE, 2), "{name}");
        let samples = decode_all(&mut decoder)?;
        let frames = samples.len() / 2;
        // Lossy codecs pad with up to a few thousand frames of encoder delay.
        assert!(
            (44_100..=44_100 + 4_096).contains(&frames),
            "{name}: {frames} frames"
        );
        let rms = (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>()
            / samples.len() as f64)
            .sqrt();
        // Full scale 0.5 sines have an RMS of 0.354; lossy padding lowers it a little.
        assert!((0.3..0.37).contains(&rms), "{name}: rms {rms}");
        assert_eq!(decoder.corrupt_packets(), 0, "{name}");
        println!("{name}: {frames} frames, rms {rms:.4}");
    }
    Ok(())
}

#[test]
fn corrupt_flac_is_survived_losing_only_the_damage() -> TestResult {
    let dir = tempfile::tempdir()?;
    let flac = dir.path().join("t.flac");
    let mut bytes = std::fs::read(fixture("tone.flac"))?;
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&flac, &bytes)?;
    let mut decoder = Decoder::open(&flac)?;
    let samples = decode_all(&mut decoder)?;
    // symphonia's FLAC demuxer drops a frame whose header or CRC is bad and resyncs, so
    // the damage shows as missing frames rather than as counted decode errors.
    let frames = samples.len() / 2;
    println!(
        "corrupt flac: {frames} frames, {} packets counted",
        decoder.corrupt_packets()
    );
    assert!((30_000..44_100).contains(&frames), "{frames}");
    Ok(())
}

/// Makes the WAV at `path` claim `seconds` of audio in its RIFF and data sizes while
/// holding what it holds: a file cut short after it was written.
fn claim_seconds(path: &Path, seconds: u32) -> TestResult {
    let mut bytes = std::fs::read(path)?;
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .ok_or("no data chunk")?;
    let claimed = seconds * RATE * 4;
    bytes[data + 4..data + 8].copy_from_slice(&claimed.to_le_bytes());
    let riff = claimed + u32::try_from(data)? + 8 - 8;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(path, bytes)?;
    Ok(())
}

#[test]
fn a_header_promising_more_than_the_file_holds_ends_where_the_file_does() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("short.wav");
    write_wav(&path, &tone())?;
    claim_seconds(&path, 180)?;
    let mut decoder = Decoder::open(&path)?;
    assert_eq!(decoder.info().frames, Some(180 * u64::from(RATE)));
    let samples = decode_all(&mut decoder)?;
    assert_eq!(samples.len(), tone().len(), "the real audio, then the end");
    // WAV seeks by arithmetic: the seek lands, and the song ends at once.
    let mut fresh = Decoder::open(&path)?;
    fresh.seek(60 * u64::from(RATE))?;
    assert!(fresh.next_block()?.is_none());
    Ok(())
}

#[test]
fn a_seek_past_the_audio_of_a_cut_file_is_the_end_not_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Cut to 40 %: their headers still promise the whole second.
    for name in ["flac", "mp3"] {
        let bytes = std::fs::read(fixture(&format!("tone.{name}")))?;
        let path = dir.path().join(format!("cut.{name}"));
        std::fs::write(&path, &bytes[..bytes.len() * 4 / 10])?;
        let mut decoder = Decoder::open(&path)?;
        assert!(decoder.info().frames >= Some(44_100), "{name}");
        let past = decoder.seek(35_000);
        assert!(
            matches!(past, Err(DecodeError::PastEnd)),
            "{name}: {past:?}"
        );
    }
    Ok(())
}
