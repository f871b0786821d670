//! Opening an ALSA PCM: what to ask the device for (format, period, buffer), what it
//! granted, and the negotiation itself, with errors sorted into "fix the configuration"
//! and "the device is gone, retry".

use std::time::Duration;

use ::alsa::pcm::{Access, Format, HwParams, TstampType, PCM};
use ::alsa::{Direction, ValueOr};
use rustix::io::Errno;

use super::recovery::FIRST_BACKOFF;
use super::{SinkError, SinkFormat, SinkParams};

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
    pub(super) fn alsa(self) -> Format {
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

pub(super) fn alsa_error(config: &AlsaConfig, err: &::alsa::Error) -> SinkError {
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
pub(super) fn open_pcm(config: &AlsaConfig) -> Result<(PCM, Granted), SinkError> {
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
