//! Errors of encoding and decoding wire messages.

use super::{MAX_DATAGRAM, VERSION};

/// Why received bytes are not a message. Every variant means "drop it and count it";
/// none is a reason to close a healthy connection except where noted.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the header: truncated, or not ours.
    #[error("message too short: {len} bytes")]
    TooShort { len: usize },
    /// Larger than the transport allows: a hostile or broken sender.
    #[error("message too large: {len} bytes, limit {limit}")]
    TooLarge { len: usize, limit: usize },
    /// Another protocol on our port.
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 2]),
    /// A box running another chorus release; upgrade one of them.
    #[error("protocol version {got}, this box speaks {VERSION}")]
    UnsupportedVersion { got: u8 },
    /// A message kind this release does not know (possibly a newer peer).
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// The body does not decode as the kind's type.
    #[error("malformed {kind} body: {reason}")]
    Malformed { kind: &'static str, reason: String },
    /// Bytes left over after a complete body: framing is broken or the sender lies.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The body decoded but a field breaks a protocol limit.
    #[error("{field} exceeds its limit: {detail}")]
    Limit { field: &'static str, detail: String },
}

/// Why a message could not be encoded: a bug in the caller, who built an out-of-limit
/// message. The message is not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message would exceed the transport's limit.
    #[error("encoded message is {len} bytes, limit {limit}")]
    TooLarge { len: usize, limit: usize },
    /// A field breaks a protocol limit (same check as on receipt).
    #[error("{field} exceeds its limit: {detail}")]
    Limit { field: &'static str, detail: String },
    /// The serializer failed (should not happen for our types).
    #[error("serialization failed: {0}")]
    Serialize(String),
}

impl EncodeError {
    pub(crate) fn datagram_too_large(len: usize) -> Self {
        EncodeError::TooLarge {
            len,
            limit: MAX_DATAGRAM,
        }
    }
}
