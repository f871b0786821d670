//! The mock HAL's keyboard: which key presses which button, and the thread that turns
//! terminal key events into button edges with timed releases.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio_util::sync::CancellationToken;

use super::Screen;
use crate::hal::{Button, ButtonEdge};

/// How long a key press holds its button down: a short press, comfortably above any
/// debounce the press logic applies.
pub const SHORT_HOLD: Duration = Duration::from_millis(60);
/// How long a shifted key holds its button: past the press logic's long-press threshold.
pub const LONG_HOLD: Duration = Duration::from_millis(1200);
/// Longest wait for a key, so cancellation is noticed promptly.
const POLL: Duration = Duration::from_millis(100);

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAction {
    Press {
        button: Button,
        long: bool,
    },
    Quit,
    /// Ctrl-L: draw the whole screen again (something else wrote over it).
    Redraw,
}

/// The action of a key: a/b/x/y and 1..4 press, shifted letters long-press, q and Ctrl-C
/// quit (raw mode turns Ctrl-C into a key instead of SIGINT), Ctrl-L redraws.
pub fn action_for(code: KeyCode, modifiers: KeyModifiers) -> Option<KeyAction> {
    let KeyCode::Char(c) = code else {
        return None;
    };
    if modifiers.contains(KeyModifiers::CONTROL) {
        return match c {
            'c' | 'C' => Some(KeyAction::Quit),
            'l' | 'L' => Some(KeyAction::Redraw),
            _ => None,
        };
    }
    let press = |button, long| Some(KeyAction::Press { button, long });
    match c {
        'a' | '1' => press(Button::A, false),
        'b' | '2' => press(Button::B, false),
        'x' | '3' => press(Button::X, false),
        'y' | '4' => press(Button::Y, false),
        'A' => press(Button::A, true),
        'B' => press(Button::B, true),
        'X' => press(Button::X, true),
        'Y' => press(Button::Y, true),
        'q' => Some(KeyAction::Quit),
        _ => None,
    }
}

/// Buttons held down by keys and when each is let go.
#[derive(Debug)]
pub struct Presses {
    edges: Sender<ButtonEdge>,
    held: Vec<(Button, Instant)>,
    /// The face stopped listening: keys still quit, but no more edges are sent.
    deaf: bool,
}

impl Presses {
    pub fn new(edges: Sender<ButtonEdge>) -> Self {
        Presses {
            edges,
            held: Vec::new(),
            deaf: false,
        }
    }

    fn send(&mut self, button: Button, pressed: bool) {
        if self.deaf {
            return;
        }
        let edge = ButtonEdge {
            button,
            pressed,
            at: crate::clock::monotonic_now(),
        };
        if self.edges.send(edge).is_err() {
            tracing::debug!("mock HAL: nobody listens to the buttons any more");
            self.deaf = true;
        }
    }

    /// Presses `button` now and schedules its release. A button still held from an
    /// earlier key (terminal auto-repeat) is released first, as a real button cannot be
    /// pressed twice without letting go.
    pub fn press(&mut self, button: Button, long: bool, now: Instant) {
        if let Some(i) = self.held.iter().position(|(b, _)| *b == button) {
            self.held.swap_remove(i);
            self.send(button, false);
        }
        self.send(button, true);
        let hold = if long { LONG_HOLD } else { SHORT_HOLD };
        self.held.push((button, now + hold));
    }

    /// Releases every button whose time is up at `now`.
    pub fn release_due(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = self.held.drain(..).partition(|(_, at)| *at <= now);
        self.held = later;
        for (button, _) in due {
            self.send(button, false);
        }
    }

    /// How long to wait for a key before the next release is due.
    pub fn timeout(&self, now: Instant) -> Duration {
        self.held
            .iter()
            .map(|(_, at)| at.saturating_duration_since(now))
            .fold(POLL, Duration::min)
    }

    #[cfg(test)]
    pub fn is_deaf(&self) -> bool {
        self.deaf
    }
}

/// The key thread: reads terminal events until `stop` is cancelled (the box is quitting
/// or the panel was dropped), cancelling `cancel` on q / Ctrl-C, and repainting `screen`
/// on resize. Restores the terminal on the way out.
pub(super) fn run(
    edges: Sender<ButtonEdge>,
    cancel: CancellationToken,
    stop: CancellationToken,
    screen: Arc<Mutex<Screen>>,
) {
    let mut presses = Presses::new(edges);
    while !stop.is_cancelled() {
        let now = Instant::now();
        presses.release_due(now);
        let ready = match event::poll(presses.timeout(now)) {
            Ok(ready) => ready,
            Err(e) => {
                give_up_keys(&screen, &e);
                return;
            }
        };
        if !ready {
            continue;
        }
        match event::read() {
            Ok(Event::Key(KeyEvent {
                code,
                modifiers,
                kind: KeyEventKind::Press | KeyEventKind::Repeat,
                ..
            })) => match action_for(code, modifiers) {
                Some(KeyAction::Press { button, long }) => {
                    presses.press(button, long, Instant::now());
                }
                Some(KeyAction::Quit) => {
                    tracing::info!("mock HAL: quit key pressed");
                    cancel.cancel();
                }
                Some(KeyAction::Redraw) => {
                    let mut screen = super::lock(&screen);
                    screen.painter.forget();
                    screen.draw();
                }
                None => {}
            },
            Ok(Event::Resize(..)) => super::lock(&screen).draw(),
            Ok(_) => {}
            Err(e) => {
                give_up_keys(&screen, &e);
                return;
            }
        }
    }
    // Let go of held buttons so the face does not see one stuck down.
    presses.release_due(Instant::now() + LONG_HOLD);
    if cancel.is_cancelled() {
        super::lock(&screen).restore();
    }
}

/// Keys cannot be read: leave raw mode so Ctrl-C is a signal again and the user can still
/// stop the box; the screen keeps drawing.
fn give_up_keys(screen: &Arc<Mutex<Screen>>, e: &std::io::Error) {
    tracing::warn!("mock HAL: cannot read keys ({e}); buttons are off, Ctrl-C still quits");
    super::lock(screen).leave_raw_mode();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn keys_map_to_buttons() {
        let none = KeyModifiers::NONE;
        let press = |button, long| Some(KeyAction::Press { button, long });
        assert_eq!(
            action_for(KeyCode::Char('a'), none),
            press(Button::A, false)
        );
        assert_eq!(
            action_for(KeyCode::Char('3'), none),
            press(Button::X, false)
        );
        assert_eq!(
            action_for(KeyCode::Char('4'), none),
            press(Button::Y, false)
        );
        assert_eq!(
            action_for(KeyCode::Char('B'), KeyModifiers::SHIFT),
            press(Button::B, true)
        );
        assert_eq!(action_for(KeyCode::Char('q'), none), Some(KeyAction::Quit));
        assert_eq!(
            action_for(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(KeyAction::Quit)
        );
        assert_eq!(
            action_for(KeyCode::Char('l'), KeyModifiers::CONTROL),
            Some(KeyAction::Redraw)
        );
        assert_eq!(action_for(KeyCode::Char('a'), KeyModifiers::CONTROL), None);
        assert_eq!(action_for(KeyCode::Char('z'), none), None);
        assert_eq!(action_for(KeyCode::Enter, none), None);
    }

    fn drain(rx: &mpsc::Receiver<ButtonEdge>) -> Vec<(Button, bool)> {
        rx.try_iter().map(|e| (e.button, e.pressed)).collect()
    }

    #[test]
    fn short_and_long_presses_release_on_time_without_blocking_each_other() {
        let (tx, rx) = mpsc::channel();
        let mut presses = Presses::new(tx);
        let t0 = Instant::now();
        presses.press(Button::A, true, t0);
        presses.press(Button::X, false, t0 + Duration::from_millis(10));
        assert_eq!(drain(&rx), vec![(Button::A, true), (Button::X, true)]);
        assert_eq!(presses.timeout(t0 + Duration::from_millis(10)), SHORT_HOLD);
        presses.release_due(t0 + Duration::from_millis(70));
        assert_eq!(drain(&rx), vec![(Button::X, false)]);
        presses.release_due(t0 + Duration::from_millis(1199));
        assert!(drain(&rx).is_empty());
        presses.release_due(t0 + LONG_HOLD);
        assert_eq!(drain(&rx), vec![(Button::A, false)]);
        assert_eq!(presses.timeout(t0 + LONG_HOLD), POLL);
    }

    #[test]
    fn a_repeated_key_releases_before_pressing_again() {
        let (tx, rx) = mpsc::channel();
        let mut presses = Presses::new(tx);
        let t0 = Instant::now();
        presses.press(Button::Y, false, t0);
        presses.press(Button::Y, false, t0 + Duration::from_millis(30));
        assert_eq!(
            drain(&rx),
            vec![(Button::Y, true), (Button::Y, false), (Button::Y, true)]
        );
        presses.release_due(t0 + Duration::from_millis(95));
        assert_eq!(drain(&rx), vec![(Button::Y, false)]);
    }

    #[test]
    fn a_gone_receiver_makes_presses_deaf_not_fatal() {
        let (tx, rx) = mpsc::channel();
        drop(rx);
        let mut presses = Presses::new(tx);
        presses.press(Button::A, false, Instant::now());
        assert!(presses.is_deaf());
    }
}
