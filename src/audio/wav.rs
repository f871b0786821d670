//! A sink that records what a DAC would have played, paced in real time, for tests that
//! compare boxes: a 32-bit float WAV plus a JSON sidecar `PATH.json` with the
//! `CLOCK_MONOTONIC` time of the first frame.
//!
//! The file is continuous in time: silence the DAC played during an underrun or a pause
//! is written as zeros, so frame `k` of the file played at
//! `first_frame_monotonic_ns + k / rate` seconds. The sidecar is rewritten on `drain`
//! and when the sink is dropped; the WAV header is finalised on drop.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pace::Pacer;
use super::{Sink, SinkError, SinkFormat, SinkTiming};

/// Contents of the `PATH.json` sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavSidecar {
    /// `CLOCK_MONOTONIC` nanoseconds at which frame 0 of the WAV started playing.
    pub first_frame_monotonic_ns: Option<u64>,
    /// Frames per second.
    pub rate: u32,
    /// Channels per frame.
    pub channels: u16,
    /// Frames in the file, silence included.
    pub frames: u64,
    /// Times the writer was late and the DAC played silence.
    pub underruns: u64,
    /// Where that silence is in the file: `[first frame, frames]` per underrun, so a
    /// reader can tell the device's gaps from the player's output.
    #[serde(default)]
    pub gaps: Vec<[u64; 2]>,
}

impl WavSidecar {
    /// Reads the sidecar of the WAV at `wav` (see [`sidecar_path`]).
    pub fn read(wav: &Path) -> std::io::Result<WavSidecar> {
        Ok(serde_json::from_slice(&std::fs::read(sidecar_path(wav))?)?)
    }
}

/// Records to a WAV file in real time.
pub struct WavSink {
    format: SinkFormat,
    path: PathBuf,
    pacer: Pacer,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    frames: u64,
    gaps: Vec<[u64; 2]>,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // hound's writer has no Debug; the path and counters say what matters.
        f.debug_struct("WavSink")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("frames", &self.frames)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

/// Path of the sidecar of the WAV at `path`: the same name with `.json` appended.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn hound_error(err: hound::Error) -> SinkError {
    match err {
        hound::Error::IoError(io) => SinkError::Io(io),
        other => SinkError::Config(format!("wav writer: {other}")),
    }
}

impl WavSink {
    /// Create (or truncate) `path` and its sidecar.
    pub fn create(path: &Path, format: SinkFormat, buffer: Duration) -> Result<Self, SinkError> {
        if format.rate == 0 || format.channels == 0 {
            return Err(SinkError::Config(format!("wav sink format {format:?}")));
        }
        let spec = hound::WavSpec {
            channels: format.channels,
            sample_rate: format.rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(hound_error)?;
        let sink = WavSink {
            format,
            path: path.to_path_buf(),
            pacer: Pacer::new(format, buffer),
            writer: Some(writer),
            frames: 0,
            gaps: Vec::new(),
        };
        sink.write_sidecar()?;
        Ok(sink)
    }

    /// The sidecar as it stands now.
    pub fn sidecar(&self) -> WavSidecar {
        WavSidecar {
            first_frame_monotonic_ns: self.pacer.first_frame().map(|t| t.as_nanos()),
            rate: self.format.rate,
            channels: self.format.channels,
            frames: self.frames,
            underruns: self.pacer.underruns(),
            gaps: self.gaps.clone(),
        }
    }

    fn write_sidecar(&self) -> Result<(), SinkError> {
        let json = serde_json::to_vec_pretty(&self.sidecar())
            .map_err(|e| SinkError::Config(format!("sidecar: {e}")))?;
        std::fs::write(sidecar_path(&self.path), json)?;
        Ok(())
    }

    fn record(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        if let Some(writer) = self.writer.as_mut() {
            for &s in samples {
                writer.write_sample(s).map_err(hound_error)?;
            }
        }
        Ok(())
    }

    fn record_silence(&mut self, frames: u64) -> Result<(), SinkError> {
        let samples = frames.saturating_mul(u64::from(self.format.channels));
        if let Some(writer) = self.writer.as_mut() {
            for _ in 0..samples {
                writer.write_sample(0.0f32).map_err(hound_error)?;
            }
        }
        self.frames += frames;
        Ok(())
    }
}

impl Sink for WavSink {
    fn format(&self) -> SinkFormat {
        self.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        let frames = self.format.frames_in(samples.len())? as u64;
        let gap = self.pacer.admit(frames)?;
        if gap > 0 {
            self.gaps.push([self.frames, gap]);
        }
        self.record_silence(gap)?;
        self.record(samples)?;
        self.frames += frames;
        Ok(())
    }

    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        Ok(self.pacer.timing())
    }

    fn pause(&mut self) -> Result<(), SinkError> {
        self.pacer.pause();
        Ok(())
    }

    fn resume(&mut self) -> Result<(), SinkError> {
        let gap = self.pacer.resume();
        self.record_silence(gap)
    }

    fn drain(&mut self) -> Result<(), SinkError> {
        self.pacer.drain()?;
        if let Some(writer) = self.writer.as_mut() {
            writer.flush().map_err(hound_error)?;
        }
        self.write_sidecar()
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            if let Err(err) = writer.finalize() {
                tracing::warn!(path = %self.path.display(), %err, "could not finalise wav capture");
            }
        }
        if let Err(err) = self.write_sidecar() {
            tracing::warn!(path = %self.path.display(), %err, "could not write wav sidecar");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::monotonic_now;

    #[test]
    fn records_played_frames_and_first_frame_time() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.wav");
        let format = SinkFormat {
            rate: 8_000,
            channels: 1,
        };
        let before = monotonic_now();
        {
            let mut sink = WavSink::create(&path, format, Duration::from_millis(20))?;
            let ramp: Vec<f32> = (0..800).map(|i| i as f32 / 800.0).collect();
            sink.write(&ramp)?;
            sink.drain()?;
        }
        let side = WavSidecar::read(&path)?;
        let first = side.first_frame_monotonic_ns.unwrap_or(0);
        assert!(first >= before.as_nanos() && first - before.as_nanos() < 20_000_000);
        assert_eq!(side.frames, 800);
        let mut reader = hound::WavReader::open(&path)?;
        let samples: Vec<f32> = reader.samples::<f32>().collect::<Result<_, _>>()?;
        assert_eq!(samples.len(), 800);
        assert_eq!(samples[400], 0.5);
        assert_eq!(side.gaps, Vec::<[u64; 2]>::new());
        Ok(())
    }

    #[test]
    fn an_underrun_is_recorded_as_silence_where_it_happened(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.wav");
        let format = SinkFormat {
            rate: 8_000,
            channels: 1,
        };
        {
            let mut sink = WavSink::create(&path, format, Duration::from_millis(20))?;
            sink.write(&[0.5; 80])?;
            // 10 ms of buffer runs dry long before 60 ms have passed.
            std::thread::sleep(Duration::from_millis(60));
            sink.write(&[0.5; 80])?;
            sink.drain()?;
        }
        let side = WavSidecar::read(&path)?;
        assert_eq!(side.underruns, 1);
        let [at, frames] = side.gaps[0];
        assert_eq!(at, 80);
        assert!(
            (400..=8_000).contains(&frames),
            "{frames} frames of silence"
        );
        let mut reader = hound::WavReader::open(&path)?;
        let samples: Vec<f32> = reader.samples::<f32>().collect::<Result<_, _>>()?;
        assert_eq!(samples.len() as u64, 160 + frames);
        assert_eq!(samples[80], 0.0);
        assert_eq!(samples[(80 + frames) as usize], 0.5);
        Ok(())
    }
}
