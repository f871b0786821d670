//! A song manifest from a peer (the body of `Bulk::Manifest`): it decodes only within
//! bounds, converts to the core's manifest, and every chunk range the core then computes
//! lies inside the song. Bitfields (`Bulk::Have`) for it load or are refused.

#![no_main]

use chorus::core::transfer::{ChunkSet, Manifest};
use chorus::proto::{decode, Bulk, Message, HEADER_LEN, MAGIC, MAX_FRAME, VERSION};
use libfuzzer_sys::fuzz_target;

/// `Bulk::Manifest` is the third variant: postcard writes its index as one byte.
const BULK_MANIFEST: u8 = 2;
/// `Message::Bulk` on the wire.
const KIND_BULK: u8 = 6;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::with_capacity(HEADER_LEN + 1 + data.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&[VERSION, KIND_BULK, BULK_MANIFEST]);
    bytes.extend_from_slice(data);
    let Ok(Message::Bulk(Bulk::Manifest(wire))) = decode(&bytes, MAX_FRAME) else {
        return;
    };
    let manifest = Manifest::try_from(*wire).expect("a decoded manifest passed validate");
    let mut covered = 0u64;
    for i in 0..manifest.chunk_count() {
        let range = manifest.chunk_range(i);
        assert_eq!(range.start, covered, "chunks leave a gap or overlap");
        assert!(range.end <= manifest.size && !range.is_empty());
        assert_eq!(manifest.chunk_len(i) as u64, range.end - range.start);
        covered = range.end;
    }
    assert_eq!(covered, manifest.size, "chunks do not cover the song");
    assert!(manifest.chunk_range(manifest.chunk_count()).is_empty());
    assert!(!manifest.verify_chunk(manifest.chunk_count(), &[]));

    // The remaining bytes, read as a peer's bitfield for this song.
    let count = manifest.chunk_count();
    let bits = data[data.len() / 2..].to_vec();
    if let Ok(set) = ChunkSet::from_bits(count, bits) {
        assert_eq!(set.len(), count);
        assert!(set.count() <= count && set.iter().all(|i| i < count));
    }
});
