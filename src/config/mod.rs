//! The TOML configuration: every field has a default, and validation names the bad field.
//!
//! - `file`: the whole [`Config`], reading and parsing it, and the core's view of it.
//! - `tables`: the `[discovery]`, `[party]`, `[audio]` and `[songs]` sections.
//! - `validate`: the ranges the type system does not check.
//! - `error`: [`ConfigError`].
//! - [`boot`]: `chorus.txt` on the boot partition, applied to this file and the Wi-Fi.

pub mod boot;
mod error;
mod file;
mod tables;
mod validate;

pub use error::ConfigError;
pub use file::{Config, DEFAULT_CONFIG_PATH};
pub use tables::{AudioTable, DiscoveryConfig, PartyTable, SongOrder, SongsTable};

#[cfg(test)]
mod tests;
