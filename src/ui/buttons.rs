//! Button edges into presses: debounce, short and long press, auto-repeat (pure).
//!
//! [`Presses`] is fed the raw [`ButtonEdge`]s a backend saw (bounces included) and
//! polled with the time now; it never reads a clock, so tests drive it with made-up
//! instants. All decisions are taken in *edge time*: a caller that polls late gets the
//! presses that were due, in order, as if it had polled on time.
//!
//! Debounce is by level: a new contact level counts once it stayed put for
//! [`PressTiming::debounce`]. A burst of bounces therefore yields one press, and the
//! press is timed from the first edge of the level that stuck.

use std::fmt;
use std::time::Duration;

use crate::core::Instant;
use serde::{Deserialize, Serialize};

/// One of the box's four buttons, named as printed on the Pirate Audio board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Button {
    A,
    B,
    X,
    Y,
}

impl Button {
    pub const ALL: [Button; 4] = [Button::A, Button::B, Button::X, Button::Y];
}

impl fmt::Display for Button {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Button::A => "A",
            Button::B => "B",
            Button::X => "X",
            Button::Y => "Y",
        })
    }
}

/// A button's contact closed (`pressed`) or opened, as a backend saw it, bounces
/// included: [`Presses`] turns edges into presses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ButtonEdge {
    pub button: Button,
    pub pressed: bool,
    /// When the edge happened, on the box's monotonic clock.
    pub at: Instant,
}

/// How long things take. The defaults suit the Pirate Audio's tactile switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PressTiming {
    /// A level must hold this long to count: longer than the switch's bounce, shorter
    /// than the quickest real tap (about 30 ms).
    pub debounce: Duration,
    /// Held this long, a press is long: fired while still held.
    pub long: Duration,
    /// A repeating button repeats first after this long held…
    pub repeat_delay: Duration,
    /// …then every this long.
    pub repeat_every: Duration,
    /// Held longer than this, a button is taken for stuck (or its release was lost):
    /// it stops repeating and its release sends nothing.
    pub stuck_after: Duration,
}

impl Default for PressTiming {
    fn default() -> Self {
        PressTiming {
            debounce: Duration::from_millis(20),
            long: Duration::from_millis(800),
            repeat_delay: Duration::from_millis(400),
            repeat_every: Duration::from_millis(150),
            stuck_after: Duration::from_secs(30),
        }
    }
}

/// What kind of press happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PressKind {
    /// Released before the long-press time; for a repeating button, the moment it went
    /// down (so a tap reacts at once).
    Short,
    /// Held for the long-press time (fired while held; its release sends nothing).
    Long,
    /// A repeating button still held (after its tap, or after its long press).
    Repeat,
}

/// How a button behaves while held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hold {
    /// A tap on release; held, one long press.
    #[default]
    Long,
    /// A tap the moment it goes down, then repeats while held (no long press): a
    /// volume knob.
    Repeat,
    /// A tap on release; held, a long press and then repeats of it while still held:
    /// a second knob behind the first ("tap: this box, hold: every box").
    LongThenRepeat,
}

/// One press of one button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Press {
    pub button: Button,
    pub kind: PressKind,
}

/// The timer a held button waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    /// When the contact closed (the first edge of the level that stuck).
    since: Instant,
    /// The next long press or repeat, `None` once there is nothing left to fire.
    next: Option<Instant>,
    /// A long press fired, or the button was given up as stuck: its release is silent.
    spent: bool,
}

/// One button's contact as seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Key {
    /// The latest level an edge reported, bounces included.
    raw: bool,
    /// When `raw` began.
    raw_at: Instant,
    /// The latest time this key was brought up to: edges older than that are taken as
    /// happening then, so time never runs backwards.
    seen: Instant,
    /// `Some` while the debounced level is pressed.
    held: Option<Held>,
}

/// Turns button edges into presses.
#[derive(Clone, Debug)]
pub struct Presses {
    timing: PressTiming,
    holds: [Hold; 4],
    keys: [Key; 4],
}

fn index(button: Button) -> usize {
    match button {
        Button::A => 0,
        Button::B => 1,
        Button::X => 2,
        Button::Y => 3,
    }
}

impl Presses {
    /// A machine where the buttons `repeating` auto-repeat (and have no long press);
    /// the others have a long press.
    pub fn new(timing: PressTiming, repeating: &[Button]) -> Self {
        let holds = Button::ALL.map(|b| {
            if repeating.contains(&b) {
                Hold::Repeat
            } else {
                Hold::Long
            }
        });
        Presses::with_holds(timing, holds)
    }

    /// A machine where button A, B, X, Y behaves as `holds[0..4]` says.
    pub fn with_holds(timing: PressTiming, holds: [Hold; 4]) -> Self {
        Presses {
            timing,
            holds,
            keys: [Key::default(); 4],
        }
    }

    /// Takes one edge; returns the presses that became due up to its time.
    pub fn edge(&mut self, edge: ButtonEdge) -> Vec<Press> {
        let i = index(edge.button);
        let mut out = Vec::new();
        if edge.at < self.keys[i].raw_at {
            // A later edge already told us the level after this one: it is stale.
            tracing::debug!(?edge, "button edge older than the last one: ignored");
            return Vec::new();
        }
        // Polls may have run past the edge's time; time never runs backwards.
        let at = edge.at.max(self.keys[i].seen);
        // Only what was due strictly before the edge: at its instant the level changed.
        self.advance(
            i,
            Instant::from_nanos(at.as_nanos().saturating_sub(1)),
            &mut out,
        );
        let key = &mut self.keys[i];
        // The same level twice (a duplicated edge, or one lost in between) changes
        // nothing: keeping the older `raw_at` keeps the debounce and timers honest.
        if edge.pressed != key.raw {
            key.raw = edge.pressed;
            key.raw_at = at;
        }
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Returns the presses due by `now`, in the order they happened.
    pub fn poll(&mut self, now: Instant) -> Vec<Press> {
        let mut out = Vec::new();
        for i in 0..self.keys.len() {
            self.advance(i, now, &mut out);
        }
        // Stable: one button's presses keep their order; buttons interleave by time.
        out.sort_by_key(|(at, _)| *at);
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// When to call [`Presses::poll`] next; `None` while nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.keys.iter().filter_map(|k| self.pending(k)).min()
    }

    /// The next thing due for `key`: a level to settle, or (while physically pressed)
    /// a long press or repeat.
    fn pending(&self, key: &Key) -> Option<Instant> {
        if key.raw != key.held.is_some() {
            return Some(key.raw_at + self.timing.debounce);
        }
        if key.raw {
            return key.held.and_then(|h| h.next);
        }
        None
    }

    /// Brings key `i` up to `t`, appending what fired (with when) to `out`.
    fn advance(&mut self, i: usize, t: Instant, out: &mut Vec<(Instant, Press)>) {
        let button = Button::ALL[i];
        let timing = self.timing;
        let hold_mode = self.holds[i];
        // Each turn settles a level or fires a timer; timers stop at `stuck_after`, so
        // this ends even when polled long after a lost release.
        while let Some(due) = self.pending(&self.keys[i]).filter(|d| *d <= t) {
            let key = &mut self.keys[i];
            let mut emit = |kind| out.push((due, Press { button, kind }));
            match (key.raw, key.held.as_mut()) {
                (true, None) => {
                    let since = key.raw_at;
                    let first = if hold_mode == Hold::Repeat {
                        emit(PressKind::Short);
                        timing.repeat_delay
                    } else {
                        timing.long
                    };
                    key.held = Some(Held {
                        since,
                        next: Some(since + first),
                        spent: false,
                    });
                }
                (false, Some(hold)) => {
                    if hold_mode != Hold::Repeat && !hold.spent {
                        emit(PressKind::Short);
                    }
                    key.held = None;
                }
                (true, Some(hold)) => {
                    if due.saturating_duration_since(hold.since) > timing.stuck_after {
                        tracing::warn!(%button, "button held too long: taken as stuck");
                        hold.next = None;
                        hold.spent = true;
                    } else if hold_mode == Hold::Repeat
                        || (hold_mode == Hold::LongThenRepeat && hold.spent)
                    {
                        emit(PressKind::Repeat);
                        hold.next = Some(due + timing.repeat_every);
                    } else if hold_mode == Hold::LongThenRepeat {
                        emit(PressKind::Long);
                        hold.next = Some(due + timing.repeat_every);
                        hold.spent = true;
                    } else {
                        emit(PressKind::Long);
                        hold.next = None;
                        hold.spent = true;
                    }
                }
                // `pending` returns nothing for a released, settled key.
                (false, None) => break,
            }
        }
        let key = &mut self.keys[i];
        key.seen = key.seen.max(t);
    }
}

#[cfg(test)]
#[path = "buttons_tests.rs"]
mod tests;
