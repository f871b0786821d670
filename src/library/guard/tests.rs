//! The guard against tags that claim more than they hold: real files pass, each kind of
//! lie is caught, and the source is rewound either way.

use std::io::{Cursor, Read};
use std::path::Path;

use super::*;

fn what(bad: BadTags) -> &'static str {
    match bad {
        BadTags::Overlong { what, .. } => what,
        BadTags::Damaged(what) => what,
    }
}

fn claimed(verdict: Result<(), BadTags>) -> u64 {
    match verdict {
        Err(BadTags::Overlong { claimed, .. }) => claimed,
        other => panic!("{other:?}"),
    }
}

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
        Err(BadTags::Overlong {
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
    assert_eq!(claimed(verdict(&v4)), (1 << 28) - 1);
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
        verdict(&comments(u32::MAX)).map_err(what),
        Err("Vorbis comment")
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
        verdict(&picture(0xf000_0000)).map_err(what),
        Err("picture data")
    );
    assert_eq!(
        verdict(&flac(1, 0x00ff_ffff, &[0; 8])).map_err(what),
        Err("FLAC metadata block")
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

/// A picture block whose data claims `data_len` bytes and holds three.
fn picture_block(data_len: u32) -> Vec<u8> {
    let numbers = [0u8; 16];
    [
        &3u32.to_be_bytes()[..],
        &9u32.to_be_bytes(),
        b"image/png",
        &0u32.to_be_bytes(),
        &numbers,
        &data_len.to_be_bytes(),
        b"png",
    ]
    .concat()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    while out.len() % 4 != 0 {
        out.push('=');
    }
    out
}

/// Vorbis comments holding `comments`, the last one's length field replaced by `last_len`.
fn vorbis_comments(comments: &[&[u8]], last_len: Option<u32>) -> Vec<u8> {
    let mut out = [
        &4u32.to_le_bytes()[..],
        b"test",
        &(comments.len() as u32).to_le_bytes(),
    ]
    .concat();
    for (i, c) in comments.iter().enumerate() {
        let len = match last_len {
            Some(len) if i + 1 == comments.len() => len,
            _ => c.len() as u32,
        };
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// One Ogg page of stream 7 holding `packets` whole, with its checksum.
fn ogg_page(sequence: u32, packets: &[&[u8]]) -> Vec<u8> {
    let mut lacing = Vec::new();
    for p in packets {
        lacing.extend(std::iter::repeat_n(255u8, p.len() / 255));
        lacing.push((p.len() % 255) as u8);
    }
    let mut page = b"OggS\0\0".to_vec();
    page.extend_from_slice(&[0; 8]); // granule position
    page.extend_from_slice(&7u32.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(lacing.len() as u8);
    page.extend_from_slice(&lacing);
    page.extend(packets.iter().flat_map(|p| p.iter()));
    let crc = xiph::ogg_crc(&[&page]);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

fn ogg_vorbis(comments: &[u8]) -> Vec<u8> {
    let ident = [&b"\x01vorbis"[..], &[0; 23]].concat();
    let comment = [&b"\x03vorbis"[..], comments].concat();
    [ogg_page(0, &[&ident]), ogg_page(1, &[&comment])].concat()
}

#[test]
fn ogg_vorbis_comments_must_fit_their_packet() {
    let ok = ogg_vorbis(&vorbis_comments(&[b"TITLE=x"], None));
    assert_eq!(verdict(&ok), Ok(()));
    let lie = ogg_vorbis(&vorbis_comments(&[b"TITLE=x"], Some(u32::MAX)));
    assert_eq!(claimed(verdict(&lie)), u64::from(u32::MAX));
    let mut damaged = ok.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert_eq!(verdict(&damaged), Err(BadTags::Damaged("Ogg page")));
}

#[test]
fn pictures_in_comments_are_decoded_and_checked() {
    let comment = |data_len: u32| {
        format!(
            "METADATA_BLOCK_PICTURE={}",
            base64(&picture_block(data_len))
        )
    };
    let ok = ogg_vorbis(&vorbis_comments(&[comment(3).as_bytes()], None));
    assert_eq!(verdict(&ok), Ok(()));
    let lie = ogg_vorbis(&vorbis_comments(&[comment(0xf000_0000).as_bytes()], None));
    assert_eq!(verdict(&lie).map_err(what), Err("picture data"));
    let in_flac = vorbis_comments(&[comment(0xf000_0000).as_bytes()], None);
    assert_eq!(
        verdict(&flac(4, in_flac.len() as u32, &in_flac)).map_err(what),
        Err("picture data")
    );
}

fn atom(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    [&(body.len() as u32 + 8).to_be_bytes()[..], kind, body].concat()
}

/// ftyp, then moov holding `stbl` (the sample table's atoms) and `extra` beside the track.
fn mp4(stbl: &[u8], extra: &[u8]) -> Vec<u8> {
    let track = atom(
        b"trak",
        &atom(b"mdia", &atom(b"minf", &atom(b"stbl", stbl))),
    );
    let moov = atom(b"moov", &[track, extra.to_vec()].concat());
    [
        atom(b"ftyp", b"M4A \0\0\0\0"),
        moov,
        atom(b"mdat", &[0; 64]),
    ]
    .concat()
}

fn stsz(sizes: &[u32]) -> Vec<u8> {
    let mut body = vec![0u8; 8];
    body.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
    body.extend(sizes.iter().flat_map(|s| s.to_be_bytes()));
    atom(b"stsz", &body)
}

#[test]
fn mp4_samples_and_atoms_must_fit() {
    assert_eq!(verdict(&mp4(&stsz(&[16, 16]), &[])), Ok(()));
    let lie = mp4(&stsz(&[16, 0xfb00_0000]), &[]);
    assert_eq!(claimed(verdict(&lie)), 0xfb00_0000);
    // An atom inside moov claiming more than moov holds.
    let hdlr = [&0xffff_fff0u32.to_be_bytes()[..], b"hdlr", &[0; 24]].concat();
    assert_eq!(
        verdict(&mp4(&stsz(&[16]), &hdlr)).map_err(what),
        Err("MP4 atom")
    );
    // A table whose entry count claims more entries than the atom holds.
    let stco = atom(
        b"stco",
        &[&[0u8; 4][..], &0x4000_0000u32.to_be_bytes(), &[0; 8]].concat(),
    );
    assert_eq!(
        verdict(&mp4(&[stsz(&[16]), stco].concat(), &[])).map_err(what),
        Err("MP4 table")
    );
    // A top-level atom running past the end is a truncated file, still playable.
    let mut truncated = mp4(&stsz(&[16]), &[]);
    truncated.truncate(truncated.len() - 10);
    assert_eq!(verdict(&truncated), Ok(()));
}

#[test]
fn the_marker_the_probe_would_find_is_the_one_checked() {
    let bad_flac = flac(1, 0x00ff_ffff, &[]);
    // Junk before a container: the probe scans past it, and so does the guard.
    let after_junk = [&b"junk"[..], &bad_flac].concat();
    assert_eq!(
        verdict(&after_junk).map_err(what),
        Err("FLAC metadata block")
    );
    let after_tag = [
        id3(3, 0, &frame23(b"TIT2", 3, b"\0ab")),
        b"junk".to_vec(),
        bad_flac.clone(),
    ];
    assert!(verdict(&after_tag.concat()).is_err());
    // An MP3 frame sync first: the probe settles on MP3 and never reads the FLAC blocks.
    let mp3_first = [&[0xff, 0xfb, 0x90, 0x00][..], &bad_flac].concat();
    assert_eq!(verdict(&mp3_first), Ok(()));
}
