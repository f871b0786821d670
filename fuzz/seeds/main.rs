//! Writes the seed corpus of every fuzz target from the product's own encoders (and the
//! test fixtures), so the fuzzer starts from real encodings instead of random bytes.
//!
//! Usage: `seed_corpus CORPUS_DIR REPO_DIR`; writes `CORPUS_DIR/<target>/seed-*`.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chorus::command::{Request, Response, VolumeTarget};
use chorus::config::Config;
use chorus::party_key::PartyKey;
use chorus::proto::manifest::Manifest;
use chorus::proto::schedule::{Action, Entry, PoolSong};
use chorus::proto::{
    encode, Beacon, BoxState, Bulk, Control, Hello, Invite, MemberInfo, Message, NodeId, PartyId,
    PartyPhase, PartySummary, PeerHint, RequestKind, Roster, SongRef, TimeReply, TimeRequest,
    MAC_LEN, MAX_DATAGRAM, MAX_FRAME,
};

/// Bytes of each audio fixture kept: the headers and the first packets.
const AUDIO_PREFIX: usize = 16 * 1024;

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("seed-{name}")), bytes)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(root), Some(repo)) = (args.next(), args.next()) else {
        return Err("usage: seed_corpus CORPUS_DIR REPO_DIR".into());
    };
    let corpus = Corpus { root: root.into() };
    let repo = PathBuf::from(repo);
    protocol(&corpus)?;
    control(&corpus)?;
    config(&corpus)?;
    media(&corpus, &repo)?;
    Ok(())
}

fn addr4(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(192, 168, 1, 20), port))
}

fn member(id: u64, slot: u32) -> MemberInfo {
    MemberInfo {
        id: NodeId(id),
        name: format!("box {id}"),
        addr: SocketAddr::from((Ipv6Addr::LOCALHOST, 7702)),
        bulk_port: 7703,
        slot,
        missing: vec![1, 3],
    }
}

fn pool_song(tag: u8) -> PoolSong {
    PoolSong {
        song: SongRef([tag; 32]),
        rate: 44_100,
        frames: 44_100 * 180,
        origin: Some(NodeId(7)),
    }
}

/// A manifest of a 40,000-byte song in three chunks, whose hashes make its song's.
fn manifest() -> Manifest {
    const CHUNK: u32 = 16 * 1024;
    let song: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<[u8; 32]> = song
        .chunks(CHUNK as usize)
        .zip(0..)
        .filter_map(|(data, i)| chorus::proto::manifest::chunk_hash(i, 3, CHUNK, data))
        .collect();
    Manifest {
        song: SongRef(chorus::proto::manifest::tree_root(&chunks)),
        size: 40_000,
        chunk_size: CHUNK,
        chunks,
        format: "flac".into(),
        title: "Song".into(),
        artist: Some("Artist".into()),
        album: None,
        duration_ms: Some(1_000),
    }
}

/// Messages small enough for a datagram (the UDP kinds and short stream messages).
fn small_messages() -> Vec<Message> {
    let party = PartyId(0x1234_5678_9abc_def0);
    let beacon = Beacon {
        id: NodeId(0x0102),
        boot: 3,
        seq: 7,
        name: "kitchen".into(),
        unicast_port: 7701,
        control_port: 7702,
        state: BoxState::Hosting,
        party: Some(PartySummary {
            id: party,
            host: NodeId(0x0102),
            term: 3,
            members: 2,
        }),
        peers: vec![PeerHint {
            id: NodeId(5),
            addr: addr4(7701),
        }],
    };
    vec![
        Message::Beacon(beacon),
        Message::Invite(Invite {
            party,
            term: 2,
            round: 1,
            host: NodeId(1),
            host_name: "lounge".into(),
            host_addr: addr4(7702),
            ttl: 3,
            hops: 1,
            started: true,
            members: 2,
            host_key: [7; 32],
            signature: [9; 64],
        }),
        Message::TimeRequest(TimeRequest {
            party,
            seq: 4,
            t1: 1_000_000,
            member: NodeId(2),
            mac: [5; MAC_LEN],
        }),
        Message::TimeReply(TimeReply {
            party,
            seq: 4,
            t1: 1_000_000,
            t2: 1_000_500,
            t3: 1_000_600,
            mac: [6; MAC_LEN],
        }),
        Message::Control(Control::Hello(Hello {
            id: NodeId(2),
            name: "hall".into(),
            control_port: 7702,
            bulk_port: 7703,
        })),
        Message::Control(Control::Join { party, term: 2 }),
        Message::Control(Control::Heartbeat { party, term: 2 }),
        Message::Bulk(Bulk::Hello {
            id: NodeId(2),
            party,
        }),
        Message::Bulk(Bulk::Request {
            song: SongRef([9; 32]),
            chunk: 1,
        }),
    ]
}

/// Stream messages: the control stream's larger ones and the bulk stream's.
fn stream_messages() -> Vec<Message> {
    let party = PartyId(42);
    let roster = Roster {
        party,
        term: 2,
        phase: PartyPhase::Started,
        host: member(1, 0),
        members: vec![member(2, 1), member(3, 2)],
        udp_port: 7701,
    };
    let entries = [
        Action::Play {
            song: SongRef([4; 32]),
            from_frame: 0,
        },
        Action::Seek { frame: 88_200 },
        Action::Volume { percent: 60 },
        Action::Select { index: 2 },
    ];
    vec![
        Message::Control(Control::Welcome(roster.clone())),
        Message::Control(Control::Roster(roster)),
        Message::Control(Control::Pool {
            party,
            songs: vec![pool_song(1), pool_song(2)],
            playlist: Some("Road trip".into()),
        }),
        Message::Control(Control::Schedule {
            party,
            entries: (0u64..)
                .zip(entries)
                .map(|(seq, action)| Entry {
                    at_ns: 5_000_000_000 + seq,
                    seq,
                    action,
                })
                .collect(),
        }),
        Message::Control(Control::Request {
            party,
            id: 3,
            kind: RequestKind::Offer {
                song: pool_song(5),
                title: "Offered".into(),
            },
        }),
        Message::Control(Control::Answer {
            party,
            id: 3,
            accepted: false,
            reason: Some("the pool is full".into()),
        }),
        Message::Control(Control::Holdings {
            party,
            missing: vec![0, 4],
        }),
        Message::Bulk(Bulk::Manifest(Box::new(manifest()))),
        Message::Bulk(Bulk::Have {
            song: SongRef([9; 32]),
            chunks: 3,
            bits: vec![0b101],
        }),
        Message::Bulk(Bulk::Chunk {
            song: SongRef([9; 32]),
            chunk: 2,
            data: Bytes::from_static(b"chunk bytes"),
        }),
    ]
}

/// The party key of the `sealed` target.
const SEALED_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn protocol(corpus: &Corpus) -> Result<(), Box<dyn std::error::Error>> {
    let small = small_messages();
    let large = stream_messages();
    for (i, msg) in small.iter().enumerate() {
        let datagram = encode(msg, MAX_DATAGRAM)?;
        corpus.put("datagram", &i.to_string(), &datagram)?;
        // The same datagram as a keyed box sends it (the `sealed` target's key).
        let key = PartyKey::derive(SEALED_KEY)?;
        corpus.put("sealed", &i.to_string(), &key.seal(&datagram)?)?;
    }
    // The `frame` target's input: a cut, then each message after its length.
    let mut stream = vec![7u8];
    for (i, msg) in small.iter().chain(&large).enumerate() {
        let bytes = encode(msg, MAX_FRAME)?;
        corpus.put("message", &i.to_string(), &bytes)?;
        stream.extend_from_slice(&u32::try_from(bytes.len())?.to_le_bytes());
        stream.extend_from_slice(&bytes);
    }
    corpus.put("frame", "all", &stream)?;
    // A real first handshake message, then a last one's length of zeros.
    let keys = chorus::net::noise::Keys::new(&chorus::identity::Identity::generate())?;
    let (_, first) = chorus::net::noise::Initiator::new(&keys)?;
    let mut handshake = vec![u8::try_from(first.len())?];
    handshake.extend_from_slice(&first);
    handshake.extend_from_slice(&[0u8; 176]);
    corpus.put("handshake", "first", &handshake)?;
    peer(corpus, &small, &large)?;
    let manifest = encode(
        &Message::Bulk(Bulk::Manifest(Box::new(manifest()))),
        MAX_FRAME,
    )?;
    // The target supplies the header and the variant byte itself.
    corpus.put("manifest", "flac", &manifest[5..])?;
    Ok(())
}

/// One record of the `peer` target's script: op, little-endian length, payload.
fn record(op: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut out = vec![op];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload[..usize::from(len)]);
    out
}

/// Scripts for the `peer` target: every datagram from a neighbour, then each stream
/// message on a stream, as an idle box, a host and a joining member.
fn peer(
    corpus: &Corpus,
    small: &[Message],
    large: &[Message],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut heard = Vec::new();
    for (i, msg) in small.iter().enumerate() {
        let selector = u8::try_from(i).unwrap_or(0);
        heard.extend(record(
            0,
            &[&[selector][..], &encode(msg, MAX_DATAGRAM)?].concat(),
        ));
    }
    let mut talk = Vec::new();
    for msg in small.iter().chain(large) {
        if matches!(msg, Message::Control(_)) {
            talk.extend(record(1, &[&[0u8][..], &encode(msg, MAX_FRAME)?].concat()));
            talk.extend(record(3, &[10]));
        }
    }
    let scripts = [
        ("idle", [heard.clone(), talk.clone()].concat()),
        (
            "host",
            [record(4, &[]), heard.clone(), talk.clone()].concat(),
        ),
        (
            "member",
            [heard, record(5, &[]), talk, record(2, &[0]), record(6, &[])].concat(),
        ),
    ];
    for (name, script) in scripts {
        corpus.put("peer", name, &script)?;
    }
    Ok(())
}

fn control(corpus: &Corpus) -> Result<(), Box<dyn std::error::Error>> {
    let requests = [
        Request::Status,
        Request::Library,
        Request::host(),
        Request::Host {
            playlist: Some("Road trip".into()),
        },
        Request::Join {
            party: Some("00000000000000ab".into()),
        },
        Request::Skip,
        Request::Play { index: Some(2) },
        Request::set_volume(VolumeTarget::Box, 40),
        Request::change_volume(VolumeTarget::Party, -5),
        Request::Queue {
            song: "Artist - Song".into(),
        },
    ];
    for (i, request) in requests.iter().enumerate() {
        corpus.put(
            "control_json",
            &i.to_string(),
            serde_json::to_string(request)?.as_bytes(),
        )?;
    }
    let answer = Response::error("bad request: unknown variant");
    corpus.put(
        "control_json",
        "response",
        serde_json::to_string(&answer)?.as_bytes(),
    )?;
    Ok(())
}

fn config(corpus: &Corpus) -> Result<(), Box<dyn std::error::Error>> {
    let full = Config {
        name: Some("kitchen".into()),
        state_dir: "/var/lib/chorus".into(),
        music_dir: "/srv/music".into(),
        ..Config::default()
    };
    corpus.put("config_file", "full", toml::to_string(&full)?.as_bytes())?;
    corpus.put("config_file", "empty", b"")?;
    corpus.put(
        "config_file",
        "name",
        b"name = \"hall\"\n[party]\nauto_join = true\n",
    )?;
    let boot: [(&str, &[u8]); 4] = [
        ("name", b"# chorus.txt\nname = Kitchen\n"),
        (
            "wifi",
            b"\xEF\xBB\xBFname = \"Hall \"\r\nwifi_country = gb\r\nwifi_ssid = Home \"net\"\r\nwifi_passphrase = correct horse\r\n",
        ),
        (
            "psk",
            b"wifi_country=DE\nwifi_ssid=x\nwifi_passphrase=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        ),
        ("open", b"wifi_country = US\nwifi_ssid = cafe\n"),
    ];
    for (name, bytes) in boot {
        corpus.put("boot_file", name, bytes)?;
    }
    // The first byte picks the format: 0 M3U, 1 M3U8, 2 PLS.
    let playlists: [(&str, &[u8]); 3] = [
        (
            "m3u",
            b"\0#EXTM3U\r\n#EXTINF:123,Artist - One\r\nCaf\xE9/one.mp3\r\n../two.flac\r\n",
        ),
        (
            "m3u8",
            b"\x01\xEF\xBB\xBF# comment\n\nsub\\three.ogg\nhttp://x/y\n",
        ),
        (
            "pls",
            b"\x02[playlist]\nFile2=b.wav\nTitle2=B\nFile1=a.wav\nNumberOfEntries=2\n",
        ),
    ];
    for (name, bytes) in playlists {
        corpus.put("playlist", name, bytes)?;
    }
    Ok(())
}

/// The test fixtures cut to their first packets, a WAV made here, a FLAC with a cover,
/// and small pictures for the cover decoder.
fn media(corpus: &Corpus, repo: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let hints = [
        ("wav", 1u8),
        ("mp3", 2),
        ("flac", 3),
        ("ogg", 4),
        ("m4a", 5),
    ];
    let png = tiny_png()?;
    for entry in fs::read_dir(repo.join("tests/fixtures"))? {
        let path = entry?.path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        let Some(&(_, selector)) = hints.iter().find(|(e, _)| *e == ext) else {
            continue;
        };
        let bytes = fs::read(&path)?;
        let mut seed = vec![selector];
        seed.extend_from_slice(&bytes[..bytes.len().min(AUDIO_PREFIX)]);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("song");
        corpus.put("audio", name, &seed)?;
        if name == "tone.flac" {
            let mut covered = vec![selector];
            covered.extend_from_slice(&with_picture(&bytes[..AUDIO_PREFIX], &png));
            corpus.put("audio", "covered.flac", &covered)?;
        }
    }
    corpus.put("audio", "tone.wav", &[&[1u8][..], &wav()].concat())?;
    corpus.put("cover", "tiny.png", &png)?;
    for name in ["cover-colour.jpg", "cover-grey.jpg"] {
        corpus.put(
            "cover",
            name,
            &fs::read(repo.join("fuzz/seeds").join(name))?,
        )?;
    }
    Ok(())
}

/// 100 ms of a stereo 16-bit 8 kHz ramp as a RIFF WAVE file.
fn wav() -> Vec<u8> {
    let data: Vec<u8> = (0..800u16)
        .flat_map(|i| [(i * 40).to_le_bytes(); 2].concat())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes()); // channels
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&(8000u32 * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// A 4x4 RGB picture.
fn tiny_png() -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 4, 4);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    let pixels: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(5)).collect();
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// `flac` with a front-cover PICTURE block holding `png` after its STREAMINFO block.
fn with_picture(flac: &[u8], png: &[u8]) -> Vec<u8> {
    const STREAMINFO_END: usize = 4 + 4 + 34;
    let be = |n: usize| (n as u32).to_be_bytes();
    let mime = b"image/png";
    let mut block = Vec::new();
    block.extend_from_slice(&3u32.to_be_bytes()); // front cover
    block.extend_from_slice(&be(mime.len()));
    block.extend_from_slice(mime);
    block.extend_from_slice(&be(0)); // no description
    for n in [4u32, 4, 24, 0] {
        block.extend_from_slice(&n.to_be_bytes()); // width, height, depth, colours
    }
    block.extend_from_slice(&be(png.len()));
    block.extend_from_slice(png);
    let mut out = flac[..STREAMINFO_END].to_vec();
    let last = out[4] & 0x80;
    out[4] &= 0x7f; // the picture follows STREAMINFO, and is last if it was
    out.push(6 | last);
    out.extend_from_slice(&be(block.len())[1..]);
    out.extend_from_slice(&block);
    out.extend_from_slice(&flac[STREAMINFO_END..]);
    out
}
