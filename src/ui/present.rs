//! From the published status to the view model: which screen a box shows and what is on
//! it. Pure: the caller passes the time and what only the face knows (toast, cover).

use std::sync::Arc;
use std::time::Duration;

use super::keymap::{Context, Keymap};
use super::view::{
    Cover, Fetching, Idle, Invitation, PartyLine, Playing, Role, Screen, SyncMark, View,
};
use crate::core::{PartyRole, PartyState};
use crate::status::Status;

/// What the face adds to the status.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The answer to the last button press, while it is shown.
    pub toast: Option<String>,
    /// The current song's picture, decoded.
    pub cover: Option<Arc<Cover>>,
    /// Milliseconds since the face started (scrolling).
    pub tick_ms: u64,
    /// How long a party gathers guests before it starts by itself.
    pub invite_window: Duration,
}

/// What the buttons mean in `status`'s situation.
pub fn context(status: &Status) -> Context {
    Context {
        in_party: status.party.is_some(),
        host: status
            .party
            .as_ref()
            .is_some_and(|p| p.role == PartyRole::Host),
        invitation_waiting: !status.invitations.is_empty(),
    }
}

/// The view of `status`.
pub fn view_of(status: &Status, keymap: &Keymap, extras: &Extras) -> View {
    let ctx = context(status);
    let alert = status.alerts.first().cloned();
    let screen = screen_of(status, keymap, &ctx, extras);
    // An alert takes the whole screen only when nothing else is going on; otherwise it
    // is the banner at the bottom until a button's answer replaces it for a moment.
    let (screen, banner) = match (screen, alert) {
        (Screen::Idle(_), Some(alert)) => (Screen::Error(alert), None),
        (screen, alert) => (screen, alert.map(|a| format!("{}: {}", a.message, a.hint))),
    };
    View {
        name: status.name.clone(),
        neighbours: status.neighbours.len(),
        box_volume: status.box_volume,
        party_volume: status.playback.as_ref().and_then(|p| p.party_volume),
        screen,
        toast: extras.toast.clone().or(banner),
        tick_ms: extras.tick_ms,
    }
}

fn screen_of(status: &Status, keymap: &Keymap, ctx: &Context, extras: &Extras) -> Screen {
    let join_button = keymap.join_button().unwrap_or(crate::hal::Button::A);
    let Some(party) = &status.party else {
        return match status.invitations.first() {
            Some(inv) => Screen::Invitation(Invitation {
                host_name: inv.host_name.clone(),
                joined: usize::from(inv.members),
                starts_in_s: countdown(inv.started, inv.age_ms, extras.invite_window),
                more: status.invitations.len() - 1,
                join_button,
                joining: false,
                hosting: false,
            }),
            None => Screen::Idle(Idle {
                invitations: 0,
                legend: keymap.legend(ctx),
            }),
        };
    };
    let host_name = party
        .members
        .first()
        .map_or_else(|| "?".to_owned(), |m| m.name.clone());
    let line = PartyLine {
        name: format!("{host_name}'s party"),
        size: party.members.len(),
        role: match party.role {
            PartyRole::Host => Role::Host,
            PartyRole::Member => Role::Member,
        },
    };
    if party.state == PartyState::Joining {
        let inv = status.invitations.iter().find(|i| i.party == party.id);
        return Screen::Invitation(Invitation {
            host_name: inv.map_or(host_name, |i| i.host_name.clone()),
            joined: inv.map_or(0, |i| usize::from(i.members)),
            starts_in_s: inv.and_then(|i| countdown(i.started, i.age_ms, extras.invite_window)),
            more: 0,
            join_button,
            joining: true,
            hosting: false,
        });
    }
    let playback = status.playback.as_ref();
    let song = playback.and_then(|p| p.song.as_ref());
    let transfer = song.and_then(|s| status.transfers.iter().find(|t| &t.song == s));
    let lacking = playback.is_some_and(|p| p.missing_song);
    let fetching = |t: &crate::status::TransferStatus| {
        Screen::Fetching(Fetching {
            title: t.title.clone(),
            fraction: (t.size > 0).then(|| (t.bytes as f64 / t.size as f64).clamp(0.0, 1.0) as f32),
            rate_bps: t.rate_bps,
            eta_s: t
                .eta_ms
                .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
            party: line.clone(),
        })
    };
    match (playback, song) {
        (Some(p), Some(_)) => match transfer {
            Some(t) if lacking && t.state != "complete" && t.state != "failed" => fetching(t),
            _ => Screen::Playing(Playing {
                title: p
                    .title
                    .clone()
                    .or_else(|| transfer.map(|t| t.title.clone()))
                    .unwrap_or_else(|| "Unknown song".into()),
                artist: p.artist.clone(),
                elapsed_ms: p.position_ms.unwrap_or(0),
                total_ms: p.duration_ms,
                paused: p.state != "playing",
                party: line,
                sync: if lacking {
                    SyncMark::Silent
                } else if p.state == "unsynced" {
                    SyncMark::Off
                } else {
                    SyncMark::from_error_us(p.playout_error_us)
                },
                cover: extras.cover.clone(),
            }),
        },
        // Before the first song: the party gathers guests, or fetches what plays first.
        _ => match status.transfers.first() {
            Some(t) if t.state != "complete" => fetching(t),
            _ => Screen::Invitation(Invitation {
                host_name,
                joined: party.members.len().saturating_sub(1),
                starts_in_s: None,
                more: 0,
                join_button,
                joining: false,
                hosting: party.role == PartyRole::Host,
            }),
        },
    }
}

/// Seconds until a forming party starts by itself.
fn countdown(started: bool, age_ms: u64, window: Duration) -> Option<u32> {
    if started {
        return None;
    }
    let left = window.saturating_sub(Duration::from_millis(age_ms));
    Some(u32::try_from(left.as_secs()).unwrap_or(u32::MAX))
}
