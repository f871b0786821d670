//! Identifiers on the wire: a box ([`NodeId`], a 64-bit id derived from its public key,
//! shown as 16 hex digits) and a song ([`SongRef`], the BLAKE3 hash of its file).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The identity of one box, stable across restarts (its key is kept in the state dir).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl NodeId {
    /// The id of the box holding the ed25519 public key `key`: the first 8 bytes
    /// (little-endian) of its BLAKE3 hash. Nobody can claim an id without its key.
    pub fn of_key(key: &[u8; 32]) -> NodeId {
        let hash = blake3::hash(key);
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        NodeId(u64::from_le_bytes(first))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`NodeId`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a box id is 16 hexadecimal digits, got {0:?}")]
pub struct ParseNodeIdError(String);

impl FromStr for NodeId {
    type Err = ParseNodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() != 16 {
            return Err(ParseNodeIdError(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .map(NodeId)
            .map_err(|_| ParseNodeIdError(s.to_owned()))
    }
}

/// A song, by the BLAKE3 hash of its file (the song cache's key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SongRef(pub [u8; 32]);

impl std::fmt::Debug for SongRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The first 8 bytes are plenty to tell songs apart in logs.
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = NodeId(0x00ab_cdef_0123_4567);
        assert_eq!(id.to_string(), "00abcdef01234567");
        assert_eq!("00abcdef01234567".parse::<NodeId>(), Ok(id));
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_hex() {
        assert!("abc".parse::<NodeId>().is_err());
        assert!("zzzzzzzzzzzzzzzz".parse::<NodeId>().is_err());
        assert!("00abcdef012345678".parse::<NodeId>().is_err());
    }
}
