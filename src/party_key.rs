//! The optional party key: a secret every box of a keyed party shares, and the keys
//! derived from it for sealing datagrams and for the sessions' pre-shared key.
//!
//! The secret is either 64 hex digits (32 random bytes, used as they are) or a passphrase
//! of at least [`MIN_PASSPHRASE`] bytes, stretched with Argon2id under a fixed
//! salt so that every box derives the same key (guessing is slowed, not stopped: a
//! passphrase is only as strong as its entropy). Each use then gets its own key through
//! `blake3::derive_key`. Neither the secret nor a derived key is ever logged or shown.

use crate::proto::seal::{self, SealError, SEAL_NONCE_LEN};

/// Shortest passphrase accepted, in bytes.
pub const MIN_PASSPHRASE: usize = 12;
/// Longest secret accepted, in bytes.
pub const MAX_SECRET: usize = 128;
/// Fixed so that every box derives the same key from one passphrase; it only keeps
/// tables made for other programs from applying.
const SALT: &[u8] = b"chorus party key salt v1";
const DATAGRAM_CONTEXT: &str = "chorus 2026 party key: datagram seal key";
const SESSION_CONTEXT: &str = "chorus 2026 party key: Noise pre-shared key";

/// Why a party key cannot be used: fix the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartyKeyError {
    /// Too short to resist guessing, or too long: choose another.
    #[error("must be 64 hex digits or a passphrase of {MIN_PASSPHRASE} to {MAX_SECRET} bytes")]
    Length,
    /// Leading or trailing blanks are easy to lose when typed on another box: remove them.
    #[error("must not start or end with a space")]
    Blanks,
    /// The key derivation failed (never with these parameters): report it.
    #[error("cannot derive the key: {0}")]
    Derive(String),
}

/// Checks a secret without deriving anything (cheap: for validating a config).
pub fn check(secret: &str) -> Result<(), PartyKeyError> {
    if secret.trim() != secret {
        return Err(PartyKeyError::Blanks);
    }
    if !(MIN_PASSPHRASE..=MAX_SECRET).contains(&secret.len()) {
        return Err(PartyKeyError::Length);
    }
    Ok(())
}

/// The secret as written in the config: shown as `<redacted>` by `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PartySecret(String);

impl PartySecret {
    pub fn new(secret: impl Into<String>) -> PartySecret {
        PartySecret(secret.into())
    }

    /// The secret itself, for deriving the keys.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PartySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartySecret(<redacted>)")
    }
}

/// The keys derived from one party secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PartyKey {
    datagram: [u8; 32],
    session: [u8; 32],
}

impl std::fmt::Debug for PartyKey {
    // Never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartyKey(<redacted>)")
    }
}

impl PartyKey {
    /// Derives the keys from a secret (a passphrase costs an Argon2id run: tens to
    /// hundreds of milliseconds, once per start).
    pub fn derive(secret: &str) -> Result<PartyKey, PartyKeyError> {
        check(secret)?;
        let master = match hex32(secret) {
            Some(bytes) => bytes,
            None => stretch(secret)?,
        };
        Ok(PartyKey {
            datagram: blake3::derive_key(DATAGRAM_CONTEXT, &master),
            session: blake3::derive_key(SESSION_CONTEXT, &master),
        })
    }

    /// The pre-shared key mixed into every session's Noise handshake.
    pub fn session_psk(&self) -> [u8; 32] {
        self.session
    }

    /// Seals one open datagram under a fresh random nonce.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce: [u8; SEAL_NONCE_LEN] = rand::random();
        seal::seal(&self.datagram, &nonce, plain)
    }

    /// Opens a datagram sealed under this key.
    pub fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
        seal::open(&self.datagram, bytes)
    }
}

/// 64 hex digits as 32 bytes.
fn hex32(secret: &str) -> Option<[u8; 32]> {
    let digits = secret.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Argon2id with its default cost (19 MiB, two passes), which a Pi affords at start.
fn stretch(passphrase: &str) -> Result<[u8; 32], PartyKeyError> {
    let mut out = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(passphrase.as_bytes(), SALT, &mut out)
        .map_err(|e| PartyKeyError::Derive(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn secrets_are_checked() {
        assert_eq!(check("short"), Err(PartyKeyError::Length));
        assert_eq!(check(" twelve chars long"), Err(PartyKeyError::Blanks));
        assert_eq!(
            check(&"x".repeat(MAX_SECRET + 1)),
            Err(PartyKeyError::Length)
        );
        assert_eq!(check("correct horse battery"), Ok(()));
        assert_eq!(check(HEX), Ok(()));
    }

    #[test]
    fn one_secret_gives_one_key_on_every_box() {
        let a = PartyKey::derive("correct horse battery").unwrap();
        let b = PartyKey::derive("correct horse battery").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, PartyKey::derive("correct horse batterz").unwrap());
        assert_ne!(a.session_psk(), a.datagram, "one key per use");
        let hex = PartyKey::derive(HEX).unwrap();
        assert_ne!(hex, PartyKey::derive(&HEX.replace('0', "1")).unwrap());
    }

    #[test]
    fn a_datagram_opens_only_under_the_key_that_sealed_it() {
        let ours = PartyKey::derive(HEX).unwrap();
        let theirs = PartyKey::derive("another party's secret").unwrap();
        let sealed = ours.seal(b"CH\x03\x01hello").unwrap();
        assert_eq!(ours.open(&sealed).unwrap(), b"CH\x03\x01hello");
        assert_eq!(theirs.open(&sealed), Err(SealError::WrongKey));
        assert_ne!(
            ours.seal(b"same").unwrap(),
            ours.seal(b"same").unwrap(),
            "fresh nonces"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = PartyKey::derive(HEX).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "PartyKey(<redacted>)");
        let secret = PartySecret::new(HEX);
        assert!(!format!("{secret:?}").contains("0011"));
    }
}
