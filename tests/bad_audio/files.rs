//! Broken and unusual song files, made here so nothing big is checked in.

use std::path::Path;

/// A WAV of `seconds` of a 440 Hz tone at `rate` Hz, `channels` channels, 16 bit.
pub fn tone_wav(path: &Path, rate: u32, channels: u16, seconds: f64) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let frames = (seconds * f64::from(rate)) as usize;
    for i in 0..frames {
        let v = (std::f64::consts::TAU * 440.0 * i as f64 / f64::from(rate)).sin() * 0.5;
        for _ in 0..channels {
            w.write_sample((v * 32_767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Offset of the `data` chunk's id in a WAV as hound writes it.
fn data_chunk(bytes: &[u8]) -> usize {
    bytes.windows(4).position(|w| w == b"data").unwrap()
}

/// Makes the WAV at `path` claim `seconds` of audio in its RIFF and data sizes while
/// holding what it holds: a file cut short after its header was written.
pub fn claim_seconds(path: &Path, seconds: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let byte_rate = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
    let data = data_chunk(&bytes);
    let claimed = seconds * byte_rate;
    bytes[data + 4..data + 8].copy_from_slice(&claimed.to_le_bytes());
    let riff = claimed + u32::try_from(data).unwrap();
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Sets the WAV format tag (1 = PCM) of a WAV as hound writes it.
pub fn set_format_tag(path: &Path, tag: u16) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[20..22].copy_from_slice(&tag.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// The first `len` bytes of `bytes` as the file `path`.
pub fn prefix(path: &Path, bytes: &[u8], len: usize) {
    std::fs::write(path, &bytes[..len.min(bytes.len())]).unwrap();
}

/// Bytes that look like nothing (a fixed xorshift sequence).
pub fn garbage(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn syncsafe(n: usize) -> [u8; 4] {
    let n = u32::try_from(n).unwrap();
    [
        (n >> 21) as u8 & 0x7f,
        (n >> 14) as u8 & 0x7f,
        (n >> 7) as u8 & 0x7f,
        n as u8 & 0x7f,
    ]
}

/// An ID3v2.3 tag holding one frame `id` with `body`, in front of `audio`.
pub fn with_id3(path: &Path, id: &[u8; 4], body: &[u8], audio: &[u8]) {
    let mut frame = id.to_vec();
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(body);
    let mut bytes = b"ID3\x03\x00\x00".to_vec();
    bytes.extend_from_slice(&syncsafe(frame.len()));
    bytes.extend_from_slice(&frame);
    bytes.extend_from_slice(audio);
    std::fs::write(path, bytes).unwrap();
}

/// A title frame body of `len` letters.
pub fn huge_title(len: usize) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend(std::iter::repeat_n(b'a', len));
    body
}

/// A picture frame body of `len` bytes of (not really) JPEG.
pub fn huge_picture(len: usize) -> Vec<u8> {
    let mut body = b"\x00image/jpeg\x00\x03cover\x00\xff\xd8\xff\xe0".to_vec();
    body.extend(garbage(len));
    body
}

/// A WAV whose header says `seconds` of 16-bit mono at `rate` Hz, as long as it says but
/// sparse (it costs no disk): hours of silence.
pub fn sparse_wav(path: &Path, rate: u32, seconds: u32) {
    tone_wav(path, rate, 1, 0.0);
    claim_seconds(path, seconds);
    let header = std::fs::metadata(path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(header + u64::from(seconds) * u64::from(rate) * 2)
        .unwrap();
}
