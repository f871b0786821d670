//! The server-stall scenario: the sound server is frozen for a moment, again and again,
//! so that every box underruns at once and has to recover, as when the machine is
//! starved.

use std::process::Command;
use std::time::{Duration, Instant};

/// How long each stall lasts: longer than any box's buffer, so each one underruns.
pub const STALL: Duration = Duration::from_millis(150);
/// The first stall this long after play, the next ones this far apart.
pub const FIRST_AFTER: Duration = Duration::from_secs(10);
pub const EVERY: Duration = Duration::from_secs(12);

/// When the stalls of a run are due, and how many are left.
#[derive(Debug)]
pub struct Stalls {
    next: Instant,
    left: usize,
}

impl Stalls {
    pub fn new(count: usize, played: Instant) -> Stalls {
        Stalls {
            next: played + FIRST_AFTER,
            left: count,
        }
    }

    /// Seconds after play the last of `count` stalls begins.
    pub fn last_at_s(count: usize) -> f64 {
        let later = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
        (FIRST_AFTER + EVERY.saturating_mul(later)).as_secs_f64()
    }

    /// Freezes every `pipewire` process of process group `group` for [`STALL`] if a stall
    /// is due at `now`.
    pub fn poll(&mut self, now: Instant, group: u32) {
        if self.left == 0 || now < self.next {
            return;
        }
        self.left -= 1;
        self.next = now + EVERY;
        let group = group.to_string();
        let signal = |sig: &str| {
            let _ = Command::new("pkill")
                .args([sig, "-g", &group, "-x", "pipewire"])
                .status();
        };
        signal("-STOP");
        std::thread::sleep(STALL);
        signal("-CONT");
    }
}
