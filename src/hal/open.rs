//! Opens the backends a box was asked for (`--hal`, config `hal`) into the parts of its
//! face. A part that does not open is logged once, with what to do, and left out: the
//! audio and the party never stop because of the face.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::face::FaceParts;
use super::pins::{ButtonsTable, DisplayTable};
use super::{ButtonEdge, HalChoice, Panel};

/// What a face is opened with: the backends asked for and their tables from the config.
#[derive(Clone, Debug)]
pub struct FaceConfig {
    pub choice: HalChoice,
    pub buttons: ButtonsTable,
    pub display: DisplayTable,
    /// How long a party gathers guests before it starts by itself (the countdown).
    pub invite_window: Duration,
    /// Also write every new frame to this PNG.
    pub screen_png: Option<PathBuf>,
}

/// The opened face, or `None` for `hal = "none"` without `--screen-png`.
pub fn open(config: FaceConfig, cancel: &CancellationToken) -> Option<FaceParts> {
    let FaceConfig {
        choice,
        buttons: buttons_table,
        display,
        invite_window,
        screen_png,
    } = config;
    let (tx, rx) = std::sync::mpsc::channel::<ButtonEdge>();
    let (panel, buttons) = match choice.resolve() {
        HalChoice::Rpi => rpi(&buttons_table, &display, tx, cancel),
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
        keymap: buttons_table.actions,
        timing: Default::default(),
        dim_after: Duration::from_secs(u64::from(display.dim_after_s)),
        max_fps: display.max_fps,
        invite_window,
    })
}

#[cfg(feature = "rpi")]
fn rpi(
    buttons: &ButtonsTable,
    display: &DisplayTable,
    edges: std::sync::mpsc::Sender<ButtonEdge>,
    cancel: &CancellationToken,
) -> (Option<Box<dyn Panel>>, bool) {
    let panel = match super::rpi::open_panel(display) {
        Ok(p) => Some(Box::new(p) as Box<dyn Panel>),
        Err(e) => {
            tracing::warn!(error = %e, "no display; the box plays on without a screen");
            None
        }
    };
    let clock = crate::clock::monotonic_now as fn() -> crate::core::Instant;
    let buttons = match super::rpi::spawn_buttons(buttons, edges, cancel.clone(), clock) {
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
    _: &ButtonsTable,
    _: &DisplayTable,
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
