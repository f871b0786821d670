//! The two volumes through `chorus ctl`: this box's own knob (kept across a restart) and
//! the party's, which the host schedules for every box.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{ctl, start, status, test_port, wait_for};

#[test]
fn box_volume_is_this_boxs_own_and_survives_a_restart_party_volume_reaches_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_port(83);
    let mut a = start(dir.path(), "a", port, &["--audio", "null"]);
    let b = start(dir.path(), "b", port, &["--audio", "null"]);
    assert!(wait_for(Duration::from_secs(10), || {
        status(&a.state).is_some_and(|s| !s.neighbours.is_empty())
            && status(&b.state).is_some_and(|s| !s.neighbours.is_empty())
    })
    .is_some());
    assert_eq!(status(&a.state).unwrap().box_volume, 100);

    let (ok, out, err) = ctl(&a.state, &["volume", "box", "40"]);
    assert!(ok, "{out} {err}");
    assert!(out.contains("40%"), "{out}");
    let (ok, _, err) = ctl(&a.state, &["volume", "box", "-15"]);
    assert!(ok, "{err}");
    assert_eq!(status(&a.state).unwrap().box_volume, 25);
    assert_eq!(status(&b.state).unwrap().box_volume, 100, "only this box");
    let (ok, text, _) = ctl(&a.state, &["status"]);
    assert!(ok && text.contains("volume box 25%"), "{text}");

    // Nonsense is a usage error (exit status 2) that changes nothing.
    for bad in [
        &["volume", "box", "120"][..],
        &["volume", "loud", "5"],
        &["volume", "box", "+x"],
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(["ctl", "--state-dir"])
            .arg(&a.state)
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    assert_eq!(status(&a.state).unwrap().box_volume, 25);

    // The party's volume: set on the host, moved by a member, the same everywhere.
    let party = common::host_and_join(&[&a, &b]);
    assert!(wait_for(Duration::from_secs(10), || {
        status(&b.state)
            .and_then(|s| s.party)
            .is_some_and(|p| p.id == party)
    })
    .is_some());
    let (ok, _, err) = ctl(&a.state, &["volume", "party", "60"]);
    assert!(ok, "{err}");
    let party_volume =
        |s: &chorus::status::Status| s.playback.as_ref().and_then(|p| p.party_volume);
    // The member turns it down from what it hears (shows), as a person would.
    assert!(wait_for(Duration::from_secs(10), || {
        status(&b.state).is_some_and(|s| party_volume(&s) == Some(60))
    })
    .is_some());
    let (ok, _, err) = ctl(&b.state, &["volume", "-10"]);
    assert!(ok, "{err}");
    for (name, state) in [("a", &a.state), ("b", &b.state)] {
        let at_50 = wait_for(Duration::from_secs(5), || {
            status(state).is_some_and(|s| party_volume(&s) == Some(50))
        });
        assert!(
            at_50.is_some(),
            "box {name}: {:?}",
            status(state).map(|s| s.playback)
        );
    }
    assert_eq!(
        status(&a.state).unwrap().box_volume,
        25,
        "the party's volume is not the box's"
    );

    // This box's volume comes back after a restart.
    a.terminate();
    let a = start(dir.path(), "a", port, &["--audio", "null"]);
    assert!(wait_for(Duration::from_secs(10), || status(&a.state).is_some()).is_some());
    assert_eq!(status(&a.state).unwrap().box_volume, 25);
}
