//! A TCP byte stream cut into reads at arbitrary points: the frame codec gives the same
//! messages and the same first error however the bytes arrive, and never buffers more
//! than one frame.

#![no_main]

use bytes::BytesMut;
use chorus::proto::frame::FrameCodec;
use chorus::proto::{Message, MAX_FRAME};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Everything the codec yields until it needs more bytes or fails; a failure ends the
/// stream as it ends the connection.
fn drain(codec: &mut FrameCodec, buf: &mut BytesMut, out: &mut Vec<Message>) -> Option<String> {
    loop {
        match codec.decode(buf) {
            Ok(Some(msg)) => out.push(msg),
            Ok(None) => return None,
            Err(e) => return Some(e.to_string()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let mut whole = Vec::new();
    let mut buf = BytesMut::from(stream);
    let whole_err = drain(&mut FrameCodec::default(), &mut buf, &mut whole);

    let step = usize::from(cut % 61) + 1;
    let mut pieces = Vec::new();
    let mut pieces_err = None;
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        pieces_err = drain(&mut codec, &mut buf, &mut pieces);
        assert!(
            buf.capacity() <= 2 * (MAX_FRAME + 4) + step,
            "buffer grew past a frame"
        );
        if pieces_err.is_some() {
            break;
        }
    }
    assert_eq!(whole, pieces);
    assert_eq!(whole_err, pieces_err);
});
