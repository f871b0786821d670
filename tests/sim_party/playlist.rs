//! A host that plays a playlist: every box follows the playlist's order and knows its
//! name, and a successor keeps both.

use super::*;

fn song(n: u8) -> PoolSong {
    PoolSong {
        song: SongRef([n; 32]),
        rate: 44_100,
        frames: 44_100 * 2,
        origin: None,
    }
}

fn playing(sim: &Sim, i: usize) -> Option<SongRef> {
    sim.node(i)?.playback(sim.now())?.state.song
}

#[test]
fn every_box_follows_the_playlist_order_and_shows_its_name_after_a_failover_too() {
    let mut sim = party_sim(91, 3, |_, c| c.party.min_accepts = 2);
    // Not the songs' natural order: the playlist's.
    let order = vec![song(7), song(2), song(5)];
    sim.set_playlist(0, order.clone(), Some("Road trip"));
    for i in 1..3 {
        sim.set_pool(i, vec![]);
        sim.set_held(i, &[song(7).song, song(2).song, song(5).song]);
    }
    let party = form_party(&mut sim, 3);
    wait(&mut sim, 10.0, "the playlist's first song", |s| {
        (0..3).all(|i| playing(s, i) == Some(order[0].song))
    });
    for i in 0..3 {
        assert_eq!(
            sim.node(i).unwrap().playlist(),
            Some("Road trip"),
            "box {i}"
        );
    }
    cmd(sim.request(0, PartyRequest::Playback(Action::Skip)));
    wait(&mut sim, 5.0, "the playlist's second song", |s| {
        (0..3).all(|i| playing(s, i) == Some(order[1].song))
    });
    sim.crash(0);
    wait(&mut sim, 5.0, "a successor", |s| {
        s.hosts().iter().any(|(_, v)| v.id == party)
    });
    let (successor, _) = sim.hosts().remove(0);
    assert_eq!(sim.node(successor).unwrap().playlist(), Some("Road trip"));
    cmd(sim.request(successor, PartyRequest::Playback(Action::Skip)));
    wait(&mut sim, 5.0, "the playlist's third song", |s| {
        (1..3).all(|i| playing(s, i) == Some(order[2].song))
    });
    let other = 3 - successor;
    assert_eq!(sim.node(other).unwrap().playlist(), Some("Road trip"));
}

#[test]
fn a_box_that_leaves_forgets_the_playlist_and_a_whole_folder_has_none() {
    let mut sim = party_sim(92, 2, |_, c| c.party.min_accepts = 1);
    sim.set_playlist(0, vec![song(1)], Some("Quiet"));
    sim.set_pool(1, vec![]);
    form_party(&mut sim, 2);
    assert_eq!(sim.node(1).unwrap().playlist(), Some("Quiet"));
    cmd(sim.leave(1));
    settle(&mut sim, 1.0);
    assert_eq!(sim.node(1).unwrap().playlist(), None);
    cmd(sim.leave(0));
    settle(&mut sim, 1.0);
    sim.set_pool(0, vec![song(1)]);
    form_party(&mut sim, 2);
    assert_eq!(sim.node(1).unwrap().playlist(), None);
}
