//! The correlation on synthetic signals with known delays, the analysis on made-up
//! recordings, and the sound server's config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::analyze::analyse;
use super::correlate::{lag, silences};
use super::report::{ControlReport, CONTROL_PAD};
use super::signal::{noise, RATE};

const LEN: usize = 24_000;

#[test]
fn known_fractional_delays_read_within_a_tenth_of_a_sample() {
    let reference = noise(7, 60_000, 0.0);
    for delay in [0.0, 0.25, 0.5, 1.3, 37.0, 37.3, -12.7, 63.9, -63.5] {
        let other = noise(7, 60_000, delay);
        let l = lag(&reference, &other, 1_000, LEN, 480).unwrap();
        assert!(
            (l.samples - delay).abs() < 0.1,
            "delay {delay}: read {} (quality {})",
            l.samples,
            l.quality
        );
        assert!(l.quality > 0.99, "{l:?}");
    }
}

#[test]
fn the_noise_is_loud_enough_and_does_not_clip() {
    let x = noise(1, 48_000, 0.0);
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((0.05..0.4).contains(&rms), "rms {rms}");
    assert!(peak < 1.0, "peak {peak}");
}

#[test]
fn silence_and_unrelated_noise_do_not_match() {
    let reference = noise(7, 60_000, 0.0);
    assert!(lag(&reference, &vec![0.0; 60_000], 1_000, LEN, 480).is_none());
    assert!(lag(&reference, &noise(8, 60_000, 0.0), 1_000, LEN, 480).is_none());
    // A window whose lags do not fit in the signal is refused, not mis-read.
    assert!(lag(&reference, &reference, 100, LEN, 480).is_none());
}

#[test]
fn the_control_reads_its_padding_and_fails_on_a_wrong_one() {
    let x = noise(3, 3 * RATE as usize, 0.0);
    let mut late = vec![0.0; CONTROL_PAD];
    late.extend_from_slice(&x);
    let c = ControlReport::measure(&x, &late);
    assert!(c.passed, "{c:?}");
    assert!(c.measured_samples.len() >= 4, "{c:?}");
    let mut wrong = vec![0.0; CONTROL_PAD + 1];
    wrong.extend_from_slice(&x);
    assert!(!ControlReport::measure(&x, &wrong).passed);
    assert!(!ControlReport::measure(&x, &vec![0.0; x.len()]).passed);
}

/// Three made-up boxes: box 2 starts 3 ms late and steers in over 4 s, box 3 is 20 µs
/// ahead throughout and goes silent at 12 s (a killed host).
fn made_up() -> Vec<Vec<f32>> {
    let rate = f64::from(RATE);
    let total = 20 * RATE as usize;
    let lead = 4_800;
    let src = noise(5, total, 0.0);
    let mut ch = vec![vec![0.0f32; total]; 3];
    ch[0][lead..].copy_from_slice(&src[..total - lead]);
    // Box 2: lag 3 ms falling linearly to 0 over 4 s, by whole samples (fine for this).
    for (n, out) in ch[1].iter_mut().enumerate().skip(lead) {
        let t = (n - lead) as f64 / rate;
        let lag = (0.003 * (1.0 - t / 4.0)).max(0.0) * rate;
        let from = (n - lead) as f64 - lag;
        if from >= 0.0 {
            *out = src[from.round() as usize];
        }
    }
    let ahead = noise(5, total, -0.96);
    let stop = lead + 12 * RATE as usize;
    ch[2][lead..stop].copy_from_slice(&ahead[..stop - lead]);
    ch
}

#[test]
fn analysis_finds_the_late_start_the_lock_and_the_spread() {
    let a = analyse(&made_up(), RATE, 18.0);
    let first = a.first_sample_offset_us.clone();
    assert_eq!(first[0], Some(0.0));
    assert!((first[1].unwrap() - 3_000.0).abs() < 50.0, "{first:?}");
    assert!(first[2].unwrap().abs() < 30.0, "{first:?}");
    let lock = a.lock_s.unwrap();
    assert!((2.5..=4.0).contains(&lock), "lock {lock}");
    let after = a.spread_after_lock_us.unwrap();
    // Box 3 is 0.96 samples (20 µs) ahead; box 2 within a sample of box 1 once in.
    assert!(after.max < 60.0, "{after:?}");
    assert_eq!(a.excursions, 0);
    // Box 3's end is not a gap, and it leaves the spread once it is silent.
    assert!(a.gaps.iter().all(|g| g.count == 0), "{:?}", a.gaps);
    let late = a.series.iter().find(|w| w.t > 13.0).unwrap();
    assert!(
        late.lags_us[2].is_none() && late.spread_us.is_some(),
        "{late:?}"
    );
}

#[test]
fn a_gap_in_one_box_is_found() {
    let mut ch = made_up();
    ch[0][10 * RATE as usize..10 * RATE as usize + 480].fill(0.0);
    let a = analyse(&ch, RATE, 18.0);
    assert_eq!(a.gaps[0].count, 1, "{:?}", a.gaps);
    assert!((a.gaps[0].longest_ms - 10.0).abs() < 0.1);
    assert_eq!(a.gaps[0].own, 1, "no other box was silent then");
    // The same silence on every box playing: the sound server's, not the boxes'.
    let at = 5 * RATE as usize;
    for c in ch.iter_mut() {
        c[at..at + 480].fill(0.0);
    }
    let a = analyse(&ch, RATE, 18.0);
    assert_eq!(a.gaps[1].count, 1, "{:?}", a.gaps);
    assert_eq!(a.gaps[1].own, 0, "{:?}", a.gaps);
    assert_eq!(a.gaps[0].own, 1, "{:?}", a.gaps);
    // Noise itself is never quiet that long.
    assert_eq!(silences(&ch[0], 4_800, 4 * RATE as usize, 10).len(), 0);
}

#[test]
fn every_box_gets_its_own_channel_of_the_bench_sink() {
    let text = super::config_text(3, 3);
    assert!(text.contains("default.clock.min-quantum = 1024"), "{text}");
    assert!(
        text.contains("audio.position = [ AUX0 AUX1 AUX2 ]"),
        "{text}"
    );
    assert!(text.contains("node.name = \"chorus-box3-out\""), "{text}");
    assert!(
        text.contains("audio.position = [ AUX2 ] stream.dont-remix"),
        "{text}"
    );
    assert!(
        text.contains("audio.position = [ AUX0 AUX1 ] stream.dont-remix"),
        "{text}"
    );
}

#[test]
fn a_box_that_begins_mid_song_is_placed_in_it() {
    // Short, because the search is plain O(n·positions) and tests run unoptimized.
    let song = noise(9, RATE as usize / 2, 0.0);
    let mut ch = vec![0.0f32; RATE as usize];
    // Enters 0.25 s into the recording with the song's sample 1728 (36 ms in).
    ch[12_000..12_000 + 20_000].copy_from_slice(&song[1_728..1_728 + 20_000]);
    let at = super::analyze::first_song_ms(&[ch], &song, RATE);
    assert!((at[0].unwrap() - 36.0).abs() < 0.05, "{at:?}");
}

#[test]
fn wander_reads_the_rms_and_correlation_time_of_a_slow_swing() {
    // 10 µs amplitude, 40 s period, sampled every 0.5 s for 200 s: RMS 10/√2, and the
    // autocorrelation cos(2π k·0.5/40) first falls below 1/e at k = 16 (8 s).
    let lags: Vec<f64> = (0..400)
        .map(|i| 10.0 * (std::f64::consts::TAU * f64::from(i) * 0.5 / 40.0).sin())
        .collect();
    let w = super::wander::of(&lags);
    let Some(w) = w else { panic!("no wander") };
    assert!((w.rms_us - 7.07).abs() < 0.05, "{w:?}");
    assert_eq!(w.tau_s, Some(8.0));
    // White noise decorrelates at once.
    let noise: Vec<f64> = (0..400u32)
        .map(|i| f64::from(i.wrapping_mul(2_654_435_761) % 1000))
        .collect();
    assert_eq!(super::wander::of(&noise).and_then(|w| w.tau_s), Some(0.5));
}

/// Box k plays song A, then song B from `switch` + `delays[k]` samples on (B delayed by as
/// much), or A throughout where `delays[k]` is `None`.
fn skipped(switch: usize, delays: &[Option<f64>], len: usize) -> Vec<Vec<f32>> {
    delays
        .iter()
        .map(|d| {
            let a = noise(1, len, d.unwrap_or(0.0));
            let Some(d) = *d else { return a };
            let b = noise(2, len, d);
            let from = switch + d.ceil().max(0.0) as usize;
            (0..len)
                .map(|n| if n < from { a[n] } else { b[n - switch] })
                .collect()
        })
        .collect()
}

#[test]
fn a_skip_reads_where_each_box_began_the_new_song() {
    use super::analyze::Analysis;
    use super::skips::song_changes;
    let rate = RATE as usize;
    let (switch, len) = (2 * rate, 4 * rate);
    let delays = [Some(0.0), Some(2.3), Some(-1.7)];
    let channels = skipped(switch, &delays, len);
    let songs = [noise(1, rate, 0.0), noise(2, rate, 0.0)];
    // Asked 0.3 s before the new song began: the party's lead time.
    let asked = [(switch as f64 / rate as f64) - 0.3];
    let changes = song_changes(&Analysis::default(), &channels, &songs, &asked, RATE);
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    let began = c.began_at_s.unwrap();
    assert!((began - 2.0).abs() < 1e-3, "{c:?}");
    let us = 1e6 / f64::from(RATE);
    for (read, want) in c.lag_us.iter().zip(delays) {
        let (read, want) = (read.unwrap() / us, want.unwrap());
        assert!((read - want).abs() < 0.1, "{c:?}");
    }
    assert!(
        (c.worst_pair_us.unwrap() - 4.0 * us).abs() < 0.2 * us,
        "{c:?}"
    );
}

#[test]
fn a_box_that_missed_the_skip_has_no_lag_and_no_worst_pair() {
    use super::analyze::Analysis;
    use super::skips::song_changes;
    let rate = RATE as usize;
    let channels = skipped(2 * rate, &[Some(0.0), None], 4 * rate);
    let songs = [noise(1, rate, 0.0), noise(2, rate, 0.0)];
    let changes = song_changes(&Analysis::default(), &channels, &songs, &[1.8], RATE);
    assert!(changes[0].began_at_s.is_some(), "{changes:?}");
    assert_eq!(changes[0].lag_us[1], None, "{changes:?}");
    assert_eq!(changes[0].worst_pair_us, None, "{changes:?}");
}
