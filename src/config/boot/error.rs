//! Why the boot-partition settings were not applied.

use std::path::PathBuf;

use crate::config::ConfigError;

/// Why `chorus.txt` was not applied. Every variant leaves the previous settings in
/// place; the message names the line and setting (never a secret's value) and fits the
/// box's screen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The file is not UTF-8 text: save it again as UTF-8 (any editor's default today).
    #[error("not UTF-8 text ({0}): save it as UTF-8")]
    Encoding(&'static str),
    /// A line is neither blank, a `#` comment, nor `key = value`: fix that line.
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    /// A setting this version does not know (a typo?): fix or remove the line.
    #[error("line {line}: unknown setting `{key}` (known: {known})")]
    UnknownKey {
        line: usize,
        key: String,
        known: &'static str,
    },
    /// The same setting twice: keep one of the lines.
    #[error("line {line}: `{key}` is set twice")]
    Duplicate { line: usize, key: &'static str },
    /// A value out of range: the reason says what is allowed.
    #[error("line {line}: {key} {reason}")]
    Invalid {
        line: usize,
        key: &'static str,
        reason: String,
    },
    /// One setting needs another: add the missing one.
    #[error("{key} needs {needs}")]
    Missing {
        key: &'static str,
        needs: &'static str,
    },
    /// The settings would make `chorus.toml` invalid (or it is invalid already): fix the
    /// value, or the file named in the message.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file could not be read or written: a permission or disk problem, not the values.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl BootError {
    /// `true` when the maker's file is at fault (fix the values); `false` for a problem
    /// of the box itself (disk, permissions).
    pub fn is_bad_value(&self) -> bool {
        !matches!(self, BootError::Io { .. })
    }

    pub(super) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        BootError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
