//! Tests of [`Cache::write_verified`]: chunks the transfer machine verified are stored
//! without hashing them again, but only as chunks of the manifest they were verified for.

use bytes::Bytes;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::tests::{chunk, manifest_of, none, song_bytes, CHUNK};
use super::*;
use crate::core::transfer::manifest::MIN_CHUNK_SIZE;
use crate::core::transfer::{Tags, VerifiedChunk};

fn verified(data: &[u8], m: &Manifest, i: u32) -> VerifiedChunk {
    m.verified(i, Bytes::copy_from_slice(chunk(data, m, i)))
        .unwrap()
}

/// A cache in a new folder that has begun downloading `data`.
fn begun(data: Vec<u8>) -> (tempfile::TempDir, Cache, Vec<u8>, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), u64::MAX).unwrap();
    let m = manifest_of(&data);
    cache.begin(&m, &none()).unwrap();
    (dir, cache, data, m)
}

#[test]
fn verified_chunks_in_any_order_complete_the_song() {
    let (_dir, mut cache, data, m) = begun(song_bytes(5 * CHUNK + 123, 3));
    let mut order: Vec<u32> = (0..m.chunk_count()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(5));
    let mut last = None;
    for i in order {
        assert!(
            cache.path_of(&m.song).is_none(),
            "complete before the last chunk"
        );
        last = Some(cache.write_verified(&m, &verified(&data, &m, i)).unwrap());
    }
    let Some(Written::Complete(path)) = last else {
        panic!("not complete: {last:?}");
    };
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let again = cache.write_verified(&m, &verified(&data, &m, 0));
    assert_eq!(again.unwrap(), Written::Complete(path));
}

#[test]
fn a_chunk_held_already_is_not_counted_twice() {
    let (_dir, mut cache, data, m) = begun(song_bytes(3 * CHUNK, 4));
    let v = verified(&data, &m, 1);
    assert_eq!(cache.write_verified(&m, &v).unwrap(), Written::Stored);
    assert_eq!(cache.write_verified(&m, &v).unwrap(), Written::Stored);
    assert_eq!(
        cache.write_verified(&m, &verified(&data, &m, 0)).unwrap(),
        Written::Stored
    );
    assert!(matches!(
        cache.write_verified(&m, &verified(&data, &m, 2)).unwrap(),
        Written::Complete(_)
    ));
}

#[test]
fn a_chunk_verified_against_another_cut_of_the_song_is_refused() {
    let (_dir, mut cache, data, m) = begun(song_bytes(4 * CHUNK, 5));
    let coarse = Manifest::from_reader(&data[..], 2 * MIN_CHUNK_SIZE, Tags::default()).unwrap();
    let v = verified(&data, &coarse, 0);
    assert!(matches!(
        cache.write_verified(&m, &v),
        Err(CacheError::CorruptChunk { chunk: 0, .. })
    ));
    assert_eq!(cache.begin(&m, &none()).unwrap().count(), 0);
    // A song never begun: nothing is written.
    let other = manifest_of(&song_bytes(CHUNK, 7));
    let v = verified(&song_bytes(CHUNK, 7), &other, 0);
    assert!(matches!(
        cache.write_verified(&other, &v),
        Err(CacheError::NotStarted { .. })
    ));
}
