//! The view model: everything a screen shows, as plain values (no I/O, no clock reads).
//!
//! `hal::face` builds a [`View`] from the published status snapshot; the screens in
//! [`super::screens`] draw it. Tests build views by hand.

use std::sync::Arc;

pub use crate::status::{Alert, AlertKind};

use crate::ui::buttons::Button;

/// What the screen shows now.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// This box's name.
    pub name: String,
    /// Boxes this one sees.
    pub neighbours: usize,
    /// This box's own volume (a speaker knob), 0 to 100.
    pub box_volume: u8,
    /// The party volume the host schedules for everyone; `None` outside a party.
    pub party_volume: Option<u8>,
    /// The main content.
    pub screen: Screen,
    /// A short answer to the last button press ("refused by the host: …"), shown for a
    /// few seconds over the bottom of any screen.
    pub toast: Option<String>,
    /// Milliseconds since the box started: drives scrolling of long titles.
    pub tick_ms: u64,
}

/// The main content of the screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Screen {
    /// Nothing going on: the box's name, what it sees and how to use it.
    Idle(Idle),
    /// A party invites us.
    Invitation(Invitation),
    /// In a party, fetching the song that plays first.
    Fetching(Fetching),
    /// In a party with a song.
    Playing(Playing),
    /// Something stops the box from doing its job; one line says what to do.
    Error(Alert),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Idle {
    /// Parties this box could join.
    pub invitations: usize,
    /// The button legend: what each button does, short and long press.
    pub legend: Vec<LegendRow>,
}

/// One button's line of the legend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegendRow {
    pub button: Button,
    /// What a short press does, in one word ("HOST").
    pub short: String,
    /// What a long press does, if anything ("end").
    pub long: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Invitation {
    /// The host's name.
    pub host_name: String,
    /// Boxes that already joined.
    pub joined: usize,
    /// Seconds until the party starts by itself; `None` once it started (a late join).
    pub starts_in_s: Option<u32>,
    /// Other invitations waiting behind this one.
    pub more: usize,
    /// Which button joins ("B").
    pub join_button: Button,
    /// `true` once this box asked to join and waits for the host's welcome.
    pub joining: bool,
    /// This box hosts the party and waits for guests (no join hint).
    pub hosting: bool,
    /// The party has a party key (a padlock beside the heading).
    pub keyed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fetching {
    pub title: String,
    /// 0.0 to 1.0; `None` while the song's size is unknown.
    pub fraction: Option<f32>,
    /// Bytes per second over the last few seconds.
    pub rate_bps: u64,
    /// Seconds left at that rate.
    pub eta_s: Option<u32>,
    /// The party, as on the playing screen.
    pub party: PartyLine,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Playing {
    pub title: String,
    pub artist: Option<String>,
    pub elapsed_ms: u64,
    pub total_ms: Option<u64>,
    /// Paused or stopped by the host: the time does not move.
    pub paused: bool,
    pub party: PartyLine,
    pub sync: SyncMark,
    /// The song's embedded picture, decoded; `None` draws a placeholder.
    pub cover: Option<Arc<Cover>>,
}

/// The party line of the playing and fetching screens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyLine {
    /// "kitchen's party".
    pub name: String,
    /// The playlist the party plays, if its host chose one ("Road trip").
    pub playlist: Option<String>,
    /// Boxes in it, this one included.
    pub size: usize,
    pub role: Role,
    /// The party has a party key (drawn as a padlock); open parties show none.
    pub keyed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Host,
    Member,
}

/// How well this box follows the schedule, from its playout error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMark {
    /// Within 0.5 ms of the schedule.
    Locked,
    /// Within 5 ms: steering in.
    Close,
    /// Further out, or the clock is not locked yet.
    Off,
    /// This box lacks the song and stays silent, in step.
    Silent,
}

impl SyncMark {
    /// The mark for a playout error in microseconds.
    pub fn from_error_us(error_us: Option<f64>) -> Self {
        match error_us.map(f64::abs) {
            Some(e) if e <= 500.0 => SyncMark::Locked,
            Some(e) if e <= 5_000.0 => SyncMark::Close,
            _ => SyncMark::Off,
        }
    }
}

/// A decoded picture in RGB888, any size (the screen scales it to fit).
#[derive(Clone, PartialEq, Eq)]
pub struct Cover {
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes, row by row.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Cover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cover({}x{})", self.width, self.height)
    }
}
