//! Replacing a file so that a reader or a power cut sees either the old or the new
//! contents, never half of them: write a temporary file beside it, flush it to the
//! card, rename it over the old one, flush the directory.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Whether [`replace`] wrote the file or found it already as wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Changed,
    Unchanged,
}

/// Makes `path` hold `contents` with permission bits `mode`. An identical file is left
/// alone, so applying the same settings at every boot does not wear the card.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> io::Result<Written> {
    if let Ok(old) = fs::read(path) {
        let same_mode = fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o7777 == mode);
        if old == contents && same_mode {
            return Ok(Written::Unchanged);
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{}.new", name.as_deref().unwrap_or("file")));
    let result = write_new(&tmp, contents, mode).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(dir)?.sync_all()?;
    Ok(Written::Changed)
}

fn write_new(tmp: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(tmp)?;
    // The process umask may have narrowed `mode`; readers need exactly it.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}
