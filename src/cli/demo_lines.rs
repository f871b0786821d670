//! The demo's one-line summary of a box under the screens: role, song, position, playout
//! error and transfer progress, and the key help.

use chorus::status::Status;
use chorus::ui::screens::format::clock;

use super::demo_fleet::DemoBox;

/// The key help on the last line.
pub(super) const LEGEND: &str =
    " 1-9 select a box · a/b/x/y press its buttons (shift: long) · k kill · r restart · q quit";

/// What `b` is doing, in one line.
pub(super) fn box_line(b: &DemoBox) -> String {
    match b.snapshot() {
        None => format!("{}: killed; r restarts it with its state dir", b.name),
        Some(snapshot) => format!("{}: {}", b.name, summary(&snapshot.status)),
    }
}

/// A box's status in one line, e.g. `host of 3 · playing "Song" 0:12/1:30 · playout
/// +12 us · fetching Other 40%`.
pub(super) fn summary(s: &Status) -> String {
    let mut parts = vec![match &s.party {
        None => format!("no party, sees {}", s.neighbours.len()),
        Some(p) => {
            let role = format!("{:?}", p.role).to_lowercase();
            format!("{role} of {}", p.members.len())
        }
    }];
    if let Some(p) = &s.playback {
        let title = p
            .title
            .clone()
            .or_else(|| p.song.clone().map(|h| h[..h.len().min(8)].to_owned()));
        let song = title.map_or(String::new(), |t| format!(" \"{t}\""));
        let pos = p.position_ms.map_or(String::new(), |ms| {
            let total = p
                .duration_ms
                .map_or(String::new(), |d| format!("/{}", clock(d)));
            format!(" {}{total}", clock(ms))
        });
        let missing = if p.missing_song { " (no song yet)" } else { "" };
        parts.push(format!("{}{song}{pos}{missing}", p.state));
        if let Some(e) = p.playout_error_us {
            parts.push(format!("playout {e:+.0} us"));
        }
    }
    let fetching = super::demo_fleet::fetching(s);
    if !fetching.is_empty() {
        parts.push(format!("fetching {}", fetching.join(", ")));
    }
    parts.join(" · ")
}
