//! The invitation screen: who invites, who joined, when it starts, and which button joins.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;

use super::format;
use super::text::{self, Align};
use super::widgets::{self, theme, INNER, MARGIN};
use crate::ui::buttons::Button;
use crate::ui::view::{Invitation, View};

pub fn draw<D: DrawTarget<Color = Rgb565>>(
    _view: &View,
    inv: &Invitation,
    target: &mut D,
) -> Result<(), D::Error> {
    // The join hint sits beside the join button; the heading takes the other edge.
    let hint_on_top = matches!(inv.join_button, Button::A | Button::X);
    let (heading_y, pill_y) = if hint_on_top { (226, 210) } else { (26, 10) };
    let heading = if inv.hosting {
        "YOUR PARTY"
    } else {
        "INVITATION"
    };
    text::LABEL.draw(
        heading,
        Point::new(MARGIN, heading_y),
        theme::ACCENT,
        target,
    )?;
    if inv.keyed {
        let x = MARGIN + text::LABEL.width(heading) + 8;
        widgets::lock(Point::new(x, heading_y - 14), theme::ACCENT, target)?;
    }
    if inv.more > 0 {
        let more = format!("+{} more", inv.more);
        widgets::pill(
            &text::LABEL,
            &more,
            (240 - MARGIN, pill_y),
            22,
            theme::TEXT,
            theme::PANEL_HI,
            Align::Right,
            target,
        )?;
    }

    text::line(
        &text::SMALL,
        "Party hosted by",
        (MARGIN, 66),
        INNER,
        Align::Center,
        theme::DIM,
        target,
    )?;
    text::line(
        &text::HUGE,
        &inv.host_name,
        (MARGIN, 100),
        INNER,
        Align::Center,
        theme::TEXT,
        target,
    )?;
    let joined = match inv.joined {
        0 => "No one joined yet".to_owned(),
        n => format!("{} joined", format::count(n, "box", "boxes")),
    };
    text::line(
        &text::BODY,
        &joined,
        (MARGIN, 126),
        INNER,
        Align::Center,
        theme::DIM,
        target,
    )?;

    when_pill(inv, target)?;
    join_hint(inv, target)
}

/// When it starts: the countdown, or a green "playing now" for a late join.
fn when_pill<D: DrawTarget<Color = Rgb565>>(
    inv: &Invitation,
    target: &mut D,
) -> Result<(), D::Error> {
    let (when, color) = match inv.starts_in_s {
        Some(s) => (format!("starts in {s} s"), theme::ACCENT),
        None if inv.hosting => ("party started".to_owned(), theme::GREEN),
        None => ("playing now".to_owned(), theme::GREEN),
    };
    let w = text::BODY_BOLD.width(&when) + 40;
    let left = 120 - w / 2;
    widgets::rounded(widgets::rect(left, 142, w, 28), 14, theme::PANEL, target)?;
    widgets::dot(Point::new(left + 16, 156), 8, color, target)?;
    text::BODY_BOLD.draw(
        &when,
        Point::new(left + 27, 156 + text::BODY_BOLD.cap / 2),
        color,
        target,
    )?;
    Ok(())
}

/// The join hint beside the join button (the Pirate Audio's buttons flank the screen),
/// or "joining…" once asked.
fn join_hint<D: DrawTarget<Color = Rgb565>>(
    inv: &Invitation,
    target: &mut D,
) -> Result<(), D::Error> {
    let left = matches!(inv.join_button, Button::A | Button::B);
    let top = matches!(inv.join_button, Button::A | Button::X);
    let y = if top { 22 } else { 240 - 22 };
    let x = if left { MARGIN + 11 } else { 240 - MARGIN - 11 };
    let (label, badge_bg, fg) = if inv.hosting {
        (
            "Waiting for guests\u{2026}".to_owned(),
            theme::PANEL_HI,
            theme::DIM,
        )
    } else if inv.joining {
        ("Joining\u{2026}".to_owned(), theme::PANEL_HI, theme::DIM)
    } else {
        (
            format!("Press {} to join", inv.join_button),
            theme::ACCENT,
            theme::TEXT,
        )
    };
    widgets::badge(
        inv.join_button,
        Point::new(x, y),
        badge_bg,
        theme::BG,
        target,
    )?;
    let baseline = y + text::BODY_BOLD.cap / 2;
    let w = INNER - 30;
    let (tx, align) = if left {
        (x + 18, Align::Left)
    } else {
        (x - 18 - w, Align::Right)
    };
    text::line(
        &text::BODY_BOLD,
        &label,
        (tx, baseline),
        w,
        align,
        fg,
        target,
    )
}
