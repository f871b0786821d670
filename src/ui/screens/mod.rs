//! The screens: [`draw`] paints a whole [`View`] onto any RGB565 `DrawTarget`, one file
//! per screen, the pieces they share in [`widgets`], [`text`] and [`format`].
//!
//! Drawing is a pure function of the view (the scrolling of long titles included, from
//! `view.tick_ms`), so golden images in `tests/golden` pin every screen pixel for pixel.

mod error;
mod fetching;
pub mod format;
mod idle;
mod invitation;
mod playing;
pub mod text;
pub mod widgets;

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;

use super::view::{Screen, View};
use widgets::theme;

/// Draws the whole screen for `view`: background, the screen's content, then the toast.
pub fn draw<D: DrawTarget<Color = Rgb565>>(view: &View, target: &mut D) -> Result<(), D::Error> {
    target.clear(theme::BG)?;
    match &view.screen {
        Screen::Idle(idle) => idle::draw(view, idle, target)?,
        Screen::Invitation(inv) => invitation::draw(view, inv, target)?,
        Screen::Fetching(fetching) => fetching::draw(view, fetching, target)?,
        Screen::Playing(playing) => playing::draw(view, playing, target)?,
        Screen::Error(alert) => error::draw(view, alert, target)?,
    }
    if let Some(message) = &view.toast {
        widgets::toast(message, target)?;
    }
    Ok(())
}
