//! The party this box is in, kept in the state dir so a box that restarts (power cut,
//! crash) rejoins its party as a guest instead of starting over.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::proto::PartyId;

const PARTY_FILE: &str = "party";

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(PARTY_FILE)
}

/// The party remembered from the last run, if any (a corrupt file is ignored).
pub(crate) fn load(state_dir: &Path) -> Option<PartyId> {
    let text = std::fs::read_to_string(path(state_dir)).ok()?;
    match text.trim().parse() {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable party file");
            None
        }
    }
}

/// Remembers `party` (or forgets, with `None`), atomically: temp file, fsync, rename.
pub(crate) fn store(state_dir: &Path, party: Option<PartyId>) -> std::io::Result<()> {
    let target = path(state_dir);
    let Some(party) = party else {
        return match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    let tmp = state_dir.join(format!(".{PARTY_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    writeln!(file, "{party}")?;
    file.sync_all()?;
    std::fs::rename(&tmp, &target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_a_party() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        store(dir.path(), Some(PartyId(0xabc))).unwrap();
        assert_eq!(load(dir.path()), Some(PartyId(0xabc)));
        store(dir.path(), None).unwrap();
        assert_eq!(load(dir.path()), None);
        store(dir.path(), None).unwrap();
        std::fs::write(dir.path().join("party"), "garbage").unwrap();
        assert_eq!(load(dir.path()), None);
    }
}
