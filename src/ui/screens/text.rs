//! Text on the screens: font faces with fallback chains (Latin, Greek, Cyrillic, CJK),
//! measuring, drawing, truncating with an ellipsis and word wrapping.
//!
//! No single u8g2 font covers every script a song title may use, so each [`Face`] is a
//! chain: the first font that has a character draws it. A few typographic characters no
//! font in the chain has (dashes, the ellipsis, curly quotes) are drawn or substituted
//! here, and anything else is drawn as an outlined box, so a title is never garbled or
//! silently shortened.

use std::borrow::Cow;

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle, StyledDrawable};
use u8g2_fonts::types::{FontColor, VerticalPosition};
use u8g2_fonts::{fonts, FontRenderer};

/// A font face: a chain of fonts tried in order, and the metrics layout uses.
#[derive(Debug)]
pub struct Face {
    fonts: &'static [FontRenderer],
    /// Height of a capital letter of the first font, in pixels.
    pub cap: i32,
    /// Distance between the baselines of two lines.
    pub line: i32,
}

/// Fallbacks shared by every face, after its own Latin font. Unifont is 16 px, which
/// keeps CJK legible; the 9x9 "boutique" font covers nearly everything else, small.
macro_rules! chain {
    ($latin:ident, $cyrillic:ident, $greek:ident) => {
        [
            FontRenderer::new::<fonts::$latin>(),
            FontRenderer::new::<fonts::$cyrillic>(),
            FontRenderer::new::<fonts::$greek>(),
            FontRenderer::new::<fonts::u8g2_font_unifont_t_japanese3>(),
            FontRenderer::new::<fonts::u8g2_font_unifont_t_gb2312>(),
            FontRenderer::new::<fonts::u8g2_font_unifont_t_korean2>(),
            FontRenderer::new::<fonts::u8g2_font_unifont_t_symbols>(),
            FontRenderer::new::<fonts::u8g2_font_boutique_bitmap_9x9_t_all>(),
        ]
    };
}

static HUGE_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvB24_te,
    u8g2_font_inr24_t_cyrillic,
    u8g2_font_10x20_t_greek
);
static TITLE_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvB18_te,
    u8g2_font_10x20_t_cyrillic,
    u8g2_font_10x20_t_greek
);
static BODY_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvR14_te,
    u8g2_font_9x15_t_cyrillic,
    u8g2_font_unifont_t_greek
);
static BODY_BOLD_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvB14_te,
    u8g2_font_9x15_t_cyrillic,
    u8g2_font_unifont_t_greek
);
static SMALL_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvR12_te,
    u8g2_font_9x15_t_cyrillic,
    u8g2_font_unifont_t_greek
);
static LABEL_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvB12_te,
    u8g2_font_9x15_t_cyrillic,
    u8g2_font_unifont_t_greek
);

/// Box names and big numbers.
pub static HUGE: Face = Face {
    fonts: &HUGE_FONTS,
    cap: 25,
    line: 32,
};
/// Song titles and headlines.
pub static TITLE: Face = Face {
    fonts: &TITLE_FONTS,
    cap: 19,
    line: 24,
};
/// Artists, messages.
pub static BODY: Face = Face {
    fonts: &BODY_FONTS,
    cap: 14,
    line: 19,
};
pub static BODY_BOLD: Face = Face {
    fonts: &BODY_BOLD_FONTS,
    cap: 14,
    line: 19,
};
/// Secondary information.
pub static SMALL: Face = Face {
    fonts: &SMALL_FONTS,
    cap: 12,
    line: 16,
};
static TINY_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvR10_te,
    u8g2_font_6x13_t_cyrillic,
    u8g2_font_unifont_t_greek
);

/// Labels and button letters.
pub static LABEL: Face = Face {
    fonts: &LABEL_FONTS,
    cap: 12,
    line: 16,
};

static TINY_BOLD_FONTS: [FontRenderer; 8] = chain!(
    u8g2_font_helvB10_te,
    u8g2_font_6x13B_t_cyrillic,
    u8g2_font_unifont_t_greek
);

/// Small badges ("HOST").
pub static TINY_BOLD: Face = Face {
    fonts: &TINY_BOLD_FONTS,
    cap: 11,
    line: 14,
};

/// The smallest text: hints that must fit in a corner (capitals 11 px).
pub static TINY: Face = Face {
    fonts: &TINY_FONTS,
    cap: 11,
    line: 14,
};

/// How one character is drawn.
#[derive(Clone, Copy, Debug)]
enum Glyph {
    Font(&'static FontRenderer, i32),
    /// The ellipsis, as three dots: few Latin fonts have U+2026.
    Dots(i32),
    /// En and em dash, as a bar: not in the Latin-1 fonts.
    Dash(i32),
    Space(i32),
    /// Not in any font: an outlined box, so the reader sees something is there.
    Missing(i32),
}

impl Glyph {
    fn advance(self) -> i32 {
        match self {
            Glyph::Font(_, a)
            | Glyph::Dots(a)
            | Glyph::Dash(a)
            | Glyph::Space(a)
            | Glyph::Missing(a) => a,
        }
    }
}

/// Typographic characters with a plain equivalent in every font.
fn substitute(ch: char) -> char {
    match ch {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => '"',
        '\u{2022}' | '\u{2219}' => '\u{B7}',
        '\u{2010}' | '\u{2011}' | '\u{2212}' => '-',
        '\t' | '\n' | '\r' | '\u{A0}' | '\u{2009}' | '\u{202F}' => ' ',
        c => c,
    }
}

impl Face {
    fn glyph(&self, ch: char) -> Glyph {
        let ch = substitute(ch);
        match ch {
            '\u{2026}' => return Glyph::Dots(self.cap),
            '\u{2013}' => return Glyph::Dash(self.cap * 2 / 3),
            '\u{2014}' | '\u{2015}' => return Glyph::Dash(self.cap),
            _ => {}
        }
        for font in self.fonts {
            if let Ok(d) =
                font.get_rendered_dimensions(ch, Point::zero(), VerticalPosition::Baseline)
            {
                return Glyph::Font(font, d.advance.x);
            }
        }
        if ch.is_whitespace() {
            Glyph::Space(self.cap / 3)
        } else {
            Glyph::Missing(self.cap * 2 / 3 + 2)
        }
    }

    /// Width of `text` in pixels.
    pub fn width(&self, text: &str) -> i32 {
        text.chars().map(|c| self.glyph(c).advance()).sum()
    }

    /// Draws `text` with its baseline's left end at `at`; returns the advance.
    pub fn draw<D>(
        &self,
        text: &str,
        at: Point,
        color: Rgb565,
        target: &mut D,
    ) -> Result<i32, D::Error>
    where
        D: DrawTarget<Color = Rgb565>,
    {
        let mut x = at.x;
        for ch in text.chars() {
            let glyph = self.glyph(ch);
            let pos = Point::new(x, at.y);
            self.draw_glyph(glyph, ch, pos, color, target)?;
            x += glyph.advance();
        }
        Ok(x - at.x)
    }

    fn draw_glyph<D>(
        &self,
        glyph: Glyph,
        ch: char,
        at: Point,
        color: Rgb565,
        target: &mut D,
    ) -> Result<(), D::Error>
    where
        D: DrawTarget<Color = Rgb565>,
    {
        let fill = PrimitiveStyle::with_fill(color);
        let dot = (self.cap / 7).max(2);
        match glyph {
            Glyph::Font(font, _) => {
                let ch = substitute(ch);
                match font.render(
                    ch,
                    at,
                    VerticalPosition::Baseline,
                    FontColor::Transparent(color),
                    target,
                ) {
                    Ok(_) => Ok(()),
                    Err(u8g2_fonts::Error::DisplayError(e)) => Err(e),
                    // Looked up just before; nothing else can fail for a transparent glyph.
                    Err(_) => Ok(()),
                }
            }
            Glyph::Dots(advance) => {
                let step = advance / 3;
                for i in 0..3 {
                    let x = at.x + i * step + (step - dot) / 2;
                    Rectangle::new(Point::new(x, at.y - dot), Size::new(dot as u32, dot as u32))
                        .draw_styled(&fill, target)?;
                }
                Ok(())
            }
            Glyph::Dash(advance) => {
                let y = at.y - self.cap * 2 / 5;
                Rectangle::new(
                    Point::new(at.x + 1, y),
                    Size::new((advance - 2).max(1) as u32, dot as u32),
                )
                .draw_styled(&fill, target)
            }
            Glyph::Space(_) => Ok(()),
            Glyph::Missing(advance) => {
                let outline = PrimitiveStyle::with_stroke(color, 1);
                Rectangle::new(
                    Point::new(at.x + 1, at.y - self.cap),
                    Size::new((advance - 2).max(2) as u32, self.cap as u32),
                )
                .draw_styled(&outline, target)
            }
        }
    }

    /// `text` cut so it is at most `max` pixels wide, ending in "…" when cut.
    pub fn fit<'a>(&self, text: &'a str, max: i32) -> Cow<'a, str> {
        if self.width(text) <= max {
            return Cow::Borrowed(text);
        }
        let room = max - self.glyph('\u{2026}').advance();
        let mut used = 0;
        let mut out = String::new();
        for ch in text.chars() {
            let w = self.glyph(ch).advance();
            if used + w > room {
                break;
            }
            used += w;
            out.push(ch);
        }
        let trimmed = out.trim_end();
        Cow::Owned(format!("{trimmed}\u{2026}"))
    }

    /// `text` broken into at most `lines` lines at most `max` wide, at spaces where
    /// possible; the last line ends in "…" when text is left over.
    pub fn wrap(&self, text: &str, max: i32, lines: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut current = String::new();
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut rest_from = words.len();
        for (i, word) in words.iter().enumerate() {
            let candidate = if current.is_empty() {
                (*word).to_owned()
            } else {
                format!("{current} {word}")
            };
            if self.width(&candidate) <= max || current.is_empty() {
                current = candidate;
                continue;
            }
            out.push(std::mem::take(&mut current));
            if out.len() == lines {
                rest_from = i;
                break;
            }
            current = (*word).to_owned();
        }
        if out.len() < lines && !current.is_empty() {
            out.push(current);
        } else if rest_from < words.len() {
            // Out of lines: the last line carries the rest, cut with an ellipsis.
            if let Some(last) = out.last_mut() {
                let joined = format!("{last} {}", words[rest_from..].join(" "));
                *last = self.fit(&joined, max).into_owned();
            }
        }
        out.into_iter()
            .map(|l| self.fit(&l, max).into_owned())
            .collect()
    }
}

/// Where a line of text sits horizontally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Draws `text` fitted into `width` pixels from `x` with `align`, baseline at `y`.
pub fn line<D>(
    face: &Face,
    text: &str,
    (x, y): (i32, i32),
    width: i32,
    align: Align,
    color: Rgb565,
    target: &mut D,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    let text = face.fit(text, width);
    let w = face.width(&text);
    let left = match align {
        Align::Left => x,
        Align::Center => x + (width - w) / 2,
        Align::Right => x + width - w,
    };
    face.draw(&text, Point::new(left, y), color, target)
        .map(|_| ())
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
