//! Wire protocol: message types, the fixed header, datagram and stream framing, limits.
//!
//! Every message travels as a 4-byte header (`b"CH"`, protocol version, kind) followed by
//! the postcard encoding of the message body. A UDP datagram carries exactly one message
//! of at most [`MAX_DATAGRAM`] bytes; a TCP session carries one message of at most
//! [`MAX_FRAME`] bytes in each of its sealed frames (`crate::net::noise::SessionCodec`,
//! errors in [`frame::FrameError`]). Decoding is pure and never
//! panics: oversize input, a foreign magic, an unknown version or kind, a malformed
//! body, trailing bytes and out-of-limit fields are all typed [`DecodeError`]s.
//! A box with a party key sends every datagram inside a [`seal`] envelope (its own
//! marker and version); the message inside is the same as an open box sends.
//!
//! ```
//! use chorus::proto::{decode_datagram, encode_datagram, Beacon, BoxState, Message, NodeId, VERSION};
//!
//! let beacon = Beacon {
//!     id: NodeId(1),
//!     boot: 7,
//!     seq: 1,
//!     name: "kitchen".into(),
//!     unicast_port: 7701,
//!     control_port: 7702,
//!     state: BoxState::Idle,
//!     party: None,
//!     peers: vec![],
//! };
//! let bytes = encode_datagram(&Message::Beacon(beacon.clone()))?;
//! assert_eq!(&bytes[..4], &[b'C', b'H', VERSION, 1]); // magic, version, kind beacon
//! assert_eq!(decode_datagram(&bytes)?, Message::Beacon(beacon));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod beacon;
mod bulk;
mod error;
pub mod frame;
mod id;
pub mod manifest;
mod message;
mod party;
pub mod schedule;
pub mod seal;

pub use auth::{Forgery, MAC_LEN};
pub use beacon::{Beacon, BoxState, PartyId, PartySummary, PeerHint};
pub use bulk::Bulk;
pub use error::{DecodeError, EncodeError};
pub use id::{NodeId, ParseNodeIdError, SongRef};
pub use message::{decode, decode_datagram, encode, encode_datagram, encode_into, Kind, Message};
pub use party::{
    Control, Hello, Invite, MemberInfo, PartyPhase, RequestKind, Roster, TimeReply, TimeRequest,
};

/// The first two bytes of every message.
pub const MAGIC: [u8; 2] = *b"CH";
/// The protocol version this build speaks. A box drops messages of any other version.
/// 2: one skip encoding (`RequestKind::Playback(Action::Skip)`), no `RequestKind::Queue`.
/// 3: invitations carry the host's key and signature; clock sync carries MACs.
/// 4: the pool message carries the name of the playlist it follows.
/// 5: a manifest's chunk hashes are nodes of BLAKE3's tree over the song.
pub const VERSION: u8 = 5;
/// Header length: magic, version, kind.
pub const HEADER_LEN: usize = 4;
/// Largest UDP datagram we send or accept: fits the IPv6 minimum MTU with headroom.
pub const MAX_DATAGRAM: usize = 1200;
/// Largest TCP frame (header and body) we send or accept.
pub const MAX_FRAME: usize = 1 << 20;
/// Longest box name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 32;
/// Most peer hints one beacon carries.
pub const MAX_PEER_HINTS: usize = 16;
/// Most guests in one party (the roster must fit a frame with room to spare).
pub const MAX_MEMBERS: usize = 64;
/// Longest human-readable reason in a refusal or answer.
pub const MAX_REASON_LEN: usize = 200;
/// Longest song reference in a queue request.
pub const MAX_SONG_LEN: usize = 512;
/// Longest playlist name in a pool message, in bytes of UTF-8 (the host cuts longer ones).
pub const MAX_PLAYLIST_NAME_LEN: usize = 64;
/// Most songs in a party's pool message.
pub const MAX_POOL: usize = 256;
/// Most schedule entries in one message.
pub const MAX_SCHEDULE: usize = 1024;
