//! Tests of the schedule: ordering, idempotence, catch-up, pause arithmetic, pool ends.

use super::*;

const RATE: u32 = 48_000;
const SEC: u64 = 1_000_000_000;

fn song(n: u8) -> SongRef {
    SongRef([n; 32])
}

fn pool(lengths_secs: &[u64]) -> Vec<PoolSong> {
    lengths_secs
        .iter()
        .zip(1u8..)
        .map(|(&secs, n)| PoolSong {
            song: song(n),
            rate: RATE,
            frames: secs * u64::from(RATE),
            origin: None,
        })
        .collect()
}

fn at(secs: f64) -> PartyTime {
    PartyTime::from_nanos((secs * SEC as f64) as u64)
}

fn entry(secs: f64, seq: u64, action: Action) -> Entry {
    Entry {
        at: at(secs),
        seq,
        action,
    }
}

fn play(n: u8) -> Action {
    Action::Play {
        song: song(n),
        from_frame: 0,
    }
}

fn secs_in(state: &PlaybackState) -> f64 {
    state.position_frames / f64::from(state.rate)
}

#[test]
fn replays_in_time_order_whatever_the_arrival_order() {
    let entries = [
        entry(10.0, 1, play(1)),
        entry(20.0, 2, Action::Pause),
        entry(25.0, 3, Action::Resume),
        entry(30.0, 4, Action::Volume { percent: 40 }),
    ];
    let mut forward = Schedule::new(pool(&[600, 600]), RATE);
    let mut backward = Schedule::new(pool(&[600, 600]), RATE);
    for e in entries {
        assert_eq!(forward.insert(e), InsertOutcome::Added);
    }
    for e in entries.iter().rev() {
        assert_eq!(backward.insert(*e), InsertOutcome::Added);
    }
    for t in [5.0, 15.0, 22.0, 27.0, 31.0] {
        assert_eq!(forward.state_at(at(t)), backward.state_at(at(t)), "t = {t}");
    }
    let s = forward.state_at(at(31.0));
    assert!(s.playing);
    assert_eq!(s.volume, 40);
    // 10 s played before the pause, 6 s after the resume.
    assert!((secs_in(&s) - 16.0).abs() < 1e-6, "{}", secs_in(&s));
}

#[test]
fn same_time_entries_apply_in_seq_order() {
    let mut s = Schedule::new(pool(&[600, 600]), RATE);
    s.insert(entry(1.0, 8, Action::Volume { percent: 20 }));
    s.insert(entry(1.0, 7, Action::Volume { percent: 90 }));
    assert_eq!(s.state_at(at(2.0)).volume, 20);
}

#[test]
fn insertion_is_idempotent_by_seq() {
    let mut s = Schedule::new(pool(&[600]), RATE);
    assert_eq!(s.insert(entry(1.0, 1, play(1))), InsertOutcome::Added);
    assert_eq!(s.insert(entry(1.0, 1, play(1))), InsertOutcome::Duplicate);
    // A different entry reusing a seq is ignored too: the first one wins everywhere.
    assert_eq!(
        s.insert(entry(2.0, 1, Action::Pause)),
        InsertOutcome::Duplicate
    );
    assert_eq!(s.len(), 1);
    assert!(s.state_at(at(3.0)).playing);
}

#[test]
fn a_late_box_catches_up_to_the_right_position() {
    let mut on_time = Schedule::new(pool(&[600]), RATE);
    on_time.insert(entry(100.0, 1, play(1)));
    // A box that hears of the Play 3.5 s after it took effect.
    let mut late = Schedule::new(pool(&[600]), RATE);
    assert_eq!(late.state_at(at(103.5)).song, None);
    late.insert(entry(100.0, 1, play(1)));
    let s = late.state_at(at(103.5));
    assert_eq!(s, on_time.state_at(at(103.5)));
    assert_eq!(s.position_frames, 3.5 * f64::from(RATE));
    assert_eq!(s.index, Some(0));
}

#[test]
fn pause_and_resume_hold_the_position() {
    let mut s = Schedule::new(pool(&[600]), RATE);
    s.insert(entry(0.0, 1, play(1)));
    s.insert(entry(2.0, 2, Action::Pause));
    s.insert(entry(60.0, 3, Action::Resume));
    s.insert(entry(61.0, 4, Action::Seek { frame: 480_000 }));
    assert!((secs_in(&s.state_at(at(1.0))) - 1.0).abs() < 1e-9);
    let paused = s.state_at(at(30.0));
    assert!(!paused.playing);
    assert!((secs_in(&paused) - 2.0).abs() < 1e-9);
    assert!((secs_in(&s.state_at(at(60.5))) - 2.5).abs() < 1e-9);
    assert!((secs_in(&s.state_at(at(62.0))) - 11.0).abs() < 1e-9);
}

#[test]
fn skip_previous_select_and_the_end_of_the_pool() {
    let mut s = Schedule::new(pool(&[600, 600, 600]), RATE);
    s.insert(entry(0.0, 1, Action::Select { index: 1 }));
    s.insert(entry(5.0, 2, Action::Skip));
    s.insert(entry(6.0, 3, Action::Previous));
    s.insert(entry(7.0, 4, Action::Select { index: 9 }));
    s.insert(entry(8.0, 5, Action::Skip));
    s.insert(entry(9.0, 6, Action::Skip));
    let idx = |t: f64| s.state_at(at(t)).index;
    assert_eq!(idx(1.0), Some(1));
    assert_eq!(idx(5.5), Some(2));
    assert_eq!(s.state_at(at(5.5)).position_frames, 0.5 * f64::from(RATE));
    assert_eq!(idx(6.5), Some(1));
    assert_eq!(
        idx(7.5),
        Some(1),
        "an index outside the pool changes nothing"
    );
    assert_eq!(idx(8.5), Some(2));
    // Skipping past the last song starts the pool over.
    let wrapped = s.state_at(at(9.5));
    assert_eq!(
        (wrapped.song, wrapped.index, wrapped.playing),
        (Some(song(1)), Some(0), true)
    );
}

#[test]
fn a_skip_after_the_pool_ran_out_plays_the_first_song() {
    let mut s = Schedule::new(pool(&[10, 20]), RATE);
    s.insert(entry(100.0, 1, play(1)));
    let done = s.state_at(at(131.0));
    assert_eq!((done.song, done.playing), (None, false));
    s.insert(entry(140.0, 2, Action::Skip));
    let again = s.state_at(at(141.0));
    assert_eq!(
        (again.song, again.index, again.playing),
        (Some(song(1)), Some(0), true)
    );
    assert!((secs_in(&again) - 1.0).abs() < 1e-6);
}

#[test]
fn a_skip_while_paused_on_the_last_song_stays_paused_on_the_first() {
    let mut s = Schedule::new(pool(&[600, 600]), RATE);
    s.insert(entry(0.0, 1, Action::Select { index: 1 }));
    s.insert(entry(1.0, 2, Action::Pause));
    s.insert(entry(2.0, 3, Action::Skip));
    let state = s.state_at(at(3.0));
    assert_eq!((state.index, state.playing), (Some(0), false));
}

#[test]
fn songs_run_into_each_other_and_out_of_the_pool() {
    let mut s = Schedule::new(pool(&[10, 20]), RATE);
    s.insert(entry(100.0, 1, play(1)));
    let second = s.state_at(at(115.0));
    assert_eq!(second.song, Some(song(2)));
    assert!((secs_in(&second) - 5.0).abs() < 1e-6);
    assert_eq!(s.next_change_after(at(115.0)), Some(at(130.0)));
    let done = s.state_at(at(131.0));
    assert_eq!((done.song, done.playing), (None, false));
    assert_eq!(s.next_change_after(at(131.0)), None);
}

#[test]
fn compaction_keeps_the_state_and_refuses_older_entries() {
    let mut s = Schedule::new(pool(&[600]), RATE);
    s.insert(entry(0.0, 1, play(1)));
    s.insert(entry(2.0, 2, Action::Pause));
    s.insert(entry(4.0, 3, Action::Resume));
    let before = s.state_at(at(10.0));
    s.compact(at(5.0));
    assert_eq!(s.len(), 0);
    assert_eq!(s.state_at(at(10.0)), before);
    assert_eq!(
        s.insert(entry(4.5, 9, Action::Pause)),
        InsertOutcome::TooLate
    );
}

#[test]
fn lead_time_follows_the_delivery_time_with_a_floor() {
    assert_eq!(lead_time(Duration::ZERO), MIN_LEAD);
    assert_eq!(lead_time(Duration::from_millis(4)), MIN_LEAD);
    assert_eq!(
        lead_time(Duration::from_millis(60)),
        Duration::from_millis(90)
    );
    assert_eq!(lead_time(Duration::from_secs(60)), Duration::from_secs(5));
}

#[test]
fn entries_round_trip_through_their_wire_form() {
    let e = entry(1.5, 42, Action::Select { index: 3 });
    let bytes = postcard::to_allocvec(&crate::proto::schedule::Entry::from(e)).unwrap_or_default();
    let back: Result<crate::proto::schedule::Entry, _> = postcard::from_bytes(&bytes);
    assert_eq!(back.ok().map(Entry::from), Some(e));
}
