//! Tests of the playout machine: commands only on change, re-anchoring, the songs a box
//! lacks, and the "started" report.

use std::time::Duration;

use super::*;
use crate::core::{PartyRole, PlaybackState};

const A: SongRef = SongRef([1; 32]);
const B: SongRef = SongRef([2; 32]);

fn view(song: Option<SongRef>, playing: bool, position_frames: f64, volume: u8) -> PlaybackView {
    PlaybackView {
        state: PlaybackState {
            song,
            index: None,
            playing,
            position_frames,
            rate: 48_000,
            volume,
        },
        upcoming: None,
        clock: None,
        role: PartyRole::Host,
    }
}

fn ms(n: u64) -> Instant {
    Instant::from_nanos(1_000_000_000 + n * 1_000_000)
}

fn all(_: &SongRef) -> bool {
    true
}

#[test]
fn plays_once_then_reanchors_every_period() {
    let mut p = Playout::new(Duration::from_millis(50));
    let v = view(Some(A), true, 96_000.0, 80);
    let first = p.update(ms(0), Some(&v), all);
    let anchor = Anchor {
        song_seconds: 2.0,
        at: ms(0),
        pace: 1.0,
    };
    assert_eq!(
        first.commands,
        vec![
            SinkCommand::Play { song: A, anchor },
            SinkCommand::Volume(80)
        ]
    );
    assert_eq!(first.started, Some(A));
    // Within half a period: nothing to say.
    assert_eq!(p.update(ms(10), Some(&v), all), PlayoutStep::default());
    // A tick that comes a little early still re-anchors, and does not restart the song.
    let again = p.update(ms(49), Some(&v), all);
    assert!(matches!(again.commands.as_slice(), [SinkCommand::Play { song, .. }] if *song == A));
    assert_eq!(again.started, None);
}

#[test]
fn a_new_song_starts_at_once_and_a_missing_one_is_silence() {
    let mut p = Playout::default();
    p.update(ms(0), Some(&view(Some(A), true, 0.0, 100)), all);
    let next = p.update(ms(1), Some(&view(Some(B), true, 0.0, 100)), all);
    assert_eq!(next.started, Some(B));
    assert_eq!(next.commands.len(), 1);
    let lacks_a = |s: &SongRef| *s != A;
    let step = p.update(ms(2), Some(&view(Some(A), true, 0.0, 100)), lacks_a);
    assert_eq!(step.commands, vec![SinkCommand::Stop]);
    assert_eq!(p.playing(), None);
    // Silence is said once.
    let step = p.update(ms(3), Some(&view(Some(A), true, 0.0, 100)), lacks_a);
    assert!(step.commands.is_empty());
}

#[test]
fn pause_losing_the_clock_and_volume_changes() {
    let mut p = Playout::default();
    p.update(ms(0), Some(&view(Some(A), true, 0.0, 100)), all);
    let paused = p.update(ms(1), Some(&view(Some(A), false, 10.0, 100)), all);
    assert_eq!(paused.commands, vec![SinkCommand::Stop]);
    let resumed = p.update(ms(2), Some(&view(Some(A), true, 10.0, 60)), all);
    assert!(matches!(
        resumed.commands.as_slice(),
        [SinkCommand::Play { .. }, SinkCommand::Volume(60)]
    ));
    // Resuming the same song counts as starting it again (the transfer only keeps it).
    assert_eq!(resumed.started, Some(A));
    let lost = p.update(ms(3), None, all);
    assert_eq!(lost.commands, vec![SinkCommand::Stop]);
}

#[test]
fn a_new_clock_estimate_reanchors_at_once_with_its_rate() {
    let mut p = Playout::default();
    let mut v = view(Some(A), true, 0.0, 100);
    v.role = PartyRole::Member;
    let mut estimate = crate::core::ClockEstimate::identity();
    estimate.rate_ppm = 100.0;
    v.clock = Some(estimate);
    p.update(ms(0), Some(&v), all);
    assert!(p.update(ms(5), Some(&v), all).commands.is_empty());
    estimate.offset_ns = 1_000.0;
    v.clock = Some(estimate);
    let step = p.update(ms(10), Some(&v), all);
    match step.commands.as_slice() {
        [SinkCommand::Play { anchor, .. }] => {
            assert!((anchor.pace - 1.0001).abs() < 1e-12, "{}", anchor.pace);
        }
        other => panic!("expected a new anchor, got {other:?}"),
    }
}

/// A start the view sees coming is told to the sink before it happens, anchored at the
/// start itself, so the sink can begin on the first scheduled frame.
#[test]
fn an_upcoming_start_is_anchored_at_the_start_before_it_happens() {
    let mut p = Playout::default();
    let mut v = view(None, false, 0.0, 100);
    let mut next = view(Some(A), true, 480.0, 100).state;
    next.index = Some(0);
    v.upcoming = Some((ms(100), next));
    let step = p.update(ms(0), Some(&v), all);
    assert_eq!(
        step.commands,
        vec![
            SinkCommand::Play {
                song: A,
                anchor: Anchor {
                    song_seconds: 0.01,
                    at: ms(100),
                    pace: 1.0,
                },
            },
            SinkCommand::Volume(100),
        ]
    );
    assert_eq!(step.started, Some(A));
    // Within the period nothing new is said; at the start the same song is only
    // re-anchored (no new start).
    assert!(p.update(ms(20), Some(&v), all).commands.is_empty());
    let at_start = p.update(ms(101), Some(&view(Some(A), true, 48.0, 100)), all);
    assert_eq!(at_start.started, None);
    assert!(matches!(
        at_start.commands.as_slice(),
        [SinkCommand::Play { song: A, anchor }] if anchor.at == ms(101)
    ));

    // A song the box lacks is not announced; neither is one already playing.
    let mut q = Playout::default();
    q.update(ms(0), Some(&v), |_| false);
    assert_eq!(q.playing(), None);
    let mut playing = view(Some(A), true, 0.0, 100);
    playing.upcoming = Some((ms(100), next));
    let mut r = Playout::default();
    r.update(ms(0), Some(&playing), all);
    assert!(r.update(ms(10), Some(&playing), all).commands.is_empty());
    // A different next song while one plays is told as the next one, not played.
    let mut skip = next;
    skip.song = Some(B);
    skip.position_frames = 0.0;
    playing.upcoming = Some((ms(100), skip));
    let step = r.update(ms(20), Some(&playing), all);
    assert!(matches!(
        step.commands.as_slice(),
        [SinkCommand::Next { song: B, .. }]
    ));
    assert_eq!(r.playing(), Some(A));
}

/// The song after the playing one is told ahead with its own anchor, again whenever the
/// playing song is re-anchored, withdrawn when the schedule drops it, and becomes the
/// playing song (no second start) when its instant comes.
#[test]
fn the_next_song_is_told_ahead_and_taken_over_on_its_instant() {
    let mut p = Playout::new(Duration::from_millis(50));
    let mut v = view(Some(A), true, 0.0, 100);
    p.update(ms(0), Some(&v), all);
    let mut then = view(Some(B), true, 0.0, 100).state;
    then.index = Some(1);
    v.upcoming = Some((ms(140), then));
    let told = p.update(ms(10), Some(&v), all);
    let next = SinkCommand::Next {
        song: B,
        anchor: Anchor {
            song_seconds: 0.0,
            at: ms(140),
            pace: 1.0,
        },
    };
    assert_eq!(told.commands, vec![next]);
    assert_eq!(told.started, None);
    // Said once; again with the playing song's next anchor.
    assert!(p.update(ms(20), Some(&v), all).commands.is_empty());
    let reanchor = p.update(ms(50), Some(&v), all);
    assert!(matches!(
        reanchor.commands.as_slice(),
        [
            SinkCommand::Play { song: A, .. },
            SinkCommand::Next { song: B, .. }
        ]
    ));
    // The schedule drops it (a pause comes first): the sink is told.
    let mut pause = then;
    pause.playing = false;
    v.upcoming = Some((ms(120), pause));
    assert_eq!(
        p.update(ms(60), Some(&v), all).commands,
        vec![SinkCommand::CancelNext]
    );
    // Told again, then its instant comes: B is the playing song and counts as started.
    v.upcoming = Some((ms(140), then));
    assert_eq!(p.update(ms(70), Some(&v), all).commands, vec![next]);
    let at = p.update(ms(140), Some(&view(Some(B), true, 0.0, 100)), all);
    assert!(matches!(
        at.commands.as_slice(),
        [SinkCommand::Play { song: B, .. }]
    ));
    assert_eq!(at.started, Some(B));
    // Nothing left to withdraw: the next tick only re-anchors B.
    let later = p.update(ms(200), Some(&view(Some(B), true, 2_880.0, 100)), all);
    assert!(matches!(
        later.commands.as_slice(),
        [SinkCommand::Play { song: B, .. }]
    ));
    // A song the box lacks is never told.
    let mut q = Playout::default();
    q.update(ms(0), Some(&v), |s| *s == A);
    assert!(q.update(ms(10), Some(&v), |s| *s == A).commands.is_empty());
}
