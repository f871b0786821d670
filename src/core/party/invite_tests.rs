//! Signed invitations: what a box believes and relays, and what it drops and counts.

use std::net::{Ipv4Addr, SocketAddr};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::core::sign::test_signer;
use crate::core::{Counters, NodeId};
use crate::proto::{self, MemberInfo, Message, Roster};

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, 0, 0, last), 7701))
}

/// The invitations in `out`'s datagrams.
fn invites(out: &mut Out) -> Vec<Invite> {
    std::iter::from_fn(|| out.transmits.pop_front())
        .filter_map(|t| match proto::decode_datagram(&t.payload) {
            Ok(Message::Invite(i)) => Some(i),
            _ => None,
        })
        .collect()
}

/// The first invitation a host signing with key `seed` floods.
fn hosts_invite(seed: u8) -> Invite {
    let signer = test_signer(seed);
    let cfg = PartyConfig {
        signer: Some(signer.clone()),
        ..PartyConfig::default()
    };
    let mut host = Party::new(cfg, signer.id(), "host".into());
    let mut out = Out::default();
    host.host(at(0), &mut out, &mut StdRng::seed_from_u64(1))
        .unwrap();
    host.handle_timeout(at(0), &mut out, &[]);
    invites(&mut out)
        .into_iter()
        .next()
        .expect("the host floods")
}

/// An idle box that has heard nothing yet.
fn idle(n: u64) -> Party {
    Party::new(PartyConfig::default(), NodeId(n), format!("box{n}"))
}

#[test]
fn a_signed_invitation_is_listed_and_relayed_with_its_signature() {
    let invite = hosts_invite(1);
    assert_eq!(invite.verify(), Ok(()));
    let mut relay = idle(3);
    let mut out = Out::default();
    relay.handle_invite(at(1), &mut out, addr(1), invite.clone(), &[]);
    assert_eq!(out.counters.invites_in, 1);
    assert_eq!(out.counters.forged_invites, 0);
    assert_eq!(relay.c.invitations.list().len(), 1);
    let relayed = invites(&mut out);
    assert!(!relayed.is_empty());
    assert!(relayed.iter().all(|r| r.hops == 1 && r.verify().is_ok()));

    // The next box accepts the relayed copy: the relay's changes are not signed.
    let mut next = idle(4);
    let mut out = Out::default();
    next.handle_invite(at(2), &mut out, addr(3), relayed[0].clone(), &[]);
    assert_eq!(out.counters.forged_invites, 0);
    assert_eq!(next.c.invitations.list().len(), 1);
}

/// Feeds `invite` to a fresh box: what it counted, listed and relayed.
fn receive(invite: Invite) -> (Counters, usize, usize) {
    let mut party = idle(3);
    let mut out = Out::default();
    party.handle_invite(at(1), &mut out, addr(1), invite, &[addr(9)]);
    let listed = party.c.invitations.list().len();
    (out.counters, listed, invites(&mut out).len())
}

#[test]
fn forged_invitations_are_dropped_counted_and_not_relayed() {
    let genuine = hosts_invite(1);
    let mut other_key = hosts_invite(2);
    other_key.host = genuine.host;
    let mut bad_signature = genuine.clone();
    bad_signature.signature[0] ^= 0x40;
    let unsigned = Invite {
        host_key: [0; 32],
        signature: [0; 64],
        ..genuine.clone()
    };
    // Altered after a relay: the hop count may change, the fields the host set may not.
    let relayed = Invite {
        ttl: genuine.ttl - 1,
        hops: 1,
        ..genuine.clone()
    };
    let renamed = Invite {
        host_name: "free beer".into(),
        ..relayed.clone()
    };
    let started = Invite {
        started: true,
        members: 30,
        ..relayed
    };
    for (what, forged) in [
        ("another key", other_key),
        ("bad signature", bad_signature),
        ("unsigned", unsigned),
        ("renamed on the way", renamed),
        ("started on the way", started),
    ] {
        let (counters, listed, sent) = receive(forged);
        assert_eq!(counters.forged_invites, 1, "{what}");
        assert_eq!(counters.invites_in, 0, "{what}");
        assert_eq!(listed, 0, "{what}: not in the invitations list");
        assert_eq!(sent, 0, "{what}: not relayed");
    }
}

#[test]
fn a_forgery_does_not_make_the_genuine_invitation_a_duplicate() {
    let genuine = hosts_invite(1);
    let mut forged = genuine.clone();
    forged.host_name = "evil".into();
    let mut party = idle(3);
    let mut out = Out::default();
    party.handle_invite(at(1), &mut out, addr(1), forged, &[]);
    party.handle_invite(at(2), &mut out, addr(1), genuine, &[]);
    assert_eq!(out.counters.forged_invites, 1);
    assert_eq!(out.counters.duplicate_invites, 0);
    let listed = party.c.invitations.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].host_name, "host");
}

/// A box that joins the party of `invite` and is welcomed on a stream whose session
/// proved `proven`: the party it then sees, if any.
fn welcomed_by(invite: &Invite, proven: NodeId) -> Option<PartyView> {
    let mut party = idle(3);
    let mut out = Out::default();
    party.handle_invite(at(1), &mut out, addr(1), invite.clone(), &[]);
    party.join(at(2), &mut out, Some(invite.party)).unwrap();
    let stream = std::iter::from_fn(|| out.streams.pop_front())
        .find_map(|a| match a {
            StreamAction::Connect { stream, .. } => Some(stream),
            _ => None,
        })
        .expect("the joiner dials the host");
    party.set_stream_session(stream, proven, [1; 32]);
    let host = MemberInfo {
        id: proven,
        name: "host".into(),
        addr: invite.host_addr,
        bulk_port: 0,
        slot: 0,
        missing: vec![],
    };
    let roster = Roster {
        party: invite.party,
        term: invite.term,
        phase: PartyPhase::Forming,
        host,
        members: vec![],
        udp_port: 7701,
    };
    party.handle_message(at(3), &mut out, stream, Control::Welcome(roster));
    party.view().filter(|v| v.role == PartyRole::Member)
}

#[test]
fn only_the_box_that_proves_the_invitations_host_id_can_welcome_a_joiner() {
    // Relays fill in the host's IP, so the address may lead anywhere: what counts is
    // the id the stream's session proved.
    let invite = hosts_invite(1);
    let impostor = NodeId(0x66);
    assert_eq!(welcomed_by(&invite, impostor), None);
    let joined = welcomed_by(&invite, invite.host).expect("the real host welcomes");
    assert_eq!((joined.id, joined.host), (invite.party, invite.host));
}
