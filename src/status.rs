//! The status snapshot `chorus ctl status` prints: a stable JSON contract (see README).

use serde::{Deserialize, Serialize};

use crate::core::{Counters, Instant, Node, PartyRole, PartyState, Via};

/// What a box publishes for its readers (`ctl status`, the screens): the status and
/// what only readers on the box itself need.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub status: Status,
    /// Where the current song's file is on this box (for its cover art).
    pub song_path: Option<std::path::PathBuf>,
}

/// The whole status of one box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Box id, 16 hex digits.
    pub id: String,
    pub name: String,
    /// The unicast address the box listens on.
    pub addr: String,
    /// The TCP port for song transfers (0: none).
    #[serde(default)]
    pub bulk_port: u16,
    pub neighbours: Vec<NeighbourStatus>,
    /// The party this box belongs to; `null` outside a party.
    pub party: Option<PartyStatus>,
    /// Parties this box is invited to, newest first.
    pub invitations: Vec<InvitationStatus>,
    /// What this box plays; `null` outside a party with nothing playing.
    #[serde(default)]
    pub playback: Option<PlaybackStatus>,
    /// Songs of the party this box is fetching or has fetched, current song first.
    #[serde(default)]
    pub transfers: Vec<TransferStatus>,
    /// The song cache; `null` until it opened.
    #[serde(default)]
    pub storage: Option<StorageStatus>,
    pub counters: Counters,
    /// Authenticated TCP sessions (control and song transfer) and the ones refused.
    #[serde(default)]
    pub sessions: SessionCounters,
    /// Whether this box has a party key: it sees and joins only boxes with the same key,
    /// and everything between them is encrypted (the key itself is never shown).
    #[serde(default)]
    pub keyed: bool,
    /// This box's own volume (only this box), 0 to 100; kept across restarts.
    #[serde(default)]
    pub box_volume: u8,
    /// Problems that keep this box from doing its job, most important first.
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// The playlist the party's songs come from; `null` outside a party or when the
    /// host offers its whole music folder.
    #[serde(default)]
    pub playlist: Option<PlaylistStatus>,
}

/// The `playlist` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaylistStatus {
    /// Its file name without the extension, as the host named it.
    pub name: String,
    /// Its entries that do not play, and why (on the host only; empty on members).
    #[serde(default)]
    pub skipped: Vec<crate::library::playlist::Skipped>,
}

/// What the box's TCP sessions proved and refused since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounters {
    /// Handshakes that proved the peer's id.
    pub handshakes: u64,
    /// Handshakes that failed (not a chorus box, a bad proof, a timeout): closed.
    pub handshake_failed: u64,
    /// Sessions whose peer claimed an id other than the one it proved: closed.
    pub wrong_id: u64,
    /// Times another box was seen using this box's own id (a cloned card).
    pub clones_seen: u64,
    /// Connections closed before their handshake because their address opened them
    /// faster than its rate limit allows.
    #[serde(default)]
    pub refused_rate: u64,
    /// Connections closed before their handshake because too many handshakes (or
    /// connections of their kind) were already under way.
    #[serde(default)]
    pub refused_busy: u64,
}

/// A problem that keeps the box from playing, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// One line: what is wrong ("No audio device").
    pub message: String,
    /// One line: what to do ("Check the DAC overlay in config.txt").
    pub hint: String,
}

/// What kind of problem an [`Alert`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The audio output did not open: the box plays silently.
    NoAudio,
    /// The song cache cannot store more: songs the box lacks stay silent.
    DiskFull,
    /// A song could not be decoded and was skipped.
    CorruptSong,
    /// No network interface or multicast blocked: the box sees no one.
    NoNetwork,
    /// chorus.txt on the boot partition was not applied: the box runs on its previous
    /// settings until the file is fixed (the hint names the line).
    BadSettings,
}

/// One song of the party's window as this box fetches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferStatus {
    /// Content hash.
    pub song: String,
    pub title: String,
    /// Bytes held and the song's size (0 until the manifest arrived).
    pub bytes: u64,
    pub size: u64,
    /// Bytes per second over the last few seconds.
    pub rate_bps: u64,
    /// Bytes received over the network since the box started (less than `size` when a
    /// download resumed, 0 for a song from the music folder).
    #[serde(default)]
    pub received_bytes: u64,
    /// Time left at that rate; `null` when complete or stalled.
    pub eta_ms: Option<u64>,
    /// "manifest" (asking for it), "fetching", "complete", or "failed" (see `error`).
    pub state: String,
    /// Boxes connected for transfers that hold at least part of it.
    pub sources: usize,
    pub error: Option<String>,
}

/// The song cache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageStatus {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    /// Fetched songs kept.
    pub songs: usize,
    /// A storage problem (disk full, quota too small); the party plays what is there.
    pub error: Option<String>,
    /// Chunks that failed verification and were fetched again from another box.
    pub corrupt_chunks: u64,
}

/// The `playback` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaybackStatus {
    /// Content hash of the current song.
    pub song: Option<String>,
    /// "playing", "paused", "stopped", or "unsynced" (the clock is not locked yet).
    pub state: String,
    /// Where the schedule is in the song now.
    pub position_ms: Option<u64>,
    /// This box's estimate of the party clock (members; `null` on the host).
    pub clock: Option<ClockStatus>,
    /// How far the DAC is from the schedule (positive: ahead), last measured.
    pub playout_error_us: Option<f64>,
    /// The current song is not on this box: it stays silent, in step.
    pub missing_song: bool,
    /// The last playback error (a corrupt song, a lost audio device).
    pub error: Option<String>,
    /// The party volume the host scheduled for every box, 0 to 100.
    #[serde(default)]
    pub party_volume: Option<u8>,
    /// The current song's title and artist (from its tags or file name) and length, when
    /// this box knows the song.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Hard re-positionings of the song since the box started (a steady box has none).
    #[serde(default)]
    pub reseeks: Option<u64>,
    /// Output blocks the decoder had not filled in time since the box started (a CPU
    /// too slow or too busy for the song's format; heard as short gaps).
    #[serde(default)]
    pub decoder_late: Option<u64>,
    /// Whether the playback thread runs with real-time scheduling.
    #[serde(default)]
    pub realtime: Option<bool>,
    /// How far the output device's timing readings scatter around its filtered
    /// position, RMS in microseconds.
    #[serde(default)]
    pub position_jitter_us: Option<f64>,
    /// The output device's rate against nominal, measured on this box's clock, ppm.
    #[serde(default)]
    pub device_rate_ppm: Option<f64>,
}

/// Party clock = offset + rate × local clock, as estimated by a member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClockStatus {
    pub offset_us: f64,
    pub rate_ppm: f64,
    pub error_us: f64,
}

/// One neighbour as `chorus ctl status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighbourStatus {
    pub id: String,
    pub name: String,
    pub addr: String,
    /// Milliseconds since its last beacon.
    pub age_ms: u64,
    pub via: Via,
}

/// Our party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyStatus {
    pub id: String,
    /// Raised by each host failover; messages of older terms are ignored.
    pub term: u64,
    /// Id of the host.
    pub host: String,
    pub role: PartyRole,
    /// "joining", "forming", "started" or "failover".
    pub state: PartyState,
    /// Everyone in the party, host first.
    pub members: Vec<MemberStatus>,
    /// Titles of offered songs still to come (host only; empty on members).
    pub queue: Vec<String>,
    /// The host holds the first song back until the boxes that joined before the start
    /// have fetched it (at most `start_wait_ms`).
    #[serde(default)]
    pub waiting_for_songs: bool,
    /// Milliseconds until a forming party starts by itself (host only; `null` once it
    /// started).
    #[serde(default)]
    pub starts_in_ms: Option<u64>,
}

/// One box of our party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: String,
    pub name: String,
    /// Its TCP control address (`0.0.0.0:port` for ourselves as host).
    pub addr: String,
}

/// A party we could join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationStatus {
    pub party: String,
    pub host: String,
    pub host_name: String,
    /// The host's TCP control address.
    pub addr: String,
    /// Boxes the invitation passed through to reach us (0: from the host itself).
    pub hops: u8,
    pub started: bool,
    /// Guests already in it.
    pub members: u8,
    /// Milliseconds since we first heard of it.
    pub age_ms: u64,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Status {
    /// Snapshot of `node` at `now`; `addr` is where its unicast socket is bound.
    pub fn of(node: &Node, now: Instant, addr: String) -> Self {
        Status {
            id: node.id().to_string(),
            name: node.name().to_owned(),
            addr,
            bulk_port: node.config().party.bulk_port,
            neighbours: node
                .neighbours()
                .map(|n| NeighbourStatus {
                    id: n.id.to_string(),
                    name: n.name.clone(),
                    addr: n.addr.to_string(),
                    age_ms: millis(now - n.last_seen),
                    via: node.via(n, now),
                })
                .collect(),
            party: node.party().map(|p| PartyStatus {
                id: p.id.to_string(),
                term: p.term,
                host: p.host.to_string(),
                role: p.role,
                state: p.state,
                members: p
                    .members
                    .iter()
                    .map(|m| MemberStatus {
                        id: m.id.to_string(),
                        name: m.name.clone(),
                        addr: m.addr.to_string(),
                    })
                    .collect(),
                queue: p.queue,
                starts_in_ms: p.starts_by.map(|t| millis(t - now)),
                waiting_for_songs: node
                    .transfer_view(now)
                    .is_some_and(|t| t.waiting_for_first_song),
            }),
            invitations: node
                .invitations()
                .into_iter()
                .map(|i| InvitationStatus {
                    party: i.party.to_string(),
                    host: i.host.to_string(),
                    host_name: i.host_name.clone(),
                    addr: i.host_addr.to_string(),
                    hops: i.hops,
                    started: i.started,
                    members: i.members,
                    age_ms: millis(now - i.first_seen),
                })
                .collect(),
            playback: None,
            transfers: Vec::new(),
            storage: None,
            counters: node.counters(),
            sessions: SessionCounters::default(),
            keyed: false,
            box_volume: 100,
            alerts: Vec::new(),
            playlist: node.playlist().map(|name| PlaylistStatus {
                name: name.to_owned(),
                skipped: Vec::new(),
            }),
        }
    }
}

/// One song of a box's music folder, as `chorus ctl library` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SongStatus {
    /// BLAKE3 of the file, 64 hex digits: the song's identity between boxes.
    pub id: String,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_ms: Option<u64>,
    pub path: String,
}

impl From<&crate::library::Song> for SongStatus {
    fn from(s: &crate::library::Song) -> Self {
        SongStatus {
            id: s.id.to_string(),
            title: s.title.clone(),
            artist: s.artist.clone(),
            album: s.album.clone(),
            duration_ms: s.duration_ms,
            path: s.path.display().to_string(),
        }
    }
}
