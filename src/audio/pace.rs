//! A DAC model on the real monotonic clock: a fixed-size buffer drained at the nominal
//! rate, so file and null sinks block and report timing the way a sound card would.

use std::time::Duration;

use super::{SinkError, SinkFormat, SinkTiming};
use crate::clock::monotonic_now;
use crate::core::Instant;

/// Frames pass through a buffer of `capacity` frames that empties at `rate` frames/s.
///
/// The drain is anchored: at `anchor`, `base` of the written frames had been played. An
/// empty buffer stops the drain (the DAC plays silence that is not counted); the next
/// write re-anchors and reports how long that silence lasted.
#[derive(Debug)]
pub(crate) struct Pacer {
    format: SinkFormat,
    capacity: u64,
    written: u64,
    base: u64,
    anchor: Option<Instant>,
    paused_at: Option<Instant>,
    first_frame: Option<Instant>,
    underruns: u64,
}

impl Pacer {
    pub(crate) fn new(format: SinkFormat, buffer: Duration) -> Self {
        let capacity = (buffer.as_secs_f64() * f64::from(format.rate))
            .round()
            .max(1.0) as u64;
        Pacer {
            format,
            capacity,
            written: 0,
            base: 0,
            anchor: None,
            paused_at: None,
            first_frame: None,
            underruns: 0,
        }
    }

    /// When the first frame started playing.
    pub(crate) fn first_frame(&self) -> Option<Instant> {
        self.first_frame
    }

    pub(crate) fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Frames the drain would have played by `now` if the buffer never ran dry.
    fn drained_unbounded(&self, now: Instant) -> u64 {
        match (self.anchor, self.paused_at) {
            (None, _) => self.base,
            (Some(anchor), paused) => {
                let until = paused.unwrap_or(now);
                let ns = u128::from(until.saturating_duration_since(anchor).as_nanos() as u64);
                let frames = ns * u128::from(self.format.rate) / 1_000_000_000;
                self.base + u64::try_from(frames).unwrap_or(u64::MAX / 2)
            }
        }
    }

    fn played(&self, now: Instant) -> u64 {
        self.drained_unbounded(now).min(self.written)
    }

    /// Instant at which `played` reaches `frames` (only meaningful while running).
    fn instant_of(&self, frames: u64) -> Instant {
        let anchor = self.anchor.unwrap_or(Instant::ZERO);
        let ahead = frames.saturating_sub(self.base);
        let ns = u128::from(ahead) * 1_000_000_000 / u128::from(self.format.rate.max(1));
        anchor + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Accept `frames` frames, sleeping while the buffer is full. Returns the frames of
    /// silence the DAC played before them because the buffer had run dry.
    pub(crate) fn admit(&mut self, frames: u64) -> Result<u64, SinkError> {
        let now = monotonic_now();
        let mut gap = 0;
        if self.anchor.is_none() {
            self.anchor = Some(now);
            self.base = self.written;
            self.first_frame = Some(now);
        } else if self.paused_at.is_none() {
            let drained = self.drained_unbounded(now);
            if drained > self.written {
                // Underrun: the DAC has been playing silence since the buffer emptied.
                gap = drained - self.written;
                self.underruns += 1;
                self.anchor = Some(now);
                self.base = self.written;
            }
        }
        let mut remaining = frames;
        while remaining > 0 {
            let now = monotonic_now();
            let queued = self.written - self.played(now);
            let room = self.capacity.saturating_sub(queued);
            if room > 0 {
                let take = room.min(remaining);
                self.written += take;
                remaining -= take;
                continue;
            }
            if self.paused_at.is_some() {
                return Err(SinkError::Paused);
            }
            // Wait until a quarter of the buffer (or what we still need) has drained.
            let need = remaining.min(self.capacity.div_ceil(4)).max(1);
            let wake = self.instant_of(self.played(now) + need);
            std::thread::sleep(wake.saturating_duration_since(now));
        }
        Ok(gap)
    }

    pub(crate) fn timing(&self) -> SinkTiming {
        let now = monotonic_now();
        let played = self.played(now);
        // While it drains, the delay is stated at the instant the last whole frame was
        // played, as a DMA's interpolated timestamp would: paired with `now`, whole
        // frames would read half a frame late on average.
        let draining = self.anchor.is_some()
            && self.paused_at.is_none()
            && self.drained_unbounded(now) <= self.written;
        SinkTiming {
            written: self.written,
            delay: self.written - played,
            at: if draining {
                self.instant_of(played).min(now)
            } else {
                now
            },
        }
    }

    pub(crate) fn pause(&mut self) {
        if self.paused_at.is_none() && self.anchor.is_some() {
            self.paused_at = Some(monotonic_now());
        }
    }

    /// Resume the drain; returns the frames of silence the pause lasted.
    pub(crate) fn resume(&mut self) -> u64 {
        let Some(paused_at) = self.paused_at else {
            return 0;
        };
        let now = monotonic_now();
        let played = self.played(paused_at);
        self.paused_at = None;
        self.anchor = Some(now);
        self.base = played;
        let ns = u128::from(now.saturating_duration_since(paused_at).as_nanos() as u64);
        u64::try_from(ns * u128::from(self.format.rate) / 1_000_000_000).unwrap_or(0)
    }

    /// Sleep until every written frame has been played.
    pub(crate) fn drain(&mut self) -> Result<(), SinkError> {
        if self.paused_at.is_some() && self.written > self.played(monotonic_now()) {
            return Err(SinkError::Paused);
        }
        let done = self.instant_of(self.written);
        let now = monotonic_now();
        if self.anchor.is_some() && self.written > self.played(now) {
            std::thread::sleep(done.saturating_duration_since(now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_blocks_like_a_dac_and_reports_delay() {
        let format = SinkFormat {
            rate: 48_000,
            channels: 2,
        };
        let mut pacer = Pacer::new(format, Duration::from_millis(20));
        let start = std::time::Instant::now();
        // 120 ms of audio through a 20 ms buffer must take at least ~100 ms.
        for _ in 0..12 {
            assert_eq!(pacer.admit(480).ok(), Some(0));
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(95), "{elapsed:?}");
        let timing = pacer.timing();
        assert_eq!(timing.written, 5_760);
        assert!(timing.delay <= 960, "{timing:?}");
        pacer.drain().ok();
        assert_eq!(pacer.timing().delay, 0);
        // The buffer ran dry: the next write reports the silence that was played.
        std::thread::sleep(Duration::from_millis(30));
        let gap = pacer.admit(480).unwrap_or(0);
        assert!(gap >= 48 * 25, "gap {gap}");
        assert_eq!(pacer.underruns(), 1);
    }
}
