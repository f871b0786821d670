//! The ALSA sink: negotiates format and small buffers, reads the DAC position from
//! `snd_pcm_status` (monotonic htstamp + delay), recovers from underruns, and reopens a
//! device that disappeared, with backoff, without ever panicking.
//!
//! A device can vanish three ways: calls fail (`ENODEV`, `EBADFD`, `EIO`: a USB DAC
//! unplugged), every write underruns (a sound server died), or writes never find room
//! (the server's sink was removed). The PCM is opened non-blocking so the last one is
//! noticed by a timeout instead of hanging the playback thread.

use std::time::Duration;

use ::alsa::pcm::{Access, Format, HwParams, State, TstampType, PCM};
use ::alsa::{Direction, ValueOr};
use rustix::io::Errno;

use super::recovery::{Recovery, FIRST_BACKOFF};
use super::{Sink, SinkError, SinkFormat, SinkParams, SinkTiming};
use crate::clock::monotonic_now;
use crate::core::Instant;

/// How much longer than its buffer a device may go without taking audio: then it is gone.
const STALL_GRACE: Duration = Duration::from_secs(1);

/// Sample formats in order of preference: F32 avoids a conversion, S32 keeps 24-bit DACs
/// exact, S16 is what every device takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 32-bit float.
    F32,
    /// 32-bit signed integer.
    S32,
    /// 16-bit signed integer.
    S16,
}

impl SampleFormat {
    fn alsa(self) -> Format {
        match self {
            SampleFormat::F32 => Format::float(),
            SampleFormat::S32 => Format::s32(),
            SampleFormat::S16 => Format::s16(),
        }
    }
}

/// What to ask of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlsaConfig {
    /// ALSA PCM name (`default`, `hw:0,0`, `pipewire`, …).
    pub device: String,
    /// Rate and channels; the rate must be granted exactly (we resample, ALSA should not).
    pub format: SinkFormat,
    /// Period (≤ 10 ms by default): how often the device wakes us.
    pub period: Duration,
    /// Buffer (≤ 40 ms by default): latency and underrun margin.
    pub buffer: Duration,
    /// Formats to try, best first.
    pub sample_formats: Vec<SampleFormat>,
}

impl AlsaConfig {
    /// The `default` device with the format and buffering of `params`.
    pub fn from_params(params: &SinkParams) -> Self {
        AlsaConfig {
            device: "default".into(),
            format: params.format,
            period: params.period,
            buffer: params.buffer,
            sample_formats: vec![SampleFormat::F32, SampleFormat::S32, SampleFormat::S16],
        }
    }
}

/// What the device granted, read back after negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// Sample format in use.
    pub sample_format: SampleFormat,
    /// Period in frames.
    pub period_frames: u64,
    /// Buffer in frames.
    pub buffer_frames: u64,
}

/// Plays through ALSA. See [`Sink`] for the contract.
#[derive(Debug)]
pub struct AlsaSink {
    config: AlsaConfig,
    pcm: Option<PCM>,
    granted: Granted,
    written: u64,
    underruns: u64,
    recovery: Recovery,
    paused: bool,
    samples_i32: Vec<i32>,
    samples_i16: Vec<i16>,
}

fn alsa_error(config: &AlsaConfig, err: &::alsa::Error) -> SinkError {
    let errno = Errno::from_raw_os_error(err.errno());
    let reason = err.to_string();
    if errno == Errno::INVAL || errno == Errno::NOTSUP || errno == Errno::ILSEQ {
        SinkError::Config(format!("{}: {reason}", config.device))
    } else {
        SinkError::DeviceGone {
            device: config.device.clone(),
            retry_after: FIRST_BACKOFF,
            reason,
        }
    }
}

/// Open and configure the device; returns the PCM and what it granted.
fn open_pcm(config: &AlsaConfig) -> Result<(PCM, Granted), SinkError> {
    let fail = |e: ::alsa::Error| alsa_error(config, &e);
    if config.device.contains('\0') {
        return Err(SinkError::Config("device name contains NUL".into()));
    }
    let pcm = PCM::new(&config.device, Direction::Playback, true).map_err(fail)?;
    let rate = config.format.rate;
    let granted = {
        let hwp = HwParams::any(&pcm).map_err(fail)?;
        hwp.set_access(Access::RWInterleaved).map_err(fail)?;
        hwp.set_channels(u32::from(config.format.channels))
            .map_err(fail)?;
        hwp.set_rate_resample(true).map_err(fail)?;
        hwp.set_rate(rate, ValueOr::Nearest).map_err(fail)?;
        let sample_format = config
            .sample_formats
            .iter()
            .copied()
            .find(|f| hwp.test_format(f.alsa()).is_ok())
            .ok_or_else(|| {
                SinkError::Config(format!("{}: no F32/S32/S16 format", config.device))
            })?;
        hwp.set_format(sample_format.alsa()).map_err(fail)?;
        let frames = |d: Duration| (d.as_secs_f64() * f64::from(rate)).round().max(1.0) as i64;
        hwp.set_period_size_near(frames(config.period), ValueOr::Nearest)
            .map_err(fail)?;
        hwp.set_buffer_size_near(frames(config.buffer))
            .map_err(fail)?;
        pcm.hw_params(&hwp).map_err(fail)?;
        let cur = pcm.hw_params_current().map_err(fail)?;
        let granted_rate = cur.get_rate().map_err(fail)?;
        if granted_rate != rate {
            return Err(SinkError::Config(format!(
                "{}: asked for {rate} Hz, device grants {granted_rate} Hz",
                config.device
            )));
        }
        Granted {
            sample_format,
            period_frames: cur.get_period_size().map_err(fail)?.max(1) as u64,
            buffer_frames: cur.get_buffer_size().map_err(fail)?.max(1) as u64,
        }
    };
    {
        let swp = pcm.sw_params_current().map_err(fail)?;
        // Start once all but one period is queued: a full buffer of margin from the start.
        let start = granted
            .buffer_frames
            .saturating_sub(granted.period_frames)
            .max(1);
        swp.set_start_threshold(start as i64).map_err(fail)?;
        swp.set_avail_min(granted.period_frames as i64)
            .map_err(fail)?;
        // Status timestamps on CLOCK_MONOTONIC: the clock the core and net use.
        swp.set_tstamp_mode(true).map_err(fail)?;
        swp.set_tstamp_type(TstampType::Monotonic).map_err(fail)?;
        pcm.sw_params(&swp).map_err(fail)?;
    }
    tracing::info!(
        device = %config.device,
        rate,
        channels = config.format.channels,
        format = ?granted.sample_format,
        period_frames = granted.period_frames,
        buffer_frames = granted.buffer_frames,
        "alsa device opened"
    );
    Ok((pcm, granted))
}

impl AlsaSink {
    /// Open the device now; errors say whether to fix the config or retry later.
    pub fn open(config: AlsaConfig) -> Result<Self, SinkError> {
        let (pcm, granted) = open_pcm(&config)?;
        Ok(Self::with(config, Some(pcm), granted))
    }

    /// Open the device now or, if it is absent (not plugged in yet, sound server still
    /// starting), return a sink that keeps trying it with backoff. Only a configuration
    /// the device refuses is an error.
    pub fn open_or_wait(config: AlsaConfig) -> Result<Self, SinkError> {
        match open_pcm(&config) {
            Ok((pcm, granted)) => Ok(Self::with(config, Some(pcm), granted)),
            Err(SinkError::DeviceGone { reason, .. }) => {
                let granted = Granted {
                    sample_format: SampleFormat::S16,
                    period_frames: 1,
                    buffer_frames: 1,
                };
                let mut sink = Self::with(config, None, granted);
                let _ = sink.lose_device(reason);
                Ok(sink)
            }
            Err(other) => Err(other),
        }
    }

    fn with(config: AlsaConfig, pcm: Option<PCM>, granted: Granted) -> Self {
        AlsaSink {
            config,
            pcm,
            granted,
            written: 0,
            underruns: 0,
            recovery: Recovery::default(),
            paused: false,
            samples_i32: Vec::new(),
            samples_i16: Vec::new(),
        }
    }

    /// What the device granted.
    pub fn granted(&self) -> Granted {
        self.granted
    }

    /// Underruns recovered so far.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    fn gone(&self, retry_after: Duration, reason: String) -> SinkError {
        SinkError::DeviceGone {
            device: self.config.device.clone(),
            retry_after,
            reason,
        }
    }

    /// The open device failed: close it and report when the next reopen will be tried.
    /// Logged once per loss, not per failed attempt.
    fn lose_device(&mut self, reason: String) -> SinkError {
        self.pcm = None;
        let (retry_after, news) = self.recovery.lost(monotonic_now());
        if news {
            tracing::warn!(device = %self.config.device, %reason, "alsa device lost; will reopen");
        }
        self.gone(retry_after, reason)
    }

    /// The PCM, reopening it if it is gone and the backoff has passed.
    fn ensure_open(&mut self) -> Result<(), SinkError> {
        if self.pcm.is_some() {
            return Ok(());
        }
        let now = monotonic_now();
        if let Err(wait) = self.recovery.may_open(now) {
            return Err(self.gone(wait, "waiting to reopen".into()));
        }
        match open_pcm(&self.config) {
            Ok((pcm, granted)) => {
                if self.recovery.opened(now) {
                    tracing::info!(device = %self.config.device, "alsa device is back");
                }
                self.pcm = Some(pcm);
                self.granted = granted;
                Ok(())
            }
            // While the device is away, even a "bad configuration" (a server half up
            // refusing parameters) is worth another try later.
            Err(SinkError::DeviceGone { reason, .. } | SinkError::Config(reason))
                if self.recovery.is_lost() =>
            {
                let wait = self.recovery.open_failed(now);
                tracing::debug!(device = %self.config.device, %reason, ?wait, "alsa device still gone");
                Err(self.gone(wait, reason))
            }
            Err(other) => Err(other),
        }
    }

    /// How long a write may wait for room before the device counts as gone.
    fn stall_timeout_ms(&self) -> u32 {
        let rate = f64::from(self.config.format.rate.max(1));
        let buffer = Duration::from_secs_f64(self.granted.buffer_frames as f64 / rate);
        u32::try_from((buffer + STALL_GRACE).as_millis()).unwrap_or(u32::MAX)
    }

    /// Converts `samples` into the integer buffer of the granted format (none for F32).
    fn convert(&mut self, samples: &[f32]) {
        match self.granted.sample_format {
            SampleFormat::S32 => {
                self.samples_i32.clear();
                self.samples_i32.extend(
                    samples
                        .iter()
                        .map(|&s| (f64::from(s.clamp(-1.0, 1.0)) * 2_147_483_647.0) as i32),
                );
            }
            SampleFormat::S16 => {
                self.samples_i16.clear();
                self.samples_i16.extend(
                    samples
                        .iter()
                        .map(|&s| (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16),
                );
            }
            SampleFormat::F32 => {}
        }
    }

    /// Write whole frames, recovering from underruns in place.
    fn write_frames(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        let channels = usize::from(self.config.format.channels.max(1));
        let format = self.granted.sample_format;
        self.convert(samples);
        let mut done = 0;
        let total = samples.len() / channels;
        let stall_ms = self.stall_timeout_ms();
        while done < total {
            let Some(pcm) = self.pcm.as_ref() else {
                return Err(self.lose_device("closed".into()));
            };
            let range = done * channels..total * channels;
            let result = match format {
                SampleFormat::F32 => pcm.io_f32().and_then(|io| io.writei(&samples[range])),
                SampleFormat::S32 => pcm
                    .io_i32()
                    .and_then(|io| io.writei(&self.samples_i32[range])),
                SampleFormat::S16 => pcm
                    .io_i16()
                    .and_then(|io| io.writei(&self.samples_i16[range])),
            };
            match result {
                Ok(n) => {
                    done += n;
                    self.written += n as u64;
                }
                Err(err) => {
                    let errno = Errno::from_raw_os_error(err.errno());
                    if errno == Errno::AGAIN {
                        // Full buffer: wait for room, but not forever, since a device
                        // nobody drives never makes any. An xrun or a signal while
                        // waiting shows up on the next write.
                        match pcm.wait(Some(stall_ms)) {
                            Ok(true) => {}
                            Ok(false) => {
                                let reason = format!("took no audio for {stall_ms} ms");
                                return Err(self.lose_device(reason));
                            }
                            Err(e) if is_xrun(&e) => {}
                            Err(e) => return Err(self.lose_device(e.to_string())),
                        }
                    } else if is_xrun(&err) {
                        // Underrun or suspend: re-prepare and keep writing. Frames already
                        // written were all played, so the numbering stays consistent.
                        if let Err(e) = pcm.try_recover(err, true) {
                            return Err(self.lose_device(format!("recovery failed: {e}")));
                        }
                        if errno != Errno::INTR {
                            self.underruns += 1;
                            tracing::warn!(device = %self.config.device, "alsa underrun, recovered");
                            if self.recovery.underrun(monotonic_now()) {
                                let reason = "underruns on every write".to_string();
                                return Err(self.lose_device(reason));
                            }
                        }
                    } else {
                        return Err(self.lose_device(err.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Sink for AlsaSink {
    fn format(&self) -> SinkFormat {
        self.config.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), SinkError> {
        self.config.format.frames_in(samples.len())?;
        if self.paused {
            return Err(SinkError::Paused);
        }
        self.ensure_open()?;
        let before = self.written;
        let written = self.write_frames(samples);
        if let Err(SinkError::DeviceGone { .. }) = written {
            // The caller counts a failed write as not written; so do we. Whatever part
            // of it the device took went with the device.
            self.written = before;
        }
        written
    }

    fn timing(&mut self) -> Result<SinkTiming, SinkError> {
        self.ensure_open()?;
        let Some(pcm) = self.pcm.as_ref() else {
            return Err(self.lose_device("closed".into()));
        };
        let status = match pcm.status() {
            Ok(status) => status,
            Err(err) => return Err(self.lose_device(err.to_string())),
        };
        let state = status.get_state();
        if state == State::Disconnected {
            return Err(self.lose_device("disconnected".into()));
        }
        let ts = status.get_htstamp();
        let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
        // Before the stream starts the driver leaves htstamp at zero: read the clock.
        let at = if secs == 0 && nanos == 0 {
            monotonic_now()
        } else {
            Instant::from_nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
        };
        let delay = match state {
            State::Running | State::Prepared | State::Paused | State::Draining => {
                u64::try_from(status.get_delay()).unwrap_or(0)
            }
            _ => 0,
        };
        Ok(SinkTiming {
            written: self.written,
            delay: delay.min(self.written),
            at,
        })
    }

    fn pause(&mut self) -> Result<(), SinkError> {
        if let Some(pcm) = self.pcm.as_ref() {
            if pcm.state() == State::Running {
                if let Err(err) = pcm.pause(true) {
                    return Err(SinkError::Config(format!(
                        "{} cannot pause ({err}): stop writing instead",
                        self.config.device
                    )));
                }
            }
        }
        self.paused = true;
        Ok(())
    }

    fn resume(&mut self) -> Result<(), SinkError> {
        self.paused = false;
        if let Some(pcm) = self.pcm.as_ref() {
            if pcm.state() == State::Paused {
                if let Err(err) = pcm.pause(false) {
                    return Err(self.lose_device(err.to_string()));
                }
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), SinkError> {
        let deadline = monotonic_now() + Duration::from_millis(u64::from(self.stall_timeout_ms()));
        let period = Duration::from_secs_f64(
            self.granted.period_frames as f64 / f64::from(self.config.format.rate.max(1)),
        );
        let Some(pcm) = self.pcm.as_ref() else {
            return Ok(());
        };
        // A stream below its start threshold never starts by itself: start it to drain.
        if pcm.state() == State::Prepared && self.written > 0 {
            let _ = pcm.start();
        }
        // Non-blocking, drain returns EAGAIN at once and the device plays out by itself.
        match pcm.drain() {
            Err(e) if Errno::from_raw_os_error(e.errno()) != Errno::AGAIN => {
                return Err(self.lose_device(e.to_string()));
            }
            _ => {}
        }
        while pcm.state() == State::Draining {
            if monotonic_now() > deadline {
                return Err(self.lose_device("drain never finished".into()));
            }
            std::thread::sleep(period);
        }
        pcm.prepare().map_err(|err| {
            let reason = err.to_string();
            self.lose_device(reason)
        })
    }
}

/// An underrun, a suspend or an interrupted call: recoverable in place.
fn is_xrun(err: &::alsa::Error) -> bool {
    let errno = Errno::from_raw_os_error(err.errno());
    errno == Errno::PIPE || errno == Errno::STRPIPE || errno == Errno::INTR
}
