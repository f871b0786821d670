//! What authenticates a datagram: the host's signature on an invitation, and the MACs
//! on clock sync under a key both ends derive from their session.
//!
//! Both are pure functions of the message and a key, so the simulator and the real
//! runtime check them with the same code.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use super::{Invite, NodeId, PartyId, TimeReply, TimeRequest};

/// What an invitation signature covers, under a prefix used for nothing else.
const INVITE_PREFIX: &[u8] = b"chorus-invite:";
/// Domain separation of the two clock-sync MACs.
const REQUEST_PREFIX: &[u8] = b"chorus-time-request:";
const REPLY_PREFIX: &[u8] = b"chorus-time-reply:";
/// Bytes of a clock-sync MAC: a truncated keyed BLAKE3 hash.
pub const MAC_LEN: usize = 16;

/// Why an invitation is not the host's: the receiver drops it and counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Forgery {
    /// The carried key is not the host's: the host id is not derived from it.
    #[error("the host id is not the id of the carried key")]
    WrongKey,
    /// The carried key is not a usable ed25519 key.
    #[error("the carried key is not an ed25519 key")]
    BadKey,
    /// The signature does not cover these fields under this key: forged or altered.
    #[error("the signature does not verify")]
    BadSignature,
}

/// The fields the host sets. Relays change `ttl` and `hops`, and the first relay fills in
/// the host's IP (the host sends the unspecified address), so those are left out; the
/// port is the host's own.
#[derive(Serialize)]
struct SignedInvite<'a> {
    party: PartyId,
    term: u64,
    round: u32,
    host: NodeId,
    host_name: &'a str,
    host_port: u16,
    started: bool,
    members: u8,
    host_key: &'a [u8; 32],
}

impl Invite {
    /// The bytes the host signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let fields = SignedInvite {
            party: self.party,
            term: self.term,
            round: self.round,
            host: self.host,
            host_name: &self.host_name,
            host_port: self.host_addr.port(),
            started: self.started,
            members: self.members,
            host_key: &self.host_key,
        };
        let mut out = INVITE_PREFIX.to_vec();
        // Serializing plain fields into a Vec cannot fail; an empty tail would fail to
        // verify anyway.
        if let Ok(bytes) = postcard::to_stdvec(&fields) {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Checks that `host` is the id of `host_key` and that the key signed the fields the
    /// host sets.
    pub fn verify(&self) -> Result<(), Forgery> {
        if NodeId::of_key(&self.host_key) != self.host {
            return Err(Forgery::WrongKey);
        }
        let key = VerifyingKey::from_bytes(&self.host_key).map_err(|_| Forgery::BadKey)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.signed_bytes(), &signature)
            .map_err(|_| Forgery::BadSignature)
    }
}

fn mac(key: &[u8; 32], prefix: &[u8], fields: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(prefix);
    for f in fields {
        hasher.update(f);
    }
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..MAC_LEN]);
    out
}

/// Compares MACs in time independent of where they differ.
fn same(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl TimeRequest {
    /// The MAC of this request's fields under the member's session key.
    pub fn mac_with(&self, key: &[u8; 32]) -> [u8; MAC_LEN] {
        mac(
            key,
            REQUEST_PREFIX,
            &[
                &self.party.0.to_le_bytes(),
                &self.seq.to_le_bytes(),
                &self.t1.to_le_bytes(),
                &self.member.0.to_le_bytes(),
            ],
        )
    }

    /// Whether the carried MAC is this request's under `key`.
    pub fn authentic(&self, key: &[u8; 32]) -> bool {
        same(&self.mac, &self.mac_with(key))
    }
}

impl TimeReply {
    /// The MAC of this reply's fields and of the request it answers (its MAC), so a
    /// reply is good for one request only.
    pub fn mac_with(&self, key: &[u8; 32], request_mac: &[u8; MAC_LEN]) -> [u8; MAC_LEN] {
        mac(
            key,
            REPLY_PREFIX,
            &[
                &self.party.0.to_le_bytes(),
                &self.seq.to_le_bytes(),
                &self.t1.to_le_bytes(),
                &self.t2.to_le_bytes(),
                &self.t3.to_le_bytes(),
                request_mac,
            ],
        )
    }

    /// Whether the carried MAC is this reply's to the request with `request_mac`.
    pub fn authentic(&self, key: &[u8; 32], request_mac: &[u8; MAC_LEN]) -> bool {
        same(&self.mac, &self.mac_with(key, request_mac))
    }
}

/// Serde for the 64-byte signature (serde derives arrays up to 32): two halves, which
/// postcard writes as 64 plain bytes.
pub(crate) mod signature_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        let mut halves = [[0u8; 32]; 2];
        halves[0].copy_from_slice(&sig[..32]);
        halves[1].copy_from_slice(&sig[32..]);
        halves.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let halves = <[[u8; 32]; 2]>::deserialize(d)?;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&halves[0]);
        sig[32..].copy_from_slice(&halves[1]);
        Ok(sig)
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
