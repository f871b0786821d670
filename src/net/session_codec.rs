//! Frames inside a session: each frame sealed whole with the keys its handshake yielded.
//!
//! A frame is a 4-byte big-endian length, then one message ([`crate::proto`]) of at most
//! [`MAX_FRAME`] bytes sealed with ChaCha20-Poly1305: the length counts the 16-byte tag
//! and is the associated data. The keys are the two the Noise handshake's final split
//! gives (one per direction) and the nonce is Noise's (4 zero bytes, then a 64-bit
//! counter, little-endian), so a frame is what a Noise transport message would be but
//! for the 64 KiB limit. That limit is why frames are not Noise messages: a 512 KiB
//! chunk went out as nine of them, each copied to be sealed and copied again on arrival
//! to be put back together. A whole frame is sealed where it was encoded and opened where
//! it arrived.

use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use tokio_util::codec::{Decoder, Encoder};

use crate::proto::frame::FrameError;
use crate::proto::{decode, encode_into, Message, MAX_FRAME};

/// The length before each frame.
const HEADER: usize = 4;
/// The authentication tag after each frame's message.
pub(crate) const TAG: usize = 16;

/// One session's two keys: the one this box seals with and the one it opens with.
pub(crate) struct SessionKeys {
    send: LessSafeKey,
    recv: LessSafeKey,
}

impl std::fmt::Debug for SessionKeys {
    // Never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys")
    }
}

impl SessionKeys {
    /// The keys of the side that sends with `send` and receives with `recv`.
    pub(crate) fn new(
        send: &[u8; 32],
        recv: &[u8; 32],
    ) -> Result<SessionKeys, ring::error::Unspecified> {
        let key = |k: &[u8; 32]| UnboundKey::new(&CHACHA20_POLY1305, k).map(LessSafeKey::new);
        Ok(SessionKeys {
            send: key(send)?,
            recv: key(recv)?,
        })
    }
}

/// A tokio-util codec for a session's frames. A connection split into a reader and a
/// writer takes a codec each: each direction counts its own nonces. A frame that fails
/// authentication, or announces more than a maximum frame, ends the connection; its
/// length is checked before any body byte is buffered.
#[derive(Debug)]
pub struct SessionCodec {
    keys: Arc<SessionKeys>,
    send_nonce: u64,
    recv_nonce: u64,
}

impl SessionCodec {
    pub(crate) fn new(keys: Arc<SessionKeys>) -> SessionCodec {
        SessionCodec {
            keys,
            send_nonce: 0,
            recv_nonce: 0,
        }
    }

    /// Seals `plain` as one frame, whatever it holds: what a box with a genuine session
    /// and hostile intent could send. Boxes send only messages ([`Encoder`]); the tests
    /// and fuzz targets use this to reach the decoder past the cipher.
    pub fn seal_bytes(&mut self, plain: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.put_u32(0);
        dst.extend_from_slice(plain);
        self.seal(start, dst)
    }

    /// Seals the bytes after the 4-byte placeholder at `start`, where they lie, and
    /// fills in the length; on failure `dst` is as it was before the placeholder.
    fn seal(&mut self, start: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
        let body = start + HEADER;
        let (after, len) = match (next(self.send_nonce), u32::try_from(dst.len() - body + TAG)) {
            (Ok(after), Ok(len)) => (after, len),
            (Err(e), _) => {
                dst.truncate(start);
                return Err(e);
            }
            (_, Err(_)) => {
                dst.truncate(start);
                return Err(FrameError::TooLarge);
            }
        };
        let head = len.to_be_bytes();
        dst[start..body].copy_from_slice(&head);
        let sealed = self.keys.send.seal_in_place_separate_tag(
            nonce(self.send_nonce),
            Aad::from(head),
            &mut dst[body..],
        );
        let Ok(tag) = sealed else {
            dst.truncate(start);
            return Err(invalid("a session frame could not be encrypted"));
        };
        dst.extend_from_slice(tag.as_ref());
        self.send_nonce = after;
        Ok(())
    }
}

fn invalid(what: &'static str) -> FrameError {
    FrameError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, what))
}

fn nonce(n: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// The nonce after `n`; a session that used them all must end (never in practice).
fn next(n: u64) -> Result<u64, FrameError> {
    n.checked_add(1)
        .ok_or_else(|| invalid("session nonces exhausted"))
}

impl Decoder for SessionCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        let Some(&[a, b, c, d]) = src.get(..HEADER) else {
            return Ok(None);
        };
        let head = [a, b, c, d];
        let len = usize::try_from(u32::from_be_bytes(head)).map_err(|_| FrameError::TooLarge)?;
        if len > MAX_FRAME + TAG {
            return Err(FrameError::TooLarge);
        }
        if len < TAG {
            return Err(invalid("a session frame shorter than its tag"));
        }
        if src.len() < HEADER + len {
            src.reserve(HEADER + len - src.len());
            return Ok(None);
        }
        let after = next(self.recv_nonce)?;
        src.advance(HEADER);
        let mut sealed = src.split_to(len);
        let plain = self
            .keys
            .recv
            .open_in_place(nonce(self.recv_nonce), Aad::from(head), &mut sealed)
            .map_err(|_| invalid("a session frame failed authentication"))?;
        self.recv_nonce = after;
        Ok(Some(decode(plain, MAX_FRAME)?))
    }
}

impl Encoder<&Message> for SessionCodec {
    type Error = FrameError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.put_u32(0);
        if let Err(e) = encode_into(msg, MAX_FRAME, dst) {
            dst.truncate(start);
            return Err(e.into());
        }
        self.seal(start, dst)
    }
}
