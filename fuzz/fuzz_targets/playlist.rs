//! Playlist files, copied onto a card from anywhere: any bytes in any of the three
//! formats give a list of locations (never a panic), each one trimmed, non-empty and a
//! single line (LF, CRLF and CR all end one), and no M3U tag or comment is taken for a location.

#![no_main]

use chorus::library::playlist::{parse::parse, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let format = [Format::M3u, Format::M3u8, Format::Pls][usize::from(selector) % 3];
    let entries = parse(file, format);
    let lines = file.split(|&b| b == b'\n' || b == b'\r').count();
    assert!(
        entries.len() <= lines,
        "{} entries from {lines} lines",
        entries.len()
    );
    for entry in &entries {
        assert!(!entry.is_empty() && entry.trim() == entry, "{entry:?}");
        assert!(!entry.contains(['\n', '\r']), "{entry:?}");
        if format != Format::Pls {
            assert!(!entry.starts_with('#'), "{entry:?}");
        }
    }
});
