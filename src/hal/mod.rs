//! The box's hardware behind narrow boundaries: buttons are a stream of [`ButtonEdge`]s,
//! the display a [`Panel`] that shows [`Frame`]s. One backend per file, each behind a
//! cargo feature: `rpi` (GPIO character device + ST7789 over spidev) and `mock` (the
//! terminal of a laptop). [`face`] runs them beside the box.

pub mod face;
#[cfg(feature = "mock")]
pub mod mock;
mod open;
pub mod pins;

pub use open::{open, FaceConfig};
#[cfg(feature = "rpi")]
pub mod rpi;

use serde::{Deserialize, Serialize};

use crate::ui::frame::Frame;
use embedded_graphics::primitives::Rectangle;

pub use crate::ui::buttons::{Button, ButtonEdge};

/// A screen that shows frames.
pub trait Panel: Send {
    /// Shows `frame`; only the `changed` rectangles differ from the last frame shown
    /// (all of it the first time), so a panel may send just those.
    fn show(&mut self, frame: &Frame, changed: &[Rectangle]) -> Result<(), HalError>;

    /// Turns the backlight up (`true`) or dims it.
    fn backlight(&mut self, on: bool) -> Result<(), HalError>;
}

/// Why a part of the box's face is unavailable. The box keeps playing without it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HalError {
    /// A device node is missing: the kernel driver or device-tree overlay is not loaded.
    /// `fix` says which config.txt line or module enables it.
    #[error("{device} is missing ({source}); {fix}")]
    Missing {
        device: String,
        fix: String,
        source: std::io::Error,
    },
    /// The device exists but this user may not open it: add the user to `group`.
    #[error("no permission to open {device} ({source}); add the user to the `{group}` group")]
    Permission {
        device: String,
        group: &'static str,
        source: std::io::Error,
    },
    /// The device opened but talking to it failed (display not connected, bus error).
    #[error("{device}: {message}")]
    Device { device: String, message: String },
    /// The mock HAL has no terminal to draw in or read keys from.
    #[error("no terminal: {0}")]
    NoTerminal(String),
}

impl HalError {
    /// Classifies an error from opening `device`: missing, no permission, or other.
    pub fn opening(device: &str, group: &'static str, fix: &str, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::NotFound => HalError::Missing {
                device: device.to_owned(),
                fix: fix.to_owned(),
                source,
            },
            std::io::ErrorKind::PermissionDenied => HalError::Permission {
                device: device.to_owned(),
                group,
                source,
            },
            _ => HalError::Device {
                device: device.to_owned(),
                message: source.to_string(),
            },
        }
    }
}

/// Which buttons and screen a box runs with (`--hal`, config `hal`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HalChoice {
    /// `rpi` when this build has it, else none.
    #[default]
    Auto,
    /// GPIO buttons and the ST7789 display of a Raspberry Pi (feature `rpi`).
    Rpi,
    /// The screen in this terminal and keys as buttons (feature `mock`).
    Mock,
    /// No buttons, no screen (`chorus ctl` still works).
    None,
}

impl std::str::FromStr for HalChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(HalChoice::Auto),
            "rpi" => Ok(HalChoice::Rpi),
            "mock" => Ok(HalChoice::Mock),
            "none" => Ok(HalChoice::None),
            other => Err(format!(
                "unknown HAL {other:?}: expected auto, rpi, mock or none"
            )),
        }
    }
}

impl HalChoice {
    /// `Auto` made concrete for this build.
    pub fn resolve(self) -> HalChoice {
        match self {
            HalChoice::Auto if cfg!(feature = "rpi") => HalChoice::Rpi,
            HalChoice::Auto => HalChoice::None,
            other => other,
        }
    }
}
