//! `chorus run`: one box in the foreground until SIGINT or SIGTERM.

use chorus::config::{Config, ConfigError};
use chorus::net::BoxRuntime;

use super::{shutdown_token, CliError, RunArgs};

pub(super) async fn run(args: RunArgs) -> Result<(), CliError> {
    let screen_png = args.screen_png.clone();
    let config = apply(args)?;
    let cancel = shutdown_token();
    let runtime = BoxRuntime::bind(config.clone()).await?;
    let face_config = chorus::hal::FaceConfig {
        choice: config.hal,
        buttons: config.buttons.clone(),
        display: config.display.clone(),
        invite_window: std::time::Duration::from_millis(config.party.invite_window_ms),
        screen_png,
    };
    let face = chorus::hal::open(face_config, &cancel).and_then(|parts| {
        let started = chorus::hal::face::spawn(
            parts,
            runtime.subscribe(),
            runtime.requests(),
            cancel.clone(),
        );
        started
            .map_err(|e| tracing::warn!(error = %e, "cannot start the face thread"))
            .ok()
    });
    let result = runtime.run(cancel.clone()).await;
    // The face restores the terminal (mock HAL) when its thread ends.
    cancel.cancel();
    if let Some(face) = face {
        let _ = tokio::task::spawn_blocking(move || face.join()).await;
    }
    result?;
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
    if let Some(hal) = args.hal {
        config.hal = hal;
    }
    config.validate()?;
    Ok(config)
}
