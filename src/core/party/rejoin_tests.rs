//! A box restarted with the memory of its party: it rejoins when it hears the party's
//! invitation, keeps trying after a failed attempt, and forgets once welcomed back.

use std::net::{Ipv4Addr, SocketAddr};

use super::*;
use crate::core::sign::test_signer;
use crate::core::NodeId;
use crate::proto::{MemberInfo, Roster};

const PARTY: PartyId = PartyId(7);

/// The host's id: the one its signing key proves.
fn host() -> NodeId {
    test_signer(1).id()
}

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn host_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 7702))
}

/// The host's invitation, re-flooded as `round`, signed by the host.
fn invite(round: u32) -> Invite {
    let signer = test_signer(1);
    let mut invite = Invite {
        party: PARTY,
        term: term_for(1, host()),
        round,
        host: host(),
        host_name: "host".into(),
        host_addr: host_addr(),
        ttl: 1,
        hops: 0,
        started: true,
        members: 1,
        host_key: signer.0.public_key(),
        signature: [0; 64],
    };
    invite.signature = signer.0.sign(&invite.signed_bytes());
    assert_eq!(invite.verify(), Ok(()));
    invite
}

/// A box that was in `PARTY` before its restart.
fn restarted() -> Party {
    let cfg = PartyConfig {
        rejoin: Some(PARTY),
        ..PartyConfig::default()
    };
    Party::new(cfg, NodeId(2), "guest".into())
}

fn state(party: &Party) -> Option<PartyState> {
    party.view().map(|v| v.state)
}

/// The stream the box opened to the host.
fn dialed(out: &mut Out) -> Option<StreamId> {
    std::iter::from_fn(|| out.streams.pop_front()).find_map(|a| match a {
        StreamAction::Connect { stream, .. } => Some(stream),
        _ => None,
    })
}

#[test]
fn a_failed_rejoin_is_retried_at_the_next_invitation() {
    let mut party = restarted();
    let mut out = Out::default();
    party.handle_invite(at(0), &mut out, host_addr(), invite(1), &[]);
    assert_eq!(state(&party), Some(PartyState::Joining));
    // The host never answers: the attempt fails, the memory stays.
    for ms in (500..=4_000).step_by(500) {
        party.handle_timeout(at(ms), &mut out, &[]);
    }
    assert_eq!(state(&party), None, "the attempt timed out");
    assert_eq!(party.config().rejoin, Some(PARTY));
    party.handle_invite(at(4_500), &mut out, host_addr(), invite(2), &[]);
    assert_eq!(state(&party), Some(PartyState::Joining), "tried again");
}

#[test]
fn the_memory_of_the_party_is_dropped_once_welcomed_back() {
    let mut party = restarted();
    let mut out = Out::default();
    party.handle_invite(at(0), &mut out, host_addr(), invite(1), &[]);
    let stream = dialed(&mut out).expect("dialed the host");
    assert_eq!(party.config().rejoin, Some(PARTY), "not in yet");
    // The session on that stream proved the host.
    party.set_stream_session(stream, host(), [5; 32]);
    let member = |id, slot| MemberInfo {
        id,
        name: format!("box {}", id.0),
        addr: host_addr(),
        bulk_port: 0,
        slot,
        missing: Vec::new(),
    };
    let roster = Roster {
        party: PARTY,
        term: term_for(1, host()),
        phase: PartyPhase::Started,
        host: member(host(), 0),
        members: vec![member(NodeId(2), 1)],
        udp_port: 7701,
    };
    party.handle_message(at(10), &mut out, stream, Control::Welcome(roster));
    assert_eq!(state(&party), Some(PartyState::Started));
    assert_eq!(party.config().rejoin, None);
}
