//! `chorus run`: one box in the foreground until SIGINT or SIGTERM.

use chorus::config::{Config, ConfigError};
use chorus::net::BoxRuntime;

use super::{shutdown_token, CliError, RunArgs};

pub(super) async fn run(args: RunArgs) -> Result<(), CliError> {
    let config = apply(args)?;
    let cancel = shutdown_token();
    let runtime = BoxRuntime::bind(config).await?;
    runtime.run(cancel).await?;
    Ok(())
}

/// The config file with the command line's overrides, validated again.
fn apply(args: RunArgs) -> Result<Config, ConfigError> {
    let mut config = args.config.load()?;
    if args.name.is_some() {
        config.name = args.name;
    }
    if let Some(music) = args.music {
        config.music_dir = music;
    }
    let d = &mut config.discovery;
    if let Some(port) = args.port {
        d.port = port;
    }
    if let Some(port) = args.unicast_port {
        d.unicast_port = port;
    }
    if !args.interfaces.is_empty() {
        d.interfaces = args.interfaces;
    }
    d.static_peers.extend(args.peers);
    if let Some(port) = args.control_port {
        config.party.control_port = port;
    }
    if args.auto_join {
        config.party.auto_join = true;
    }
    if let Some(audio) = args.audio {
        config.audio.output = audio;
    }
    config.validate()?;
    Ok(config)
}
