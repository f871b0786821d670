//! A sink that fails: a device that went away is waited for and the song positioned
//! afresh when it is back, an underrun is left to the controller, and the error shown
//! while it lasts is cleared once the device has worked again for a moment.

use std::time::Duration;

use super::{Engine, BLOCK_FRAMES, DEVICE_BACK_AFTER};
use crate::audio::track::Stage;
use crate::audio::SinkError;

impl Engine {
    /// Handles a failed sink call; returns how long to wait before the next one.
    pub(super) fn sink_error(&mut self, e: SinkError) -> Duration {
        match e {
            SinkError::DeviceGone {
                ref device,
                retry_after,
                ref reason,
            } => {
                // The schedule goes on without us: when the device is back, the song is
                // positioned afresh where the schedule then is.
                if let Some(track) = self.track.as_mut() {
                    track.stage = Stage::Lost;
                }
                self.working_since = None;
                self.prime = usize::try_from(self.format.rate / 10).unwrap_or(BLOCK_FRAMES);
                self.device.reset();
                if self.device_error.is_none() {
                    let message = format!("audio device {device} unavailable ({reason}); retrying");
                    tracing::warn!(error = %message);
                    self.board.update(|s| s.last_error = Some(message.clone()));
                    self.device_error = Some(message);
                } else {
                    tracing::debug!(error = %e, "audio device still unavailable");
                }
                retry_after.max(Duration::from_millis(10))
            }
            // The position is lost: the controller sees it and re-seeks.
            SinkError::Underrun { .. } => {
                tracing::debug!(error = %e, "underrun");
                Duration::ZERO
            }
            other => {
                tracing::error!(error = %other, "audio output failed");
                self.board
                    .update(|s| s.last_error = Some(other.to_string()));
                Duration::from_millis(500)
            }
        }
    }

    /// The sink works again after it was unavailable: once that has lasted a moment (a
    /// device that only takes its first buffer is not back), clear the error we reported.
    pub(super) fn device_back(&mut self) {
        if self.device_error.is_none() {
            return;
        }
        let now = crate::clock::monotonic_now();
        let since = *self.working_since.get_or_insert(now);
        if now - since < DEVICE_BACK_AFTER {
            return;
        }
        let Some(message) = self.device_error.take() else {
            return;
        };
        self.working_since = None;
        tracing::info!("audio device available again");
        self.board.update(|s| {
            if s.last_error.as_ref() == Some(&message) {
                s.last_error = None;
            }
        });
    }
}
