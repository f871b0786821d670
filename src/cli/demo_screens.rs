//! The demo on a terminal: every box's screen side by side (painted by the mock HAL's
//! painter), a line per box under them, and keys that select a box, press its buttons,
//! kill it and restart it.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Print, ResetColor};
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{execute, queue};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use chorus::hal::mock::keys::{action_for, KeyAction, Presses};
use chorus::hal::mock::render::{changed_cells, encode_grid, render, Cell, Layout};
use chorus::hal::Button;
use chorus::net::control::Request;

use super::demo_fleet::{lock, DemoBox};
use super::demo_grid::{compose, GridFit};
use super::demo_lines::{box_line, LEGEND};
use super::CliError;

/// How often the screens are brought up to date (and held buttons let go).
const TICK: Duration = Duration::from_millis(50);
/// Longest wait for a key, so the key thread notices the demo ending.
const KEY_POLL: Duration = Duration::from_millis(100);

/// What a key asks the demo for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DemoKey {
    Select(usize),
    Press { button: Button, long: bool },
    Kill,
    Restart,
    Quit,
    Redraw,
}

/// The demo's keys: 1..9 select a box, the mock HAL's keys press its buttons (a/b/x/y,
/// shifted for a long press), k kills it, r restarts it, q or Ctrl-C quits, Ctrl-L redraws.
pub(super) fn demo_key(code: KeyCode, modifiers: KeyModifiers) -> Option<DemoKey> {
    if let KeyCode::Char(c) = code {
        if !modifiers.contains(KeyModifiers::CONTROL) {
            match c {
                '1'..='9' => return Some(DemoKey::Select(usize::from(c as u8 - b'1'))),
                'k' => return Some(DemoKey::Kill),
                'r' => return Some(DemoKey::Restart),
                _ => {}
            }
        }
    }
    match action_for(code, modifiers)? {
        KeyAction::Press { button, long } => Some(DemoKey::Press { button, long }),
        KeyAction::Quit => Some(DemoKey::Quit),
        KeyAction::Redraw => Some(DemoKey::Redraw),
    }
}

/// The terminal while the demo owns it; handed back when dropped.
struct Terminal;

impl Terminal {
    fn take() -> io::Result<Terminal> {
        terminal::enable_raw_mode()?;
        // From here on the drop undoes whatever was set up.
        let term = Terminal;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            Hide,
            Clear(ClearType::All)
        )?;
        Ok(term)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Best effort: each step is tried even if one fails.
        let _ = execute!(io::stdout(), ResetColor, Show, LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// Reads keys until `stop`; keys go to `keys`.
fn read_keys(keys: UnboundedSender<DemoKey>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match event::poll(KEY_POLL) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!("demo: cannot read keys ({e}); Ctrl-C still quits");
                let _ = terminal::disable_raw_mode();
                return;
            }
        }
        let key = match event::read() {
            Ok(Event::Key(KeyEvent {
                code,
                modifiers,
                kind: KeyEventKind::Press | KeyEventKind::Repeat,
                ..
            })) => demo_key(code, modifiers),
            Ok(Event::Resize(..)) => Some(DemoKey::Redraw),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("demo: cannot read keys ({e}); Ctrl-C still quits");
                let _ = terminal::disable_raw_mode();
                return;
            }
        };
        if let Some(key) = key {
            if keys.send(key).is_err() {
                return;
            }
        }
    }
}

/// The demo's state on the terminal.
struct Screens {
    selected: usize,
    /// Buttons held by keys, per box, and the box start they belong to.
    presses: Vec<Option<Presses>>,
    message: String,
    drawn: Option<(GridFit, (u16, u16), Vec<Cell>)>,
    /// The size the "too small" message was drawn for.
    too_small: Option<(u16, u16)>,
    log: String,
}

/// Runs the demo on the terminal until q, Ctrl-C, SIGTERM or `deadline`. Box-1 hosts once
/// every box sees the others, as in the timeline; everything else is up to the keys.
/// `sound` (which box is heard, or why none) is the first message shown.
pub(super) async fn run(
    boxes: &mut [DemoBox],
    cancel: &CancellationToken,
    deadline: Option<Duration>,
    log: String,
    sound: String,
) -> Result<(), CliError> {
    let term = Terminal::take()
        .map_err(|e| CliError::Failed(format!("cannot set up the terminal: {e}")))?;
    let (tx, mut keys) = tokio::sync::mpsc::unbounded_channel();
    let stop = cancel.child_token();
    let reader = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("demo-keys".into())
            .spawn(move || read_keys(tx, stop))
            .map_err(|e| CliError::Failed(format!("cannot start the key thread: {e}")))?
    };
    let mut screens = Screens {
        selected: 0,
        presses: boxes.iter().map(|b| b.edges().map(Presses::new)).collect(),
        message: format!("box-1 hosts once the boxes see each other. {sound}"),
        drawn: None,
        too_small: None,
        log,
    };
    let result = screens.drive(boxes, cancel, deadline, &mut keys).await;
    stop.cancel();
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    drop(term);
    result
}

impl Screens {
    async fn drive(
        &mut self,
        boxes: &mut [DemoBox],
        cancel: &CancellationToken,
        deadline: Option<Duration>,
        keys: &mut UnboundedReceiver<DemoKey>,
    ) -> Result<(), CliError> {
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(TICK);
        let mut hosted = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                key = keys.recv() => match key {
                    Some(DemoKey::Quit) | None => return Ok(()),
                    Some(key) => self.key(key, boxes, cancel).await,
                },
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            for presses in self.presses.iter_mut().flatten() {
                presses.release_due(now);
            }
            if !hosted && all_see_each_other(boxes) {
                hosted = true;
                self.message = ask(&boxes[0], Request::host()).await;
            }
            if let Err(e) = self.paint(boxes) {
                tracing::warn!(error = %e, "demo: cannot draw in the terminal");
            }
            if deadline.is_some_and(|d| started.elapsed() >= d) {
                return Ok(());
            }
        }
    }

    async fn key(&mut self, key: DemoKey, boxes: &mut [DemoBox], cancel: &CancellationToken) {
        let i = self.selected;
        let name = boxes.get(i).map(|b| b.name.clone()).unwrap_or_default();
        match key {
            DemoKey::Select(n) if n < boxes.len() => {
                self.selected = n;
                self.message = format!("{} selected", boxes[n].name);
            }
            DemoKey::Select(n) => self.message = format!("there is no box-{}", n + 1),
            DemoKey::Press { button, long } => match self.presses.get_mut(i) {
                Some(Some(presses)) => {
                    presses.press(button, long, Instant::now());
                    let how = if long { "long-pressed" } else { "pressed" };
                    self.message = format!("{name}: {how} {button:?}");
                }
                _ => self.message = format!("{name} is not running (r restarts it)"),
            },
            DemoKey::Kill => {
                boxes[i].kill().await;
                self.presses[i] = None;
                self.message = format!("{name} killed (r restarts it)");
            }
            DemoKey::Restart => {
                boxes[i].kill().await;
                let n = u16::try_from(i + 1).unwrap_or(u16::MAX);
                self.message = match boxes[i].start(n, cancel, true).await {
                    Ok(_) => format!("{name} restarted with its state dir"),
                    Err(e) => format!("{name} did not restart: {e}"),
                };
                self.presses[i] = boxes[i].edges().map(Presses::new);
            }
            DemoKey::Redraw => {
                self.drawn = None;
                self.too_small = None;
            }
            DemoKey::Quit => {}
        }
    }

    /// Brings the terminal up to date: the changed cells of the screens, every text line.
    fn paint(&mut self, boxes: &[DemoBox]) -> io::Result<()> {
        let (cols, rows) = terminal::size()?;
        let text_rows = u16::try_from(boxes.len()).unwrap_or(u16::MAX) + 3;
        let mut out = Vec::new();
        let Some(fit) = GridFit::fit(boxes.len(), cols, rows, text_rows) else {
            if self.too_small != Some((cols, rows)) {
                let need = format!(
                    "terminal too small ({cols}x{rows}) for {} screens: make it larger, or q",
                    boxes.len()
                );
                queue!(
                    out,
                    ResetColor,
                    Clear(ClearType::All),
                    MoveTo(0, 0),
                    Print(need)
                )?;
                self.too_small = Some((cols, rows));
                self.drawn = None;
            }
            return write(&out);
        };
        self.too_small = None;
        let layout = Layout {
            cols,
            rows,
            side: fit.side,
            left: 0,
        };
        let screens: Vec<Option<Vec<Cell>>> = boxes
            .iter()
            .map(|b| {
                let shown = lock(&b.shown);
                let dim = shown.dim || !b.is_running();
                shown.frame.as_ref().map(|f| render(f, &layout, dim))
            })
            .collect();
        let grid = compose(&fit, &screens);
        let left = (cols - fit.width()) / 2;
        let changed = match &self.drawn {
            Some((f, size, old)) if *f == fit && *size == (cols, rows) => changed_cells(old, &grid),
            _ => {
                queue!(out, ResetColor, Clear(ClearType::All))?;
                (0..grid.len()).collect()
            }
        };
        encode_grid(&mut out, fit.width(), (left, 0), &grid, &changed)?;
        self.drawn = Some((fit, (cols, rows), grid));
        self.text(&mut out, boxes, &fit, left, cols)?;
        write(&out)
    }

    /// The labels under the screens, a line per box, the last message and the keys.
    fn text(
        &self,
        out: &mut Vec<u8>,
        boxes: &[DemoBox],
        fit: &GridFit,
        left: u16,
        cols: u16,
    ) -> io::Result<()> {
        queue!(out, ResetColor)?;
        for (i, b) in boxes.iter().enumerate() {
            let (col, row) = fit.origin(i);
            let mark = if i == self.selected { "▶ " } else { "  " };
            let state = if b.is_running() { "" } else { " (killed)" };
            let label = format!("{mark}{} [{}]{state}", b.name, i + 1);
            // Up to the next screen: the gap under the screens is label row too.
            let last_in_row = (i + 1) % usize::from(fit.per_row) == 0 || i + 1 == boxes.len();
            let gap = if last_in_row {
                0
            } else {
                super::demo_grid::GAP
            };
            let label = fit_to(&label, usize::from(fit.side + gap));
            queue!(out, MoveTo(left + col, row + fit.side / 2), Print(label))?;
        }
        let mut row = fit.height();
        let width = usize::from(cols);
        for (i, b) in boxes.iter().enumerate() {
            let mark = if i == self.selected { '▶' } else { ' ' };
            let line = format!("{mark}{}", box_line(b));
            queue!(out, MoveTo(0, row), Print(fit_to(&line, width)))?;
            row += 1;
        }
        let message = format!(" {} · log: {}", self.message, self.log);
        queue!(out, MoveTo(0, row), Print(fit_to(&message, width)))?;
        queue!(out, MoveTo(0, row + 1), Print(fit_to(LEGEND, width)))?;
        queue!(out, MoveTo(0, 0))
    }
}

/// `text` cut or padded with spaces to exactly `width` characters, so it overwrites
/// whatever was there.
fn fit_to(text: &str, width: usize) -> String {
    let mut s: String = text.chars().take(width).collect();
    let len = s.chars().count();
    s.extend(std::iter::repeat_n(' ', width - len));
    s
}

fn write(bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

fn all_see_each_other(boxes: &[DemoBox]) -> bool {
    boxes.iter().all(|b| {
        b.snapshot()
            .is_some_and(|s| s.status.neighbours.len() + 1 == boxes.len())
    })
}

/// Sends `request` to `b` through its control socket; the answer, for the message line.
async fn ask(b: &DemoBox, request: Request) -> String {
    match chorus::net::control::request(b.state(), &request).await {
        Ok(r) => format!("{}: {}", b.name, r.message.or(r.error).unwrap_or_default()),
        Err(e) => format!("{}: {e}", b.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_select_boxes_and_letters_press_buttons() {
        let none = KeyModifiers::NONE;
        assert_eq!(demo_key(KeyCode::Char('1'), none), Some(DemoKey::Select(0)));
        assert_eq!(demo_key(KeyCode::Char('9'), none), Some(DemoKey::Select(8)));
        assert_eq!(
            demo_key(KeyCode::Char('x'), none),
            Some(DemoKey::Press {
                button: Button::X,
                long: false
            })
        );
        assert_eq!(
            demo_key(KeyCode::Char('A'), KeyModifiers::SHIFT),
            Some(DemoKey::Press {
                button: Button::A,
                long: true
            })
        );
        assert_eq!(demo_key(KeyCode::Char('k'), none), Some(DemoKey::Kill));
        assert_eq!(demo_key(KeyCode::Char('r'), none), Some(DemoKey::Restart));
        assert_eq!(demo_key(KeyCode::Char('q'), none), Some(DemoKey::Quit));
        assert_eq!(
            demo_key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(DemoKey::Quit)
        );
        assert_eq!(demo_key(KeyCode::Char('z'), none), None);
    }

    #[test]
    fn lines_are_cut_or_padded_to_the_width() {
        assert_eq!(fit_to("abcdef", 3), "abc");
        assert_eq!(fit_to("ab", 4), "ab  ");
        assert_eq!(fit_to("▶é", 3), "▶é ");
    }
}
