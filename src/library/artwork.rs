//! The picture embedded in a song file (FLAC PICTURE block, ID3v2 APIC frame, MP4 cover
//! atom, Vorbis METADATA_BLOCK_PICTURE), read through symphonia's metadata.

use std::fs::File;
use std::path::Path;

use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::{Limit, MetadataOptions, StandardVisualKey, Visual};
use symphonia::core::probe::Hint;

/// The largest picture asked for: a cover is a few hundred kB. symphonia 0.5 does not
/// enforce this limit yet; what bounds a picture's allocation today is
/// [`super::guard`], which refuses a picture that claims more bytes than its file holds.
const MAX_PICTURE_BYTES: usize = 8 * 1024 * 1024;

/// The encoded bytes (PNG, JPEG, …) of the song's picture, the front cover when the
/// file says which one that is, otherwise the first one. `None` when the file has no
/// picture or cannot be opened: a missing cover is never an error worth reporting.
pub fn embedded_picture(path: &Path) -> Option<Vec<u8>> {
    let file = File::open(path).ok()?;
    embedded_picture_in(Box::new(file), path.extension().and_then(|e| e.to_str()))
}

/// [`embedded_picture`] for any byte source (a file, or bytes in memory); `extension`
/// is only a hint.
pub fn embedded_picture_in(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Option<Vec<u8>> {
    super::contain::contained(|| picture_contained(source, extension))
        .ok()
        .flatten()
}

fn picture_contained(mut source: Box<dyn MediaSource>, extension: Option<&str>) -> Option<Vec<u8>> {
    // A file whose tags lie about their sizes has no cover worth the risk.
    super::guard::check(&mut *source).ok()?.ok()?;
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let options = MetadataOptions {
        limit_visual_bytes: Limit::Maximum(MAX_PICTURE_BYTES),
        ..MetadataOptions::default()
    };
    let mut probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &options)
        .ok()?;

    // Pictures inside the container first, then those found in front of it by the
    // probe (an ID3v2 tag before an MP3 stream).
    let mut visuals: Vec<Visual> = Vec::new();
    if let Some(rev) = probed.format.metadata().skip_to_latest() {
        visuals.extend_from_slice(rev.visuals());
    }
    if let Some(mut meta) = probed.metadata.get() {
        if let Some(rev) = meta.skip_to_latest() {
            visuals.extend_from_slice(rev.visuals());
        }
    }
    pick(&visuals)
}

/// The front cover if marked, else the first picture with any bytes.
fn pick(visuals: &[Visual]) -> Option<Vec<u8>> {
    let usable = || visuals.iter().filter(|v| !v.data.is_empty());
    usable()
        .find(|v| v.usage == Some(StandardVisualKey::FrontCover))
        .or_else(|| usable().next())
        .map(|v| v.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc8(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |mut crc, &b| {
            crc ^= b;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x07
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    fn crc16(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |mut crc, &b| {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x8005
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    /// One FLAC frame of 192 silent mono 16-bit samples (a CONSTANT subframe): the
    /// reader looks for the first frame after the metadata blocks.
    fn silent_frame() -> Vec<u8> {
        // Sync, 192-sample blocks, the rate of STREAMINFO, mono, 16 bits, frame 0.
        let mut frame = vec![0xFF, 0xF8, 0x10, 0x08, 0x00];
        frame.push(crc8(&frame));
        frame.extend([0x00, 0x00, 0x00]); // CONSTANT subframe, value 0
        frame.extend(crc16(&frame).to_be_bytes());
        frame
    }

    /// A FLAC stream: the marker, a STREAMINFO block, one PICTURE block per
    /// `(picture type, bytes)`, then one silent frame.
    fn flac_with_pictures(pictures: &[(u32, &[u8])]) -> Vec<u8> {
        let mut f = b"fLaC".to_vec();
        let last = pictures.is_empty();
        f.push(if last { 0x80 } else { 0x00 });
        f.extend(&34u32.to_be_bytes()[1..]);
        f.extend(192u16.to_be_bytes()); // min block
        f.extend(192u16.to_be_bytes()); // max block
        f.extend([0; 6]); // frame sizes unknown
                          // 44100 Hz (20 bits), 1 channel (3 bits: 0), 16 bits (5 bits: 15), 192 samples.
        let packed: u64 = (44_100u64 << 44) | (15 << 36) | 192;
        f.extend(packed.to_be_bytes());
        f.extend([0; 16]); // MD5 unknown
        for (i, (kind, data)) in pictures.iter().enumerate() {
            let mut block = Vec::new();
            let mime = b"image/png";
            block.extend(kind.to_be_bytes());
            block.extend((mime.len() as u32).to_be_bytes());
            block.extend(mime);
            block.extend(0u32.to_be_bytes()); // description
            block.extend([0u8; 16]); // width, height, depth, colours
            block.extend((data.len() as u32).to_be_bytes());
            block.extend(*data);
            let last = i + 1 == pictures.len();
            f.push(if last { 0x86 } else { 0x06 });
            f.extend(&(block.len() as u32).to_be_bytes()[1..]);
            f.extend(block);
        }
        f.extend(silent_frame());
        f
    }

    fn write(bytes: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("song.flac"), bytes).expect("write");
        dir
    }

    #[test]
    fn front_cover_is_preferred() {
        // Type 4 is the back cover, 3 the front.
        let dir = write(&flac_with_pictures(&[(4, b"back"), (3, b"front")]));
        let got = embedded_picture(&dir.path().join("song.flac"));
        assert_eq!(got.as_deref(), Some(&b"front"[..]));
    }

    #[test]
    fn any_picture_when_none_is_the_front_cover() {
        let dir = write(&flac_with_pictures(&[(0, b"other")]));
        let got = embedded_picture(&dir.path().join("song.flac"));
        assert_eq!(got.as_deref(), Some(&b"other"[..]));
    }

    #[test]
    fn no_picture_and_no_file_are_none() {
        let dir = write(&flac_with_pictures(&[]));
        assert_eq!(embedded_picture(&dir.path().join("song.flac")), None);
        assert_eq!(embedded_picture(&dir.path().join("missing.flac")), None);
    }
}
