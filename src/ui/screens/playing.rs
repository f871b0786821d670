//! The playing screen: cover art, title and artist (scrolling when long), time and
//! position, the party line, this box's sync mark and both volumes.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, Line, PrimitiveStyle, Rectangle, StyledDrawable};

use super::format;
use super::text::{self, Align, Face};
use super::widgets::{self, rect, theme, INNER, MARGIN};
use crate::ui::cover::{scale_to_fit, Cover};
use crate::ui::view::{Playing, View};

/// Side of the cover art square, in pixels.
pub const COVER: i32 = 112;
const COVER_TOP: i32 = 44;
/// Left edge and width of the column beside the cover.
const SIDE_X: i32 = MARGIN + COVER + 12;
const SIDE_W: i32 = 240 - MARGIN - SIDE_X;

pub fn draw<D: DrawTarget<Color = Rgb565>>(
    view: &View,
    p: &Playing,
    target: &mut D,
) -> Result<(), D::Error> {
    widgets::party_header(&p.party, target)?;
    let area = rect(MARGIN, COVER_TOP, COVER, COVER);
    match &p.cover {
        Some(cover) => art(cover, area, p.paused, target)?,
        None => placeholder(area, target)?,
    }
    if p.paused {
        pause_mark(area, target)?;
    }
    side_column(view, p, target)?;

    let text_top = COVER_TOP + COVER + 6;
    scrolling(
        &text::TITLE,
        &p.title,
        text_top,
        view.tick_ms,
        theme::TEXT,
        target,
    )?;
    if let Some(artist) = &p.artist {
        scrolling(
            &text::BODY,
            artist,
            text_top + 25,
            view.tick_ms,
            theme::DIM,
            target,
        )?;
    }

    let fraction = match p.total_ms {
        Some(total) if total > 0 => p.elapsed_ms as f32 / total as f32,
        _ => 0.0,
    };
    let bar_color = if p.paused {
        theme::FAINT
    } else {
        theme::ACCENT
    };
    widgets::bar(rect(MARGIN, 212, INNER, 5), fraction, bar_color, target)?;
    let total = p.total_ms.map_or_else(|| "-:--".to_owned(), format::clock);
    let time_color = if p.paused { theme::DIM } else { theme::TEXT };
    text::SMALL.draw(
        &format::clock(p.elapsed_ms),
        Point::new(MARGIN, 234),
        time_color,
        target,
    )?;
    text::line(
        &text::SMALL,
        &total,
        (MARGIN, 234),
        INNER,
        Align::Right,
        theme::DIM,
        target,
    )?;
    if p.paused {
        text::line(
            &text::LABEL,
            "PAUSED",
            (MARGIN, 234),
            INNER,
            Align::Center,
            theme::AMBER,
            target,
        )?;
    }
    Ok(())
}

/// One line of text across the screen, scrolling through when wider than the screen.
fn scrolling<D: DrawTarget<Color = Rgb565>>(
    face: &Face,
    line: &str,
    top: i32,
    tick_ms: u64,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    let w = face.width(line);
    let offset = format::scroll_offset(w, INNER, tick_ms);
    let baseline = top + face.cap + 2;
    // Clip to the margins, with room for descenders and accents above capitals.
    let mut clip = target.clipped(&rect(MARGIN, top - 4, INNER, face.line + 6));
    face.draw(
        line,
        Point::new(MARGIN - offset, baseline),
        color,
        &mut clip,
    )?;
    if w > INNER {
        let again = MARGIN - offset + w + format::SCROLL_GAP;
        face.draw(line, Point::new(again, baseline), color, &mut clip)?;
    }
    Ok(())
}

/// The cover, scaled into `area`; dimmed while paused so the pause mark reads.
fn art<D: DrawTarget<Color = Rgb565>>(
    cover: &Cover,
    area: Rectangle,
    paused: bool,
    target: &mut D,
) -> Result<(), D::Error> {
    let mut pixels = scale_to_fit(cover, area.size.width);
    if paused {
        for p in &mut pixels {
            *p = Rgb565::new(p.r() * 2 / 5, p.g() * 2 / 5, p.b() * 2 / 5);
        }
    }
    target.fill_contiguous(&area, pixels)?;
    round_corners(area, target)
}

/// Cuts the cover's square corners to match the rounded panels elsewhere.
fn round_corners<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    target: &mut D,
) -> Result<(), D::Error> {
    // Pixels of a 4 px radius corner that lie outside the arc, from the corner inward.
    const CUT: [(i32, i32); 6] = [(0, 0), (1, 0), (2, 0), (0, 1), (0, 2), (1, 1)];
    let (x0, y0) = (area.top_left.x, area.top_left.y);
    let (x1, y1) = (
        x0 + area.size.width as i32 - 1,
        y0 + area.size.height as i32 - 1,
    );
    let pixels = CUT.iter().flat_map(|&(dx, dy)| {
        [
            Point::new(x0 + dx, y0 + dy),
            Point::new(x1 - dx, y0 + dy),
            Point::new(x0 + dx, y1 - dy),
            Point::new(x1 - dx, y1 - dy),
        ]
    });
    target.draw_iter(pixels.map(|p| Pixel(p, theme::BG)))
}

/// No picture: a panel with a note drawn in it.
fn placeholder<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    target: &mut D,
) -> Result<(), D::Error> {
    widgets::rounded(area, 6, theme::PANEL, target)?;
    let c = area.center();
    let fill = PrimitiveStyle::with_fill(theme::PANEL_HI);
    // Two beamed quavers, about a third of the panel.
    Circle::with_center(c + Point::new(-14, 18), 18).draw_styled(&fill, target)?;
    Circle::with_center(c + Point::new(16, 12), 18).draw_styled(&fill, target)?;
    widgets::fill(rect(c.x - 8, c.y - 22, 4, 40), theme::PANEL_HI, target)?;
    widgets::fill(rect(c.x + 22, c.y - 28, 4, 40), theme::PANEL_HI, target)?;
    Line::new(c + Point::new(-6, -24), c + Point::new(24, -30))
        .draw_styled(&PrimitiveStyle::with_stroke(theme::PANEL_HI, 7), target)
}

/// Two bars in a dark disc over the middle of the cover.
fn pause_mark<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    target: &mut D,
) -> Result<(), D::Error> {
    let c = area.center();
    widgets::dot(c, 44, theme::BG, target)?;
    widgets::fill(rect(c.x - 8, c.y - 10, 6, 20), theme::TEXT, target)?;
    widgets::fill(rect(c.x + 3, c.y - 10, 6, 20), theme::TEXT, target)
}

/// Beside the cover: the sync mark, then box and party volume, each labelled.
fn side_column<D: DrawTarget<Color = Rgb565>>(
    view: &View,
    p: &Playing,
    target: &mut D,
) -> Result<(), D::Error> {
    let (color, words) = widgets::sync_look(p.sync);
    widgets::dot(Point::new(SIDE_X + 5, COVER_TOP + 10), 10, color, target)?;
    text::line(
        &text::SMALL,
        words,
        (SIDE_X + 16, COVER_TOP + 15),
        SIDE_W - 16,
        Align::Left,
        color,
        target,
    )?;

    volume("BOX", Some(view.box_volume), COVER_TOP + 46, target)?;
    volume("PARTY", view.party_volume, COVER_TOP + 84, target)
}

/// A labelled volume: the label and number on one line, a thin bar under them.
fn volume<D: DrawTarget<Color = Rgb565>>(
    label: &str,
    value: Option<u8>,
    baseline: i32,
    target: &mut D,
) -> Result<(), D::Error> {
    text::LABEL.draw(label, Point::new(SIDE_X, baseline), theme::FAINT, target)?;
    let number = value.map_or_else(|| "\u{2013}".to_owned(), |v| v.to_string());
    text::line(
        &text::BODY_BOLD,
        &number,
        (SIDE_X, baseline),
        SIDE_W,
        Align::Right,
        theme::TEXT,
        target,
    )?;
    let fraction = f32::from(value.unwrap_or(0)) / 100.0;
    widgets::bar(
        rect(SIDE_X, baseline + 8, SIDE_W, 6),
        fraction,
        theme::DIM,
        target,
    )
}
