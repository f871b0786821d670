//! A long party of offers: the host's queue holds only the songs still to come, so a
//! member who offers a song every song's length is never refused for a full queue.

use super::*;
use chorus::proto::MAX_POOL;

const OFFERS: u16 = 1_000;
/// Length of every offered song, and the time between two offers.
const SONG_S: f64 = 2.0;

fn song(n: u16, seconds: f64) -> PoolSong {
    let mut r = [0xee; 32];
    r[..2].copy_from_slice(&n.to_be_bytes());
    PoolSong {
        song: SongRef(r),
        rate: 44_100,
        frames: (44_100.0 * seconds) as u64,
        origin: None,
    }
}

/// The pool index the host plays now.
fn current(sim: &Sim) -> Option<u32> {
    sim.node(0)?.playback(sim.now())?.state.index
}

/// The host's answer to box 1's request `id`, among the events from `from` on.
fn answer_since(sim: &Sim, from: usize, id: u32) -> Option<(bool, Option<String>)> {
    sim.events()[from..].iter().find_map(|e| match &e.event {
        Event::RequestAnswered {
            id: got,
            accepted,
            reason,
        } if e.node == 1 && *got == id => Some((*accepted, reason.clone())),
        _ => None,
    })
}

#[test]
fn a_thousand_offers_over_a_long_party_never_fill_the_queue() {
    let mut sim = party_sim(70, 2, |_, c| c.party.min_accepts = 1);
    // A long first song: the offers that arrive while it plays are the queue's margin.
    let first = song(u16::MAX, 10.0);
    sim.set_pool(0, vec![first]);
    sim.set_pool(1, vec![]);
    sim.set_held(1, &[first.song]);
    form_party(&mut sim, 2);
    wait(&mut sim, 10.0, "the first song plays", |s| {
        current(s) == Some(0)
    });
    let (mut accepted, mut longest, mut furthest) = (0usize, 0usize, 0u32);
    for n in 0..OFFERS {
        let from = sim.events().len();
        let offer = PartyRequest::Offer {
            song: song(n, SONG_S),
            title: format!("offer {n}"),
        };
        let RequestOutcome::Pending(id) = cmd(sim.request(1, offer)) else {
            panic!("a member's offer goes to the host");
        };
        // Once the pool is full nothing moves on but the music: offer faster.
        let gap = if accepted + 1 < MAX_POOL { SONG_S } else { 0.1 };
        ok(sim.run_for(secs(gap)));
        // A lost segment can hold an answer back a little longer.
        wait(&mut sim, 5.0, "the answer", |s| {
            answer_since(s, from, id).is_some()
        });
        let (ok, reason) = answer_since(&sim, from, id).unwrap();
        if ok {
            accepted += 1;
        } else {
            // The pool is never trimmed (indices name its songs on the wire), so once it
            // holds MAX_POOL songs further offers are refused, with that reason.
            let reason = reason.unwrap_or_default();
            assert!(reason.contains("pool is full"), "offer {n}: {reason}");
            assert_eq!(accepted + 1, MAX_POOL, "offer {n} refused early: {reason}");
        }
        let queue = sim.party(0).unwrap().queue;
        longest = longest.max(queue.len());
        furthest = furthest.max(current(&sim).unwrap_or(0));
    }
    assert_eq!(
        accepted + 1,
        MAX_POOL,
        "every offer until the pool was full"
    );
    assert!(longest <= 6, "the queue grew to {longest} songs");
    assert_eq!(
        furthest as usize,
        MAX_POOL - 1,
        "the party played on to the pool's last song"
    );
    assert!(
        sim.party(0).unwrap().queue.is_empty(),
        "every queued song played"
    );
}
