//! The playback thread: takes the driver's commands, writes silence or the song block by
//! block to the sink, steers the resampler onto the schedule, and rides out a lost device.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::board::Board;
use super::device_position::{DevicePosition, DevicePositionConfig, PositionEstimate};
use super::feed::Feed;
use super::finished::Finished;
use super::orders::{LocalTarget, PlayerCommand, PlayerStatus};
use super::playout::{PlayoutConfig, PlayoutController, PlayoutDecision};
use super::track::{fade_in, ramp, Align, Filled, Heard, Stage, Track};
use super::volume::Gain;
use super::watchdog::Watchdog;

#[path = "device_loss.rs"]
mod device_loss;
#[path = "handover.rs"]
mod handover;
use super::{Sink, SinkError, SinkFormat, SinkTiming};
use crate::core::Instant;

/// Output frames written per block: 5 ms at 48 kHz, well inside a 40 ms buffer.
const BLOCK_FRAMES: usize = 240;
/// How long a sink must work again before its "unavailable" error is cleared.
const DEVICE_BACK_AFTER: Duration = Duration::from_millis(500);
/// A new song is opened this far ahead of where the schedule is now, and a seek lands
/// this far ahead: the decoding thread's time to get there.
const OPEN_AHEAD: Duration = Duration::from_millis(50);
const SEEK_AHEAD: Duration = Duration::from_millis(20);

pub(super) struct Engine {
    sink: Box<dyn Sink>,
    format: SinkFormat,
    board: Board,
    gain: Gain,
    /// Party and box volume, in percent.
    volumes: (u8, u8),
    controller: PlayoutController,
    /// Where the DAC really is, filtered over every timing reading.
    device: DevicePosition,
    /// The device position at the last reading.
    estimate: Option<PositionEstimate>,
    feed: Feed,
    track: Option<Track>,
    /// The song that takes over from the current one at its instant, being opened and
    /// decoded on a second decoding thread meanwhile.
    next: Option<Track>,
    next_feed: Feed,
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
    /// The song that last ended or failed: asks for it are ignored while it is over.
    finished: Option<Finished>,
    watchdog: Watchdog,
}

impl Engine {
    pub(super) fn new(
        sink: Box<dyn Sink>,
        status: Arc<Mutex<PlayerStatus>>,
        realtime: bool,
    ) -> std::io::Result<Self> {
        let format = sink.format();
        let feed = Feed::spawn(format.rate, format.channels)?;
        let next_feed = Feed::spawn(format.rate, format.channels)?;
        let mut board = Board {
            shared: status,
            shown: PlayerStatus::default(),
            strings_changed: false,
        };
        board.update(|s| s.realtime = realtime);
        let channels = usize::from(format.channels.max(1));
        Ok(Engine {
            gain: Gain::new(format.rate, Duration::from_millis(20)),
            volumes: (100, 100),
            controller: PlayoutController::new(PlayoutConfig::default()),
            device: DevicePosition::new(format.rate, DevicePositionConfig::default()),
            estimate: None,
            sink,
            format,
            board,
            feed,
            track: None,
            next: None,
            next_feed,
            written: 0,
            // Room for a block and the resampler's largest chunk past it, so pulling
            // never grows it once playing.
            out: Vec::with_capacity(BLOCK_FRAMES * channels * 8),
            device_error: None,
            working_since: None,
            prime: 0,
            finished: None,
            watchdog: Watchdog::default(),
        })
    }

    pub(super) fn run(mut self, commands: Receiver<PlayerCommand>) {
        let mut wait = Duration::ZERO;
        loop {
            // Only glance at the mailbox: the sink's blocking write paces this loop, and
            // keeping its buffer full of silence while idle gives a new song a full
            // buffer's time to be decoded and positioned before its first frame is due.
            // After a sink error, wait here, so commands are still taken meanwhile.
            // Everything waiting is taken: one command a block fell behind a member whose
            // clock estimate moves fifty times a second (each move re-anchors the song and
            // the next one), and its next song came in hundreds of milliseconds late.
            match commands.recv_timeout(wait) {
                Ok(cmd) => self.command(cmd),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            while let Ok(cmd) = commands.try_recv() {
                self.command(cmd);
            }
            self.news();
            if self.track.is_none() {
                // The song ended before the next one's instant: it lines up from here.
                self.promote();
            }
            let result = if self.track.is_some() {
                self.play_block()
            } else {
                // Reading the timing while idle keeps the reported latency current.
                self.silence(BLOCK_FRAMES)
                    .and_then(|()| self.timing().map(|_| ()))
            };
            wait = match result {
                Ok(()) => {
                    self.device_back();
                    Duration::ZERO
                }
                Err(e) => self.sink_error(e),
            };
            self.board.publish();
        }
    }

    fn command(&mut self, cmd: PlayerCommand) {
        match cmd {
            PlayerCommand::Play { path, target } => match &mut self.track {
                Some(t) if t.path == path => t.target = target,
                _ if self.finished.as_ref().is_some_and(|f| {
                    f.still_over(&path, &target, crate::clock::monotonic_now())
                }) => {}
                _ if self.next.as_ref().is_some_and(|n| n.path == path) => {
                    // Its instant came before the hand-over (it was not ready in time).
                    self.promote();
                    if let Some(t) = self.track.as_mut() {
                        t.target = target;
                    }
                }
                _ => self.open(path, target),
            },
            PlayerCommand::Next { path, target } => self.queue_next(path, target),
            PlayerCommand::CancelNext => self.next = None,
            PlayerCommand::Stop => {
                self.track = None;
                self.next = None;
                self.finished = None;
                self.board.update(|s| {
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
        let generation = self.feed.open(path.clone(), open_from(&target));
        self.controller = PlayoutController::new(PlayoutConfig::default());
        self.board.update(|s| {
            s.song = Some(path.clone());
            s.playing = true;
            s.opened += 1;
            s.last_error = None;
        });
        self.watchdog.asked(crate::clock::monotonic_now());
        self.track = Some(Track::new(path, target, generation));
    }

    /// Takes the decoding thread's news of the current song.
    fn news(&mut self) {
        while let Some(news) = self.feed.poll() {
            let current = self.feed.generation();
            let Some(track) = self.track.as_mut() else {
                continue;
            };
            match track.hear(news, current) {
                Heard::Nothing => {}
                Heard::Answered => self.watchdog.answered(),
                Heard::Failed(error) => {
                    self.watchdog.answered();
                    self.fail(error);
                }
            }
        }
        self.next_news();
    }

    fn silence(&mut self, frames: usize) -> Result<(), SinkError> {
        self.out.clear();
        self.out
            .resize(frames * usize::from(self.format.channels), 0.0);
        self.sink.write(&self.out)?;
        self.written += frames as u64;
        Ok(())
    }

    fn play_block(&mut self) -> Result<(), SinkError> {
        if self.prime > 0 {
            let frames = self.prime.min(BLOCK_FRAMES);
            self.silence(frames)?;
            self.prime -= frames;
            return Ok(());
        }
        let Some(stage) = self.track.as_ref().map(|t| t.stage) else {
            return Ok(());
        };
        match stage {
            Stage::Waiting if self.watchdog.expired(crate::clock::monotonic_now()) => {
                let message = self.watchdog.replace(&mut self.feed, self.format);
                self.fail(message);
                return self.silence(BLOCK_FRAMES);
            }
            Stage::Waiting => return self.silence(BLOCK_FRAMES),
            Stage::Lost => {
                self.reseek()?;
                return self.silence(BLOCK_FRAMES);
            }
            Stage::Aligning { .. } => {
                let timing = self.timing()?;
                let Some(track) = self.track.as_mut() else {
                    return Ok(());
                };
                match track.align(&mut self.feed, &timing, self.format, BLOCK_FRAMES) {
                    Align::Play { lead } => return self.play_song(lead),
                    Align::Silence(frames) => return self.silence(frames),
                    Align::Seek(frame) => {
                        self.seek(frame);
                        return self.silence(BLOCK_FRAMES);
                    }
                }
            }
            Stage::Playing | Stage::FadingOut => {}
        }
        if let Some(lead) = self.next_due()? {
            return self.hand_over(lead);
        }
        self.play_song(0)
    }

    /// Writes a block: `lead` frames of silence, then the song.
    fn play_song(&mut self, lead: usize) -> Result<(), SinkError> {
        let channels = usize::from(self.format.channels.max(1));
        self.out.clear();
        self.out.resize(lead * channels, 0.0);
        self.write_song(lead)
    }

    /// Fills the block after the `lead` frames `out` holds with the song, and writes it.
    fn write_song(&mut self, lead: usize) -> Result<(), SinkError> {
        let channels = usize::from(self.format.channels.max(1));
        let Some(track) = self.track.as_mut() else {
            return Ok(());
        };
        let filled = track.fill(
            &mut self.feed,
            &mut self.out,
            self.written,
            channels,
            BLOCK_FRAMES,
        );
        match filled {
            Filled::Block => {
                // A dry ring once is the song's end on its way, unless music follows.
                self.board.shown.decoder_late += u64::from(track.starved);
                track.starved = false;
            }
            Filled::Ended => self.ended(),
            Filled::Starved => {
                if track.starved {
                    self.board.shown.decoder_late += 1;
                    tracing::debug!("decoder fell behind; seeking afresh");
                    track.stage = Stage::Lost;
                }
                track.starved = true;
                self.out.resize(BLOCK_FRAMES * channels, 0.0);
            }
            Filled::Failed(e) => {
                self.fail(e);
                return Ok(());
            }
        }
        self.gain.apply(&mut self.out, channels);
        let fading_out = match self.track.as_mut() {
            Some(t) if t.stage == Stage::FadingOut => {
                ramp(&mut self.out, channels, 1.0, 0.0);
                t.stage = Stage::Lost;
                true
            }
            Some(t) if t.fade_in.is_some() => {
                let start = (lead * channels).min(self.out.len());
                t.fade_in = t
                    .fade_in
                    .and_then(|done| fade_in(&mut self.out[start..], channels, done));
                false
            }
            _ => false,
        };
        let frames = self.out.len() / channels;
        self.sink.write(&self.out)?;
        self.written += frames as u64;
        if fading_out {
            return Ok(());
        }
        self.steer()
    }

    /// The sink's timing as it reports it, fed to the device position filter, and the
    /// output latency it implies.
    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        let raw = self.sink.timing()?;
        let estimate = self.device.update(&raw);
        self.estimate = Some(estimate);
        let queued = self
            .format
            .frames_to_duration(raw.delay + BLOCK_FRAMES as u64);
        let s = &mut self.board.shown;
        s.latency_us = u64::try_from(queued.as_micros()).unwrap_or(u64::MAX);
        s.position_jitter_us = self.device.jitter().as_secs_f64() * 1e6;
        s.device_rate_ppm = self.device.rate_ppm();
        Ok(raw)
    }

    /// Asks the decoder for the frame due a moment from now; the track lines it up.
    fn reseek(&mut self) -> Result<(), SinkError> {
        let timing = self.timing()?;
        let Some(track) = self.track.as_ref() else {
            return Ok(());
        };
        let Some(due) = track.due_feed(&timing, self.format) else {
            // Not open yet: the open's own seek positions it.
            return Ok(());
        };
        let Some(target) = track.frames_target() else {
            return Ok(());
        };
        let ahead = SEEK_AHEAD.as_secs_f64() * f64::from(target.song_rate) * target.pace;
        // Never before the anchor: a song that starts later starts on its frame.
        self.seek((due + ahead).max(target.song_frame).max(0.0) as u64);
        Ok(())
    }

    fn seek(&mut self, frame: u64) {
        self.feed.seek(frame);
        self.watchdog.asked(crate::clock::monotonic_now());
        if let Some(track) = self.track.as_mut() {
            track.stage = Stage::Waiting;
            track.end = None;
        }
    }

    fn steer(&mut self) -> Result<(), SinkError> {
        self.timing()?;
        let (Some(track), Some(device)) = (self.track.as_mut(), self.estimate) else {
            return Ok(());
        };
        let (Some(target), Some(song)) = (track.frames_target(), track.song.as_mut()) else {
            return Ok(());
        };
        let decision = self
            .controller
            .update(&target, &device, &track.map, self.format.rate);
        let (error, reseek) = match decision {
            PlayoutDecision::Steer { ppm, error } => {
                let _ = song.resampler.set_ppm(ppm);
                (Some(error), false)
            }
            PlayoutDecision::Reseek { error, .. } => {
                track.stage = Stage::FadingOut;
                track.fade_in = Some(0);
                (Some(error), true)
            }
            PlayoutDecision::Wait => (None, false),
        };
        let audible = track.map.song_frame_at(device.audible).unwrap_or(0.0);
        let song_rate = target.song_rate;
        let ppm = self.controller.ppm();
        let s = &mut self.board.shown;
        s.position_ms = (audible.max(0.0) / f64::from(song_rate.max(1)) * 1e3) as u64;
        s.playout_error_us = error.map(|e| e * 1e6);
        s.steering_ppm = ppm;
        s.reseeks += u64::from(reseek);
        Ok(())
    }

    /// The song's audio is over (or broke, after what was decoded played out).
    fn ended(&mut self) {
        let Some(track) = self.track.take() else {
            return;
        };
        let (message, finished) = super::finished::on_end(track, crate::clock::monotonic_now());
        self.board.update(|s| {
            s.playing = false;
            if message.is_some() {
                s.last_error = message;
            }
        });
        self.finished = Some(finished);
    }

    fn fail(&mut self, message: String) {
        tracing::warn!(error = %message, "song stopped");
        let path = self.track.take().map(|t| t.path);
        self.finished = path.clone().map(Finished::failed);
        self.board.update(|s| {
            s.playing = false;
            s.last_error = Some(match path {
                Some(p) => format!("{}: {message}", p.display()),
                None => message,
            });
        });
    }
}

/// Where to open a song on `target`: where the schedule will be when the decoder is
/// there; for a song that starts later, its start (nothing before the anchor is ever
/// played).
fn open_from(target: &LocalTarget) -> f64 {
    let ahead = crate::clock::monotonic_now() + OPEN_AHEAD;
    let since = ahead.saturating_duration_since(target.at).as_secs_f64();
    target.song_seconds + since * target.pace
}
