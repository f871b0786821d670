//! Test songs with sharp tone bursts, and finding those bursts in a box's recording.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chorus::audio::wav::WavSidecar;

pub const RATE: u32 = 44_100;

/// Writes a mono WAV song of `bursts` tone bursts (30 ms of 1 kHz every 500 ms, after
/// 200 ms of silence) and a 3 s silent tail.
pub fn write_song(path: &Path, bursts: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    // A silent tail after the bursts: pause and resume happen there.
    let total = (0.2 + 0.5 * bursts as f64 + 3.0) * f64::from(RATE);
    for i in 0..total as usize {
        let t = i as f64 / f64::from(RATE) - 0.2;
        let in_burst = t >= 0.0 && (t % 0.5) < 0.03 && t < 0.5 * bursts as f64;
        let v = if in_burst {
            (2.0 * std::f64::consts::PI * 1000.0 * t).sin() * 0.5
        } else {
            0.0
        };
        w.write_sample((v * 32_767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Monotonic nanoseconds at which each tone burst starts in a recording.
pub fn burst_onsets(wav: &Path) -> Vec<f64> {
    let side = WavSidecar::read(wav).unwrap();
    let first = side.first_frame_monotonic_ns.unwrap() as f64;
    let mut reader = hound::WavReader::open(wav).unwrap();
    let channels = usize::from(reader.spec().channels);
    let rate = f64::from(reader.spec().sample_rate);
    let samples: Vec<f32> = reader.samples::<f32>().map(|s| s.unwrap()).collect();
    let mut onsets = Vec::new();
    let mut quiet = usize::MAX;
    for (frame, chunk) in samples.chunks(channels).enumerate() {
        if chunk[0].abs() > 0.05 {
            // A burst starts after at least 100 ms of silence.
            if quiet >= (rate * 0.1) as usize {
                onsets.push(first + frame as f64 / rate * 1e9);
            }
            quiet = 0;
        } else {
            quiet = quiet.saturating_add(1);
        }
    }
    onsets
}

/// Largest minus smallest of `times`.
pub fn spread(times: &[f64]) -> f64 {
    times.iter().cloned().fold(f64::MIN, f64::max) - times.iter().cloned().fold(f64::MAX, f64::min)
}
