//! Broken and unusual song files, made here so nothing big is checked in.

use std::path::Path;

/// A WAV of `seconds` of a 440 Hz tone at `rate` Hz, `channels` channels, 16 bit.
pub fn tone_wav(path: &Path, rate: u32, channels: u16, seconds: f64) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let frames = (seconds * f64::from(rate)) as usize;
    for i in 0..frames {
        let v = (std::f64::consts::TAU * 440.0 * i as f64 / f64::from(rate)).sin() * 0.5;
        for _ in 0..channels {
            w.write_sample((v * 32_767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Offset of the `data` chunk's id in a WAV as hound writes it.
fn data_chunk(bytes: &[u8]) -> usize {
    bytes.windows(4).position(|w| w == b"data").unwrap()
}

/// Makes the WAV at `path` claim `seconds` of audio in its RIFF and data sizes while
/// holding what it holds: a file cut short after its header was written.
pub fn claim_seconds(path: &Path, seconds: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let byte_rate = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
    let data = data_chunk(&bytes);
    let claimed = seconds * byte_rate;
    bytes[data + 4..data + 8].copy_from_slice(&claimed.to_le_bytes());
    let riff = claimed + u32::try_from(data).unwrap();
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}
