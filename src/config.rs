//! The TOML configuration: every field has a default, and validation names the bad field.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::{NodeConfig, NodeId, PartyConfig, RequestPolicy};
use crate::proto::{MAX_MEMBERS, MAX_NAME_LEN};

/// Where a box looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/chorus/chorus.toml";

/// Why the configuration cannot be used. The CLI exits with status 2 for all of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named with `--config` is missing or unreadable: fix the path or permissions.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a field of the wrong type or name; the message
    /// from the parser names the field and line.
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A `[buttons]` or `[display]` value cannot work (the message names it).
    #[error(transparent)]
    Face(#[from] crate::hal::pins::InvalidTable),
    /// A field parsed but its value is out of range.
    #[error("invalid config: `{field}` {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The whole configuration of one box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name shown to other boxes; defaults to the host name.
    pub name: Option<String>,
    /// Where the box keeps its id, control socket and song cache.
    pub state_dir: PathBuf,
    /// The user's music; chorus only reads it.
    pub music_dir: PathBuf,
    pub discovery: DiscoveryConfig,
    pub party: PartyTable,
    pub audio: AudioTable,
    pub songs: SongsTable,
    /// The box's buttons and screen: "auto" (the Pi's when built with `rpi`), "rpi",
    /// "mock" (a terminal) or "none".
    pub hal: crate::hal::HalChoice,
    pub buttons: crate::hal::pins::ButtonsTable,
    pub display: crate::hal::pins::DisplayTable,
}

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

impl Default for Config {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let state_dir = std::env::var_os("STATE_DIRECTORY")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("chorus")))
            .or_else(|| home.as_ref().map(|h| h.join(".local/state/chorus")))
            .unwrap_or_else(|| PathBuf::from("/var/lib/chorus"));
        let music_dir = home
            .map(|h| h.join("Music"))
            .unwrap_or_else(|| PathBuf::from("/var/lib/chorus/music"));
        Config {
            name: None,
            state_dir,
            music_dir,
            discovery: DiscoveryConfig::default(),
            party: PartyTable::default(),
            hal: Default::default(),
            buttons: Default::default(),
            display: Default::default(),
            audio: AudioTable::default(),
            songs: SongsTable::default(),
        }
    }
}

impl Config {
    /// Reads `path`, or [`DEFAULT_CONFIG_PATH`] if it exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses and validates TOML text; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges the type system does not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        crate::hal::pins::validate(&self.buttons, &self.display)?;
        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.len() > MAX_NAME_LEN {
                return invalid("name", &format!("must be 1 to {MAX_NAME_LEN} bytes"));
            }
        }
        let d = &self.discovery;
        if !d.group.is_multicast() {
            return invalid(
                "discovery.group",
                "must be an IPv4 multicast address (224.0.0.0/4)",
            );
        }
        if d.port == 0 {
            return invalid("discovery.port", "must not be 0");
        }
        if !(100..=60_000).contains(&d.beacon_interval_ms) {
            return invalid("discovery.beacon_interval_ms", "must be 100 to 60000");
        }
        if !(2..=20).contains(&d.expiry_beacons) {
            return invalid("discovery.expiry_beacons", "must be 2 to 20");
        }
        if !(1..=1024).contains(&d.max_neighbours) {
            return invalid("discovery.max_neighbours", "must be 1 to 1024");
        }
        if d.max_learned_peers > 1024 {
            return invalid("discovery.max_learned_peers", "must be at most 1024");
        }
        if d.static_peers.len() > 256 {
            return invalid("discovery.static_peers", "must list at most 256 peers");
        }
        if let Err(e) = self.audio.output.parse::<crate::audio::SinkSpec>() {
            return invalid("audio.output", &e.to_string());
        }
        let p = &self.party;
        if !(1..=MAX_MEMBERS).contains(&p.min_accepts) {
            return invalid("party.min_accepts", &format!("must be 1 to {MAX_MEMBERS}"));
        }
        if !(1_000..=600_000).contains(&p.invite_window_ms) {
            return invalid("party.invite_window_ms", "must be 1000 to 600000");
        }
        if !(1..=16).contains(&p.invite_ttl) {
            return invalid("party.invite_ttl", "must be 1 to 16");
        }
        if !(20..=5_000).contains(&p.heartbeat_interval_ms) {
            return invalid("party.heartbeat_interval_ms", "must be 20 to 5000");
        }
        if !(1.0..=50.0).contains(&p.phi_threshold) {
            return invalid("party.phi_threshold", "must be 1 to 50");
        }
        if !(1..=MAX_MEMBERS).contains(&p.max_members) {
            return invalid("party.max_members", &format!("must be 1 to {MAX_MEMBERS}"));
        }
        if p.start_wait_ms > 3_600_000 {
            return invalid("party.start_wait_ms", "must be at most 3600000");
        }
        let songs = &self.songs;
        if !(1..=crate::proto::MAX_POOL).contains(&songs.window) {
            return invalid(
                "songs.window",
                &format!("must be 1 to {}", crate::proto::MAX_POOL),
            );
        }
        if songs.cache_quota_mb < 16 {
            return invalid("songs.cache_quota_mb", "must be at least 16");
        }
        if !(1..=256).contains(&songs.max_in_flight) {
            return invalid("songs.max_in_flight", "must be 1 to 256");
        }
        Ok(())
    }

    /// The configured name, or the host name, cut to the protocol's limit.
    pub fn effective_name(&self) -> String {
        let name = self.name.clone().unwrap_or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        });
        truncate_utf8(name.trim(), MAX_NAME_LEN).to_owned()
    }

    /// The core's view of this config for the box `id` listening on `unicast_port`.
    pub fn node_config(&self, id: NodeId, unicast_port: u16, control_port: u16) -> NodeConfig {
        let d = &self.discovery;
        let p = &self.party;
        let party = PartyConfig {
            control_port,
            min_accepts: p.min_accepts,
            invite_window: Duration::from_millis(p.invite_window_ms),
            invite_ttl: p.invite_ttl,
            auto_join: p.auto_join,
            heartbeat_interval: Duration::from_millis(p.heartbeat_interval_ms),
            phi_threshold: p.phi_threshold,
            requests: p.requests,
            max_members: p.max_members,
            autoplay: p.autoplay,
            start_wait: Duration::from_millis(p.start_wait_ms),
            pool_window: self.songs.window,
            ..PartyConfig::default()
        };
        NodeConfig {
            party,
            unicast_port,
            beacon_interval: Duration::from_millis(d.beacon_interval_ms),
            expiry_beacons: d.expiry_beacons,
            max_neighbours: d.max_neighbours,
            static_peers: d.static_peers.clone(),
            max_learned_peers: d.max_learned_peers,
            ..NodeConfig::new(id, self.effective_name())
        }
    }
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.discovery, DiscoveryConfig::default());
        assert_eq!(c.name, None);
    }

    #[test]
    fn fields_parse() {
        let c = parse(
            r#"
            name = "kitchen"
            state_dir = "/tmp/x"
            [discovery]
            port = 9000
            interfaces = ["127.0.0.1"]
            static_peers = ["10.0.0.2:7701"]
            [party]
            auto_join = true
            requests = "host-only"
            "#,
        )
        .unwrap();
        assert_eq!(c.effective_name(), "kitchen");
        assert_eq!(c.state_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.discovery.port, 9000);
        assert_eq!(c.discovery.interfaces, vec![Ipv4Addr::LOCALHOST]);
        assert_eq!(c.discovery.static_peers.len(), 1);
        assert_eq!(
            c.discovery.beacon_interval_ms, 1000,
            "unset fields keep defaults"
        );
        let node = c.node_config(NodeId(1), 7701, 7702);
        assert!(node.party.auto_join);
        assert_eq!(node.party.requests, RequestPolicy::HostOnly);
        assert_eq!(node.party.min_accepts, 3);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse("[discovery]\nport = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("port"), "{e}");
        let e = parse("[discovery]\nprot = 1\n").unwrap_err().to_string();
        assert!(e.contains("prot"), "{e}");
        let e = parse("[discovery]\ngroup = \"10.0.0.1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("discovery.group"), "{e}");
        let e = parse("[discovery]\nbeacon_interval_ms = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("discovery.beacon_interval_ms"), "{e}");
        let e = parse("[party]\nrequests = \"everyone\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("requests"), "{e}");
        let e = parse("[party]\nmin_accepts = 0\n").unwrap_err().to_string();
        assert!(e.contains("party.min_accepts"), "{e}");
        let e = parse("name = \"\"\n").unwrap_err().to_string();
        assert!(e.contains("`name`"), "{e}");
    }

    #[test]
    fn explicit_missing_file_is_an_error_default_missing_is_not() {
        assert!(matches!(
            Config::load(Some(Path::new("/nonexistent/chorus.toml"))),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn names_are_cut_on_a_char_boundary() {
        let c = Config {
            name: Some("é".repeat(20)),
            ..Config::default()
        };
        assert_eq!(c.effective_name(), "é".repeat(16));
    }
}

#[cfg(test)]
mod board_tests {
    use super::*;

    /// The commented default installed on a Pi must stay in step with this parser.
    #[test]
    fn board_default_config_parses_to_the_defaults() {
        let text = include_str!("../board/chorus.toml");
        let c = Config::parse(text, Path::new("board/chorus.toml")).unwrap();
        assert_eq!(c.discovery, DiscoveryConfig::default());
        assert_eq!(c.party, PartyTable::default());
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/chorus"));
    }
}
