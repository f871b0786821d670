//! Behaviour of sessions, driven over in-memory connections: who learns which id, and
//! what ends a handshake or a session.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::net::session_codec::TAG;
use crate::proto::frame::FrameError;
use crate::proto::manifest::MAX_CHUNK_SIZE;
use crate::proto::DecodeError;
use crate::proto::{Bulk, Message, PartyId, SongRef, MAX_FRAME};

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

/// Every byte of `wire`, a thousand at a time, through `rx`: what it decoded, if all of
/// `wire` made whole frames.
fn receive_all(rx: &mut SessionCodec, wire: &[u8]) -> Result<Vec<Message>, FrameError> {
    let mut got = Vec::new();
    let mut buf = BytesMut::new();
    for piece in wire.chunks(1000) {
        buf.extend_from_slice(piece);
        while let Some(msg) = rx.decode(&mut buf)? {
            got.push(msg);
        }
    }
    match buf.is_empty() {
        true => Ok(got),
        false => Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
    }
}

#[tokio::test]
async fn frames_cross_a_session_whole_both_ways() {
    let (d, a) = sessions().await;
    let hello = Message::Bulk(Bulk::Hello {
        id: NodeId(5),
        party: PartyId(9),
    });
    let big = chunk(MAX_CHUNK_SIZE as usize);
    for (tx, rx) in [(&d, &a), (&a, &d)] {
        let (mut tx, mut rx) = (tx.codec(), rx.codec());
        let mut wire = BytesMut::new();
        tx.encode(&hello, &mut wire).unwrap();
        let first = wire.len();
        tx.encode(&big, &mut wire).unwrap();
        // One length and one tag a frame, however large.
        let plain = crate::proto::encode(&big, MAX_FRAME).unwrap().len();
        assert_eq!(wire.len() - first, 4 + plain + TAG);
        assert_eq!(
            receive_all(&mut rx, &wire).unwrap(),
            vec![hello.clone(), big.clone()]
        );
    }
}

#[tokio::test]
async fn a_tampered_frame_ends_the_session() {
    let (d, a) = sessions().await;
    let mut wire = BytesMut::new();
    d.codec().encode(&chunk(100), &mut wire).unwrap();
    for (at, bit) in [(0, 1), (3, 1), (3, 2), (4, 1), (60, 4), (wire.len() - 1, 1)] {
        let mut bad = wire.clone();
        bad[at] ^= bit;
        let got = receive_all(&mut a.codec(), &bad);
        assert!(got.is_err(), "byte {at} changed: {got:?}");
    }
    assert!(receive_all(&mut a.codec(), &wire).is_ok());
}

#[tokio::test]
async fn a_replayed_reflected_or_foreign_frame_is_refused() {
    let (d, a) = sessions().await;
    let (mut tx, mut rx) = (d.codec(), a.codec());
    let mut wire = BytesMut::new();
    tx.encode(&chunk(10), &mut wire).unwrap();
    let copy = wire.clone();
    assert!(rx.decode(&mut wire).unwrap().is_some());
    // The same frame again, back to the box that sealed it, or in another session.
    assert!(rx.decode(&mut copy.clone()).is_err());
    assert!(d.codec().decode(&mut copy.clone()).is_err());
    let (_, other) = sessions().await;
    assert!(other.codec().decode(&mut copy.clone()).is_err());
}

#[tokio::test]
async fn an_oversize_frame_is_refused_before_its_body_arrives() {
    let (_, a) = sessions().await;
    let len = u32::try_from(MAX_FRAME + TAG + 1).unwrap();
    let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
    let got = a.codec().decode(&mut buf);
    assert!(matches!(got, Err(FrameError::TooLarge)), "{got:?}");
    let mut short = BytesMut::from(&[0u8, 0, 0, 15][..]);
    assert!(a.codec().decode(&mut short).is_err(), "shorter than a tag");
}

#[tokio::test]
async fn a_message_that_cannot_be_encoded_leaves_the_stream_as_it_was() {
    let (d, a) = sessions().await;
    let mut tx = d.codec();
    let mut wire = BytesMut::new();
    tx.encode(&chunk(10), &mut wire).unwrap();
    let before = wire.clone();
    let long = Message::Bulk(Bulk::Chunk {
        song: SongRef([3; 32]),
        chunk: 7,
        data: Bytes::from(vec![0; MAX_FRAME]),
    });
    let refused = tx.encode(&long, &mut wire);
    assert!(matches!(refused, Err(FrameError::Encode(_))), "{refused:?}");
    assert_eq!(wire, before);
    // No nonce was used: the next frame opens after the first.
    tx.encode(&chunk(20), &mut wire).unwrap();
    let got = receive_all(&mut a.codec(), &wire).unwrap();
    assert_eq!(got, vec![chunk(10), chunk(20)]);
}

#[tokio::test]
async fn an_authentic_frame_that_is_no_message_is_a_decode_error() {
    let (d, a) = sessions().await;
    let mut wire = BytesMut::new();
    let garbage = [b'C', b'H', crate::proto::VERSION, 1, 0xff];
    d.codec().seal_bytes(&garbage, &mut wire).unwrap();
    let got = a.codec().decode(&mut wire);
    assert!(
        matches!(got, Err(FrameError::Decode(DecodeError::Malformed { .. }))),
        "{got:?}"
    );
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
