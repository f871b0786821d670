//! Why a configuration cannot be used.

use std::path::PathBuf;

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
