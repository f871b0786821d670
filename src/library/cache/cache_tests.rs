//! Tests of the song cache through its public API and its documented on-disk layout.

use std::fs;
use std::io;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::files::hex;
use super::*;
use crate::core::transfer::manifest::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use crate::core::transfer::Tags;

pub(super) const CHUNK: usize = MIN_CHUNK_SIZE as usize;

pub(super) fn song_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

pub(super) fn manifest_of(data: &[u8]) -> Manifest {
    let tags = Tags {
        format: "flac".into(),
        title: "Song".into(),
        ..Tags::default()
    };
    Manifest::from_reader(data, MIN_CHUNK_SIZE, tags).unwrap()
}

pub(super) fn chunk<'a>(data: &'a [u8], m: &Manifest, i: u32) -> &'a [u8] {
    let r = m.chunk_range(i);
    &data[r.start as usize..r.end as usize]
}

pub(super) fn none() -> HashSet<SongRef> {
    HashSet::new()
}

/// Every file under `dir`, relative, sorted.
pub(super) fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Downloads `data` completely, in chunk order; returns its manifest and path.
fn download(cache: &mut Cache, data: &[u8], pinned: &HashSet<SongRef>) -> (Manifest, PathBuf) {
    let m = manifest_of(data);
    cache.begin(&m, pinned).unwrap();
    let mut last = None;
    for i in 0..m.chunk_count() {
        last = Some(cache.write_chunk(&m, i, chunk(data, &m, i)).unwrap());
    }
    match last {
        Some(Written::Complete(path)) => (m, path),
        other => panic!("download did not complete: {other:?}"),
    }
}

#[test]
fn shuffled_download_ends_as_one_verified_file_and_no_partial() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    let data = song_bytes(5 * CHUNK + 1234, 1);
    let m = manifest_of(&data);
    let final_path = dir.path().join(format!("songs/{}.flac", hex(&m.song)));
    let held = cache.begin(&m, &none()).unwrap();
    assert_eq!(held, ChunkSet::empty(6));
    let mut order: Vec<u32> = (0..6).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    for (n, &i) in order.iter().enumerate() {
        let written = cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
        if n + 1 < order.len() {
            assert_eq!(written, Written::Stored);
            assert!(!final_path.exists(), "final file before chunk {n} of 6");
            assert_eq!(cache.path_of(&m.song), None);
        } else {
            assert_eq!(written, Written::Complete(final_path.clone()));
        }
    }
    assert_eq!(fs::read(&final_path).unwrap(), data);
    assert_eq!(cache.path_of(&m.song), Some(final_path.clone()));
    assert_eq!(
        tree(dir.path()),
        vec![
            files::PLAYS_FILE.to_owned(),
            format!("songs/{}.flac", hex(&m.song)),
        ]
    );
    let usage = cache.usage();
    assert_eq!(
        (usage.used, usage.songs, usage.partials),
        (data.len() as u64, 1, 0)
    );
    // A late duplicate is harmless, and the song is found again after a restart.
    assert_eq!(
        cache.write_chunk(&m, 0, chunk(&data, &m, 0)).unwrap(),
        Written::Complete(final_path)
    );
    drop(cache);
    let cache = Cache::open(dir.path(), 10 << 20).unwrap();
    assert_eq!(cache.songs(), vec![(m.song, data.len() as u64)]);
}

#[test]
fn corrupt_chunk_is_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    let data = song_bytes(3 * CHUNK, 2);
    let m = manifest_of(&data);
    let part = dir.path().join(format!("partial/{}.part", hex(&m.song)));
    assert!(matches!(
        cache.write_chunk(&m, 0, chunk(&data, &m, 0)),
        Err(CacheError::NotStarted { .. })
    ));
    cache.begin(&m, &none()).unwrap();
    let mut bad = chunk(&data, &m, 1).to_vec();
    bad[100] ^= 1;
    for (i, bytes) in [
        (1, &bad[..]),
        (1, &bad[..10]),
        (0, chunk(&data, &m, 1)),
        (9, &bad[..]),
    ] {
        assert!(matches!(
            cache.write_chunk(&m, i, bytes),
            Err(CacheError::CorruptChunk { chunk, .. }) if chunk == i
        ));
    }
    assert!(
        fs::read(&part).unwrap().iter().all(|&b| b == 0),
        "no byte written"
    );
    drop(cache);
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    assert_eq!(cache.begin(&m, &none()).unwrap().count(), 0);
}

#[test]
fn resume_after_a_crash_keeps_exactly_the_good_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let data = song_bytes(5 * CHUNK, 3);
    let m = manifest_of(&data);
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    cache.begin(&m, &none()).unwrap();
    for i in [0, 1, 3] {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    drop(cache);
    // Damage held chunk 1 on disk, make the bitfield claim chunk 2 that never arrived,
    // and leave the temp files a crash mid-write would.
    let partial_dir = dir.path().join("partial");
    let part = partial_dir.join(format!("{}.part", hex(&m.song)));
    let mut bytes = fs::read(&part).unwrap();
    bytes[CHUNK + 5] ^= 0xff;
    fs::write(&part, bytes).unwrap();
    let have = partial_dir.join(format!("{}.have", hex(&m.song)));
    let mut lie = partial::load_have(&have, &m);
    assert!(lie.insert(2));
    partial::save_have(&have, &m, &lie).unwrap();
    let stray = partial_dir.join(format!("{}.have.tmp", hex(&m.song)));
    fs::write(&stray, b"half").unwrap();
    fs::write(dir.path().join("plays.json.tmp"), b"{").unwrap();

    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    assert!(!stray.exists());
    assert!(!dir.path().join("plays.json.tmp").exists());
    let held = cache.begin(&m, &none()).unwrap();
    assert_eq!(held.iter().collect::<Vec<_>>(), vec![0, 3]);
    // The corrected bitfield is what a second restart sees.
    assert_eq!(partial::load_have(&have, &m), held);
    for i in [1, 2, 4] {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    assert_eq!(fs::read(cache.path_of(&m.song).unwrap()).unwrap(), data);
}

#[test]
fn leftovers_of_a_crash_after_the_rename_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 10 << 20).unwrap();
    let data = song_bytes(CHUNK + 1, 4);
    let (m, path) = download(&mut cache, &data, &none());
    drop(cache);
    let have = dir.path().join(format!("partial/{}.have", hex(&m.song)));
    fs::write(&have, b"x").unwrap();
    fs::write(dir.path().join("songs/readme.txt"), b"not ours").unwrap();
    let cache = Cache::open(dir.path(), 10 << 20).unwrap();
    assert!(!have.exists(), "orphan bitfield removed");
    assert_eq!(cache.path_of(&m.song), Some(path));
    assert_eq!(
        cache.usage().used,
        data.len() as u64,
        "foreign files not counted"
    );
}

#[test]
fn eviction_follows_the_play_order_and_spares_pinned_songs() {
    let dir = tempfile::tempdir().unwrap();
    let size = CHUNK + 100;
    let mut cache = Cache::open(dir.path(), 3 * size as u64).unwrap();
    let songs: Vec<Vec<u8>> = (0..6).map(|s| song_bytes(size, 10 + s)).collect();
    let (a, _) = download(&mut cache, &songs[0], &none());
    let (b, _) = download(&mut cache, &songs[1], &none());
    let (c, _) = download(&mut cache, &songs[2], &none());
    cache.mark_played(&a.song).unwrap();
    // Least recently used first: b, c, a. b is pinned, so c goes.
    let pinned: HashSet<SongRef> = [b.song].into();
    let (d, _) = download(&mut cache, &songs[3], &pinned);
    assert_eq!(cache.path_of(&c.song), None);
    assert!(cache.path_of(&a.song).is_some() && cache.path_of(&b.song).is_some());
    assert_eq!(cache.usage().used, 3 * size as u64);

    // The order survives a restart: b (downloaded before a was played and d arrived).
    drop(cache);
    let mut cache = Cache::open(dir.path(), 3 * size as u64).unwrap();
    assert_eq!(cache.make_room(size as u64, &none()).unwrap(), vec![b.song]);
    assert_eq!(cache.make_room(size as u64, &none()).unwrap(), vec![]);

    let (e, _) = download(&mut cache, &songs[4], &none());

    // Impossible requests delete nothing.
    let all: HashSet<SongRef> = [a.song, d.song, e.song].into();
    let f = manifest_of(&songs[5]);
    assert!(matches!(
        cache.begin(&f, &all),
        Err(CacheError::QuotaExceeded { needed, .. }) if needed == size as u64
    ));
    let big = manifest_of(&song_bytes(3 * size + 1, 0));
    assert!(matches!(
        cache.begin(&big, &none()),
        Err(CacheError::QuotaExceeded { .. })
    ));
    assert_eq!(cache.songs().len(), 3);
    assert_eq!(
        cache.usage().partials,
        0,
        "refused downloads leave no partial"
    );
}

#[test]
fn a_download_in_progress_is_never_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let size = CHUNK;
    let mut cache = Cache::open(dir.path(), 2 * size as u64).unwrap();
    let (a, _) = download(&mut cache, &song_bytes(size, 1), &none());
    let b = manifest_of(&song_bytes(size, 2));
    cache.begin(&b, &none()).unwrap();
    let c = manifest_of(&song_bytes(size, 3));
    cache.begin(&c, &none()).unwrap();
    assert_eq!(cache.path_of(&a.song), None, "the complete song made room");
    let d = manifest_of(&song_bytes(size, 4));
    assert!(matches!(
        cache.begin(&d, &none()),
        Err(CacheError::QuotaExceeded { .. })
    ));
    cache.abandon(&b.song).unwrap();
    assert_eq!(cache.usage().partials, 1);
    cache.begin(&d, &none()).unwrap();
}

#[test]
fn read_chunk_serves_only_held_and_intact_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), u64::MAX).unwrap();
    let data = song_bytes(3 * CHUNK + 7, 8);
    let m = manifest_of(&data);
    let not_held = |r: Result<Vec<u8>, CacheError>, i: u32| {
        assert!(matches!(r, Err(CacheError::NotHeld { chunk, .. }) if chunk == i));
    };
    not_held(cache.read_chunk(&m, 0), 0);
    let mut huge_chunks = m.clone();
    huge_chunks.chunk_size = 1 << 30;
    assert!(matches!(
        cache.read_chunk(&huge_chunks, 0),
        Err(CacheError::BadManifest(_))
    ));
    cache.begin(&m, &none()).unwrap();
    cache.write_chunk(&m, 1, chunk(&data, &m, 1)).unwrap();
    assert_eq!(cache.read_chunk(&m, 1).unwrap(), chunk(&data, &m, 1));
    not_held(cache.read_chunk(&m, 0), 0);
    not_held(cache.read_chunk(&m, 4), 4);
    for i in [0, 2, 3] {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    for i in 0..4 {
        assert_eq!(cache.read_chunk(&m, i).unwrap(), chunk(&data, &m, i));
    }
    not_held(cache.read_chunk(&m, 4), 4);
    // Bit rot in a complete song is not passed on.
    let path = cache.path_of(&m.song).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[3 * CHUNK] ^= 1;
    fs::write(&path, bytes).unwrap();
    assert!(matches!(
        cache.read_chunk(&m, 3),
        Err(CacheError::CorruptChunk { chunk: 3, .. })
    ));
}

#[test]
fn a_failed_move_into_songs_is_retried_by_begin() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), u64::MAX).unwrap();
    let data = song_bytes(2 * CHUNK, 11);
    let m = manifest_of(&data);
    // A folder in the way makes the rename fail (permissions do not stop root).
    let dest = dir.path().join(format!("songs/{}.flac", hex(&m.song)));
    fs::create_dir_all(dest.join("blocker")).unwrap();
    cache.begin(&m, &none()).unwrap();
    cache.write_chunk(&m, 0, chunk(&data, &m, 0)).unwrap();
    assert!(matches!(
        cache.write_chunk(&m, 1, chunk(&data, &m, 1)),
        Err(CacheError::Io { .. })
    ));
    assert_eq!(cache.path_of(&m.song), None);
    fs::remove_dir_all(&dest).unwrap();
    assert!(cache.begin(&m, &none()).unwrap().is_complete());
    assert_eq!(cache.path_of(&m.song), Some(dest.clone()));
    assert_eq!(fs::read(&dest).unwrap(), data);
    assert_eq!(cache.usage().partials, 0);
}

#[test]
fn an_empty_song_is_complete_at_begin() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 0).unwrap();
    let m = manifest_of(&[]);
    assert!(cache.begin(&m, &none()).unwrap().is_complete());
    let path = cache.path_of(&m.song).unwrap();
    assert_eq!(fs::read(path).unwrap(), Vec::<u8>::new());
    assert_eq!(cache.usage().partials, 0);
}

#[test]
fn read_range_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.flac");
    let data = song_bytes(MAX_CHUNK_SIZE as usize + 10, 9);
    fs::write(&path, &data).unwrap();
    assert_eq!(read_range(&path, 10..20).unwrap(), &data[10..20]);
    assert_eq!(read_range(&path, 5..5).unwrap(), Vec::<u8>::new());
    let max = u64::from(MAX_CHUNK_SIZE);
    assert_eq!(read_range(&path, 1..1 + max).unwrap().len(), max as usize);
    let kind = |r: io::Result<Vec<u8>>| r.unwrap_err().kind();
    assert_eq!(
        kind(read_range(&path, 0..max + 1)),
        io::ErrorKind::InvalidInput
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 20..10;
    assert_eq!(
        kind(read_range(&path, backwards)),
        io::ErrorKind::InvalidInput
    );
    let end = data.len() as u64;
    assert_eq!(
        kind(read_range(&path, end - 5..end + 5)),
        io::ErrorKind::UnexpectedEof
    );
    assert_eq!(
        kind(read_range(&dir.path().join("gone"), 0..1)),
        io::ErrorKind::NotFound
    );
}

#[test]
fn a_full_disk_is_reported_as_such() {
    let p = Path::new("/x");
    let enospc = io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error());
    assert!(matches!(
        CacheError::io(p, enospc),
        CacheError::DiskFull { .. }
    ));
    let full = io::Error::from(io::ErrorKind::StorageFull);
    assert!(matches!(
        CacheError::io(p, full),
        CacheError::DiskFull { .. }
    ));
    let denied = io::Error::from(io::ErrorKind::PermissionDenied);
    assert!(matches!(CacheError::io(p, denied), CacheError::Io { .. }));
}

/// Progress is saved in batches: a clean stop saves what is pending; a crash loses at most
/// the last unsaved chunks, which resume treats as missing (never as held).
#[test]
fn progress_is_saved_in_batches_and_a_crash_loses_only_the_unsaved_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let data = song_bytes(CHUNK * 40, 9);
    let m = manifest_of(&data);
    let mut cache = Cache::open(dir.path(), 1 << 30).unwrap();
    cache.begin(&m, &none()).unwrap();
    let batch = download::SAVE_EVERY;
    for i in 0..batch + 3 {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    // A crash: no drop, so nothing after the first full batch reached the `.have` file.
    std::mem::forget(cache);
    let mut cache = Cache::open(dir.path(), 1 << 30).unwrap();
    let have = cache.begin(&m, &none()).unwrap();
    assert_eq!(
        have.iter().collect::<Vec<_>>(),
        (0..batch).collect::<Vec<_>>()
    );
    for i in batch..batch + 3 {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    // A clean stop saves everything.
    drop(cache);
    let mut cache = Cache::open(dir.path(), 1 << 30).unwrap();
    let have = cache.begin(&m, &none()).unwrap();
    assert_eq!(have.count(), batch + 3);
    for i in have.missing().collect::<Vec<_>>() {
        cache.write_chunk(&m, i, chunk(&data, &m, i)).unwrap();
    }
    assert_eq!(fs::read(cache.path_of(&m.song).unwrap()).unwrap(), data);
}
