//! The box identity: a long-term ed25519 key made once, kept in the state dir, read back on
//! every start; the box id is derived from its public key, so an id cannot be claimed
//! without the key.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey, SECRET_KEY_LENGTH};

use crate::core::NodeId;

/// The secret key: 32 raw bytes, readable by the owner only.
const KEY_FILE: &str = "key";
/// The id derived from the key, written beside it for people and scripts to read; the
/// box never trusts it (it is rewritten from the key on every start).
const ID_FILE: &str = "id";

/// Why the identity could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The state dir or a key file cannot be read or written: check the path and permissions.
    #[error("cannot use state dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file exists but holds something else: delete it to get a new identity
    /// (the box then has a new id, and its parties see a new box).
    #[error("key file {path} is corrupt (delete it to make a new identity): {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// A box's long-term key and the id derived from it.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    id: NodeId,
}

impl std::fmt::Debug for Identity {
    // Never the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("id", &self.id).finish()
    }
}

impl Identity {
    /// A fresh random identity (not stored).
    pub fn generate() -> Identity {
        Identity::from_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The identity of a given secret key (not stored): the simulator's boxes, each with
    /// a key of its own drawn from the run's seed.
    pub fn from_secret(secret: [u8; SECRET_KEY_LENGTH]) -> Identity {
        Identity::from_key(SigningKey::from_bytes(&secret))
    }

    fn from_key(key: SigningKey) -> Identity {
        let id = id_of(&key.verifying_key());
        Identity { key, id }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The key that signs for this box (the session handshake proves it).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// The core asks the identity to sign its invitations; the key itself stays here.
impl crate::core::Sign for Identity {
    fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        ed25519_dalek::Signer::sign(&self.key, message).to_bytes()
    }
}

/// The id of the box holding `key`: the first 8 bytes (little-endian) of its BLAKE3 hash.
pub fn id_of(key: &VerifyingKey) -> NodeId {
    NodeId::of_key(key.as_bytes())
}

/// Reads the identity from `state_dir`, creating the dir and a fresh key if needed. A new
/// key is written to a temp file (mode 0600), fsynced and renamed, so a crash never leaves
/// a half-written key. The `id` file is rewritten from the key when it differs (an older
/// version kept a random id there).
pub fn load_or_create(state_dir: &Path) -> Result<Identity, IdentityError> {
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let path = state_dir.join(KEY_FILE);
    let identity = match std::fs::read(&path) {
        Ok(bytes) => {
            let secret: [u8; SECRET_KEY_LENGTH] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| IdentityError::Corrupt {
                        path: path.clone(),
                        reason: format!("{} bytes, expected {SECRET_KEY_LENGTH}", bytes.len()),
                    })?;
            Identity::from_key(SigningKey::from_bytes(&secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let identity = Identity::generate();
            write_atomically(state_dir, KEY_FILE, &identity.key.to_bytes())?;
            identity
        }
        Err(source) => return Err(IdentityError::Io { path, source }),
    };
    write_id(state_dir, identity.id)?;
    Ok(identity)
}

/// Replaces the key in `state_dir` with a fresh one (a box whose card was cloned from
/// another's after its first start) and returns it.
pub fn replace(state_dir: &Path) -> Result<Identity, IdentityError> {
    let identity = Identity::generate();
    write_atomically(state_dir, KEY_FILE, &identity.key.to_bytes())?;
    write_id(state_dir, identity.id)?;
    Ok(identity)
}

/// Keeps the `id` file equal to the key's id.
fn write_id(state_dir: &Path, id: NodeId) -> Result<(), IdentityError> {
    let path = state_dir.join(ID_FILE);
    let old = std::fs::read_to_string(&path).ok();
    let text = format!("{id}\n");
    if old.as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    if let Some(old) = old {
        tracing::info!(old = old.trim(), new = %id, "box id now derived from its key; id file replaced");
    }
    write_atomically(state_dir, ID_FILE, text.as_bytes())
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), IdentityError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError {
    let path = path.to_path_buf();
    move |source| IdentityError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("nested/state");
        let first = load_or_create(&state).unwrap();
        let second = load_or_create(&state).unwrap();
        assert_eq!(first.id(), second.id());
        assert_eq!(
            first.signing_key().to_bytes(),
            second.signing_key().to_bytes()
        );
        let mode = std::fs::metadata(state.join("key")).unwrap().permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
        assert!(!state.join(".key.tmp").exists());
        let id = std::fs::read_to_string(state.join("id")).unwrap();
        assert_eq!(id.trim(), first.id().to_string());
    }

    #[test]
    fn id_is_the_first_eight_bytes_of_the_key_hash() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let hash = blake3::hash(key.verifying_key().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        assert_eq!(
            id_of(&key.verifying_key()),
            NodeId(u64::from_le_bytes(first))
        );
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_ne!(id_of(&key.verifying_key()), id_of(&other.verifying_key()));
    }

    #[test]
    fn an_old_random_id_file_is_replaced_by_the_key_id() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("id"), "00000000000000b1\n").unwrap();
        let identity = load_or_create(dir.path()).unwrap();
        assert_ne!(identity.id(), NodeId(0xb1));
        let id = std::fs::read_to_string(dir.path().join("id")).unwrap();
        assert_eq!(id.trim(), identity.id().to_string());
    }

    #[test]
    fn corrupt_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "not a key").unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(dir.path().join("key")).unwrap(), b"not a key");
    }

    #[test]
    fn replace_makes_a_new_stored_identity() {
        let dir = tempfile::tempdir().unwrap();
        let old = load_or_create(dir.path()).unwrap();
        let new = replace(dir.path()).unwrap();
        assert_ne!(old.id(), new.id());
        assert_eq!(load_or_create(dir.path()).unwrap().id(), new.id());
    }
}
