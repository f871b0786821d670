//! Decide whether a file is a song this build can play and read its tags and duration.
//!
//! Opens the file the way `audio::decode` does (symphonia probe, the extension only a
//! hint) and then decodes the first packets: a header alone does not make a playable song,
//! and symphonia's MP3 probe matches frame-sync bytes that also occur in other files.
//! The header's length is checked with a seek near its end: a copy cut short still
//! promises the whole song, and the party's schedule moves on at the length found here.

use std::fs::File;
use std::io;
use std::path::Path;

use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::{Error as SymError, SeekErrorKind};
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;
use symphonia::core::units::Time;

/// Packets tried before deciding the file does not decode.
const MAX_PACKETS_TRIED: u32 = 16;
/// Seeks that bisect the real length of a file whose header promises more than it holds.
const LENGTH_STEPS: u32 = 24;

/// Longest tag value kept, in characters: tags travel in manifests and are drawn on a
/// small display, and a hostile or broken file may carry megabytes in a tag.
pub const MAX_TAG_CHARS: usize = 256;

/// Tags and length of a playable file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// Track title tag.
    pub title: Option<String>,
    /// Artist tag (album artist when there is no track artist).
    pub artist: Option<String>,
    /// Album tag.
    pub album: Option<String>,
    /// Length, when the container says; less when the file holds less audio.
    pub duration_ms: Option<u64>,
}

/// Why a file is not taken as a song.
#[derive(Debug, thiserror::Error)]
pub enum Reject {
    /// Reading failed (permission, I/O): may be transient, so never remembered in the index.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// The content is not audio this build decodes, or is corrupt: remembered in the index
    /// until the file changes, so it is not probed again on every scan.
    #[error("{0}")]
    NotAudio(String),
}

fn sym_reject(context: &str, err: SymError) -> Reject {
    match err {
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Reject::NotAudio(format!("{context}: file ends too early (truncated?)"))
        }
        SymError::IoError(e) if is_read_error(&e) => Reject::Io(e),
        other => Reject::NotAudio(format!("{context}: {other}")),
    }
}

/// symphonia reports malformed data through `io::Error` too (kind `Other`/`InvalidData`);
/// only errors from the file system itself are worth retrying.
fn is_read_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotFound
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some()
}

/// Probe `path`: Ok with its tags if it decodes, otherwise why not.
pub fn probe(path: &Path) -> Result<Probed, Reject> {
    let file = File::open(path)?;
    probe_source(Box::new(file), path.extension().and_then(|e| e.to_str()))
}

/// [`probe`] for any byte source (a file, or bytes in memory); `extension` is only a
/// hint. The bytes are untrusted: any content gives tags or a [`Reject`].
pub fn probe_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Result<Probed, Reject> {
    super::contain::contained(|| probe_contained(source, extension))
        .unwrap_or_else(|panicked| Err(Reject::NotAudio(panicked.to_string())))
}

fn probe_contained(
    mut source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Result<Probed, Reject> {
    if let Err(bad) = super::guard::check(&mut *source)? {
        return Err(Reject::NotAudio(format!("corrupt tags: {bad}")));
    }
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            // symphonia's own wording ("core (probe): no suitable format reader found")
            // means nothing to a user looking at a skipped file.
            SymError::Unsupported(_) => {
                Reject::NotAudio("not audio, or a format this build does not play".into())
            }
            other => sym_reject("not a playable audio file", other),
        })?;
    let mut format = probed.format;

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| Reject::NotAudio("no audio track".into()))?;
    let params = track.codec_params.clone();
    let track_id = track.id;
    let duration_ms = match (params.n_frames, params.sample_rate) {
        (Some(frames), Some(rate)) => frames_to_ms(frames, rate),
        _ => None,
    };

    // Tags inside the container (Vorbis comments, MP4 atoms, RIFF INFO) first, then those
    // found in front of it by the probe (ID3v2 before an MP3 stream).
    let mut tags = Probed {
        duration_ms,
        ..Probed::default()
    };
    if let Some(rev) = format.metadata().current() {
        fill_tags(&mut tags, rev);
    }
    if let Some(meta) = probed.metadata.get() {
        if let Some(rev) = meta.current() {
            fill_tags(&mut tags, rev);
        }
    }

    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| sym_reject("unsupported codec", e))?;
    let mut last_error = String::from("no audio packets");
    for _ in 0..MAX_PACKETS_TRIED {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::ResetRequired) => {
                decoder.reset();
                continue;
            }
            Err(e) => return Err(sym_reject("no decodable audio", e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(_) => {
                if let (Some(frames), Some(rate)) = (params.n_frames, params.sample_rate) {
                    check_length(&mut *format, track_id, frames, rate, &mut tags)?;
                }
                return Ok(tags);
            }
            Err(SymError::IoError(e)) if is_read_error(&e) => return Err(Reject::Io(e)),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(Reject::NotAudio(format!(
        "audio does not decode: {last_error}"
    )))
}

/// Sets the length in `tags` to what the file really holds, if less than its header's;
/// a file cut so short that no seek finds audio is no song (a length of 0 would be taken
/// for an unknown one, and the party would wait on it for ever).
fn check_length(
    format: &mut dyn FormatReader,
    track: u32,
    frames: u64,
    rate: u32,
    tags: &mut Probed,
) -> Result<(), Reject> {
    let real = real_length(format, track, frames, rate);
    if real == 0 {
        return Err(Reject::NotAudio(
            "holds almost none of the audio its header promises (cut short?)".into(),
        ));
    }
    if real < frames {
        tracing::info!(
            claimed_frames = frames,
            real_frames = real,
            "the file holds less audio than its header says"
        );
        tags.duration_ms = frames_to_ms(real, rate);
    }
    Ok(())
}

fn frames_to_ms(frames: u64, rate: u32) -> Option<u64> {
    (rate > 0)
        .then(|| u64::try_from(u128::from(frames) * 1000 / u128::from(rate)).unwrap_or(u64::MAX))
}

/// Whether the file holds audio of `track` at song frame `frame`: a seek there lands and
/// a packet of the track follows. A file that cannot seek at all counts as holding it
/// (its header is all there is to go by).
fn holds_audio_at(format: &mut dyn FormatReader, track: u32, frame: u64, rate: u32) -> bool {
    let to = SeekTo::Time {
        time: Time::from(frame as f64 / f64::from(rate.max(1))),
        track_id: Some(track),
    };
    match format.seek(SeekMode::Coarse, to) {
        Ok(_) => {}
        Err(SymError::SeekError(SeekErrorKind::OutOfRange)) => return false,
        Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return false,
        Err(_) => return true,
    }
    for _ in 0..MAX_PACKETS_TRIED {
        match format.next_packet() {
            Ok(p) if p.track_id() == track => return true,
            Ok(_) | Err(SymError::ResetRequired) => continue,
            Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return false,
            Err(_) => return true,
        }
    }
    true
}

/// The frames the file really holds of the `claimed` its header gives, to within
/// 1/2^[`LENGTH_STEPS`] of the claim: a header may promise minutes over seconds of audio
/// (a copy cut short), and the party's schedule moves on at this length. An honest file
/// costs one seek 0.2 s before its end; a short one a bisection of seeks, never a decode.
fn real_length(format: &mut dyn FormatReader, track: u32, claimed: u64, rate: u32) -> u64 {
    let near_end = claimed.saturating_sub(u64::from(rate / 5));
    if holds_audio_at(format, track, near_end, rate) {
        return claimed;
    }
    let (mut lo, mut hi) = (0u64, near_end);
    for _ in 0..LENGTH_STEPS {
        if hi - lo <= u64::from(rate / 100) {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        if holds_audio_at(format, track, mid, rate) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Fill the still-missing fields of `tags` from one metadata revision.
fn fill_tags(tags: &mut Probed, rev: &MetadataRevision) {
    let mut album_artist = None;
    for tag in rev.tags() {
        let slot = match tag.std_key {
            Some(StandardTagKey::TrackTitle) => &mut tags.title,
            Some(StandardTagKey::Artist) => &mut tags.artist,
            Some(StandardTagKey::Album) => &mut tags.album,
            Some(StandardTagKey::AlbumArtist) => &mut album_artist,
            _ => continue,
        };
        if slot.is_none() {
            *slot = clean(&tag.value.to_string());
        }
    }
    if tags.artist.is_none() {
        tags.artist = album_artist;
    }
}

/// Trim, drop control characters (they would corrupt the display and logs) and bound the
/// length; an empty tag counts as no tag.
pub fn clean(raw: &str) -> Option<String> {
    let text: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TAG_CHARS)
        .collect();
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_trims_bounds_and_strips_controls() {
        assert_eq!(clean("  Song\u{0}\n Title "), Some("Song Title".into()));
        assert_eq!(clean(" \t "), None);
        assert_eq!(
            clean(&"é".repeat(1000)).map(|s| s.chars().count()),
            Some(256)
        );
    }

    #[test]
    fn text_file_is_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.mp3");
        std::fs::write(&path, "just some words, not a song\n".repeat(100)).unwrap();
        assert!(matches!(probe(&path), Err(Reject::NotAudio(_))));
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            probe(&dir.path().join("gone.wav")),
            Err(Reject::Io(_))
        ));
    }
}
