//! Pieces every screen shares: the dark theme's colours, rounded panels, bars, button
//! badges, the sync mark, and the toast banner.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    Circle, PrimitiveStyle, Rectangle, RoundedRectangle, StyledDrawable,
};

use super::text::{self, Align, Face};
use crate::ui::buttons::Button;
use crate::ui::view::SyncMark;

/// An RGB888 colour as the panel's RGB565 (const, so the theme is a table of constants).
pub const fn rgb(r: u8, g: u8, b: u8) -> Rgb565 {
    Rgb565::new(r >> 3, g >> 2, b >> 3)
}

/// The theme: a near-black blue-grey background, so the backlight glow is not grey, with
/// one teal accent; green, amber and red only for states.
pub mod theme {
    use super::rgb;
    use embedded_graphics::pixelcolor::Rgb565;

    pub const BG: Rgb565 = rgb(12, 14, 20);
    pub const PANEL: Rgb565 = rgb(28, 33, 44);
    pub const PANEL_HI: Rgb565 = rgb(44, 52, 68);
    pub const TEXT: Rgb565 = rgb(240, 242, 246);
    pub const DIM: Rgb565 = rgb(160, 168, 184);
    pub const FAINT: Rgb565 = rgb(96, 104, 120);
    pub const ACCENT: Rgb565 = rgb(40, 200, 180);
    pub const ACCENT_DARK: Rgb565 = rgb(16, 72, 68);
    pub const GREEN: Rgb565 = rgb(70, 210, 110);
    pub const AMBER: Rgb565 = rgb(255, 176, 32);
    pub const RED: Rgb565 = rgb(255, 84, 84);
    pub const BLUE: Rgb565 = rgb(90, 150, 255);
    pub const GREY: Rgb565 = rgb(130, 138, 152);
}

/// Left and right margin of every screen.
pub const MARGIN: i32 = 12;
/// Width inside the margins.
pub const INNER: i32 = 240 - 2 * MARGIN;

pub fn rect(x: i32, y: i32, w: i32, h: i32) -> Rectangle {
    Rectangle::new(
        Point::new(x, y),
        Size::new(w.max(0) as u32, h.max(0) as u32),
    )
}

pub fn fill<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    area.draw_styled(&PrimitiveStyle::with_fill(color), target)
}

pub fn rounded<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    radius: u32,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    RoundedRectangle::with_equal_corners(area, Size::new(radius, radius))
        .draw_styled(&PrimitiveStyle::with_fill(color), target)
}

pub fn dot<D: DrawTarget<Color = Rgb565>>(
    center: Point,
    diameter: u32,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    Circle::with_center(center, diameter).draw_styled(&PrimitiveStyle::with_fill(color), target)
}

/// A horizontal bar filled to `fraction` (0 to 1), rounded ends.
pub fn bar<D: DrawTarget<Color = Rgb565>>(
    area: Rectangle,
    fraction: f32,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    let radius = area.size.height / 2;
    rounded(area, radius, theme::PANEL_HI, target)?;
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let w = (area.size.width as f32 * f).round() as u32;
    if w > 0 {
        let done = Rectangle::new(
            area.top_left,
            Size::new(w.max(area.size.height), area.size.height),
        );
        rounded(done, radius, color, target)?;
    }
    Ok(())
}

/// A pill-shaped label: `text` in `face` on `bg`, its left edge at `x` and its box
/// `h` high from `top`. Returns its width, so pills can be laid out in a row.
#[allow(clippy::too_many_arguments)] // position, size and colours of one small thing
pub fn pill<D: DrawTarget<Color = Rgb565>>(
    face: &Face,
    label: &str,
    (x, top): (i32, i32),
    h: i32,
    fg: Rgb565,
    bg: Rgb565,
    align: Align,
    target: &mut D,
) -> Result<i32, D::Error> {
    let w = face.width(label) + h;
    let left = match align {
        Align::Left => x,
        Align::Center => x - w / 2,
        Align::Right => x - w,
    };
    rounded(rect(left, top, w, h), (h / 2) as u32, bg, target)?;
    let baseline = top + (h + face.cap) / 2;
    face.draw(label, Point::new(left + h / 2, baseline), fg, target)?;
    Ok(w)
}

/// A button's letter in a filled circle, as printed beside the screen.
pub fn badge<D: DrawTarget<Color = Rgb565>>(
    button: Button,
    center: Point,
    bg: Rgb565,
    fg: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    dot(center, 22, bg, target)?;
    let letter = button.to_string();
    let w = text::LABEL.width(&letter);
    let at = Point::new(center.x - w / 2, center.y + text::LABEL.cap / 2);
    text::LABEL.draw(&letter, at, fg, target).map(|_| ())
}

/// The colour and words of a sync mark.
pub fn sync_look(mark: SyncMark) -> (Rgb565, &'static str) {
    match mark {
        SyncMark::Locked => (theme::GREEN, "in sync"),
        SyncMark::Close => (theme::AMBER, "syncing"),
        SyncMark::Off => (theme::RED, "off sync"),
        SyncMark::Silent => (theme::GREY, "no copy"),
    }
}

/// The toast: a banner over the bottom of the screen, two lines at most.
pub fn toast<D: DrawTarget<Color = Rgb565>>(message: &str, target: &mut D) -> Result<(), D::Error> {
    let face = &text::BODY;
    let lines = face.wrap(message, INNER - 24, 2);
    let h = 14 + face.line * lines.len() as i32;
    let top = 240 - 8 - h;
    // A dark rim keeps the banner apart from whatever the screen shows under it.
    rounded(rect(6, top - 2, 228, h + 4), 12, theme::BG, target)?;
    rounded(rect(8, top, 224, h), 10, theme::PANEL_HI, target)?;
    fill(rect(8, top + 8, 4, h - 16), theme::ACCENT, target)?;
    for (i, l) in lines.iter().enumerate() {
        let baseline = top + 7 + face.cap + i as i32 * face.line;
        face.draw(l, Point::new(MARGIN + 12, baseline), theme::TEXT, target)?;
    }
    Ok(())
}

/// The party line across the top of the fetching and playing screens: the party's name
/// on the left, its size and this box's role on the right.
pub fn party_header<D: DrawTarget<Color = Rgb565>>(
    party: &crate::ui::view::PartyLine,
    target: &mut D,
) -> Result<(), D::Error> {
    use crate::ui::view::Role;
    let role = match party.role {
        Role::Host => "HOST",
        Role::Member => "GUEST",
    };
    let (role_fg, role_bg) = match party.role {
        Role::Host => (theme::BG, theme::ACCENT),
        Role::Member => (theme::TEXT, theme::PANEL_HI),
    };
    let role_w = pill(
        &text::TINY_BOLD,
        role,
        (240 - MARGIN, 9),
        18,
        role_fg,
        role_bg,
        Align::Right,
        target,
    )?;
    // The size as a speaker pictogram and a number: "3 boxes" in words would leave the
    // party's name too little room.
    let size = party.size.to_string();
    let size_w = 12 + text::LABEL.width(&size);
    let size_right = 240 - MARGIN - role_w - 8;
    speaker(Point::new(size_right - size_w, 9), theme::DIM, target)?;
    text::LABEL.draw(
        &size,
        Point::new(size_right - size_w + 12, 23),
        theme::DIM,
        target,
    )?;
    // A keyed party shows a padlock before the size: strangers cannot see or join it.
    let lock_w = if party.keyed {
        let left = size_right - size_w - 6 - LOCK_W;
        lock(Point::new(left, 9), theme::ACCENT, target)?;
        LOCK_W + 6
    } else {
        0
    };
    let name_w = size_right - size_w - lock_w - 8 - MARGIN;
    let Some(playlist) = &party.playlist else {
        text::line(
            &text::LABEL,
            &party.name,
            (MARGIN, 23),
            name_w,
            Align::Left,
            theme::TEXT,
            target,
        )?;
        return fill(rect(0, 34, 240, 1), theme::PANEL, target);
    };
    // Whose party, small, over the playlist it plays (cut to fit, like the name).
    text::line(
        &text::TINY,
        &party.name,
        (MARGIN, 14),
        name_w,
        Align::Left,
        theme::DIM,
        target,
    )?;
    note(Point::new(MARGIN, 18), theme::ACCENT, target)?;
    text::line(
        &text::LABEL,
        playlist,
        (MARGIN + 14, 30),
        name_w - 14,
        Align::Left,
        theme::TEXT,
        target,
    )?;
    fill(rect(0, 34, 240, 1), theme::PANEL, target)
}

/// Width of the padlock pictogram.
const LOCK_W: i32 = 11;

/// A small padlock (11 x 15 px from `top_left`): stands for "keyed".
pub fn lock<D: DrawTarget<Color = Rgb565>>(
    top_left: Point,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    let shackle = PrimitiveStyle::with_stroke(color, 2);
    RoundedRectangle::with_equal_corners(
        Rectangle::new(top_left + Point::new(2, 0), Size::new(7, 10)),
        Size::new(3, 3),
    )
    .draw_styled(&shackle, target)?;
    RoundedRectangle::with_equal_corners(
        Rectangle::new(top_left + Point::new(0, 6), Size::new(LOCK_W as u32, 9)),
        Size::new(2, 2),
    )
    .draw_styled(&PrimitiveStyle::with_fill(color), target)?;
    fill(
        rect(top_left.x + 5, top_left.y + 9, 1, 3),
        theme::BG,
        target,
    )
}

/// A quaver (8 x 13 px from `top_left`): stands for "playlist".
fn note<D: DrawTarget<Color = Rgb565>>(
    top_left: Point,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    dot(top_left + Point::new(3, 10), 6, color, target)?;
    fill(rect(top_left.x + 4, top_left.y, 2, 10), color, target)?;
    fill(rect(top_left.x + 6, top_left.y + 1, 2, 2), color, target)?;
    fill(rect(top_left.x + 7, top_left.y + 3, 2, 2), color, target)
}

/// A small speaker box (9 x 15 px from `top_left`): stands for "boxes".
pub fn speaker<D: DrawTarget<Color = Rgb565>>(
    top_left: Point,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error> {
    let outline = PrimitiveStyle::with_stroke(color, 1);
    RoundedRectangle::with_equal_corners(
        Rectangle::new(top_left, Size::new(9, 15)),
        Size::new(2, 2),
    )
    .draw_styled(&outline, target)?;
    dot(top_left + Point::new(4, 4), 3, color, target)?;
    dot(top_left + Point::new(4, 10), 5, color, target)
}
