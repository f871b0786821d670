//! MP4 (M4A): the atoms symphonia reads into memory, each within its parent; the sample
//! tables (`stsz`, `stco`, `co64`, `stts`, `stsc`), whose entry counts symphonia reserves
//! room for, within their atom; and every sample size, which symphonia allocates for a
//! packet, within the file.

use std::io::{Read, Seek, SeekFrom};

use super::{bad, read_up_to, Checked};

/// Atoms holding only atoms.
const CONTAINERS: [&[u8; 4]; 11] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"mvex", b"moof",
    b"traf",
];

/// Deeper nesting than any real file: stop looking rather than recurse without bound.
const MAX_DEPTH: u32 = 12;

/// Bytes before an audio sample entry's child atoms, by the entry's version.
fn sample_entry_fields(version: u16) -> u64 {
    match version {
        1 => 28 + 16,
        2 => 28 + 36,
        _ => 28,
    }
}

struct Walk<'a, R> {
    reader: &'a mut R,
    file_len: u64,
}

impl<R: Read + Seek> Walk<'_, R> {
    fn at(&mut self, pos: u64, buf: &mut [u8]) -> Result<bool, super::Found> {
        self.reader.seek(SeekFrom::Start(pos))?;
        Ok(read_up_to(self.reader, buf)? == buf.len())
    }

    /// The atoms in `from..to`. At the top level an atom may run past the end (a
    /// truncated file, still playable up to there); inside one it may not.
    fn atoms(&mut self, from: u64, to: u64, depth: u32) -> Checked {
        let mut pos = from;
        while pos + 8 <= to && depth <= MAX_DEPTH {
            let mut header = [0u8; 8];
            if !self.at(pos, &mut header)? {
                return Ok(());
            }
            let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
            let (len, header_len) =
                match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
                    0 => (to - pos, 8),
                    1 => {
                        let mut large = [0u8; 8];
                        if !self.at(pos + 8, &mut large)? {
                            return Ok(());
                        }
                        (u64::from_be_bytes(large), 16)
                    }
                    n => (u64::from(n), 8),
                };
            if len < header_len || len > to - pos {
                if depth == 0 {
                    return Ok(());
                }
                return Err(bad("MP4 atom", len));
            }
            self.atom(&kind, pos + header_len, pos + len, depth)?;
            pos += len;
        }
        Ok(())
    }

    fn atom(&mut self, kind: &[u8; 4], body: u64, end: u64, depth: u32) -> Checked {
        match kind {
            k if CONTAINERS.contains(&k) => self.atoms(body, end, depth + 1),
            // Full boxes: version and flags first.
            b"meta" => self.atoms(body + 4, end, depth + 1),
            b"stsd" => self.atoms(body + 8, end, depth + 1),
            // Every item of the tag list is an atom holding `data` atoms.
            b"ilst" => self
                .atoms(body, end, depth + 1)
                .and_then(|()| self.items(body, end, depth)),
            b"mp4a" | b"alac" | b"fLaC" | b"lpcm" | b"sowt" | b"twos" | b"Opus" if depth > 0 => {
                let mut version = [0u8; 2];
                if !self.at(body + 8, &mut version)? {
                    return Ok(());
                }
                let children = body + sample_entry_fields(u16::from_be_bytes(version));
                self.atoms(children.min(end), end, depth + 1)
            }
            b"stsz" => self.sample_sizes(body, end),
            b"stco" => self.table(body, end, 4),
            b"co64" | b"stts" => self.table(body, end, 8),
            b"stsc" => self.table(body, end, 12),
            _ => Ok(()),
        }
    }

    fn items(&mut self, from: u64, to: u64, depth: u32) -> Checked {
        let mut pos = from;
        while pos + 8 <= to {
            let mut header = [0u8; 4];
            if !self.at(pos, &mut header)? {
                return Ok(());
            }
            let len = u64::from(u32::from_be_bytes(header));
            if len < 8 {
                return Ok(());
            }
            self.atoms(pos + 8, pos + len, depth + 2)?;
            pos += len;
        }
        Ok(())
    }

    /// A table atom: version and flags, the entry count, then the entries, which symphonia
    /// reserves room for by the count before reading them.
    fn table(&mut self, body: u64, end: u64, entry_len: u64) -> Checked {
        let mut fields = [0u8; 8];
        if !self.at(body, &mut fields)? {
            return Ok(());
        }
        let count = u64::from(u32::from_be_bytes([
            fields[4], fields[5], fields[6], fields[7],
        ]));
        if count * entry_len > end.saturating_sub(body + 8) {
            return Err(bad("MP4 table", count * entry_len));
        }
        Ok(())
    }

    /// `stsz`: version and flags, a size for every sample or 0, the count, then the sizes.
    fn sample_sizes(&mut self, body: u64, end: u64) -> Checked {
        let mut fields = [0u8; 12];
        if !self.at(body, &mut fields)? {
            return Ok(());
        }
        let same = u64::from(u32::from_be_bytes([
            fields[4], fields[5], fields[6], fields[7],
        ]));
        if same > self.file_len {
            return Err(bad("MP4 sample", same));
        }
        if same != 0 {
            return Ok(());
        }
        let count = u64::from(u32::from_be_bytes([
            fields[8], fields[9], fields[10], fields[11],
        ]));
        if count * 4 > end.saturating_sub(body + 12) {
            return Err(bad("MP4 sample table", count * 4));
        }
        let mut reader = std::io::BufReader::new(&mut *self.reader);
        for _ in 0..count {
            let mut size = [0u8; 4];
            reader.read_exact(&mut size)?;
            let size = u64::from(u32::from_be_bytes(size));
            if size > self.file_len {
                return Err(bad("MP4 sample", size));
            }
        }
        Ok(())
    }
}

/// The atoms of an MP4 file from `start`.
pub(super) fn check_mp4<R: Read + Seek>(reader: &mut R, start: u64) -> Checked {
    let file_len = reader.seek(SeekFrom::End(0))?;
    let mut walk = Walk { reader, file_len };
    walk.atoms(start, file_len, 0)
}
