//! The guard against tags that claim more than they hold: real files pass, each kind of
//! lie is caught, and the source is rewound either way.

use std::io::{Cursor, Read};
use std::path::Path;

use super::*;

fn verdict(bytes: &[u8]) -> Result<(), BadTags> {
    let mut source = Cursor::new(bytes.to_vec());
    let verdict = check(&mut source).unwrap();
    let mut again = Vec::new();
    source.read_to_end(&mut again).unwrap();
    assert_eq!(again, bytes, "the source is rewound");
    verdict
}

/// An ID3v2.`version` tag holding `frames`, with `flags`.
fn id3(version: u8, flags: u8, frames: &[u8]) -> Vec<u8> {
    let len = frames.len() as u32;
    let size = [
        (len >> 21) & 0x7f,
        (len >> 14) & 0x7f,
        (len >> 7) & 0x7f,
        len & 0x7f,
    ];
    let mut out = vec![b'I', b'D', b'3', version, 0, flags];
    out.extend(size.map(|b| b as u8));
    out.extend_from_slice(frames);
    out
}

/// A v2.3 frame whose header says `size` and which holds `body`.
fn frame23(id: &[u8; 4], size: u32, body: &[u8]) -> Vec<u8> {
    [&id[..], &size.to_be_bytes(), &[0, 0], body].concat()
}

#[test]
fn the_fixtures_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(verdict(&bytes), Ok(()), "{}", path.display());
    }
}

#[test]
fn an_id3_frame_larger_than_its_tag_is_refused() {
    let ok = id3(3, 0, &frame23(b"TIT2", 3, b"\0ab"));
    assert_eq!(verdict(&ok), Ok(()));
    let lie = id3(3, 0, &frame23(b"TIT2", 0x3700_0000, b"\0ab"));
    assert_eq!(
        verdict(&lie),
        Err(BadTags {
            what: "ID3v2 frame",
            claimed: 0x3700_0000
        })
    );
    // Padding ends the frames, as it does for symphonia.
    let padded = id3(
        3,
        0,
        &[&frame23(b"TIT2", 3, b"\0ab")[..], &[0; 20]].concat(),
    );
    assert_eq!(verdict(&padded), Ok(()));
}

#[test]
fn versions_2_and_4_are_walked_with_their_own_sizes() {
    let v2 = |size: u32| {
        id3(
            2,
            0,
            &[&b"TT2"[..], &size.to_be_bytes()[1..], b"\0ab"].concat(),
        )
    };
    assert_eq!(verdict(&v2(3)), Ok(()));
    assert!(verdict(&v2(0x00ff_ffff)).is_err());
    // Version 4 sizes are syncsafe: 0x7f7f7f7f is 256 MiB, not 2 GiB.
    let v4 = id3(4, 0, &[&b"TIT2"[..], &[0x7f; 4], &[0, 0], b"\0ab"].concat());
    assert_eq!(verdict(&v4).unwrap_err().claimed, (1 << 28) - 1);
}

#[test]
fn unsynchronised_tags_are_read_as_symphonia_reads_them() {
    // Every 0xFF 0x00 in the stored tag is one 0xFF byte of the frame.
    let frame = [
        &b"TIT2"[..],
        &[0, 0, 0, 3],
        &[0, 0],
        &[0xff, 0x00, 0xff, 0x00, 0x41],
    ]
    .concat();
    assert_eq!(verdict(&id3(3, 0x80, &frame)), Ok(()));
    let long = [
        &b"TIT2"[..],
        &[0, 0, 0, 9],
        &[0, 0],
        &[0xff, 0x00, 0xff, 0x00, 0x41],
    ]
    .concat();
    assert!(verdict(&id3(3, 0x80, &long)).is_err());
}

/// `fLaC`, STREAMINFO and one more block of `kind` holding `body`, claiming `len`.
fn flac(kind: u8, len: u32, body: &[u8]) -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0, 0, 0, 34]);
    out.extend_from_slice(&[0; 34]);
    out.push(0x80 | kind);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

#[test]
fn flac_blocks_comments_and_pictures_must_fit() {
    let comments = |len: u32| {
        let body = [
            &4u32.to_le_bytes()[..],
            b"lavf",
            &1u32.to_le_bytes(),
            &len.to_le_bytes(),
            b"A=b",
        ]
        .concat();
        flac(4, body.len() as u32, &body)
    };
    assert_eq!(verdict(&comments(3)), Ok(()));
    assert_eq!(
        verdict(&comments(u32::MAX)).unwrap_err().what,
        "FLAC comment"
    );
    let picture = |data_len: u32| {
        let body = [
            &3u32.to_be_bytes()[..],
            &9u32.to_be_bytes(),
            b"image/png",
            &0u32.to_be_bytes(),
            &[0; 16],
            &data_len.to_be_bytes(),
            b"png",
        ]
        .concat();
        flac(6, body.len() as u32, &body)
    };
    assert_eq!(verdict(&picture(3)), Ok(()));
    assert_eq!(
        verdict(&picture(0xf000_0000)).unwrap_err().what,
        "FLAC picture data"
    );
    assert_eq!(
        verdict(&flac(1, 0x00ff_ffff, &[0; 8])).unwrap_err().what,
        "FLAC metadata block"
    );
}

#[test]
fn flac_after_an_id3_tag_is_checked_too() {
    let tagged = [
        id3(3, 0, &frame23(b"TIT2", 3, b"\0ab")),
        flac(1, 0x00ff_ffff, &[]),
    ]
    .concat();
    assert!(verdict(&tagged).is_err());
}

#[test]
fn short_and_foreign_files_pass_to_symphonia() {
    assert_eq!(verdict(b""), Ok(()));
    assert_eq!(verdict(b"ID3"), Ok(()));
    assert_eq!(verdict(b"RIFF\0\0\0\0WAVE"), Ok(()));
}
