//! Chunk writes that bypass the page cache (`O_DIRECT`): a download then neither fills
//! memory with pages nobody reads again soon nor pays for that fill byte by byte; file
//! systems that refuse direct I/O get a plain write.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Direct I/O wants the buffer, the offset and the length aligned to the device's logical
/// block; 4096 bytes suits every block device a box has (SD cards and disks use 512 or
/// 4096).
const ALIGN: usize = 4096;

/// A buffer reused for direct writes, aligned without `unsafe` by starting inside it.
#[derive(Debug, Default)]
pub struct DirectBuf {
    bytes: Vec<u8>,
}

impl DirectBuf {
    /// An aligned slice of `len` bytes, holding whatever was there before.
    fn aligned(&mut self, len: usize) -> &mut [u8] {
        if self.bytes.len() < len + ALIGN {
            self.bytes = vec![0; len + ALIGN];
        }
        let pad = self.bytes.as_ptr().align_offset(ALIGN);
        &mut self.bytes[pad..pad + len]
    }
}

/// How a chunk reached the file, for the tests and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Its whole blocks by direct I/O (the rest, under one block, by a plain write).
    Direct,
    /// All of it by a plain write: too short, unaligned, or direct I/O refused.
    Plain,
}

/// Writes `data` at `offset` into the existing file at `path`: its whole blocks with
/// direct I/O when `offset` is block-aligned, the rest (the end of a song's last chunk)
/// with a plain write. A file system that refuses direct I/O (`EINVAL`: tmpfs, some
/// FUSE and network file systems) gets a plain write of everything.
pub fn write_at(path: &Path, offset: u64, data: &[u8], buf: &mut DirectBuf) -> io::Result<Route> {
    let head = data.len() / ALIGN * ALIGN;
    if head > 0 && offset % ALIGN as u64 == 0 {
        match write_direct(path, offset, &data[..head], buf) {
            Ok(()) => {
                plain(path, offset + head as u64, &data[head..])?;
                return Ok(Route::Direct);
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                tracing::debug!(path = %path.display(), "direct I/O refused; plain writes");
            }
            Err(e) => return Err(e),
        }
    }
    plain(path, offset, data)?;
    Ok(Route::Plain)
}

fn write_direct(path: &Path, offset: u64, data: &[u8], buf: &mut DirectBuf) -> io::Result<()> {
    let fd = rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::DIRECT | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let aligned = buf.aligned(data.len());
    aligned.copy_from_slice(data);
    File::from(fd).write_all_at(aligned, offset)
}

fn plain(path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all_at(data, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// Whether direct I/O works where the test's files live (tmpfs refuses it).
    fn direct_supported(dir: &Path) -> bool {
        let probe = dir.join("probe");
        std::fs::write(&probe, [0u8; ALIGN]).unwrap();
        let mut buf = DirectBuf::default();
        write_direct(&probe, 0, &[1; ALIGN], &mut buf).is_ok()
    }

    #[test]
    fn chunks_land_at_their_offsets_whatever_the_route() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("song.part");
        let size = 3 * 16_384 + 1000;
        std::fs::write(&path, vec![0u8; size]).unwrap();
        let song = bytes(size, 7);
        let mut buf = DirectBuf::default();
        // Out of order, the short last chunk first.
        let mut routes = Vec::new();
        for i in [3usize, 1, 0, 2] {
            let range = i * 16_384..((i + 1) * 16_384).min(size);
            routes.push(write_at(&path, range.start as u64, &song[range], &mut buf).unwrap());
        }
        assert_eq!(std::fs::read(&path).unwrap(), song);
        // The last chunk (1000 bytes) is shorter than a block: always a plain write.
        assert_eq!(routes[0], Route::Plain);
        if direct_supported(dir.path()) {
            assert_eq!(&routes[1..], &[Route::Direct; 3]);
        } else {
            assert_eq!(&routes[1..], &[Route::Plain; 3]);
        }
    }

    #[test]
    fn a_last_chunk_longer_than_a_block_keeps_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("song.part");
        let size = 16_384 + 2 * ALIGN + 123;
        std::fs::write(&path, vec![0u8; size]).unwrap();
        let song = bytes(size, 3);
        let mut buf = DirectBuf::default();
        write_at(&path, 0, &song[..16_384], &mut buf).unwrap();
        write_at(&path, 16_384, &song[16_384..], &mut buf).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), song);
    }

    #[test]
    fn an_unaligned_offset_is_written_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![0u8; 3 * ALIGN]).unwrap();
        let data = bytes(ALIGN, 1);
        let mut buf = DirectBuf::default();
        assert_eq!(write_at(&path, 100, &data, &mut buf).unwrap(), Route::Plain);
        assert_eq!(&std::fs::read(&path).unwrap()[100..100 + ALIGN], &data[..]);
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        let mut buf = DirectBuf::default();
        assert!(write_at(&path, 0, &[1; ALIGN], &mut buf).is_err());
        assert!(!path.exists());
    }
}
