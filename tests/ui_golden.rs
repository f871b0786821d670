//! Golden images of every screen: each view drawn into a `Frame` must match
//! `tests/golden/<name>.png` pixel for pixel. `CHORUS_BLESS=1` rewrites them instead.

use std::path::PathBuf;
use std::sync::Arc;

use chorus::hal::Button;
use chorus::status::{Alert, AlertKind};
use chorus::ui::frame::{Frame, SIZE};
use chorus::ui::keymap::{Context, Keymap};
use chorus::ui::screens;
use chorus::ui::view::{
    Cover, Fetching, Idle, Invitation, LegendRow, PartyLine, Playing, Role, Screen, SyncMark, View,
};

fn base(screen: Screen) -> View {
    View {
        name: "kitchen".into(),
        neighbours: 3,
        box_volume: 80,
        party_volume: Some(65),
        screen,
        toast: None,
        tick_ms: 0,
    }
}

/// The legend of the default button mapping outside a party: what a new box shows.
fn legend() -> Vec<LegendRow> {
    Keymap::default().legend(&Context::default())
}

fn party(role: Role) -> PartyLine {
    PartyLine {
        name: "kitchen's party".into(),
        playlist: None,
        size: 3,
        role,
        keyed: false,
    }
}

/// A colourful picture made here: a diagonal gradient with a sun and a band.
fn test_cover() -> Arc<Cover> {
    let (w, h) = (300u32, 300u32);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut px = [
                (40.0 + 200.0 * fx) as u8,
                (30.0 + 80.0 * fy) as u8,
                (180.0 - 120.0 * fx * fy) as u8,
            ];
            let (dx, dy) = (x as f32 - 200.0, y as f32 - 100.0);
            if dx * dx + dy * dy < 55.0 * 55.0 {
                px = [255, 210, 60];
            }
            if y > 200 && y < 240 + (x / 10) {
                px = [20, 40 + (x / 4) as u8, 70];
            }
            rgb.extend(px);
        }
    }
    Arc::new(Cover {
        width: w,
        height: h,
        rgb,
    })
}

fn playing(title: &str, artist: Option<&str>) -> Playing {
    Playing {
        title: title.into(),
        artist: artist.map(Into::into),
        elapsed_ms: 83_000,
        total_ms: Some(225_000),
        paused: false,
        party: party(Role::Member),
        sync: SyncMark::Locked,
        cover: None,
    }
}

fn invitation(starts_in_s: Option<u32>, joining: bool, more: usize) -> Invitation {
    Invitation {
        host_name: "living room".into(),
        joined: 2,
        starts_in_s,
        more,
        join_button: Keymap::default().join_button().unwrap_or(Button::A),
        joining,
        hosting: false,
        keyed: false,
    }
}

fn fetching(fraction: Option<f32>, eta_s: Option<u32>) -> Fetching {
    Fetching {
        title: "Teardrop".into(),
        fraction,
        rate_bps: 1_234_567,
        eta_s,
        party: party(Role::Member),
    }
}

fn alert(kind: AlertKind, message: &str, hint: &str) -> Screen {
    Screen::Error(Alert {
        kind,
        message: message.into(),
        hint: hint.into(),
    })
}

fn views() -> Vec<(&'static str, View)> {
    let mut v = Vec::new();
    idle_and_invitation_views(&mut v);
    playing_views(&mut v);
    error_views(&mut v);
    v
}

/// Before a party plays: idle, invitations, fetching the first song.
fn idle_and_invitation_views(v: &mut Vec<(&'static str, View)>) {
    v.push((
        "idle",
        base(Screen::Idle(Idle {
            invitations: 0,
            legend: legend(),
        })),
    ));
    let mut idle2 = base(Screen::Idle(Idle {
        invitations: 2,
        legend: legend(),
    }));
    idle2.neighbours = 1;
    idle2.party_volume = None;
    v.push(("idle-invitations", idle2));
    v.push((
        "invitation-countdown",
        base(Screen::Invitation(invitation(Some(12), false, 0))),
    ));
    v.push((
        "invitation-started",
        base(Screen::Invitation(invitation(None, false, 2))),
    ));
    v.push((
        "invitation-joining",
        base(Screen::Invitation(invitation(Some(7), true, 0))),
    ));
    let mut hosting = invitation(Some(15), false, 0);
    hosting.host_name = "kitchen".into();
    hosting.hosting = true;
    v.push(("invitation-hosting", base(Screen::Invitation(hosting))));
    let mut keyed = invitation(Some(12), false, 0);
    keyed.keyed = true;
    v.push(("invitation-keyed", base(Screen::Invitation(keyed))));
    v.push((
        "fetching",
        base(Screen::Fetching(fetching(Some(0.42), Some(12)))),
    ));
    let mut listed = fetching(Some(0.42), Some(12));
    listed.party.playlist = Some("Road trip".into());
    v.push(("fetching-playlist", base(Screen::Fetching(listed))));
    let mut unknown = base(Screen::Fetching(fetching(None, None)));
    unknown.tick_ms = 1_000;
    v.push(("fetching-unknown-size", unknown));
}

/// A song playing: roles, covers, long and non-Latin titles, sync marks, a toast.
fn playing_views(v: &mut Vec<(&'static str, View)>) {
    let mut host = playing("Teardrop", Some("Massive Attack"));
    host.party.role = Role::Host;
    host.cover = Some(test_cover());
    v.push(("playing-host-cover", base(Screen::Playing(host))));
    v.push((
        "playing-member",
        base(Screen::Playing(playing("Teardrop", Some("Massive Attack")))),
    ));
    // A keyed party: the padlock beside the size, the long name cut before it.
    let mut keyed = playing("Teardrop", Some("Massive Attack"));
    keyed.party.keyed = true;
    keyed.party.name = "the living room's party".into();
    v.push(("playing-keyed", base(Screen::Playing(keyed))));
    let long = "The Unbearable Lightness of Being (Extended Live Version)";
    for (name, tick) in [("playing-scroll-0", 0), ("playing-scroll-5s", 5_000)] {
        let mut view = base(Screen::Playing(playing(
            long,
            Some("An Orchestra With A Very Long Name Indeed"),
        )));
        view.tick_ms = tick;
        v.push((name, view));
    }
    v.push((
        "playing-accents",
        base(Screen::Playing(playing(
            "Café Déjà Vu \u{2014} Sigur Rós",
            Some("Björk & Ólafur Arnalds"),
        ))),
    ));
    v.push((
        "playing-cyrillic",
        base(Screen::Playing(playing("Москва", Some("Кино \u{1F3B5}")))),
    ));
    v.push((
        "playing-cjk",
        base(Screen::Playing(playing("東京", Some("Ελλάδα")))),
    ));
    let mut listed = playing("Teardrop", Some("Massive Attack"));
    listed.party.role = Role::Host;
    listed.party.playlist = Some("Road trip".into());
    listed.cover = Some(test_cover());
    v.push(("playing-playlist", base(Screen::Playing(listed))));
    let mut long_list = playing("Teardrop", Some("Massive Attack"));
    long_list.party.playlist = Some("Songs for a very long drive through the night".into());
    v.push(("playing-playlist-long", base(Screen::Playing(long_list))));
    let mut paused = playing("Teardrop", Some("Massive Attack"));
    paused.paused = true;
    paused.cover = Some(test_cover());
    v.push(("playing-paused", base(Screen::Playing(paused))));
    let mut silent = playing("Song this box lacks", None);
    silent.sync = SyncMark::Silent;
    silent.total_ms = None;
    v.push(("playing-silent", base(Screen::Playing(silent))));
    let mut close = playing("Teardrop", Some("Massive Attack"));
    close.sync = SyncMark::Close;
    v.push(("playing-close", base(Screen::Playing(close))));
    let mut toast = base(Screen::Playing(playing("Teardrop", Some("Massive Attack"))));
    toast.toast = Some("Refused by the host: the queue is full".into());
    v.push(("toast", toast));
}

/// Each alert.
fn error_views(v: &mut Vec<(&'static str, View)>) {
    v.push((
        "error-no-audio",
        base(alert(
            AlertKind::NoAudio,
            "No audio device",
            "Check the DAC overlay in config.txt",
        )),
    ));
    v.push((
        "error-disk-full",
        base(alert(
            AlertKind::DiskFull,
            "Disk full",
            "Songs this box lacks stay silent. Free some space.",
        )),
    ));
    v.push((
        "error-corrupt-song",
        base(alert(
            AlertKind::CorruptSong,
            "A song could not be read",
            "It was skipped; the party plays on",
        )),
    ));
    v.push((
        "error-no-network",
        base(alert(
            AlertKind::NoNetwork,
            "No network",
            "Connect the box to Wi-Fi or Ethernet",
        )),
    ));
    v.push((
        "error-bad-settings",
        base(alert(
            AlertKind::BadSettings,
            "Bad chorus.txt",
            "line 3: wifi_passphrase must be 8-63 ASCII chars or 64 hex digits",
        )),
    ));
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn actual_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/golden-actual")
}

fn differing(a: &Frame, b: &Frame) -> usize {
    a.pixels()
        .iter()
        .zip(b.pixels())
        .filter(|(x, y)| x != y)
        .count()
}

#[test]
fn every_screen_matches_its_golden_image() {
    let bless = std::env::var("CHORUS_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for (name, view) in views() {
        let mut frame = Frame::new();
        let Ok(()) = screens::draw(&view, &mut frame);
        let png = frame.to_png().expect("encode png");
        let golden = golden_dir().join(format!("{name}.png"));
        if bless {
            std::fs::write(&golden, &png).expect("write golden");
            continue;
        }
        let expected = match std::fs::read(&golden) {
            Ok(bytes) => Frame::from_png(&bytes).expect("golden png decodes"),
            Err(e) => {
                failures.push(format!(
                    "{name}: {} missing ({e}); run with CHORUS_BLESS=1",
                    golden.display()
                ));
                continue;
            }
        };
        let diff = differing(&frame, &expected);
        if diff > 0 {
            std::fs::create_dir_all(actual_dir()).expect("mkdir golden-actual");
            let actual = actual_dir().join(format!("{name}.png"));
            std::fs::write(&actual, &png).expect("write actual");
            failures.push(format!(
                "{name}: {diff} of {} pixels differ: expected {}, actual {}",
                SIZE * SIZE,
                golden.display(),
                actual.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch:\n{}",
        failures.join("\n")
    );
}

#[test]
fn scrolling_titles_move_between_ticks() {
    let long = "The Unbearable Lightness of Being (Extended Live Version)";
    let draw = |tick| {
        let mut view = base(Screen::Playing(playing(long, None)));
        view.tick_ms = tick;
        let mut frame = Frame::new();
        let Ok(()) = screens::draw(&view, &mut frame);
        frame
    };
    assert_eq!(draw(0), draw(1_000), "rests at the start");
    assert_ne!(draw(0), draw(5_000), "then scrolls");
}
