//! Golden bytes and limits of the song-transfer messages (and the hello that carries the
//! bulk port).

use bytes::Bytes;

use super::*;
use crate::proto::manifest::MAX_CHUNK_SIZE;
use crate::proto::{decode, encode, Control, Hello, Message, MAX_FRAME};
use crate::proto::{NodeId, SongRef};

fn song() -> SongRef {
    SongRef([0xab; 32])
}

fn round_trip(msg: Message) -> Vec<u8> {
    let bytes = encode(&msg, MAX_FRAME).unwrap();
    assert_eq!(decode(&bytes, MAX_FRAME).unwrap(), msg);
    bytes
}

#[test]
fn golden_hello_carries_the_bulk_port() {
    let hello = Message::Control(Control::Hello(Hello {
        id: NodeId(1),
        name: "a".into(),
        control_port: 7702,
        bulk_port: 7703,
    }));
    #[rustfmt::skip]
    let expected = [
        b'C', b'H', 5, 3,          // magic, version, kind = control
        0,                         // Control::Hello
        1,                         // id
        1, b'a',                   // name
        0x96, 0x3c,                // control_port 7702
        0x97, 0x3c,                // bulk_port 7703
    ];
    assert_eq!(round_trip(hello), expected);
}

#[test]
fn golden_request_and_chunk() {
    let bytes = round_trip(Message::Bulk(Bulk::Request {
        song: song(),
        chunk: 300,
    }));
    let mut expected = vec![b'C', b'H', 5, 6, 6];
    expected.extend([0xab; 32]);
    expected.extend([0xac, 0x02]); // chunk 300 (varint)
    assert_eq!(bytes, expected);

    let bytes = round_trip(Message::Bulk(Bulk::Chunk {
        song: song(),
        chunk: 1,
        data: Bytes::from_static(b"xyz"),
    }));
    let mut expected = vec![b'C', b'H', 5, 6, 7];
    expected.extend([0xab; 32]);
    expected.extend([1, 3, b'x', b'y', b'z']); // chunk 1, 3 raw bytes
    assert_eq!(bytes, expected);
}

#[test]
fn golden_have() {
    let bytes = round_trip(Message::Bulk(Bulk::Have {
        song: song(),
        chunks: 10,
        bits: vec![0xff, 0x03],
    }));
    let mut expected = vec![b'C', b'H', 5, 6, 4];
    expected.extend([0xab; 32]);
    expected.extend([10, 2, 0xff, 0x03]);
    assert_eq!(bytes, expected);
}

#[test]
fn oversize_chunks_and_bitfields_are_refused() {
    let big = Message::Bulk(Bulk::Chunk {
        song: song(),
        chunk: 0,
        data: Bytes::from(vec![0; MAX_CHUNK_SIZE as usize + 1]),
    });
    assert!(encode(&big, MAX_FRAME).is_err());
    let have = Message::Bulk(Bulk::Have {
        song: song(),
        chunks: u32::MAX,
        bits: vec![],
    });
    assert!(encode(&have, MAX_FRAME).is_err());
    // A peer that sends one anyway: hand-build the bytes past the encoder's check.
    let mut bytes = vec![b'C', b'H', 5, 6, 4];
    bytes.extend([0xab; 32]);
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    assert!(matches!(
        decode(&bytes, MAX_FRAME),
        Err(crate::proto::DecodeError::Limit {
            field: "bulk.have",
            ..
        })
    ));
}

#[test]
fn a_manifest_with_a_path_for_a_format_is_refused() {
    let data = [1u8; 100];
    let m = Manifest {
        song: SongRef(*blake3::hash(&data).as_bytes()),
        size: 100,
        chunk_size: 16 * 1024,
        chunks: vec![*blake3::hash(&data).as_bytes()],
        format: "../../x".into(),
        title: String::new(),
        artist: None,
        album: None,
        duration_ms: None,
    };
    let mut fine = m.clone();
    fine.format = "wav".into();
    assert!(encode(&Message::Bulk(Bulk::Manifest(Box::new(fine))), MAX_FRAME).is_ok());
    let msg = Message::Bulk(Bulk::Manifest(Box::new(m)));
    assert!(encode(&msg, MAX_FRAME).is_err());
}
