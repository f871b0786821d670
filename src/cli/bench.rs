//! `chorus bench`: benchmarks whose numbers go into BENCHMARKS.md.

use clap::{Args, Subcommand};

use chorus::bench::sync::{run, SyncBenchConfig};

use super::CliError;

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Inter-box playout error, time to lock and correction quality, in the deterministic
    /// simulator (lan and wifi profiles; exact and repeatable for a seed).
    Sync {
        /// Boxes, the host included.
        #[arg(long, default_value_t = 8)]
        boxes: usize,
        /// Virtual seconds per profile.
        #[arg(long, default_value_t = 120.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Playout controller gains (default: kp 2, ki 1; the player ships 0.5 / 0.0625).
        #[arg(long)]
        kp: Option<f64>,
        #[arg(long)]
        ki: Option<f64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn bench(args: BenchArgs) -> Result<(), CliError> {
    match args.which {
        Which::Sync {
            boxes,
            seconds,
            seed,
            kp,
            ki,
            json,
        } => {
            if boxes < 2 || !(1.0..=3600.0).contains(&seconds) {
                return Err(CliError::Failed(
                    "bench sync needs at least 2 boxes and 1 to 3600 seconds".into(),
                ));
            }
            let mut config = SyncBenchConfig {
                boxes,
                seconds,
                seed,
                ..SyncBenchConfig::default()
            };
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
    }
}
