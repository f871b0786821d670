//! The session handshake and session messages from a stranger: arbitrary first and last
//! handshake messages to the responder, and arbitrary ciphertext to a live session. None
//! of it may panic, and no proof but a real one may yield a session.

#![no_main]

use bytes::BytesMut;
use chorus::identity::Identity;
use chorus::net::noise::{Initiator, Keys, Responder};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let keys = Keys::new(&Identity::generate()).unwrap();
    let (first, last) = rest.split_at(usize::from(cut).min(rest.len()));
    if let Ok((responder, _second)) = Responder::new(&keys, first) {
        // The last message must be encrypted to our ephemeral key and carry a signature
        // over a Noise key: random bytes never do.
        assert!(responder.finish(last).is_err());
    }

    // A live session between two honest boxes, then the stranger's bytes as messages.
    let dialer = Keys::new(&Identity::generate()).unwrap();
    let (initiator, m1) = Initiator::new(&dialer).unwrap();
    let (responder, m2) = Responder::new(&keys, &m1).unwrap();
    let (m3, _session) = initiator.finish(&m2).unwrap();
    let session = responder.finish(&m3).unwrap();
    assert_eq!(session.peer(), dialer.id());
    let mut codec = session.codec();
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(_)) = codec.decode(&mut buf) {}
});
