//! The song on the playback thread: lining its first frame up with the schedule and
//! filling output blocks from the decoding thread's ring, without allocating.

use std::path::PathBuf;

use super::decode::SongInfo;
use super::feed::{Fed, Feed};
use super::orders::LocalTarget;
use super::playout::{PlayoutTarget, PositionMap};
use super::resample::Resampler;
use super::{SinkFormat, SinkTiming};

/// Song frames behind the schedule that are caught up by dropping decoded frames; beyond
/// this the decoder is asked to seek instead.
const MAX_CATCH_UP_SECONDS: f64 = 0.5;

/// The song as the decoding thread opened it.
#[derive(Debug)]
pub(super) struct Song {
    pub info: SongInfo,
    pub resampler: Box<Resampler>,
}

/// Where the track stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stage {
    /// Waiting for the decoding thread to open or seek.
    Waiting,
    /// The ring holds the song from frame `landed` on, after `boundary` samples (ever
    /// pushed) of an older generation.
    Aligning {
        landed: u64,
        boundary: u64,
    },
    Playing,
    /// The controller asked for a re-seek: one more block of the song, faded out, then
    /// a seek ([`Stage::Lost`]); the song comes back faded in.
    FadingOut,
    /// The position is lost (the device was gone, the ring ran dry): seek afresh.
    Lost,
}

/// What lining up asks the playback thread to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Align {
    /// Write this many output frames of silence, then ask again.
    Silence(usize),
    /// Play: `lead` output frames of silence, then the frame due.
    Play { lead: usize },
    /// Too far behind to catch up: seek the decoder to this song frame.
    Seek(u64),
}

/// How filling a block ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Filled {
    /// The block is full.
    Block,
    /// The song ended within the block.
    Ended,
    /// The ring ran dry before the song's end: the decoder fell behind.
    Starved,
    /// Resampling failed.
    Failed(String),
}

/// What a piece of the decoding thread's news means for the track.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Heard {
    Nothing,
    /// The open or seek asked for was answered.
    Answered,
    /// The song cannot be played at all.
    Failed(String),
}

/// A song being played.
#[derive(Debug)]
pub(super) struct Track {
    pub path: PathBuf,
    pub target: LocalTarget,
    pub map: PositionMap,
    /// The feed generation of the open (its `Opened` news carries the song).
    pub opened_as: u64,
    pub song: Option<Song>,
    pub stage: Stage,
    /// Samples ever pushed when the current generation ends.
    pub end: Option<u64>,
    /// Frames of a re-seeked song faded in so far, while it fades in (a click otherwise).
    pub fade_in: Option<usize>,
    /// The last block found the ring dry: once is the decoder's news of the song's end
    /// still on its way, twice in a row is a decoder that fell behind.
    pub starved: bool,
    /// Why the song cannot be decoded past `end`, when it broke part-way.
    pub broken: Option<String>,
}

impl Track {
    pub(super) fn new(path: PathBuf, target: LocalTarget, opened_as: u64) -> Self {
        Track {
            path,
            target,
            map: PositionMap::new(64),
            opened_as,
            song: None,
            stage: Stage::Waiting,
            end: None,
            fade_in: None,
            starved: false,
            broken: None,
        }
    }

    /// Takes the decoding thread's news of this track; `current` is the feed's latest
    /// generation (news of older asks are stale).
    pub(super) fn hear(&mut self, news: Fed, current: u64) -> Heard {
        match news {
            Fed::Opened {
                generation,
                info,
                resampler,
            } if generation == self.opened_as => {
                self.song = Some(Song { info, resampler });
                Heard::Nothing
            }
            Fed::Ready {
                generation,
                landed,
                boundary,
            } if generation == current => {
                self.stage = Stage::Aligning { landed, boundary };
                self.end = None;
                Heard::Answered
            }
            Fed::End { generation, total } if generation == current => {
                self.end = Some(total);
                Heard::Nothing
            }
            // Decoded audio plays out: every box decodes the same bytes and so stops at
            // the same frame, instead of when its own read-ahead hit the damage.
            Fed::Failed {
                generation,
                error,
                total: Some(total),
            } if generation == current => {
                self.end = Some(total);
                self.broken = Some(error);
                Heard::Nothing
            }
            Fed::Failed {
                generation, error, ..
            } if generation == current => Heard::Failed(error),
            _ => Heard::Nothing,
        }
    }

    /// The schedule in the song's frames, once the song is open.
    pub(super) fn frames_target(&self) -> Option<PlayoutTarget> {
        let rate = self.song.as_ref()?.info.rate;
        Some(to_frames(self.target, rate))
    }

    /// The song frame to feed the resampler so that the next output frame written, audible
    /// per `timing`, carries the frame due (the resampler's filter delays its output).
    pub(super) fn due_feed(&self, timing: &SinkTiming, format: SinkFormat) -> Option<f64> {
        let song = self.song.as_ref()?;
        let audible = timing.at + format.frames_to_duration(timing.delay);
        let target = to_frames(self.target, song.info.rate);
        Some(target.frame_at(audible) + song.resampler.latency())
    }

    /// One step of lining the ring's first frame up with the schedule: drop what older
    /// generations left in the ring, then wait with silence while the landed frame is
    /// early, or drop decoded frames while it is late.
    pub(super) fn align(
        &mut self,
        feed: &mut Feed,
        timing: &SinkTiming,
        format: SinkFormat,
        block: usize,
    ) -> Align {
        let channels = usize::from(format.channels);
        let Stage::Aligning { landed, boundary } = self.stage else {
            return Align::Silence(block);
        };
        let stale = boundary.saturating_sub(feed.popped());
        if stale > 0 && feed.discard(stale) < stale {
            return Align::Silence(block);
        }
        let (Some(due), Some(song)) = (self.due_feed(timing, format), self.song.as_mut()) else {
            return Align::Silence(block);
        };
        let song_rate = f64::from(song.info.rate.max(1));
        let early = landed as f64 - due;
        let wait = early / song_rate * f64::from(format.rate);
        if wait >= block as f64 {
            return Align::Silence(block);
        }
        // Less than a block early: the first block starts with that much silence, so
        // every write stays a whole block (a sound server's plugin reports the delay of
        // partial periods unevenly).
        let lead = wait.round().max(0.0) as usize;
        let late = (-early - 0.5).ceil().max(0.0);
        if late > MAX_CATCH_UP_SECONDS * song_rate {
            return Align::Seek(due.max(0.0) as u64);
        }
        let mut landed = landed;
        if late >= 1.0 {
            let channels = channels.max(1) as u64;
            let dropped = feed.discard(late as u64 * channels) / channels;
            landed += dropped;
            if dropped < late as u64 {
                // The decoder is still catching up: let time pass, then look again.
                self.stage = Stage::Aligning { landed, boundary };
                return Align::Silence(block);
            }
        }
        if song.resampler.reset(landed as f64).is_err() {
            return Align::Seek(due.max(0.0) as u64);
        }
        self.map.clear();
        self.stage = Stage::Playing;
        Align::Play { lead }
    }

    /// Resamples from the ring into `out` (after what it holds) until it holds `block` frames, recording which
    /// song frame each written frame carries (output frames numbered from `written`).
    pub(super) fn fill(
        &mut self,
        feed: &mut Feed,
        out: &mut Vec<f32>,
        written: u64,
        channels: usize,
        block: usize,
    ) -> Filled {
        let Some(song) = self.song.as_mut() else {
            return Filled::Starved;
        };
        let channels = channels.max(1);
        while out.len() < block * channels {
            let got = feed.read(block * channels, |s| song.resampler.push(s));
            if got == 0 && self.end.is_some_and(|total| feed.popped() >= total) {
                // Less than a resampler chunk may be queued: the song's last frames, which
                // only a flush brings out (waiting for more would be silence instead).
                let _ = song.resampler.flush(out);
                return Filled::Ended;
            }
            if got == 0 && song.resampler.pending_frames() == 0 {
                return Filled::Starved;
            }
            let before = song.resampler.song_position();
            let start = written + (out.len() / channels) as u64;
            match song.resampler.pull(out) {
                Ok(n) if n > 0 => self.map.record(start, before),
                Ok(_) if got == 0 => return Filled::Starved,
                Ok(_) => {}
                Err(e) => return Filled::Failed(e.to_string()),
            }
        }
        Filled::Block
    }
}

/// The schedule in song frames of a song at `song_rate`.
pub(super) fn to_frames(t: LocalTarget, song_rate: u32) -> PlayoutTarget {
    PlayoutTarget {
        song_frame: t.song_seconds * f64::from(song_rate),
        at: t.at,
        song_rate,
        pace: t.pace,
    }
}

/// Frames a re-seek fades out and back in over: 5 ms at 48 kHz.
pub(super) const FADE_FRAMES: usize = 240;

/// Ramps the gain of interleaved `samples` linearly from `from` to `to` across the block,
/// so that a jump in the song (a re-seek) is a short fade rather than a click.
pub(super) fn ramp(samples: &mut [f32], channels: usize, from: f32, to: f32) {
    let frames = samples.len() / channels.max(1);
    if frames == 0 {
        return;
    }
    let step = (to - from) / frames as f32;
    for (i, frame) in samples.chunks_exact_mut(channels.max(1)).enumerate() {
        let g = from + step * (i as f32 + 1.0);
        for s in frame {
            *s *= g;
        }
    }
}

/// Continues a fade-in of [`FADE_FRAMES`] that has done `done` frames over the frames of
/// `samples`; returns the frames done, or `None` once it is complete.
pub(super) fn fade_in(samples: &mut [f32], channels: usize, done: usize) -> Option<usize> {
    let channels = channels.max(1);
    let n = (samples.len() / channels).min(FADE_FRAMES.saturating_sub(done));
    let from = done as f32 / FADE_FRAMES as f32;
    let to = (done + n) as f32 / FADE_FRAMES as f32;
    ramp(&mut samples[..n * channels], channels, from, to);
    let done = done + n;
    (done < FADE_FRAMES).then_some(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_fades_every_channel_alike_and_ends_where_asked() {
        let mut block = vec![1.0f32; 8];
        ramp(&mut block, 2, 1.0, 0.0);
        assert_eq!(block, [0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0]);
        let mut block = vec![1.0f32; 4];
        ramp(&mut block, 2, 0.0, 1.0);
        assert_eq!(block, [0.5, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn a_fade_in_spans_blocks_of_any_length() {
        let mut gains = Vec::new();
        let mut done = Some(0);
        for len in [7, 100, 200] {
            let mut block = vec![1.0f32; len];
            if let Some(d) = done {
                done = fade_in(&mut block, 1, d);
            }
            gains.extend(block);
        }
        assert_eq!(done, None);
        assert_eq!(gains.len(), 307);
        assert!(gains.windows(2).all(|w| w[1] >= w[0]), "rises steadily");
        assert!((gains[0] - 1.0 / FADE_FRAMES as f32).abs() < 1e-6);
        assert_eq!(gains[FADE_FRAMES - 1], 1.0);
        assert!(gains[FADE_FRAMES..].iter().all(|&g| g == 1.0));
    }
}
