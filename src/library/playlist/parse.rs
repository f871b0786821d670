//! Reads the song locations out of a playlist file's bytes: M3U/M3U8 and PLS. Pure, no
//! file system: what the locations point at is [`super::resolve`]'s business.
//!
//! Text: a UTF-8 byte order mark is dropped and lines may end in LF, CRLF or CR. `.m3u8`
//! files are UTF-8 (bytes that are not become U+FFFD). `.m3u` and `.pls` files are read
//! as UTF-8 when they are valid UTF-8 and as Latin-1 otherwise: older players on
//! Windows wrote them in the machine's 8-bit code page, and Latin-1 names the Western
//! European letters of such files rightly where UTF-8 would lose them.

use std::borrow::Cow;
use std::path::Path;

/// The playlist formats chorus reads, told apart by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.m3u`: one location per line, `#` lines are comments or `#EXTINF` tags.
    M3u,
    /// `.m3u8`: the same in UTF-8.
    M3u8,
    /// `.pls`: an INI file with a `[playlist]` section of `FileN=` keys.
    Pls,
}

impl Format {
    /// The format of a file by its extension (any case); `None` for anything else.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "m3u" => Some(Format::M3u),
            "m3u8" => Some(Format::M3u8),
            "pls" => Some(Format::Pls),
            _ => None,
        }
    }
}

/// The locations a playlist lists, in play order, exactly as written (trimmed).
pub fn parse(bytes: &[u8], format: Format) -> Vec<String> {
    let text = text_of(bytes, format);
    match format {
        Format::M3u | Format::M3u8 => m3u(&text),
        Format::Pls => pls(&text),
    }
}

/// The file's text, without a byte order mark.
fn text_of(bytes: &[u8], format: Format) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match (std::str::from_utf8(bytes), format) {
        (Ok(text), _) => Cow::Borrowed(text),
        (Err(_), Format::M3u8) => String::from_utf8_lossy(bytes),
        // Latin-1 is the first 256 code points, byte for byte.
        (Err(_), _) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The lines of `text`, whichever of LF, CRLF or CR ends them (blank ones included).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
}

/// M3U: every line that is neither blank nor starts with `#` (`#EXTM3U`, `#EXTINF` and
/// comments alike) is a location.
fn m3u(text: &str) -> Vec<String> {
    lines(text)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// PLS: the `FileN=` keys of the `[playlist]` section (or before any section), ordered
/// by N; the first of two keys with the same N counts. `TitleN`, `LengthN` and
/// `NumberOfEntries` are not needed (titles come from the songs' own tags), and
/// `NumberOfEntries` is often wrong in files written by hand, so it limits nothing.
fn pls(text: &str) -> Vec<String> {
    let mut in_playlist = true;
    let mut numbered: Vec<(u64, usize, String)> = Vec::new();
    for (at, line) in lines(text).map(str::trim).enumerate() {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_playlist = section.trim().eq_ignore_ascii_case("playlist");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let number = key
            .get(..4)
            .filter(|k| k.eq_ignore_ascii_case("file"))
            .and_then(|_| key.get(4..))
            .and_then(|n| n.parse::<u64>().ok());
        let value = value.trim();
        if let (true, Some(n), false) = (in_playlist, number, value.is_empty()) {
            numbered.push((n, at, value.to_owned()));
        }
    }
    numbered.sort_by_key(|&(n, at, _)| (n, at));
    numbered.dedup_by_key(|(n, _, _)| *n);
    numbered.into_iter().map(|(_, _, value)| value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m3u_takes_locations_and_skips_tags_comments_and_blank_lines() {
        let text = "#EXTM3U\r\n#EXTINF:123,Artist - One\r\none.flac\r\n\r\n  # a comment\r\nsub/two.mp3  \r\n#EXTINF:-1,Radio\nhttp://radio.example/stream\n";
        assert_eq!(
            parse(text.as_bytes(), Format::M3u),
            ["one.flac", "sub/two.mp3", "http://radio.example/stream"]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_location() {
        let bytes = b"\xEF\xBB\xBFfirst.wav\nsecond.wav";
        assert_eq!(parse(bytes, Format::M3u8), ["first.wav", "second.wav"]);
        assert_eq!(
            parse(b"\xEF\xBB\xBF[playlist]\nFile1=a.wav", Format::Pls),
            ["a.wav"]
        );
    }

    #[test]
    fn m3u_is_utf8_when_valid_and_latin1_otherwise() {
        assert_eq!(parse("Café.wav".as_bytes(), Format::M3u), ["Café.wav"]);
        assert_eq!(parse(b"Caf\xE9.wav", Format::M3u), ["Café.wav"]);
        assert_eq!(parse(b"Caf\xE9.wav", Format::M3u8), ["Caf\u{FFFD}.wav"]);
        assert_eq!(parse(b"Caf\xE9.wav", Format::Pls), Vec::<String>::new());
        assert_eq!(parse(b"File1=Caf\xE9.wav", Format::Pls), ["Café.wav"]);
    }

    #[test]
    fn pls_orders_by_number_and_ignores_titles_counts_and_other_sections() {
        let text = "[playlist]\r\nNumberOfEntries=1\r\nFile2=second.ogg\r\nTitle2=Two\r\nfile1 = first.ogg\r\nLength1=-1\r\nFile10=tenth.ogg\r\nFile2=again.ogg\r\nFileX=bad.ogg\r\nFile3=\r\n[other]\r\nFile4=elsewhere.ogg\r\nVersion=2\r\n";
        assert_eq!(
            parse(text.as_bytes(), Format::Pls),
            ["first.ogg", "second.ogg", "tenth.ogg"]
        );
    }

    #[test]
    fn formats_by_extension_in_any_case() {
        assert_eq!(Format::of_path(Path::new("a/B.M3U")), Some(Format::M3u));
        assert_eq!(Format::of_path(Path::new("b.m3u8")), Some(Format::M3u8));
        assert_eq!(Format::of_path(Path::new("c.Pls")), Some(Format::Pls));
        assert_eq!(Format::of_path(Path::new("d.wav")), None);
        assert_eq!(Format::of_path(Path::new("m3u")), None);
    }

    #[test]
    fn empty_and_garbage_give_no_locations_rather_than_fail() {
        assert!(parse(b"", Format::M3u).is_empty());
        assert!(parse(b"\xFF\xFE\x00", Format::Pls).is_empty());
        assert!(parse(b"#EXTM3U\n#EXTINF:1,x\n", Format::M3u8).is_empty());
        assert_eq!(parse(b"a.wav\rb.wav\r", Format::M3u), ["a.wav", "b.wav"]);
    }
}
