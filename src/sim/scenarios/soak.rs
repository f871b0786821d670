//! A party of hours in virtual time with churn (members leave and come back, crash and
//! restart, the host dies and returns as a member, people skip and pause), reported one
//! period at a time, so a playout error or a memory use that grows shows as a trend.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{advance, command, host_of, song};
use crate::core::{Action, PartyRequest, PoolSong};
use crate::proto::PartyId;
use crate::sim::{CrashMode, Jitter, LinkModel, PlaybackCheck, Sim};

/// How often (virtual seconds) someone looks whether the music ran out.
const KEEP_PLAYING_EVERY: f64 = 10.0;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoakConfig {
    pub seed: u64,
    /// Boxes in the world (at least 3).
    pub boxes: usize,
    /// Virtual time in all.
    pub duration: Duration,
    /// One report per period.
    pub period: Duration,
    /// Mean time between two churn events.
    pub churn_every: Duration,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            seed: 1,
            boxes: 5,
            duration: Duration::from_secs(24 * 3600),
            period: Duration::from_secs(3600),
            churn_every: Duration::from_secs(180),
        }
    }
}

/// One period of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakPeriod {
    /// Virtual seconds at the end of the period.
    pub end_s: f64,
    /// Virtual seconds the period lasted.
    pub period_s: f64,
    /// Box-instants the playback check compared with the host's schedule.
    pub checks: u64,
    /// Mean and largest |audible - scheduled| of the checked boxes, µs.
    pub mean_error_us: f64,
    pub worst_error_us: f64,
    /// Largest spread between the checked boxes of one party at one instant, µs.
    pub worst_spread_us: f64,
    /// Virtual seconds of the period the host's schedule was playing (sampled every
    /// 10 s).
    pub playing_s: f64,
    /// Churn events in the period, and how many of them killed the host.
    pub churn: u32,
    pub host_kills: u32,
    /// Times the soak had to form a party afresh because none was left (should be 0).
    pub reformed: u32,
    /// Datagrams and timers waiting in the simulator at the end of the period.
    pub pending: usize,
    /// What the caller's probe read at the end of the period (bytes: heap or RSS).
    pub memory_bytes: u64,
}

/// Runs the soak, calling `memory` at the end of every period and `report` with it.
/// Fails with the broken invariant, if any.
pub fn run(
    config: &SoakConfig,
    mut memory: impl FnMut() -> u64,
    mut report: impl FnMut(&SoakPeriod),
) -> Result<Vec<SoakPeriod>, String> {
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x50a4_c0de);
    let mut sim = world(config, &mut rng);
    let mut party = form(&mut sim, None)?;
    let mut periods = Vec::new();
    let end = config.duration.as_secs_f64();
    let mut t = sim.now().as_nanos() as f64 * 1e-9;
    let _ = sim.take_playback_stats();
    while end - t > 1e-6 {
        let (start, until) = (t, (t + config.period.as_secs_f64()).min(end));
        let mut period = Counts::default();
        while until - t > 1e-6 {
            let gap = rng.gen_range(0.5..1.5) * config.churn_every.as_secs_f64();
            let next = (t + gap).min(until);
            // Virtual time moves in whole nanoseconds: stop short of `next` by less.
            while next - t > 1e-6 {
                let step = (next - t).min(KEEP_PLAYING_EVERY);
                advance(&mut sim, step)?;
                if keep_playing(&mut sim)? {
                    period.playing_s += step;
                }
                t = sim.now().as_nanos() as f64 * 1e-9;
            }
            if until - t > 1e-6 {
                churn(&mut sim, &mut rng, &mut party, &mut period)?;
            }
        }
        // Only what the soak reads is kept: the event log would otherwise grow with time.
        sim.clear_events();
        let stats = sim.take_playback_stats().unwrap_or_default();
        let p = SoakPeriod {
            end_s: t,
            period_s: t - start,
            checks: stats.checks,
            mean_error_us: stats.mean_error_us(),
            worst_error_us: stats.worst_error_us,
            worst_spread_us: stats.worst_spread_us,
            playing_s: period.playing_s,
            churn: period.churn,
            host_kills: period.host_kills,
            reformed: period.reformed,
            pending: sim.pending(),
            memory_bytes: memory(),
        };
        report(&p);
        periods.push(p);
    }
    Ok(periods)
}

#[derive(Debug, Default)]
struct Counts {
    playing_s: f64,
    churn: u32,
    host_kills: u32,
    reformed: u32,
}

/// A wired LAN with some trouble: 0.5 ms ± 0.3 ms, 1 % loss and duplicates. Box 0 holds
/// every song; the others each hold most (the rest they would fetch).
fn world(config: &SoakConfig, rng: &mut StdRng) -> Sim {
    let link = LinkModel {
        delay: Duration::from_micros(500),
        jitter: Jitter::Uniform(Duration::from_micros(300)),
        loss: 0.01,
        duplicate: 0.01,
        reorder: 0.0,
        reorder_delay: Duration::ZERO,
    };
    let mut sim = Sim::builder(config.seed)
        .link(link)
        .configure(|_, c| c.party.start_wait = Duration::from_secs(1))
        .nodes(config.boxes.max(3))
        .build();
    sim.enable_playback(PlaybackCheck::default());
    let songs: Vec<PoolSong> = (1..13).map(|k| song(k, rng.gen_range(120..300))).collect();
    for i in 0..sim.len() {
        let pool = songs
            .iter()
            .filter(|_| i == 0 || rng.gen_bool(0.85))
            .copied()
            .collect();
        sim.set_pool(i, pool);
    }
    sim
}

/// A party hosted by the first live box (or `host`), every other live box joined, and
/// the music started.
fn form(sim: &mut Sim, host: Option<usize>) -> Result<PartyId, String> {
    let h = host
        .or_else(|| (0..sim.len()).find(|&i| sim.is_up(i)))
        .ok_or("no box is up")?;
    advance(sim, 1.0)?;
    let party = sim.host(h).map_err(|e| e.to_string())?;
    advance(sim, 1.0)?;
    let guests: Vec<usize> = (0..sim.len()).filter(|&i| i != h && sim.is_up(i)).collect();
    for i in guests {
        command(sim.join(i, Some(party)))?;
    }
    advance(sim, 5.0)?;
    let play = PartyRequest::Playback(Action::Select { index: 0 });
    command(sim.request(h, play))?;
    Ok(party)
}

/// One churn event on a random box; afterwards everyone down is back up and in the
/// party, and the music plays (someone presses play when the pool ran out).
fn churn(
    sim: &mut Sim,
    rng: &mut StdRng,
    party: &mut PartyId,
    counts: &mut Counts,
) -> Result<(), String> {
    counts.churn += 1;
    let Some(host) = host_of(sim) else {
        counts.reformed += 1;
        *party = form(sim, None)?;
        return Ok(());
    };
    let members: Vec<usize> = (0..sim.len()).filter(|&i| i != host).collect();
    let member = members[rng.gen_range(0..members.len())];
    match rng.gen_range(0..100) {
        0..=24 => {
            command(sim.leave(member))?;
            advance(sim, rng.gen_range(5.0..60.0))?;
            command(sim.join(member, Some(*party)))?;
        }
        25..=49 => {
            sim.crash(member);
            advance(sim, rng.gen_range(2.0..30.0))?;
            sim.restart(member);
            advance(sim, 1.0)?;
            command(sim.join(member, Some(*party)))?;
        }
        50..=64 => {
            counts.host_kills += 1;
            let mode = if rng.gen() {
                CrashMode::PowerLoss
            } else {
                CrashMode::ProcessKill
            };
            sim.crash_with(host, mode);
            advance(sim, rng.gen_range(5.0..30.0))?;
            sim.restart(host);
            advance(sim, 1.0)?;
            // The party lives on under a successor, with the same id.
            if let Some(id) = (0..sim.len()).find_map(|i| sim.party(i).map(|v| v.id)) {
                *party = id;
            }
            command(sim.join(host, Some(*party)))?;
        }
        65..=84 => {
            let play = PartyRequest::Playback(Action::Skip);
            command(sim.request(host, play))?;
        }
        _ => {
            let pause = PartyRequest::Playback(Action::Pause);
            command(sim.request(host, pause))?;
            advance(sim, rng.gen_range(1.0..20.0))?;
            let resume = PartyRequest::Playback(Action::Resume);
            command(sim.request(host_of(sim).unwrap_or(host), resume))?;
        }
    }
    Ok(())
}

/// When the pool ran out, someone presses play: a soak of silence would check nothing.
/// Whether the host's schedule was playing.
fn keep_playing(sim: &mut Sim) -> Result<bool, String> {
    let Some(host) = host_of(sim) else {
        return Ok(false);
    };
    let now = sim.now();
    let stopped = sim
        .node(host)
        .and_then(|n| n.playback(now))
        .is_some_and(|v| v.state.song.is_none() || !v.state.playing);
    if stopped {
        let play = PartyRequest::Playback(Action::Select { index: 0 });
        command(sim.request(host, play))?;
    }
    Ok(!stopped)
}
