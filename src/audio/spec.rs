//! `--audio alsa:DEVICE|wav:PATH|null`: which sink to open, parsed from the command line
//! or the config, and opened into a `Box<dyn Sink>`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::null::NullSink;
use super::wav::WavSink;
use super::{Sink, SinkError, SinkParams};

/// Which sink to play into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// An ALSA PCM by name (`default`, `hw:1,0`, `pipewire`, …).
    Alsa {
        /// The ALSA device name.
        device: String,
    },
    /// Record to a WAV file (plus `PATH.json`), paced in real time.
    Wav {
        /// Where to write.
        path: PathBuf,
    },
    /// Play nothing, paced in real time.
    Null,
}

/// A `--audio` value that is none of `alsa[:DEVICE]`, `wav:PATH`, `null`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid audio output {0:?}: expected alsa[:DEVICE], wav:PATH or null")]
pub struct SinkSpecError(pub String);

impl FromStr for SinkSpec {
    type Err = SinkSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = match s.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (s, None),
        };
        match (kind, arg) {
            ("alsa", None) => Ok(SinkSpec::Alsa {
                device: "default".into(),
            }),
            // A NUL would make the name unusable as a C string for alsa-lib.
            ("alsa", Some(dev)) if !dev.is_empty() && !dev.contains('\0') => {
                Ok(SinkSpec::Alsa { device: dev.into() })
            }
            ("wav", Some(path)) if !path.is_empty() => Ok(SinkSpec::Wav { path: path.into() }),
            ("null", None) => Ok(SinkSpec::Null),
            _ => Err(SinkSpecError(s.into())),
        }
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::Alsa { device } => write!(f, "alsa:{device}"),
            SinkSpec::Wav { path } => write!(f, "wav:{}", path.display()),
            SinkSpec::Null => f.write_str("null"),
        }
    }
}

/// Open the sink `spec` names with default parameters (48 kHz stereo, 10/40 ms).
pub fn open(spec: &SinkSpec) -> Result<Box<dyn Sink>, SinkError> {
    open_with(spec, &SinkParams::default())
}

/// Open the sink `spec` names with `params`.
pub fn open_with(spec: &SinkSpec, params: &SinkParams) -> Result<Box<dyn Sink>, SinkError> {
    match spec {
        SinkSpec::Null => Ok(Box::new(NullSink::new(params.format, params.buffer))),
        SinkSpec::Wav { path } => Ok(Box::new(WavSink::create(
            path,
            params.format,
            params.buffer,
        )?)),
        #[cfg(feature = "alsa")]
        SinkSpec::Alsa { device } => {
            let config = super::alsa::AlsaConfig {
                device: device.clone(),
                ..super::alsa::AlsaConfig::from_params(params)
            };
            // An absent device is waited for: a box plays once its DAC shows up.
            Ok(Box::new(super::alsa::AlsaSink::open_or_wait(config)?))
        }
        #[cfg(not(feature = "alsa"))]
        SinkSpec::Alsa { device } => Err(SinkError::Config(format!(
            "alsa:{device}: this build has no ALSA support (cargo feature `alsa`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips() {
        let cases = [
            ("alsa", "alsa:default"),
            ("alsa:hw:1,0", "alsa:hw:1,0"),
            ("wav:/tmp/x.wav", "wav:/tmp/x.wav"),
            ("null", "null"),
        ];
        for (input, shown) in cases {
            let spec: Result<SinkSpec, _> = input.parse();
            assert_eq!(
                spec.map(|s| s.to_string()),
                Ok(shown.to_string()),
                "{input}"
            );
        }
        for bad in ["", "alsa:", "wav", "wav:", "null:x", "pulse", "alsa:a\0b"] {
            assert!(bad.parse::<SinkSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn opens_null_and_wav() -> Result<(), Box<dyn std::error::Error>> {
        let mut null = open(&SinkSpec::Null)?;
        assert_eq!(null.format().rate, 48_000);
        null.write(&[0.0; 2 * 48])?;
        let dir = tempfile::tempdir()?;
        let spec = SinkSpec::Wav {
            path: dir.path().join("a.wav"),
        };
        assert!(open(&spec).is_ok());
        let missing = SinkSpec::Wav {
            path: dir.path().join("no/such/dir/a.wav"),
        };
        assert!(matches!(open(&missing), Err(SinkError::Io(_))));
        Ok(())
    }
}
