//! The `chorus` command line: parses arguments, sets up logging, maps errors to exit codes.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;

/// What is logged without `CHORUS_LOG`. symphonia logs its own probe and decode failures
/// as errors (through the `log` crate) for files that are merely not songs; the library
/// scan and the player say in one line which file is skipped and why.
const DEFAULT_LOG: &str = "info,symphonia=off";

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHORUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let log_file = args.log_file().and_then(|path| {
        if let Some(dir) = path.parent() {
            // A first run: the state dir does not exist yet.
            let _ = std::fs::create_dir_all(dir);
        }
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        match opened {
            Ok(file) => {
                eprintln!("chorus: logging to {}", path.display());
                Some(file)
            }
            Err(e) => {
                eprintln!("chorus: cannot write the log to {}: {e}", path.display());
                None
            }
        }
    });
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file {
        Some(file) => builder
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .init(),
        None => builder
            .with_ansi(std::io::stderr().is_terminal() && !no_color)
            .with_writer(std::io::stderr)
            .init(),
    }
    match cli::execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chorus: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
