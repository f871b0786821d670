//! The idle screen: the box's name, what it sees, and the button legend in the corners.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;

use super::format;
use super::text::{self, Align};
use super::widgets::{self, rect, theme, INNER, MARGIN};
use crate::ui::buttons::Button;
use crate::ui::view::{Idle, LegendRow, View};

/// Width one corner's legend may take: half the screen, less a gap.
const CORNER_W: i32 = INNER / 2 - 4;

pub fn draw<D: DrawTarget<Color = Rgb565>>(
    view: &View,
    idle: &Idle,
    target: &mut D,
) -> Result<(), D::Error> {
    for row in &idle.legend {
        legend(row, target)?;
    }

    text::line(
        &text::HUGE,
        &view.name,
        (MARGIN, 108),
        INNER,
        Align::Center,
        theme::TEXT,
        target,
    )?;
    widgets::rounded(rect(120 - 16, 120, 32, 3), 1, theme::ACCENT, target)?;
    let nearby = if view.neighbours == 0 {
        "No boxes nearby".to_owned()
    } else {
        format!("{} nearby", format::count(view.neighbours, "box", "boxes"))
    };
    text::line(
        &text::BODY,
        &nearby,
        (MARGIN, 146),
        INNER,
        Align::Center,
        theme::DIM,
        target,
    )?;
    if idle.invitations > 0 {
        let label = format!(
            "{} waiting",
            format::count(idle.invitations, "invitation", "invitations")
        );
        widgets::pill(
            &text::LABEL,
            &label,
            (120, 158),
            24,
            theme::BG,
            theme::ACCENT,
            Align::Center,
            target,
        )?;
    }
    Ok(())
}

/// One button's legend, in the corner beside that button on the Pirate Audio: A top
/// left, B bottom left, X top right, Y bottom right. The long-press line sits on the
/// side towards the middle of the screen.
fn legend<D: DrawTarget<Color = Rgb565>>(row: &LegendRow, target: &mut D) -> Result<(), D::Error> {
    let (left, top) = match row.button {
        Button::A => (true, true),
        Button::B => (true, false),
        Button::X => (false, true),
        Button::Y => (false, false),
    };
    let badge_y = if top { 22 } else { 240 - 22 };
    let badge_x = if left { MARGIN + 11 } else { 240 - MARGIN - 11 };
    widgets::badge(
        row.button,
        Point::new(badge_x, badge_y),
        theme::PANEL_HI,
        theme::TEXT,
        target,
    )?;

    let (x, align) = if left {
        (badge_x + 17, Align::Left)
    } else {
        (badge_x - 17 - (CORNER_W - 28), Align::Right)
    };
    let w = CORNER_W - 28;
    let short_baseline = badge_y + text::LABEL.cap / 2;
    text::line(
        &text::LABEL,
        &row.short,
        (x, short_baseline),
        w,
        align,
        theme::TEXT,
        target,
    )?;
    if let Some(long) = &row.long {
        let long = format!("hold: {long}");
        let baseline = if top {
            short_baseline + 20
        } else {
            short_baseline - 22
        };
        let (lx, lalign) = if left {
            (MARGIN, Align::Left)
        } else {
            (240 - MARGIN - CORNER_W, Align::Right)
        };
        text::line(
            &text::TINY,
            &long,
            (lx, baseline),
            CORNER_W,
            lalign,
            theme::FAINT,
            target,
        )?;
    }
    Ok(())
}
