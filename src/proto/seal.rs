//! The sealed datagram of a keyed party: any datagram (beacon, invitation, clock sync)
//! encrypted and authenticated whole under the party's datagram key.
//!
//! Layout: [`SEAL_MAGIC`] (2 bytes), [`SEAL_VERSION`], a 24-byte random nonce, then the
//! XChaCha20-Poly1305 ciphertext of the open datagram (its own header included) with its
//! 16-byte tag. The first three bytes are the associated data, so a changed marker fails
//! the tag too. The marker lets a keyed box drop open datagrams, and an open box sealed
//! ones, by looking at two bytes. Pure: the caller brings the nonce.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::MAX_DATAGRAM;

/// The first two bytes of a sealed datagram (open ones start with [`super::MAGIC`]).
pub const SEAL_MAGIC: [u8; 2] = *b"CK";
/// The envelope's layout version; a box drops sealed datagrams of any other.
pub const SEAL_VERSION: u8 = 1;
/// Bytes of random nonce after the marker.
pub const SEAL_NONCE_LEN: usize = 24;
const MARKER_LEN: usize = 3;
const TAG_LEN: usize = 16;
/// What sealing adds to a datagram.
pub const SEAL_OVERHEAD: usize = MARKER_LEN + SEAL_NONCE_LEN + TAG_LEN;
/// Largest sealed datagram: an open one of [`MAX_DATAGRAM`] bytes, sealed.
pub const MAX_SEALED_DATAGRAM: usize = MAX_DATAGRAM + SEAL_OVERHEAD;

/// Why a datagram was not opened. Every variant means "drop it and count it".
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// An open datagram (or not ours): a box outside the party, or without its key.
    #[error("not a sealed datagram")]
    NotSealed,
    /// Sealed, but too short, too long or of another envelope version.
    #[error("malformed sealed datagram")]
    Malformed,
    /// The tag does not verify: sealed under another key, or altered on the way.
    #[error("sealed under another key or altered")]
    WrongKey,
    /// The open datagram is larger than [`MAX_DATAGRAM`] (a bug: never sent).
    #[error("datagram too large to seal")]
    TooLarge,
}

/// Whether `bytes` carries the sealed marker (cheap: two bytes).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.get(..2) == Some(&SEAL_MAGIC[..])
}

/// Seals one open datagram under `key` with `nonce` (which must never repeat under one
/// key: take it from a CSPRNG).
pub fn seal(
    key: &[u8; 32],
    nonce: &[u8; SEAL_NONCE_LEN],
    plain: &[u8],
) -> Result<Vec<u8>, SealError> {
    if plain.len() > MAX_DATAGRAM {
        return Err(SealError::TooLarge);
    }
    let marker = [SEAL_MAGIC[0], SEAL_MAGIC[1], SEAL_VERSION];
    let cipher = XChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plain,
                aad: &marker,
            },
        )
        .map_err(|_| SealError::TooLarge)?;
    let mut out = Vec::with_capacity(MARKER_LEN + SEAL_NONCE_LEN + sealed.len());
    out.extend_from_slice(&marker);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed datagram: the open datagram inside, if `key` sealed it.
pub fn open(key: &[u8; 32], bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    if !is_sealed(bytes) {
        return Err(SealError::NotSealed);
    }
    if bytes.len() < SEAL_OVERHEAD || bytes.len() > MAX_SEALED_DATAGRAM {
        return Err(SealError::Malformed);
    }
    let (marker, rest) = bytes.split_at(MARKER_LEN);
    if marker[2] != SEAL_VERSION {
        return Err(SealError::Malformed);
    }
    let (nonce, sealed) = rest.split_at(SEAL_NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: marker,
            },
        )
        .map_err(|_| SealError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const NONCE: [u8; SEAL_NONCE_LEN] = [9; SEAL_NONCE_LEN];

    #[test]
    fn sealed_opens_under_its_key_only() {
        let plain = b"CH\x03\x01 a beacon".to_vec();
        let sealed = seal(&KEY, &NONCE, &plain).unwrap();
        assert!(is_sealed(&sealed));
        assert_eq!(sealed.len(), plain.len() + SEAL_OVERHEAD);
        assert!(!sealed.windows(8).any(|w| w == b"a beacon"), "encrypted");
        assert_eq!(open(&KEY, &sealed).unwrap(), plain);
        assert_eq!(open(&[8; 32], &sealed), Err(SealError::WrongKey));
    }

    #[test]
    fn every_changed_byte_fails() {
        let sealed = seal(&KEY, &NONCE, b"CH\x03\x05 time").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&KEY, &bad).is_err(),
                "byte {i} changed and still opened"
            );
        }
    }

    #[test]
    fn open_datagrams_and_junk_are_refused_cheaply() {
        assert_eq!(open(&KEY, b"CH\x03\x01abc"), Err(SealError::NotSealed));
        assert_eq!(open(&KEY, b"CK\x01short"), Err(SealError::Malformed));
        let mut other_version = seal(&KEY, &NONCE, b"x").unwrap();
        other_version[2] = 2;
        assert_eq!(open(&KEY, &other_version), Err(SealError::Malformed));
        let huge = vec![b'C'; MAX_SEALED_DATAGRAM + 1];
        assert_eq!(
            open(&KEY, &[b"CK\x01", &huge[..]].concat()),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn the_largest_datagram_seals_within_the_limit() {
        let plain = vec![0u8; MAX_DATAGRAM];
        let sealed = seal(&KEY, &NONCE, &plain).unwrap();
        assert_eq!(sealed.len(), MAX_SEALED_DATAGRAM);
        assert_eq!(open(&KEY, &sealed).unwrap(), plain);
        assert_eq!(
            seal(&KEY, &NONCE, &[0u8; MAX_DATAGRAM + 1]),
            Err(SealError::TooLarge)
        );
    }
}
