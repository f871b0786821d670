//! A sink that plays nothing but keeps a DAC's pace and timing, for boxes without audio.

use std::time::Duration;

use super::pace::Pacer;
use super::{Sink, SinkError, SinkFormat, SinkTiming};

/// Discards frames in real time through a simulated buffer of `buffer` length.
#[derive(Debug)]
pub struct NullSink {
    format: SinkFormat,
    pacer: Pacer,
}

impl NullSink {
    /// A null sink at `format` whose writes block like a DAC with a `buffer`-long queue.
    pub fn new(format: SinkFormat, buffer: Duration) -> Self {
        NullSink {
            format,
            pacer: Pacer::new(format, buffer),
        }
    }
}

impl Sink for NullSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        let frames = self.format.frames_in(samples.len())?;
        self.pacer.admit(frames as u64).map(|_gap| ())
    }

    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        Ok(self.pacer.timing())
    }

    fn pause(&mut self) -> Result<(), SinkError> {
        self.pacer.pause();
        Ok(())
    }

    fn resume(&mut self) -> Result<(), SinkError> {
        self.pacer.resume();
        Ok(())
    }

    fn drain(&mut self) -> Result<(), SinkError> {
        self.pacer.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_buffers_and_paces_whole_frames() {
        let format = SinkFormat {
            rate: 8_000,
            channels: 2,
        };
        let mut sink = NullSink::new(format, Duration::from_millis(10));
        assert!(matches!(
            sink.write(&[0.0; 3]),
            Err(SinkError::RaggedBuffer { .. })
        ));
        let start = std::time::Instant::now();
        assert!(sink.write(&[0.0; 2 * 800]).is_ok()); // 100 ms
        assert!(start.elapsed() >= Duration::from_millis(85));
        assert_eq!(sink.timing().ok().map(|t| t.written), Some(800));
    }
}
