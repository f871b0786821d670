//! The capability to sign as this box. The runtime holds the long-term key; the core
//! only asks for signatures on what the box vouches for (its invitations).

use std::sync::Arc;

use super::NodeId;

/// Signs with this box's long-term ed25519 key.
pub trait Sign: Send + Sync {
    /// The ed25519 public key; the box id is derived from it.
    fn public_key(&self) -> [u8; 32];
    /// An ed25519 signature over `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

/// A shared [`Sign`] for the config. Two are equal when they sign with the same key.
#[derive(Clone)]
pub struct Signer(pub Arc<dyn Sign>);

impl Signer {
    pub fn new(sign: impl Sign + 'static) -> Signer {
        Signer(Arc::new(sign))
    }

    /// The id of the box this signer signs for.
    pub fn id(&self) -> NodeId {
        NodeId::of_key(&self.0.public_key())
    }
}

impl PartialEq for Signer {
    fn eq(&self, other: &Signer) -> bool {
        self.0.public_key() == other.0.public_key()
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Signer").field(&self.id()).finish()
    }
}

/// A signer over a fixed test key, for the core's own tests.
#[cfg(test)]
pub(crate) fn test_signer(seed: u8) -> Signer {
    struct Key(ed25519_dalek::SigningKey);
    impl Sign for Key {
        fn public_key(&self) -> [u8; 32] {
            self.0.verifying_key().to_bytes()
        }
        fn sign(&self, message: &[u8]) -> [u8; 64] {
            ed25519_dalek::Signer::sign(&self.0, message).to_bytes()
        }
    }
    Signer::new(Key(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])))
}
