//! Requests, driven by hand: what a host decides is returned to the caller, never queued.

use std::net::{Ipv4Addr, SocketAddr};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::core::{Action, NodeId, PoolSong, SongRef};
use crate::proto::{Hello, RequestKind};

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn hosting(requests: RequestPolicy) -> (Party, PartyId, Out) {
    let cfg = PartyConfig {
        requests,
        ..PartyConfig::default()
    };
    let mut party = Party::new(cfg, NodeId(1), "host".into());
    let mut out = Out::default();
    let id = party
        .host(at(0), &mut out, &mut StdRng::seed_from_u64(1))
        .unwrap();
    (party, id, out)
}

/// A guest (box 2) comes in on a new stream; returns the stream.
fn admit_guest(party: &mut Party, id: PartyId, out: &mut Out) -> StreamId {
    let stream = party.accept_stream(SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)));
    let hello = Hello {
        id: NodeId(2),
        name: "guest".into(),
        control_port: 7702,
        bulk_port: 0,
    };
    let none = party.handle_message(at(1), out, stream, Control::Hello(hello));
    assert_eq!(none, None);
    let term = term_for(1, NodeId(1));
    let join = Control::Join { party: id, term };
    let joined = party.handle_message(at(1), out, stream, join);
    assert_eq!(joined, Some(Decision::GuestJoined { stream }));
    stream
}

fn answers(out: &mut Out) -> Vec<(u32, bool, Option<String>)> {
    std::iter::from_fn(|| out.streams.pop_front())
        .filter_map(|a| match a {
            StreamAction::Send {
                msg:
                    Control::Answer {
                        id,
                        accepted,
                        reason,
                        ..
                    },
                ..
            } => Some((id, accepted, reason)),
            _ => None,
        })
        .collect()
}

fn song(n: u8) -> PoolSong {
    PoolSong {
        song: SongRef([n; 32]),
        rate: 44_100,
        frames: 44_100,
        origin: None,
    }
}

#[test]
fn the_hosts_own_skip_returns_the_action_to_play() {
    let (mut party, _, mut out) = hosting(RequestPolicy::HostOnly);
    let kind = RequestKind::Playback(Action::Skip.into());
    let (outcome, decision) = party.request(&mut out, kind).unwrap();
    let accepted = RequestOutcome::Answered {
        accepted: true,
        reason: None,
    };
    assert_eq!(outcome, accepted);
    let skip = Action::Skip;
    assert_eq!(decision, Some(Decision::Play { action: skip }));
}

#[test]
fn an_offer_adds_its_song_once_and_a_box_in_no_party_is_refused() {
    let (mut party, _, mut out) = hosting(RequestPolicy::Anyone);
    let offer = RequestKind::Offer {
        song: song(9).into(),
        title: "nine".into(),
    };
    let (_, first) = party.request(&mut out, offer.clone()).unwrap();
    assert_eq!(first, Some(Decision::AddSong { song: song(9) }));
    let (again, second) = party.request(&mut out, offer).unwrap();
    assert!(matches!(
        again,
        RequestOutcome::Answered { accepted: true, .. }
    ));
    assert_eq!(
        second, None,
        "queued already: the pool does not take it twice"
    );
    let mut idle = Party::new(PartyConfig::default(), NodeId(3), "idle".into());
    let skip = RequestKind::Playback(Action::Skip.into());
    assert_eq!(idle.request(&mut out, skip), Err(CommandError::NotInParty));
}

#[test]
fn a_guests_request_is_answered_and_its_decision_returned() {
    let (mut party, id, mut out) = hosting(RequestPolicy::Anyone);
    let stream = admit_guest(&mut party, id, &mut out);
    answers(&mut out);
    let offer = RequestKind::Offer {
        song: song(4).into(),
        title: "four".into(),
    };
    let ask = Control::Request {
        party: id,
        id: 7,
        kind: offer,
    };
    let decision = party.handle_message(at(2), &mut out, stream, ask);
    let fetched_from_guest = PoolSong {
        origin: Some(NodeId(2)),
        ..song(4)
    };
    assert_eq!(
        decision,
        Some(Decision::AddSong {
            song: fetched_from_guest
        })
    );
    assert_eq!(answers(&mut out), [(7, true, None)]);
}

#[test]
fn a_host_only_party_refuses_a_guests_request_and_decides_nothing() {
    let (mut party, id, mut out) = hosting(RequestPolicy::HostOnly);
    let stream = admit_guest(&mut party, id, &mut out);
    answers(&mut out);
    let ask = Control::Request {
        party: id,
        id: 3,
        kind: RequestKind::Playback(Action::Pause.into()),
    };
    assert_eq!(party.handle_message(at(2), &mut out, stream, ask), None);
    let refused = answers(&mut out);
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].0, refused[0].1), (3, false));
    assert!(refused[0]
        .2
        .as_ref()
        .is_some_and(|r| r.contains("host only")));
}

/// Roster phases sent to guests so far.
fn roster_phases(out: &mut Out) -> Vec<PartyPhase> {
    std::iter::from_fn(|| out.streams.pop_front())
        .filter_map(|a| match a {
            StreamAction::Send {
                msg: Control::Roster(r),
                ..
            } => Some(r.phase),
            _ => None,
        })
        .collect()
}

#[test]
fn playing_music_starts_a_forming_party_and_tells_the_guests() {
    let (mut party, id, mut out) = hosting(RequestPolicy::Anyone);
    admit_guest(&mut party, id, &mut out);
    out.streams.clear();
    // A volume change is no start.
    let volume = RequestKind::Playback(Action::Volume { percent: 40 }.into());
    party.request(&mut out, volume).unwrap();
    assert_eq!(party.view().map(|v| v.state), Some(PartyState::Forming));
    assert!(roster_phases(&mut out).is_empty());
    // Music is: the party is under way, and every guest's roster says so, so a guest
    // that takes over after the host dies keeps it started.
    let resume = RequestKind::Playback(Action::Resume.into());
    party.request(&mut out, resume).unwrap();
    assert_eq!(party.view().map(|v| v.state), Some(PartyState::Started));
    assert_eq!(roster_phases(&mut out), vec![PartyPhase::Started]);
}
