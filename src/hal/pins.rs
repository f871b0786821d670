//! Where the box's buttons and display are wired: the `[buttons]` and `[display]`
//! configuration tables, their defaults for the Pimoroni Pirate Audio, and their checks.
//!
//! Always compiled (no feature), so a configuration file reads the same on a laptop
//! and on a box.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::hal::Button;
use crate::ui::keymap::Keymap;

/// The highest GPIO line offset + 1 we accept: a Raspberry Pi's gpiochip0 has 54 lines
/// (58 on a Pi 4/5); anything above is a typo.
pub const MAX_LINE: u32 = 64;

/// A configuration value that cannot work; says which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{table}] {field}: {problem}; fix it in the configuration file")]
pub struct InvalidTable {
    pub table: &'static str,
    pub field: &'static str,
    pub problem: String,
}

fn invalid(table: &'static str, field: &'static str, problem: impl Into<String>) -> InvalidTable {
    InvalidTable {
        table,
        field,
        problem: problem.into(),
    }
}

/// `[buttons]`: the four buttons on the GPIO character device, and what they do.
///
/// Line numbers are BCM GPIO numbers, which on a Raspberry Pi are the line offsets of
/// `/dev/gpiochip0`. Pirate Audio boards made before 23 January 2020 wire Y to GPIO 20
/// instead of 24: set `y = 20` on those.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ButtonsTable {
    /// The GPIO character device the buttons are on.
    pub chip: PathBuf,
    /// GPIO line of button A (top left). Pirate Audio: 5.
    pub a: u32,
    /// GPIO line of button B (bottom left). Pirate Audio: 6.
    pub b: u32,
    /// GPIO line of button X (top right). Pirate Audio: 16.
    pub x: u32,
    /// GPIO line of button Y (bottom right). Pirate Audio: 24 (20 on boards made
    /// before 23 January 2020).
    pub y: u32,
    /// A pressed button pulls its line to ground (true on the Pirate Audio, with the
    /// pull-ups from config.txt `gpio=5,6,16,24=ip,pu`).
    pub active_low: bool,
    /// What each button does: `[buttons.actions]`, e.g. `a = { short = "party", long = "leave" }`.
    pub actions: Keymap,
}

impl Default for ButtonsTable {
    fn default() -> Self {
        ButtonsTable {
            chip: PathBuf::from("/dev/gpiochip0"),
            a: 5,
            b: 6,
            x: 16,
            y: 24,
            active_low: true,
            actions: Keymap::default(),
        }
    }
}

impl ButtonsTable {
    /// Each button with its GPIO line.
    pub fn lines(&self) -> [(Button, u32); 4] {
        [
            (Button::A, self.a),
            (Button::B, self.b),
            (Button::X, self.x),
            (Button::Y, self.y),
        ]
    }

    /// Checks that the lines exist and differ and the chip is named.
    pub fn validate(&self) -> Result<(), InvalidTable> {
        const T: &str = "buttons";
        if self.chip.as_os_str().is_empty() {
            return Err(invalid(T, "chip", "empty; the Pi's is /dev/gpiochip0"));
        }
        let named = [("a", self.a), ("b", self.b), ("x", self.x), ("y", self.y)];
        check_lines(T, &named)
    }
}

/// `[display]`: the ST7789 240x240 panel on SPI, its data/command and backlight lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayTable {
    /// The spidev device of the panel: SPI0 with chip select CE1 on the Pirate Audio.
    pub spi: PathBuf,
    /// The GPIO character device of the `dc` and `backlight` lines.
    pub chip: PathBuf,
    /// GPIO line of the panel's data/command input. Pirate Audio: 9.
    pub dc: u32,
    /// GPIO line of the backlight, driven high for on. Pirate Audio: 13.
    pub backlight: u32,
    /// SPI clock in Hz. The ST7789 is specified to about 62.5 MHz; 50 MHz is safe on
    /// every Pi (the kernel rounds down to what the SPI block can divide).
    pub spi_hz: u32,
    /// Turns the picture, in degrees clockwise: 0, 90, 180 or 270. The Pirate Audio
    /// needs 90 (as in Pimoroni's examples); if the picture is upside down, use 270.
    pub rotation_degrees: u16,
    /// Inverts colours: the Pirate Audio's IPS panel shows a negative without it.
    pub invert_colors: bool,
    /// Seconds without a button press or a change of screen before the backlight
    /// turns off; 0 keeps it on.
    pub dim_after_s: u32,
    /// Most screen updates per second (1 to 60); each costs SPI time and CPU.
    pub max_fps: u32,
}

impl Default for DisplayTable {
    fn default() -> Self {
        DisplayTable {
            spi: PathBuf::from("/dev/spidev0.1"),
            chip: PathBuf::from("/dev/gpiochip0"),
            dc: 9,
            backlight: 13,
            spi_hz: 50_000_000,
            rotation_degrees: 90,
            invert_colors: true,
            dim_after_s: 60,
            max_fps: 20,
        }
    }
}

impl DisplayTable {
    /// Checks lines, clock, rotation and frame rate.
    pub fn validate(&self) -> Result<(), InvalidTable> {
        const T: &str = "display";
        if self.spi.as_os_str().is_empty() {
            return Err(invalid(
                T,
                "spi",
                "empty; the Pirate Audio's is /dev/spidev0.1",
            ));
        }
        if self.chip.as_os_str().is_empty() {
            return Err(invalid(T, "chip", "empty; the Pi's is /dev/gpiochip0"));
        }
        check_lines(T, &[("dc", self.dc), ("backlight", self.backlight)])?;
        if !(1_000_000..=80_000_000).contains(&self.spi_hz) {
            return Err(invalid(
                T,
                "spi_hz",
                format!("{} is outside 1000000..=80000000", self.spi_hz),
            ));
        }
        if !matches!(self.rotation_degrees, 0 | 90 | 180 | 270) {
            return Err(invalid(
                T,
                "rotation_degrees",
                format!("{} is not 0, 90, 180 or 270", self.rotation_degrees),
            ));
        }
        if !(1..=60).contains(&self.max_fps) {
            return Err(invalid(
                T,
                "max_fps",
                format!("{} is outside 1..=60", self.max_fps),
            ));
        }
        Ok(())
    }
}

/// Checks both tables and that no GPIO line is used twice across them.
pub fn validate(buttons: &ButtonsTable, display: &DisplayTable) -> Result<(), InvalidTable> {
    buttons.validate()?;
    display.validate()?;
    if buttons.chip == display.chip {
        for (field, line) in [("dc", display.dc), ("backlight", display.backlight)] {
            if let Some((button, _)) = buttons.lines().into_iter().find(|(_, l)| *l == line) {
                return Err(invalid(
                    "display",
                    field,
                    format!("GPIO {line} is also button {button}'s line"),
                ));
            }
        }
    }
    Ok(())
}

/// Every line below [`MAX_LINE`], no two the same.
fn check_lines(table: &'static str, named: &[(&'static str, u32)]) -> Result<(), InvalidTable> {
    for (i, (field, line)) in named.iter().enumerate() {
        if *line >= MAX_LINE {
            return Err(invalid(
                table,
                field,
                format!("GPIO {line} does not exist (0..{MAX_LINE})"),
            ));
        }
        if let Some((other, _)) = named[..i].iter().find(|(_, l)| l == line) {
            return Err(invalid(
                table,
                field,
                format!("GPIO {line} is already `{other}`'s line"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_pirate_audio_and_valid() {
        let (b, d) = (ButtonsTable::default(), DisplayTable::default());
        assert_eq!(b.lines().map(|(_, l)| l), [5, 6, 16, 24]);
        assert_eq!(validate(&b, &d), Ok(()));
    }

    #[test]
    fn an_empty_table_reads_as_the_defaults_and_a_partial_one_keeps_the_rest() {
        let b: ButtonsTable = toml::from_str("").expect("parse");
        assert_eq!(b, ButtonsTable::default());
        let text = "y = 20\n[actions]\nb = { short = \"pause\" }\n";
        let b: ButtonsTable = toml::from_str(text).expect("parse");
        assert_eq!((b.a, b.y), (5, 20));
        assert_eq!(b.actions.a, Keymap::default().a);
        let d: DisplayTable = toml::from_str("rotation_degrees = 270").expect("parse");
        assert_eq!((d.rotation_degrees, d.dc), (270, 9));
        assert!(toml::from_str::<DisplayTable>("rotation = 90").is_err());
        let again: DisplayTable =
            toml::from_str(&toml::to_string(&d).expect("write")).expect("parse");
        assert_eq!(again, d);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let field = |r: Result<(), InvalidTable>| r.err().map(|e| e.field);
        let b = ButtonsTable {
            x: 6,
            ..ButtonsTable::default()
        };
        assert_eq!(field(b.validate()), Some("x"));
        let b = ButtonsTable {
            y: 99,
            ..ButtonsTable::default()
        };
        assert_eq!(field(b.validate()), Some("y"));
        let d = |f: fn(&mut DisplayTable)| {
            let mut d = DisplayTable::default();
            f(&mut d);
            field(d.validate())
        };
        assert_eq!(d(|d| d.max_fps = 0), Some("max_fps"));
        assert_eq!(d(|d| d.max_fps = 61), Some("max_fps"));
        assert_eq!(d(|d| d.rotation_degrees = 45), Some("rotation_degrees"));
        assert_eq!(d(|d| d.spi_hz = 500), Some("spi_hz"));
        assert_eq!(d(|d| d.backlight = 9), Some("backlight"));
        let clash = DisplayTable {
            dc: 16,
            ..DisplayTable::default()
        };
        let err = validate(&ButtonsTable::default(), &clash).err();
        assert_eq!(err.as_ref().map(|e| e.field), Some("dc"));
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("[display] dc") && msg.contains("button X"),
            "{msg}"
        );
    }
}
