//! The message enum, its kinds, and the pure encode/decode of header + postcard body.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use super::{
    Beacon, Bulk, Control, DecodeError, EncodeError, Invite, TimeReply, TimeRequest, HEADER_LEN,
    MAGIC, MAX_DATAGRAM, VERSION,
};

/// The kind byte of the header: which type the body decodes as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Beacon = 1,
    Invite = 2,
    Control = 3,
    TimeRequest = 4,
    TimeReply = 5,
    Bulk = 6,
}

impl Kind {
    /// The kind for a header byte, if this release knows it.
    pub fn from_u8(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Beacon),
            2 => Some(Kind::Invite),
            3 => Some(Kind::Control),
            4 => Some(Kind::TimeRequest),
            5 => Some(Kind::TimeReply),
            6 => Some(Kind::Bulk),
            _ => None,
        }
    }

    /// A short name for logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Beacon => "beacon",
            Kind::Invite => "invite",
            Kind::Control => "control",
            Kind::TimeRequest => "time request",
            Kind::TimeReply => "time reply",
            Kind::Bulk => "bulk",
        }
    }
}

/// Every message chorus puts on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Discovery, UDP.
    Beacon(Beacon),
    /// Party invitation, UDP, flooded.
    Invite(Invite),
    /// Control stream, TCP.
    Control(Control),
    /// Clock sync, UDP, member to host.
    TimeRequest(TimeRequest),
    /// Clock sync, UDP, host to member.
    TimeReply(TimeReply),
    /// Song transfer, bulk TCP.
    Bulk(Bulk),
}

impl Message {
    /// The header kind of this message.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Beacon(_) => Kind::Beacon,
            Message::Invite(_) => Kind::Invite,
            Message::Control(_) => Kind::Control,
            Message::TimeRequest(_) => Kind::TimeRequest,
            Message::TimeReply(_) => Kind::TimeReply,
            Message::Bulk(_) => Kind::Bulk,
        }
    }

    fn check_limits(&self) -> Result<(), (&'static str, String)> {
        match self {
            Message::Beacon(b) => b.check_limits(),
            Message::Invite(i) => i.check_limits(),
            Message::Control(c) => c.check_limits(),
            Message::Bulk(b) => b.check_limits(),
            Message::TimeRequest(_) | Message::TimeReply(_) => Ok(()),
        }
    }
}

/// Encodes `msg` as header + body, refusing anything longer than `limit` bytes.
pub fn encode(msg: &Message, limit: usize) -> Result<Vec<u8>, EncodeError> {
    let mut out = BytesMut::with_capacity(64);
    encode_into(msg, limit, &mut out)?;
    Ok(Vec::from(out.freeze()))
}

/// Appends `msg` as header + body to `out`, refusing anything longer than `limit` bytes
/// (then `out` is left as it was). Streams encode into their write buffer this way, so a
/// chunk's bytes are copied once, not grown into a message and copied again.
pub fn encode_into(msg: &Message, limit: usize, out: &mut BytesMut) -> Result<(), EncodeError> {
    msg.check_limits()
        .map_err(|(field, detail)| EncodeError::Limit { field, detail })?;
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.put_u8(VERSION);
    out.put_u8(msg.kind() as u8);
    let body = match msg {
        Message::Beacon(b) => append(out, b),
        Message::Invite(i) => append(out, i),
        Message::Control(c) => append(out, c),
        Message::TimeRequest(t) => append(out, t),
        Message::TimeReply(t) => append(out, t),
        Message::Bulk(b) => append(out, b),
    };
    let len = out.len() - start;
    let result = match body {
        Ok(()) if len > limit => Err(EncodeError::TooLarge { len, limit }),
        other => other,
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn append<T: Serialize>(out: &mut BytesMut, body: &T) -> Result<(), EncodeError> {
    postcard::serialize_with_flavor(body, Append(out))
        .map_err(|e| EncodeError::Serialize(e.to_string()))
}

/// A postcard output that appends to a buffer it borrows.
struct Append<'a>(&'a mut BytesMut);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.put_u8(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Encodes one message for a UDP datagram (at most [`MAX_DATAGRAM`] bytes).
pub fn encode_datagram(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    encode(msg, MAX_DATAGRAM).map_err(|e| match e {
        EncodeError::TooLarge { len, .. } => EncodeError::datagram_too_large(len),
        other => other,
    })
}

/// Decodes exactly one message from `bytes`, which may be at most `limit` bytes long.
pub fn decode(bytes: &[u8], limit: usize) -> Result<Message, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort { len: bytes.len() });
    }
    let magic = [bytes[0], bytes[1]];
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    if bytes[2] != VERSION {
        return Err(DecodeError::UnsupportedVersion { got: bytes[2] });
    }
    let kind = Kind::from_u8(bytes[3]).ok_or(DecodeError::UnknownKind(bytes[3]))?;
    let body = &bytes[HEADER_LEN..];
    let msg = match kind {
        Kind::Beacon => Message::Beacon(body_of(kind, body)?),
        Kind::Invite => Message::Invite(body_of(kind, body)?),
        Kind::Control => Message::Control(body_of(kind, body)?),
        Kind::TimeRequest => Message::TimeRequest(body_of(kind, body)?),
        Kind::TimeReply => Message::TimeReply(body_of(kind, body)?),
        Kind::Bulk => Message::Bulk(body_of(kind, body)?),
    };
    msg.check_limits()
        .map_err(|(field, detail)| DecodeError::Limit { field, detail })?;
    Ok(msg)
}

fn body_of<'a, T: serde::Deserialize<'a>>(kind: Kind, body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed {
        kind: kind.name(),
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

/// Decodes one UDP datagram.
pub fn decode_datagram(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode(bytes, MAX_DATAGRAM)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
