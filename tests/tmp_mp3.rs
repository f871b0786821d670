#![allow(clippy::unwrap_used)]
use chorus::audio::player::{LocalTarget, Player, PlayerCommand};
use chorus::audio::wav::WavSink;
use chorus::audio::SinkFormat;
use chorus::clock::monotonic_now;
use std::time::Duration;

#[test]
fn mp3_next() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("music");
    let first = root.join("01 Loopback Lullaby.flac");
    let second = root.join(std::env::var("NEXT").unwrap_or("02 Multicast March.mp3".into()));
    let out = std::path::PathBuf::from("/tmp/exp/out.wav");
    let sink = WavSink::create(
        &out,
        SinkFormat {
            rate: 48_000,
            channels: 2,
        },
        Duration::from_millis(40),
    )
    .unwrap();
    let player = Player::spawn(Box::new(sink)).unwrap();
    let start = monotonic_now() + Duration::from_millis(300);
    let at = |s: f64| LocalTarget {
        song_seconds: 0.0,
        at: start + Duration::from_secs_f64(s),
        pace: 1.0,
    };
    player.send(PlayerCommand::Play {
        path: first,
        target: at(0.0),
    });
    std::thread::sleep(
        (start + Duration::from_millis(1880)).saturating_duration_since(monotonic_now()),
    );
    let t = monotonic_now();
    player.send(PlayerCommand::Next {
        path: second.clone(),
        target: at(2.0),
    });
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(10));
        let s = player.status();
        eprintln!(
            "{:>4} ms song {:?} opened {} err {:?}",
            (monotonic_now() - t).as_millis(),
            s.song.as_ref().and_then(|p| p.file_name()),
            s.opened,
            s.playout_error_us
        );
    }
    std::thread::sleep(Duration::from_millis(700));
    player.send(PlayerCommand::Play {
        path: second,
        target: at(2.0),
    });
    std::thread::sleep(Duration::from_millis(300));
    eprintln!("{:?}", player.status());
}
