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

/// Side of the playing screen's cover art, in pixels: covers are best resized to it once.
pub const COVER_SIZE: u32 = playing::COVER as u32;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ui::buttons::Button;
    use crate::ui::frame::Frame;
    use crate::ui::view::*;

    fn view(screen: Screen) -> View {
        View {
            name: "a box with a name far too long for any screen at all".repeat(3),
            neighbours: usize::MAX,
            box_volume: u8::MAX,
            party_volume: Some(u8::MAX),
            screen,
            toast: Some("x".repeat(500)),
            tick_ms: u64::MAX,
        }
    }

    /// Extreme values (huge counts, empty and endless text, a cover whose pixels do not
    /// match its size) draw something rather than panic.
    #[test]
    fn extreme_views_draw_without_panicking() {
        let party = PartyLine {
            name: String::new(),
            playlist: Some("\u{1F3B5}".repeat(100)),
            size: usize::MAX,
            role: Role::Member,
            keyed: true,
        };
        let bad_cover = Arc::new(Cover {
            width: 4000,
            height: 1,
            rgb: vec![1, 2, 3],
        });
        let screens = [
            Screen::Idle(Idle {
                invitations: usize::MAX,
                legend: vec![LegendRow {
                    button: Button::Y,
                    short: "W".repeat(80),
                    long: Some(String::new()),
                }],
            }),
            Screen::Invitation(Invitation {
                host_name: String::new(),
                joined: usize::MAX,
                starts_in_s: Some(u32::MAX),
                more: usize::MAX,
                join_button: Button::X,
                hosting: false,
                keyed: true,
                joining: false,
            }),
            Screen::Fetching(Fetching {
                title: "\u{1F3B5}".repeat(100),
                fraction: Some(f32::NAN),
                rate_bps: u64::MAX,
                eta_s: Some(u32::MAX),
                party: party.clone(),
            }),
            Screen::Playing(Playing {
                title: String::new(),
                artist: Some("\u{6771}".repeat(200)),
                elapsed_ms: u64::MAX,
                total_ms: Some(0),
                paused: true,
                party,
                sync: SyncMark::Off,
                cover: Some(bad_cover),
            }),
            Screen::Error(Alert {
                kind: AlertKind::NoNetwork,
                message: "word ".repeat(100),
                hint: String::new(),
            }),
        ];
        for screen in screens {
            let mut frame = Frame::new();
            let Ok(()) = draw(&view(screen), &mut frame);
            assert!(frame.pixels().iter().any(|&p| p != theme::BG));
        }
    }
}
