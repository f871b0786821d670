//! What a box remembers across restarts in its state dir: the party it is in (so after a
//! power cut or crash it rejoins as a guest instead of starting over) and its own volume.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::proto::PartyId;

const PARTY_FILE: &str = "party";
const BOX_VOLUME_FILE: &str = "box-volume";
/// A new box plays at full box volume: the party volume alone sets the level.
pub(crate) const DEFAULT_BOX_VOLUME: u8 = 100;

/// This box's own volume from the last run (a missing or corrupt file: the default).
pub(crate) fn load_box_volume(state_dir: &Path) -> u8 {
    let Ok(text) = std::fs::read_to_string(state_dir.join(BOX_VOLUME_FILE)) else {
        return DEFAULT_BOX_VOLUME;
    };
    match text.trim().parse::<u8>() {
        Ok(v) if v <= 100 => v,
        _ => {
            tracing::warn!(value = text.trim(), "ignoring unreadable box-volume file");
            DEFAULT_BOX_VOLUME
        }
    }
}

/// Remembers this box's own volume, atomically.
pub(crate) fn store_box_volume(state_dir: &Path, percent: u8) -> std::io::Result<()> {
    write_atomic(state_dir, BOX_VOLUME_FILE, &format!("{percent}\n"))
}

/// Writes `name` in `dir`: temp file, fsync, rename, so a crash leaves the old or the new.
fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The party file kept in step with the party the box is in.
#[derive(Debug)]
pub(super) struct PartyMemory {
    state_dir: PathBuf,
    /// The party id last written to the state dir.
    remembered: Option<PartyId>,
}

impl PartyMemory {
    /// What the last run left in `state_dir`.
    pub(super) fn load(state_dir: &Path) -> Self {
        PartyMemory {
            state_dir: state_dir.to_path_buf(),
            remembered: load(state_dir),
        }
    }

    /// The party to rejoin after a restart.
    pub(super) fn remembered(&self) -> Option<PartyId> {
        self.remembered
    }

    /// Writes `current` down when it changed. While the box waits to rejoin after a
    /// restart (`rejoining`), the memory is kept.
    pub(super) fn keep(&mut self, current: Option<PartyId>, rejoining: bool) {
        if current == self.remembered || (current.is_none() && rejoining) {
            return;
        }
        match store(&self.state_dir, current) {
            Ok(()) => self.remembered = current,
            Err(e) => tracing::warn!(error = %e, "cannot remember the party in the state dir"),
        }
    }
}

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
    write_atomic(state_dir, PARTY_FILE, &format!("{party}\n"))
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

    #[test]
    fn remembers_the_box_volume() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_box_volume(dir.path()), DEFAULT_BOX_VOLUME);
        store_box_volume(dir.path(), 35).unwrap();
        assert_eq!(load_box_volume(dir.path()), 35);
        std::fs::write(dir.path().join("box-volume"), "250").unwrap();
        assert_eq!(load_box_volume(dir.path()), DEFAULT_BOX_VOLUME);
    }
}
