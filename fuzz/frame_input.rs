//! The `frame` fuzz target's input as a session stream, shared by the target and its
//! replay in `tests/fuzz_regressions.rs`: one byte that sets where reads are cut, then
//! plaintexts, each after its length (4 bytes, little-endian; the last one takes
//! whatever is left), sealed in order by `tx`.

use bytes::BytesMut;
use chorus::net::noise::SessionCodec;

/// The cut byte and the sealed stream; `None` for an empty input.
pub fn sealed_stream(tx: &mut SessionCodec, data: &[u8]) -> Option<(u8, BytesMut)> {
    let (&cut, mut rest) = data.split_first()?;
    let mut stream = BytesMut::new();
    while !rest.is_empty() {
        let (len, tail) = match rest.split_first_chunk::<4>() {
            Some((len, tail)) => (u32::from_le_bytes(*len) as usize, tail),
            None => (rest.len(), rest),
        };
        let (plain, tail) = tail.split_at(len.min(tail.len()));
        tx.seal_bytes(plain, &mut stream)
            .expect("a frame under 4 GiB seals");
        rest = tail;
    }
    Some((cut, stream))
}
