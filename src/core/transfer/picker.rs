//! Rarest-first ordering of the chunks a box could request next, as a pure function of
//! how many peers hold each chunk.
//!
//! Fetching the chunks fewest peers hold first spreads every chunk across the party as
//! early as possible, so members can serve each other instead of all queueing at the
//! song's origin. Ties are broken by a hash of the box's seed, so two boxes that see the
//! same availability still ask for different chunks.

use crate::core::SongRef;

/// The tie-break key of `chunk` of `song` for a box seeded with `seed`: equal availability
/// is ordered by this, which differs from box to box.
pub fn tie_break(seed: u64, song: &SongRef, chunk: u32) -> u64 {
    let song_word = song
        .0
        .iter()
        .take(8)
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    mix(seed ^ mix(song_word ^ mix(u64::from(chunk))))
}

/// Sorts `candidates` rarest first: fewest holders (`holders[chunk]`), then
/// [`tie_break`]. Chunks without an entry in `holders` go last. The caller passes only
/// chunks it could request (missing, not in flight, held by someone).
pub fn rarest_first(candidates: &mut [u32], holders: &[u16], seed: u64, song: &SongRef) {
    candidates.sort_by_cached_key(|&c| key(c, holders, seed, song));
}

/// Like [`rarest_first`] for the first `k` places only (the rest is left in any order):
/// a box asks for a handful of chunks at a time, and sorting thousands of candidates
/// for every request would cost more than the request.
pub fn rarest_first_top(
    candidates: &mut [u32],
    k: usize,
    holders: &[u16],
    seed: u64,
    song: &SongRef,
) {
    if k == 0 || candidates.is_empty() {
        return;
    }
    if k >= candidates.len() {
        return rarest_first(candidates, holders, seed, song);
    }
    // Keys computed once: the selection compares each several times.
    let mut keyed: Vec<((u16, u64), u32)> = candidates
        .iter()
        .map(|&c| (key(c, holders, seed, song), c))
        .collect();
    keyed.select_nth_unstable(k - 1);
    keyed[..k].sort_unstable();
    for (slot, (_, c)) in candidates.iter_mut().zip(keyed) {
        *slot = c;
    }
}

/// The single rarest of `candidates` (see [`rarest_first`]), if any.
pub fn pick_rarest(
    candidates: impl IntoIterator<Item = u32>,
    holders: &[u16],
    seed: u64,
    song: &SongRef,
) -> Option<u32> {
    candidates
        .into_iter()
        .min_by_key(|&c| key(c, holders, seed, song))
}

fn key(chunk: u32, holders: &[u16], seed: u64, song: &SongRef) -> (u16, u64) {
    let n = holders.get(chunk as usize).copied().unwrap_or(u16::MAX);
    (n, tie_break(seed, song, chunk))
}

/// SplitMix64's finaliser: a cheap, well-spread 64-bit mix (not cryptographic; only
/// the spread of tie-breaks matters).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SONG: SongRef = SongRef([7; 32]);

    #[test]
    fn fewest_holders_first() {
        // Chunk 2 is held by one peer, chunk 0 by two, chunks 1 and 3 by three.
        let holders = [2, 3, 1, 3];
        assert_eq!(pick_rarest(0..4, &holders, 1, &SONG), Some(2));
        let mut order = vec![0, 1, 2, 3];
        rarest_first(&mut order, &holders, 1, &SONG);
        assert_eq!(&order[..2], &[2, 0]);
        assert!(order[2..].contains(&1) && order[2..].contains(&3));
        assert_eq!(pick_rarest([1, 3, 0], &holders, 1, &SONG), Some(0));
        assert_eq!(pick_rarest([], &holders, 1, &SONG), None);
    }

    #[test]
    fn the_top_k_are_the_k_rarest_in_order() {
        let holders: Vec<u16> = (0..100).map(|i| ((i * 37) % 11) as u16).collect();
        let mut all: Vec<u32> = (0..100).collect();
        rarest_first(&mut all, &holders, 5, &SONG);
        let mut top: Vec<u32> = (0..100).rev().collect();
        rarest_first_top(&mut top, 10, &holders, 5, &SONG);
        assert_eq!(&top[..10], &all[..10]);
        let mut rest = top[10..].to_vec();
        rest.sort_unstable();
        let mut expected = all[10..].to_vec();
        expected.sort_unstable();
        assert_eq!(rest, expected, "nothing lost");
    }

    #[test]
    fn chunks_without_a_count_go_last() {
        let holders = [5, 5];
        assert_eq!(pick_rarest([9, 1], &holders, 3, &SONG), Some(1));
    }

    #[test]
    fn ties_are_broken_differently_per_seed() {
        // 64 equally rare chunks: different seeds must not all agree on the first pick,
        // and one seed always picks the same.
        let holders = [1u16; 64];
        let firsts: std::collections::BTreeSet<u32> = (0..16)
            .filter_map(|seed| pick_rarest(0..64, &holders, seed, &SONG))
            .collect();
        assert!(firsts.len() >= 8, "16 seeds picked only {firsts:?}");
        assert_eq!(
            pick_rarest(0..64, &holders, 42, &SONG),
            pick_rarest(0..64, &holders, 42, &SONG)
        );
        let mut a: Vec<u32> = (0..64).collect();
        let mut b = a.clone();
        rarest_first(&mut a, &holders, 1, &SONG);
        rarest_first(&mut b, &holders, 2, &SONG);
        assert_ne!(a, b);
    }

    #[test]
    fn ties_differ_per_song() {
        let other = SongRef([8; 32]);
        let holders = [1u16; 64];
        let mut a: Vec<u32> = (0..64).collect();
        let mut b = a.clone();
        rarest_first(&mut a, &holders, 1, &SONG);
        rarest_first(&mut b, &holders, 1, &other);
        assert_ne!(a, b);
    }
}
