//! Playback in the simulator: every box runs the core's playout machine ([`Playout`]) and
//! a [`SimPlayer`] (simulated DAC with its own crystal error, the real playout controller),
//! ticked every [`TICK`] of virtual time; the simulator compares the song frame each
//! box's DAC truly plays with the frame its host's schedule names at the same true
//! instant.
//!
//! The simulated boxes share the true clock, so what is checked is the party clock
//! estimated over the lossy network plus DAC steering: exactly what a listener hears.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audio::playout::PlayoutConfig;
use crate::audio::simdac::TimingNoise;
use crate::audio::simplayer::Stalls;
use crate::audio::simplayer::{SimPlayer, SimPlayerConfig};
use crate::core::{Instant, PlaybackView, Playout, SongRef};

/// How often each box's playout machine and player run (the product's period is 50 ms
/// for re-anchoring; the playback thread writes far more often).
pub const TICK: Duration = Duration::from_millis(10);
/// Device rate of every simulated box.
pub const RATE: u32 = 48_000;
const BLOCK: usize = 480;
const BUFFER: u64 = 960;
/// How far a simulated DAC crystal may be off, ppm (cheap boards: ±100).
const DAC_PPM: f64 = 100.0;
/// A move of a box's own song start within one tick larger than this is a step of its
/// clock estimate, not the few µs an exchange moves it by.
const STEP: f64 = 100e-6;
/// What a player steers a step out by at least, s/s (see [`Speaker::settled`]).
const NET_STEER: f64 = 200e-6;

/// What the playback check allows, beyond the clock error a box reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaybackCheck {
    /// After a start, skip, seek, late join, restart or host change nothing is checked for
    /// this long: the clock estimate converges and the controller learns the DAC's rate.
    /// After a step of a box's own clock estimate, this long once its player could have
    /// steered the step out (see `Speaker::settled`).
    pub settle: Duration,
    /// Steering and DAC allowance added to the reported clock error bound.
    pub allowance: Duration,
    /// How many times the reported error bound (a ~3σ figure) the check tolerates:
    /// millions of checks meet its tail.
    pub error_factor: f64,
}

impl Default for PlaybackCheck {
    fn default() -> Self {
        PlaybackCheck {
            settle: Duration::from_secs(5),
            allowance: Duration::from_micros(500),
            error_factor: 2.0,
        }
    }
}

/// The worst cases seen by the playback check, for the seed runner to report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlaybackStats {
    /// Box-instants checked.
    pub checks: u64,
    /// Largest |audible - scheduled|, µs.
    pub worst_error_us: f64,
    /// Largest |error| / bound.
    pub worst_ratio: f64,
    /// Largest spread between the checked boxes of one party at one instant, µs.
    pub worst_spread_us: f64,
    /// Largest clock error bound a checked box reported, µs.
    pub worst_reported_us: f64,
    /// Sum of |audible - scheduled| over every check, µs (for the mean).
    pub total_error_us: f64,
}

impl PlaybackStats {
    /// Both runs' worst cases.
    pub fn merge(self, o: PlaybackStats) -> PlaybackStats {
        PlaybackStats {
            checks: self.checks + o.checks,
            worst_error_us: self.worst_error_us.max(o.worst_error_us),
            worst_ratio: self.worst_ratio.max(o.worst_ratio),
            worst_spread_us: self.worst_spread_us.max(o.worst_spread_us),
            worst_reported_us: self.worst_reported_us.max(o.worst_reported_us),
            total_error_us: self.total_error_us + o.total_error_us,
        }
    }

    /// Mean |audible - scheduled| over every check, µs (0 without checks).
    pub fn mean_error_us(&self) -> f64 {
        if self.checks == 0 {
            0.0
        } else {
            self.total_error_us / self.checks as f64
        }
    }
}

/// What must stay the same for a box to be checked: its boot, party, host (and host's
/// boot), song and entry; a change restarts the settling time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub boot: u64,
    pub host: usize,
    pub host_boot: u64,
    pub party: crate::proto::PartyId,
    pub song: SongRef,
    pub index: Option<u32>,
    /// A partition hides the host: the box cannot learn of a skip until it heals.
    pub cut: bool,
}

/// One box's speaker: its playout machine, player and settling bookkeeping.
#[derive(Debug)]
pub(crate) struct Speaker {
    pub boot: u64,
    playout: Playout,
    player: SimPlayer,
    pub key: Option<Key>,
    /// When `key` last changed, or the host's schedule jumped.
    pub since: Instant,
    /// True instant the host's schedule puts the song's frame 0 at (moves on a seek).
    pub start: Option<f64>,
    /// The same through this box's own clock estimate (steps when it re-locks).
    own_start: Option<f64>,
}

impl Speaker {
    /// A new speaker for box `index` of the run `seed` (its DAC error comes from both).
    pub fn new(seed: u64, index: usize, boot: u64, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xdac0_0000 ^ (index as u64).rotate_left(32));
        let config = SimPlayerConfig {
            rate: RATE,
            block: BLOCK,
            buffer: BUFFER,
            dac_ppm: rng.gen_range(-DAC_PPM..DAC_PPM),
            playout: PlayoutConfig::default(),
            noise: TimingNoise::default(),
            stalls: Stalls::default(),
        };
        Speaker {
            boot,
            playout: Playout::default(),
            player: SimPlayer::new(config, now),
            key: None,
            since: now,
            start: None,
            own_start: None,
        }
    }

    /// One tick at true instant `now` (the boxes' clocks are the true clock).
    pub fn tick(
        &mut self,
        now: Instant,
        view: Option<&PlaybackView>,
        holds: impl Fn(&SongRef) -> bool,
    ) {
        let step = self.playout.update(now, view, holds);
        for command in step.commands {
            self.player.command(command);
        }
        self.player.tick(now, now);
    }

    /// The song and song second the DAC truly plays.
    pub fn audible(&self) -> Option<(SongRef, f64)> {
        self.player
            .audible()
            .map(|(song, frame)| (song, frame / f64::from(RATE)))
    }

    /// Notes `key`, the host's song start and the box's own at `now`; true once they held
    /// still for `settle`.
    pub fn settled(
        &mut self,
        now: Instant,
        key: Option<Key>,
        starts: (f64, Option<f64>),
        settle: Duration,
    ) -> bool {
        let (start, own) = starts;
        // A new host's clock is its estimate of the old one's: the start drifts by a few
        // µs per second, while a seek or pause moves it by far more.
        let jumped = self.start.is_none_or(|s| (s - start).abs() > 2e-3);
        if key != self.key || jumped {
            self.since = now;
        }
        // The box's clock estimate stepped (it locked onto a new host's timeline, or a
        // jittery link's estimate caught up): the player steers the step out at the
        // controller's 500 ppm at most, less the DAC's error (up to 100 ppm) and the
        // party clock's rate against this box (up to 200 ppm), so 200 ppm net; a step
        // of up to its 5 ms re-seek threshold takes up to 25 s, then settles as usual.
        let step = match (self.own_start, own) {
            (Some(a), Some(b)) => (a - b).abs(),
            _ => 0.0,
        };
        if step > STEP {
            let steering = Duration::from_secs_f64(step / NET_STEER);
            self.since = self.since.max(now + steering);
        }
        self.key = key;
        self.start = Some(start);
        self.own_start = own;
        now.saturating_duration_since(self.since) >= settle
    }

    /// Nothing to check at this instant: the next check settles afresh.
    pub fn unsettle(&mut self) {
        self.key = None;
        self.start = None;
        self.own_start = None;
    }
}
