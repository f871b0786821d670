//! `chorus bench sync`: how closely N boxes play the same song frame at the same true
//! instant, in a deterministic simulation (seeded RNG, virtual time, no sleeping).
//!
//! Every box has a crystal with a random offset (±1 h) and rate (±100 ppm) and a DAC with
//! an independent rate error (±100 ppm). Members run [`ClockEstimator`] against box 0
//! (the host) over a simulated network. Every 10 ms each box runs the product's playout
//! machine ([`crate::core::Playout`]) on the party schedule at its estimated party time,
//! and a [`crate::audio::simplayer::SimPlayer`] executes its commands (simulated DAC +
//! [`crate::audio::playout`] controller + an exact model of the steered resampler). The
//! SNR of the correction runs the real rubato resampler with one member's steering.
//!
//! [`ClockEstimator`]: crate::core::ClockEstimator

mod net;
mod report;
mod rig;
mod snr;
mod speaker;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use net::NetProfile;
pub use report::{Percentiles, ProfileReport, SyncReport};
pub use rig::Rig;

use crate::audio::playout::PlayoutConfig;
use crate::audio::simplayer::SimPlayerConfig;
use std::time::Duration;

use crate::core::schedule::{lead_time, REPORT_EVERY, SETTLED_ERROR_US, SETTLE_WAIT};
use crate::core::{Action, ClockConfig, Entry, PartyTime, PoolSong, Schedule, SongRef};
use speaker::{Crystal, Speaker, RATE};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncBenchConfig {
    /// Boxes, the host included (at least 2).
    pub boxes: usize,
    /// Virtual seconds per profile; the second half is reported as "settled" too.
    pub seconds: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Network profiles, each run separately.
    pub profiles: Vec<NetProfile>,
    /// The host is asked to play this long (s) after the boxes power up; the song then
    /// starts as the product starts a party's first song (see `StartGate`).
    pub start_after: f64,
    /// Seconds of a member's steering (from its start) replayed through rubato for SNR.
    pub snr_seconds: f64,
    /// Controller tuning of every box.
    pub playout: PlayoutConfig,
    /// Estimator tuning of every member.
    pub clock: ClockConfig,
    /// What the boxes are built from.
    pub rig: Rig,
}

impl Default for SyncBenchConfig {
    fn default() -> Self {
        SyncBenchConfig {
            boxes: 8,
            seconds: 120.0,
            seed: 1,
            profiles: vec![NetProfile::lan(), NetProfile::wifi()],
            start_after: 0.5,
            snr_seconds: 20.0,
            // The tuning every box ships with: the benchmark measures the product.
            playout: PlayoutConfig::default(),
            clock: ClockConfig::default(),
            rig: Rig::boxes(),
        }
    }
}

/// Simulation step: the playout loop writes and steers every 10 ms, like a real one.
const TICK_NS: f64 = 10e6;
/// "Locked": every box plays within this of every other (true time).
const LOCK_SPREAD: f64 = 1e-3;
const HOUR_NS: f64 = 3_600e9;

/// Run every profile of `config`.
pub fn run(config: &SyncBenchConfig) -> SyncReport {
    let profiles = config
        .profiles
        .iter()
        .enumerate()
        .map(|(i, p)| run_profile(config, p, config.seed.wrapping_add(i as u64 * 7_919)))
        .collect();
    SyncReport {
        boxes: config.boxes.max(2),
        seconds: config.seconds,
        seed: config.seed,
        rig: config.rig.clone(),
        profiles,
    }
}

/// What one profile's loop collects.
#[derive(Default)]
struct Samples {
    /// Per tick after every box started: (true seconds, spread of playout errors in s).
    spread: Vec<(f64, f64)>,
    /// Per member and tick after lock: |estimated - true| party time, s.
    clock_error: Vec<f64>,
    /// Of those, how many the estimator's own bound covered.
    covered: usize,
    /// Last tick (true s) some box was not playing or the spread exceeded the lock bound.
    last_unlocked: f64,
    /// Spread of each box's mean error over 0.5 s windows, what `bench playout`
    /// measures: (window start s, spread s).
    windows: Vec<(f64, f64)>,
}

/// Windows of `bench playout`'s cross-correlation, seconds.
const WINDOW_S: f64 = 0.5;

/// Sums each box's error over the current window.
#[derive(Default)]
struct Window {
    index: u64,
    sums: Vec<f64>,
    ticks: u32,
    complete: bool,
}

impl Window {
    /// Adds a tick's errors (`None`: some box silent); returns a finished window's
    /// (start s, spread s).
    fn add(&mut self, secs: f64, errors: Option<&[f64]>) -> Option<(f64, f64)> {
        let index = (secs / WINDOW_S).floor() as u64;
        let mut done = None;
        if index != self.index {
            if self.complete && self.ticks > 0 {
                let means = self.sums.iter().map(|s| s / f64::from(self.ticks));
                let hi = means.clone().fold(f64::NEG_INFINITY, f64::max);
                let lo = means.fold(f64::INFINITY, f64::min);
                done = Some((self.index as f64 * WINDOW_S, hi - lo));
            }
            *self = Window {
                index,
                complete: true,
                ..Window::default()
            };
        }
        match errors {
            Some(e) if self.sums.is_empty() || self.sums.len() == e.len() => {
                self.sums.resize(e.len(), 0.0);
                self.sums.iter_mut().zip(e).for_each(|(s, x)| *s += x);
                self.ticks += 1;
            }
            _ => self.complete = false,
        }
        done
    }
}

fn run_profile(config: &SyncBenchConfig, profile: &NetProfile, seed: u64) -> ProfileReport {
    let mut speakers = build(config, profile, seed);
    let host = speakers.first().map(|s| s.crystal).unwrap_or(Crystal {
        base: 0.0,
        ppm: 0.0,
    });
    let mut gate = StartGate::new(config, &host);
    let ticks = (config.seconds * 1e9 / TICK_NS).ceil() as u64;
    let mut samples = Samples::default();
    let mut clock_errors: Vec<(f64, f64, f64)> = Vec::new();
    let mut window = Window::default();
    for tick in 0..=ticks {
        let t = tick as f64 * TICK_NS;
        for s in speakers.iter_mut() {
            s.sync_step(t, &host);
        }
        let Some((schedule, t0)) = gate.poll(t, &speakers) else {
            continue;
        };
        for s in speakers.iter_mut() {
            s.play_step(t, schedule);
        }
        let ideal = (host.at(t) - t0) * f64::from(RATE) * 1e-9;
        let errors: Option<Vec<f64>> = speakers
            .iter()
            .map(|s| {
                s.audible_song_frame()
                    .map(|f| (f - ideal) / f64::from(RATE))
            })
            .collect();
        let secs = t * 1e-9;
        if let Some(w) = window.add(secs, errors.as_deref()) {
            samples.windows.push(w);
        }
        let spread = errors.map(|e| {
            let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
            hi - lo
        });
        match spread {
            Some(s) if s <= LOCK_SPREAD => samples.spread.push((secs, s)),
            Some(s) => {
                samples.spread.push((secs, s));
                samples.last_unlocked = secs;
            }
            None => samples.last_unlocked = secs,
        }
        for s in speakers.iter().skip(1) {
            if let (Some(est), Some(bound)) = (s.party_estimate(t), s.error_bound(t)) {
                clock_errors.push((secs, (est - host.at(t)).abs(), bound));
            }
        }
    }
    let lock = samples.last_unlocked + TICK_NS * 1e-9;
    for &(_, err, bound) in clock_errors.iter().filter(|c| c.0 >= lock) {
        samples.clock_error.push(err * 1e-9);
        samples.covered += usize::from(err <= bound);
    }
    let start = gate.first_sample_s();
    report::summarize(
        config,
        profile,
        &speakers,
        &samples,
        (start, lock),
        TICK_NS * 1e-9,
    )
}

/// When the party's first song starts: the host is asked to play at `start_after`, then
/// holds the song, as the product does, until every member reports a settled clock
/// ([`SETTLED_ERROR_US`], reported every [`REPORT_EVERY`]) or [`SETTLE_WAIT`] has passed,
/// and schedules it a lead time ahead ([`lead_time`]).
struct StartGate {
    host: Crystal,
    asked_at: f64,
    output_latency: Duration,
    next_report: f64,
    /// The schedule and its first sample's party time (ns).
    started: Option<(Schedule, f64)>,
}

impl StartGate {
    fn new(config: &SyncBenchConfig, host: &Crystal) -> Self {
        StartGate {
            host: *host,
            asked_at: config.start_after * 1e9,
            output_latency: Duration::from_secs_f64(config.rig.buffer as f64 / f64::from(RATE)),
            next_report: 0.0,
            started: None,
        }
    }

    /// The schedule once the song is scheduled, at true time `t` (ns).
    fn poll(&mut self, t: f64, speakers: &[Speaker]) -> Option<(&Schedule, f64)> {
        if self.started.is_none() && t >= self.asked_at && t >= self.next_report {
            self.next_report = t + REPORT_EVERY.as_secs_f64() * 1e9;
            let settled = speakers
                .iter()
                .skip(1)
                .all(|s| s.reported_error_us() <= SETTLED_ERROR_US);
            let waited = t - self.asked_at >= SETTLE_WAIT.as_secs_f64() * 1e9;
            if settled || waited {
                let worst = speakers
                    .iter()
                    .filter_map(Speaker::round_trip)
                    .max()
                    .unwrap_or_default();
                let lead = lead_time(worst).max(lead_time(self.output_latency));
                // Party time is whole nanoseconds; the ideal uses the same start.
                let t0 = (self.host.at(t) + lead.as_secs_f64() * 1e9).floor();
                self.started = Some((one_song(t0 as u64), t0));
            }
        }
        self.started.as_ref().map(|(s, t0)| (s, *t0))
    }

    /// True seconds from power-up at which the first sample was due.
    fn first_sample_s(&self) -> Option<f64> {
        let (_, t0) = self.started.as_ref()?;
        Some((t0 - self.host.base) / (1.0 + self.host.ppm * 1e-6) * 1e-9)
    }
}

/// The party's schedule: one song of unknown length, from its start at party time `t0`
/// (ns), at the benchmark's rate.
fn one_song(t0: u64) -> Schedule {
    let song = SongRef([7; 32]);
    let pool = vec![PoolSong {
        song,
        rate: RATE,
        frames: 0,
        origin: None,
    }];
    let mut schedule = Schedule::new(pool, RATE);
    schedule.insert(Entry {
        at: PartyTime::from_nanos(t0),
        seq: 1,
        action: Action::Play {
            song,
            from_frame: 0,
        },
    });
    schedule
}

/// Box 0 is the host; every crystal, DAC and link is drawn from `seed`.
fn build(config: &SyncBenchConfig, profile: &NetProfile, seed: u64) -> Vec<Speaker> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rig = &config.rig;
    // Draws even for a zero range, so a seed gives the same links whatever the rig.
    let within = |rng: &mut StdRng, a: f64| rng.gen_range(-1.0..1.0) * a;
    (0..config.boxes.max(2))
        .map(|i| {
            let crystal = Crystal {
                // Monotonic clocks that have been up for a few hours, ±1 h apart.
                base: 5.0 * HOUR_NS + within(&mut rng, HOUR_NS),
                ppm: within(&mut rng, rig.crystal_ppm),
            };
            let dac_ppm = within(&mut rng, rig.dac_ppm);
            let link_seed = rng.gen::<u64>();
            let sync = (i > 0).then(|| (config.clock, net::Link::new(profile, link_seed)));
            let player = SimPlayerConfig {
                rate: RATE,
                block: rig.block,
                buffer: rig.buffer,
                dac_ppm,
                playout: config.playout,
                noise: rig.noise(seed, i),
                stalls: rig.stalls(seed, i),
            };
            Speaker::new(crystal, sync, player)
        })
        .collect()
}

#[cfg(test)]
mod tests;
