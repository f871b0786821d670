//! The party key on UDP: a keyed box seals every datagram it sends and opens every one
//! it receives, and drops (and counts) what does not open; an open box drops sealed
//! datagrams. The core never sees the difference.

use std::borrow::Cow;

use crate::party_key::PartyKey;
use crate::proto::seal::{self, SealError};

/// This box's party key, if any, and the datagrams it dropped for the wrong key.
#[derive(Debug, Default)]
pub(super) struct Sealing {
    key: Option<PartyKey>,
    wrong_key: u64,
}

impl Sealing {
    pub(super) fn new(key: Option<PartyKey>) -> Sealing {
        Sealing { key, wrong_key: 0 }
    }

    /// Whether this box belongs to a keyed party.
    pub(super) fn keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Datagrams dropped since start: sealed under another key or altered (keyed box),
    /// open ones (keyed box), or sealed ones (open box).
    pub(super) fn wrong_key(&self) -> u64 {
        self.wrong_key
    }

    /// The datagram to send for the core's `payload`; `None` if it cannot be sealed
    /// (larger than a datagram: the core never makes one).
    pub(super) fn outgoing(&self, payload: Vec<u8>) -> Option<Vec<u8>> {
        match &self.key {
            None => Some(payload),
            Some(key) => match key.seal(&payload) {
                Ok(sealed) => Some(sealed),
                Err(e) => {
                    tracing::warn!(error = %e, len = payload.len(), "datagram not sealed; not sent");
                    None
                }
            },
        }
    }

    /// The open datagram for the core from received `bytes`; `None`: dropped and counted.
    pub(super) fn incoming<'a>(&mut self, bytes: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let opened = match &self.key {
            None if seal::is_sealed(bytes) => Err(SealError::WrongKey),
            None => return Some(Cow::Borrowed(bytes)),
            Some(key) => key.open(bytes),
        };
        match opened {
            Ok(plain) => Some(Cow::Owned(plain)),
            Err(_) => {
                self.wrong_key += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> Option<PartyKey> {
        Some(PartyKey::derive(secret).unwrap())
    }

    #[test]
    fn a_keyed_box_reads_only_its_partys_datagrams() {
        let ours = Sealing::new(key(&"a".repeat(64)));
        let mut receiver = Sealing::new(key(&"a".repeat(64)));
        let theirs = Sealing::new(key(&"b".repeat(64)));
        let open = Sealing::new(None);
        let datagram = b"CH\x03\x01beacon".to_vec();

        let sealed = ours.outgoing(datagram.clone()).unwrap();
        assert_ne!(sealed, datagram);
        assert_eq!(receiver.incoming(&sealed).as_deref(), Some(&datagram[..]));
        assert_eq!(receiver.wrong_key(), 0);

        let foreign = theirs.outgoing(datagram.clone()).unwrap();
        assert_eq!(receiver.incoming(&foreign), None);
        let plain = open.outgoing(datagram.clone()).unwrap();
        assert_eq!(plain, datagram, "an open box sends as before");
        assert_eq!(receiver.incoming(&plain), None);
        assert_eq!(receiver.wrong_key(), 2);
    }

    #[test]
    fn an_open_box_drops_sealed_datagrams_and_reads_open_ones() {
        let keyed = Sealing::new(key(&"a".repeat(64)));
        let mut open = Sealing::new(None);
        let datagram = b"CH\x03\x01beacon".to_vec();
        let sealed = keyed.outgoing(datagram.clone()).unwrap();
        assert_eq!(open.incoming(&sealed), None);
        assert_eq!(open.incoming(&datagram).as_deref(), Some(&datagram[..]));
        assert_eq!(open.wrong_key(), 1);
        assert!(!open.keyed() && keyed.keyed());
    }
}
