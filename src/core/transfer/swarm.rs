//! [`Swarm`]: the sans-IO planner that decides which missing chunk of which wanted song
//! to request from which connected peer, and what to do when answers arrive, fail
//! verification or never come.
//!
//! It owns no socket, file or clock: the runtime feeds it peers, bitfields, arrivals and
//! `now`, sends the [`Fetch`]es it returns, and calls [`Swarm::handle_timeout`] at
//! [`Swarm::poll_timeout`]. Every table is bounded by the wanted songs' chunk counts, the
//! connected peers and the in-flight limit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::fetch::{Arrival, Fetch, Progress, SwarmConfig, SwarmCounters};
use super::picker;
use super::{ChunkSet, Manifest, MAX_CHUNKS};
use crate::core::{Instant, NodeId, SongRef};

/// Most songs fetched at once; later ones in [`Swarm::set_wanted`] are ignored.
pub const MAX_WANTED: usize = 64;
/// Corrupt chunks after which a peer is never asked again.
pub const MAX_STRIKES: u32 = 3;
/// Timeouts in a row after which a peer gets one request at a time until it answers.
const FLAKY_AFTER: u32 = 2;
/// Bitfields kept per peer for songs not (yet) wanted: a peer's `Have` may arrive just
/// before this box learns the pool, and peers do not repeat it.
const MAX_EARLY_HAVES: usize = 16;
/// Expired or superseded requests whose late answer is still accepted.
const MAX_LATE: usize = 64;
/// Peers whose strikes are remembered across reconnections.
const MAX_STRIKE_RECORDS: usize = 1024;

/// A song being fetched (the manifest's hashes stay with the runtime, which verifies).
#[derive(Debug, Clone)]
struct Wanted {
    song: SongRef,
    size: u64,
    chunk_size: u32,
    count: u32,
    origin: NodeId,
}

#[derive(Debug, Default)]
struct Peer {
    haves: BTreeMap<SongRef, ChunkSet>,
    early: VecDeque<(SongRef, ChunkSet)>,
    timeouts_in_a_row: u32,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    peer: NodeId,
    song: SongRef,
    chunk: u32,
    deadline: Instant,
}

/// The transfer planner of one box. See the module docs.
#[derive(Debug)]
pub struct Swarm {
    config: SwarmConfig,
    wanted: Vec<Wanted>,
    local: BTreeMap<SongRef, ChunkSet>,
    peers: BTreeMap<NodeId, Peer>,
    requests: Vec<Request>,
    late: VecDeque<(NodeId, SongRef, u32)>,
    strikes: BTreeMap<NodeId, u32>,
    banned: BTreeSet<(SongRef, u32, NodeId)>,
    counters: SwarmCounters,
}

impl Swarm {
    pub fn new(config: SwarmConfig) -> Self {
        Swarm {
            config,
            wanted: Vec::new(),
            local: BTreeMap::new(),
            peers: BTreeMap::new(),
            requests: Vec::new(),
            late: VecDeque::new(),
            strikes: BTreeMap::new(),
            banned: BTreeSet::new(),
            counters: SwarmCounters::default(),
        }
    }

    /// Songs to fetch, the one to play soonest first, each with its origin (the box that
    /// announced it). Invalid manifests and songs past [`MAX_WANTED`] are skipped; songs
    /// no longer wanted lose their in-flight requests (what is held stays in
    /// [`Swarm::local`] until [`Swarm::forget`]).
    pub fn set_wanted(&mut self, songs: Vec<(Manifest, NodeId)>) {
        let mut next: Vec<Wanted> = Vec::new();
        for (m, origin) in songs {
            if next.len() >= MAX_WANTED {
                tracing::warn!(limit = MAX_WANTED, "too many wanted songs; rest ignored");
                break;
            }
            // The swarm needs only sane counts; the cache checks the hashes before it
            // stores a byte of the song (`Cache::begin`).
            if let Err(e) = m.check_bounds() {
                tracing::warn!(song = ?m.song, error = %e, "invalid manifest ignored");
                continue;
            }
            if next.iter().any(|w| w.song == m.song) {
                continue;
            }
            next.push(Wanted {
                song: m.song,
                size: m.size,
                chunk_size: m.chunk_size,
                count: m.chunk_count(),
                origin,
            });
        }
        let dropped: Vec<Wanted> = self
            .wanted
            .iter()
            .filter(|old| {
                !next
                    .iter()
                    .any(|w| w.song == old.song && w.count == old.count)
            })
            .cloned()
            .collect();
        for old in &dropped {
            self.requests.retain(|r| r.song != old.song);
            self.late.retain(|&(_, s, _)| s != old.song);
            self.banned.retain(|&(s, _, _)| s != old.song);
            for peer in self.peers.values_mut() {
                if let Some(have) = peer.haves.remove(&old.song) {
                    push_early(peer, old.song, have);
                }
            }
        }
        for w in &next {
            if self.local.get(&w.song).map(ChunkSet::len) != Some(w.count) {
                self.local.insert(w.song, ChunkSet::empty(w.count));
            }
            for peer in self.peers.values_mut() {
                if let Some(pos) = peer.early.iter().position(|(s, _)| *s == w.song) {
                    if let Some((_, have)) = peer.early.remove(pos) {
                        if have.len() == w.count {
                            peer.haves.insert(w.song, have);
                        }
                    }
                }
            }
        }
        self.wanted = next;
    }

    /// What this box holds of `song` (resumed from disk, or complete from its library or
    /// cache). Ignored if its length does not match a wanted song's manifest.
    pub fn set_local(&mut self, song: SongRef, have: ChunkSet) {
        let fits = match self.wanted_song(&song) {
            Some(w) => have.len() == w.count,
            None => have.len() as usize <= MAX_CHUNKS,
        };
        if fits {
            self.local.insert(song, have);
        }
    }

    /// Whether a connected peer other than `except` says it holds `chunk` of `song` (the
    /// origin uses it to leave copies to the boxes that have them).
    pub fn held_elsewhere(&self, song: &SongRef, chunk: u32, except: NodeId) -> bool {
        self.peers
            .iter()
            .any(|(&id, p)| id != except && p.haves.get(song).is_some_and(|h| h.contains(chunk)))
    }

    /// What this box holds of `song`: for serving requests and for `Have` messages.
    pub fn local(&self, song: &SongRef) -> Option<&ChunkSet> {
        self.local.get(song)
    }

    /// Stops tracking a song that is not wanted (evicted from the cache); a wanted song
    /// is kept.
    pub fn forget(&mut self, song: &SongRef) {
        if self.wanted_song(song).is_none() {
            self.local.remove(song);
        }
    }

    pub fn peer_connected(&mut self, peer: NodeId) {
        self.peers.entry(peer).or_default();
    }

    /// The connection to `peer` is gone: its requests go back to the queue.
    pub fn peer_gone(&mut self, peer: NodeId) {
        self.peers.remove(&peer);
        self.requests.retain(|r| r.peer != peer);
        self.late.retain(|&(p, _, _)| p != peer);
    }

    /// `peer` holds `have` of `song` (it arrived over a live connection, so the peer
    /// counts as connected). Ignored if the length does not match the manifest.
    pub fn peer_have(&mut self, peer: NodeId, song: SongRef, have: ChunkSet) {
        let count = self.wanted_song(&song).map(|w| w.count);
        let p = self.peers.entry(peer).or_default();
        match count {
            Some(n) if have.len() == n => {
                p.haves.insert(song, have);
            }
            Some(n) => {
                tracing::debug!(%peer, ?song, got = have.len(), expected = n, "have of wrong length");
            }
            None if have.len() as usize <= MAX_CHUNKS => push_early(p, song, have),
            None => {}
        }
    }

    /// `peer` now holds `chunk` of `song`.
    pub fn peer_got(&mut self, peer: NodeId, song: SongRef, chunk: u32) {
        let count = self.wanted_song(&song).map(|w| w.count);
        let p = self.peers.entry(peer).or_default();
        if let Some(n) = count {
            if chunk < n {
                p.haves
                    .entry(song)
                    .or_insert_with(|| ChunkSet::empty(n))
                    .insert(chunk);
            }
        } else if let Some((_, have)) = p.early.iter_mut().find(|(s, _)| *s == song) {
            have.insert(chunk);
        }
    }

    /// A requested chunk arrived from `peer`; `valid` is the runtime's verification.
    pub fn chunk_arrived(
        &mut self,
        _now: Instant,
        peer: NodeId,
        song: SongRef,
        chunk: u32,
        valid: bool,
    ) -> Arrival {
        if !self.take_request(peer, song, chunk) {
            self.counters.unrequested += 1;
            return Arrival::Unrequested;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.timeouts_in_a_row = 0;
        }
        if !valid {
            self.strike(peer, song, chunk);
            return Arrival::Corrupt;
        }
        let Some(local) = self.local.get_mut(&song) else {
            self.counters.unrequested += 1;
            return Arrival::Unrequested;
        };
        if !local.insert(chunk) {
            self.counters.duplicates += 1;
            return Arrival::Duplicate;
        }
        let complete = local.is_complete();
        // Endgame copies of this chunk still on their way are now answers to nothing.
        let others: Vec<Request> = self
            .requests
            .iter()
            .filter(|r| r.song == song && r.chunk == chunk)
            .copied()
            .collect();
        self.requests
            .retain(|r| !(r.song == song && r.chunk == chunk));
        for r in others {
            self.remember_late(r.peer, song, chunk);
        }
        if complete {
            Arrival::Completed
        } else {
            Arrival::Stored
        }
    }

    /// `peer` does not hold the chunk after all: ask someone else.
    pub fn chunk_refused(&mut self, peer: NodeId, song: SongRef, chunk: u32) {
        if !self.take_request(peer, song, chunk) {
            return;
        }
        self.counters.refused += 1;
        if let Some(have) = self
            .peers
            .get_mut(&peer)
            .and_then(|p| p.haves.get_mut(&song))
        {
            have.remove(chunk);
        }
    }

    /// Requests to send now, within the per-peer and total limits. The first incomplete
    /// song is served first; a later song gets only the slots no earlier song can use.
    pub fn poll_fetch(&mut self, now: Instant) -> Vec<Fetch> {
        let mut out = Vec::new();
        let deadline = now + self.config.request_timeout;
        let wanted = self.wanted.clone();
        let mut first_incomplete = None;
        for w in &wanted {
            if self.requests.len() >= self.config.max_in_flight {
                return out;
            }
            let Some(local) = self.local.get(&w.song) else {
                continue;
            };
            if local.is_complete() {
                continue;
            }
            first_incomplete.get_or_insert(w);
            let holders = self.holders(w);
            let in_flight: BTreeSet<u32> = self
                .requests
                .iter()
                .filter(|r| r.song == w.song)
                .map(|r| r.chunk)
                .collect();
            let mut candidates: Vec<u32> = local
                .missing()
                .filter(|&c| holders.get(c as usize).is_some_and(|&n| n > 0))
                .filter(|c| !in_flight.contains(c))
                .collect();
            // Only as many as could be asked now are ordered; the rest only if those all
            // lack a free source.
            let free = self.config.max_in_flight - self.requests.len();
            let top = (free * 4).max(16).min(candidates.len());
            let seed = self.config.seed;
            picker::rarest_first_top(&mut candidates, top, &holders, seed, &w.song);
            if !self.ask_in_order(w, &candidates[..top], deadline, &mut out) {
                return out;
            }
            if top < candidates.len() && self.has_free_source(w) {
                picker::rarest_first(&mut candidates[top..], &holders, seed, &w.song);
                if !self.ask_in_order(w, &candidates[top..], deadline, &mut out) {
                    return out;
                }
            }
        }
        if let Some(w) = first_incomplete.filter(|_| self.config.endgame) {
            self.endgame(w, deadline, &mut out);
        }
        out
    }

    /// Asks a source for each of `chunks` in turn; false once no request slot is left.
    fn ask_in_order(
        &mut self,
        w: &Wanted,
        chunks: &[u32],
        deadline: Instant,
        out: &mut Vec<Fetch>,
    ) -> bool {
        for &chunk in chunks {
            if self.requests.len() >= self.config.max_in_flight {
                return false;
            }
            if let Some(peer) = self.choose_source(w, chunk) {
                out.push(self.send(peer, w.song, chunk, deadline));
            }
        }
        self.requests.len() < self.config.max_in_flight
    }

    /// When [`Swarm::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.requests.iter().map(|r| r.deadline).min()
    }

    /// Requests unanswered past their deadline go back to the queue; their peers get one
    /// request at a time after repeated timeouts, until they answer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (expired, live): (Vec<Request>, Vec<Request>) =
            self.requests.iter().partition(|r| r.deadline <= now);
        self.requests = live;
        // Requests sent together expire together: one round of silence counts once.
        let silent: BTreeSet<NodeId> = expired.iter().map(|r| r.peer).collect();
        for peer in silent {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.timeouts_in_a_row = p.timeouts_in_a_row.saturating_add(1);
            }
        }
        for r in expired {
            self.counters.timeouts += 1;
            self.remember_late(r.peer, r.song, r.chunk);
        }
    }

    /// Chunks and bytes held of a wanted (or locally known) song.
    pub fn progress(&self, song: &SongRef) -> Option<Progress> {
        let local = self.local.get(song)?;
        let w = self.wanted_song(song)?;
        let chunk_len = |i: u32| {
            let start = (u64::from(i) * u64::from(w.chunk_size)).min(w.size);
            (start + u64::from(w.chunk_size)).min(w.size) - start
        };
        Some(Progress {
            chunks_held: local.count(),
            chunks_total: w.count,
            bytes_held: local.iter().map(chunk_len).sum(),
            bytes_total: w.size,
        })
    }

    pub fn counters(&self) -> SwarmCounters {
        self.counters
    }

    /// Requests currently in flight.
    pub fn in_flight_count(&self) -> usize {
        self.requests.len()
    }

    fn wanted_song(&self, song: &SongRef) -> Option<&Wanted> {
        self.wanted.iter().find(|w| w.song == *song)
    }

    fn in_flight(&self, song: SongRef, chunk: u32) -> bool {
        self.requests
            .iter()
            .any(|r| r.song == song && r.chunk == chunk)
    }

    fn struck_out(&self, peer: NodeId) -> bool {
        self.strikes.get(&peer).is_some_and(|&s| s >= MAX_STRIKES)
    }

    fn send(&mut self, peer: NodeId, song: SongRef, chunk: u32, deadline: Instant) -> Fetch {
        self.requests.push(Request {
            peer,
            song,
            chunk,
            deadline,
        });
        self.counters.requests += 1;
        Fetch { peer, song, chunk }
    }

    /// Removes the request (live or late) this answer belongs to; false if none.
    fn take_request(&mut self, peer: NodeId, song: SongRef, chunk: u32) -> bool {
        let matches = |r: &Request| r.peer == peer && r.song == song && r.chunk == chunk;
        if let Some(pos) = self.requests.iter().position(matches) {
            self.requests.swap_remove(pos);
            return true;
        }
        if let Some(pos) = self.late.iter().position(|&l| l == (peer, song, chunk)) {
            self.late.remove(pos);
            return true;
        }
        false
    }

    fn remember_late(&mut self, peer: NodeId, song: SongRef, chunk: u32) {
        if self.late.len() >= MAX_LATE {
            self.late.pop_front();
        }
        self.late.push_back((peer, song, chunk));
    }

    /// A corrupt chunk: never ask `peer` for it again, and not at all after
    /// [`MAX_STRIKES`]; its copy is not trusted, so it no longer counts as a holder.
    fn strike(&mut self, peer: NodeId, song: SongRef, chunk: u32) {
        self.counters.corrupt += 1;
        if self.strikes.len() < MAX_STRIKE_RECORDS || self.strikes.contains_key(&peer) {
            let s = self.strikes.entry(peer).or_insert(0);
            *s = s.saturating_add(1);
            if *s == MAX_STRIKES {
                tracing::warn!(%peer, "peer sent {MAX_STRIKES} corrupt chunks; not asked again");
            }
        }
        self.banned.insert((song, chunk, peer));
        if let Some(have) = self
            .peers
            .get_mut(&peer)
            .and_then(|p| p.haves.get_mut(&song))
        {
            have.remove(chunk);
        }
    }
}

fn push_early(peer: &mut Peer, song: SongRef, have: ChunkSet) {
    peer.early.retain(|(s, _)| *s != song);
    if peer.early.len() >= MAX_EARLY_HAVES {
        peer.early.pop_front();
    }
    peer.early.push_back((song, have));
}

#[path = "swarm_select.rs"]
mod select;

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;
