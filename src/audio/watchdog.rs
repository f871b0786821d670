//! The decoding thread's watchdog: a song whose open or seek is not answered in time is
//! given up with a message, and a new decoding thread takes over from the stuck one.
//!
//! symphonia runs untrusted bytes, and a file can block a read for ever (a named pipe, a
//! network share that went away). The playback thread never waits on the decoder, so it
//! sees this only as an answer that does not come.

use std::time::Duration;

use super::feed::Feed;
use super::SinkFormat;
use crate::core::Instant;

/// How long an open or a seek may take: far beyond a slow SD card's worst.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// When the decoding thread was last asked something still unanswered.
#[derive(Debug, Default)]
pub(super) struct Watchdog {
    asked_at: Option<Instant>,
}

impl Watchdog {
    /// The decoding thread was asked to open or seek at `now`.
    pub(super) fn asked(&mut self, now: Instant) {
        self.asked_at = Some(now);
    }

    /// The decoding thread answered the current ask.
    pub(super) fn answered(&mut self) {
        self.asked_at = None;
    }

    /// Whether the current ask has gone unanswered for too long at `now`.
    pub(super) fn expired(&self, now: Instant) -> bool {
        self.asked_at
            .is_some_and(|at| now.saturating_duration_since(at) > ANSWER_WITHIN)
    }

    /// Replaces the stuck decoding thread of `feed` with a new one (the stuck one is left
    /// to finish on its own; waiting for it could take for ever). Returns the message
    /// for the song that was waiting.
    pub(super) fn replace(&mut self, feed: &mut Feed, format: SinkFormat) -> String {
        self.asked_at = None;
        match Feed::spawn(format.rate, format.channels) {
            Ok(fresh) => std::mem::replace(feed, fresh).abandon(),
            Err(e) => tracing::warn!(error = %e, "cannot start a new decoding thread"),
        }
        format!(
            "the decoder did not answer within {} s; song skipped",
            ANSWER_WITHIN.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ask_expires_only_unanswered_and_after_the_limit() {
        let t0 = Instant::from_nanos(1_000_000_000);
        let mut dog = Watchdog::default();
        assert!(!dog.expired(t0 + Duration::from_secs(60)), "nothing asked");
        dog.asked(t0);
        assert!(!dog.expired(t0 + ANSWER_WITHIN));
        assert!(dog.expired(t0 + ANSWER_WITHIN + Duration::from_millis(1)));
        dog.answered();
        assert!(!dog.expired(t0 + Duration::from_secs(60)));
    }
}
