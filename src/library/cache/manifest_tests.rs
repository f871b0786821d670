//! Tests of what the cache makes of manifests: one that lies about its song, one that
//! breaks the bounds, another cut of the same song, and a `.part` file changed by
//! something else.

use std::fs;

use super::files::hex;
use super::tests::{chunk, manifest_of, none, song_bytes, tree, CHUNK};
use super::*;
use crate::core::transfer::manifest::{MAX_SONG_BYTES, MIN_CHUNK_SIZE};
use crate::core::transfer::{ManifestError, Tags};

#[test]
fn a_manifest_that_lies_about_its_song_is_refused_before_a_byte_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    let data = song_bytes(2 * CHUNK + 10, 5);
    let mut m = manifest_of(&data);
    // Chunk hashes all match the data, the song hash is another's.
    m.song = SongRef(*blake3::hash(b"another song").as_bytes());
    assert!(matches!(
        cache.begin(&m, &none()),
        Err(CacheError::BadManifest(ManifestError::HashTree))
    ));
    assert!(matches!(
        cache.write_chunk(&m, 0, chunk(&data, &m, 0)),
        Err(CacheError::NotStarted { .. })
    ));
    assert_eq!(cache.path_of(&m.song), None);
    assert_eq!(tree(dir.path()), Vec::<String>::new());
    assert_eq!(cache.usage().partials, 0);
    assert_eq!(cache.usage().used, 0);
}

#[test]
fn a_part_file_grown_by_something_else_is_a_corrupt_song_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    let data = song_bytes(2 * CHUNK + 10, 6);
    let m = manifest_of(&data);
    cache.begin(&m, &none()).unwrap();
    cache.write_chunk(&m, 0, chunk(&data, &m, 0)).unwrap();
    let part = dir.path().join(format!("partial/{}.part", hex(&m.song)));
    let mut grown = fs::read(&part).unwrap();
    grown.extend_from_slice(b"appended");
    fs::write(&part, grown).unwrap();
    cache.write_chunk(&m, 2, chunk(&data, &m, 2)).unwrap();
    assert!(matches!(
        cache.write_chunk(&m, 1, chunk(&data, &m, 1)),
        Err(CacheError::CorruptSong { song }) if song == m.song
    ));
    assert_eq!(cache.path_of(&m.song), None);
    assert_eq!(tree(dir.path()), Vec::<String>::new());
    assert_eq!(cache.usage().partials, 0);
}

#[test]
fn hostile_manifests_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let mut cache = Cache::open(&cache_dir, u64::MAX).unwrap();
    let data = song_bytes(CHUNK, 6);
    let mut m = manifest_of(&data);
    m.format = "../../etc".into();
    assert!(matches!(
        cache.begin(&m, &none()),
        Err(CacheError::BadManifest(_))
    ));
    let mut huge = manifest_of(&data);
    huge.size = MAX_SONG_BYTES + 1;
    assert!(matches!(
        cache.begin(&huge, &none()),
        Err(CacheError::BadManifest(_))
    ));
    assert_eq!(tree(dir.path()), Vec::<String>::new());
}

#[test]
fn a_changed_manifest_for_the_same_song_is_checked_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), u64::MAX).unwrap();
    let data = song_bytes(4 * CHUNK, 7);
    let good = manifest_of(&data);
    cache.begin(&good, &none()).unwrap();
    cache.write_chunk(&good, 0, chunk(&data, &good, 0)).unwrap();
    // The same song cut into chunks twice as long.
    let tags = Tags {
        format: "flac".into(),
        ..Tags::default()
    };
    let other = Manifest::from_reader(&data[..], 2 * MIN_CHUNK_SIZE, tags).unwrap();
    assert_eq!(other.song, good.song);
    assert!(matches!(
        cache.write_chunk(&other, 1, chunk(&data, &good, 1)),
        Err(CacheError::NotStarted { .. })
    ));
    assert_eq!(cache.begin(&other, &none()).unwrap().count(), 0);
    assert!(matches!(
        cache.write_chunk(&other, 0, chunk(&data, &good, 0)),
        Err(CacheError::CorruptChunk { chunk: 0, .. })
    ));
    assert!(matches!(
        cache.write_chunk(&good, 1, chunk(&data, &good, 1)),
        Err(CacheError::NotStarted { .. })
    ));
}
