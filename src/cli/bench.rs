//! `chorus bench`: benchmarks whose numbers go into BENCHMARKS.md.

use clap::{Args, Subcommand};

use chorus::bench::distribute::{self, BenchReport, DistributeConfig};
use chorus::bench::handshake;
use chorus::bench::party::{self as party_bench, PartyBenchConfig};
use chorus::bench::playout::{self, PlayoutConfig};
use chorus::bench::soak as soak_bench;
use chorus::bench::sync::{run, NetProfile, Rig, SyncBenchConfig};
use chorus::sim::scenarios::soak::SoakConfig;

use super::CliError;

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

/// `bench soak`'s options.
#[derive(Debug, Args)]
struct SoakArgs {
    /// Virtual hours.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Virtual minutes per reported period.
    #[arg(long, default_value_t = 60.0)]
    period_minutes: f64,
    /// Mean virtual seconds between churn events.
    #[arg(long, default_value_t = 180.0)]
    churn_every: f64,
    #[arg(long, default_value_t = 5)]
    boxes: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Machine-readable output (at the end).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Inter-box playout error, time to lock and correction quality, in the deterministic
    /// simulator (lan and wifi profiles; exact and repeatable for a seed).
    Sync {
        /// Boxes, the host included (default 8; 3 with `--rig pipewire`).
        #[arg(long)]
        boxes: Option<usize>,
        /// What the boxes are built from: `boxes` (independent ±100 ppm crystals and
        /// DACs, exact drivers, on lan and wifi) or `pipewire` (`bench playout`'s rig: one
        /// machine, PipeWire's timing noise, on loopback).
        #[arg(long, default_value = "boxes")]
        rig: String,
        /// Virtual seconds per profile.
        #[arg(long, default_value_t = 120.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Playout controller gains (default: the player's own).
        #[arg(long)]
        kp: Option<f64>,
        #[arg(long)]
        ki: Option<f64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The simulator's playback invariant on many random parties (skips, late joins,
    /// crashes, partitions, host failovers), one per seed, on all cores: prints the worst
    /// frame error per network profile and its seed; fails if any seed breaks an invariant.
    Party {
        /// How many seeds.
        #[arg(long, default_value_t = 10_000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Replay only this seed and print what happened, step by step.
        #[arg(long, conflicts_with_all = ["seeds", "first", "json"])]
        replay: Option<u64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One simulated party for hours of virtual time with churn (members leave, crash and
    /// come back, the host dies, people skip and pause): a line per period with the
    /// playout error and this process's memory, to show neither grows.
    Soak(SoakArgs),
    /// Time to spread one song from the host to every member: real boxes in network
    /// namespaces, 100 Mbit/s per link (root), with and without swarming; then one pair
    /// of boxes on loopback without a limit.
    Distribute {
        /// Members besides the host.
        #[arg(long, default_value_t = 8)]
        members: usize,
        /// Song size in MB (10^6 bytes) for the namespace runs.
        #[arg(long, default_value_t = 20)]
        size_mb: u64,
        /// Song size in MB for the loopback pair.
        #[arg(long, default_value_t = 200)]
        loopback_size_mb: u64,
        /// Only the loopback pair (needs no root).
        #[arg(long, conflicts_with = "no_loopback")]
        loopback: bool,
        /// Only the namespace runs.
        #[arg(long)]
        no_loopback: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// What the party key costs this CPU: session handshakes with and without it, the
    /// key derivation at start, sealing and opening one datagram.
    Handshake {
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Real boxes on this machine playing through ALSA into one recorded multichannel
    /// PipeWire sink: first-sample offsets, time to lock, spread, excursions. A control
    /// (a known delay through the same path) runs first; the run stops if it fails.
    Playout {
        #[arg(long, default_value_t = 3)]
        boxes: usize,
        /// Seconds measured from the first sample.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Busy-loop threads competing for the cores while the boxes play.
        #[arg(long, default_value_t = 0)]
        load: usize,
        /// SIGKILL the host (the last box) this many seconds after play.
        #[arg(long)]
        kill_host_at: Option<f64>,
        /// Freeze the sound server for 150 ms this many times, 10 s after play and every
        /// 12 s after that: every box underruns at once and must come back in step.
        #[arg(long, default_value_t = 0)]
        stall_server: usize,
        /// Box 1 asks for the next song every SECONDS (as NEXT pressed on a member); the
        /// host then has two songs that alternate. Reports where each box began each new
        /// song.
        #[arg(long, value_name = "SECONDS")]
        skip_every: Option<f64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn bench(args: BenchArgs) -> Result<(), CliError> {
    match args.which {
        Which::Sync {
            boxes,
            rig,
            seconds,
            seed,
            kp,
            ki,
            json,
        } => {
            let (rig, profiles, default_boxes) = rig_named(&rig)?;
            let config = SyncBenchConfig {
                boxes: boxes.unwrap_or(default_boxes),
                seconds,
                seed,
                rig,
                profiles,
                ..SyncBenchConfig::default()
            };
            bench_sync(config, (kp, ki), json)
        }
        Which::Party {
            seeds,
            first,
            threads,
            replay,
            json,
        } => {
            let config = PartyBenchConfig {
                seeds: first..first.saturating_add(seeds),
                threads: threads.unwrap_or(PartyBenchConfig::default().threads),
            };
            // Minutes of CPU-bound work: off the runtime's workers.
            tokio::task::spawn_blocking(move || bench_party(&config, replay, json))
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?
        }
        Which::Soak(args) => soak(args).await,
        Which::Distribute {
            members,
            size_mb,
            loopback,
            loopback_size_mb,
            no_loopback,
            json,
        } => {
            let config = DistributeConfig {
                members,
                size_mb,
                loopback_size_mb,
            };
            bench_distribute_cli(config, !loopback, !no_loopback, json).await
        }
        Which::Handshake { rounds, json } => bench_handshake(rounds, json).await,
        Which::Playout {
            boxes,
            seconds,
            load,
            kill_host_at,
            stall_server,
            skip_every,
            json,
        } => {
            let config = PlayoutConfig {
                boxes,
                seconds,
                load,
                kill_host_at,
                stall_server,
                skip_every,
            };
            bench_playout(config, json).await
        }
    }
}

/// `bench sync --rig NAME`: the rig, its network profiles and its default number of boxes.
fn rig_named(name: &str) -> Result<(Rig, Vec<NetProfile>, usize), CliError> {
    match name {
        "boxes" => Ok((Rig::boxes(), vec![NetProfile::lan(), NetProfile::wifi()], 8)),
        "pipewire" => Ok((Rig::pipewire(), vec![NetProfile::loopback()], 3)),
        other => Err(CliError::Failed(format!(
            "unknown rig {other:?}: use boxes or pipewire"
        ))),
    }
}

/// `bench soak`: checks the options, then runs off the runtime's workers.
async fn soak(args: SoakArgs) -> Result<(), CliError> {
    let secs = |s: f64, what: &str| {
        std::time::Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| CliError::Failed(format!("{what} must be a positive number")))
    };
    if args.boxes < 3 {
        return Err(CliError::Failed("--boxes must be at least 3".into()));
    }
    let config = SoakConfig {
        seed: args.seed,
        boxes: args.boxes,
        duration: secs(args.hours * 3600.0, "--hours")?,
        period: secs(args.period_minutes * 60.0, "--period-minutes")?,
        churn_every: secs(args.churn_every, "--churn-every")?,
    };
    let json = args.json;
    tokio::task::spawn_blocking(move || bench_soak(&config, json))
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?
}

/// Runs the soak and prints its periods and trend (or the JSON report).
fn bench_soak(config: &SoakConfig, json: bool) -> Result<(), CliError> {
    let report = soak_bench::run(config, !json).map_err(|e| CliError::Failed(e.to_string()))?;
    if json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{text}");
    } else {
        println!("{}", soak_bench::summary(&report));
    }
    Ok(())
}

/// `bench distribute`; Ctrl-C drops the benchmark, whose guards kill the boxes and
/// delete the namespaces and files.
async fn bench_distribute_cli(
    config: DistributeConfig,
    namespaces: bool,
    loopback: bool,
    json: bool,
) -> Result<(), CliError> {
    let report = tokio::select! {
        r = bench_distribute(config, namespaces, loopback) => r?,
        _ = tokio::signal::ctrl_c() => {
            return Err(CliError::Failed("interrupted; boxes and namespaces removed".into()));
        }
    };
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(())
}

/// Runs the playout benchmark off the runtime's workers and prints it.
async fn bench_playout(config: PlayoutConfig, json: bool) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find the chorus binary: {e}")))?;
    // Blocking work (processes, sleeps, correlation) off the runtime's workers;
    // Ctrl-C asks it to stop, and it cleans up before it returns.
    let mut task = tokio::task::spawn_blocking(move || playout::run(&exe, &config));
    let joined = tokio::select! {
        r = &mut task => r,
        _ = tokio::signal::ctrl_c() => {
            playout::interrupt();
            task.await
        }
    };
    let report = joined
        .map_err(|e| CliError::Failed(e.to_string()))?
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(())
}

/// Runs the sync benchmark and prints it.
fn bench_sync(
    mut config: SyncBenchConfig,
    gains: (Option<f64>, Option<f64>),
    json: bool,
) -> Result<(), CliError> {
    let (kp, ki) = gains;
    if config.boxes < 2 || !(1.0..=3600.0).contains(&config.seconds) {
        return Err(CliError::Failed(
            "bench sync needs at least 2 boxes and 1 to 3600 seconds".into(),
        ));
    }
    if let Some(kp) = kp {
        config.playout.kp = kp;
    }
    if let Some(ki) = ki {
        config.playout.ki = ki;
    }
    let report = run(&config);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(())
}

/// Sweeps the seeds of `config` (or replays one) and prints the result.
fn bench_party(config: &PartyBenchConfig, replay: Option<u64>, json: bool) -> Result<(), CliError> {
    if let Some(seed) = replay {
        let outcome = chorus::sim::scenarios::playback::run(seed, true);
        for line in &outcome.log {
            println!("{line}");
        }
        return match outcome.result {
            Ok(stats) => {
                println!("seed {seed} ({}): {stats:?}", outcome.profile);
                Ok(())
            }
            Err(e) => Err(CliError::Failed(format!("seed {seed}: {e}"))),
        };
    }
    if config.seeds.is_empty() {
        return Err(CliError::Usage(
            "bench party needs at least one seed".into(),
        ));
    }
    let report = party_bench::run(config);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    if report.passed() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} seeds broke the playback invariant ({} panicked); replay one with \
             `chorus bench party --replay SEED`",
            report.failures.len(),
            report.panicked
        )))
    }
}

async fn bench_distribute(
    config: DistributeConfig,
    namespaces: bool,
    loopback: bool,
) -> Result<BenchReport, CliError> {
    let failed = |e: distribute::DistributeError| CliError::Failed(e.to_string());
    config.validate().map_err(failed)?;
    if namespaces {
        // Say why before spending time on anything.
        if let Some(why) = distribute::namespaces_unavailable() {
            return Err(CliError::Failed(format!(
                "cannot run the namespace benchmark: {why}"
            )));
        }
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find the chorus binary: {e}")))?;
    let mut report = BenchReport::default();
    if namespaces {
        report.namespaces = Some(
            distribute::run_namespaces(&exe, &config)
                .await
                .map_err(failed)?,
        );
    }
    if loopback {
        report.loopback = Some(
            distribute::run_loopback(&exe, &config)
                .await
                .map_err(failed)?,
        );
    }
    Ok(report)
}

async fn bench_handshake(rounds: usize, json: bool) -> Result<(), CliError> {
    let failed = |e: String| CliError::Failed(e);
    let report = tokio::task::spawn_blocking(move || handshake::run(rounds))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    match json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| failed(e.to_string()))?
        ),
        false => print!("{}", handshake::summary(&report)),
    }
    Ok(())
}
