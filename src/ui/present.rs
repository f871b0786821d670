//! From the published status to the view model: which screen a box shows and what is on
//! it. Pure: the caller passes the time and what only the face knows (toast, cover).

use std::sync::Arc;
use std::time::Duration;

use super::keymap::{Context, Keymap};
use super::view::{
    Cover, Fetching, Idle, Invitation, PartyLine, Playing, Role, Screen, SyncMark, View,
};
use crate::core::{PartyRole, PartyState};
use crate::status::{PlaybackStatus, Status, TransferStatus};

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
    let join_button = keymap
        .join_button()
        .unwrap_or(crate::ui::buttons::Button::A);
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
                keyed: status.keyed,
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
            keyed: status.keyed,
        });
    }
    let line = PartyLine {
        name: format!("{host_name}'s party"),
        playlist: status.playlist.as_ref().map(|p| p.name.clone()),
        size: party.members.len(),
        role: match party.role {
            PartyRole::Host => Role::Host,
            PartyRole::Member => Role::Member,
        },
        keyed: status.keyed,
    };
    let playback = status.playback.as_ref();
    let song = playback.and_then(|p| p.song.as_ref());
    let transfer = song.and_then(|s| status.transfers.iter().find(|t| &t.song == s));
    match (playback, song) {
        (Some(p), Some(_)) => {
            let lacking = p.missing_song;
            match transfer {
                Some(t) if lacking && t.state != "complete" && t.state != "failed" => {
                    fetching_screen(t, line)
                }
                _ => playing_screen(p, transfer, lacking, line, extras),
            }
        }
        // Before the first song: the party gathers guests, or fetches what plays first.
        _ => match status.transfers.first() {
            Some(t) if t.state != "complete" => fetching_screen(t, line),
            _ => Screen::Invitation(Invitation {
                host_name,
                joined: party.members.len().saturating_sub(1),
                starts_in_s: party
                    .starts_in_ms
                    .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
                more: 0,
                join_button,
                joining: false,
                hosting: party.role == PartyRole::Host,
                keyed: status.keyed,
            }),
        },
    }
}

/// The first song of the party (or one this box lacks) on its way.
fn fetching_screen(t: &TransferStatus, party: PartyLine) -> Screen {
    Screen::Fetching(Fetching {
        title: t.title.clone(),
        fraction: (t.size > 0).then(|| (t.bytes as f64 / t.size as f64).clamp(0.0, 1.0) as f32),
        rate_bps: t.rate_bps,
        eta_s: t
            .eta_ms
            .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)),
        party,
    })
}

/// The song playing; `lacking`: this box does not have it and stays silent.
fn playing_screen(
    p: &PlaybackStatus,
    transfer: Option<&TransferStatus>,
    lacking: bool,
    party: PartyLine,
    extras: &Extras,
) -> Screen {
    Screen::Playing(Playing {
        title: p
            .title
            .clone()
            .or_else(|| transfer.map(|t| t.title.clone()))
            .unwrap_or_else(|| "Unknown song".into()),
        artist: p.artist.clone(),
        elapsed_ms: p.position_ms.unwrap_or(0),
        total_ms: p.duration_ms,
        paused: p.state != "playing",
        party,
        sync: if lacking {
            SyncMark::Silent
        } else if p.state == "unsynced" {
            SyncMark::Off
        } else {
            SyncMark::from_error_us(p.playout_error_us)
        },
        cover: extras.cover.clone(),
    })
}

/// Seconds until a forming party starts by itself.
fn countdown(started: bool, age_ms: u64, window: Duration) -> Option<u32> {
    if started {
        return None;
    }
    let left = window.saturating_sub(Duration::from_millis(age_ms));
    Some(u32::try_from(left.as_secs()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Instant, Node, NodeId};
    use crate::status::{
        Alert, AlertKind, InvitationStatus, MemberStatus, PartyStatus, PlaybackStatus,
        TransferStatus,
    };

    fn idle() -> Status {
        let config = crate::config::Config::default().node_config(NodeId(1), 0, 0);
        let node = Node::new(config, Instant::ZERO, 1);
        let mut s = Status::of(&node, Instant::ZERO, "0.0.0.0:7701".into());
        s.name = "kitchen".into();
        s
    }

    fn extras() -> Extras {
        Extras {
            invite_window: Duration::from_secs(20),
            ..Extras::default()
        }
    }

    fn in_party(mut s: Status, role: PartyRole) -> Status {
        let member = |name: &str| MemberStatus {
            id: "00".into(),
            name: name.into(),
            addr: "127.0.0.1:1".into(),
        };
        s.party = Some(PartyStatus {
            id: "77".into(),
            term: 1,
            host: "00".into(),
            role,
            state: PartyState::Started,
            members: vec![member("attic"), member("kitchen")],
            queue: Vec::new(),
            waiting_for_songs: false,
            starts_in_ms: None,
        });
        s
    }

    fn playing(mut s: Status, missing: bool) -> Status {
        s.playback = Some(PlaybackStatus {
            song: Some("ab".into()),
            state: "playing".into(),
            position_ms: Some(61_000),
            clock: None,
            playout_error_us: Some(-120.0),
            missing_song: missing,
            error: None,
            party_volume: Some(70),
            title: Some("Teardrop".into()),
            artist: Some("Massive Attack".into()),
            duration_ms: Some(330_000),
            reseeks: Some(0),
            decoder_late: Some(0),
            realtime: Some(true),
            position_jitter_us: Some(12.0),
            device_rate_ppm: Some(3.0),
        });
        s
    }

    #[test]
    fn idle_shows_the_legend_and_an_alert_takes_the_whole_screen() {
        let keymap = Keymap::default();
        let view = view_of(&idle(), &keymap, &extras());
        let Screen::Idle(idle_screen) = &view.screen else {
            panic!("{view:?}");
        };
        assert_eq!(idle_screen.legend[0].short, "HOST");
        let mut s = idle();
        s.alerts.push(Alert {
            kind: AlertKind::NoAudio,
            message: "No audio device".into(),
            hint: "check audio.output".into(),
        });
        assert!(matches!(
            view_of(&s, &keymap, &extras()).screen,
            Screen::Error(_)
        ));
        // In a party the alert is a banner; the party stays on screen.
        let view = view_of(
            &playing(in_party(s, PartyRole::Member), false),
            &keymap,
            &extras(),
        );
        assert!(matches!(view.screen, Screen::Playing(_)));
        assert_eq!(
            view.toast.as_deref(),
            Some("No audio device: check audio.output")
        );
    }

    #[test]
    fn an_invitation_counts_down_and_names_the_join_button() {
        let mut s = idle();
        s.invitations.push(InvitationStatus {
            party: "77".into(),
            host: "00".into(),
            host_name: "attic".into(),
            addr: "127.0.0.1:1".into(),
            hops: 0,
            started: false,
            members: 1,
            age_ms: 7_500,
        });
        let view = view_of(&s, &Keymap::default(), &extras());
        let Screen::Invitation(inv) = view.screen else {
            panic!("{view:?}");
        };
        assert_eq!(inv.host_name, "attic");
        assert_eq!(inv.starts_in_s, Some(12));
        assert_eq!(inv.join_button, crate::ui::buttons::Button::A);
        assert!(!inv.joining && !inv.hosting);
    }

    #[test]
    fn a_member_without_the_song_sees_it_fetching_then_plays_it() {
        let mut s = playing(in_party(idle(), PartyRole::Member), true);
        s.transfers.push(TransferStatus {
            song: "ab".into(),
            title: "Teardrop".into(),
            bytes: 250,
            size: 1_000,
            rate_bps: 1_000_000,
            received_bytes: 250,
            eta_ms: Some(1_500),
            state: "fetching".into(),
            sources: 1,
            error: None,
        });
        let view = view_of(&s, &Keymap::default(), &extras());
        let Screen::Fetching(f) = &view.screen else {
            panic!("{view:?}");
        };
        assert_eq!((f.fraction, f.eta_s), (Some(0.25), Some(2)));
        assert_eq!(f.party.name, "attic's party");
        s.transfers[0].state = "complete".into();
        if let Some(p) = s.playback.as_mut() {
            p.missing_song = false;
        }
        let view = view_of(&s, &Keymap::default(), &extras());
        let Screen::Playing(p) = &view.screen else {
            panic!("{view:?}");
        };
        assert_eq!((p.elapsed_ms, p.total_ms), (61_000, Some(330_000)));
        assert_eq!(p.sync, SyncMark::Locked);
        assert_eq!(p.party.role, Role::Member);
        assert_eq!(p.party.playlist, None, "a whole music folder has no name");
        assert_eq!((view.box_volume, view.party_volume), (100, Some(70)));
    }

    #[test]
    fn the_party_line_names_the_playlist_the_party_plays() {
        let mut s = playing(in_party(idle(), PartyRole::Member), false);
        s.playlist = Some(crate::status::PlaylistStatus {
            name: "Road trip".into(),
            skipped: Vec::new(),
        });
        let view = view_of(&s, &Keymap::default(), &extras());
        let Screen::Playing(p) = &view.screen else {
            panic!("{view:?}");
        };
        assert_eq!(p.party.playlist.as_deref(), Some("Road trip"));
        assert_eq!(p.party.name, "attic's party");
    }
}
