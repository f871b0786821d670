//! Playback as an invariant, one random party per seed: 3 to 7 boxes on one rough link,
//! every box running the core's playout machine and a simulated player with its own DAC
//! error; after every 10 ms tick each settled box that holds its host's current song must
//! play the frame the host's schedule names at that true instant, within the bound its
//! reported clock error justifies (see [`crate::sim::audio`]). The scenario skips,
//! pauses, joins late, crashes and restarts members, cuts members off for a while and
//! crashes the host.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{advance, chaos_link, command, host_of, song};
use crate::core::PartyRequest;
use crate::core::{Action, Event, PoolSong};
use crate::sim::{CrashMode, Jitter, LinkModel, PlaybackCheck, PlaybackStats, Sim};

/// The kind of network a seed's boxes share: what their clock estimates can achieve, and
/// so what error bound they report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Uniform jitter (up to ±2 ms): a wired LAN under load.
    Uniform,
    /// Exponential jitter with a mean under 5 ms: a good Wi-Fi.
    WifiLight,
    /// Exponential jitter with a mean of 5 to 10 ms: a busy Wi-Fi.
    WifiHeavy,
}

impl Profile {
    /// Every profile, in report order.
    pub const ALL: [Profile; 3] = [Profile::Uniform, Profile::WifiLight, Profile::WifiHeavy];

    fn of(link: &LinkModel) -> Profile {
        match link.jitter {
            Jitter::Exponential(mean) if mean >= Duration::from_millis(5) => Profile::WifiHeavy,
            Jitter::Exponential(_) => Profile::WifiLight,
            Jitter::Uniform(_) | Jitter::None => Profile::Uniform,
        }
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Uniform => "uniform",
            Profile::WifiLight => "wifi-light",
            Profile::WifiHeavy => "wifi-heavy",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One seed's run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub seed: u64,
    pub profile: Profile,
    /// Boxes in the world.
    pub boxes: usize,
    /// The playback check's worst cases, or the broken invariant.
    pub result: Result<PlaybackStats, String>,
    /// What happened, step by step (only when asked for: see [`run`]).
    pub log: Vec<String>,
}

/// Runs the scenario of `seed`; with `verbose` its log tells every operation, the party
/// events and where every box ended.
pub fn run(seed: u64, verbose: bool) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x91a7_bac4);
    let (mut sim, profile) = world(seed, &mut rng);
    let mut log = Vec::new();
    let result = play(&mut sim, &mut rng, verbose.then_some(&mut log));
    if verbose {
        describe(&sim, &mut log);
    }
    Outcome {
        seed,
        profile,
        boxes: sim.len(),
        result,
        log,
    }
}

/// The world of `seed`: 3 to 7 boxes on one jittery, lossy segment; box 0 holds every
/// song, the others each hold most.
fn world(seed: u64, rng: &mut StdRng) -> (Sim, Profile) {
    let loss = rng.gen_range(0.0..0.05);
    let link = chaos_link(loss, rng);
    let n = rng.gen_range(3..8);
    let mut sim = Sim::builder(seed)
        .link(link)
        .configure(|_, c| c.party.start_wait = Duration::from_secs(1))
        .nodes(n)
        .build();
    sim.enable_playback(PlaybackCheck::default());
    let songs: Vec<PoolSong> = (1..7).map(|k| song(k, rng.gen_range(15..60))).collect();
    for i in 0..n {
        let pool = songs
            .iter()
            .filter(|_| i == 0 || rng.gen_bool(0.85))
            .copied()
            .collect();
        sim.set_pool(i, pool);
    }
    (sim, Profile::of(&link))
}

fn play(
    sim: &mut Sim,
    rng: &mut StdRng,
    mut log: Option<&mut Vec<String>>,
) -> Result<PlaybackStats, String> {
    let n = sim.len();
    advance(sim, 1.0)?;
    let party = sim.host(0).map_err(|e| e.to_string())?;
    // Some boxes join at once, the rest later.
    let mut out: Vec<usize> = (1..n).filter(|_| rng.gen_bool(0.4)).collect();
    advance(sim, 1.5)?;
    for i in (1..n).filter(|i| !out.contains(i)) {
        command(sim.join(i, Some(party)))?;
    }
    for _ in 0..rng.gen_range(4..10) {
        let op = rng.gen_range(0..100);
        let i = rng.gen_range(0..n);
        if let Some(log) = log.as_deref_mut() {
            log.push(format!("t={:?} op {op} on box {i}", sim.now()));
        }
        match op {
            0..=19 => {
                let action = match rng.gen_range(0..4) {
                    0 => Action::Pause,
                    1 => Action::Resume,
                    2 => Action::Select {
                        index: rng.gen_range(0..6),
                    },
                    _ => Action::Skip,
                };
                let from = host_of(sim).unwrap_or(i);
                command(sim.request(from, PartyRequest::Playback(action)))?;
            }
            20..=39 if !out.is_empty() => {
                let late = out.remove(0);
                command(sim.join(late, Some(party)))?;
            }
            40..=49 => {
                // Host crash: the party fails over to a box that holds the song.
                if let Some(h) = host_of(sim) {
                    let mode = if rng.gen() {
                        CrashMode::PowerLoss
                    } else {
                        CrashMode::ProcessKill
                    };
                    sim.crash_with(h, mode);
                }
            }
            50..=64 if i != 0 => {
                sim.crash(i);
                advance(sim, rng.gen_range(0.5..3.0))?;
                sim.restart(i);
                advance(sim, 1.0)?;
                command(sim.join(i, Some(party)))?;
            }
            65..=79 => {
                let rest: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                sim.partition(&[&[i], &rest]);
                advance(sim, rng.gen_range(0.5..4.0))?;
                sim.heal();
            }
            _ => {}
        }
        advance(sim, rng.gen_range(1.0..5.0))?;
    }
    advance(sim, 8.0)?;
    Ok(sim.playback_stats().unwrap_or_default())
}

/// The party events (not the neighbour churn) and where every box ended.
fn describe(sim: &Sim, log: &mut Vec<String>) {
    for e in sim.events() {
        if !matches!(
            e.event,
            Event::NeighbourUp { .. } | Event::NeighbourDown { .. }
        ) {
            log.push(format!("{:?} box {}: {:?}", e.at, e.node, e.event));
        }
    }
    for i in 0..sim.len() {
        let v = sim.party(i);
        log.push(format!(
            "box {i}: {:?} {:?}, audible {:?}",
            v.as_ref().map(|v| v.role),
            v.as_ref().map(|v| v.state),
            sim.audible(i)
        ));
    }
}
