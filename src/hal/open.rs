//! Opens the backends a box was asked for (`--hal`, config `hal`) into the parts of its
//! face. A part that does not open is logged once, with what to do, and left out: the
//! audio and the party never stop because of the face.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::face::FaceParts;
use super::{ButtonEdge, HalChoice, Panel};
use crate::config::Config;

/// The opened face, or `None` for `hal = "none"` without `--screen-png`.
pub fn open(
    choice: HalChoice,
    config: &Config,
    screen_png: Option<PathBuf>,
    cancel: &CancellationToken,
) -> Option<FaceParts> {
    let (tx, rx) = std::sync::mpsc::channel::<ButtonEdge>();
    let (panel, buttons) = match choice.resolve() {
        HalChoice::Rpi => rpi(config, tx, cancel),
        HalChoice::Mock => mock(screen_png, true, tx, cancel),
        // No HAL, but a PNG of the screen was asked for: the mock panel draws it without
        // touching the terminal.
        _ if screen_png.is_some() => mock(screen_png, false, tx, cancel),
        _ => return None,
    };
    if panel.is_none() && !buttons {
        return None;
    }
    Some(FaceParts {
        panel,
        edges: buttons.then_some(rx),
        keymap: config.buttons.actions,
        timing: Default::default(),
        dim_after: Duration::from_secs(u64::from(config.display.dim_after_s)),
        max_fps: config.display.max_fps,
        invite_window: Duration::from_millis(config.party.invite_window_ms),
    })
}

#[cfg(feature = "rpi")]
fn rpi(
    config: &Config,
    edges: std::sync::mpsc::Sender<ButtonEdge>,
    cancel: &CancellationToken,
) -> (Option<Box<dyn Panel>>, bool) {
    let panel = match super::rpi::open_panel(&config.display) {
        Ok(p) => Some(Box::new(p) as Box<dyn Panel>),
        Err(e) => {
            tracing::warn!(error = %e, "no display; the box plays on without a screen");
            None
        }
    };
    let clock = crate::clock::monotonic_now as fn() -> crate::core::Instant;
    let buttons = match super::rpi::spawn_buttons(&config.buttons, edges, cancel.clone(), clock) {
        Ok(_thread) => true,
        Err(e) => {
            tracing::warn!(error = %e, "no buttons; `chorus ctl` still commands the box");
            false
        }
    };
    (panel, buttons)
}

#[cfg(not(feature = "rpi"))]
fn rpi(
    _: &Config,
    _: std::sync::mpsc::Sender<ButtonEdge>,
    _: &CancellationToken,
) -> (Option<Box<dyn Panel>>, bool) {
    tracing::warn!("this chorus was built without the `rpi` feature: no buttons, no screen");
    (None, false)
}

#[cfg(feature = "mock")]
fn mock(
    screen_png: Option<PathBuf>,
    terminal: bool,
    edges: std::sync::mpsc::Sender<ButtonEdge>,
    cancel: &CancellationToken,
) -> (Option<Box<dyn Panel>>, bool) {
    let options = super::mock::MockOptions {
        screen_png,
        terminal,
    };
    let hal = super::mock::open(options, edges, cancel.clone());
    let keys = hal.keys.is_some();
    (Some(Box::new(hal.panel) as Box<dyn Panel>), keys)
}

#[cfg(not(feature = "mock"))]
fn mock(
    _: Option<PathBuf>,
    _: bool,
    _: std::sync::mpsc::Sender<ButtonEdge>,
    _: &CancellationToken,
) -> (Option<Box<dyn Panel>>, bool) {
    tracing::warn!("this chorus was built without the `mock` feature: no screen in the terminal");
    (None, false)
}
