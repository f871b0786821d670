//! The sections of the configuration file, each with its defaults.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::{PartyConfig, RequestPolicy};

/// `[songs]`: fetching the party's songs and keeping them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SongsTable {
    /// TCP port for song transfers between boxes. If taken, a free one is used.
    pub bulk_port: u16,
    /// How many songs, from the current one on, every box fetches ahead.
    pub window: usize,
    /// Boxes serve the chunks they hold to each other (off: only a song's origin sends).
    pub swarm: bool,
    /// Most disk space (MiB) for songs fetched from other boxes; the least recently
    /// played are deleted first, never one the party is about to play.
    pub cache_quota_mb: u64,
    /// Chunk requests in flight at once, over all peers.
    pub max_in_flight: usize,
    /// Upload limit for songs (kbit/s) over all peers; 0: as fast as the link goes.
    pub upload_limit_kbps: u64,
    /// The order of the host's songs in the pool: "folder" (path order) or "shuffle"
    /// (a new order each time the box starts).
    pub order: SongOrder,
    /// The playlist HOST offers (a playlist file's name in the music folder, with or
    /// without its extension, any case) instead of the whole folder. One not found there
    /// is a warning at start, and HOST offers the whole folder.
    pub playlist: Option<String>,
}

/// `[songs] order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SongOrder {
    Folder,
    Shuffle,
}

impl Default for SongsTable {
    fn default() -> Self {
        SongsTable {
            bulk_port: 7703,
            window: PartyConfig::default().pool_window,
            swarm: true,
            cache_quota_mb: 4096,
            max_in_flight: 16,
            upload_limit_kbps: 0,
            order: SongOrder::Folder,
            playlist: None,
        }
    }
}

/// `[audio]`: where the sound goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioTable {
    /// `alsa:DEVICE` (e.g. `alsa:default`, `alsa:hw:0`), `wav:PATH` (a paced recording)
    /// or `null` (paced silence).
    pub output: String,
}

impl Default for AudioTable {
    fn default() -> Self {
        AudioTable {
            output: if cfg!(feature = "alsa") {
                "alsa:default".into()
            } else {
                "null".into()
            },
        }
    }
}

/// `[party]`: hosting, joining and keeping a party alive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartyTable {
    /// TCP port for control streams (join, heartbeats). If taken, a free one is used.
    pub control_port: u16,
    /// The party starts when this many guests joined...
    pub min_accepts: usize,
    /// ...or when the invite window (milliseconds) ends, whichever is first.
    pub invite_window_ms: u64,
    /// How many hops an invitation travels through the overlay.
    pub invite_ttl: u8,
    /// Join the first invitation without a button press.
    pub auto_join: bool,
    /// Heartbeats on the control stream, both ways, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// Phi-accrual suspicion above which a peer is declared dead (higher: slower, surer).
    pub phi_threshold: f64,
    /// Who may skip and queue: "anyone" or "host-only".
    pub requests: RequestPolicy,
    /// Most guests in one party.
    pub max_members: usize,
    /// The host starts the first song by itself when the party starts.
    pub autoplay: bool,
    /// How long (milliseconds) the first song waits for the boxes that joined before the
    /// start to fetch it; then it plays anyway and latecomers come in when they have it.
    pub start_wait_ms: u64,
}

impl Default for PartyTable {
    fn default() -> Self {
        let core = PartyConfig::default();
        PartyTable {
            control_port: core.control_port,
            min_accepts: core.min_accepts,
            invite_window_ms: millis(core.invite_window),
            invite_ttl: core.invite_ttl,
            auto_join: core.auto_join,
            heartbeat_interval_ms: millis(core.heartbeat_interval),
            phi_threshold: core.phi_threshold,
            requests: core.requests,
            max_members: core.max_members,
            autoplay: core.autoplay,
            start_wait_ms: millis(core.start_wait),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `[discovery]`: how boxes find each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Multicast group for beacons (IPv4, 239.0.0.0/8 is organisation-local).
    pub group: Ipv4Addr,
    /// UDP port of the multicast group, shared by all boxes.
    pub port: u16,
    /// This box's own UDP port for unicast; 0 picks a free one. If the port is taken
    /// (another box on the same machine), a free one is used and logged.
    pub unicast_port: u16,
    /// IPv4 addresses of the interfaces to beacon on; empty means the system default.
    pub interfaces: Vec<Ipv4Addr>,
    /// Mean time between beacons, in milliseconds.
    pub beacon_interval_ms: u64,
    /// A neighbour is forgotten after this many missed beacons.
    pub expiry_beacons: u32,
    /// Largest neighbour table.
    pub max_neighbours: usize,
    /// Boxes reached by unicast, for segments multicast cannot cross (`"10.1.2.3:7701"`).
    pub static_peers: Vec<SocketAddr>,
    /// Most peers learned from neighbours' beacons that we probe.
    pub max_learned_peers: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            group: Ipv4Addr::new(239, 255, 77, 77),
            port: 7700,
            unicast_port: 7701,
            interfaces: Vec::new(),
            beacon_interval_ms: 1000,
            expiry_beacons: 3,
            max_neighbours: 64,
            static_peers: Vec::new(),
            max_learned_peers: 32,
        }
    }
}
