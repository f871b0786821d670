//! A song's manifest as it travels: size, chunk size, the BLAKE3 hash of every chunk and
//! the tags shown while it downloads, with the bounds a received one must keep.

use serde::{Deserialize, Serialize};

use super::SongRef;

/// Smallest and largest chunk size a manifest may declare.
pub const MIN_CHUNK_SIZE: u32 = 16 * 1024;
pub const MAX_CHUNK_SIZE: u32 = 512 * 1024;
/// Largest song a party distributes (a 1 GiB file is hours of FLAC).
pub const MAX_SONG_BYTES: u64 = 1 << 30;
/// Most chunks of one song: keeps a manifest well inside one control frame.
pub const MAX_CHUNKS: usize = 8192;
/// Longest tag (title, artist, album) in bytes.
pub const MAX_TAG_LEN: usize = 200;
/// Longest format hint (a file extension such as `flac`).
pub const MAX_FORMAT_LEN: usize = 8;

/// A manifest that must not be used; the variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The song is larger than a party distributes: refuse it.
    #[error("song of {size} bytes, limit {MAX_SONG_BYTES}")]
    TooLarge { size: u64 },
    /// The chunk size is outside the accepted range or not a power of two.
    #[error("chunk size {0} not a power of two in {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}")]
    ChunkSize(u32),
    /// The hash list does not match size / chunk size.
    #[error("{got} chunk hashes for {expected} chunks")]
    ChunkCount { got: usize, expected: usize },
    /// A tag or the format hint is too long or has characters it must not have.
    #[error("field {field} rejected: {why}")]
    Field { field: &'static str, why: String },
}

/// A song's transfer description, as sent; the core checks it ([`Manifest::validate`])
/// and converts it before use.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub song: SongRef,
    pub size: u64,
    pub chunk_size: u32,
    pub chunks: Vec<[u8; 32]>,
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
            .finish_non_exhaustive()
    }
}

impl Manifest {
    /// Checks every bound; a manifest from a peer is used only if this passes.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.size > MAX_SONG_BYTES {
            return Err(ManifestError::TooLarge { size: self.size });
        }
        if !self.chunk_size.is_power_of_two()
            || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size)
        {
            return Err(ManifestError::ChunkSize(self.chunk_size));
        }
        let expected = self.size.div_ceil(u64::from(self.chunk_size.max(1))) as usize;
        if self.chunks.len() != expected || expected > MAX_CHUNKS {
            return Err(ManifestError::ChunkCount {
                got: self.chunks.len(),
                expected,
            });
        }
        if self.format.is_empty()
            || self.format.len() > MAX_FORMAT_LEN
            || !self
                .format
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(ManifestError::Field {
                field: "format",
                why: format!("{:?} is not a short lowercase extension", self.format),
            });
        }
        let tags = [
            ("title", Some(&self.title)),
            ("artist", self.artist.as_ref()),
            ("album", self.album.as_ref()),
        ];
        for (field, value) in tags {
            if let Some(v) = value {
                if v.len() > MAX_TAG_LEN || v.chars().any(char::is_control) {
                    return Err(ManifestError::Field {
                        field,
                        why: format!("{} bytes or control characters", v.len()),
                    });
                }
            }
        }
        Ok(())
    }
}

// MAX_NAME_LEN bounds box names; tags get their own, larger bound.
const _: () = assert!(MAX_TAG_LEN > super::MAX_NAME_LEN);
