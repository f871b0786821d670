//! [`Manifest`]: what a box needs to fetch a song from peers it does not trust — the
//! song's size, its chunk size and the BLAKE3 hash of every chunk, which add up to the
//! song's hash — plus the tags shown while it downloads. Everything in it is bounded and
//! checked before use.

use std::io::{self, Read};
use std::ops::Range;

use bytes::Bytes;

use crate::core::SongRef;
use crate::proto::manifest as wire;
pub use crate::proto::manifest::{
    ManifestError, MAX_CHUNKS, MAX_CHUNK_SIZE, MAX_FORMAT_LEN, MAX_SONG_BYTES, MAX_TAG_LEN,
    MIN_CHUNK_SIZE,
};

/// The smallest chunk size a box picks for its songs (see [`chunk_size_for`]).
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// About how many chunks a song is cut into: enough that every member soon holds chunks
/// the others lack (a 20 MB song shared by 8 members: 64 KiB chunks took 1.1x the
/// host's upload time where 256 KiB chunks took 1.4x), few enough that per-chunk costs
/// stay small next to the bytes (a 200 MB file in 64 KiB chunks moved at half the
/// speed over loopback).
pub const TARGET_CHUNKS: u64 = 320;

/// A song's transfer description.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    /// BLAKE3 of the whole file: the name it is cached under.
    pub song: SongRef,
    /// File length in bytes.
    pub size: u64,
    /// Every chunk but the last is this long.
    pub chunk_size: u32,
    /// Each chunk's place in BLAKE3's tree over the file, in order
    /// ([`wire::chunk_hash`]): together they make `song` ([`wire::tree_root`]).
    pub chunks: Vec<[u8; 32]>,
    /// Decoder hint: the file extension, lowercase ASCII letters and digits only.
    pub format: String,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_ms: Option<u64>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("song", &self.song)
            .field("size", &self.size)
            .field("chunks", &self.chunks.len())
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// Tags copied into a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub format: String,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_ms: Option<u64>,
}

/// The chunk size for a song of `size` bytes: about [`TARGET_CHUNKS`] chunks, a power of
/// two between [`DEFAULT_CHUNK_SIZE`] and [`MAX_CHUNK_SIZE`].
pub fn chunk_size_for(size: u64) -> u32 {
    let ideal = (size / TARGET_CHUNKS).max(1).next_power_of_two();
    u32::try_from(ideal)
        .unwrap_or(MAX_CHUNK_SIZE)
        .clamp(DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE)
}

/// Number of chunks of a `size`-byte song cut into `chunk_size` pieces.
pub fn chunk_count(size: u64, chunk_size: u32) -> u64 {
    size.div_ceil(u64::from(chunk_size.max(1)))
}

impl Manifest {
    /// Reads a whole song from `reader` and describes it. Tags are cut to their limits and
    /// the format hint is cleaned, so the result always passes [`Manifest::validate`]
    /// unless the song is too large.
    pub fn from_reader<R: Read>(
        mut reader: R,
        chunk_size: u32,
        tags: Tags,
    ) -> io::Result<Manifest> {
        let chunk_size = chunk_size
            .clamp(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)
            .next_power_of_two();
        // Each chunk is hashed once, as the chunk of a song of several; a song that turns
        // out to be one chunk long is its own hash, kept from the first chunk.
        let mut chunks = Vec::new();
        let mut first_whole = None;
        let mut buf = vec![0u8; chunk_size as usize];
        let mut size = 0u64;
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            let index = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
            if index == 0 {
                first_whole = Some(*blake3::hash(&buf[..n]).as_bytes());
            }
            let cv = wire::chunk_cv(index, chunk_size, &buf[..n])
                .ok_or_else(|| io::Error::other("no BLAKE3 subtree for this chunk"))?;
            chunks.push(cv);
            size += n as u64;
            if size > MAX_SONG_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    ManifestError::TooLarge { size },
                ));
            }
            if n < buf.len() {
                break;
            }
        }
        if let (1, Some(whole)) = (chunks.len(), first_whole) {
            chunks[0] = whole;
        }
        Ok(Manifest {
            song: SongRef(wire::tree_root(&chunks)),
            size,
            chunk_size,
            chunks,
            format: clean_format(&tags.format),
            title: cut(&tags.title, MAX_TAG_LEN),
            artist: tags.artist.as_deref().map(|a| cut(a, MAX_TAG_LEN)),
            album: tags.album.as_deref().map(|a| cut(a, MAX_TAG_LEN)),
            duration_ms: tags.duration_ms,
        })
    }

    /// Checks every bound and that the chunk hashes make the song's hash; a manifest from
    /// a peer is used only if this passes.
    pub fn validate(&self) -> Result<(), ManifestError> {
        wire::Manifest::from(self).validate()
    }

    /// Checks every bound but not the hashes (see [`wire::Manifest::check_bounds`]).
    pub fn check_bounds(&self) -> Result<(), ManifestError> {
        wire::Manifest::from(self).check_bounds()
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> u32 {
        u32::try_from(self.chunks.len()).unwrap_or(u32::MAX)
    }

    /// Byte range of chunk `i` in the file (empty past the end).
    pub fn chunk_range(&self, i: u32) -> Range<u64> {
        let start = (u64::from(i) * u64::from(self.chunk_size)).min(self.size);
        let end = (start + u64::from(self.chunk_size)).min(self.size);
        start..end
    }

    /// Length of chunk `i` in bytes.
    pub fn chunk_len(&self, i: u32) -> usize {
        let r = self.chunk_range(i);
        (r.end - r.start) as usize
    }

    /// Whether `data` is chunk `i` of this song.
    pub fn verify_chunk(&self, i: u32, data: &[u8]) -> bool {
        // The length first: the hash of a chunk longer than its place is not defined.
        self.chunks.get(i as usize).is_some_and(|h| {
            data.len() == self.chunk_len(i)
                && wire::chunk_hash(i, self.chunk_count(), self.chunk_size, data) == Some(*h)
        })
    }

    /// `data` as chunk `i` of this song, if it is.
    pub fn verified(&self, i: u32, data: Bytes) -> Option<VerifiedChunk> {
        let hash = *self.chunks.get(i as usize)?;
        self.verify_chunk(i, &data).then_some(VerifiedChunk {
            song: self.song,
            index: i,
            hash,
            data,
        })
    }
}

/// Chunk bytes that hashed to their entry in a manifest. Only [`Manifest::verified`] makes
/// one, so whoever holds one (the cache, when it writes) need not hash the bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChunk {
    song: SongRef,
    index: u32,
    hash: [u8; 32],
    data: Bytes,
}

impl VerifiedChunk {
    /// Which chunk of its song this is.
    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Whether this is chunk [`index`](Self::index) of `manifest` too (another manifest
    /// of the same song may cut it differently): a comparison, no hashing.
    pub fn belongs_to(&self, manifest: &Manifest) -> bool {
        self.song == manifest.song
            && manifest.chunks.get(self.index as usize) == Some(&self.hash)
            && self.data.len() == manifest.chunk_len(self.index)
    }
}

/// Fills `buf` unless the reader ends first; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `s` cut to at most `max` bytes on a character boundary, without control characters.
fn cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

fn clean_format(ext: &str) -> String {
    let f: String = ext
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .take(MAX_FORMAT_LEN)
        .collect();
    if f.is_empty() {
        "bin".into()
    } else {
        f
    }
}

impl From<&Manifest> for wire::Manifest {
    fn from(m: &Manifest) -> Self {
        wire::Manifest {
            song: m.song,
            size: m.size,
            chunk_size: m.chunk_size,
            chunks: m.chunks.clone(),
            format: m.format.clone(),
            title: m.title.clone(),
            artist: m.artist.clone(),
            album: m.album.clone(),
            duration_ms: m.duration_ms,
        }
    }
}

impl TryFrom<wire::Manifest> for Manifest {
    type Error = ManifestError;

    /// A received manifest, if it keeps every bound.
    fn try_from(m: wire::Manifest) -> Result<Self, ManifestError> {
        m.validate()?;
        Ok(Manifest {
            song: m.song,
            size: m.size,
            chunk_size: m.chunk_size,
            chunks: m.chunks,
            format: m.format,
            title: m.title,
            artist: m.artist,
            album: m.album,
            duration_ms: m.duration_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn tags() -> Tags {
        Tags {
            format: "FLAC".into(),
            title: "Song\u{7}".into(),
            ..Tags::default()
        }
    }

    #[test]
    fn only_matching_bytes_become_a_verified_chunk_of_that_cut() {
        let bytes = Bytes::from(song(40_000));
        let m = Manifest::from_reader(&bytes[..], 16 * 1024, tags()).unwrap();
        let v = m.verified(1, bytes.slice(16_384..32_768)).unwrap();
        assert_eq!((v.index(), v.data().len()), (1, 16_384));
        assert!(v.belongs_to(&m));
        assert!(
            m.verified(1, bytes.slice(0..16_384)).is_none(),
            "wrong chunk"
        );
        assert!(m.verified(3, Bytes::new()).is_none(), "past the end");
        // The same song cut into larger chunks: its chunk 1 is other bytes.
        let other = Manifest::from_reader(&bytes[..], 32 * 1024, tags()).unwrap();
        assert_eq!(other.song, m.song);
        assert!(!v.belongs_to(&other));
    }

    #[test]
    fn describes_a_song_chunk_by_chunk() {
        let bytes = song(40_000);
        let m = Manifest::from_reader(&bytes[..], 16 * 1024, tags()).unwrap();
        assert_eq!(m.song.0, *blake3::hash(&bytes).as_bytes());
        assert_eq!(m.size, 40_000);
        assert_eq!(m.chunk_count(), 3);
        assert_eq!(m.chunk_range(2), 32_768..40_000);
        assert_eq!(m.chunk_len(2), 40_000 - 32_768);
        assert!(m.verify_chunk(1, &bytes[16_384..32_768]));
        assert!(!m.verify_chunk(1, &bytes[0..16_384]), "wrong chunk");
        assert!(!m.verify_chunk(3, &[]), "past the end");
        assert_eq!(m.format, "flac");
        assert_eq!(m.title, "Song", "control characters dropped");
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn chunk_hashes_add_up_to_blake3_of_the_whole_song() {
        const C: usize = 16 * 1024;
        // One chunk (short, exact), two, the splits of 3, 4, 5, 8, 9 and 17 chunks, each
        // with a short and a full last chunk.
        let mut sizes = vec![0, 1, 1000, 1025, C - 1, C];
        for n in [2, 3, 4, 5, 8, 9, 17] {
            sizes.extend([(n - 1) * C + 1, n * C - 7, n * C]);
        }
        for len in sizes {
            let bytes = song(len);
            let m = Manifest::from_reader(&bytes[..], C as u32, tags()).unwrap();
            assert_eq!(m.song.0, *blake3::hash(&bytes).as_bytes(), "{len} bytes");
            assert_eq!(wire::tree_root(&m.chunks), m.song.0, "{len} bytes");
            assert_eq!(m.validate(), Ok(()), "{len} bytes");
            for i in 0..m.chunk_count() {
                let r = m.chunk_range(i);
                let chunk = &bytes[r.start as usize..r.end as usize];
                assert!(m.verify_chunk(i, chunk), "chunk {i} of {len} bytes");
            }
        }
    }

    #[test]
    fn a_manifest_whose_chunks_do_not_make_its_song_is_refused() {
        let bytes = song(40_000);
        let good = Manifest::from_reader(&bytes[..], 16 * 1024, tags()).unwrap();
        let mut m = good.clone();
        m.chunks[1][0] ^= 1;
        assert_eq!(m.validate(), Err(ManifestError::HashTree));
        let mut m = good.clone();
        m.song.0[31] ^= 1;
        assert_eq!(m.validate(), Err(ManifestError::HashTree));
        // Chunks swapped: each hash is a real chunk's, but not at its place.
        let mut m = good;
        m.chunks.swap(0, 1);
        assert_eq!(m.validate(), Err(ManifestError::HashTree));
        // A chunk's bytes checked at another index do not pass either.
        let first = &bytes[..16 * 1024];
        let m = Manifest::from_reader(&bytes[..], 16 * 1024, tags()).unwrap();
        assert!(!m.verify_chunk(1, first));
        assert!(!m.verify_chunk(0, &first[..100]), "a short chunk 0");
        // Pieces that are no subtree of BLAKE3's tree have no hash (and do not panic).
        assert_eq!(
            wire::chunk_cv(1, 3000, &[1; 10]),
            None,
            "not a power of two"
        );
        assert_eq!(
            wire::chunk_cv(1, 512, &[1; 10]),
            None,
            "below BLAKE3's chunk"
        );
        assert_eq!(wire::chunk_cv(1, 16 * 1024, &[]), None, "empty");
        assert_eq!(
            wire::chunk_cv(1, 16 * 1024, &[1; 16 * 1024 + 1]),
            None,
            "too long"
        );
    }

    #[test]
    fn chunk_size_follows_the_song_size() {
        assert_eq!(chunk_size_for(0), DEFAULT_CHUNK_SIZE);
        assert_eq!(chunk_size_for(5_000_000), 64 * 1024);
        assert_eq!(chunk_size_for(20_000_000), 64 * 1024);
        assert_eq!(chunk_size_for(40_000_000), 128 * 1024);
        assert_eq!(chunk_size_for(200_000_000), MAX_CHUNK_SIZE);
        // Even the largest song fits the chunk-count limit.
        assert!(chunk_count(MAX_SONG_BYTES, chunk_size_for(MAX_SONG_BYTES)) <= MAX_CHUNKS as u64);
    }

    #[test]
    fn exact_multiple_and_empty_songs() {
        let bytes = song(32 * 1024);
        let m = Manifest::from_reader(&bytes[..], 16 * 1024, tags()).unwrap();
        assert_eq!(m.chunk_count(), 2);
        let empty = Manifest::from_reader(&[][..], 16 * 1024, tags()).unwrap();
        assert_eq!(empty.chunk_count(), 0);
        assert_eq!(empty.validate(), Ok(()));
    }

    #[test]
    fn hostile_manifests_are_rejected() {
        let good = Manifest::from_reader(&song(40_000)[..], 16 * 1024, tags()).unwrap();
        let mut m = good.clone();
        m.size = MAX_SONG_BYTES + 1;
        assert!(matches!(m.validate(), Err(ManifestError::TooLarge { .. })));
        let mut m = good.clone();
        m.chunk_size = 3000;
        assert_eq!(m.validate(), Err(ManifestError::ChunkSize(3000)));
        let mut m = good.clone();
        m.chunks.pop();
        assert!(matches!(
            m.validate(),
            Err(ManifestError::ChunkCount { .. })
        ));
        let mut m = good.clone();
        m.format = "../x".into();
        assert!(matches!(
            m.validate(),
            Err(ManifestError::Field {
                field: "format",
                ..
            })
        ));
        let mut m = good;
        m.title = "x".repeat(MAX_TAG_LEN + 1);
        assert!(matches!(
            m.validate(),
            Err(ManifestError::Field { field: "title", .. })
        ));
    }
}
