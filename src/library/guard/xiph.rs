//! The Xiph tags: FLAC's metadata blocks, Vorbis comments (in FLAC and in Ogg Vorbis's
//! comment packet) and the pictures in both, checked against the bytes that hold them.

use std::io::{Read, Seek, SeekFrom};

use super::{bad, read_up_to, BadTags, Checked, Found};

/// Largest comment packet assembled from Ogg pages: covers make it a few MB at most.
const MAX_COMMENT_PACKET: usize = 64 << 20;

fn be32(b: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn le32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// FLAC's metadata blocks after `fLaC`: each within the file, and the lengths inside the
/// comment and picture blocks within their block.
pub(super) fn check_flac_blocks<R: Read + Seek>(reader: &mut R) -> Checked {
    let file_len = {
        let here = reader.stream_position()?;
        let end = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(here))?;
        end
    };
    loop {
        let mut header = [0u8; 4];
        if read_up_to(reader, &mut header)? < 4 {
            return Ok(());
        }
        let len = u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        let start = reader.stream_position()?;
        if start + len > file_len {
            return Err(bad("FLAC metadata block", len));
        }
        let kind = header[0] & 0x7f;
        if kind == 4 || kind == 6 {
            let mut block = vec![0u8; usize::try_from(len).unwrap_or(0)];
            reader.read_exact(&mut block)?;
            if kind == 4 {
                check_comments(&block)?;
            } else {
                check_picture(&block)?;
            }
        } else {
            reader.seek(SeekFrom::Start(start + len))?;
        }
        if header[0] & 0x80 != 0 {
            return Ok(());
        }
    }
}

/// Vorbis comments: vendor string, count, then length-prefixed `KEY=value` comments; a
/// `METADATA_BLOCK_PICTURE` comment holds a picture block in base64.
fn check_comments(block: &[u8]) -> Checked {
    let mut at = 0usize;
    if take(block, &mut at, "Vorbis vendor string")?.is_none() {
        return Ok(());
    }
    let Some(count) = block.get(at..at + 4).map(le32) else {
        return Ok(());
    };
    at += 4;
    for _ in 0..count {
        let Some(comment) = take(block, &mut at, "Vorbis comment")? else {
            return Ok(());
        };
        check_picture_comment(comment)?;
    }
    Ok(())
}

/// The length-prefixed field at `at`, which is moved past it; `None` if the block ends
/// before the length (symphonia stops there without allocating).
fn take<'a>(
    block: &'a [u8],
    at: &mut usize,
    what: &'static str,
) -> Result<Option<&'a [u8]>, Found> {
    let Some(len) = block.get(*at..*at + 4).map(le32) else {
        return Ok(None);
    };
    *at += 4;
    if len > (block.len() - *at) as u64 {
        return Err(bad(what, len));
    }
    let value = &block[*at..*at + len as usize];
    *at += len as usize;
    Ok(Some(value))
}

fn check_picture_comment(comment: &[u8]) -> Checked {
    let Some(eq) = comment.iter().position(|&b| b == b'=') else {
        return Ok(());
    };
    if !comment[..eq].eq_ignore_ascii_case(b"metadata_block_picture") {
        return Ok(());
    }
    match base64(&comment[eq + 1..]) {
        Some(block) => check_picture(&block),
        None => Ok(()), // symphonia skips it too
    }
}

/// RFC 4648 base64 as symphonia decodes it: trailing `=` trimmed, any other symbol
/// outside the alphabet makes the whole value undecodable.
fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let end = text.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(end / 4 * 3 + 2);
    for quad in text[..end].chunks(4) {
        let mut bits = 0u32;
        for &c in quad {
            bits = (bits << 6) | value(c)?;
        }
        let bytes = (bits << (6 * (4 - quad.len()))).to_be_bytes();
        out.extend_from_slice(&bytes[1..quad.len()]);
    }
    Some(out)
}

/// A picture block: type, then length-prefixed MIME type and description, four numbers,
/// length-prefixed data.
fn check_picture(block: &[u8]) -> Checked {
    let mut at = 4usize;
    for (what, skip_after) in [
        ("picture MIME type", 0usize),
        ("picture description", 16),
        ("picture data", 0),
    ] {
        let Some(len) = block.get(at..at + 4).map(be32) else {
            return Ok(());
        };
        at += 4;
        if len > (block.len() - at) as u64 {
            return Err(bad(what, len));
        }
        at += len as usize + skip_after;
        if at > block.len() {
            return Ok(());
        }
    }
    Ok(())
}

/// The Ogg pages of the first logical stream, assembled into packets as symphonia does.
struct OggPackets<'a, R> {
    reader: &'a mut R,
    serial: Option<u32>,
    /// Segments of the current page still to read, and its body.
    lacing: Vec<u8>,
    body: Vec<u8>,
    seg: usize,
    at: usize,
}

impl<R: Read> OggPackets<'_, R> {
    /// The next page of our stream; `false` at the end of the file.
    fn next_page(&mut self) -> Result<bool, Found> {
        loop {
            let mut header = [0u8; 27];
            match read_up_to(self.reader, &mut header)? {
                0 => return Ok(false),
                27 if header.starts_with(b"OggS") => {}
                _ => return Err(Found::Bad(BadTags::Damaged("Ogg page"))),
            }
            let mut lacing = vec![0u8; usize::from(header[26])];
            let body_len: usize = if read_up_to(self.reader, &mut lacing)? == lacing.len() {
                lacing.iter().map(|&l| usize::from(l)).sum()
            } else {
                return Ok(false);
            };
            let mut body = vec![0u8; body_len];
            if read_up_to(self.reader, &mut body)? < body_len {
                return Ok(false);
            }
            let expected = le32(&header[22..26]) as u32;
            header[22..26].fill(0);
            if ogg_crc(&[&header, &lacing[..], &body]) != expected {
                return Err(Found::Bad(BadTags::Damaged("Ogg page")));
            }
            let serial = le32(&header[14..18]) as u32;
            if *self.serial.get_or_insert(serial) == serial {
                (self.lacing, self.body, self.seg, self.at) = (lacing, body, 0, 0);
                return Ok(true);
            }
        }
    }

    /// The next whole packet, at most `limit` bytes; `None` at the end of the file.
    fn packet(&mut self, limit: usize) -> Result<Option<Vec<u8>>, Found> {
        let mut packet = Vec::new();
        loop {
            while self.seg == self.lacing.len() {
                if !self.next_page()? {
                    return Ok(None);
                }
            }
            let len = usize::from(self.lacing[self.seg]);
            self.seg += 1;
            packet.extend_from_slice(&self.body[self.at..self.at + len]);
            self.at += len;
            if packet.len() > limit {
                return Err(bad("Ogg Vorbis comment packet", packet.len() as u64));
            }
            if len < 255 {
                return Ok(Some(packet));
            }
        }
    }
}

/// CRC-32 of Ogg pages: polynomial 0x04c11db7, no reflection, initial value 0.
pub(super) fn ogg_crc(parts: &[&[u8]]) -> u32 {
    let mut crc = 0u32;
    for &byte in parts.iter().flat_map(|p| p.iter()) {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// An Ogg Vorbis stream's comment header (its second packet), when its first packet is
/// Vorbis's identification header.
pub(super) fn check_ogg_vorbis<R: Read>(reader: &mut R) -> Checked {
    let mut packets = OggPackets {
        reader,
        serial: None,
        lacing: Vec::new(),
        body: Vec::new(),
        seg: 0,
        at: 0,
    };
    match packets.packet(MAX_COMMENT_PACKET)? {
        Some(ident) if ident.starts_with(b"\x01vorbis") => {}
        _ => return Ok(()),
    }
    match packets.packet(MAX_COMMENT_PACKET)? {
        Some(comment) => match comment.strip_prefix(b"\x03vorbis") {
            Some(fields) => check_comments(fields),
            None => Ok(()),
        },
        None => Ok(()),
    }
}
