//! Reading `chorus.txt`: `key = value` lines as any editor on any computer writes them
//! (CRLF or LF line ends, a UTF-8 byte-order mark, blank lines, `#` comments), and the
//! checks each value must pass before anything is applied.

use super::error::BootError;
use crate::party_key::{self, PartySecret};
use crate::proto::MAX_NAME_LEN;

/// The settings names, for the error that lists them.
const KNOWN: &str = "name, wifi_country, wifi_ssid, wifi_passphrase, party_key";

/// What a maker set in `chorus.txt`; `None`: the line is absent, commented out or empty,
/// and the box keeps what it has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootSettings {
    /// The box's name at a party.
    pub name: Option<String>,
    pub wifi: Option<Wifi>,
    /// The party key (never shown by `Debug`).
    pub party_key: Option<PartySecret>,
}

/// A Wi-Fi network to join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wifi {
    /// ISO 3166 country code, upper case: which channels and power the radio may use.
    pub country: String,
    /// 1 to 32 bytes.
    pub ssid: String,
    pub key: WifiKey,
}

/// How the network is secured.
#[derive(Clone, PartialEq, Eq)]
pub enum WifiKey {
    /// An open network.
    Open,
    /// WPA-PSK passphrase: 8 to 63 printable ASCII characters.
    Passphrase(String),
    /// The 256-bit pre-shared key itself, as 64 hex digits.
    Psk(String),
}

// Secrets stay out of logs, even at debug level.
impl std::fmt::Debug for WifiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WifiKey::Open => "Open",
            WifiKey::Passphrase(_) => "Passphrase(..)",
            WifiKey::Psk(_) => "Psk(..)",
        })
    }
}

/// One `key = value` line: the value and its line number.
type Entry = Option<(usize, String)>;

#[derive(Default)]
struct Raw {
    name: Entry,
    country: Entry,
    ssid: Entry,
    passphrase: Entry,
    party_key: Entry,
}

/// Parses and checks the whole file; the first problem found is the error.
pub fn parse(bytes: &[u8]) -> Result<BootSettings, BootError> {
    let text = decode(bytes)?;
    let mut raw = Raw::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim_matches(|c: char| c.is_whitespace());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(BootError::Syntax {
                line: line_no,
                reason: "expected `setting = value`".into(),
            });
        };
        let value = unquote(value.trim());
        let (slot, key) = slot(&mut raw, key.trim(), line_no)?;
        if slot.is_some() {
            return Err(BootError::Duplicate { line: line_no, key });
        }
        // An empty value is the same as leaving the line out.
        if !value.is_empty() {
            *slot = Some((line_no, value.to_owned()));
        }
    }
    check(raw)
}

/// The file's text without a byte-order mark; UTF-16 (what some Windows editors call
/// "Unicode") and legacy code pages are refused with the fix in the message.
fn decode(bytes: &[u8]) -> Result<&str, BootError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(BootError::Encoding("it is UTF-16"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| BootError::Encoding("a legacy code page?"))
}

/// `"value"` -> `value`: quotes are optional and only needed to keep spaces at either end.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

fn slot<'a>(
    raw: &'a mut Raw,
    key: &str,
    line: usize,
) -> Result<(&'a mut Entry, &'static str), BootError> {
    Ok(match key.to_ascii_lowercase().as_str() {
        "name" => (&mut raw.name, "name"),
        "wifi_country" => (&mut raw.country, "wifi_country"),
        "wifi_ssid" => (&mut raw.ssid, "wifi_ssid"),
        "wifi_passphrase" => (&mut raw.passphrase, "wifi_passphrase"),
        "party_key" => (&mut raw.party_key, "party_key"),
        _ => {
            return Err(BootError::UnknownKey {
                line,
                key: key.chars().take(40).collect(),
                known: KNOWN,
            })
        }
    })
}

fn invalid(line: usize, key: &'static str, reason: impl Into<String>) -> BootError {
    BootError::Invalid {
        line,
        key,
        reason: reason.into(),
    }
}

fn check(raw: Raw) -> Result<BootSettings, BootError> {
    let party_key = raw.party_key.map(check_party_key).transpose()?;
    let name = raw
        .name
        .map(|(line, name)| check_name(line, name))
        .transpose()?;
    let wifi = match (raw.ssid, raw.country, raw.passphrase) {
        (None, None, None) => None,
        (None, _, Some(_)) => return Err(missing_ssid("wifi_passphrase")),
        (None, Some(_), None) => return Err(missing_ssid("wifi_country")),
        (Some(_), None, _) => {
            return Err(BootError::Missing {
                key: "wifi_ssid",
                needs: "wifi_country (two letters, e.g. GB, US, DE)",
            })
        }
        (Some(ssid), Some(country), passphrase) => Some(Wifi {
            country: check_country(country)?,
            ssid: check_ssid(ssid)?,
            key: passphrase.map_or(Ok(WifiKey::Open), check_passphrase)?,
        }),
    };
    Ok(BootSettings {
        name,
        wifi,
        party_key,
    })
}

fn check_party_key((line, key): (usize, String)) -> Result<PartySecret, BootError> {
    match party_key::check(&key) {
        Ok(()) => Ok(PartySecret::new(key)),
        Err(e) => Err(invalid(line, "party_key", e.to_string())),
    }
}

fn missing_ssid(key: &'static str) -> BootError {
    BootError::Missing {
        key,
        needs: "wifi_ssid (the network's name)",
    }
}

fn check_name(line: usize, name: String) -> Result<String, BootError> {
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(
            line,
            "name",
            format!("must be at most {MAX_NAME_LEN} bytes"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(line, "name", "must not hold control characters"));
    }
    // Quotes keep spaces at either end, but a name of spaces alone is no name: refused
    // here with its line rather than later by chorus.toml's check without one.
    if name.trim().is_empty() {
        return Err(invalid(line, "name", "must not be only spaces"));
    }
    Ok(name)
}

fn check_country((line, country): (usize, String)) -> Result<String, BootError> {
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid(
            line,
            "wifi_country",
            "must be a two-letter country code (GB, US, DE, ...)",
        ));
    }
    Ok(country.to_ascii_uppercase())
}

fn check_ssid((line, ssid): (usize, String)) -> Result<String, BootError> {
    if ssid.len() > 32 {
        return Err(invalid(line, "wifi_ssid", "must be at most 32 bytes"));
    }
    if ssid.chars().any(char::is_control) {
        return Err(invalid(
            line,
            "wifi_ssid",
            "must not hold control characters",
        ));
    }
    Ok(ssid)
}

fn check_passphrase((line, key): (usize, String)) -> Result<WifiKey, BootError> {
    if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(WifiKey::Psk(key.to_ascii_lowercase()));
    }
    let printable = key.bytes().all(|b| (b' '..=b'~').contains(&b));
    if !(8..=63).contains(&key.len()) || !printable {
        return Err(invalid(
            line,
            "wifi_passphrase",
            "must be 8-63 ASCII chars or 64 hex digits",
        ));
    }
    // wpa_supplicant reads the quoted passphrase up to the line's last quote, but first
    // cuts the line at a `#` that is outside quote pairs: one after an odd number of `"`.
    let mut quotes = 0;
    for b in key.bytes() {
        match b {
            b'"' => quotes += 1,
            b'#' if quotes % 2 == 1 => {
                return Err(invalid(
                    line,
                    "wifi_passphrase",
                    "cannot have # after an odd number of \"; give the 64-hex key instead",
                ))
            }
            _ => {}
        }
    }
    Ok(WifiKey::Passphrase(key))
}
