//! The playback thread is real-time safe: once a song plays, writing a block allocates
//! nothing, and the thread asks for SCHED_FIFO (or says in one line why it could not).
//!
//! This binary has one test on purpose: it counts every allocation of the process while
//! only the playback thread runs, so nothing else may run beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;
use std::path::Path;
use std::time::Duration;

use chorus::audio::null::NullSink;
use chorus::audio::player::{LocalTarget, Player, PlayerCommand};
use chorus::audio::SinkFormat;
use chorus::clock::monotonic_now;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A song of `channels` channels at 44.1 kHz: a quiet sweep, so every block differs.
fn write_song(path: &Path, channels: u16, seconds: f64) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(seconds * 44_100.0) as usize {
        let t = i as f64 / 44_100.0;
        let v = (2.0 * std::f64::consts::PI * (200.0 + 100.0 * t) * t).sin() * 0.3;
        for _ in 0..channels {
            w.write_sample((v * 32_767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn a_playing_song_allocates_nothing_per_block() {
    let dir = tempfile::tempdir().unwrap();
    for channels in [2, 1] {
        let song = dir.path().join(format!("song{channels}.wav"));
        write_song(&song, channels, 4.0);
        let format = SinkFormat {
            rate: 48_000,
            channels: 2,
        };
        let player =
            Player::spawn(Box::new(NullSink::new(format, Duration::from_millis(40)))).unwrap();
        let target = LocalTarget {
            song_seconds: 0.0,
            at: monotonic_now() + Duration::from_millis(100),
            pace: 1.0,
        };
        assert!(player.send(PlayerCommand::Play {
            path: song.clone(),
            target,
        }));
        // Let the song open, position and settle; then count for a while.
        std::thread::sleep(Duration::from_millis(800));
        assert!(player.status().playing);
        let region = Region::new(GLOBAL);
        std::thread::sleep(Duration::from_millis(1_500));
        let n = region.change().allocations + region.change().reallocations;
        let status = player.status();
        assert!(status.playing, "{status:?}");
        assert_eq!(
            n, 0,
            "{channels}-channel song: the playback thread allocated {n} times in 1.5 s"
        );
    }
}
