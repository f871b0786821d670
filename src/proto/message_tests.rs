//! Golden bytes, rejection cases and round-trip properties of the message codec.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;
use crate::proto::NodeId;
use crate::proto::{
    BoxState, Control, PartyId, PartySummary, PeerHint, RequestKind, MAX_NAME_LEN, MAX_PEER_HINTS,
};

fn idle_beacon() -> Beacon {
    Beacon {
        id: NodeId(0x0102),
        boot: 3,
        seq: 7,
        name: "ab".into(),
        unicast_port: 7701,
        control_port: 0,
        state: BoxState::Idle,
        party: None,
        peers: vec![PeerHint {
            id: NodeId(5),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7702)),
        }],
    }
}

#[test]
fn golden_idle_beacon() {
    let bytes = encode_datagram(&Message::Beacon(idle_beacon())).unwrap();
    #[rustfmt::skip]
    let expected = [
        b'C', b'H', 5, 1,          // magic, version, kind = beacon
        0x82, 0x02,                // id 0x0102 (varint)
        3,                         // boot
        7,                         // seq
        2, b'a', b'b',             // name
        0x95, 0x3c,                // unicast_port 7701 (varint)
        0,                         // control_port
        0,                         // state Idle
        0,                         // party None
        1,                         // one peer hint
        5, 0, 127, 0, 0, 1, 0x96, 0x3c, // id 5, V4 127.0.0.1:7702
    ];
    assert_eq!(bytes, expected);
    assert_eq!(
        decode_datagram(&bytes).unwrap(),
        Message::Beacon(idle_beacon())
    );
}

#[test]
fn golden_hosting_beacon() {
    let beacon = Beacon {
        state: BoxState::Hosting,
        party: Some(PartySummary {
            id: PartyId(9),
            host: NodeId(0x0102),
            term: 3,
            members: 2,
        }),
        peers: vec![],
        ..idle_beacon()
    };
    let bytes = encode_datagram(&Message::Beacon(beacon.clone())).unwrap();
    #[rustfmt::skip]
    let expected = [
        b'C', b'H', 5, 1,
        0x82, 0x02, 3, 7, 2, b'a', b'b', 0x95, 0x3c, 0,
        1,                         // state Hosting
        1, 9, 0x82, 0x02, 3, 2,    // Some(party 9, host 0x0102, term 3, 2 members)
        0,                         // no peer hints
    ];
    assert_eq!(bytes, expected);
    assert_eq!(decode_datagram(&bytes).unwrap(), Message::Beacon(beacon));
}

#[test]
fn golden_skip_request_has_one_encoding() {
    let skip = Message::Control(Control::Request {
        party: PartyId(9),
        id: 5,
        kind: RequestKind::Playback(crate::proto::schedule::Action::Skip),
    });
    let bytes = encode(&skip, crate::proto::MAX_FRAME).unwrap();
    #[rustfmt::skip]
    let expected = [
        b'C', b'H', 5, 3,          // magic, version, kind = control
        9,                         // Control::Request
        9,                         // party 9
        5,                         // id 5
        0,                         // RequestKind::Playback
        3,                         // Action::Skip
    ];
    assert_eq!(bytes, expected);
    assert_eq!(decode(&bytes, crate::proto::MAX_FRAME).unwrap(), skip);
}

fn good_bytes() -> Vec<u8> {
    encode_datagram(&Message::Beacon(idle_beacon())).unwrap()
}

#[test]
fn rejects_short_foreign_and_future_messages() {
    assert_eq!(
        decode_datagram(b"CH\x04"),
        Err(DecodeError::TooShort { len: 3 })
    );
    let mut bad_magic = good_bytes();
    bad_magic[0] = b'X';
    assert_eq!(
        decode_datagram(&bad_magic),
        Err(DecodeError::BadMagic(*b"XH"))
    );
    let mut future = good_bytes();
    future[2] = 6;
    assert_eq!(
        decode_datagram(&future),
        Err(DecodeError::UnsupportedVersion { got: 6 })
    );
    let mut past = good_bytes();
    past[2] = 4;
    assert_eq!(
        decode_datagram(&past),
        Err(DecodeError::UnsupportedVersion { got: 4 })
    );
    let mut unknown = good_bytes();
    unknown[3] = 200;
    assert_eq!(
        decode_datagram(&unknown),
        Err(DecodeError::UnknownKind(200))
    );
}

#[test]
fn rejects_trailing_garbage_and_truncation() {
    let mut long = good_bytes();
    long.extend_from_slice(&[0, 0]);
    assert_eq!(decode_datagram(&long), Err(DecodeError::TrailingBytes(2)));
    let good = good_bytes();
    for cut in super::HEADER_LEN..good.len() {
        assert!(
            matches!(
                decode_datagram(&good[..cut]),
                Err(DecodeError::Malformed { .. })
            ),
            "truncated at {cut} must be malformed"
        );
    }
}

#[test]
fn rejects_oversize_datagram_before_parsing() {
    let mut huge = good_bytes();
    huge.resize(MAX_DATAGRAM + 1, 0);
    assert_eq!(
        decode_datagram(&huge),
        Err(DecodeError::TooLarge {
            len: MAX_DATAGRAM + 1,
            limit: MAX_DATAGRAM
        })
    );
}

#[test]
fn limits_apply_both_ways() {
    let long_name = Beacon {
        name: "x".repeat(MAX_NAME_LEN + 1),
        ..idle_beacon()
    };
    assert!(matches!(
        encode_datagram(&Message::Beacon(long_name.clone())),
        Err(EncodeError::Limit {
            field: "beacon.name",
            ..
        })
    ));
    // A hostile sender skips our encoder: build the bytes by hand.
    let mut raw = vec![b'C', b'H', 5, 1];
    raw.extend(postcard::to_allocvec(&long_name).unwrap());
    assert!(matches!(
        decode_datagram(&raw),
        Err(DecodeError::Limit {
            field: "beacon.name",
            ..
        })
    ));
    let many_peers = Beacon {
        peers: vec![idle_beacon().peers[0]; MAX_PEER_HINTS + 1],
        ..idle_beacon()
    };
    let mut raw = vec![b'C', b'H', 5, 1];
    raw.extend(postcard::to_allocvec(&many_peers).unwrap());
    assert!(matches!(
        decode_datagram(&raw),
        Err(DecodeError::Limit {
            field: "beacon.peers",
            ..
        })
    ));
}

#[test]
fn huge_length_prefix_is_malformed_not_an_allocation() {
    // name length varint claims ~4 GiB; postcard must notice the missing bytes.
    let raw = [b'C', b'H', 5, 1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(
        decode_datagram(&raw),
        Err(DecodeError::Malformed { .. })
    ));
}

fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::from((Ipv4Addr::from(ip), p))),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::from((Ipv6Addr::from(ip), p))),
    ]
}

prop_compose! {
    fn arb_beacon()(
        id in any::<u64>(),
        boot in any::<u32>(),
        seq in any::<u64>(),
        name in "[a-zA-Z0-9 é-]{0,10}",
        unicast_port in any::<u16>(),
        control_port in any::<u16>(),
        state in prop_oneof![Just(BoxState::Idle), Just(BoxState::Hosting), Just(BoxState::Member)],
        party in proptest::option::of((any::<u64>(), any::<u64>(), any::<u64>(), any::<u8>())),
        peers in proptest::collection::vec((any::<u64>(), arb_addr()), 0..=MAX_PEER_HINTS),
    ) -> Beacon {
        Beacon {
            id: NodeId(id), boot, seq, name, unicast_port, control_port, state,
            party: party.map(|(id, host, term, members)| PartySummary {
                id: PartyId(id), host: NodeId(host), term, members,
            }),
            peers: peers.into_iter().map(|(id, addr)| PeerHint { id: NodeId(id), addr }).collect(),
        }
    }
}

proptest! {
    #[test]
    fn beacons_round_trip_within_a_datagram(beacon in arb_beacon()) {
        let msg = Message::Beacon(beacon);
        let bytes = encode_datagram(&msg).unwrap();
        prop_assert!(bytes.len() <= MAX_DATAGRAM);
        prop_assert_eq!(decode_datagram(&bytes).unwrap(), msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let _ = decode_datagram(&bytes);
    }

    #[test]
    fn corrupted_beacons_never_panic(beacon in arb_beacon(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode_datagram(&Message::Beacon(beacon)).unwrap();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let _ = decode_datagram(&bytes);
    }
}

#[test]
fn the_pool_carries_its_playlist_name_within_a_limit() {
    let pool = |name: &str| {
        Message::Control(Control::Pool {
            party: PartyId(9),
            songs: vec![],
            playlist: Some(name.to_owned()),
        })
    };
    let fits = pool(&"é".repeat(crate::proto::MAX_PLAYLIST_NAME_LEN / 2));
    let bytes = encode(&fits, crate::proto::MAX_FRAME).unwrap();
    assert_eq!(decode(&bytes, crate::proto::MAX_FRAME).unwrap(), fits);
    let long = pool(&"x".repeat(crate::proto::MAX_PLAYLIST_NAME_LEN + 1));
    assert!(matches!(
        encode(&long, crate::proto::MAX_FRAME),
        Err(EncodeError::Limit {
            field: "pool.playlist",
            ..
        })
    ));
}
