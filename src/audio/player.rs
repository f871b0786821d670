//! The playback thread: decodes, resamples, applies gain and writes to the sink, keeping
//! the DAC on the local-time target the driver sets. Blocking audio work never runs in an
//! async task; the driver talks to it through a command channel and reads its status.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::decode::Decoder;
use super::playout::{
    PlayoutConfig, PlayoutController, PlayoutDecision, PlayoutTarget, PositionMap,
};
use super::resample::Resampler;
use super::volume::Gain;
use super::{Sink, SinkError, SinkFormat};
use crate::core::Instant;

/// Output frames written per block: 5 ms at 48 kHz, well inside a 40 ms buffer.
const BLOCK_FRAMES: usize = 240;
/// How long a sink must work again before its "unavailable" error is cleared.
const DEVICE_BACK_AFTER: Duration = Duration::from_millis(500);

/// Where in a song the schedule wants to be: the core's [`crate::core::Anchor`]. The
/// driver re-anchors it often (the clock estimate moves), and the controller absorbs the
/// steps.
pub type LocalTarget = crate::core::Anchor;

/// What the driver asks of the player.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCommand {
    /// Play `path` on `target`; a different path replaces the current song.
    Play { path: PathBuf, target: LocalTarget },
    /// Silence: stop the song (the device keeps running, so timing stays continuous).
    Stop,
    /// The party volume, 0 to 100, scheduled by the host for every box.
    Volume(u8),
    /// This box's own volume, 0 to 100, on top of the party volume.
    BoxVolume(u8),
}

/// What the player is doing, for status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayerStatus {
    pub song: Option<PathBuf>,
    pub playing: bool,
    /// Song position audible now, in milliseconds.
    pub position_ms: u64,
    /// Last measured distance from the schedule, in microseconds (positive: ahead).
    pub playout_error_us: Option<f64>,
    pub steering_ppm: f64,
    pub reseeks: u64,
    /// The last error that stopped a song (a corrupt file, a lost device).
    pub last_error: Option<String>,
}

/// The driver's handle; dropping it stops the thread.
#[derive(Debug)]
pub struct Player {
    commands: Option<Sender<PlayerCommand>>,
    status: Arc<Mutex<PlayerStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    /// Starts the playback thread on `sink`.
    pub fn spawn(sink: Box<dyn Sink>) -> std::io::Result<Player> {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(PlayerStatus::default()));
        let shared = Arc::clone(&status);
        let thread = std::thread::Builder::new()
            .name("chorus-player".into())
            .spawn(move || Engine::new(sink, shared).run(rx))?;
        Ok(Player {
            commands: Some(tx),
            status,
            thread: Some(thread),
        })
    }

    /// Sends a command; false if the thread has stopped.
    pub fn send(&self, command: PlayerCommand) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|c| c.send(command).is_ok())
    }

    pub fn status(&self) -> PlayerStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A song being played.
struct Track {
    path: PathBuf,
    decoder: Decoder,
    resampler: Resampler,
    map: PositionMap,
    target: LocalTarget,
    /// Set until the first frame is positioned (and after a reseek request).
    needs_seek: bool,
}

struct Engine {
    sink: Box<dyn Sink>,
    format: SinkFormat,
    status: Arc<Mutex<PlayerStatus>>,
    gain: Gain,
    /// Party and box volume, in percent.
    volumes: (u8, u8),
    controller: PlayoutController,
    track: Option<Track>,
    /// Output frames written so far (the sink's frame numbering).
    written: u64,
    out: Vec<f32>,
    /// What `status.last_error` says while the device is unavailable.
    device_error: Option<String>,
    /// Since when the sink has worked after being unavailable.
    working_since: Option<Instant>,
    /// Frames of silence to write before positioning a song: a reopened device reports
    /// its timing truly only once its stream runs, as it does at start-up.
    prime: usize,
}

impl Engine {
    fn new(sink: Box<dyn Sink>, status: Arc<Mutex<PlayerStatus>>) -> Self {
        let format = sink.format();
        Engine {
            gain: Gain::new(format.rate, Duration::from_millis(20)),
            volumes: (100, 100),
            controller: PlayoutController::new(PlayoutConfig::default()),
            sink,
            format,
            status,
            track: None,
            written: 0,
            out: Vec::new(),
            device_error: None,
            working_since: None,
            prime: 0,
        }
    }

    fn run(mut self, commands: Receiver<PlayerCommand>) {
        let mut wait = Duration::ZERO;
        loop {
            // Only glance at the mailbox: the sink's blocking write paces this loop, and
            // keeping its buffer full of silence while idle gives a new song a full
            // buffer's time to be decoded and positioned before its first frame is due.
            // After a sink error, wait here, so commands are still taken meanwhile.
            match commands.recv_timeout(wait) {
                Ok(cmd) => self.command(cmd),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let result = if self.track.is_some() {
                self.play_block()
            } else {
                self.silence(BLOCK_FRAMES)
            };
            wait = match result {
                Ok(()) => {
                    self.device_back();
                    Duration::ZERO
                }
                Err(e) => self.sink_error(e),
            };
        }
    }

    fn command(&mut self, cmd: PlayerCommand) {
        match cmd {
            PlayerCommand::Play { path, target } => match &mut self.track {
                Some(t) if t.path == path => t.target = target,
                _ => self.open(path, target),
            },
            PlayerCommand::Stop => {
                self.track = None;
                self.update(|s| {
                    s.playing = false;
                    s.song = None;
                });
            }
            PlayerCommand::Volume(percent) => {
                self.volumes.0 = percent;
                self.gain.set_linear(super::volume::loudness(self.volumes));
            }
            PlayerCommand::BoxVolume(percent) => {
                self.volumes.1 = percent;
                self.gain.set_linear(super::volume::loudness(self.volumes));
            }
        }
    }

    fn open(&mut self, path: PathBuf, target: LocalTarget) {
        let opened = Decoder::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|decoder| {
                let info = decoder.info();
                let resampler = Resampler::new(
                    info.rate,
                    self.format.rate,
                    usize::from(self.format.channels),
                )
                .map_err(|e| e.to_string())?;
                Ok((decoder, resampler))
            });
        match opened {
            Ok((decoder, resampler)) => {
                self.controller = PlayoutController::new(PlayoutConfig::default());
                self.update(|s| {
                    s.song = Some(path.clone());
                    s.playing = true;
                    s.last_error = None;
                });
                self.track = Some(Track {
                    path,
                    decoder,
                    resampler,
                    map: PositionMap::new(64),
                    target,
                    needs_seek: true,
                });
            }
            Err(e) => {
                // A corrupt or unsupported song is skipped with a message, never a crash.
                tracing::warn!(path = %path.display(), error = %e, "cannot play song");
                self.track = None;
                self.update(|s| {
                    s.playing = false;
                    s.last_error = Some(format!("{}: {e}", path.display()));
                });
            }
        }
    }

    fn silence(&mut self, frames: usize) -> Result<(), SinkError> {
        self.out.clear();
        self.out
            .resize(frames * usize::from(self.format.channels), 0.0);
        self.sink.write(&self.out)?;
        self.written += frames as u64;
        Ok(())
    }

    /// Positions a fresh or re-seeked track: silence until its start, then a seek to
    /// the frame due when the next written frame becomes audible.
    fn position(&mut self) -> Result<bool, SinkError> {
        let timing = self.sink.timing()?;
        let rate = self.format.rate;
        let Some(track) = self.track.as_mut() else {
            return Ok(false);
        };
        let song_rate = track.decoder.info().rate;
        let target = to_frames(track.target, song_rate);
        let audible_at = timing.at + self.format.frames_to_duration(timing.delay);
        // The resampler's filter delays its output: feed it `latency` frames ahead so the
        // first frame written carries the frame due (its warm-up covers song frames
        // before the start, which are silence anyway).
        let feed = target.frame_at(audible_at) + track.resampler.latency();
        if feed < 0.0 {
            let wait = (-feed / f64::from(song_rate.max(1)) * f64::from(rate)) as usize;
            self.silence(wait.clamp(1, BLOCK_FRAMES))?;
            return Ok(false);
        }
        let frame = feed.round() as u64;
        let landed = match track.decoder.seek(frame) {
            Ok(f) => f,
            Err(e) => {
                self.fail(format!("seek: {e}"));
                return Ok(false);
            }
        };
        if let Err(e) = track.resampler.reset(landed as f64) {
            self.fail(format!("resampler: {e}"));
            return Ok(false);
        }
        track.map.clear();
        track.needs_seek = false;
        Ok(true)
    }

    fn play_block(&mut self) -> Result<(), SinkError> {
        if self.prime > 0 {
            let frames = self.prime.min(BLOCK_FRAMES);
            self.silence(frames)?;
            self.prime -= frames;
            return Ok(());
        }
        if self.track.as_ref().is_some_and(|t| t.needs_seek) && !self.position()? {
            return Ok(());
        }
        let channels = usize::from(self.format.channels);
        let Some(track) = self.track.as_mut() else {
            return Ok(());
        };
        self.out.clear();
        // Some(None): the song ended; Some(Some(e)): it failed.
        let mut stop: Option<Option<String>> = None;
        while stop.is_none() && self.out.len() < BLOCK_FRAMES * channels {
            let src_channels = usize::from(track.decoder.info().channels);
            match track.decoder.next_block() {
                Ok(Some(block)) => track.resampler.push(&remix(block, src_channels, channels)),
                Ok(None) => {
                    let _ = track.resampler.flush(&mut self.out);
                    stop = Some(None);
                }
                Err(e) => stop = Some(Some(e.to_string())),
            }
            let before = track.resampler.song_position();
            let start = self.written + (self.out.len() / channels) as u64;
            match track.resampler.pull(&mut self.out) {
                Ok(n) if n > 0 => track.map.record(start, before),
                Ok(_) => {}
                Err(e) => stop = Some(Some(e.to_string())),
            }
        }
        match stop {
            Some(Some(e)) => {
                self.fail(e);
                return Ok(());
            }
            Some(None) => {
                self.track = None;
                self.update(|s| s.playing = false);
            }
            None => {}
        }
        self.gain.apply(&mut self.out, channels);
        let frames = self.out.len() / channels.max(1);
        self.sink.write(&self.out)?;
        self.written += frames as u64;
        self.steer()
    }

    fn steer(&mut self) -> Result<(), SinkError> {
        let timing = self.sink.timing()?;
        let Some(track) = self.track.as_mut() else {
            return Ok(());
        };
        let song_rate = track.decoder.info().rate;
        let target = to_frames(track.target, song_rate);
        let decision = self
            .controller
            .update(&target, &timing, &track.map, self.format.rate);
        let (error, reseek) = match decision {
            PlayoutDecision::Steer { ppm, error } => {
                let _ = track.resampler.set_ppm(ppm);
                (Some(error), false)
            }
            PlayoutDecision::Reseek { error, .. } => {
                track.needs_seek = true;
                (Some(error), true)
            }
            PlayoutDecision::Wait => (None, false),
        };
        let audible = track
            .map
            .song_frame_at(timing.audible_frame())
            .unwrap_or(0.0);
        let ppm = self.controller.ppm();
        self.update(|s| {
            s.position_ms = (audible.max(0.0) / f64::from(song_rate.max(1)) * 1e3) as u64;
            s.playout_error_us = error.map(|e| e * 1e6);
            s.steering_ppm = ppm;
            s.reseeks += u64::from(reseek);
        });
        Ok(())
    }

    fn fail(&mut self, message: String) {
        tracing::warn!(error = %message, "song stopped");
        self.track = None;
        self.update(|s| {
            s.playing = false;
            s.last_error = Some(message);
        });
    }

    /// Handles a failed sink call; returns how long to wait before the next one.
    fn sink_error(&mut self, e: SinkError) -> Duration {
        match e {
            SinkError::DeviceGone {
                ref device,
                retry_after,
                ref reason,
            } => {
                // The schedule goes on without us: when the device is back, the song is
                // positioned afresh where the schedule then is.
                if let Some(track) = self.track.as_mut() {
                    track.needs_seek = true;
                }
                self.working_since = None;
                self.prime = usize::try_from(self.format.rate / 10).unwrap_or(BLOCK_FRAMES);
                if self.device_error.is_none() {
                    let message = format!("audio device {device} unavailable ({reason}); retrying");
                    tracing::warn!(error = %message);
                    self.update(|s| s.last_error = Some(message.clone()));
                    self.device_error = Some(message);
                } else {
                    tracing::debug!(error = %e, "audio device still unavailable");
                }
                retry_after.max(Duration::from_millis(10))
            }
            // The position is lost: the controller sees it and re-seeks.
            SinkError::Underrun { .. } => {
                tracing::debug!(error = %e, "underrun");
                Duration::ZERO
            }
            other => {
                tracing::error!(error = %other, "audio output failed");
                self.update(|s| s.last_error = Some(other.to_string()));
                Duration::from_millis(500)
            }
        }
    }

    /// The sink works again after it was unavailable: once that has lasted a moment (a
    /// device that only takes its first buffer is not back), clear the error we reported.
    fn device_back(&mut self) {
        if self.device_error.is_none() {
            return;
        }
        let now = crate::clock::monotonic_now();
        let since = *self.working_since.get_or_insert(now);
        if now - since < DEVICE_BACK_AFTER {
            return;
        }
        let Some(message) = self.device_error.take() else {
            return;
        };
        self.working_since = None;
        tracing::info!("audio device available again");
        self.update(|s| {
            if s.last_error.as_ref() == Some(&message) {
                s.last_error = None;
            }
        });
    }

    fn update(&self, f: impl FnOnce(&mut PlayerStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

fn to_frames(t: LocalTarget, song_rate: u32) -> PlayoutTarget {
    PlayoutTarget {
        song_frame: t.song_seconds * f64::from(song_rate),
        at: t.at,
        song_rate,
        pace: t.pace,
    }
}

/// Maps `from` interleaved channels to `to`: mono is copied to every output, extra
/// channels are dropped, missing ones repeat the last.
fn remix(block: &[f32], from: usize, to: usize) -> std::borrow::Cow<'_, [f32]> {
    if from == to || from == 0 {
        return std::borrow::Cow::Borrowed(block);
    }
    let mut out = Vec::with_capacity(block.len() / from * to);
    for frame in block.chunks_exact(from) {
        for c in 0..to {
            out.push(frame[c.min(from - 1)]);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remix_mono_to_stereo_and_back() {
        assert_eq!(&*remix(&[0.1, 0.2], 1, 2), &[0.1, 0.1, 0.2, 0.2]);
        assert_eq!(&*remix(&[0.1, 0.2, 0.3, 0.4], 2, 1), &[0.1, 0.3]);
        assert_eq!(&*remix(&[0.5, 0.6], 2, 2), &[0.5, 0.6]);
    }
}
