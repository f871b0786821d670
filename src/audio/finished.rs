//! The song that last ended or failed on the playback thread, so that the driver's
//! re-anchoring of a song its schedule still plays does not open it again and again.
//!
//! The schedule moves on at the length the library found, the decoder at the audio the
//! file really holds: a header that promises minutes over seconds of audio, or the few
//! milliseconds by which the schedule's end trails the decoder's, leave the driver asking
//! for a song that is over. Re-opening it on each ask would end (or fail) again a few
//! times a second.

use std::path::{Path, PathBuf};

use super::orders::LocalTarget;
use super::track::Track;
use crate::core::Instant;

/// A song whose audio ends this much before its header's length is reported as cut short.
const SHORT_BY_SECONDS: f64 = 1.0;

/// A song the schedule still names is taken as asked for afresh (played again from its
/// start) when the schedule is this far before where it ended, at most half the song.
const REPLAY_MARGIN_SECONDS: f64 = 1.0;

/// A song that is over on this box.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Finished {
    path: PathBuf,
    /// The schedule's song position when it ended; `None` when it failed (it would fail
    /// again wherever it is opened).
    ended_at: Option<f64>,
}

impl Finished {
    /// `path` ended normally when its schedule was at `target`, at `now`.
    pub(super) fn ended(path: PathBuf, target: &LocalTarget, now: Instant) -> Self {
        Finished {
            path,
            ended_at: Some(schedule_seconds(target, now)),
        }
    }

    /// `path` could not be played on.
    pub(super) fn failed(path: PathBuf) -> Self {
        Finished {
            path,
            ended_at: None,
        }
    }

    /// Whether asking for `path` on `target` at `now` is the same song still being asked
    /// for (ignored), rather than the schedule playing it again from an earlier place.
    pub(super) fn still_over(&self, path: &Path, target: &LocalTarget, now: Instant) -> bool {
        if self.path != path {
            return false;
        }
        let Some(end) = self.ended_at else {
            return true;
        };
        let margin = REPLAY_MARGIN_SECONDS.min(end / 2.0);
        schedule_seconds(target, now) >= end - margin
    }
}

/// What the end of `track`'s audio at `now` leaves: the message to show, if any (logged
/// here, once), and the song to remember as over.
pub(super) fn on_end(track: Track, now: Instant) -> (Option<String>, Finished) {
    let path = track.path.display();
    if let Some(error) = track.broken {
        tracing::warn!(%error, "song stopped");
        return (
            Some(format!("{path}: {error}")),
            Finished::failed(track.path),
        );
    }
    let reached = schedule_seconds(&track.target, now);
    let promised = track.song.as_ref().and_then(|s| s.info.duration());
    let message = promised
        .filter(|p| p.as_secs_f64() > reached + SHORT_BY_SECONDS)
        .map(|promised| {
            let message = format!(
                "{path}: the file ends at {reached:.1} s of the {:.1} s its header promises",
                promised.as_secs_f64()
            );
            tracing::warn!(error = %message, "song ended early");
            message
        });
    (message, Finished::ended(track.path, &track.target, now))
}

/// Where in the song the schedule is at `now` (negative before its start).
pub(super) fn schedule_seconds(target: &LocalTarget, now: Instant) -> f64 {
    let since = if now >= target.at {
        now.saturating_duration_since(target.at).as_secs_f64()
    } else {
        -target.at.saturating_duration_since(now).as_secs_f64()
    };
    target.song_seconds + since * target.pace
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target(song_seconds: f64, at: Instant) -> LocalTarget {
        LocalTarget {
            song_seconds,
            at,
            pace: 1.0,
        }
    }

    #[test]
    fn an_ended_song_stays_over_until_played_again_from_earlier() {
        let t0 = Instant::from_nanos(1_000_000_000_000);
        let song = Path::new("a.wav");
        let done = Finished::ended(song.into(), &target(10.0, t0), t0);
        let later = t0 + Duration::from_millis(50);
        assert!(done.still_over(song, &target(10.05, later), later));
        assert!(
            done.still_over(song, &target(9.5, later), later),
            "a re-anchor a little behind is the same ask"
        );
        assert!(
            !done.still_over(song, &target(0.0, later), later),
            "replayed"
        );
        assert!(!done.still_over(Path::new("b.wav"), &target(10.0, later), later));
        let failed = Finished::failed(song.into());
        assert!(failed.still_over(song, &target(0.0, later), later));
    }

    #[test]
    fn the_schedule_position_runs_at_its_pace_and_before_the_start() {
        let t0 = Instant::from_nanos(1_000_000_000_000);
        let mut t = target(2.0, t0);
        t.pace = 1.5;
        let s = schedule_seconds(&t, t0 + Duration::from_secs(2));
        assert!((s - 5.0).abs() < 1e-9);
        let before = schedule_seconds(&target(0.0, t0 + Duration::from_secs(1)), t0);
        assert!((before + 1.0).abs() < 1e-9);
    }
}
