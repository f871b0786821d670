//! Song decoding with symphonia (MP3, FLAC, Ogg Vorbis, AAC/M4A, WAV): open a file, report
//! its format, yield interleaved `f32` blocks, seek to an exact frame.
//!
//! Decoding blocks on file I/O and CPU: run it on a dedicated thread, never in an async
//! task. symphonia 0.5 (pinned) reports end of stream as `IoError(UnexpectedEof)`; that is
//! mapped to `Ok(None)` here and nowhere else. symphonia panics on some malformed files:
//! such a panic is contained (`library::contain`) and reported as [`DecodeError::Corrupt`].

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::{Error as SymError, SeekErrorKind};
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::{Time, TimeBase};

use crate::library::contain::contained;

/// Corrupt packets in a row after which the song is given up (it is noise, not music).
const MAX_CONSECUTIVE_CORRUPT: u32 = 50;

/// Why a song cannot be (further) decoded; every variant means "skip this song".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file cannot be opened or read (missing, permission, I/O error).
    #[error("cannot read song: {0}")]
    Io(#[from] io::Error),
    /// Not a container or codec this build decodes (or not audio at all). Tell the user
    /// which song is skipped and why.
    #[error("unsupported song format: {0}")]
    Unsupported(String),
    /// So many consecutive packets were corrupt that the rest is presumably garbage.
    #[error("song is corrupt: {0}")]
    Corrupt(String),
    /// The container cannot seek (or not to that position).
    #[error("cannot seek: {0}")]
    Seek(String),
    /// The position asked for is past the audio the file really holds (its header may
    /// promise more): the song is over there, which is no error to show anyone.
    #[error("past the end of the song")]
    PastEnd,
}

/// Format of a decoded song.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SongInfo {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Total frames, when the container says.
    pub frames: Option<u64>,
}

impl SongInfo {
    /// Length of the song, when known.
    pub fn duration(&self) -> Option<Duration> {
        let frames = self.frames?;
        Some(Duration::from_secs_f64(
            frames as f64 / f64::from(self.rate.max(1)),
        ))
    }
}

/// A song being decoded, one packet at a time.
pub struct Decoder {
    format: Box<dyn FormatReader>,
    codec: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    info: SongInfo,
    buffer: Option<SampleBuffer<f32>>,
    /// Frames still to drop from the next blocks to land exactly on a seek target.
    skip_frames: u64,
    position: u64,
    corrupt_packets: u64,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // symphonia's readers have no Debug; the format and position say what matters.
        f.debug_struct("Decoder")
            .field("info", &self.info)
            .field("position", &self.position)
            .field("corrupt_packets", &self.corrupt_packets)
            .finish_non_exhaustive()
    }
}

fn map_open_error(err: SymError) -> DecodeError {
    match err {
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            DecodeError::Unsupported("file ends before any audio".into())
        }
        SymError::IoError(e) => DecodeError::Io(e),
        other => DecodeError::Unsupported(other.to_string()),
    }
}

impl Decoder {
    /// Open `path`, probing the container (the extension is only a hint).
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        let file = File::open(path)?;
        let extension = path.extension().and_then(|e| e.to_str());
        Decoder::from_source(Box::new(file), extension)
    }

    /// Open a song from any byte source (a file, or bytes in memory), probing the
    /// container; `extension` (`"flac"`, `"mp3"`, …) is only a hint. The bytes are
    /// untrusted: whatever they hold, the result is a decoder or a [`DecodeError`].
    pub fn from_source(
        source: Box<dyn MediaSource>,
        extension: Option<&str>,
    ) -> Result<Self, DecodeError> {
        contained(|| Decoder::open_contained(source, extension))
            .unwrap_or_else(|panicked| Err(DecodeError::Corrupt(panicked.to_string())))
    }

    fn open_contained(
        mut source: Box<dyn MediaSource>,
        extension: Option<&str>,
    ) -> Result<Self, DecodeError> {
        if let Err(bad) = crate::library::guard::check(&mut *source)? {
            return Err(DecodeError::Corrupt(format!("tags: {bad}")));
        }
        let stream = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(map_open_error)?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| DecodeError::Unsupported("no audio track".into()))?;
        let params = &track.codec_params;
        // A rate of 0 (a header field like any other) would make every later division by
        // the rate, in resampling and in timing, meaningless.
        let rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| DecodeError::Unsupported("no sample rate".into()))?;
        let codec = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(map_open_error)?;
        // AAC in MP4 keeps its channel count in the decoder's own configuration, not in
        // the container's parameters: the decoder made from it knows.
        let channels = params
            .channels
            .or_else(|| Some(codec.last_decoded().spec().channels))
            .map(|c| c.count())
            .filter(|&c| c > 0)
            .ok_or_else(|| DecodeError::Unsupported("no channel layout".into()))?;
        let channels = u16::try_from(channels)
            .map_err(|_| DecodeError::Unsupported(format!("{channels} channels")))?;
        let info = SongInfo {
            rate,
            channels,
            frames: params.n_frames,
        };
        Ok(Decoder {
            track_id: track.id,
            time_base: params.time_base,
            format,
            codec,
            info,
            buffer: None,
            skip_frames: 0,
            position: 0,
            corrupt_packets: 0,
        })
    }

    /// Rate, channels and length.
    pub fn info(&self) -> SongInfo {
        self.info
    }

    /// Frame index of the first frame of the next block.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Packets skipped because they could not be decoded.
    pub fn corrupt_packets(&self) -> u64 {
        self.corrupt_packets
    }

    /// The next block of interleaved frames, or `None` at the end of the song.
    /// Corrupt packets are skipped and counted ([`Decoder::corrupt_packets`]).
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, DecodeError> {
        let mut corrupt_in_a_row = 0u32;
        loop {
            match self.step(&mut corrupt_in_a_row)? {
                Step::Eof => return Ok(None),
                Step::Skip => continue,
                Step::Ready { start, end } => {
                    return Ok(self
                        .buffer
                        .as_ref()
                        .and_then(|b| b.samples().get(start..end)))
                }
            }
        }
    }

    /// Read and decode one packet into `self.buffer`.
    fn step(&mut self, corrupt_in_a_row: &mut u32) -> Result<Step, DecodeError> {
        let format = &mut self.format;
        let next = contained(move || format.next_packet())
            .map_err(|panicked| DecodeError::Corrupt(panicked.to_string()))?;
        let packet = match next {
            Ok(packet) => packet,
            // symphonia 0.5's end-of-stream convention.
            Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(Step::Eof)
            }
            Err(SymError::IoError(e)) => return Err(DecodeError::Io(e)),
            Err(SymError::ResetRequired) => {
                // A chained stream changed its parameters; continue with a fresh decoder
                // state on the same track.
                self.codec.reset();
                return Ok(Step::Skip);
            }
            Err(SymError::DecodeError(msg)) | Err(SymError::LimitError(msg)) => {
                self.note_corrupt(corrupt_in_a_row, msg)?;
                return Ok(Step::Skip);
            }
            Err(other) => return Err(DecodeError::Unsupported(other.to_string())),
        };
        if packet.track_id() != self.track_id {
            return Ok(Step::Skip);
        }
        let codec = &mut self.codec;
        let decoded = contained(move || codec.decode(&packet))
            .map_err(|panicked| DecodeError::Corrupt(panicked.to_string()))?;
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(SymError::DecodeError(msg)) | Err(SymError::LimitError(msg)) => {
                self.corrupt_packets += 1;
                *corrupt_in_a_row += 1;
                return check_corrupt(*corrupt_in_a_row, msg).map(|()| Step::Skip);
            }
            Err(SymError::IoError(e)) => return Err(DecodeError::Io(e)),
            Err(other) => return Err(DecodeError::Unsupported(other.to_string())),
        };
        let spec = *decoded.spec();
        if spec.channels.count() != usize::from(self.info.channels) || spec.rate != self.info.rate {
            return Err(DecodeError::Unsupported(
                "format changes in the middle of the song".into(),
            ));
        }
        let frames = decoded.frames() as u64;
        let buffer = match self.buffer.as_mut() {
            Some(b) if b.capacity() >= decoded.capacity() => b,
            _ => self
                .buffer
                .insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let skip = self.skip_frames.min(frames);
        self.skip_frames -= skip;
        if skip == frames {
            return Ok(Step::Skip);
        }
        self.position += frames - skip;
        let channels = usize::from(self.info.channels);
        Ok(Step::Ready {
            start: usize::try_from(skip).unwrap_or(0) * channels,
            end: usize::try_from(frames).unwrap_or(0) * channels,
        })
    }

    fn note_corrupt(&mut self, in_a_row: &mut u32, msg: &str) -> Result<(), DecodeError> {
        self.corrupt_packets += 1;
        *in_a_row += 1;
        check_corrupt(*in_a_row, msg)
    }

    /// Seek so that the next block starts exactly at `frame`; returns the frame reached
    /// (less than `frame` only if the song is shorter).
    pub fn seek(&mut self, frame: u64) -> Result<u64, DecodeError> {
        let rate = f64::from(self.info.rate);
        let seeked = self
            .format
            .seek(
                SeekMode::Accurate,
                SeekTo::Time {
                    time: Time::from(frame as f64 / rate),
                    track_id: Some(self.track_id),
                },
            )
            .map_err(map_seek_error)?;
        self.codec.reset();
        let to_frames = |ts: u64| match self.time_base {
            Some(tb) => {
                let t = tb.calc_time(ts);
                ((t.seconds as f64 + t.frac) * rate).round() as u64
            }
            None => ts,
        };
        let actual = to_frames(seeked.actual_ts);
        // The container lands on a packet boundary at or before the target; drop the
        // frames in between so the position is exact.
        let target = frame.max(actual);
        self.skip_frames = target - actual;
        self.position = target;
        Ok(target)
    }
}

fn map_seek_error(err: SymError) -> DecodeError {
    match err {
        SymError::SeekError(SeekErrorKind::OutOfRange) => DecodeError::PastEnd,
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => DecodeError::PastEnd,
        other => DecodeError::Seek(other.to_string()),
    }
}

/// What one packet gave.
enum Step {
    Eof,
    Skip,
    Ready { start: usize, end: usize },
}

fn check_corrupt(in_a_row: u32, msg: &str) -> Result<(), DecodeError> {
    tracing::debug!(reason = msg, "skipped a corrupt packet");
    if in_a_row >= MAX_CONSECUTIVE_CORRUPT {
        return Err(DecodeError::Corrupt(format!(
            "{in_a_row} corrupt packets in a row, last: {msg}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
