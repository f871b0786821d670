//! The error screen: an icon and colour per kind of problem, what is wrong, what to do.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    Arc, Line, PrimitiveStyle, Rectangle, StyledDrawable, Triangle,
};

use super::text::{self, Align};
use super::widgets::{self, rect, theme, INNER, MARGIN};
use crate::ui::view::{Alert, AlertKind, View};

const ICON_CENTER: Point = Point::new(120, 74);

pub fn draw<D: DrawTarget<Color = Rgb565>>(
    _view: &View,
    alert: &Alert,
    target: &mut D,
) -> Result<(), D::Error> {
    let color = match alert.kind {
        AlertKind::NoAudio => theme::RED,
        AlertKind::DiskFull => theme::AMBER,
        AlertKind::CorruptSong => rgb_corrupt(),
        AlertKind::NoNetwork => theme::BLUE,
        AlertKind::BadSettings => theme::AMBER,
    };
    widgets::dot(ICON_CENTER, 76, color, target)?;
    icon(alert.kind, color, target)?;

    let mut y = 148;
    for line in text::TITLE.wrap(&alert.message, INNER, 2) {
        text::line(
            &text::TITLE,
            &line,
            (MARGIN, y),
            INNER,
            Align::Center,
            theme::TEXT,
            target,
        )?;
        y += text::TITLE.line;
    }
    widgets::fill(rect(120 - 16, y - 10, 32, 2), color, target)?;
    y += 12;
    for line in text::BODY.wrap(&alert.hint, INNER, 3) {
        text::line(
            &text::BODY,
            &line,
            (MARGIN, y),
            INNER,
            Align::Center,
            theme::DIM,
            target,
        )?;
        y += text::BODY.line;
    }
    Ok(())
}

/// A corrupt song's colour: between the amber of a full disk and the red of no audio.
const fn rgb_corrupt() -> Rgb565 {
    widgets::rgb(250, 120, 60)
}

/// The kind's pictogram, drawn in the background colour on its disc (`disc`).
fn icon<D: DrawTarget<Color = Rgb565>>(
    kind: AlertKind,
    disc: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    let c = ICON_CENTER;
    let ink = PrimitiveStyle::with_fill(theme::BG);
    let stroke = PrimitiveStyle::with_stroke(theme::BG, 4);
    match kind {
        AlertKind::NoAudio => {
            // A speaker, and a cross where its sound would be.
            widgets::fill(rect(c.x - 25, c.y - 8, 10, 16), theme::BG, target)?;
            Triangle::new(
                c + Point::new(-16, 0),
                c + Point::new(2, -20),
                c + Point::new(2, 20),
            )
            .draw_styled(&ink, target)?;
            widgets::fill(rect(c.x - 16, c.y - 8, 8, 16), theme::BG, target)?;
            Line::new(c + Point::new(10, -8), c + Point::new(25, 7))
                .draw_styled(&stroke, target)?;
            Line::new(c + Point::new(10, 7), c + Point::new(25, -8)).draw_styled(&stroke, target)
        }
        AlertKind::DiskFull => {
            // A stack of three full drawers.
            for i in 0..3 {
                let r = Rectangle::new(c + Point::new(-20, -19 + i * 13), Size::new(40, 10));
                widgets::rounded(r, 3, theme::BG, target)?;
            }
            Ok(())
        }
        AlertKind::CorruptSong => {
            // A note, struck through.
            widgets::dot(c + Point::new(-8, 12), 16, theme::BG, target)?;
            widgets::fill(rect(c.x - 2, c.y - 20, 4, 32), theme::BG, target)?;
            Line::new(c + Point::new(0, -19), c + Point::new(12, -10))
                .draw_styled(&stroke, target)?;
            Line::new(c + Point::new(-22, 20), c + Point::new(22, -20))
                .draw_styled(&PrimitiveStyle::with_stroke(theme::BG, 5), target)
        }
        AlertKind::NoNetwork => {
            // Wireless waves, struck through.
            let wave = PrimitiveStyle::with_stroke(theme::BG, 4);
            for d in [16u32, 32, 48] {
                let r = d as i32 / 2;
                Arc::new(
                    c + Point::new(-r, 8 - r),
                    d,
                    Angle::from_degrees(-135.0),
                    Angle::from_degrees(90.0),
                )
                .draw_styled(&wave, target)?;
            }
            widgets::dot(c + Point::new(0, 8), 8, theme::BG, target)?;
            Line::new(c + Point::new(-20, -18), c + Point::new(20, 22))
                .draw_styled(&PrimitiveStyle::with_stroke(theme::BG, 4), target)
        }
        AlertKind::BadSettings => {
            // A page of settings with a folded corner.
            let page = Rectangle::new(c + Point::new(-17, -23), Size::new(34, 46));
            widgets::rounded(page, 3, theme::BG, target)?;
            Triangle::new(
                c + Point::new(7, -24),
                c + Point::new(18, -24),
                c + Point::new(18, -13),
            )
            .draw_styled(&PrimitiveStyle::with_fill(disc), target)?;
            for (i, w) in [(0, 14), (1, 22), (2, 22), (3, 12)] {
                widgets::fill(rect(c.x - 11, c.y - 12 + i * 8, w, 3), disc, target)?;
            }
            Ok(())
        }
    }
}
