//! A song's manifest as it travels: size, chunk size, the BLAKE3 hash of every chunk and
//! the tags shown while it downloads, with the bounds a received one must keep and the
//! check that its chunk hashes add up to the song's own hash.

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};
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
    /// The chunk hashes do not add up to the song's hash: the sender lies or is broken;
    /// refuse the manifest and fetch it elsewhere.
    #[error("the chunk hashes do not make the song's hash")]
    HashTree,
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
    /// Checks every bound and that the chunk hashes make the song's hash; a manifest from
    /// a peer is used only if this passes.
    pub fn validate(&self) -> Result<(), ManifestError> {
        self.check_bounds()?;
        if tree_root(&self.chunks) != self.song.0 {
            return Err(ManifestError::HashTree);
        }
        Ok(())
    }

    /// Checks every bound (size, chunk size and count, tags), not the hashes: what a
    /// holder of a manifest that was validated once needs before it trusts the counts.
    pub fn check_bounds(&self) -> Result<(), ManifestError> {
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

/// The BLAKE3 hash of a song whose chunks have the hashes `chunks` ([`chunk_hash`]).
///
/// Chunk sizes are powers of two of at least 16 KiB, so every chunk is a complete subtree
/// of BLAKE3's own tree over the file (its left subtrees hold the largest power of two of
/// chunks smaller than the whole): the chunk hashes merge into the song's hash, and a
/// manifest is checked against the song it names before a byte of it is fetched.
pub fn tree_root(chunks: &[[u8; 32]]) -> [u8; 32] {
    match chunks {
        [] => *blake3::hash(&[]).as_bytes(),
        [only] => *only,
        _ => {
            let (left, right) = chunks.split_at(left_len(chunks.len()));
            *merge_subtrees_root(&subtree(left), &subtree(right), Mode::Hash).as_bytes()
        }
    }
}

/// The hash of chunk `index` of a song cut into `count` chunks of `chunk_size` bytes,
/// `data` being its bytes: the chaining value of its subtree, or for a song of one chunk
/// the song's hash itself. `None` where no chunk of such a song can be `data` (see
/// [`chunk_cv`]).
pub fn chunk_hash(index: u32, count: u32, chunk_size: u32, data: &[u8]) -> Option<[u8; 32]> {
    match count {
        0 | 1 => Some(*blake3::hash(data).as_bytes()),
        _ => chunk_cv(index, chunk_size, data),
    }
}

/// The chaining value of chunk `index` as one chunk of several: [`chunk_hash`] of any
/// chunk of a song of two chunks or more. `None` unless `chunk_size` is a power of two of
/// at least BLAKE3's 1 KiB chunk and `data` holds 1 to `chunk_size` bytes: BLAKE3's tree
/// has no such subtree (and its functions would panic).
pub fn chunk_cv(index: u32, chunk_size: u32, data: &[u8]) -> Option<[u8; 32]> {
    let fits = chunk_size.is_power_of_two()
        && chunk_size as usize >= blake3::CHUNK_LEN
        && !data.is_empty()
        && data.len() <= chunk_size as usize;
    let offset = u64::from(index) * u64::from(chunk_size);
    fits.then(|| {
        blake3::Hasher::new()
            .set_input_offset(offset)
            .update(data)
            .finalize_non_root()
    })
}

/// The chaining value of the subtree over `cvs` (at least one).
fn subtree(cvs: &[[u8; 32]]) -> [u8; 32] {
    match cvs {
        [only] => *only,
        _ => {
            let (left, right) = cvs.split_at(left_len(cvs.len()));
            merge_subtrees_non_root(&subtree(left), &subtree(right), Mode::Hash)
        }
    }
}

/// How many of `n` (at least two) chunks BLAKE3 puts in the left subtree: the largest
/// power of two below `n`.
fn left_len(n: usize) -> usize {
    n.div_ceil(2).next_power_of_two()
}

// MAX_NAME_LEN bounds box names; tags get their own, larger bound.
const _: () = assert!(MAX_TAG_LEN > super::MAX_NAME_LEN);
