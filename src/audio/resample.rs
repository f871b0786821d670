//! Sample-rate conversion from a song's rate to the device rate with rubato's asynchronous
//! sinc resampler, whose ratio the playout controller steers by a few hundred ppm.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Adjustable, Async, FixedAsync, Resampler as _, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

/// The largest steering the resampler accepts; the controller stays well inside it.
pub const MAX_STEER_PPM: f64 = 1_000.0;

/// Input frames per rubato call: ~11 ms at 44.1 kHz, so ratio changes apply promptly.
const CHUNK_FRAMES: usize = 512;

/// Sinc filter length: 128 taps keep aliasing and imaging far below audibility at a CPU
/// cost a Pi 3 handles for stereo 48 kHz.
const SINC_LEN: usize = 128;

/// Intermediate sinc points per input frame (the cubic interpolation runs between them).
const OVERSAMPLING: usize = 256;

/// Song frame of the (virtual) output frame before the first one: rubato's sinc filter
/// delays the input by half its length, less one oversampling step. Measured by fitting
/// the phase of a resampled sine (`resample_tests.rs`); an error here would cost SNR.
const START_OFFSET: f64 = -(SINC_LEN as f64) / 2.0 + 1.0 / OVERSAMPLING as f64;

/// Why resampling failed; both mean the parameters or buffers are wrong, not the audio.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// Rates or channel count rubato cannot work with (zero, or an absurd ratio).
    #[error("cannot build a resampler {from} Hz -> {to} Hz x{channels}: {reason}")]
    Config {
        /// Song rate.
        from: u32,
        /// Device rate.
        to: u32,
        /// Channels.
        channels: usize,
        /// rubato's reason.
        reason: String,
    },
    /// A steering request outside ±[`MAX_STEER_PPM`].
    #[error("steering of {0} ppm is outside ±{MAX_STEER_PPM} ppm")]
    SteerOutOfRange(f64),
    /// rubato refused a buffer (a bug in this wrapper).
    #[error("resampling failed: {0}")]
    Process(String),
}

/// Streams interleaved `f32` frames from `from` Hz to `to` Hz, with a steerable ratio.
///
/// Also tracks, for the playout controller, which song frame (fractional) the next output
/// frame corresponds to: [`Resampler::song_position`].
#[derive(Debug)]
pub struct Resampler {
    inner: Async<f32>,
    channels: usize,
    nominal_ratio: f64,
    ratio: f64,
    ppm: f64,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    /// Song frame (fractional) of the last output frame produced.
    last: f64,
    /// Song frame just past the last input frame pushed.
    input_end: f64,
    /// Output frames still to drop after a start or reset: the filter's run-in, which
    /// carries the song frames before the first one pushed.
    preroll: usize,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz for `channels` interleaved channels.
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self, ResampleError> {
        let config_error = |reason: String| ResampleError::Config {
            from,
            to,
            channels,
            reason,
        };
        if from == 0 || to == 0 || channels == 0 {
            return Err(config_error("zero rate or channels".into()));
        }
        let nominal_ratio = f64::from(to) / f64::from(from);
        let params = SincInterpolationParameters {
            sinc_len: SINC_LEN,
            f_cutoff: None,
            oversampling_factor: OVERSAMPLING,
            interpolation: SincInterpolationType::Cubic,
            window: WindowFunction::BlackmanHarris2,
        };
        let inner = Async::<f32>::new_sinc(
            nominal_ratio,
            1.0 + MAX_STEER_PPM * 1e-6,
            &params,
            CHUNK_FRAMES,
            channels,
            FixedAsync::Input,
        )
        .map_err(|e| config_error(e.to_string()))?;
        let scratch = vec![0.0; inner.output_frames_max() * channels];
        Ok(Resampler {
            inner,
            channels,
            nominal_ratio,
            ratio: nominal_ratio,
            ppm: 0.0,
            pending: Vec::new(),
            scratch,
            last: START_OFFSET,
            input_end: 0.0,
            preroll: preroll_frames(nominal_ratio),
        })
    }

    /// Steering now applied, in ppm: positive makes more output per input (the song
    /// advances more slowly against the device clock).
    pub fn ppm(&self) -> f64 {
        self.ppm
    }

    /// Steer the ratio to `nominal * (1 + ppm / 1e6)`. The change is ramped across the
    /// next chunk, so it never produces a step in the waveform.
    pub fn set_ppm(&mut self, ppm: f64) -> Result<(), ResampleError> {
        if !ppm.is_finite() || ppm.abs() > MAX_STEER_PPM {
            return Err(ResampleError::SteerOutOfRange(ppm));
        }
        self.inner
            .set_resample_ratio_relative(1.0 + ppm * 1e-6, true)
            .map_err(|e| ResampleError::Process(e.to_string()))?;
        self.ppm = ppm;
        Ok(())
    }

    /// Song frame (fractional, counted from the start or the last [`Resampler::reset`])
    /// that the next output frame carries. Frames still buffered inside rubato are
    /// accounted for, so this is exact to a small fraction of a frame.
    pub fn song_position(&self) -> f64 {
        self.last + (1 + self.preroll) as f64 / self.ratio
    }

    /// Input frames by which the output lags the input: after [`Resampler::reset`] to
    /// song frame `s`, the first output frame carries song frame `s - latency()`. Feed
    /// from `due + latency()` to have the first output frame carry `due`. The filter's
    /// run-in is dropped, so this is a fraction of a frame, zero or below: a song fed
    /// from its first frame comes out from its first frame, neither late nor after a
    /// stretch of silence.
    pub fn latency(&self) -> f64 {
        // The first output frame kept is one output step past the last one dropped.
        let dropped = preroll_frames(self.ratio);
        -(START_OFFSET + (1 + dropped) as f64 / self.ratio)
    }

    /// The output/input ratio in force (nominal times the steering).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Input frames buffered but not yet resampled.
    pub fn pending_frames(&self) -> usize {
        self.pending.len() / self.channels
    }

    /// Queue interleaved input frames (a trailing partial frame is dropped).
    pub fn push(&mut self, input: &[f32]) {
        let whole = input.len() - input.len() % self.channels;
        self.pending.extend_from_slice(&input[..whole]);
        self.input_end += (whole / self.channels) as f64;
    }

    /// Resample every whole chunk of queued input, appending output frames to `out`.
    /// Returns the number of output frames appended.
    pub fn pull(&mut self, out: &mut Vec<f32>) -> Result<usize, ResampleError> {
        let mut produced = 0;
        while self.pending_frames() >= self.inner.input_frames_next() {
            produced += self.process_chunk(out, None)?;
        }
        Ok(produced)
    }

    /// End of song: resample what is queued, with enough silence after it to push the
    /// filter's tail out, and append the output frames that carry the song, up to its
    /// last frame. Returns how many.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<usize, ResampleError> {
        let start = out.len();
        let first = self.song_position();
        let mut produced = self.pull(out)?;
        let mut tail = SINC_LEN;
        while self.pending_frames() > 0 || tail > 0 {
            let partial = self.pending_frames().min(self.inner.input_frames_next());
            let needed = self.inner.input_frames_next();
            self.pending.resize(needed * self.channels, 0.0);
            produced += self.process_chunk(out, Some(partial))?;
            tail = tail.saturating_sub(needed - partial);
        }
        // The zeros that pushed the last frames through would come out as a filter's
        // decay after them: silence between this song and the next one, which is due
        // right after its last frame.
        let song = ((self.input_end - first) * self.ratio).ceil().max(0.0) as usize;
        let kept = produced.min(song);
        out.truncate(start + kept * self.channels);
        Ok(kept)
    }

    /// Forget all buffered audio (after a seek); the next input is song frame
    /// `song_frame`. The steering is kept.
    pub fn reset(&mut self, song_frame: f64) -> Result<(), ResampleError> {
        self.inner.reset();
        self.pending.clear();
        self.ratio = self.nominal_ratio;
        self.last = song_frame + START_OFFSET;
        self.input_end = song_frame;
        let ppm = self.ppm;
        self.inner
            .set_resample_ratio_relative(1.0 + ppm * 1e-6, false)
            .map_err(|e| ResampleError::Process(e.to_string()))?;
        self.ratio = self.nominal_ratio * (1.0 + ppm * 1e-6);
        self.preroll = preroll_frames(self.ratio);
        Ok(())
    }

    fn process_chunk(
        &mut self,
        out: &mut Vec<f32>,
        partial: Option<usize>,
    ) -> Result<usize, ResampleError> {
        let frames_in = self.pending_frames();
        let process_error = |e: &dyn std::fmt::Display| ResampleError::Process(e.to_string());
        let input = InterleavedSlice::new(&self.pending[..], self.channels, frames_in)
            .map_err(|e| process_error(&e))?;
        let out_frames = self.scratch.len() / self.channels;
        let mut output =
            InterleavedSlice::new_mut(&mut self.scratch[..], self.channels, out_frames)
                .map_err(|e| process_error(&e))?;
        let indexing = partial.map(|n| rubato::Indexing::new().partial_len(n));
        let t0 = 1.0 / self.ratio;
        let (used, made) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| process_error(&e))?;
        // rubato ramps 1/ratio linearly across the chunk, adding the increment before each
        // output frame: mirror that sum to know the song position exactly.
        self.ratio = self.inner.resample_ratio();
        let t1 = 1.0 / self.ratio;
        let n = made as f64;
        self.last += n * t0 + (t1 - t0) * (n + 1.0) / 2.0;
        let dropped = self.preroll.min(made);
        self.preroll -= dropped;
        out.extend_from_slice(&self.scratch[dropped * self.channels..made * self.channels]);
        self.pending.drain(..used * self.channels);
        Ok(made - dropped)
    }
}

/// Output frames of the filter's run-in at `ratio`: those that carry song frames before
/// the first one pushed (their samples would be the silence the filter starts from).
fn preroll_frames(ratio: f64) -> usize {
    (-(START_OFFSET + 1.0 / ratio) * ratio).ceil().max(0.0) as usize
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
