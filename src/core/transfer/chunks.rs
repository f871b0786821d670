//! [`ChunkSet`]: which chunks of one song a box holds, as a fixed-length bitfield that
//! travels on the wire (one bit per chunk, least significant bit first).

use serde::{Deserialize, Serialize};

use super::manifest::MAX_CHUNKS;

/// A received bitfield does not fit the manifest it claims to describe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkSetError {
    /// The bitfield's length does not match the song's chunk count: drop the message.
    #[error("bitfield of {got} bytes for {chunks} chunks (expected {expected} bytes)")]
    Length {
        chunks: u32,
        got: usize,
        expected: usize,
    },
    /// Bits are set past the last chunk: drop the message.
    #[error("bits set past chunk {chunks}")]
    TrailingBits { chunks: u32 },
    /// More chunks than any song may have.
    #[error("{chunks} chunks, limit {MAX_CHUNKS}")]
    TooMany { chunks: u32 },
}

/// The chunks of one song a box holds.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkSet {
    len: u32,
    bits: Vec<u8>,
}

impl std::fmt::Debug for ChunkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkSet({}/{})", self.count(), self.len)
    }
}

impl ChunkSet {
    /// No chunk of `len` held.
    pub fn empty(len: u32) -> Self {
        ChunkSet {
            len,
            bits: vec![0; (len as usize).div_ceil(8)],
        }
    }

    /// Every chunk of `len` held.
    pub fn full(len: u32) -> Self {
        let mut set = Self::empty(len);
        for i in 0..len {
            set.insert(i);
        }
        set
    }

    /// A bitfield from the wire, checked against the song's chunk count.
    pub fn from_bits(len: u32, bits: Vec<u8>) -> Result<Self, ChunkSetError> {
        if len as usize > MAX_CHUNKS {
            return Err(ChunkSetError::TooMany { chunks: len });
        }
        let expected = (len as usize).div_ceil(8);
        if bits.len() != expected {
            return Err(ChunkSetError::Length {
                chunks: len,
                got: bits.len(),
                expected,
            });
        }
        let spare = expected * 8 - len as usize;
        if spare > 0 {
            let last = bits[expected - 1];
            if last >> (8 - spare) != 0 {
                return Err(ChunkSetError::TrailingBits { chunks: len });
            }
        }
        Ok(ChunkSet { len, bits })
    }

    /// The bitfield to send.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// Number of chunks of the song.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for a song without chunks (an empty file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether chunk `i` is held (false past the end).
    pub fn contains(&self, i: u32) -> bool {
        i < self.len && self.bits[(i / 8) as usize] & (1 << (i % 8)) != 0
    }

    /// Marks chunk `i` held; returns false if it already was or is past the end.
    pub fn insert(&mut self, i: u32) -> bool {
        if i >= self.len || self.contains(i) {
            return false;
        }
        self.bits[(i / 8) as usize] |= 1 << (i % 8);
        true
    }

    /// Marks chunk `i` missing again (it failed verification on disk).
    pub fn remove(&mut self, i: u32) {
        if i < self.len {
            self.bits[(i / 8) as usize] &= !(1 << (i % 8));
        }
    }

    /// Chunks held.
    pub fn count(&self) -> u32 {
        self.bits.iter().map(|b| b.count_ones()).sum()
    }

    /// All chunks held.
    pub fn is_complete(&self) -> bool {
        self.count() == self.len
    }

    /// Indices of the chunks held, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| self.contains(i))
    }

    /// Indices of the chunks missing, ascending.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| !self.contains(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_count() {
        let mut s = ChunkSet::empty(10);
        assert!(!s.is_complete());
        assert!(s.insert(0));
        assert!(s.insert(9));
        assert!(!s.insert(9), "already held");
        assert!(!s.insert(10), "past the end");
        assert!(s.contains(0) && s.contains(9) && !s.contains(5) && !s.contains(10));
        assert_eq!(s.count(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(s.missing().count(), 8);
        s.remove(0);
        assert!(!s.contains(0));
        assert!(ChunkSet::full(10).is_complete());
        assert!(ChunkSet::empty(0).is_complete());
    }

    #[test]
    fn wire_bits_are_checked() {
        let full = ChunkSet::full(10);
        assert_eq!(full.bits(), &[0xff, 0x03]);
        assert_eq!(ChunkSet::from_bits(10, vec![0xff, 0x03]), Ok(full));
        assert!(matches!(
            ChunkSet::from_bits(10, vec![0xff]),
            Err(ChunkSetError::Length { .. })
        ));
        assert_eq!(
            ChunkSet::from_bits(10, vec![0xff, 0x07]),
            Err(ChunkSetError::TrailingBits { chunks: 10 })
        );
        assert!(matches!(
            ChunkSet::from_bits(u32::MAX, vec![]),
            Err(ChunkSetError::TooMany { .. })
        ));
    }
}
