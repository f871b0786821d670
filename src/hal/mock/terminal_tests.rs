//! A hand-run check of the real terminal path (ignored by default): run it inside a
//! terminal or tmux with `cargo test --all-features --lib hal::mock::terminal_tests --
//! --ignored --nocapture`, press keys, quit with q. Edges are appended to the file named
//! by `MOCK_DEMO_LOG` (default /tmp/mock-demo-edges.txt) so they do not smear the screen.

use std::io::Write;
use std::time::Duration;

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle, StyledDrawable};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::hal::Button;

fn quadrants(lit: Option<Button>, tick: u32) -> Frame {
    let mut frame = Frame::new();
    for (i, (button, color)) in [
        (Button::A, Rgb565::RED),
        (Button::B, Rgb565::GREEN),
        (Button::X, Rgb565::BLUE),
        (Button::Y, Rgb565::YELLOW),
    ]
    .into_iter()
    .enumerate()
    {
        let color = if lit == Some(button) {
            Rgb565::WHITE
        } else {
            color
        };
        let at = Point::new((i as i32 % 2) * 120, (i as i32 / 2) * 120);
        let style = PrimitiveStyle::with_fill(color);
        let _ = Rectangle::new(at, Size::new(110, 110)).draw_styled(&style, &mut frame);
    }
    // A moving bar shows that only changed cells are redrawn.
    let style = PrimitiveStyle::with_fill(Rgb565::CYAN);
    let x = (tick * 8 % 240) as i32;
    let _ = Rectangle::new(Point::new(x, 112), Size::new(16, 6)).draw_styled(&style, &mut frame);
    frame
}

#[test]
#[ignore = "needs a real terminal; run by hand"]
fn live_terminal_demo() {
    let log = std::env::var("MOCK_DEMO_LOG").unwrap_or_else(|_| "/tmp/mock-demo-edges.txt".into());
    let mut log = std::fs::File::create(log).expect("log file");
    let (tx, rx) = std::sync::mpsc::channel();
    let cancel = CancellationToken::new();
    let opts = MockOptions {
        screen_png: Some("/tmp/mock-demo.png".into()),
        terminal: true,
    };
    let mut hal = open(opts, tx, cancel.clone());
    writeln!(log, "takes_terminal={}", hal.takes_terminal()).expect("log");
    let mut lit = None;
    let mut dim = false;
    for tick in 0..600 {
        if cancel.is_cancelled() {
            break;
        }
        for edge in rx.try_iter() {
            writeln!(log, "{edge:?}").expect("log");
            lit = edge.pressed.then_some(edge.button);
            // Each Y release toggles the backlight, to see the dim state.
            if edge.button == Button::Y && !edge.pressed {
                dim = !dim;
                hal.panel.backlight(!dim).expect("backlight");
            }
        }
        hal.panel.show(&quadrants(lit, tick), &[]).expect("show");
        std::thread::sleep(Duration::from_millis(100));
    }
    writeln!(log, "cancelled={}", cancel.is_cancelled()).expect("log");
    drop(hal.panel);
    if let Some(keys) = hal.keys {
        keys.join().expect("key thread");
    }
    writeln!(log, "done").expect("log");
}
