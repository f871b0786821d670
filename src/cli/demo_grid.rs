//! Where the demo puts its boxes' screens in a terminal, and the composition of their
//! cells (as the mock HAL's painter renders them) into one grid of cells.

use chorus::hal::mock::render::{Cell, Rgb};

/// Columns of background between two screens.
pub(super) const GAP: u16 = 2;
/// Terminal rows under each screen for its label.
pub(super) const LABEL_ROWS: u16 = 1;
/// Smaller screens are an unreadable smudge: say the terminal is too small instead.
pub(super) const MIN_SIDE: u16 = 24;
/// The colour between and under the screens.
const BACKGROUND: Rgb = [0, 0, 0];
const BLANK: Cell = Cell {
    top: BACKGROUND,
    bottom: BACKGROUND,
};

/// How `n` screens fit a terminal: `per_row` side by side, in bands of a screen and its
/// label, each screen `side` pixels square (`side` columns, `side / 2` rows of cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GridFit {
    pub n: usize,
    pub per_row: u16,
    pub side: u16,
}

impl GridFit {
    /// The arrangement with the largest screens for `n` boxes in `cols` x `rows` with
    /// `text_rows` kept free under the grid; `None` when the screens would be smaller than
    /// [`MIN_SIDE`]. Screens are never larger than the panel's 240 pixels.
    pub fn fit(n: usize, cols: u16, rows: u16, text_rows: u16) -> Option<GridFit> {
        let n16 = u16::try_from(n.max(1)).ok()?;
        let free_rows = rows.checked_sub(text_rows)?;
        let best = (1..=n16)
            .map(|per_row| {
                let bands = n16.div_ceil(per_row);
                let by_cols = cols.saturating_sub(GAP * (per_row - 1)) / per_row;
                let by_rows = (free_rows / bands).saturating_sub(LABEL_ROWS) * 2;
                let side = by_cols.min(by_rows).min(240) & !1;
                GridFit {
                    n: n.max(1),
                    per_row,
                    side,
                }
            })
            // Equal sides: the fewer columns, the more of the width is left over.
            .max_by_key(|g| (g.side, std::cmp::Reverse(g.per_row)))?;
        (best.side >= MIN_SIDE).then_some(best)
    }

    pub fn bands(&self) -> u16 {
        u16::try_from(self.n)
            .unwrap_or(u16::MAX)
            .div_ceil(self.per_row)
    }

    /// Cells across the grid.
    pub fn width(&self) -> u16 {
        self.per_row * self.side + GAP * (self.per_row - 1)
    }

    /// Rows of one band: a screen and its label.
    pub fn band_rows(&self) -> u16 {
        self.side / 2 + LABEL_ROWS
    }

    /// Rows of the whole grid.
    pub fn height(&self) -> u16 {
        self.bands() * self.band_rows()
    }

    /// The column and row (in the grid) of box `i`'s screen's top left cell.
    pub fn origin(&self, i: usize) -> (u16, u16) {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        let (band, slot) = (i / self.per_row, i % self.per_row);
        (slot * (self.side + GAP), band * self.band_rows())
    }
}

/// One grid of cells, row by row, `fit.width()` wide: each box's screen (`side / 2` rows
/// of `side` cells, as the painter renders it) at its [`GridFit::origin`], background
/// elsewhere. A screen of the wrong size (none yet) stays background.
pub(super) fn compose(fit: &GridFit, screens: &[Option<Vec<Cell>>]) -> Vec<Cell> {
    let width = usize::from(fit.width());
    let mut grid = vec![BLANK; width * usize::from(fit.height())];
    let side = usize::from(fit.side);
    for (i, screen) in screens.iter().enumerate().take(fit.n) {
        let Some(cells) = screen.as_ref().filter(|c| c.len() == side * (side / 2)) else {
            continue;
        };
        let (col, row) = fit.origin(i);
        let (col, row) = (usize::from(col), usize::from(row));
        for (r, line) in cells.chunks_exact(side).enumerate() {
            let at = (row + r) * width + col;
            if let Some(dest) = grid.get_mut(at..at + side) {
                dest.copy_from_slice(line);
            }
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(v: u8) -> Cell {
        Cell {
            top: [v, 0, 0],
            bottom: [0, v, 0],
        }
    }

    #[test]
    fn three_boxes_go_side_by_side_in_a_wide_terminal() {
        let fit = GridFit::fit(3, 200, 60, 6).unwrap();
        assert_eq!((fit.per_row, fit.side), (3, 64));
        assert!(fit.width() <= 200);
        assert!(fit.height() + 6 <= 60);
        assert_eq!(fit.origin(2), (2 * 66, 0));
    }

    #[test]
    fn many_boxes_wrap_into_bands_and_a_tiny_terminal_fits_none() {
        let fit = GridFit::fit(6, 160, 80, 9).unwrap();
        assert!(fit.bands() >= 2, "{fit:?}");
        assert!(fit.width() <= 160 && fit.height() + 9 <= 80, "{fit:?}");
        assert_eq!(fit.origin(fit.per_row as usize), (0, fit.band_rows()));
        assert_eq!(GridFit::fit(3, 40, 20, 6), None);
        assert_eq!(GridFit::fit(3, 200, 5, 6), None);
    }

    #[test]
    fn compose_puts_each_screen_at_its_origin_and_background_between() {
        let fit = GridFit {
            n: 3,
            per_row: 2,
            side: 4,
        };
        // 2 rows of 4 cells each; box i's cells are all `cell(i + 1)`.
        let screen = |v| Some(vec![cell(v); 8]);
        let grid = compose(&fit, &[screen(1), screen(2), screen(3)]);
        let width = usize::from(fit.width());
        assert_eq!(width, 4 + GAP as usize + 4);
        assert_eq!(grid.len(), width * 2 * 3);
        let at = |col: usize, row: usize| grid[row * width + col];
        assert_eq!(at(0, 0), cell(1));
        assert_eq!(at(3, 1), cell(1));
        assert_eq!(at(4, 0), BLANK, "the gap is background");
        assert_eq!(at(6, 0), cell(2));
        assert_eq!(at(9, 1), cell(2));
        assert_eq!(at(0, 2), BLANK, "the label row is background");
        assert_eq!(at(0, 3), cell(3));
        assert_eq!(at(6, 3), BLANK, "no fourth box");
    }

    #[test]
    fn a_missing_or_odd_sized_screen_stays_background() {
        let fit = GridFit {
            n: 2,
            per_row: 2,
            side: 4,
        };
        let grid = compose(&fit, &[None, Some(vec![cell(9); 3])]);
        assert!(grid.iter().all(|c| *c == BLANK));
    }
}
