//! The origin's first-copy rule (the idea of BitTorrent's super-seeding): the origin of a
//! song sends each chunk once before it sends any twice, and never a chunk another box
//! already has, while other boxes can pass copies on: its uplink is the bottleneck of the
//! whole party.

use std::collections::{BTreeMap, BTreeSet};

use super::Transfer;
use crate::core::{NodeId, SongRef};

/// Refusals remembered at once (bounded memory; past it the origin just serves).
pub(super) const MAX_REFUSALS: usize = 65_536;

/// What the origin sent and refused.
#[derive(Debug, Default)]
pub(super) struct Seeding {
    /// Per song this box is the origin of: how often each chunk went out.
    sent: BTreeMap<SongRef, Vec<u16>>,
    /// Peers refused a chunk: told again what we hold at the next re-announcement, so they
    /// may ask us once the copies are out.
    refused: BTreeSet<(NodeId, SongRef)>,
    /// Chunks refused, by peer: a second request for one is served, so a wrong guess
    /// about where copies are costs one round trip, never a stall.
    refused_chunks: BTreeSet<(NodeId, SongRef, u32)>,
}

impl Seeding {
    /// The peers refused since the last call, to tell again what we hold.
    pub(super) fn take_refused(&mut self) -> BTreeSet<(NodeId, SongRef)> {
        std::mem::take(&mut self.refused)
    }

    /// Whether to refuse `chunk` of a `count`-chunk song to `peer`; counts it as sent if
    /// not. `elsewhere` says whether another connected box holds the chunk.
    fn refuses(
        &mut self,
        peer: NodeId,
        song: SongRef,
        chunk: u32,
        count: usize,
        elsewhere: impl FnOnce() -> bool,
    ) -> bool {
        let sent = self.sent.entry(song).or_insert_with(|| vec![0; count]);
        let Some(&times) = sent.get(chunk as usize) else {
            return false;
        };
        // Sent before, and either a copy is out there or fresh chunks come first.
        let key = (peer, song, chunk);
        if times > 0
            && self.refused_chunks.len() < MAX_REFUSALS
            && !self.refused_chunks.contains(&key)
            && (sent.contains(&0) || elsewhere())
        {
            self.refused_chunks.insert(key);
            self.refused.insert((peer, song));
            return true;
        }
        if let Some(n) = sent.get_mut(chunk as usize) {
            *n = n.saturating_add(1);
        }
        false
    }
}

impl Transfer {
    /// The first-copy rule applies when swarming, with two peers or more, to songs this
    /// box is the origin of.
    pub(super) fn seeding_refuses(&mut self, peer: NodeId, song: SongRef, chunk: u32) -> bool {
        if !self.config.swarm.swarming
            || self.conns.peer_count() < 2
            || self.origin_of(&song) != Some(self.config.me)
        {
            return false;
        }
        let Some(count) = self.songs.manifests.get(&song).map(|m| m.chunk_count()) else {
            return false;
        };
        let swarm = &self.swarm;
        let elsewhere = || swarm.held_elsewhere(&song, chunk, peer);
        self.seeding
            .refuses(peer, song, chunk, count as usize, elsewhere)
    }
}
