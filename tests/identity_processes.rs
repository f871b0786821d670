//! The id collision of a copied `id` file, with real `chorus run` processes on loopback:
//! a box started with another's old id file gets an id of its own, and a stranger that
//! claims a member's id over a session it cannot prove is refused while the party stays
//! as it was; a box lists a signed invitation and drops and counts forged ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use chorus::core::{NodeId, PartyRole, Sign};
use chorus::identity::Identity;
use chorus::net::noise::Keys;
use chorus::proto::{encode_datagram, Control, Hello, Invite, Message, PartyId};
use common::session::handshake;
use common::{ctl, host_and_join, neighbour_names, start, status, test_port, wait_for};

fn party_of(state: &Path) -> Option<chorus::status::PartyStatus> {
    status(state).and_then(|s| s.party)
}

fn id_of(state: &Path) -> String {
    let up = wait_for(Duration::from_secs(10), || status(state).is_some());
    assert!(up.is_some(), "box at {state:?} did not start");
    status(state).unwrap().id
}

/// The role and sorted member ids the box at `state` sees.
fn view(state: &Path) -> Option<(PartyRole, Vec<String>)> {
    party_of(state).map(|p| {
        let mut ids: Vec<String> = p.members.into_iter().map(|m| m.id).collect();
        ids.sort();
        (p.role, ids)
    })
}

#[test]
fn a_copied_id_file_is_no_identity_and_a_claimed_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = test_port(41);
    let a = start(d, "a", port, &[]);
    let b = start(d, "b", port, &[]);
    let (a_id, b_id) = (id_of(&a.state), id_of(&b.state));
    assert!(
        wait_for(Duration::from_secs(15), || neighbour_names(&b.state).len()
            == 1)
        .is_some()
    );
    let party = host_and_join(&[&a, &b]);
    let formed = wait_for(Duration::from_secs(10), || {
        view(&a.state).is_some_and(|(_, ids)| ids.len() == 2)
    });
    assert!(formed.is_some(), "A and B did not form a party");

    // C starts from a copy of B's id file, as a cloned card of an older version held it.
    let c_state = d.join("c");
    std::fs::create_dir_all(&c_state).unwrap();
    std::fs::copy(b.state.join("id"), c_state.join("id")).unwrap();
    let c = start(d, "c", port, &[]);
    let c_id = id_of(&c.state);
    assert_ne!(c_id, b_id, "C took B's id from a copied file");
    let written = std::fs::read_to_string(c_state.join("id")).unwrap();
    assert_eq!(written.trim(), c_id, "C's id file now holds its own id");
    let invited = wait_for(Duration::from_secs(10), || {
        status(&c.state).is_some_and(|s| s.invitations.iter().any(|i| i.party == party))
    });
    assert!(invited.is_some(), "C never saw the party");
    let (ok, out, err) = ctl(&c.state, &["join"]);
    assert!(ok, "C join failed: {out} {err}");
    let mut three = vec![a_id.clone(), b_id.clone(), c_id.clone()];
    three.sort();
    let joined = wait_for(Duration::from_secs(10), || {
        view(&a.state) == Some((PartyRole::Host, three.clone()))
            && view(&b.state) == Some((PartyRole::Member, three.clone()))
            && view(&c.state) == Some((PartyRole::Member, three.clone()))
    });
    assert!(
        joined.is_some(),
        "A {:?} B {:?} C {:?}",
        view(&a.state),
        view(&b.state),
        view(&c.state)
    );

    // A stranger with a key of its own claims B's id on the host's control port: the
    // host closes the session without a welcome.
    let host = party_of(&a.state).unwrap();
    let host_port = common::host_control_port(&host);
    let claimed = NodeId(u64::from_str_radix(&b_id, 16).unwrap());
    let party_id = PartyId(u64::from_str_radix(&party, 16).unwrap());
    let answers = claim(host_port, claimed, party_id, host.term);
    assert!(
        !answers
            .iter()
            .any(|m| matches!(m, Message::Control(Control::Welcome(_)))),
        "{answers:?}"
    );
    let sessions = status(&a.state).unwrap().sessions;
    assert!(sessions.wrong_id >= 1, "{sessions:?}");
    // Nothing moved: A hosts, B and C are members, on every box.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(view(&a.state), Some((PartyRole::Host, three.clone())));
    assert_eq!(view(&b.state), Some((PartyRole::Member, three.clone())));
    assert_eq!(view(&c.state), Some((PartyRole::Member, three)));
}

/// A stranger with a key of its own asks the host on `host_port` to join `party` as
/// `claimed`; everything the host sends until it closes the session.
fn claim(host_port: u16, claimed: NodeId, party: PartyId, term: u64) -> Vec<Message> {
    let stranger = Keys::new(&Identity::generate()).unwrap();
    let socket = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (mut reader, mut writer) = handshake(socket, &stranger, true).expect("handshake");
    let hello = Hello {
        id: claimed,
        name: "b".into(),
        control_port: 1,
        bulk_port: 0,
    };
    let _ = writer.send(&Message::Control(Control::Hello(hello)));
    let _ = writer.send(&Message::Control(Control::Join { party, term }));
    let mut answers = Vec::new();
    while let Some(msg) = reader.recv() {
        answers.push(msg);
    }
    answers
}

#[test]
fn of_two_boxes_with_one_key_exactly_one_makes_a_new_identity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = test_port(42);
    let a = start(d, "a", port, &[]);
    let b = start(d, "b", port, &[]);
    let (a_id, b_id) = (id_of(&a.state), id_of(&b.state));
    assert!(
        wait_for(Duration::from_secs(15), || neighbour_names(&b.state).len()
            == 1)
        .is_some()
    );
    host_and_join(&[&a, &b]);
    let mut two = vec![a_id, b_id.clone()];
    two.sort();
    let formed = wait_for(Duration::from_secs(10), || {
        view(&a.state) == Some((PartyRole::Host, two.clone()))
    });
    assert!(formed.is_some(), "A and B did not form a party");

    // C's card is a copy of B's, made after B's first start: the same key.
    let key = std::fs::read(b.state.join("key")).unwrap();
    let c_state = d.join("c");
    std::fs::create_dir_all(&c_state).unwrap();
    std::fs::write(c_state.join("key"), &key).unwrap();
    let c = start(d, "c", port, &[]);
    assert_eq!(id_of(&c.state), b_id);
    let renewed = || -> Vec<bool> {
        [&b.state, &c.state]
            .iter()
            .map(|s| std::fs::read(s.join("key")).unwrap() != key)
            .collect()
    };
    let seen = wait_for(Duration::from_secs(15), || {
        renewed().contains(&true)
            && [&b.state, &c.state]
                .iter()
                .all(|s| status(s).is_some_and(|st| st.sessions.clones_seen >= 1))
    });
    assert!(seen.is_some(), "the clones never found each other");
    let renewed = renewed();
    assert_eq!(
        renewed.iter().filter(|r| **r).count(),
        1,
        "exactly one stores a new key: {renewed:?}"
    );
    // The running boxes keep their ids until they restart: the party is undisturbed.
    assert_eq!(view(&a.state), Some((PartyRole::Host, two.clone())));
    assert_eq!(view(&b.state), Some((PartyRole::Member, two)));
}

/// An invitation to `party` from `host`, signed by `host`.
fn invite_from(host: &Identity, party: u64) -> Invite {
    let mut invite = Invite {
        party: PartyId(party),
        term: 1,
        round: 0,
        host: host.id(),
        host_name: "stranger".into(),
        host_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9)),
        ttl: 1,
        hops: 0,
        started: false,
        members: 0,
        host_key: host.public_key(),
        signature: [0; 64],
    };
    invite.signature = host.sign(&invite.signed_bytes());
    invite
}

#[test]
fn a_signed_invitation_is_listed_and_forged_ones_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_port(43);
    let a = start(dir.path(), "a", port, &[]);
    id_of(&a.state);
    let target = status(&a.state).unwrap().addr;
    let host = Identity::generate();
    let genuine = invite_from(&host, 0x600d);
    // Another key claims the host's id; the host's own invitation altered after signing.
    let mut other_key = invite_from(&Identity::generate(), 0xbad1);
    other_key.host = host.id();
    let altered = Invite {
        party: PartyId(0xbad2),
        ..invite_from(&host, 0x600e)
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for invite in [other_key, altered, genuine] {
        let bytes = encode_datagram(&Message::Invite(invite)).unwrap();
        socket.send_to(&bytes, &target).unwrap();
    }
    let parties = |s: &chorus::status::Status| -> Vec<String> {
        s.invitations.iter().map(|i| i.party.clone()).collect()
    };
    let seen = wait_for(Duration::from_secs(10), || {
        status(&a.state).is_some_and(|s| !parties(&s).is_empty() && s.counters.forged_invites == 2)
    });
    let st = status(&a.state).unwrap();
    assert!(seen.is_some(), "{:?} {:?}", parties(&st), st.counters);
    assert_eq!(parties(&st), vec![PartyId(0x600d).to_string()]);
    assert_eq!(st.counters.invites_in, 1);
}
