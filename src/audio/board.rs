//! The playback thread's status board: its own copy of [`PlayerStatus`], published to
//! the shared one without ever waiting for the lock.

use std::sync::{Arc, Mutex, TryLockError};

use super::orders::PlayerStatus;

/// The status the thread shows: its own copy, published to the shared one without ever
/// waiting for the lock (a reader holding it only delays the publication to the next
/// block). Strings are copied only when they changed, so a block allocates nothing.
#[derive(Debug)]
pub(super) struct Board {
    pub(super) shared: Arc<Mutex<PlayerStatus>>,
    pub(super) shown: PlayerStatus,
    pub(super) strings_changed: bool,
}

impl Board {
    pub(super) fn update(&mut self, f: impl FnOnce(&mut PlayerStatus)) {
        // Updates come with events (a song opens, stops or fails), never per block.
        f(&mut self.shown);
        self.strings_changed = true;
        self.publish();
    }

    pub(super) fn publish(&mut self) {
        let mut s = match self.shared.try_lock() {
            Ok(s) => s,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let shown = &self.shown;
        s.playing = shown.playing;
        s.position_ms = shown.position_ms;
        s.playout_error_us = shown.playout_error_us;
        s.steering_ppm = shown.steering_ppm;
        s.reseeks = shown.reseeks;
        s.decoder_late = shown.decoder_late;
        s.opened = shown.opened;
        s.realtime = shown.realtime;
        s.latency_us = shown.latency_us;
        s.position_jitter_us = shown.position_jitter_us;
        s.device_rate_ppm = shown.device_rate_ppm;
        if self.strings_changed {
            s.song.clone_from(&shown.song);
            s.last_error.clone_from(&shown.last_error);
            self.strings_changed = false;
        }
    }
}
