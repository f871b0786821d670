//! The ranges the type system does not check, one section at a time; each error names
//! the bad field.

use super::error::ConfigError;
use super::tables::{AudioTable, DiscoveryConfig, PartyTable, SongsTable};
use crate::party_key::PartySecret;
use crate::proto::{MAX_MEMBERS, MAX_NAME_LEN, MAX_POOL};

fn invalid(field: &'static str, reason: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        field,
        reason: reason.to_owned(),
    })
}

/// The box's name, if one is set.
pub(super) fn name(name: Option<&str>) -> Result<(), ConfigError> {
    if let Some(name) = name {
        if name.trim().is_empty() || name.len() > MAX_NAME_LEN {
            return invalid("name", &format!("must be 1 to {MAX_NAME_LEN} bytes"));
        }
    }
    Ok(())
}

/// The party key, if one is set (its form only: deriving it is the runtime's).
pub(super) fn party_key(key: Option<&PartySecret>) -> Result<(), ConfigError> {
    match key.map(|k| crate::party_key::check(k.expose())) {
        Some(Err(e)) => invalid("party_key", &e.to_string()),
        _ => Ok(()),
    }
}

/// `[discovery]`.
pub(super) fn discovery(d: &DiscoveryConfig) -> Result<(), ConfigError> {
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
    Ok(())
}

/// `[audio]`.
pub(super) fn audio(audio: &AudioTable) -> Result<(), ConfigError> {
    match audio.output.parse::<crate::audio::SinkSpec>() {
        Ok(_) => Ok(()),
        Err(e) => invalid("audio.output", &e.to_string()),
    }
}

/// `[party]`.
pub(super) fn party(p: &PartyTable) -> Result<(), ConfigError> {
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
    Ok(())
}

/// `[songs]`.
pub(super) fn songs(songs: &SongsTable) -> Result<(), ConfigError> {
    if !(1..=MAX_POOL).contains(&songs.window) {
        return invalid("songs.window", &format!("must be 1 to {MAX_POOL}"));
    }
    if songs.cache_quota_mb < 16 {
        return invalid("songs.cache_quota_mb", "must be at least 16");
    }
    if songs
        .playlist
        .as_ref()
        .is_some_and(|p| p.trim().is_empty() || p.len() > 255)
    {
        return invalid(
            "songs.playlist",
            "must be a playlist's name, 1 to 255 bytes",
        );
    }
    if !(1..=256).contains(&songs.max_in_flight) {
        return invalid("songs.max_in_flight", "must be 1 to 256");
    }
    Ok(())
}
