//! Pure drawing of the box's frame as terminal cells: the layout that fits a terminal, the
//! box-filtered half-block cells, and the escape sequences that change only what changed.

use std::io;

use crossterm::cursor::MoveTo;
use crossterm::queue;
use crossterm::style::{Color, Print, ResetColor, SetBackgroundColor, SetForegroundColor};
use crossterm::terminal::{Clear, ClearType};
use embedded_graphics::pixelcolor::RgbColor;

use crate::ui::frame::{Frame, SIZE};

/// The key help under the screen.
pub const LEGEND: &str =
    "a/b/x/y press · A/B/X/Y (shift) long-press · hold x/y repeats · q/Ctrl-C quit";
/// The key help for terminals narrower than [`LEGEND`].
pub const SHORT_LEGEND: &str = "a/b/x/y press · shift: long · q quit";
/// Terminal rows kept free under the screen for [`LEGEND`].
pub const LEGEND_ROWS: u16 = 1;
/// Below this the screen would be an unreadable smudge: say so instead.
pub const MIN_COLS: u16 = 24;
pub const MIN_ROWS: u16 = 12;
/// Brightness of the screen with the backlight off, so the dim state is visible.
const DIM_PERCENT: u16 = 30;
/// The upper half block: its foreground is the top pixel, its background the bottom one.
const HALF_BLOCK: char = '▀';

/// An 8-bit RGB colour.
pub type Rgb = [u8; 3];

/// One terminal cell: two vertically stacked pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub top: Rgb,
    pub bottom: Rgb,
}

/// Where the screen goes in a terminal of `cols` x `rows`: a square of `side` x `side`
/// pixels, i.e. `side` columns by `side / 2` rows of cells, from column `left`, row 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub cols: u16,
    pub rows: u16,
    pub side: u16,
    pub left: u16,
}

impl Layout {
    /// The largest screen that fits `cols` x `rows` with the legend rows left under it,
    /// never larger than the panel (240 pixels: 240 columns by 120 rows); `None` when the
    /// terminal is smaller than [`MIN_COLS`] x [`MIN_ROWS`].
    pub fn fit(cols: u16, rows: u16) -> Option<Layout> {
        if cols < MIN_COLS || rows < MIN_ROWS {
            return None;
        }
        let by_rows = (rows - LEGEND_ROWS).saturating_mul(2);
        // Even, so every cell row holds two whole pixel rows.
        let side = (SIZE as u16).min(cols).min(by_rows) & !1;
        Some(Layout {
            cols,
            rows,
            side,
            left: (cols - side) / 2,
        })
    }

    pub fn cells_wide(&self) -> u16 {
        self.side
    }

    pub fn cells_high(&self) -> u16 {
        self.side / 2
    }

    /// The terminal row the legend goes on: right under the screen.
    pub fn legend_row(&self) -> u16 {
        self.cells_high()
    }
}

/// The message shown instead of the screen in a terminal that is too small.
pub fn too_small_message(cols: u16, rows: u16) -> String {
    format!("terminal too small: {cols}x{rows}, need {MIN_COLS}x{MIN_ROWS}")
}

/// For each of `side` output pixels, the source pixels `[start, end)` it averages along
/// one axis. Boundaries are rounded down so that fractional factors still cover every
/// source pixel exactly once.
fn spans(side: u16) -> Vec<(u32, u32)> {
    let side = u32::from(side.max(1));
    (0..side)
        .map(|i| {
            let start = i * SIZE / side;
            let end = ((i + 1) * SIZE / side).max(start + 1);
            (start, end)
        })
        .collect()
}

fn rgb888(frame: &Frame, x: u32, y: u32) -> [u32; 3] {
    let p = frame.pixel(x, y);
    // Same expansion as `Frame::to_rgb888`, so the terminal matches the PNG.
    let (r, g, b) = (u32::from(p.r()), u32::from(p.g()), u32::from(p.b()));
    [
        (r << 3) | (r >> 2),
        (g << 2) | (g >> 4),
        (b << 3) | (b >> 2),
    ]
}

/// The cells of `frame` for `layout`, row by row: each cell half is the average of the
/// source pixels it covers (a box filter), dimmed to [`DIM_PERCENT`] when `dim`.
pub fn render(frame: &Frame, layout: &Layout, dim: bool) -> Vec<Cell> {
    let spans = spans(layout.side);
    let scale = |sum: u32, n: u32| -> u8 {
        let avg = (sum + n / 2) / n.max(1);
        let avg = if dim {
            avg * u32::from(DIM_PERCENT) / 100
        } else {
            avg
        };
        u8::try_from(avg).unwrap_or(u8::MAX)
    };
    let average = |xs: (u32, u32), ys: (u32, u32)| -> Rgb {
        let mut sum = [0u32; 3];
        for y in ys.0..ys.1 {
            for x in xs.0..xs.1 {
                let c = rgb888(frame, x, y);
                for (s, v) in sum.iter_mut().zip(c) {
                    *s += v;
                }
            }
        }
        let n = (xs.1 - xs.0) * (ys.1 - ys.0);
        sum.map(|s| scale(s, n))
    };
    let mut cells =
        Vec::with_capacity(usize::from(layout.cells_wide()) * usize::from(layout.cells_high()));
    for pair in spans.chunks_exact(2) {
        let &[top, bottom] = pair else { continue };
        for &xs in &spans {
            cells.push(Cell {
                top: average(xs, top),
                bottom: average(xs, bottom),
            });
        }
    }
    cells
}

/// The indices of the cells that differ between `before` and `after` (all of them when
/// the two are not the same size).
pub fn changed_cells(before: &[Cell], after: &[Cell]) -> Vec<usize> {
    if before.len() != after.len() {
        return (0..after.len()).collect();
    }
    before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(_, (b, a))| b != a)
        .map(|(i, _)| i)
        .collect()
}

fn color([r, g, b]: Rgb) -> Color {
    Color::Rgb { r, g, b }
}

/// Appends the escapes that draw `cells[i]` for each `i` in `indices` (ascending): a cursor
/// move only where the run of cells breaks, a colour change only where the colour does.
pub fn encode_cells(
    out: &mut Vec<u8>,
    layout: &Layout,
    cells: &[Cell],
    indices: &[usize],
) -> io::Result<()> {
    let width = layout.cells_wide();
    encode_grid(out, width, (layout.left, 0), cells, indices)
}

/// Like [`encode_cells`] for any grid of cells `width` wide, row by row, whose first cell
/// goes at terminal column and row `origin` (the demo puts several screens in one grid).
pub fn encode_grid(
    out: &mut Vec<u8>,
    width: u16,
    origin: (u16, u16),
    cells: &[Cell],
    indices: &[usize],
) -> io::Result<()> {
    let width = usize::from(width.max(1));
    let (mut fg, mut bg): (Option<Rgb>, Option<Rgb>) = (None, None);
    let mut next_at: Option<usize> = None;
    for &i in indices {
        let Some(cell) = cells.get(i) else { continue };
        if next_at != Some(i) || i % width == 0 {
            let col = u16::try_from(i % width).unwrap_or(0) + origin.0;
            let row = u16::try_from(i / width).unwrap_or(0) + origin.1;
            queue!(out, MoveTo(col, row))?;
        }
        if fg != Some(cell.top) {
            queue!(out, SetForegroundColor(color(cell.top)))?;
            fg = Some(cell.top);
        }
        if bg != Some(cell.bottom) {
            queue!(out, SetBackgroundColor(color(cell.bottom)))?;
            bg = Some(cell.bottom);
        }
        queue!(out, Print(HALF_BLOCK))?;
        next_at = Some(i + 1);
    }
    if !indices.is_empty() {
        queue!(out, ResetColor)?;
    }
    Ok(())
}

/// Appends `text` centred on `row`, cut to the terminal's width.
fn encode_line(out: &mut Vec<u8>, cols: u16, row: u16, text: &str) -> io::Result<()> {
    let text: String = text.chars().take(usize::from(cols)).collect();
    let len = u16::try_from(text.chars().count()).unwrap_or(cols);
    queue!(
        out,
        ResetColor,
        MoveTo((cols - len.min(cols)) / 2, row),
        Print(text)
    )
}

/// `text` cut into lines of at most `cols` characters, at spaces where it can be.
fn wrap(text: &str, cols: u16) -> Vec<String> {
    let cols = usize::from(cols.max(1));
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= cols => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    // A word longer than a line is cut by `encode_line`.
    lines
}

/// What the terminal shows, and the escapes that bring it to the newest frame: the whole
/// screen after a resize, only the changed cells otherwise.
#[derive(Debug, Default)]
pub struct Painter {
    frame: Option<Frame>,
    dim: bool,
    drawn: Option<(Layout, Vec<Cell>)>,
    /// The size the "too small" message was last drawn for.
    too_small: Option<(u16, u16)>,
}

impl Painter {
    pub fn set_frame(&mut self, frame: &Frame) {
        if self.frame.as_ref() != Some(frame) {
            self.frame = Some(frame.clone());
        }
    }

    pub fn set_dim(&mut self, dim: bool) {
        self.dim = dim;
    }

    /// The escapes that bring a `cols` x `rows` terminal from what was painted last to the
    /// current frame; empty when nothing changed.
    pub fn paint(&mut self, cols: u16, rows: u16) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let Some(layout) = Layout::fit(cols, rows) else {
            if self.too_small != Some((cols, rows)) {
                let message = too_small_message(cols, rows);
                if self.too_small.is_none() {
                    tracing::warn!("mock HAL: {message}; the screen comes back when it grows");
                }
                queue!(out, ResetColor, Clear(ClearType::All))?;
                for (row, line) in (0..rows).zip(wrap(&message, cols)) {
                    encode_line(&mut out, cols, row, &line)?;
                }
                self.too_small = Some((cols, rows));
                self.drawn = None;
            }
            return Ok(out);
        };
        self.too_small = None;
        let Some(frame) = &self.frame else {
            return Ok(out);
        };
        let cells = render(frame, &layout, self.dim);
        match &self.drawn {
            Some((before, old)) if *before == layout => {
                let changed = changed_cells(old, &cells);
                encode_cells(&mut out, &layout, &cells, &changed)?;
            }
            _ => {
                queue!(out, ResetColor, Clear(ClearType::All))?;
                let all: Vec<usize> = (0..cells.len()).collect();
                encode_cells(&mut out, &layout, &cells, &all)?;
                let fits = LEGEND.chars().count() <= usize::from(cols);
                let legend = if fits { LEGEND } else { SHORT_LEGEND };
                encode_line(&mut out, cols, layout.legend_row(), legend)?;
            }
        }
        self.drawn = Some((layout, cells));
        if !out.is_empty() {
            // Park the cursor top left: a stray line on stderr then overwrites a few cells
            // instead of scrolling the whole screen out of step with `drawn`.
            queue!(out, MoveTo(0, 0))?;
        }
        Ok(out)
    }

    /// Forgets what the terminal shows, so the next paint draws everything (Ctrl-L, or
    /// after something else wrote over the screen).
    pub fn forget(&mut self) {
        self.drawn = None;
        self.too_small = None;
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
