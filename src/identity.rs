//! The box id: generated once, persisted in the state dir, read back on every start.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::core::NodeId;

const ID_FILE: &str = "id";

/// Why the id could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The state dir or id file cannot be read or written: check the path and permissions.
    #[error("cannot use state dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The id file exists but holds something else: delete it to get a new id.
    #[error("id file {path} is corrupt (delete it to generate a new id): {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// Reads the id from `state_dir`, creating the dir and a fresh random id if needed.
/// The new id is written to a temp file, fsynced and renamed, so a crash never leaves a
/// half-written id.
pub fn load_or_create(state_dir: &Path) -> Result<NodeId, IdentityError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IdentityError::Io { path, source }
    };
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let path = state_dir.join(ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return text.parse().map_err(|e: crate::core::ParseNodeIdError| {
                IdentityError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(IdentityError::Io { path, source }),
    }
    let id = NodeId(rand::rngs::OsRng.next_u64());
    let tmp = state_dir.join(format!(".{ID_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    writeln!(file, "{id}").map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_created_once_and_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("nested/state");
        let first = load_or_create(&state).unwrap();
        let second = load_or_create(&state).unwrap();
        assert_eq!(first, second);
        assert!(!state.join(".id.tmp").exists());
    }

    #[test]
    fn corrupt_id_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("id"), "not an id").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(IdentityError::Corrupt { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("id")).unwrap(),
            "not an id"
        );
    }
}
