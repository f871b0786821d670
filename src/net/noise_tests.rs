//! Behaviour of sessions, driven over in-memory connections: who learns which id, and
//! what ends a handshake or a session.

use bytes::Bytes;

use super::*;
use crate::proto::{Bulk, PartyId, SongRef};

fn keys() -> Keys {
    Keys::new(&Identity::generate()).unwrap()
}

/// Both handshakes over an in-memory connection.
async fn handshake(
    dialer: &Keys,
    acceptor: &Keys,
) -> (Result<Session, SessionError>, Result<Session, SessionError>) {
    let (mut a, mut b) = tokio::io::duplex(1 << 16);
    tokio::join!(initiate(&mut a, dialer), respond(&mut b, acceptor))
}

#[tokio::test]
async fn both_sides_learn_each_others_proven_id() {
    let (dialer, acceptor) = (keys(), keys());
    let (d, a) = handshake(&dialer, &acceptor).await;
    assert_eq!(d.unwrap().peer(), acceptor.id());
    assert_eq!(a.unwrap().peer(), dialer.id());
}

#[tokio::test]
async fn both_ends_share_a_clock_key_that_no_other_session_has() {
    let (dialer, acceptor) = (keys(), keys());
    let (d, a) = handshake(&dialer, &acceptor).await;
    let (d, a) = (d.unwrap(), a.unwrap());
    assert_eq!(d.clock_key(), a.clock_key());
    let (again, _) = handshake(&dialer, &acceptor).await;
    assert_ne!(
        again.unwrap().clock_key(),
        d.clock_key(),
        "fresh per session"
    );
}

fn keyed(secret: &str) -> Keys {
    let key = PartyKey::derive(secret).unwrap();
    keys().keyed(Some(&key))
}

#[tokio::test]
async fn boxes_with_one_party_key_prove_their_ids() {
    let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let (dialer, acceptor) = (keyed(secret), keyed(secret));
    let (d, a) = handshake(&dialer, &acceptor).await;
    assert_eq!(d.unwrap().peer(), acceptor.id());
    assert_eq!(a.unwrap().peer(), dialer.id());
}

// Paused: the side that fails first drops nothing here, so the other one times out.
#[tokio::test(start_paused = true)]
async fn a_box_without_the_party_key_fails_the_handshake_either_way() {
    let ours = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let theirs = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    for (dialer, acceptor) in [
        (keys(), keyed(ours)),
        (keyed(ours), keys()),
        (keyed(theirs), keyed(ours)),
        (keyed(ours), keyed(theirs)),
    ] {
        let (d, a) = handshake(&dialer, &acceptor).await;
        assert!(a.is_err(), "the acceptor let {dialer:?} in");
        assert!(d.is_err(), "the dialer accepted {acceptor:?}");
    }
}

#[tokio::test]
async fn a_tampered_signature_fails_the_handshake() {
    let (mut dialer, acceptor) = (keys(), keys());
    dialer.proof[PUBLIC_KEY_LENGTH + 3] ^= 1;
    let (_, a) = handshake(&dialer, &acceptor).await;
    assert!(matches!(a, Err(SessionError::BadProof(_))), "{a:?}");
}

#[tokio::test]
async fn another_boxs_proof_does_not_prove_its_id() {
    // A stranger replays a real box's key and signature with its own Noise key: the
    // signature covers the real box's Noise key, so the acceptor refuses.
    let (victim, acceptor) = (keys(), keys());
    let mut stranger = keys();
    stranger.proof = victim.proof;
    let (_, a) = handshake(&stranger, &acceptor).await;
    assert!(matches!(a, Err(SessionError::BadProof(_))), "{a:?}");
    let (d, _) = handshake(&acceptor, &stranger).await;
    assert!(matches!(d, Err(SessionError::BadProof(_))), "{d:?}");
}

#[tokio::test]
async fn a_peer_that_speaks_no_noise_fails_the_handshake() {
    let (mut a, mut b) = tokio::io::duplex(1 << 16);
    let acceptor = keys();
    let garbage = async {
        a.write_all(&[0, 4, b'G', b'E', b'T', b' ']).await.unwrap();
        a
    };
    let (_a, got) = tokio::join!(garbage, respond(&mut b, &acceptor));
    assert!(matches!(got, Err(SessionError::Noise(_))), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_times_out() {
    let (_a, mut b) = tokio::io::duplex(1 << 16);
    let got = respond(&mut b, &keys()).await;
    assert!(matches!(got, Err(SessionError::TimedOut)), "{got:?}");
}

fn chunk(len: usize) -> Message {
    Message::Bulk(Bulk::Chunk {
        song: SongRef([3; 32]),
        chunk: 7,
        data: Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>()),
    })
}

async fn sessions() -> (Session, Session) {
    let (d, a) = handshake(&keys(), &keys()).await;
    (d.unwrap(), a.unwrap())
}

#[tokio::test]
async fn frames_cross_a_session_whole_and_large_ones_split() {
    let (d, a) = sessions().await;
    let (mut tx, mut rx) = (d.codec(), a.codec());
    let hello = Message::Bulk(Bulk::Hello {
        id: NodeId(5),
        party: PartyId(9),
    });
    let big = chunk(300 * 1024);
    let mut wire = BytesMut::new();
    tx.encode(&hello, &mut wire).unwrap();
    tx.encode(&big, &mut wire).unwrap();
    // The big frame went out as several messages, none over the Noise limit.
    assert!(wire.len() > 300 * 1024 + 5 * (2 + TAG));
    // Arriving a few bytes at a time changes nothing.
    let mut got = Vec::new();
    let mut buf = BytesMut::new();
    for piece in wire.chunks(1000) {
        buf.extend_from_slice(piece);
        while let Some(msg) = rx.decode(&mut buf).unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, vec![hello, big]);
    assert!(buf.is_empty());
}

#[tokio::test]
async fn a_tampered_message_ends_the_session() {
    let (d, a) = sessions().await;
    let (mut tx, mut rx) = (d.codec(), a.codec());
    let mut wire = BytesMut::new();
    tx.encode(&chunk(100), &mut wire).unwrap();
    let last = wire.len() - 1;
    wire[last] ^= 1;
    assert!(rx.decode(&mut wire).is_err());
}

#[tokio::test]
async fn a_replayed_message_is_refused() {
    let (d, a) = sessions().await;
    let (mut tx, mut rx) = (d.codec(), a.codec());
    let mut wire = BytesMut::new();
    tx.encode(&chunk(10), &mut wire).unwrap();
    let copy = wire.clone();
    assert!(rx.decode(&mut wire).unwrap().is_some());
    let mut replay = copy;
    assert!(rx.decode(&mut replay).is_err());
}

#[test]
fn a_malformed_or_misbound_proof_is_refused() {
    let k = keys();
    let other_noise_key = [9u8; 32];
    assert!(matches!(
        verify_proof(&k.proof, &other_noise_key),
        Err(SessionError::BadProof("signature does not verify"))
    ));
    assert!(matches!(
        verify_proof(&k.proof[..10], &other_noise_key),
        Err(SessionError::BadProof("wrong length"))
    ));
}
