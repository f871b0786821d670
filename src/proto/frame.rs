//! Why a TCP stream between boxes cannot go on: the error of its frames
//! (`crate::net::noise::SessionCodec` cuts and seals them).

use super::{DecodeError, EncodeError, MAX_FRAME};

/// Why a stream cannot go on. Unlike a bad datagram, a bad frame ends the connection:
/// the stream's framing can no longer be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The socket failed, or a frame failed authentication; reconnect.
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
