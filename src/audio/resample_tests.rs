//! Tests of the resampler: frequency kept, ratio steering exact in length, no artefacts.

use super::*;

const FROM: u32 = 44_100;
const TO: u32 = 48_000;
const TONE: f64 = 1_000.0;
const AMPLITUDE: f64 = 0.5;

fn sine(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| {
            (AMPLITUDE * (std::f64::consts::TAU * TONE * n as f64 / f64::from(FROM)).sin()) as f32
        })
        .collect()
}

/// Resample mono `input` chunk by chunk, steering to `ppm` before chunk `steer_at`.
/// Returns the output and, per output frame, the exact song position it carries
/// (mirroring rubato's linear ramp of 1/ratio across a chunk).
fn run(input: &[f32], steer_at: usize, ppm: f64) -> Result<(Vec<f32>, Vec<f64>), ResampleError> {
    let mut r = Resampler::new(FROM, TO, 1)?;
    let mut out = Vec::new();
    let mut positions = Vec::new();
    for (i, chunk) in input.chunks(CHUNK_FRAMES).enumerate() {
        if i == steer_at {
            r.set_ppm(ppm)?;
        }
        let (last, t0) = (r.last, 1.0 / r.ratio);
        r.push(chunk);
        let before = out.len();
        r.pull(&mut out)?;
        let n = out.len() - before;
        let inc = (1.0 / r.ratio - t0) / n.max(1) as f64;
        for k in 1..=n {
            let k = k as f64;
            positions.push(last + k * t0 + inc * k * (k + 1.0) / 2.0);
        }
    }
    Ok((out, positions))
}

/// Signal-to-noise ratio in dB of `out` against the ideal sine at `positions`, skipping
/// the filter's start-up.
fn snr_db(out: &[f32], positions: &[f64]) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (&y, &p) in out.iter().zip(positions).skip(4 * SINC_LEN) {
        let ideal = AMPLITUDE * (std::f64::consts::TAU * TONE * p / f64::from(FROM)).sin();
        signal += ideal * ideal;
        noise += (f64::from(y) - ideal).powi(2);
    }
    10.0 * (signal / noise.max(1e-30)).log10()
}

fn max_jump(out: &[f32]) -> f64 {
    out.windows(2)
        .skip(4 * SINC_LEN)
        .map(|w| f64::from((w[1] - w[0]).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn sine_keeps_its_frequency_and_purity() -> Result<(), ResampleError> {
    let (out, positions) = run(&sine(FROM as usize * 2), usize::MAX, 0.0)?;
    // Frequency from upward zero crossings over the steady part of the output.
    let steady = &out[4 * SINC_LEN..];
    let ups: Vec<usize> = (1..steady.len())
        .filter(|&i| steady[i - 1] < 0.0 && steady[i] >= 0.0)
        .collect();
    let (first, last) = (ups[0], ups[ups.len() - 1]);
    let freq = (ups.len() - 1) as f64 * f64::from(TO) / (last - first) as f64;
    let snr = snr_db(&out, &positions);
    println!("44.1->48 kHz: 1 kHz tone measured at {freq:.4} Hz, SNR {snr:.1} dB");
    assert!((freq - TONE).abs() < 0.05, "frequency {freq}");
    // The position bookkeeping must line up with the audio, or this SNR collapses.
    assert!(snr > 90.0, "SNR {snr} dB");
    Ok(())
}

#[test]
fn steering_changes_length_by_the_ppm_without_artefacts() -> Result<(), ResampleError> {
    let input = sine(FROM as usize * 10);
    let (plain, _) = run(&input, usize::MAX, 0.0)?;
    let (steered, _) = run(&input, 0, 300.0)?;
    let measured = (steered.len() as f64 / plain.len() as f64 - 1.0) * 1e6;
    println!(
        "+300 ppm: {} -> {} frames = {measured:.1} ppm",
        plain.len(),
        steered.len()
    );
    assert!((measured - 300.0).abs() < 5.0, "{measured} ppm");

    // Steer in the middle of the tone: compare with the ideal sine at the exact positions.
    let (mid, positions) = run(&input, 400, 300.0)?;
    let snr = snr_db(&mid, &positions);
    let jump = max_jump(&mid);
    // Largest step a clean 1 kHz sine of this amplitude makes at 48 kHz.
    let clean = AMPLITUDE * 2.0 * (std::f64::consts::PI * TONE / f64::from(TO)).sin();
    println!("steered mid-stream: SNR {snr:.1} dB, max step {jump:.5} (clean sine {clean:.5})");
    assert!(snr > 90.0, "SNR {snr} dB");
    assert!(jump < clean * 1.001, "step {jump} vs {clean}");
    Ok(())
}

#[test]
fn rejects_bad_rates_and_steering() {
    assert!(Resampler::new(0, 48_000, 2).is_err());
    let Ok(mut r) = Resampler::new(48_000, 48_000, 2) else {
        return;
    };
    assert!(r.set_ppm(2_000.0).is_err());
    assert!(r.set_ppm(f64::NAN).is_err());
    assert!(r.set_ppm(-500.0).is_ok());
    assert_eq!(r.ppm(), -500.0);
}

#[test]
fn flush_and_reset_track_the_song_position() -> Result<(), ResampleError> {
    let mut r = Resampler::new(48_000, 48_000, 2)?;
    r.push(&vec![0.25; 2 * 1_000]);
    let first = r.song_position();
    assert!(
        (0.0..1.0).contains(&first),
        "the first frame out is the song's first: {first}"
    );
    let mut out = Vec::new();
    let made = r.flush(&mut out)?;
    assert_eq!(out.len(), made * 2);
    // Every frame carries the song, from frame 0 to frame 999: not the filter's run-in
    // before it, nor its decay after it (silence before a gapless next song).
    assert_eq!(made, 1_000);
    assert!(out[0] > 0.1, "{}", out[0]);
    // The last frame is the song's (the filter already sees the silence after it).
    assert!(out[out.len() - 1] > 0.2, "{}", out[out.len() - 1]);
    assert_eq!(r.pending_frames(), 0);
    r.reset(96_000.0)?;
    let after = r.song_position() - 96_000.0;
    assert!((0.0..1.0).contains(&after), "{after}");
    assert!((after - (-r.latency())).abs() < 1e-9, "{after}");
    Ok(())
}

/// Feeding from `due + latency()` makes the first output frame carry `due`, at any ratio
/// and steering: what lining a song up with its schedule relies on.
#[test]
fn latency_names_the_song_frame_of_the_first_output() -> Result<(), ResampleError> {
    for (from, ppm) in [
        (48_000, 0.0),
        (44_100, 0.0),
        (44_100, 300.0),
        (22_050, -500.0),
    ] {
        let mut r = Resampler::new(from, 48_000, 2)?;
        r.set_ppm(ppm)?;
        r.reset(10_000.0)?;
        let first = r.song_position();
        assert!(
            (first - (10_000.0 - r.latency())).abs() < 1e-9,
            "{from} Hz {ppm} ppm: first output carries {first}, latency {}",
            r.latency()
        );
    }
    Ok(())
}
