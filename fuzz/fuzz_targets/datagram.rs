//! One UDP datagram from anyone on the network: decoding never panics, and whatever
//! decodes encodes back to a datagram that decodes to the same message.

#![no_main]

use chorus::proto::{decode_datagram, encode_datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = decode_datagram(data) else {
        return;
    };
    let again = encode_datagram(&msg).expect("a decoded datagram re-encodes");
    assert!(again.len() <= data.len(), "re-encoding grew the message");
    assert_eq!(decode_datagram(&again).expect("re-decodes"), msg);
});
