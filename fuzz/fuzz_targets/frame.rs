//! A peer's stream, authentic but hostile: frames sealed in a genuine session, holding
//! whatever plaintext the fuzzer chooses, cut into reads at arbitrary points. The session
//! codec gives the same messages and the same first error however the bytes arrive, and
//! never buffers more than one frame. The input's layout: `fuzz/frame_input.rs`.

#![no_main]

use std::sync::OnceLock;

use bytes::BytesMut;
use chorus::identity::Identity;
use chorus::net::noise::{Initiator, Keys, Responder, Session, SessionCodec};
use chorus::proto::{Message, MAX_FRAME};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[path = "../frame_input.rs"]
mod frame_input;

/// One session for every input: a fresh codec starts its nonces at zero.
fn sessions() -> &'static (Session, Session) {
    static SESSIONS: OnceLock<(Session, Session)> = OnceLock::new();
    SESSIONS.get_or_init(|| {
        let (dialer, acceptor) = (Identity::generate(), Identity::generate());
        let (dialer, acceptor) = (Keys::new(&dialer).unwrap(), Keys::new(&acceptor).unwrap());
        let (initiator, m1) = Initiator::new(&dialer).unwrap();
        let (responder, m2) = Responder::new(&acceptor, &m1).unwrap();
        let (m3, sender) = initiator.finish(&m2).unwrap();
        (sender, responder.finish(&m3).unwrap())
    })
}

/// Everything the codec yields until it needs more bytes or fails; a failure ends the
/// stream as it ends the connection.
fn drain(codec: &mut SessionCodec, buf: &mut BytesMut, out: &mut Vec<Message>) -> Option<String> {
    loop {
        match codec.decode(buf) {
            Ok(Some(msg)) => out.push(msg),
            Ok(None) => return None,
            Err(e) => return Some(e.to_string()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (sender, receiver) = sessions();
    let Some((cut, stream)) = frame_input::sealed_stream(&mut sender.codec(), data) else {
        return;
    };

    let mut whole = Vec::new();
    let whole_err = drain(&mut receiver.codec(), &mut stream.clone(), &mut whole);

    let step = usize::from(cut % 61) + 1;
    let mut pieces = Vec::new();
    let mut pieces_err = None;
    let mut rx = receiver.codec();
    let mut buf = BytesMut::new();
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        pieces_err = drain(&mut rx, &mut buf, &mut pieces);
        assert!(
            buf.capacity() <= 2 * (MAX_FRAME + 4 + 16) + step,
            "buffer grew past a frame"
        );
        if pieces_err.is_some() {
            break;
        }
    }
    assert_eq!(whole, pieces);
    assert_eq!(whole_err, pieces_err);
});
