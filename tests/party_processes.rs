//! Real `chorus run` processes on loopback form a party over TCP, survive the host's
//! death, and honour the request policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chorus::core::{PartyRole, PartyState};
use common::{
    ctl, host_and_join, neighbour_names, start, start_with, status, test_port, wait_for, BoxProc,
};

fn party_of(state: &Path) -> Option<chorus::status::PartyStatus> {
    status(state).and_then(|s| s.party)
}

fn member_ids(state: &Path) -> Vec<String> {
    let mut ids: Vec<String> = party_of(state)
        .map(|p| p.members.into_iter().map(|m| m.id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Starts boxes and waits until each lists all the others.
/// A music folder under `dir` with one short song called `name`.
fn with_song(dir: &Path, name: &str) -> std::path::PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    common::audio::write_song(&music.join(name), 1);
    music
}

fn start_all(dir: &Path, names: &[&str], port: u16, config: Option<&Path>) -> Vec<BoxProc> {
    let boxes: Vec<BoxProc> = names
        .iter()
        .map(|n| match config {
            Some(c) => start_with(dir, n, port, c, &[]),
            None => start(dir, n, port, &[]),
        })
        .collect();
    let found = wait_for(Duration::from_secs(15), || {
        boxes
            .iter()
            .all(|b| neighbour_names(&b.state).len() == names.len() - 1)
    });
    assert!(found.is_some(), "boxes did not find each other");
    boxes
}

/// Hosts on `boxes[0]` and has every other box join by command; returns the party id.
#[test]
fn four_boxes_party_survives_the_host_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut boxes = start_all(dir.path(), &["a", "b", "c", "d"], test_port(11), None);
    let party = host_and_join(&boxes);
    // Three guests meet the default min_accepts: the party starts without waiting 20 s.
    let started = wait_for(Duration::from_secs(10), || {
        party_of(&boxes[0].state)
            .is_some_and(|p| p.state == PartyState::Started && p.members.len() == 4)
    });
    assert!(
        started.is_some(),
        "party did not start: {:?}",
        party_of(&boxes[0].state)
    );
    let host_view = member_ids(&boxes[0].state);
    let converged = wait_for(Duration::from_secs(5), || {
        boxes[1..].iter().all(|b| member_ids(&b.state) == host_view)
    });
    assert!(converged.is_some(), "members' lists differ from the host's");
    let old = party_of(&boxes[0].state).unwrap();
    let old_host = old.host;

    let mut host = boxes.remove(0);
    host.kill();
    let killed_at = Instant::now();
    let mut new_host = None;
    let took = wait_for(Duration::from_secs(10), || {
        new_host = boxes.iter().find_map(|b| {
            party_of(&b.state).filter(|p| p.role == PartyRole::Host && p.id == party)
        });
        new_host.is_some()
    });
    assert!(took.is_some(), "no successor took over");
    let elapsed = killed_at.elapsed();
    assert!(
        elapsed <= Duration::from_secs(3),
        "failover took {elapsed:?} (> 3 s)"
    );
    let new_host = new_host.unwrap();
    assert_ne!(new_host.host, old_host);
    assert!(
        new_host.term > old.term,
        "the successor hosts a higher term"
    );
    // The survivors end up in one party under the new host.
    let settled = wait_for(Duration::from_secs(10), || {
        boxes.iter().all(|b| {
            party_of(&b.state)
                .is_some_and(|p| p.id == party && p.host == new_host.host && p.members.len() == 3)
        })
    });
    assert!(
        settled.is_some(),
        "survivors did not regroup under the successor"
    );
}

#[test]
fn host_only_policy_refuses_member_requests_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let music = with_song(dir.path(), "song.wav");
    std::fs::write(
        dir.path().join("strict.toml"),
        format!("music_dir = {music:?}\n[party]\nrequests = \"host-only\"\n"),
    )
    .unwrap();
    let cfg = dir.path().join("strict.toml");
    let boxes = start_all(dir.path(), &["h", "m"], test_port(12), Some(&cfg));
    host_and_join(&boxes);
    let joined = wait_for(Duration::from_secs(10), || {
        party_of(&boxes[1].state)
            .is_some_and(|p| p.role == PartyRole::Member && p.members.len() == 2)
    });
    assert!(joined.is_some());
    let (ok, _, err) = ctl(&boxes[1].state, &["skip"]);
    assert!(!ok, "a member's skip must be refused under host-only");
    assert!(err.contains("host only"), "{err}");
    let (ok, _, err) = ctl(&boxes[1].state, &["queue", "song"]);
    assert!(!ok && err.contains("host only"), "{err}");
    let (ok, out, err) = ctl(&boxes[0].state, &["queue", "song"]);
    assert!(ok, "the host's own request is accepted: {out} {err}");
    assert_eq!(
        party_of(&boxes[0].state).unwrap().queue,
        vec!["song".to_owned()]
    );
}

#[test]
fn members_queue_under_anyone_policy_leave_and_the_host_ends() {
    let dir = tempfile::tempdir().unwrap();
    let music = with_song(dir.path(), "their-song.wav");
    let cfg = dir.path().join("music.toml");
    std::fs::write(&cfg, format!("music_dir = {music:?}\n")).unwrap();
    let boxes = start_all(dir.path(), &["h", "m", "n"], test_port(13), Some(&cfg));
    host_and_join(&boxes);
    let joined = wait_for(Duration::from_secs(10), || {
        party_of(&boxes[0].state).is_some_and(|p| p.members.len() == 3)
    });
    assert!(joined.is_some());
    // Joined on the host does not mean welcomed on the member yet.
    assert!(wait_for(Duration::from_secs(5), || {
        party_of(&boxes[1].state).is_some_and(|p| p.members.len() == 3)
    })
    .is_some());
    let (ok, _, err) = ctl(&boxes[1].state, &["queue", "not-here.mp3"]);
    assert!(!ok && err.contains("music folder"), "{err}");
    let song = music.join("their-song.wav");
    let (ok, out, err) = ctl(&boxes[1].state, &["queue", song.to_str().unwrap()]);
    assert!(ok, "{out} {err}");
    assert_eq!(
        party_of(&boxes[0].state).unwrap().queue,
        vec!["their-song".to_owned()]
    );

    let (ok, _, _) = ctl(&boxes[2].state, &["leave"]);
    assert!(ok);
    assert!(party_of(&boxes[2].state).is_none());
    let left = wait_for(Duration::from_secs(5), || {
        party_of(&boxes[0].state).is_some_and(|p| p.members.len() == 2)
            && party_of(&boxes[1].state).is_some_and(|p| p.members.len() == 2)
    });
    assert!(left.is_some(), "leaving is reflected on host and members");

    let (ok, _, err) = ctl(&boxes[1].state, &["end"]);
    assert!(!ok && err.contains("only the host"), "{err}");
    let (ok, _, _) = ctl(&boxes[0].state, &["end"]);
    assert!(ok);
    let ended = wait_for(Duration::from_secs(5), || {
        party_of(&boxes[1].state).is_none()
    });
    assert!(ended.is_some(), "the member saw the party end");
}

#[test]
fn a_killed_host_restarts_and_rejoins_its_party_as_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_port(14);
    let mut boxes = start_all(dir.path(), &["a", "b", "c"], port, None);
    let party = host_and_join(&boxes);
    let all_in = wait_for(Duration::from_secs(10), || {
        boxes
            .iter()
            .all(|b| party_of(&b.state).is_some_and(|p| p.members.len() == 3))
    });
    assert!(all_in.is_some(), "party did not form");
    boxes[0].kill();
    let successor = wait_for(Duration::from_secs(10), || {
        boxes[1..]
            .iter()
            .any(|b| party_of(&b.state).is_some_and(|p| p.id == party && p.role == PartyRole::Host))
    });
    assert!(successor.is_some(), "no successor");
    // Same state dir: the box remembers its party and rejoins it without a button.
    boxes[0] = start(dir.path(), "a", port, &[]);
    let rejoined = wait_for(Duration::from_secs(15), || {
        party_of(&boxes[0].state)
            .is_some_and(|p| p.id == party && p.role == PartyRole::Member && p.members.len() == 3)
    });
    assert!(
        rejoined.is_some(),
        "the old host did not rejoin as a member: {:?}",
        party_of(&boxes[0].state)
    );
    let hosts = boxes
        .iter()
        .filter(|b| party_of(&b.state).is_some_and(|p| p.role == PartyRole::Host))
        .count();
    assert_eq!(hosts, 1, "the party did not split");
}
