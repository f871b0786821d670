//! The invitation signature and the clock-sync MACs: what they cover and what breaks them.

use std::net::{Ipv4Addr, SocketAddr};

use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::proto::{decode_datagram, encode_datagram, Message};

fn signed_invite(key: &SigningKey) -> Invite {
    let host_key = key.verifying_key().to_bytes();
    let mut invite = Invite {
        party: PartyId(5),
        term: 2,
        round: 7,
        host: NodeId::of_key(&host_key),
        host_name: "kitchen".into(),
        host_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7702)),
        ttl: 4,
        hops: 0,
        started: false,
        members: 1,
        host_key,
        signature: [0; 64],
    };
    invite.signature = key.sign(&invite.signed_bytes()).to_bytes();
    invite
}

#[test]
fn a_signed_invite_survives_relays_and_the_wire() {
    let invite = signed_invite(&SigningKey::from_bytes(&[7; 32]));
    assert_eq!(invite.verify(), Ok(()));
    let mut relayed = invite.clone();
    relayed.ttl = 1;
    relayed.hops = 3;
    relayed.host_addr.set_ip(Ipv4Addr::new(10, 0, 0, 9).into());
    assert_eq!(relayed.verify(), Ok(()), "relays may change ttl, hops, IP");
    let bytes = encode_datagram(&Message::Invite(relayed.clone())).unwrap();
    assert_eq!(decode_datagram(&bytes).unwrap(), Message::Invite(relayed));
}

#[test]
fn tampering_with_any_field_the_host_set_breaks_the_signature() {
    let invite = signed_invite(&SigningKey::from_bytes(&[7; 32]));
    let tampered: Vec<(&str, Invite)> = vec![
        (
            "party",
            Invite {
                party: PartyId(1),
                ..invite.clone()
            },
        ),
        (
            "term",
            Invite {
                term: 9,
                ..invite.clone()
            },
        ),
        (
            "round",
            Invite {
                round: 8,
                ..invite.clone()
            },
        ),
        (
            "name",
            Invite {
                host_name: "evil".into(),
                ..invite.clone()
            },
        ),
        (
            "started",
            Invite {
                started: true,
                ..invite.clone()
            },
        ),
        (
            "members",
            Invite {
                members: 9,
                ..invite.clone()
            },
        ),
        (
            "port",
            Invite {
                host_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 1)),
                ..invite.clone()
            },
        ),
    ];
    for (field, t) in tampered {
        assert_eq!(t.verify(), Err(Forgery::BadSignature), "{field}");
    }
    let mut flipped = invite.clone();
    flipped.signature[10] ^= 1;
    assert_eq!(flipped.verify(), Err(Forgery::BadSignature));
}

#[test]
fn another_key_cannot_sign_for_the_host() {
    let host = signed_invite(&SigningKey::from_bytes(&[7; 32]));
    let evil = SigningKey::from_bytes(&[8; 32]);
    // The forger's own key with the host's id: the id does not match the key.
    let mut forged = signed_invite(&evil);
    forged.host = host.host;
    assert_eq!(forged.verify(), Err(Forgery::WrongKey));
    // The host's key with the forger's signature.
    let mut forged = host.clone();
    forged.members = 9;
    forged.signature = evil.sign(&forged.signed_bytes()).to_bytes();
    assert_eq!(forged.verify(), Err(Forgery::BadSignature));
}

#[test]
fn clock_sync_macs_need_the_key_and_bind_the_reply_to_its_request() {
    let key = [3u8; 32];
    let mut request = TimeRequest {
        party: PartyId(5),
        seq: 1,
        t1: 1_000,
        member: NodeId(9),
        mac: [0; MAC_LEN],
    };
    request.mac = request.mac_with(&key);
    assert!(request.authentic(&key));
    assert!(!request.authentic(&[4; 32]), "another session's key");
    assert!(!TimeRequest {
        t1: 1_001,
        ..request.clone()
    }
    .authentic(&key));
    assert!(!TimeRequest {
        member: NodeId(8),
        ..request.clone()
    }
    .authentic(&key));

    let mut reply = TimeReply {
        party: PartyId(5),
        seq: 1,
        t1: 1_000,
        t2: 50,
        t3: 60,
        mac: [0; MAC_LEN],
    };
    reply.mac = reply.mac_with(&key, &request.mac);
    assert!(reply.authentic(&key, &request.mac));
    assert!(!reply.authentic(&[4; 32], &request.mac));
    assert!(!TimeReply {
        t2: 51,
        ..reply.clone()
    }
    .authentic(&key, &request.mac));
    let mut later = request.clone();
    later.seq = 2;
    later.mac = later.mac_with(&key);
    let replayed = TimeReply { seq: 2, ..reply };
    assert!(
        !replayed.authentic(&key, &later.mac),
        "an old reply does not answer a new request"
    );
}
