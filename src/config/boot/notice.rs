//! The one-line notice `chorus apply-boot-config` leaves in the state dir when the
//! settings were not applied, for `chorus run` to show on the screen and in status.

use std::fs;
use std::io;
use std::path::Path;

use super::atomic;

/// The notice's file name inside the state dir.
pub const NOTICE_FILE: &str = "boot-settings-error.txt";

/// Longest notice kept: a few lines of the screen.
const MAX_CHARS: usize = 200;

/// Leaves `message` for `chorus run` (readable by its user; no secret is in it).
pub fn write(state_dir: &Path, message: &str) -> io::Result<()> {
    fs::create_dir_all(state_dir)?;
    let line = first_line(message);
    atomic::replace(
        &state_dir.join(NOTICE_FILE),
        format!("{line}\n").as_bytes(),
        0o644,
    )?;
    Ok(())
}

/// Removes the notice: the settings were applied, or there were none to apply.
pub fn clear(state_dir: &Path) -> io::Result<()> {
    match fs::remove_file(state_dir.join(NOTICE_FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The notice, if one is there and not empty.
pub fn read(state_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(state_dir.join(NOTICE_FILE)).ok()?;
    let line = first_line(&text);
    (!line.is_empty()).then_some(line)
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(MAX_CHARS)
        .collect()
}
