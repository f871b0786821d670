//! A box's side of authenticated connections for tests that play another (possibly
//! hostile) box: a real key, the session handshake, and frames through the session codec.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use chorus::core::NodeId;
use chorus::identity::Identity;
use chorus::net::noise::{Initiator, Keys, Responder, SessionCodec};
use chorus::proto::Message;
use tokio_util::codec::{Decoder, Encoder};

/// A hostile box's side of one authenticated connection: it holds a real key (so it can
/// finish the handshake) and sends and reads frames through the session codec.
pub struct Wire {
    socket: TcpStream,
    codec: SessionCodec,
    buf: BytesMut,
}

impl Wire {
    pub fn send(&mut self, msg: &Message) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        self.codec.encode(msg, &mut out).unwrap();
        self.socket.write_all(&out)
    }

    pub fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(msg) = self.codec.decode(&mut self.buf).ok()? {
                return Some(msg);
            }
            let mut more = [0u8; 65536];
            let n = self.socket.read(&mut more).ok().filter(|n| *n > 0)?;
            self.buf.extend_from_slice(&more[..n]);
        }
    }
}

fn write_handshake(s: &mut TcpStream, message: &[u8]) {
    s.write_all(&(message.len() as u16).to_be_bytes()).unwrap();
    s.write_all(message).unwrap();
}

fn read_handshake(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut message).ok()?;
    Some(message)
}

/// Runs the session handshake on `socket`; a reading and a writing half of the session.
pub fn handshake(mut socket: TcpStream, keys: &Keys, dialed: bool) -> Option<(Wire, Wire)> {
    let session = if dialed {
        let (initiator, first) = Initiator::new(keys).unwrap();
        write_handshake(&mut socket, &first);
        let (third, session) = initiator.finish(&read_handshake(&mut socket)?).ok()?;
        write_handshake(&mut socket, &third);
        session
    } else {
        let first = read_handshake(&mut socket)?;
        let (responder, second) = Responder::new(keys, &first).ok()?;
        write_handshake(&mut socket, &second);
        responder.finish(&read_handshake(&mut socket)?).ok()?
    };
    let wire = |socket: TcpStream| Wire {
        socket,
        codec: session.codec(),
        buf: BytesMut::new(),
    };
    Some((wire(socket.try_clone().unwrap()), wire(socket)))
}

/// Keys whose id is above every id in `others`: the honest boxes then dial this one.
pub fn keys_above(others: &[NodeId]) -> Keys {
    loop {
        let keys = Keys::new(&Identity::generate()).unwrap();
        if others.iter().all(|o| keys.id() > *o) {
            return keys;
        }
    }
}
