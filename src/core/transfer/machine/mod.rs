//! [`Transfer`]: the sans-IO machine that decides everything about moving songs between
//! the boxes of a party: whom to connect to and whom to admit, which manifest to trust,
//! what to fetch (through the [`Swarm`] planner), what to serve and what to refuse, when
//! a failed song is retried, and which songs this box holds.
//!
//! It owns no socket, file or clock. The runtime (and the simulator) feed it the party's
//! [`TransferView`], connection events, every [`Bulk`] message, disk results and `now`,
//! execute the [`TransferAction`]s drained with [`Transfer::poll_action`], and call
//! [`Transfer::handle_timeout`] at [`Transfer::poll_timeout`].
//!
//! - `conns`: connections, hellos, admission and dialing.
//! - `exchange`: messages from peers, the manifest trust rule, serving and refusals.
//! - `seeding`: the origin's first-copy rule (super-seeding).
//! - `disk`: what the disk executor reports back, failures and backoff.
//! - `report`: rates and per-song progress for the status.

mod conns;
mod disk;
mod exchange;
mod report;
mod seeding;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{ChunkSet, Manifest, Swarm, SwarmConfig, SwarmCounters, VerifiedChunk};
use crate::core::{Instant, NodeId, SongRef, TransferView};
use crate::proto::Bulk;
use conns::Conns;
pub use disk::{DiskFailure, DiskFailureKind};
use report::Rates;
pub use report::{SongReport, SongState};
use seeding::Seeding;

/// Connection number, so a late message of a replaced connection is told apart.
pub type ConnId = u64;

/// Housekeeping period: redials, manifest requests, re-announcements.
pub const TICK: Duration = Duration::from_millis(200);
/// A manifest request unanswered this long is sent again.
pub const RETRY: Duration = Duration::from_secs(2);
/// A box is redialed this soon: when a whole party joins at once, a box often hears of a
/// peer before that peer heard of it, and is turned away once.
pub const REDIAL: Duration = Duration::from_millis(250);
/// Chunks kept in memory after they arrived, to serve peers without reading them back
/// (and before they are written): at least as many as may wait for the disk.
pub const RECENT_CHUNKS: usize = 64;
/// Verified chunks waiting for the disk; no new requests go out beyond this, so a slow
/// SD card holds the download back instead of filling memory.
pub const MAX_PENDING_WRITES: usize = 32;
/// A connection must introduce itself within this long.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Every this many ticks the origin tells refused boxes again that it holds everything.
pub const REHAVE_TICKS: u32 = 3;
/// Chunk reads in progress for one peer; further requests are refused until they finish.
pub const READS_PER_PEER: usize = 8;
/// A song that failed on this box (disk full, corrupt) is retried after this long.
pub const FAILED_BACKOFF: Duration = Duration::from_secs(30);

/// Who this box is and how it fetches.
#[derive(Debug, Clone)]
pub struct TransferConfig {
    pub me: NodeId,
    /// The planner's config; `swarm.swarming` also turns the origin's first-copy rule on.
    pub swarm: SwarmConfig,
}

/// What the machine asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferAction {
    /// Send `msg` on connection `conn` (its hello has arrived). If the connection's queue
    /// is full, report it with [`Transfer::undeliverable`].
    Send { conn: ConnId, msg: Bulk },
    /// Connect to `addr` as connection `conn` and speak first with `hello`; a failure is
    /// reported with [`Transfer::closed`].
    Dial {
        conn: ConnId,
        addr: SocketAddr,
        hello: Bulk,
    },
    /// Close connection `conn` (its events may still arrive; they are ignored).
    Close { conn: ConnId },
    /// Describe `song` of the music folder; answer with [`Transfer::manifest_built`].
    BuildManifest { song: SongRef },
    /// Start or resume a download, making room by evicting songs not in `pinned`; answer
    /// with [`Transfer::begun`].
    BeginDownload {
        manifest: Arc<Manifest>,
        pinned: Vec<SongRef>,
    },
    /// Read a chunk to serve on `conn`, from the music folder if `from_library`, else the
    /// cache; answer with [`Transfer::chunk_read`].
    ReadChunk {
        conn: ConnId,
        manifest: Arc<Manifest>,
        chunk: u32,
        from_library: bool,
    },
    /// Write a verified chunk; answer with [`Transfer::chunk_written`].
    WriteChunk {
        manifest: Arc<Manifest>,
        chunk: VerifiedChunk,
    },
    /// Record a play of a cached song (least-recently-played eviction).
    MarkPlayed { song: SongRef },
    /// The songs complete in the cache changed: the whole set, for playback and the host.
    HeldChanged(BTreeSet<SongRef>),
}

/// The songs side: what this box has, describes and fetches.
#[derive(Debug, Default)]
struct Songs {
    /// The music folder's songs (this box is their source).
    library: BTreeSet<SongRef>,
    /// Songs complete in the cache: the one copy of the held set.
    held: BTreeSet<SongRef>,
    manifests: BTreeMap<SongRef, Arc<Manifest>>,
    /// Manifests being built from local files, downloads being started.
    pending: BTreeSet<SongRef>,
    /// Manifests asked of the origin, and when.
    asked: BTreeMap<SongRef, Instant>,
    /// Downloads started (the swarm knows what we hold of them).
    begun: BTreeSet<SongRef>,
    /// Songs that failed here, when and why (retried after [`FAILED_BACKOFF`]).
    failed: BTreeMap<SongRef, (Instant, String)>,
    /// What the planner was last told to fetch, and from whom.
    wanted: Vec<(SongRef, NodeId)>,
}

/// Chunks on their way in: memory and disk bounds, and what the status shows.
#[derive(Debug, Default)]
struct Intake {
    /// Chunk writes handed to the disk and not done yet.
    pending_writes: usize,
    /// The last chunks that arrived, served from memory.
    recent: VecDeque<(SongRef, u32, Bytes)>,
    rates: Rates,
    /// Bytes of each song received over the network since this box started.
    received: BTreeMap<SongRef, u64>,
    /// Chunks that failed verification.
    corrupt: u64,
    /// The last disk-full or quota error, until a download starts again.
    storage_error: Option<String>,
}

/// The song transfer of one box. See the module docs.
#[derive(Debug)]
pub struct Transfer {
    config: TransferConfig,
    swarm: Swarm,
    view: Option<TransferView>,
    songs: Songs,
    conns: Conns,
    seeding: Seeding,
    intake: Intake,
    next_tick: Instant,
    /// Ticks since the machine started.
    ticks: u32,
    actions: VecDeque<TransferAction>,
}

impl Transfer {
    /// A machine for a box whose cache holds `held`; the first action reports that set.
    pub fn new(config: TransferConfig, now: Instant, held: BTreeSet<SongRef>) -> Self {
        let swarm = Swarm::new(config.swarm.clone());
        let mut t = Transfer {
            config,
            swarm,
            view: None,
            songs: Songs {
                held,
                ..Songs::default()
            },
            conns: Conns::default(),
            seeding: Seeding::default(),
            intake: Intake::default(),
            next_tick: now + TICK,
            ticks: 0,
            actions: VecDeque::new(),
        };
        t.held_changed();
        t
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<TransferAction> {
        self.actions.pop_front()
    }

    /// When [`Transfer::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.swarm
            .poll_timeout()
            .map_or(self.next_tick, |t| t.min(self.next_tick))
    }

    /// Expires requests and runs the periodic housekeeping when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.swarm.poll_timeout().is_some_and(|t| t <= now) {
            self.swarm.handle_timeout(now);
        }
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.tick(now);
        }
        self.pump(now);
    }

    /// The party, its boxes and the songs to hold changed (`None`: no party).
    pub fn set_view(&mut self, now: Instant, view: Option<TransferView>) {
        if view.as_ref().map(|v| v.party) != self.view.as_ref().map(|v| v.party) {
            self.leave_party();
        }
        self.view = view;
        self.admit_waiting(now);
        self.refresh(now);
        self.pump(now);
    }

    /// The music folder was scanned: these songs can be described and served.
    pub fn set_library(&mut self, now: Instant, songs: BTreeSet<SongRef>) {
        self.songs.library = songs;
        self.refresh(now);
        self.pump(now);
    }

    /// A song started playing.
    pub fn played(&mut self, song: SongRef) {
        if self.songs.held.contains(&song) {
            self.push(TransferAction::MarkPlayed { song });
        }
    }

    /// The songs complete in the cache (the one held set).
    pub fn held(&self) -> &BTreeSet<SongRef> {
        &self.songs.held
    }

    /// What this box holds of `song`, chunk by chunk.
    pub fn local(&self, song: &SongRef) -> Option<&ChunkSet> {
        self.swarm.local(song)
    }

    /// The planner's totals.
    pub fn counters(&self) -> SwarmCounters {
        self.swarm.counters()
    }

    fn push(&mut self, action: TransferAction) {
        self.actions.push_back(action);
    }

    fn held_changed(&mut self) {
        let held = self.songs.held.clone();
        self.push(TransferAction::HeldChanged(held));
    }

    /// Drops every connection and download plan (the party ended or changed).
    fn leave_party(&mut self) {
        for peer in self.conns.peers().collect::<Vec<_>>() {
            self.swarm.peer_gone(peer);
        }
        for conn in self.conns.clear() {
            self.push(TransferAction::Close { conn });
        }
        self.songs.asked.clear();
        self.swarm.set_wanted(Vec::new());
        self.songs.wanted.clear();
        // Manifests come from the origin of each party's songs: start afresh, so memory
        // stays bounded over many parties.
        for song in std::mem::take(&mut self.songs.manifests).into_keys() {
            self.swarm.forget(&song);
        }
        self.songs.begun.clear();
        self.songs.failed.clear();
        self.seeding = Seeding::default();
        self.intake.recent.clear();
    }

    /// The songs to hold, each with the box it comes from.
    fn window(&self) -> Vec<(SongRef, NodeId)> {
        self.view
            .as_ref()
            .map(|v| v.window.clone())
            .unwrap_or_default()
    }

    fn origin_of(&self, song: &SongRef) -> Option<NodeId> {
        let view = self.view.as_ref()?;
        view.window.iter().find(|(s, _)| s == song).map(|(_, o)| *o)
    }

    /// Whether the whole song is here (music folder or cache).
    fn holds_whole(&self, song: &SongRef) -> bool {
        self.songs.library.contains(song) || self.songs.held.contains(song)
    }

    /// Brings plans in line with the view: manifests, downloads, wanted songs, dials.
    fn refresh(&mut self, now: Instant) {
        let window = self.window();
        let pinned: Vec<SongRef> = window.iter().map(|(s, _)| *s).collect();
        for &(song, origin) in &window {
            if !self.songs.pending.contains(&song) {
                self.plan_song(now, song, origin, &pinned);
            }
        }
        // The planner is told only when the list changes: refresh runs on every tick, and
        // each manifest carries its whole chunk list.
        let wanted: Vec<(SongRef, NodeId)> = window
            .iter()
            .filter(|(s, _)| self.songs.begun.contains(s) || self.holds_whole(s))
            .filter(|(s, _)| self.songs.manifests.contains_key(s))
            .copied()
            .collect();
        if wanted != self.songs.wanted {
            let manifests = wanted
                .iter()
                .filter_map(|(s, o)| self.songs.manifests.get(s).map(|m| ((**m).clone(), *o)))
                .collect();
            self.swarm.set_wanted(manifests);
            self.songs.wanted = wanted;
        }
        self.intake.rates.retain(|s| pinned.contains(s));
        self.dial_missing(now);
    }

    /// The next step for one song of the window: a manifest, or a download.
    fn plan_song(&mut self, now: Instant, song: SongRef, origin: NodeId, pinned: &[SongRef]) {
        match self.songs.manifests.get(&song).cloned() {
            None if self.songs.library.contains(&song) => {
                self.songs.pending.insert(song);
                self.push(TransferAction::BuildManifest { song });
            }
            // Not in our music folder (missing, or only in the cache): the manifest comes
            // from the origin. A cached song plays meanwhile, served to nobody.
            None => self.ask_manifest(now, song, origin),
            Some(m) if !self.holds_whole(&song) && !self.songs.begun.contains(&song) => {
                let failed = self
                    .songs
                    .failed
                    .get(&song)
                    .is_some_and(|(at, _)| now - *at < FAILED_BACKOFF);
                if !failed {
                    self.songs.pending.insert(song);
                    let pinned = pinned.to_vec();
                    self.push(TransferAction::BeginDownload {
                        manifest: m,
                        pinned,
                    });
                }
            }
            Some(_) => {}
        }
    }

    fn ask_manifest(&mut self, now: Instant, song: SongRef, origin: NodeId) {
        if self
            .songs
            .asked
            .get(&song)
            .is_some_and(|t| now - *t < RETRY)
        {
            return;
        }
        if let Some(conn) = self.conns.conn_of(origin) {
            self.songs.asked.insert(song, now);
            let msg = Bulk::WantManifest { song };
            self.push(TransferAction::Send { conn, msg });
        }
    }

    fn tick(&mut self, now: Instant) {
        self.songs
            .failed
            .retain(|_, (at, _)| now - *at < FAILED_BACKOFF);
        // A connection that never said hello is closed, so it cannot hold a slot.
        for conn in self.conns.expire_silent(now, HELLO_TIMEOUT) {
            self.push(TransferAction::Close { conn });
        }
        // Refused boxes get a while to find the copies before the origin is theirs again.
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % REHAVE_TICKS == 0 {
            for (peer, song) in self.seeding.take_refused() {
                if let Some(have) = self.have_message(&song) {
                    self.send_to(peer, have);
                }
            }
        }
        self.refresh(now);
    }

    /// Sends the requests the planner wants sent now, unless the disk is behind.
    fn pump(&mut self, now: Instant) {
        if self.intake.pending_writes >= MAX_PENDING_WRITES {
            return;
        }
        for f in self.swarm.poll_fetch(now) {
            let msg = Bulk::Request {
                song: f.song,
                chunk: f.chunk,
            };
            match self.conns.conn_of(f.peer) {
                Some(conn) => self.push(TransferAction::Send { conn, msg }),
                None => self.swarm.chunk_refused(f.peer, f.song, f.chunk),
            }
        }
    }

    /// What this box holds of `song`, as a message (nothing if it holds nothing).
    fn have_message(&self, song: &SongRef) -> Option<Bulk> {
        let have = self.swarm.local(song)?;
        (have.count() > 0).then(|| Bulk::Have {
            song: *song,
            chunks: have.len(),
            bits: have.bits().to_vec(),
        })
    }

    fn send_to(&mut self, peer: NodeId, msg: Bulk) {
        if let Some(conn) = self.conns.conn_of(peer) {
            self.push(TransferAction::Send { conn, msg });
        }
    }

    fn broadcast(&mut self, msg: &Bulk) {
        let conns: Vec<ConnId> = self.conns.peer_conns().collect();
        for conn in conns {
            let msg = msg.clone();
            self.push(TransferAction::Send { conn, msg });
        }
    }
}
