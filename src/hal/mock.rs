//! The mock HAL: the box's screen drawn in a terminal with half blocks, keys as buttons,
//! and the screen written as a PNG for `--screen-png`, so a laptop shows what a box shows.
//!
//! The terminal I/O here is thin: [`render`] turns frames into escapes, [`keys`] turns
//! keys into button edges. The terminal is restored (raw mode off, main screen back,
//! cursor shown) when the box is cancelled and when the panel is dropped.

pub mod keys;
pub mod render;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::style::ResetColor;
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use embedded_graphics::primitives::Rectangle;
use tokio_util::sync::CancellationToken;

use super::{ButtonEdge, HalError, Panel};
use crate::ui::frame::Frame;
use render::Painter;

/// How the mock face is shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MockOptions {
    /// Also write every new frame to this PNG file (atomically).
    pub screen_png: Option<PathBuf>,
    /// Draw in the terminal and read keys from it; `false` never touches the terminal.
    pub terminal: bool,
}

impl MockOptions {
    /// Whether [`open`] will take over the terminal (it is asked to and stdout is one),
    /// so the caller can send its logs elsewhere before opening.
    pub fn takes_terminal(&self) -> bool {
        self.terminal && io::stdout().is_terminal()
    }
}

/// The opened mock face.
#[derive(Debug)]
pub struct MockHal {
    pub panel: MockPanel,
    /// The thread reading keys; `None` without a terminal.
    pub keys: Option<JoinHandle<()>>,
}

impl MockHal {
    /// Whether the live screen is on the terminal: log lines on stderr would smear it.
    pub fn takes_terminal(&self) -> bool {
        self.panel.takes_terminal()
    }
}

/// Opens the mock face: a panel drawing into the terminal (and/or writing PNGs) and a
/// thread turning keys into `edges`. q and Ctrl-C cancel `cancel`. Without a terminal it
/// says so once and only writes PNGs; it never fails.
pub fn open(opts: MockOptions, edges: Sender<ButtonEdge>, cancel: CancellationToken) -> MockHal {
    // Cancelled when the box quits or the panel is dropped; the key thread watches it.
    let stop = cancel.child_token();
    let screen = match take_terminal(&opts) {
        Ok(screen) => Some(Arc::new(Mutex::new(screen))),
        Err(why) => {
            tracing::warn!(
                "mock HAL: {why}; no live screen (use --screen-png FILE to see it), no keys"
            );
            None
        }
    };
    let keys = screen.as_ref().and_then(|screen| {
        let (screen, cancel, stop) = (screen.clone(), cancel.clone(), stop.clone());
        std::thread::Builder::new()
            .name("mock-keys".into())
            .spawn(move || keys::run(edges, cancel, stop, screen))
            .map_err(|e| tracing::warn!("mock HAL: no key thread ({e}); no buttons"))
            .ok()
    });
    MockHal {
        panel: MockPanel {
            screen_png: opts.screen_png,
            last: None,
            screen,
            cancel,
            stop,
            png_failing: false,
        },
        keys,
    }
}

fn take_terminal(opts: &MockOptions) -> Result<Screen, HalError> {
    if !opts.terminal {
        return Err(HalError::NoTerminal("the terminal is turned off".into()));
    }
    if !io::stdout().is_terminal() {
        return Err(HalError::NoTerminal("stdout is not a terminal".into()));
    }
    Screen::take().map_err(|e| HalError::NoTerminal(format!("cannot set up the terminal ({e})")))
}

/// The box's display in a terminal and/or a PNG file.
#[derive(Debug)]
pub struct MockPanel {
    screen_png: Option<PathBuf>,
    /// The last frame shown, to write the PNG only when the picture changed.
    last: Option<Frame>,
    screen: Option<Arc<Mutex<Screen>>>,
    cancel: CancellationToken,
    stop: CancellationToken,
    /// A PNG write failed and was logged; log again only after one succeeds.
    png_failing: bool,
}

impl MockPanel {
    /// Whether this panel draws in the terminal.
    pub fn takes_terminal(&self) -> bool {
        self.screen.is_some()
    }

    /// Runs `f` on the screen, unless the box is quitting: then the terminal goes back to
    /// the user, even if the key thread is gone.
    fn with_screen(&self, f: impl FnOnce(&mut Screen)) {
        let Some(screen) = &self.screen else { return };
        let mut screen = lock(screen);
        if self.cancel.is_cancelled() {
            screen.restore();
        } else {
            f(&mut screen);
        }
    }

    fn write_png(&mut self, frame: &Frame) {
        let Some(path) = &self.screen_png else { return };
        match write_png_atomically(path, frame) {
            Ok(()) => self.png_failing = false,
            Err(e) => {
                if !self.png_failing {
                    tracing::warn!("mock HAL: cannot write {}: {e}", path.display());
                }
                self.png_failing = true;
            }
        }
    }
}

impl Panel for MockPanel {
    /// Never fails: terminal and PNG trouble is logged and the box keeps playing.
    fn show(&mut self, frame: &Frame, _changed: &[Rectangle]) -> Result<(), HalError> {
        // The whole frame is diffed by terminal cell anyway: with scaling, `changed`
        // rectangles do not map to whole cells.
        if self.last.as_ref() != Some(frame) {
            self.write_png(frame);
            self.last = Some(frame.clone());
        }
        // Drawn even when unchanged: the terminal may have been resized.
        self.with_screen(|screen| {
            screen.painter.set_frame(frame);
            screen.draw();
        });
        Ok(())
    }

    fn backlight(&mut self, on: bool) -> Result<(), HalError> {
        self.with_screen(|screen| {
            screen.painter.set_dim(!on);
            screen.draw();
        });
        Ok(())
    }
}

impl Drop for MockPanel {
    fn drop(&mut self) {
        // Stops the key thread (not the box) and hands the terminal back right away.
        self.stop.cancel();
        if let Some(screen) = &self.screen {
            lock(screen).restore();
        }
    }
}

/// Writes `frame` to `path` through `path.tmp` and a rename, so a reader sees either the
/// old picture or the new one, never half a file.
pub fn write_png_atomically(path: &Path, frame: &Frame) -> Result<(), PngWriteError> {
    let bytes = frame.to_png()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Why the screen PNG could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PngWriteError {
    #[error("encoding: {0}")]
    Encode(#[from] png::EncodingError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The terminal while the mock face owns it. Shared by the panel and the key thread
/// behind a mutex, so escapes never interleave with the restore.
#[derive(Debug)]
pub(crate) struct Screen {
    painter: Painter,
    /// Raw mode and the alternate screen are on; false once restored.
    active: bool,
    raw: bool,
    /// A write failed and was logged; log again only after one succeeds.
    write_failing: bool,
}

impl Screen {
    /// Raw mode, alternate screen, hidden cursor. On failure whatever was set up is undone
    /// by the drop.
    fn take() -> io::Result<Screen> {
        let mut screen = Screen {
            painter: Painter::default(),
            active: true,
            raw: false,
            write_failing: false,
        };
        terminal::enable_raw_mode()?;
        screen.raw = true;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            Hide,
            Clear(ClearType::All)
        )?;
        Ok(screen)
    }

    /// Brings the terminal up to date with the painter in one write.
    fn draw(&mut self) {
        if !self.active {
            return;
        }
        let result = terminal::size().and_then(|(cols, rows)| {
            let bytes = self.painter.paint(cols, rows)?;
            if bytes.is_empty() {
                return Ok(());
            }
            let mut out = io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()
        });
        match result {
            Ok(()) => self.write_failing = false,
            Err(e) => {
                if !self.write_failing {
                    tracing::warn!("mock HAL: cannot draw in the terminal: {e}");
                }
                self.write_failing = true;
            }
        }
    }

    fn leave_raw_mode(&mut self) {
        if self.raw {
            // Best effort: there is nothing else to do if the terminal refuses.
            let _ = terminal::disable_raw_mode();
            self.raw = false;
        }
    }

    /// Hands the terminal back: colours reset, cursor shown, main screen, raw mode off.
    /// Idempotent; every step is tried even if one fails.
    fn restore(&mut self) {
        if self.active {
            let mut out = io::stdout();
            let _ = execute!(out, ResetColor, Show, LeaveAlternateScreen);
            self.active = false;
        }
        self.leave_raw_mode();
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Locks the screen even if a thread panicked while holding it: restoring the terminal
/// matters more than the painter's state.
fn lock(screen: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    screen
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb565;
    use embedded_graphics::prelude::*;
    use embedded_graphics::primitives::{PrimitiveStyle, StyledDrawable};

    #[test]
    fn png_is_written_atomically_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("screen.png");
        let mut frame = Frame::new();
        let style = PrimitiveStyle::with_fill(Rgb565::new(3, 60, 17));
        let _ = Rectangle::new(Point::new(5, 6), Size::new(70, 80)).draw_styled(&style, &mut frame);
        write_png_atomically(&path, &frame).expect("write");
        let back = Frame::from_png(&std::fs::read(&path).expect("read")).expect("decode");
        assert_eq!(back, frame);
        assert!(
            !dir.path().join("screen.png.tmp").exists(),
            "temp file renamed away"
        );
        // Overwrites in place.
        write_png_atomically(&path, &Frame::new()).expect("rewrite");
        let back = Frame::from_png(&std::fs::read(&path).expect("read")).expect("decode");
        assert_eq!(back, Frame::new());
    }

    #[test]
    fn without_a_terminal_it_only_writes_pngs_when_the_frame_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("face.png");
        let (tx, _rx) = std::sync::mpsc::channel();
        let cancel = CancellationToken::new();
        let opts = MockOptions {
            screen_png: Some(path.clone()),
            terminal: false,
        };
        assert!(!opts.takes_terminal());
        let mut hal = open(opts, tx, cancel.clone());
        assert!(!hal.takes_terminal());
        assert!(hal.keys.is_none());
        let frame = Frame::new();
        hal.panel
            .show(&frame, &[frame.bounding_box()])
            .expect("show");
        assert!(path.exists());
        std::fs::remove_file(&path).expect("remove");
        hal.panel.show(&frame, &[]).expect("show again");
        assert!(!path.exists(), "an unchanged frame is not rewritten");
        hal.panel.backlight(false).expect("dim");
        let mut lit = frame.clone();
        let _ = Pixel(Point::new(1, 1), Rgb565::WHITE).draw(&mut lit);
        hal.panel.show(&lit, &[]).expect("show changed");
        assert!(path.exists());
        cancel.cancel();
        hal.panel
            .show(&Frame::new(), &[])
            .expect("show after cancel");
    }

    #[test]
    fn an_unwritable_png_path_does_not_fail_the_panel() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let opts = MockOptions {
            screen_png: Some(PathBuf::from("/nonexistent/dir/face.png")),
            terminal: false,
        };
        let mut hal = open(opts, tx, CancellationToken::new());
        assert!(hal.panel.show(&Frame::new(), &[]).is_ok());
    }
}

#[cfg(test)]
mod terminal_tests;
