//! The whole configuration of one box: reading and parsing the file, and the core's view
//! of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::tables::{AudioTable, DiscoveryConfig, PartyTable, SongsTable};
use super::validate;
use crate::core::{NodeConfig, NodeId, PartyConfig};
use crate::proto::MAX_NAME_LEN;

/// Where a box looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/chorus/chorus.toml";

/// The whole configuration of one box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name shown to other boxes; defaults to the host name.
    pub name: Option<String>,
    /// The party key: only boxes with the same key see, join and talk to each other, and
    /// everything between them is encrypted. 64 hex digits or a passphrase of 12 to 128
    /// bytes; unset: the box is open.
    pub party_key: Option<crate::party_key::PartySecret>,
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
            party_key: None,
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
        crate::hal::pins::validate(&self.buttons, &self.display)?;
        validate::name(self.name.as_deref())?;
        validate::party_key(self.party_key.as_ref())?;
        validate::discovery(&self.discovery)?;
        validate::audio(&self.audio)?;
        validate::party(&self.party)?;
        validate::songs(&self.songs)
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
