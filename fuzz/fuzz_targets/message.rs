//! One message of up to a whole stream frame (control and bulk streams): every kind's
//! body decodes or fails with an error, and a decoded message round-trips.

#![no_main]

use chorus::proto::{decode, encode, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = decode(data, MAX_FRAME) else {
        return;
    };
    let again = encode(&msg, MAX_FRAME).expect("a decoded message re-encodes");
    assert!(again.len() <= data.len(), "re-encoding grew the message");
    assert_eq!(decode(&again, MAX_FRAME).expect("re-decodes"), msg);
});
