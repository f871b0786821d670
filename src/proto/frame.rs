//! Stream framing for TCP: length-delimited frames (tokio-util) carrying one message each.

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use super::{decode, encode_into, DecodeError, EncodeError, Message, MAX_FRAME};

/// Why a stream cannot go on. Unlike a bad datagram, a bad frame ends the connection:
/// the stream's framing can no longer be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The socket failed; reconnect.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer announced a frame larger than [`MAX_FRAME`]; close the connection.
    #[error("frame exceeds {MAX_FRAME} bytes")]
    TooLarge,
    /// A complete frame that is not a valid message; close the connection.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// We tried to send an invalid message; a bug on our side, the frame was not sent.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A tokio-util codec: 4-byte big-endian length, then one message of at most
/// [`MAX_FRAME`] bytes. The length is checked before any body byte is buffered, so a
/// peer cannot make us allocate more than one maximum frame (decoding is tokio-util's
/// `LengthDelimitedCodec`; encoding writes the same layout in place).
#[derive(Debug)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec {
            inner: LengthDelimitedCodec::builder()
                .length_field_length(4)
                .max_frame_length(MAX_FRAME)
                .new_codec(),
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        match self.inner.decode(src) {
            Ok(Some(frame)) => Ok(Some(decode(&frame, MAX_FRAME)?)),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(FrameError::TooLarge),
            Err(e) => Err(FrameError::Io(e)),
        }
    }
}

impl Encoder<&Message> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        // The message goes straight behind a placeholder for its length (what
        // `LengthDelimitedCodec` would write), saving a copy of every chunk.
        let start = dst.len();
        dst.put_u32(0);
        if let Err(e) = encode_into(msg, MAX_FRAME, dst) {
            dst.truncate(start);
            return Err(e.into());
        }
        let len = u32::try_from(dst.len() - start - 4).map_err(|_| FrameError::TooLarge)?;
        dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::NodeId;
    use crate::proto::{Beacon, BoxState};

    fn beacon() -> Message {
        Message::Beacon(Beacon {
            id: NodeId(1),
            boot: 9,
            seq: 2,
            name: "a".into(),
            unicast_port: 3,
            control_port: 4,
            state: BoxState::Member,
            party: None,
            peers: vec![],
        })
    }

    #[test]
    fn golden_frame_has_big_endian_length_prefix() {
        let mut buf = BytesMut::new();
        FrameCodec::default().encode(&beacon(), &mut buf).unwrap();
        assert_eq!(
            &buf[..],
            &[0, 0, 0, 14, b'C', b'H', 5, 1, 1, 9, 2, 1, b'a', 3, 4, 2, 0, 0][..]
        );
    }

    #[test]
    fn decodes_frames_split_across_reads() {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&beacon(), &mut wire).unwrap();
        codec.encode(&beacon(), &mut wire).unwrap();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire.iter() {
            buf.extend_from_slice(&[*byte]);
            while let Some(msg) = codec.decode(&mut buf).unwrap() {
                got.push(msg);
            }
        }
        assert_eq!(got, vec![beacon(), beacon()]);
    }

    #[test]
    fn a_message_that_cannot_be_encoded_leaves_the_buffer_as_it_was() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        codec.encode(&beacon(), &mut buf).unwrap();
        let before = buf.clone();
        let Message::Beacon(mut long) = beacon() else {
            unreachable!()
        };
        long.name = "x".repeat(crate::proto::MAX_NAME_LEN + 1);
        let refused = codec.encode(&Message::Beacon(long), &mut buf);
        assert!(matches!(refused, Err(FrameError::Encode(_))), "{refused:?}");
        assert_eq!(buf, before);
        // The stream goes on: the next frame decodes after the first.
        codec.encode(&beacon(), &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(beacon()));
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(beacon()));
    }

    #[test]
    fn oversize_length_is_refused_before_buffering() {
        let mut codec = FrameCodec::default();
        let len = u32::try_from(MAX_FRAME + 1).unwrap();
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        assert!(matches!(codec.decode(&mut buf), Err(FrameError::TooLarge)));
    }

    #[test]
    fn garbage_frame_is_a_decode_error() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, b'C', b'H', 5, 1, 0xff][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::Decode(DecodeError::Malformed { .. }))
        ));
    }
}
