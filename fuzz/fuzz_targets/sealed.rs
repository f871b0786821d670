//! One UDP datagram from anyone at a keyed box: opening it never panics, and whatever
//! opens (only what the key sealed) is at most a datagram and decodes without panicking.

#![no_main]

use chorus::party_key::PartyKey;
use chorus::proto::{decode_datagram, MAX_DATAGRAM};
use libfuzzer_sys::fuzz_target;

/// The key the seed corpus seals with (`seeds/main.rs`).
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fuzz_target!(|data: &[u8]| {
    let key = PartyKey::derive(KEY).expect("a valid key");
    if let Ok(plain) = key.open(data) {
        assert!(plain.len() <= MAX_DATAGRAM, "opened more than a datagram");
        let _ = decode_datagram(&plain);
    }
});
