//! Subcommands of the `chorus` binary and the errors they end with.

mod bench;
mod boot;
mod ctl;
mod demo;
mod demo_check;
mod demo_fleet;
#[cfg(feature = "mock")]
mod demo_grid;
#[cfg(feature = "mock")]
mod demo_lines;
mod demo_music;
#[cfg(feature = "mock")]
mod demo_screens;
mod demo_sound;
mod run;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use chorus::config::{Config, ConfigError};
use chorus::net::{ControlError, RunError};

/// Raspberry Pi speaker boxes that form one synchronized sound system, peer to peer.
#[derive(Debug, Parser)]
#[command(name = "chorus", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a box: discovery, parties, song transfers, synchronized playback, the control
    /// socket, and its buttons and screen (`--hal`).
    Run(RunArgs),
    /// Talk to a running box through its control socket.
    Ctl(ctl::CtlArgs),
    /// Start several boxes on this machine (loopback only) and show what they see.
    Demo(demo::DemoArgs),
    /// Run a benchmark (results are recorded in BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Apply chorus.txt from the boot partition (the name, party key and Wi-Fi) to
    /// chorus.toml and wpa_supplicant; a bad file changes nothing and leaves a notice for
    /// the screen.
    /// Exit status 2: a bad value; 1: a file could not be read or written.
    ApplyBootConfig(boot::ApplyBootArgs),
}

/// Options shared by `run` and `ctl`: where the config and state live.
#[derive(Debug, Args)]
struct ConfigArgs {
    /// Config file (default: /etc/chorus/chorus.toml if it exists, else built-in defaults).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// State dir: box id, control socket, song cache. Overrides the config.
    #[arg(long, value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(dir) = &self.state_dir {
            config.state_dir.clone_from(dir);
        }
        Ok(config)
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Box name shown to others (default: the host name). Overrides the config.
    #[arg(long)]
    name: Option<String>,
    /// Music folder (read only). Overrides the config.
    #[arg(long, value_name = "DIR")]
    music: Option<PathBuf>,
    /// Multicast group port shared by all boxes. Overrides `discovery.port`.
    #[arg(long)]
    port: Option<u16>,
    /// This box's unicast UDP port (0: any free port). Overrides `discovery.unicast_port`.
    #[arg(long)]
    unicast_port: Option<u16>,
    /// IPv4 address of an interface to beacon on; repeat for several. Overrides
    /// `discovery.interfaces`.
    #[arg(long = "interface", value_name = "IP")]
    interfaces: Vec<Ipv4Addr>,
    /// A static peer `IP:PORT`; repeat for several. Added to `discovery.static_peers`.
    #[arg(long = "peer", value_name = "ADDR")]
    peers: Vec<SocketAddr>,
    /// TCP control port (0: any free port). Overrides `party.control_port`.
    #[arg(long)]
    control_port: Option<u16>,
    /// Join the first invitation automatically. Sets `party.auto_join`.
    #[arg(long)]
    auto_join: bool,
    /// Audio output: `alsa:DEVICE`, `wav:PATH` or `null`. Overrides `audio.output`.
    #[arg(long, value_name = "SINK")]
    audio: Option<String>,
    /// The box's buttons and screen: `rpi` (GPIO + SPI display), `mock` (the screen in
    /// this terminal, keys a/b/x/y press the buttons), `none`, or `auto` (rpi when built
    /// with it, else none). Overrides `hal`.
    #[arg(long, value_name = "HAL")]
    hal: Option<chorus::hal::HalChoice>,
    /// Also write every new frame of the screen to this PNG file (any HAL but `none`).
    #[arg(long, value_name = "FILE")]
    screen_png: Option<PathBuf>,
    /// Write the log to this file instead of stderr. With `--hal mock` on a terminal the
    /// log goes to STATE_DIR/chorus.log unless this says otherwise.
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

impl Cli {
    /// Where the log goes: a file when asked for, or when the mock HAL's screen takes
    /// the terminal (log lines would smear it); `None`: stderr.
    pub fn log_file(&self) -> Option<PathBuf> {
        let run = match &self.command {
            Command::Run(run) => run,
            Command::Demo(demo) => return demo.log_file(),
            _ => return None,
        };
        if run.log_file.is_some() {
            return run.log_file.clone();
        }
        use std::io::IsTerminal;
        let mock = matches!(run.hal, Some(chorus::hal::HalChoice::Mock));
        if !(mock && std::io::stdout().is_terminal()) {
            return None;
        }
        let state_dir = run.config.load().ok()?.state_dir;
        Some(state_dir.join("chorus.log"))
    }
}

/// How a subcommand failed; each kind maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("{0}")]
    Failed(String),
    /// The command line is wrong in a way clap cannot tell (exit status 2).
    #[error("{0}")]
    Usage(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("chorus.txt not applied, the previous settings stay: {0}")]
    BootSettings(chorus::config::boot::BootError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => 2,
            CliError::BootSettings(e) if e.is_bad_value() => 2,
            _ => 1,
        }
    }
}

pub fn execute(cli: Cli) -> Result<(), CliError> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)
    };
    match cli.command {
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Ctl(args) => runtime()?.block_on(ctl::ctl(args)),
        Command::Demo(args) => runtime()?.block_on(demo::demo(args)),
        Command::Bench(args) => runtime()?.block_on(bench::bench(args)),
        // Runs at boot and needs no async runtime.
        Command::ApplyBootConfig(args) => boot::apply_boot_config(args),
    }
}

/// A token cancelled on SIGINT or SIGTERM.
fn shutdown_token() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C still works");
                    let _ = tokio::signal::ctrl_c().await;
                    cancel.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}
