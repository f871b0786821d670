//! The first song waits for the boxes that joined before the start to hold it (up to
//! `start_wait`); it then plays by itself on every box. Later songs and latecomers never
//! delay anybody.

use super::*;
use chorus::core::{PoolSong, SongRef};

fn song(n: u8) -> PoolSong {
    PoolSong {
        song: SongRef([n; 32]),
        rate: 44_100,
        frames: 44_100 * 600,
        origin: None,
    }
}

fn playing(sim: &Sim, i: usize) -> bool {
    sim.node(i)
        .unwrap()
        .playback(sim.now())
        .is_some_and(|v| v.state.playing && v.state.song == Some(song(1).song))
}

/// Host 0 holds two songs, boxes 1 and 2 none; the party starts when both joined.
fn gated_party(seed: u64, start_wait: f64) -> Sim {
    let mut sim = party_sim(seed, 4, move |_, c| {
        c.party.min_accepts = 2;
        c.party.start_wait = secs(start_wait);
    });
    sim.set_pool(0, vec![song(1), song(2)]);
    for i in 1..4 {
        sim.set_pool(i, vec![]);
    }
    form_party(&mut sim, 3);
    sim
}

#[test]
fn the_first_song_plays_once_every_founder_holds_it() {
    let mut sim = gated_party(90, 600.0);
    ok(sim.run_for(secs(5.0)));
    assert!(
        !playing(&sim, 0),
        "nothing plays while the members lack the first song"
    );
    let waiting = sim.node(0).unwrap().transfer_view(sim.now()).unwrap();
    assert!(waiting.waiting_for_first_song);
    let host = sim.id(0).unwrap();
    assert_eq!(
        waiting.window,
        vec![(song(1).song, host), (song(2).song, host)]
    );
    sim.set_held(1, &[song(1).song]);
    ok(sim.run_for(secs(2.0)));
    assert!(!playing(&sim, 0), "box 2 still lacks it");
    sim.set_held(2, &[song(1).song]);
    wait(&mut sim, 2.0, "every box plays the first song", |s| {
        (0..3).all(|i| playing(s, i))
    });
    // A box joining now, without the song, delays nobody and stays silent in step.
    wait(&mut sim, 3.0, "invitation", |s| {
        !s.node(3).unwrap().invitations().is_empty()
    });
    cmd(sim.join(3, None));
    wait(&mut sim, 5.0, "the latecomer is in step", |s| {
        s.node(3).unwrap().playback(s.now()).is_some()
    });
    let id3 = sim.id(3).unwrap();
    wait(
        &mut sim,
        2.0,
        "the host knows the latecomer lacks both songs",
        |s| {
            s.party(0)
                .unwrap()
                .members
                .iter()
                .any(|m| m.id == id3 && m.missing == [0, 1])
        },
    );
    assert!((0..3).all(|i| playing(&sim, i)), "nobody waited for it");
    let late = sim.node(3).unwrap().playback(sim.now()).unwrap();
    assert_eq!(
        late.state.song,
        Some(song(1).song),
        "it follows the schedule, silently"
    );
}

#[test]
fn the_first_song_plays_anyway_when_the_wait_is_over() {
    let mut sim = gated_party(91, 8.0);
    let started = sim.now();
    wait(&mut sim, 12.0, "the host plays", |s| playing(s, 0));
    let waited = sim.now() - started;
    assert!(
        waited >= secs(6.0),
        "played after {waited:?}, before the wait was over"
    );
    assert!(
        !sim.node(0)
            .unwrap()
            .transfer_view(sim.now())
            .unwrap()
            .waiting_for_first_song
    );
}
