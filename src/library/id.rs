//! `SongId`: a song's identity, the BLAKE3 hash of its file's bytes.
//!
//! Boxes do not share a music collection, so a song is named by its content: two identical
//! files in different folders (or on different boxes) are the same song, and a received
//! file is verified by hashing it again.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Length of a [`SongId`] in bytes.
pub const SONG_ID_LEN: usize = 32;

/// BLAKE3 hash of a song file's bytes.
///
/// Serialized as 32 raw bytes in binary formats (postcard: no length prefix) and as 64
/// lowercase hex digits in human-readable ones (JSON), so the same type serves the wire
/// and the index file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SongId([u8; SONG_ID_LEN]);

impl SongId {
    /// The id with these hash bytes.
    pub const fn from_bytes(bytes: [u8; SONG_ID_LEN]) -> Self {
        SongId(bytes)
    }

    /// The hash bytes.
    pub const fn as_bytes(&self) -> &[u8; SONG_ID_LEN] {
        &self.0
    }

    /// The id of a file whose whole content is `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        SongId(*blake3::hash(bytes).as_bytes())
    }

    /// Hash everything `reader` yields, in bounded memory; returns the id and the number
    /// of bytes hashed.
    pub fn of_reader<R: Read>(reader: R) -> io::Result<(SongId, u64)> {
        let mut hasher = blake3::Hasher::new();
        // `update_reader` streams through a fixed buffer and retries `Interrupted`.
        let mut counted = CountingReader {
            inner: reader,
            n: 0,
        };
        hasher.update_reader(&mut counted)?;
        Ok((SongId(*hasher.finalize().as_bytes()), counted.n))
    }

    /// Hash the file at `path`; returns the id and the file's length.
    pub fn of_file(path: &Path) -> io::Result<(SongId, u64)> {
        Self::of_reader(File::open(path)?)
    }
}

/// Counts the bytes read so the caller learns the size actually hashed, which may differ
/// from the size `stat` reported if the file is being written.
struct CountingReader<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

impl fmt::Display for SongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Full hex: ids are compared by eye in logs and test failures.
        write!(f, "SongId({self})")
    }
}

/// Why a string is not a [`SongId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a song id is 64 lowercase hex digits: {0}")]
pub struct ParseSongIdError(String);

impl FromStr for SongId {
    type Err = ParseSongIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical spelling is accepted, so equal ids are equal strings.
        let digits = s.as_bytes();
        if digits.len() != 2 * SONG_ID_LEN {
            return Err(ParseSongIdError(format!("got {} characters", s.len())));
        }
        let mut bytes = [0u8; SONG_ID_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            match (
                pair.first().and_then(|&c| nibble(c)),
                pair.get(1).and_then(|&c| nibble(c)),
            ) {
                (Some(hi), Some(lo)) => *byte = (hi << 4) | lo,
                _ => return Err(ParseSongIdError(format!("not lowercase hex: {s:?}"))),
            }
        }
        Ok(SongId(bytes))
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl Serialize for SongId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            // A fixed-size array is a tuple in serde: postcard writes exactly 32 bytes.
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for SongId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(de::Error::custom)
        } else {
            <[u8; SONG_ID_LEN]>::deserialize(deserializer).map(SongId)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_hex_of_blake3() {
        let id = SongId::of_bytes(b"abc");
        let text = id.to_string();
        assert_eq!(text, blake3::hash(b"abc").to_hex().as_str());
        assert_eq!(text.len(), 64);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(text.parse::<SongId>(), Ok(id));
    }

    #[test]
    fn parse_rejects_non_canonical() {
        let text = SongId::of_bytes(b"x").to_string();
        assert!(text.to_uppercase().parse::<SongId>().is_err());
        assert!(text[..63].parse::<SongId>().is_err());
        assert!(format!("{text}0").parse::<SongId>().is_err());
        assert!("g".repeat(64).parse::<SongId>().is_err());
        assert!("é".repeat(32).parse::<SongId>().is_err());
    }

    #[test]
    fn reader_hash_matches_one_shot_hash() {
        // Longer than blake3's internal read buffer, so streaming takes several reads.
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (id, n) = SongId::of_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(id, SongId::of_bytes(&data));
    }

    #[test]
    fn postcard_is_32_raw_bytes_and_json_is_hex() {
        let id = SongId::of_bytes(b"song");
        let bin = postcard::to_stdvec(&id).unwrap();
        assert_eq!(bin, id.as_bytes().to_vec());
        assert_eq!(postcard::from_bytes::<SongId>(&bin).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<SongId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<SongId>("\"abc\"").is_err());
    }
}
