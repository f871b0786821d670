//! The demo's verdict on song changes: which songs each box played in which order (from
//! their statuses), and when each new song's first note came out of each box (from the
//! recordings, on the machine's monotonic clock).

use std::collections::HashMap;
use std::path::Path;

use chorus::audio::wav::WavSidecar;
use chorus::status::Status;

/// A sample louder than this is sound; the same threshold times the first song's note.
const LOUD: f32 = 0.02;

/// A new song's first note is looked for from this long after the song's first frame: its
/// lead-in is silent (the bundled songs and the synthesised tunes have 0.3 s).
const SEARCH_FROM_NS: u64 = 50_000_000;

/// ... and up to this long after it.
const SEARCH_TO_NS: u64 = 1_500_000_000;

/// A note only times a song change when at least this much silence precedes it; in the
/// middle of music a threshold crossing is no fixed point of the waveform.
const QUIET_BEFORE_NS: u64 = 50_000_000;

/// The songs the boxes played, as their statuses said, and when the host started each.
pub(super) struct SongLog {
    /// Per box, the songs (content hashes) it played, in order, repeats merged.
    order: Vec<Vec<String>>,
    titles: HashMap<String, String>,
    /// The songs the host moved to after the first, with the monotonic nanoseconds at
    /// which each one's first frame was scheduled, once the host's status showed it.
    changes: Vec<(String, Option<u64>)>,
}

impl SongLog {
    pub(super) fn new(boxes: usize) -> SongLog {
        SongLog {
            order: vec![Vec::new(); boxes],
            titles: HashMap::new(),
            changes: Vec::new(),
        }
    }

    /// Notes what each box plays, as read at `now_ns`; box 0 is the host.
    pub(super) fn note(&mut self, statuses: &[Option<Status>], now_ns: u64) {
        for (i, s) in statuses.iter().enumerate() {
            let Some(p) = s.as_ref().and_then(|s| s.playback.as_ref()) else {
                continue;
            };
            if let Some(song) = p.song.as_deref().filter(|_| p.state == "playing") {
                self.heard(i, song, p.title.as_deref(), p.position_ms, now_ns);
            }
        }
    }

    /// Box `i` plays `song`, `position_ms` into it, at `now_ns`.
    fn heard(
        &mut self,
        i: usize,
        song: &str,
        title: Option<&str>,
        position_ms: Option<u64>,
        now_ns: u64,
    ) {
        let Some(order) = self.order.get_mut(i) else {
            return;
        };
        // A song scheduled to start shows at position 0 until it does: only a position
        // past 0 dates its first frame.
        let start = position_ms
            .filter(|&ms| ms > 0)
            .map(|ms| now_ns.saturating_sub(ms.saturating_mul(1_000_000)));
        if order.last().is_some_and(|last| last == song) {
            if let Some(change) = self.changes.last_mut().filter(|c| i == 0 && c.0 == song) {
                change.1 = change.1.or(start);
            }
            return;
        }
        order.push(song.to_owned());
        if let Some(title) = title {
            self.titles.insert(song.to_owned(), title.to_owned());
        }
        if i == 0 && order.len() > 1 {
            self.changes.push((song.to_owned(), start));
        }
    }

    fn title<'a>(&'a self, song: &'a str) -> &'a str {
        self.titles
            .get(song)
            .map_or(&song[..12.min(song.len())], String::as_str)
    }

    /// Prints the order of the songs; an error when the boxes disagree.
    pub(super) fn check_order(&self, names: &[&str]) -> Result<(), String> {
        let list = |order: &[String]| {
            let titles: Vec<&str> = order.iter().map(|s| self.title(s)).collect();
            titles.join(", ")
        };
        let host = self.order.first().map_or(&[][..], Vec::as_slice);
        if self.order.iter().all(|o| o == host) {
            println!("songs in order, the same on every box: {}", list(host));
            return Ok(());
        }
        println!("songs in order:");
        for (name, order) in names.iter().zip(&self.order) {
            println!("  {name}: {}", list(order));
        }
        Err("the boxes did not play the same songs in the same order".into())
    }

    /// Prints, for each song change, when the new song's first note came out of each
    /// recording relative to the first one; returns the largest difference in
    /// microseconds and how many times a box missed a first note the first box played
    /// (it came in late, past the note).
    pub(super) fn check_changes(&self, recordings: &[(String, &Path)]) -> (f64, usize) {
        let tracks: Vec<(&str, Recording)> = recordings
            .iter()
            .filter_map(|(name, path)| Some((name.as_str(), Recording::open(path)?)))
            .collect();
        if tracks.len() < 2 || self.changes.is_empty() {
            return (0.0, 0);
        }
        println!(
            "song changes (the new song's first note, compared with {}):",
            tracks[0].0
        );
        let mut worst: f64 = 0.0;
        let mut missed = 0;
        for (song, start) in &self.changes {
            let title = self.title(song);
            let Some(start) = *start else {
                println!("  \"{title}\": the demo ended before it started");
                continue;
            };
            let notes: Vec<Option<f64>> = tracks.iter().map(|(_, r)| r.note_after(start)).collect();
            let Some(reference) = notes[0] else {
                println!("  \"{title}\": no note after a quiet lead-in to time it by");
                continue;
            };
            let mut line = format!("  \"{title}\":");
            for (k, ((name, _), note)) in tracks.iter().zip(&notes).enumerate().skip(1) {
                let comma = if k + 1 < tracks.len() { "," } else { "" };
                let Some(t) = note else {
                    missed += 1;
                    line.push_str(&format!(" {name} missed the first note{comma}"));
                    continue;
                };
                let d = (t - reference) / 1e3;
                worst = worst.max(d.abs());
                line.push_str(&format!(" {name} {d:+.1} us{comma}"));
            }
            println!("{line}");
        }
        (worst, missed)
    }
}

/// A box's recording: the loudest channel of each frame, and when frame 0 played.
struct Recording {
    first_ns: f64,
    rate: f64,
    level: Vec<f32>,
}

impl Recording {
    fn open(wav: &Path) -> Option<Recording> {
        let side = WavSidecar::read(wav).ok()?;
        let first_ns = side.first_frame_monotonic_ns? as f64;
        let mut reader = hound::WavReader::open(wav).ok()?;
        let channels = usize::from(reader.spec().channels.max(1));
        let rate = f64::from(reader.spec().sample_rate.max(1));
        let samples: Vec<f32> = reader.samples::<f32>().map_while(Result::ok).collect();
        let level = samples
            .chunks(channels)
            .map(|frame| frame.iter().fold(0.0f32, |m, v| m.max(v.abs())))
            .collect();
        Some(Recording {
            first_ns,
            rate,
            level,
        })
    }

    /// The monotonic nanoseconds of the first note of the song whose first frame was
    /// scheduled at `start_ns`: the first loud frame after a quiet stretch, past the old
    /// song's last frames.
    fn note_after(&self, start_ns: u64) -> Option<f64> {
        let frame = |ns: u64| {
            ((ns as f64 - self.first_ns) * self.rate / 1e9)
                .ceil()
                .max(0.0) as usize
        };
        let from = frame(start_ns + SEARCH_FROM_NS);
        let to = frame(start_ns + SEARCH_TO_NS).min(self.level.len());
        let quiet = (QUIET_BEFORE_NS as f64 * self.rate / 1e9) as usize;
        let mut quiet_since = from;
        for (i, &v) in self.level.get(from..to)?.iter().enumerate() {
            if v <= LOUD {
                continue;
            }
            let at = from + i;
            if at - quiet_since >= quiet {
                return Some(self.first_ns + at as f64 / self.rate * 1e9);
            }
            quiet_since = at + 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A recording at 1 kHz starting at 10 s: sound until 12 s, silence, a note at `note_s`.
    fn recording(dir: &Path, name: &str, note_s: f64) -> std::path::PathBuf {
        let path = dir.join(name);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 1000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..5000 {
            let t = 10.0 + f64::from(i) / 1000.0;
            let v = if t < 12.0 || t >= note_s { 0.5 } else { 0.0 };
            w.write_sample(0.0f32).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let side = WavSidecar {
            first_frame_monotonic_ns: Some(10_000_000_000),
            rate: 1000,
            channels: 2,
            frames: 5000,
            underruns: 0,
            gaps: Vec::new(),
        };
        let sidecar = chorus::audio::wav::sidecar_path(&path);
        std::fs::write(sidecar, serde_json::to_vec(&side).unwrap()).unwrap();
        path
    }

    #[test]
    fn a_late_first_note_of_the_new_song_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        let a = Recording::open(&recording(dir.path(), "a.wav", 12.3)).unwrap();
        let b = Recording::open(&recording(dir.path(), "b.wav", 12.302)).unwrap();
        let (ta, tb) = (a.note_after(12_000_000_000), b.note_after(12_000_000_000));
        assert!((ta.unwrap() - 12.3e9).abs() < 1.0, "{ta:?}");
        assert!((tb.unwrap() - ta.unwrap() - 2e6).abs() < 1.0, "{tb:?}");
    }

    #[test]
    fn music_without_a_quiet_lead_in_times_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = Recording::open(&recording(dir.path(), "a.wav", 12.04)).unwrap();
        // 40 ms of quiet is too little to tell a song's first note from a rest in it.
        assert_eq!(a.note_after(11_900_000_000), None);
        // A box that plays the old song on past the change is timed by the new one.
        let b = Recording::open(&recording(dir.path(), "b.wav", 12.3)).unwrap();
        let tb = b.note_after(11_900_000_000).unwrap();
        assert!((tb - 12.3e9).abs() < 1.0, "{tb}");
    }

    #[test]
    fn boxes_that_played_different_songs_are_told_apart() {
        let mut log = SongLog::new(2);
        for (i, song) in [(0, "aa"), (1, "aa"), (0, "bb"), (1, "cc")] {
            log.heard(i, song, None, Some(200), 1_000_000_000);
        }
        assert!(log.check_order(&["box-1", "box-2"]).is_err());
        assert_eq!(log.changes.len(), 1);
        let mut same = SongLog::new(2);
        // box-2 is read a moment before it moves on; the host's status times the change.
        // The host shows the next song before it starts, at position 0.
        for (i, song, ms) in [(0, "aa", 0), (1, "aa", 0), (0, "bb", 0), (1, "aa", 0)] {
            same.heard(i, song, None, Some(ms), 2_000_000_000);
        }
        assert_eq!(same.changes, vec![("bb".to_owned(), None)]);
        same.heard(0, "bb", None, Some(200), 2_500_000_000);
        same.heard(1, "bb", None, Some(200), 2_500_000_000);
        same.heard(0, "bb", None, Some(700), 3_000_000_000);
        assert!(same.check_order(&["box-1", "box-2"]).is_ok());
        assert_eq!(same.changes, vec![("bb".to_owned(), Some(2_300_000_000))]);
    }
}
