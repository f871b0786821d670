//! `chorus apply-boot-config` and `chorus run` as the box's boot runs them: a bad
//! chorus.txt keeps the previous settings and the running box reports why (status alert,
//! hence the screen); a fixed file is applied and the alert is gone at the next start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chorus::status::AlertKind;
use common::{start_with, status, test_port, wait_for, BIN};

/// Runs `chorus apply-boot-config` on the files under `dir`; returns (exit code, stderr).
fn apply(dir: &Path, state: &Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("apply-boot-config")
        .arg("--from")
        .arg(dir.join("chorus.txt"))
        .arg("--config")
        .arg(dir.join("chorus.toml"))
        .arg("--wifi-conf")
        .arg(dir.join("wpa_supplicant-wlan0.conf"))
        .arg("--state-dir")
        .arg(state)
        .env("CHORUS_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_file_keeps_the_settings_and_the_box_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("chorus.toml");
    let before = "name = \"before\"\nhal = \"none\"\n[audio]\noutput = \"null\"\n";
    std::fs::write(&config, before).unwrap();
    // The box's start names the box itself (`--name`), so the state dir is the box's.
    let state = d.join("box");

    std::fs::write(
        d.join("chorus.txt"),
        "name = after\r\nwifi_country = GB\r\nwifi_ssid = home\r\nwifi_passphrase = short\r\n",
    )
    .unwrap();
    let (code, stderr) = apply(d, &state);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("line 4: wifi_passphrase"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert!(!d.join("wpa_supplicant-wlan0.conf").exists());

    let port = test_port(61);
    let mut running = start_with(d, "box", port, &config, &[]);
    let mut alert = None;
    wait_for(Duration::from_secs(10), || {
        alert = status(&running.state).and_then(|s| s.alerts.first().cloned());
        alert.is_some()
    });
    let alert = alert.expect("the box reports the bad file");
    assert_eq!(alert.kind, AlertKind::BadSettings);
    assert!(
        alert.hint.starts_with("line 4: wifi_passphrase"),
        "{alert:?}"
    );
    running.terminate();

    std::fs::write(
        d.join("chorus.txt"),
        "name = after\nwifi_country = GB\nwifi_ssid = home\nwifi_passphrase = long enough\n",
    )
    .unwrap();
    let (code, stderr) = apply(d, &state);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("name = \"after\""));
    let running = start_with(d, "box", port, &config, &[]);
    let mut alerts = None;
    wait_for(Duration::from_secs(10), || {
        alerts = status(&running.state).map(|s| s.alerts);
        alerts.is_some()
    });
    let alerts = alerts.expect("the box answers");
    assert!(
        alerts.iter().all(|a| a.kind != AlertKind::BadSettings),
        "{alerts:?}"
    );
}
