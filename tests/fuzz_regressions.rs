//! Every input a fuzz target (`fuzz/`, `scripts/fuzz`) ever failed on, replayed on stable
//! in the normal suite against the same properties the target asserts: a file in
//! `tests/fuzz-regressions/TARGET/` is one input to TARGET, exactly as the fuzzer saved it.
//! Like `scripts/fuzz`, each input must also stay within a memory budget: an allocation
//! the box could not make is a crash on a Pi even where this machine overcommits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use chorus::audio::decode::Decoder;
use chorus::config::boot::{parse as parse_boot, wifi_conf};
use chorus::config::Config;
use chorus::core::transfer::{ChunkSet, Manifest};
use chorus::identity::Identity;
use chorus::library::{artwork, probe};
use chorus::net::control::{parse_request, parse_response};
use chorus::net::noise::{Initiator, Keys, Responder, Session};
use chorus::proto::{
    decode, decode_datagram, encode, encode_datagram, Bulk, Message, MAGIC, MAX_FRAME, VERSION,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio_util::codec::Decoder as _;

#[path = "../fuzz/frame_input.rs"]
mod frame_input;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes one input may have allocated in all (`scripts/fuzz` refuses any single
/// allocation over 128 MiB).
const MAX_BYTES_PER_INPUT: usize = 128 << 20;

fn datagram(data: &[u8]) {
    if let Ok(msg) = decode_datagram(data) {
        let again = encode_datagram(&msg).expect("a decoded datagram re-encodes");
        assert_eq!(decode_datagram(&again).expect("re-decodes"), msg);
    }
}

/// The `sealed` target: opening at a keyed box never panics; what opens decodes.
fn sealed(data: &[u8]) {
    let key = chorus::party_key::PartyKey::derive(
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    )
    .expect("a valid key");
    if let Ok(plain) = key.open(data) {
        assert!(plain.len() <= chorus::proto::MAX_DATAGRAM);
        let _ = decode_datagram(&plain);
    }
}

fn message(data: &[u8]) {
    if let Ok(msg) = decode(data, MAX_FRAME) {
        let again = encode(&msg, MAX_FRAME).expect("a decoded message re-encodes");
        assert_eq!(decode(&again, MAX_FRAME).expect("re-decodes"), msg);
    }
}

/// The target's plaintexts sealed in a genuine session, read whole and in pieces of the
/// target's choosing.
fn frame(data: &[u8]) {
    let (sender, receiver) = sessions();
    let Some((cut, stream)) = frame_input::sealed_stream(&mut sender.codec(), data) else {
        return;
    };
    let run = |step: usize| {
        let (mut codec, mut buf, mut got) = (receiver.codec(), BytesMut::new(), Vec::new());
        for piece in stream.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(msg)) => got.push(Ok(msg)),
                    Ok(None) => break,
                    Err(e) => {
                        got.push(Err(e.to_string()));
                        return got;
                    }
                }
            }
        }
        got
    };
    assert_eq!(run(stream.len().max(1)), run(usize::from(cut % 61) + 1));
}

/// A session between two boxes, both ends.
fn sessions() -> (Session, Session) {
    let dialer = Keys::new(&Identity::generate()).unwrap();
    let acceptor = Keys::new(&Identity::generate()).unwrap();
    let (initiator, m1) = Initiator::new(&dialer).unwrap();
    let (responder, m2) = Responder::new(&acceptor, &m1).unwrap();
    let (m3, sender) = initiator.finish(&m2).unwrap();
    (sender, responder.finish(&m3).unwrap())
}

/// The target's input is the body of `Bulk::Manifest`, after header and variant.
fn manifest(data: &[u8]) {
    let bytes = [&MAGIC[..], &[VERSION, 6, 2], data].concat();
    let Ok(Message::Bulk(Bulk::Manifest(wire))) = decode(&bytes, MAX_FRAME) else {
        return;
    };
    let manifest = Manifest::try_from(*wire).expect("a decoded manifest passed validate");
    let mut covered = 0;
    for i in 0..manifest.chunk_count() {
        let range = manifest.chunk_range(i);
        assert_eq!(range.start, covered);
        covered = range.end;
    }
    assert_eq!(covered, manifest.size);
    let count = manifest.chunk_count();
    if let Ok(set) = ChunkSet::from_bits(count, data[data.len() / 2..].to_vec()) {
        assert!(set.count() <= count && set.iter().all(|i| i < count));
    }
}

fn control_json(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_response(line);
    if let Ok(request) = parse_request(line) {
        let text = serde_json::to_string(&request).expect("a request serialises");
        assert_eq!(parse_request(&text).expect("re-parses"), request);
    }
}

fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("chorus.toml");
    if let Ok(config) = Config::parse(text, path) {
        let written = toml::to_string(&config).expect("a valid config serialises");
        assert_eq!(Config::parse(&written, path).expect("re-parses"), config);
    }
}

fn boot_file(data: &[u8]) {
    let Ok(settings) = parse_boot(data) else {
        return;
    };
    if let Some(name) = settings.name {
        let config = Config {
            name: Some(name),
            ..Config::default()
        };
        config
            .validate()
            .expect("a name chorus.txt accepts is valid");
    }
    if let Some(wifi) = settings.wifi {
        assert_eq!(wifi_conf(&wifi).lines().count(), 11);
    }
}

/// The target's first byte picks the file-name extension hint.
fn audio(data: &[u8]) {
    const HINTS: [Option<&str>; 7] = [
        None,
        Some("wav"),
        Some("mp3"),
        Some("flac"),
        Some("ogg"),
        Some("m4a"),
        Some("aac"),
    ];
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(selector) % HINTS.len()];
    let source = || Box::new(Cursor::new(file.to_vec()));
    let _ = probe::probe_source(source(), hint);
    if let Some(picture) = artwork::embedded_picture_in(source(), hint) {
        let _ = chorus::ui::cover::decode(&picture);
    }
    if let Ok(mut decoder) = Decoder::from_source(source(), hint) {
        let info = decoder.info();
        assert!(info.rate > 0 && info.channels > 0, "{info:?}");
        let channels = usize::from(info.channels);
        for _ in 0..32 {
            let Ok(Some(block)) = decoder.next_block() else {
                break;
            };
            assert_eq!(block.len() % channels, 0);
        }
    }
}

/// The target's first byte picks the format.
fn playlist(data: &[u8]) {
    use chorus::library::playlist::{parse::parse, Format};
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let format = [Format::M3u, Format::M3u8, Format::Pls][usize::from(selector) % 3];
    let entries = parse(file, format);
    let lines = file.split(|&b| b == b'\n' || b == b'\r').count();
    assert!(entries.len() <= lines);
    for entry in &entries {
        assert!(!entry.is_empty() && entry.trim() == entry, "{entry:?}");
        assert!(!entry.contains(['\n', '\r']), "{entry:?}");
        assert!(
            format == Format::Pls || !entry.starts_with('#'),
            "{entry:?}"
        );
    }
}

fn cover(data: &[u8]) {
    if let Ok(cover) = chorus::ui::cover::decode(data) {
        assert_eq!(
            cover.rgb.len(),
            cover.width as usize * cover.height as usize * 3
        );
        assert_eq!(chorus::ui::cover::scale_to_fit(&cover, 48).len(), 48 * 48);
    }
}

fn check_for(target: &str) -> fn(&[u8]) {
    match target {
        "datagram" => datagram,
        "sealed" => sealed,
        "message" => message,
        "frame" => frame,
        "manifest" => manifest,
        "control_json" => control_json,
        "config_file" => config_file,
        "boot_file" => boot_file,
        "audio" => audio,
        "cover" => cover,
        "playlist" => playlist,
        other => panic!("tests/fuzz-regressions/{other}: no fuzz target of that name"),
    }
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_saved_input_keeps_its_targets_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut replayed = 0;
    for dir in sorted_entries(&root) {
        let target = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let check = check_for(target);
        for input in sorted_entries(&dir) {
            eprintln!("replaying {}", input.display());
            let bytes = fs::read(&input).expect("readable input");
            // Symphonia panics on some inputs and the decoder contains it, but the
            // default panic hook allocates while it reports the panic (172 MB here once
            // chorus itself was optimised in test builds): not the input's cost, so it
            // is silenced while the input is measured.
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let region = Region::new(GLOBAL);
            check(&bytes);
            let allocated = region.change().bytes_allocated;
            std::panic::set_hook(hook);
            assert!(
                allocated <= MAX_BYTES_PER_INPUT,
                "{}: allocated {allocated} bytes",
                input.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved inputs under {}", root.display());
}

/// The first finding, spelled out: `name = " "` is refused by chorus.txt's own check,
/// with its line, not later by chorus.toml's check without one.
#[test]
fn a_name_of_spaces_is_refused_with_its_line() {
    let input = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions/boot_file/blank-quoted-name"),
    )
    .expect("saved input");
    let e = parse_boot(&input).expect_err("refused");
    assert_eq!(e.to_string(), "line 1: name must not be only spaces");
}

/// The second: an MP3 whose ID3v2.3 frame claims 922 MB in a tag of 8 kB. symphonia 0.5
/// allocates a frame's claimed size before reading it; the guard refuses the file first,
/// at every door a song comes through.
#[test]
fn an_id3_frame_claiming_more_than_its_tag_is_refused_before_symphonia() {
    let input = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions/audio/id3-frame-claims-922mb"),
    )
    .expect("saved input");
    let file = input[1..].to_vec();
    let source = || Box::new(Cursor::new(file.clone()));
    let e = probe::probe_source(source(), Some("mp3")).expect_err("refused");
    assert!(e.to_string().contains("ID3v2 frame claims"), "{e}");
    assert_eq!(artwork::embedded_picture_in(source(), Some("mp3")), None);
    let e = Decoder::from_source(source(), Some("mp3")).expect_err("refused");
    assert!(e.to_string().contains("ID3v2 frame claims"), "{e}");
}
