//! The fetching screen: the song the party plays first, and how its download goes.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

use super::format;
use super::text::{self, Align};
use super::widgets::{self, rect, theme, INNER, MARGIN};
use crate::ui::view::{Fetching, View};

const BAR_TOP: i32 = 132;
const BAR_H: i32 = 12;

pub fn draw<D: DrawTarget<Color = Rgb565>>(
    view: &View,
    f: &Fetching,
    target: &mut D,
) -> Result<(), D::Error> {
    widgets::party_header(&f.party, target)?;

    text::line(
        &text::SMALL,
        "Getting the song",
        (MARGIN, 72),
        INNER,
        Align::Left,
        theme::DIM,
        target,
    )?;
    text::line(
        &text::TITLE,
        &f.title,
        (MARGIN, 104),
        INNER,
        Align::Left,
        theme::TEXT,
        target,
    )?;

    let bar = rect(MARGIN, BAR_TOP, INNER, BAR_H);
    let below = BAR_TOP + BAR_H + 24;
    match f.fraction {
        Some(fraction) => {
            widgets::bar(bar, fraction, theme::ACCENT, target)?;
            let percent = format!("{}%", (fraction.clamp(0.0, 1.0) * 100.0).floor() as u32);
            text::BODY_BOLD.draw(&percent, Point::new(MARGIN, below), theme::TEXT, target)?;
        }
        None => {
            indeterminate(bar, view.tick_ms, target)?;
            text::BODY.draw(
                "size unknown",
                Point::new(MARGIN, below),
                theme::DIM,
                target,
            )?;
        }
    }
    let rate = format::rate(f.rate_bps);
    text::line(
        &text::BODY,
        &rate,
        (120, below),
        INNER / 2,
        Align::Right,
        theme::TEXT,
        target,
    )?;
    if let Some(eta) = f.eta_s {
        text::line(
            &text::SMALL,
            &format::eta(eta),
            (120, below + 22),
            INNER / 2,
            Align::Right,
            theme::DIM,
            target,
        )?;
    }
    Ok(())
}

/// A bar of slanted stripes that move with the tick: "working, size unknown".
fn indeterminate<D: DrawTarget<Color = Rgb565>>(
    bar: Rectangle,
    tick_ms: u64,
    target: &mut D,
) -> Result<(), D::Error> {
    widgets::rounded(bar, bar.size.height / 2, theme::PANEL_HI, target)?;
    let period = 16;
    let shift = i32::try_from((tick_ms / 60) % period as u64).unwrap_or(0);
    let mut clipped = target.clipped(&Rectangle::new(
        bar.top_left + Point::new(2, 2),
        bar.size.saturating_sub(Size::new(4, 4)),
    ));
    let h = bar.size.height as i32;
    let mut x = bar.top_left.x - h - period + shift;
    while x < bar.top_left.x + bar.size.width as i32 {
        for row in 0..h {
            let y = bar.top_left.y + row;
            let sx = x + (h - row);
            widgets::fill(rect(sx, y, period / 2, 1), theme::ACCENT_DARK, &mut clipped)?;
        }
        x += period;
    }
    Ok(())
}
