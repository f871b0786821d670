//! Applying `chorus.txt`: the name and the party key into chorus.toml and the Wi-Fi into
//! wpa_supplicant's file. Everything is checked, and both new files are made, before
//! either is written.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::atomic::{self, Written};
use super::error::BootError;
use super::parse::{self, BootSettings};
use super::wifi;
use crate::config::{Config, ConfigError};
use crate::party_key::PartySecret;

/// The files the settings go into.
#[derive(Clone, Copy, Debug)]
pub struct Targets<'a> {
    /// chorus.toml: gets `name` and `party_key`.
    pub config: &'a Path,
    /// wpa_supplicant's configuration for the Wi-Fi interface: gets the network.
    pub wifi_conf: &'a Path,
}

/// What applying did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// There is no settings file: nothing to do.
    NoFile,
    /// The file was valid; each target that it sets, and whether it changed.
    Applied {
        config: Option<Written>,
        wifi: Option<Written>,
    },
}

/// Reads `from` and applies it to `targets`. On any error nothing was changed, except
/// in the rare case that writing the Wi-Fi file fails after chorus.toml was replaced
/// (each file is still whole: old or new).
pub fn apply(from: &Path, targets: Targets<'_>) -> Result<Outcome, BootError> {
    let bytes = match fs::read(from) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Outcome::NoFile),
        Err(e) => return Err(BootError::io(from, e)),
    };
    let settings: BootSettings = parse::parse(&bytes)?;
    let config = match (&settings.name, &settings.party_key) {
        (None, None) => None,
        (name, key) => Some(config_with(targets.config, name.as_deref(), key.as_ref())?),
    };
    let wifi = settings.wifi.as_ref().map(wifi::render);
    let config = match config {
        Some((text, mode)) => Some(
            atomic::replace(targets.config, text.as_bytes(), mode)
                .map_err(|e| BootError::io(targets.config, e))?,
        ),
        None => None,
    };
    let wifi = match wifi {
        Some(text) => Some(write_wifi(targets.wifi_conf, &text)?),
        None => None,
    };
    Ok(Outcome::Applied { config, wifi })
}

/// chorus.toml's text with `name` and `party_key` set where given (comments and layout
/// kept) and its permission bits; the result must pass the same validation as
/// `chorus run` applies.
fn config_with(
    path: &Path,
    name: Option<&str>,
    key: Option<&PartySecret>,
) -> Result<(String, u32), BootError> {
    let (old, mode) = match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644);
            (text, mode)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => (String::new(), 0o644),
        Err(e) => return Err(BootError::io(path, e)),
    };
    let mut doc: toml_edit::DocumentMut =
        old.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.message().to_owned(),
            })?;
    let mut set = |field: &str, value: &str| {
        if doc.get(field).and_then(|v| v.as_str()) != Some(value) {
            doc[field] = toml_edit::value(value);
        }
    };
    if let Some(name) = name {
        set("name", name);
    }
    if let Some(key) = key {
        set("party_key", key.expose());
    }
    let text = doc.to_string();
    Config::parse(&text, path)?;
    Ok((text, mode))
}

fn write_wifi(path: &Path, text: &str) -> Result<Written, BootError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| BootError::io(dir, e))?;
    }
    // Only root may read the passphrase.
    atomic::replace(path, text.as_bytes(), 0o600).map_err(|e| BootError::io(path, e))
}
