//! Tests of the pure terminal renderer: layout, box filter, diffing, escapes.

use super::*;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle, StyledDrawable};

fn checker() -> Frame {
    let mut frame = Frame::new();
    let white = Pixel(Point::zero(), Rgb565::WHITE);
    let points = (0..SIZE as i32)
        .flat_map(|y| (0..SIZE as i32).map(move |x| (x, y)))
        .filter(|(x, y)| (x + y) % 2 == 0)
        .map(|(x, y)| Pixel(Point::new(x, y), white.1));
    let _ = frame.draw_iter(points);
    frame
}

#[test]
fn layout_is_the_largest_square_that_fits_above_the_legend() {
    // A big terminal shows the panel 1:1 and no larger.
    let big = Layout::fit(300, 200).expect("fits");
    assert_eq!(
        (big.side, big.cells_wide(), big.cells_high()),
        (240, 240, 120)
    );
    assert_eq!(big.left, 30);
    // 200x70: rows bound it; 69 rows of cells are 138 pixels, legend on row 69.
    let wide = Layout::fit(200, 70).expect("fits");
    assert_eq!(wide.side, 138);
    assert_eq!(wide.legend_row(), 69);
    assert!(wide.legend_row() + LEGEND_ROWS <= 70);
    // 80x24: columns are plenty, rows bound it to 46 pixels (23 rows).
    let classic = Layout::fit(80, 24).expect("fits");
    assert_eq!((classic.side, classic.cells_high()), (46, 23));
    // Columns bound it, and an odd size rounds down to whole cells.
    let narrow = Layout::fit(101, 120).expect("fits");
    assert_eq!((narrow.side, narrow.left), (100, 0));
    for (cols, rows) in [(24, 12), (80, 24), (123, 45), (240, 121), (239, 200)] {
        let l = Layout::fit(cols, rows).expect("fits");
        assert!(l.cells_wide() <= cols && l.cells_high() + LEGEND_ROWS <= rows);
        // One pixel more would not fit.
        assert!(l.side == 240 || l.side + 2 > cols || (l.side + 2) / 2 + LEGEND_ROWS > rows);
    }
}

#[test]
fn tiny_terminals_do_not_get_a_layout() {
    assert_eq!(Layout::fit(23, 40), None);
    assert_eq!(Layout::fit(80, 11), None);
    assert_eq!(
        too_small_message(30, 10),
        "terminal too small: 30x10, need 24x12"
    );
}

#[test]
fn one_to_one_keeps_each_pixel() {
    let mut frame = Frame::new();
    let _ = Pixel(Point::new(3, 0), Rgb565::RED).draw(&mut frame);
    let _ = Pixel(Point::new(3, 1), Rgb565::BLUE).draw(&mut frame);
    let layout = Layout::fit(240, 121).expect("fits");
    let cells = render(&frame, &layout, false);
    assert_eq!(cells.len(), 240 * 120);
    assert_eq!(
        cells[3],
        Cell {
            top: [255, 0, 0],
            bottom: [0, 0, 255]
        }
    );
    assert_eq!(
        cells[4],
        Cell {
            top: [0; 3],
            bottom: [0; 3]
        }
    );
}

#[test]
fn halving_averages_a_two_by_two_checker_to_grey() {
    let layout = Layout::fit(120, 61).expect("fits");
    assert_eq!(layout.side, 120);
    let cells = render(&checker(), &layout, false);
    assert_eq!(cells.len(), 120 * 60);
    let grey = Cell {
        top: [128; 3],
        bottom: [128; 3],
    };
    assert!(cells.iter().all(|c| *c == grey), "{:?}", &cells[..4]);
}

#[test]
fn fractional_scales_average_the_covered_block() {
    // 240 -> 46 pixels: every output pixel covers 5 or 6 source pixels per axis, and a
    // solid area stays exactly its colour.
    let mut frame = Frame::new();
    let style = PrimitiveStyle::with_fill(Rgb565::GREEN);
    let _ = Rectangle::new(Point::zero(), Size::new(120, 240)).draw_styled(&style, &mut frame);
    let layout = Layout::fit(80, 24).expect("fits");
    let cells = render(&frame, &layout, false);
    assert_eq!(cells.len(), 46 * 23);
    assert_eq!(cells[0].top, [0, 255, 0]);
    assert_eq!(cells[45].bottom, [0; 3]);
    // The source spans tile the panel exactly.
    let s = spans(46);
    assert_eq!(s.first().map(|s| s.0), Some(0));
    assert_eq!(s.last().map(|s| s.1), Some(SIZE));
    assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
}

#[test]
fn backlight_off_dims_to_thirty_percent() {
    let mut frame = Frame::new();
    let style = PrimitiveStyle::with_fill(Rgb565::WHITE);
    let _ = frame.bounding_box().draw_styled(&style, &mut frame);
    let layout = Layout::fit(80, 24).expect("fits");
    let cells = render(&frame, &layout, true);
    assert!(cells
        .iter()
        .all(|c| c.top == [76; 3] && c.bottom == [76; 3]));
}

#[test]
fn diff_lists_only_changed_cells() {
    let a = vec![
        Cell {
            top: [0; 3],
            bottom: [0; 3]
        };
        6
    ];
    let mut b = a.clone();
    b[1].top = [1, 2, 3];
    b[4].bottom = [9; 3];
    assert_eq!(changed_cells(&a, &b), vec![1, 4]);
    assert!(changed_cells(&a, &a).is_empty());
    assert_eq!(changed_cells(&a[..2], &b), (0..6).collect::<Vec<_>>());
}

#[test]
fn painter_redraws_everything_once_then_only_changes() {
    let mut painter = Painter::default();
    let mut frame = Frame::new();
    painter.set_frame(&frame);
    let first = String::from_utf8(painter.paint(80, 24).expect("paint")).expect("utf8");
    assert_eq!(first.matches(HALF_BLOCK).count(), 46 * 23);
    assert!(first.contains(LEGEND));
    assert!(
        painter.paint(80, 24).expect("paint").is_empty(),
        "no change, no bytes"
    );
    // One source pixel changes one cell.
    let _ = Pixel(Point::new(0, 0), Rgb565::WHITE).draw(&mut frame);
    painter.set_frame(&frame);
    let second = String::from_utf8(painter.paint(80, 24).expect("paint")).expect("utf8");
    assert_eq!(second.matches(HALF_BLOCK).count(), 1);
    assert!(!second.contains(LEGEND));
    // Dimming changes every (non-black) cell: the one lit cell.
    painter.set_dim(true);
    let dimmed = String::from_utf8(painter.paint(80, 24).expect("paint")).expect("utf8");
    assert_eq!(dimmed.matches(HALF_BLOCK).count(), 1);
    // A resize repaints the whole screen at the new size.
    let resized = String::from_utf8(painter.paint(120, 61).expect("paint")).expect("utf8");
    assert_eq!(resized.matches(HALF_BLOCK).count(), 120 * 60);
    assert!(resized.contains(LEGEND));
    let narrow = String::from_utf8(painter.paint(60, 24).expect("paint")).expect("utf8");
    assert!(
        narrow.contains(SHORT_LEGEND),
        "60 columns do not fit the long legend"
    );
}

#[test]
fn painter_says_when_the_terminal_is_too_small_and_recovers() {
    let mut painter = Painter::default();
    painter.set_frame(&Frame::new());
    let small = String::from_utf8(painter.paint(30, 10).expect("paint")).expect("utf8");
    // Wrapped to the 30 columns there are.
    assert!(small.contains("terminal too small: 30x10,"), "{small:?}");
    assert!(small.contains("need 24x12"));
    assert_eq!(wrap("terminal too small: 30x10, need 24x12", 80).len(), 1);
    assert!(
        painter.paint(30, 10).expect("paint").is_empty(),
        "said once"
    );
    let grown = String::from_utf8(painter.paint(30, 12).expect("paint")).expect("utf8");
    assert_eq!(grown.matches(HALF_BLOCK).count(), 22 * 11);
}

#[test]
fn a_run_of_cells_moves_the_cursor_once() {
    let layout = Layout::fit(24, 12).expect("fits");
    let cells = vec![
        Cell {
            top: [1; 3],
            bottom: [2; 3]
        };
        usize::from(layout.cells_wide() * layout.cells_high())
    ];
    let mut out = Vec::new();
    encode_cells(&mut out, &layout, &cells, &[0, 1, 2, 5]).expect("encode");
    let text = String::from_utf8(out).expect("utf8");
    // Two moves (cell 0 and cell 5), one colour pair for all four cells.
    assert_eq!(text.matches('H').count(), 2, "{text:?}");
    assert_eq!(text.matches("38;2;1;1;1").count(), 1);
    assert_eq!(text.matches(HALF_BLOCK).count(), 4);
}
