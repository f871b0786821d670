//! Audio output: decode (symphonia) -> resample (rubato) -> gain -> a [`Sink`] (ALSA, WAV
//! capture, null, simulated DAC), plus the pure playout controller that steers the ratio.
//!
//! Every sink obeys one contract so the playout controller can treat them alike:
//!
//! - [`Sink::write`] takes interleaved `f32` frames at the sink's [`SinkFormat`] and
//!   blocks until the device accepted them, the way a DAC's buffer paces its writer.
//! - [`Sink::timing`] says how many frames were written, how many of those are still
//!   queued (`delay`) and the `CLOCK_MONOTONIC` instant at which both were true. Frame
//!   `written - delay` (counted from the first frame the caller wrote) is the one leaving
//!   the DAC at that instant. Silence a device plays during an underrun or a pause is not
//!   counted: the caller's frame numbering never shifts.

mod board;
pub mod decode;
pub mod device_position;
mod engine;
mod feed;
mod finished;
pub mod null;
mod orders;
pub mod player;
pub mod playout;
pub mod resample;
pub mod simdac;
pub mod simplayer;
pub mod spec;
mod track;
pub mod volume;
mod watchdog;
pub mod wav;

#[cfg(feature = "alsa")]
pub mod alsa;
#[cfg(feature = "alsa")]
mod alsa_open;
mod pace;
pub mod realtime;
#[cfg(feature = "alsa")]
pub mod recovery;

use std::fmt;
use std::time::Duration;

use crate::core::Instant;

pub use spec::{open, open_with, SinkSpec, SinkSpecError};

/// Sample rate and channel count a sink plays at; its input must already be in this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkFormat {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
}

impl SinkFormat {
    /// Duration of `frames` frames at this rate.
    pub fn frames_to_duration(&self, frames: u64) -> Duration {
        Duration::from_secs_f64(frames as f64 / f64::from(self.rate.max(1)))
    }

    /// Whole frames in `samples` interleaved samples, or an error for a ragged buffer.
    pub fn frames_in(&self, samples: usize) -> Result<usize, SinkError> {
        let channels = usize::from(self.channels.max(1));
        if samples % channels == 0 {
            Ok(samples / channels)
        } else {
            Err(SinkError::RaggedBuffer { samples, channels })
        }
    }
}

/// Format and buffering asked of a sink; ALSA may grant something close instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkParams {
    /// Requested rate and channels.
    pub format: SinkFormat,
    /// Period (wake-up granularity) for ALSA; at most 10 ms by default.
    pub period: Duration,
    /// Total buffer (the latency between `write` and the DAC); at most 40 ms by default.
    pub buffer: Duration,
}

impl Default for SinkParams {
    fn default() -> Self {
        SinkParams {
            format: SinkFormat {
                rate: 48_000,
                channels: 2,
            },
            period: Duration::from_millis(10),
            buffer: Duration::from_millis(40),
        }
    }
}

/// Where the DAC is: at `at`, frame `written - delay` of the caller's stream is audible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkTiming {
    /// Frames the caller has written since the sink was opened.
    pub written: u64,
    /// Frames written but not yet played (queued in buffers between us and the DAC).
    pub delay: u64,
    /// The `CLOCK_MONOTONIC` (or, for the simulated DAC, virtual) instant of this reading.
    pub at: Instant,
}

impl SinkTiming {
    /// The caller's frame index that is audible at [`SinkTiming::at`].
    pub fn audible_frame(&self) -> u64 {
        self.written.saturating_sub(self.delay)
    }
}

/// What went wrong in a sink, phrased as what the caller should do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The device ran dry (the writer was late) or was suspended, and could not be
    /// re-prepared in place. Call `write` again: the sink re-prepares on the next call.
    /// Position continuity is lost; the playout controller will see it and re-seek.
    #[error("audio underrun on {device} could not be recovered in place: {reason}")]
    Underrun {
        /// Device name.
        device: String,
        /// What the device reported.
        reason: String,
    },
    /// The device is gone (USB DAC unplugged, sound server stopped) or cannot be opened now.
    /// Keep the sink: later calls try to reopen it; wait `retry_after` before the next call
    /// (or drop the sink and `open` again later). Likely cause: hardware or server restart.
    #[error("audio device {device} unavailable (retry in {retry_after:?}): {reason}")]
    DeviceGone {
        /// Device name.
        device: String,
        /// Backoff before the sink will try the device again.
        retry_after: Duration,
        /// What the device reported.
        reason: String,
    },
    /// The configuration cannot work (unknown device, format, rate or buffer refused,
    /// feature not compiled in). Retrying will not help: fix the configuration.
    #[error("bad audio configuration: {0}")]
    Config(String),
    /// `write` would block forever: the sink is paused and its buffer is full. Call
    /// `resume` first.
    #[error("the sink is paused and its buffer is full")]
    Paused,
    /// A file sink could not write its capture (disk full, permission, missing folder).
    #[error("audio capture file: {0}")]
    Io(#[from] std::io::Error),
    /// The buffer is not a whole number of frames: a caller bug, nothing was written.
    #[error("{samples} samples are not a whole number of {channels}-channel frames")]
    RaggedBuffer {
        /// Samples passed.
        samples: usize,
        /// Channels of the sink.
        channels: usize,
    },
}

/// An audio output device. See the module documentation for the timing contract.
pub trait Sink: Send + fmt::Debug {
    /// Rate and channels the sink plays at (after negotiation with the device).
    fn format(&self) -> SinkFormat;

    /// Queue interleaved frames, blocking until the device accepted all of them.
    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError>;

    /// Where playback is now; see [`SinkTiming`].
    fn timing(&mut self) -> Result<SinkTiming, SinkError>;

    /// Stop playing, keeping queued frames; the position holds still until `resume`.
    fn pause(&mut self) -> Result<(), SinkError>;

    /// Continue after `pause`.
    fn resume(&mut self) -> Result<(), SinkError>;

    /// Block until every queued frame has been played.
    fn drain(&mut self) -> Result<(), SinkError>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn format(&self) -> SinkFormat {
        (**self).format()
    }
    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        (**self).write(samples)
    }
    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        (**self).timing()
    }
    fn pause(&mut self) -> Result<(), SinkError> {
        (**self).pause()
    }
    fn resume(&mut self) -> Result<(), SinkError> {
        (**self).resume()
    }
    fn drain(&mut self) -> Result<(), SinkError> {
        (**self).drain()
    }
}
