//! Song changes on the frame: the next song is opened on a second decoding thread while
//! the current one plays, lined up against the same device timing, and takes over within
//! the block where its first frame is due, as a first song starts on its sample.

use std::path::PathBuf;
use std::time::Duration;

use super::{open_from, Engine, BLOCK_FRAMES};
use crate::audio::finished::Finished;
use crate::audio::orders::LocalTarget;
use crate::audio::playout::{PlayoutConfig, PlayoutController};
use crate::audio::track::{Align, Heard, Stage, Track};
use crate::audio::SinkError;

/// Blocks before the next song's instant, beyond the sink's latency, from which each
/// block asks the sink where it is: earlier, the current song's steering readings do.
const LOOK_BLOCKS: u32 = 2;

impl Engine {
    /// The driver's `Next`: open `path` now to take over on `target`.
    pub(super) fn queue_next(&mut self, path: PathBuf, target: LocalTarget) {
        // One file cannot be two tracks: the same song again is re-anchored by `Play`.
        if self.track.as_ref().is_some_and(|t| t.path == path) {
            return;
        }
        if let Some(next) = self.next.as_mut().filter(|n| n.path == path) {
            next.target = target;
            return;
        }
        let now = crate::clock::monotonic_now();
        tracing::debug!(
            song = %path.display(),
            ahead_ms = target.at.saturating_duration_since(now).as_secs_f64() * 1e3,
            "next song opened ahead"
        );
        let generation = self.next_feed.open(path.clone(), open_from(&target));
        self.next = Some(Track::new(path, target, generation));
    }

    /// Takes the second decoding thread's news of the next song.
    pub(super) fn next_news(&mut self) {
        while let Some(news) = self.next_feed.poll() {
            let current = self.next_feed.generation();
            let Some(next) = self.next.as_mut() else {
                continue;
            };
            // A song that cannot be opened stays waiting: it is reported when due, and
            // the song playing meanwhile is not cut for it.
            if let Heard::Failed(error) = next.hear(news, current) {
                next.broken = Some(error);
            }
        }
    }

    /// The next song becomes the current one, with its decoding thread.
    pub(super) fn promote(&mut self) {
        let Some(next) = self.next.take() else {
            return;
        };
        std::mem::swap(&mut self.feed, &mut self.next_feed);
        self.controller = PlayoutController::new(PlayoutConfig::default());
        let path = next.path.clone();
        let failed = (next.stage == Stage::Waiting)
            .then(|| next.broken.clone())
            .flatten();
        let waiting = next.stage == Stage::Waiting;
        tracing::debug!(song = %path.display(), ready = !waiting, "next song takes over");
        self.track = Some(next);
        self.board.update(|s| {
            s.song = Some(path);
            s.playing = true;
            s.opened += 1;
            s.last_error = None;
        });
        if let Some(error) = failed {
            self.fail(error);
        } else if waiting {
            self.watchdog.asked(crate::clock::monotonic_now());
        }
    }

    /// Where in this block the next song's first frame is due, once it is that close
    /// and decoded; a next song too late to catch up is sought to its frame instead.
    pub(super) fn next_due(&mut self) -> Result<Option<usize>, SinkError> {
        let Some(next) = self.next.as_ref() else {
            return Ok(None);
        };
        if !matches!(next.stage, Stage::Aligning { .. }) {
            return Ok(None);
        }
        let block = self.format.frames_to_duration(BLOCK_FRAMES as u64);
        let horizon = Duration::from_micros(self.board.shown.latency_us) + block * LOOK_BLOCKS;
        if next.target.at > crate::clock::monotonic_now() + horizon {
            return Ok(None);
        }
        let timing = self.timing()?;
        let Some(next) = self.next.as_mut() else {
            return Ok(None);
        };
        match next.align(&mut self.next_feed, &timing, self.format, BLOCK_FRAMES) {
            Align::Play { lead } => Ok(Some(lead)),
            Align::Silence(_) => Ok(None),
            Align::Seek(frame) => {
                self.next_feed.seek(frame);
                next.stage = Stage::Waiting;
                next.end = None;
                Ok(None)
            }
        }
    }

    /// Writes a block of the current song up to frame `lead` and the next song from
    /// there; the next song is the current one from then on.
    pub(super) fn hand_over(&mut self, lead: usize) -> Result<(), SinkError> {
        let channels = usize::from(self.format.channels.max(1));
        self.out.clear();
        if let Some(track) = self.track.as_mut().filter(|_| lead > 0) {
            // Whatever it holds up to the frame; cut there (a skip), or padded with
            // silence if its audio ended sooner.
            let _ = track.fill(&mut self.feed, &mut self.out, self.written, channels, lead);
        }
        self.out.resize(lead * channels, 0.0);
        if let Some(old) = self.track.take() {
            // The schedule names it until the instant: those asks are not a replay.
            self.finished = Some(Finished::ended(
                old.path,
                &old.target,
                crate::clock::monotonic_now(),
            ));
        }
        self.promote();
        self.write_song(lead)
    }
}
