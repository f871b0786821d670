//! When to give up on an audio device and when to try it again: backoff between reopen
//! attempts and the detection of a device that only pretends to play.
//!
//! Pure (the caller passes the time), so the ALSA sink's recovery is tested without a
//! device that can be unplugged on demand.

use std::collections::VecDeque;
use std::time::Duration;

use crate::core::Instant;

/// First wait before reopening a vanished device; doubles per failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between reopen attempts: a returning device is heard within this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// This many underruns within [`STORM_WINDOW`] mean nobody consumes the audio (a sound
/// server that died reports an underrun on every write, and re-preparing "succeeds").
const STORM_UNDERRUNS: usize = 5;
const STORM_WINDOW: Duration = Duration::from_secs(1);
/// A device lost again this soon after it came back was never really back (a server
/// that accepts the stream but does not play it): no new log line, no backoff reset.
const PROBATION: Duration = Duration::from_secs(5);

/// The loss-and-reopen state of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Wait before the next attempt after the next failure.
    backoff: Duration,
    /// Set while the device is lost: not before this instant is it tried again.
    next_attempt: Option<Instant>,
    /// Recent underruns, oldest first, none older than [`STORM_WINDOW`].
    underruns: VecDeque<Instant>,
    /// When the device last came back after a loss.
    back_at: Option<Instant>,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            backoff: FIRST_BACKOFF,
            next_attempt: None,
            underruns: VecDeque::new(),
            back_at: None,
        }
    }
}

impl Recovery {
    /// Whether the device is lost (closed, waiting to be reopened).
    pub fn is_lost(&self) -> bool {
        self.next_attempt.is_some()
    }

    /// The open device failed at `now`. Returns the wait before the next reopen attempt
    /// and whether the loss is news (log it then, not on every failed attempt).
    pub fn lost(&mut self, now: Instant) -> (Duration, bool) {
        let relapse = self.back_at.is_some_and(|b| now - b < PROBATION);
        let news = !self.is_lost() && !relapse;
        if news {
            self.backoff = FIRST_BACKOFF;
        } else if relapse && !self.is_lost() {
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
        self.underruns.clear();
        self.next_attempt = Some(now + self.backoff);
        (self.backoff, news)
    }

    /// May the device be reopened at `now`? Otherwise how long is left to wait.
    pub fn may_open(&self, now: Instant) -> Result<(), Duration> {
        match self.next_attempt {
            Some(at) if at > now => Err(at - now),
            _ => Ok(()),
        }
    }

    /// A reopen attempt at `now` failed: wait twice as long before the next, up to
    /// [`MAX_BACKOFF`]. Returns that wait.
    pub fn open_failed(&mut self, now: Instant) -> Duration {
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.next_attempt = Some(now + self.backoff);
        self.backoff
    }

    /// The device is open (again) at `now`. Returns true if it had been lost: it is back.
    /// The backoff is kept until the device has stayed for [`PROBATION`].
    pub fn opened(&mut self, now: Instant) -> bool {
        let back = self.is_lost();
        if back {
            self.back_at = Some(now);
        }
        self.next_attempt = None;
        self.underruns.clear();
        back
    }

    /// An underrun was recovered at `now`. True when they come so fast that the device
    /// must be treated as lost.
    pub fn underrun(&mut self, now: Instant) -> bool {
        while self
            .underruns
            .front()
            .is_some_and(|&t| now - t >= STORM_WINDOW)
        {
            self.underruns.pop_front();
        }
        self.underruns.push_back(now);
        self.underruns.len() >= STORM_UNDERRUNS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn reopen_attempts_back_off_from_half_a_second_to_five() {
        let mut r = Recovery::default();
        assert_eq!(r.may_open(ms(0)), Ok(()));
        assert_eq!(r.lost(ms(1_000)), (FIRST_BACKOFF, true));
        assert_eq!(r.may_open(ms(1_200)), Err(Duration::from_millis(300)));
        assert_eq!(r.may_open(ms(1_500)), Ok(()));
        let waits: Vec<_> = (0..6).map(|_| r.open_failed(ms(2_000))).collect();
        let secs: Vec<f64> = waits.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, vec![1.0, 2.0, 4.0, 5.0, 5.0, 5.0]);
        assert_eq!(r.may_open(ms(6_999)), Err(Duration::from_millis(1)));
    }

    #[test]
    fn a_loss_is_news_once_and_a_lasting_return_resets_the_backoff() {
        let mut r = Recovery::default();
        assert!(!r.opened(ms(0)), "a first open is not a return");
        assert!(r.lost(ms(0)).1);
        r.open_failed(ms(500));
        // A device lost again while it was still being reopened is no news.
        assert!(!r.lost(ms(600)).1);
        assert!(r.opened(ms(1_100)));
        assert!(!r.is_lost());
        assert_eq!(r.may_open(ms(1_100)), Ok(()));
        // Gone again a second later: the same outage, backing off further.
        assert_eq!(r.lost(ms(2_100)), (Duration::from_secs(2), false));
        assert!(r.opened(ms(4_100)));
        // Gone after playing for a good while: a new outage, from the first backoff.
        assert_eq!(r.lost(ms(20_000)), (FIRST_BACKOFF, true));
    }

    #[test]
    fn occasional_underruns_are_recovered_but_a_storm_loses_the_device() {
        let mut r = Recovery::default();
        // One a second, for a while: a weak writer, not a dead device.
        assert!((0..10).all(|s| !r.underrun(ms(s * 1_000))));
        let mut r = Recovery::default();
        let storm: Vec<bool> = (0..5).map(|i| r.underrun(ms(100 + i * 10))).collect();
        assert_eq!(storm, vec![false, false, false, false, true]);
        // Losing the device forgets the storm.
        r.lost(ms(200));
        assert!(!r.underrun(ms(210)));
    }
}
