//! Which songs to evict so more bytes fit the quota: least recently used first, all or
//! nothing (nothing is deleted when even evicting everything allowed would not be enough).

use crate::core::SongRef;

/// A complete song that may be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub song: SongRef,
    pub size: u64,
    /// Last-use sequence number (lower = longer ago).
    pub seq: u64,
}

/// The songs to evict, in order, so that `used + needed <= quota`; `None` when that is
/// impossible with these candidates.
pub fn victims(
    used: u64,
    quota: u64,
    needed: u64,
    mut candidates: Vec<Candidate>,
) -> Option<Vec<SongRef>> {
    let total = used.saturating_add(needed);
    if total <= quota {
        return Some(Vec::new());
    }
    if needed > quota {
        return None;
    }
    let mut excess = total - quota;
    // The song hash breaks ties so the order does not depend on map iteration.
    candidates.sort_by_key(|c| (c.seq, c.song));
    let mut out = Vec::new();
    for c in candidates {
        if excess == 0 {
            break;
        }
        out.push(c.song);
        excess = excess.saturating_sub(c.size);
    }
    (excess == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u8, size: u64, seq: u64) -> Candidate {
        Candidate {
            song: SongRef([n; 32]),
            size,
            seq,
        }
    }

    #[test]
    fn least_recently_used_go_first_and_only_as_many_as_needed() {
        let cands = vec![c(1, 10, 5), c(2, 10, 1), c(3, 10, 3)];
        assert_eq!(victims(30, 40, 10, cands.clone()), Some(vec![]));
        assert_eq!(
            victims(30, 40, 15, cands.clone()),
            Some(vec![SongRef([2; 32])])
        );
        assert_eq!(
            victims(30, 40, 25, cands.clone()),
            Some(vec![SongRef([2; 32]), SongRef([3; 32])])
        );
        assert_eq!(victims(30, 40, 41, cands), None, "more than the quota");
    }

    #[test]
    fn impossible_without_enough_candidates() {
        // 30 used, only 10 evictable: 25 more cannot fit a quota of 40.
        assert_eq!(victims(30, 40, 25, vec![c(1, 10, 0)]), None);
        assert_eq!(victims(u64::MAX, 40, u64::MAX, vec![]), None);
    }
}
