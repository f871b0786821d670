//! Refuses a song file whose tags claim more bytes than they hold, before symphonia reads
//! it: symphonia 0.5 allocates whatever a tag's length field says before it reads the
//! bytes (upstream issue #508), so a few crafted bytes could make it ask for gigabytes,
//! and a failed allocation aborts the box.
//!
//! It follows symphonia's probe (the first marker within 1 MiB wins) and checks what the
//! probe would read: each ID3v2 tag (every frame, through the tag's unsynchronisation
//! when it has one), then FLAC's metadata blocks (every block, the comments and pictures
//! inside), an Ogg Vorbis stream's comment header, or MP4's atoms (each within its
//! parent, every sample size within the file). None of the files refused is valid:
//! symphonia fails on each of them too, but after the allocation.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

mod mp4;
mod xiph;

/// Why a file's tags cannot be read safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTags {
    /// A length field runs past the end of its tag, packet or file.
    #[error("{what} claims {claimed} bytes past the end of its tag or file")]
    Overlong { what: &'static str, claimed: u64 },
    /// The pages holding the tags are damaged (lost sync or a wrong checksum), so what
    /// symphonia would read there cannot be checked.
    #[error("{0} is damaged")]
    Damaged(&'static str),
}

/// Checks `source` from its start and rewinds it. `Err(io)` only when reading fails;
/// `Ok(Err(bad))` when the tags must not be handed to symphonia.
pub fn check(source: &mut dyn MediaSource) -> io::Result<Result<(), BadTags>> {
    let verdict = {
        let mut reader = BufReader::new(&mut *source);
        check_tags(&mut reader)
    };
    source.seek(SeekFrom::Start(0))?;
    match verdict {
        Ok(()) => Ok(Ok(())),
        Err(Found::Bad(bad)) => Ok(Err(bad)),
        Err(Found::Io(e)) => Err(e),
    }
}

enum Found {
    Bad(BadTags),
    Io(io::Error),
}

impl From<io::Error> for Found {
    fn from(e: io::Error) -> Self {
        Found::Io(e)
    }
}

fn bad(what: &'static str, claimed: u64) -> Found {
    Found::Bad(BadTags::Overlong { what, claimed })
}

type Checked = Result<(), Found>;

/// How far symphonia's probe looks for a marker before giving up (1 MiB in 0.5).
const PROBE_SEARCH_LIMIT: usize = 1 << 20;

/// What symphonia's probe makes of a marker it finds.
enum Marker {
    Id3,
    Flac,
    Ogg,
    /// `ftyp`: the MP4 reader starts at the atom's size, 4 bytes before.
    Mp4,
    /// WAV, MP3 or ADTS: nothing read from them is allocated by a claimed length.
    Other,
}

fn marker_at(bytes: &[u8]) -> Option<Marker> {
    const SYNCS: [u8; 19] = [
        0xfe, 0xff, 0xf6, 0xf7, 0xe6, 0xe7, 0xfc, 0xfd, 0xf4, 0xf5, 0xe4, 0xe5, 0xfa, 0xfb, 0xf2,
        0xf3, 0xe2, 0xe3, 0xf1,
    ];
    match bytes {
        [b'I', b'D', b'3', ..] => Some(Marker::Id3),
        [b'f', b'L', b'a', b'C', ..] => Some(Marker::Flac),
        [b'O', b'g', b'g', b'S', ..] => Some(Marker::Ogg),
        [b'f', b't', b'y', b'p', ..] => Some(Marker::Mp4),
        [b'R', b'I', b'F', b'F', ..] => Some(Marker::Other),
        [0xff, b, ..] if SYNCS.contains(b) => Some(Marker::Other),
        _ => None,
    }
}

/// The first marker at or after `from` within the probe's search limit, as symphonia's
/// probe scans for one.
fn find_marker<R: Read + Seek>(reader: &mut R, from: u64) -> Result<Option<(u64, Marker)>, Found> {
    reader.seek(SeekFrom::Start(from))?;
    let mut window = vec![0u8; PROBE_SEARCH_LIMIT + 4];
    let n = read_up_to(reader, &mut window)?;
    window.truncate(n);
    Ok((0..n.min(PROBE_SEARCH_LIMIT))
        .find_map(|i| marker_at(&window[i..]).map(|m| (from + i as u64, m))))
}

/// Follows symphonia's probe: from the start, each ID3v2 tag it meets and then the
/// container it settles on.
fn check_tags<R: Read + Seek>(reader: &mut R) -> Checked {
    let mut from = 0;
    loop {
        let Some((at, marker)) = find_marker(reader, from)? else {
            return Ok(());
        };
        reader.seek(SeekFrom::Start(at))?;
        match marker {
            Marker::Id3 => {
                let mut head = [0u8; 10];
                if read_up_to(reader, &mut head)? < 10 {
                    return Ok(());
                }
                let size = syncsafe(&head[6..10]);
                check_id3v2(reader, head[3], head[5], size)?;
                from = at + 10 + size;
            }
            Marker::Flac => {
                reader.seek(SeekFrom::Start(at + 4))?;
                return xiph::check_flac_blocks(reader);
            }
            Marker::Ogg => return xiph::check_ogg_vorbis(reader),
            Marker::Mp4 => return mp4::check_mp4(reader, at.saturating_sub(4)),
            Marker::Other => return Ok(()),
        }
    }
}

/// Fills as much of `buf` as the reader holds.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn syncsafe(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7f))
}

/// The tag's bytes as symphonia reads them: at most the tag's size, and for versions 2
/// and 3 with the unsynchronisation flag, every `0xFF 0x00` read as `0xFF`.
struct TagBytes<'a, R> {
    reader: &'a mut R,
    left: u64,
    unsync: bool,
    after_ff: bool,
}

impl<R: Read + Seek> TagBytes<'_, R> {
    fn byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            if self.left == 0 {
                return Ok(None);
            }
            let mut b = [0u8];
            if read_up_to(self.reader, &mut b)? == 0 {
                return Ok(None);
            }
            self.left -= 1;
            let dropped = self.unsync && self.after_ff && b[0] == 0;
            self.after_ff = b[0] == 0xff;
            if !dropped {
                return Ok(Some(b[0]));
            }
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        for slot in buf.iter_mut() {
            match self.byte()? {
                Some(b) => *slot = b,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Passes over `n` bytes; false if the tag or the file ends first.
    fn skip(&mut self, n: u64) -> io::Result<bool> {
        if self.unsync {
            for _ in 0..n {
                if self.byte()?.is_none() {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        if n > self.left {
            return Ok(false);
        }
        let here = self.reader.stream_position()?;
        let end = self.reader.seek(SeekFrom::End(0))?;
        if end.saturating_sub(here) < n {
            return Ok(false);
        }
        self.reader.seek(SeekFrom::Start(here + n))?;
        self.left -= n;
        Ok(true)
    }
}

fn check_id3v2<R: Read + Seek>(reader: &mut R, version: u8, flags: u8, size: u64) -> Checked {
    if !(2..=4).contains(&version) {
        return Ok(());
    }
    let mut tag = TagBytes {
        reader,
        left: size,
        unsync: flags & 0x80 != 0 && version < 4,
        after_ff: false,
    };
    if flags & 0x40 != 0 && version >= 3 {
        let mut len = [0u8; 4];
        if !tag.fill(&mut len)? {
            return Ok(());
        }
        let rest = match version {
            3 => u64::from(u32::from_be_bytes(len)),
            _ => syncsafe(&len).saturating_sub(4),
        };
        if !tag.skip(rest)? {
            return Err(bad("ID3v2 extended header", rest));
        }
    }
    let (id_len, header_len) = if version == 2 { (3, 6) } else { (4, 10) };
    let mut header = [0u8; 10];
    while tag.left >= header_len as u64 {
        if !tag.fill(&mut header[..header_len])? {
            return Ok(());
        }
        let id = &header[..id_len];
        if !id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Ok(()); // padding: symphonia stops here too
        }
        let size = match version {
            2 => u64::from(u32::from_be_bytes([0, header[3], header[4], header[5]])),
            3 => u64::from(u32::from_be_bytes([
                header[4], header[5], header[6], header[7],
            ])),
            _ => syncsafe(&header[4..8]),
        };
        if !tag.skip(size)? {
            return Err(bad("ID3v2 frame", size));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
