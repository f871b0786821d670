//! The boot-partition settings file, `chorus.txt`: a maker sets the box's name and its
//! Wi-Fi by editing it on any computer; at boot `chorus apply-boot-config` checks it and
//! applies it, or keeps the previous settings and leaves a notice for the screen.
//!
//! - `parse`: the file's format and the checks of each value.
//! - `apply`: writing chorus.toml and the Wi-Fi file, all or nothing.
//! - `wifi`: the wpa_supplicant configuration.
//! - `atomic`: replacing a file whole.
//! - [`notice`]: the message `chorus run` shows when the file was not applied.
//! - `error`: [`BootError`].

mod apply;
mod atomic;
mod error;
pub mod notice;
mod parse;
mod wifi;

pub use apply::{apply, Outcome, Targets};
pub use atomic::Written;
pub use error::BootError;
pub use parse::{parse, BootSettings, Wifi, WifiKey};
pub use wifi::render as wifi_conf;

/// Where the firmware's FAT partition puts the file on a box.
pub const DEFAULT_BOOT_FILE: &str = "/boot/firmware/chorus.txt";
/// The Wi-Fi file `wpa_supplicant@wlan0.service` reads.
pub const DEFAULT_WIFI_CONF: &str = "/etc/wpa_supplicant/wpa_supplicant-wlan0.conf";

#[cfg(test)]
mod tests;
