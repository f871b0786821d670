//! The wpa_supplicant configuration for one network, as `wpa_supplicant@wlan0` reads it.

use std::fmt::Write;

use super::parse::{Wifi, WifiKey};

/// The whole file for `wifi`. The SSID is written in hex, so any bytes (quotes, `#`,
/// non-ASCII) survive; a passphrase is quoted, which wpa_supplicant reads up to the
/// line's last quote, and it is printable ASCII without line breaks by construction.
pub fn render(wifi: &Wifi) -> String {
    let mut out = String::from(
        "# Written by `chorus apply-boot-config` from chorus.txt on the boot partition, at\n\
         # every boot: change the Wi-Fi there, not here.\n\
         ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev\n\
         update_config=0\n",
    );
    let _ = writeln!(out, "country={}", wifi.country);
    out.push_str("\nnetwork={\n");
    let ssid_hex: String = wifi.ssid.bytes().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(out, "\tssid={ssid_hex}");
    // Hidden networks only answer probes that name them.
    out.push_str("\tscan_ssid=1\n");
    match &wifi.key {
        WifiKey::Open => out.push_str("\tkey_mgmt=NONE\n"),
        WifiKey::Passphrase(p) => {
            let _ = writeln!(out, "\tpsk=\"{p}\"");
        }
        WifiKey::Psk(hex) => {
            let _ = writeln!(out, "\tpsk={hex}");
        }
    }
    out.push_str("}\n");
    out
}
