//! `chorus.txt`: its format as editors write it, the value checks, the files it makes,
//! and that a bad file changes nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::Config;

const PASS: &str = "correct horse battery";

fn ok(text: &str) -> BootSettings {
    parse(text.as_bytes()).unwrap()
}

fn err(text: &str) -> String {
    parse(text.as_bytes()).unwrap_err().to_string()
}

fn full() -> String {
    format!("name = kitchen\nwifi_country = gb\nwifi_ssid = Home Net\nwifi_passphrase = {PASS}\n")
}

#[test]
fn all_settings_parse() {
    let s = ok(&full());
    assert_eq!(s.name.as_deref(), Some("kitchen"));
    let wifi = s.wifi.unwrap();
    assert_eq!(wifi.country, "GB", "upper-cased");
    assert_eq!(wifi.ssid, "Home Net");
    assert!(wifi.key == WifiKey::Passphrase(PASS.into()));
}

#[test]
fn crlf_bom_comments_and_blank_lines_are_what_windows_editors_write() {
    let unix = ok(&full());
    let windows = format!("\u{feff}# my box\r\n\r\n{}", full().replace('\n', "\r\n"));
    assert_eq!(ok(&windows), unix);
    let spaced = "  name=kitchen  \n\t# wifi_ssid = x\n";
    assert_eq!(ok(spaced).name.as_deref(), Some("kitchen"));
    assert_eq!(ok(spaced).wifi, None, "a commented line sets nothing");
}

#[test]
fn other_encodings_are_refused_with_the_fix() {
    let utf16: Vec<u8> = [0xFF, 0xFE, b'n', 0].to_vec();
    assert!(parse(&utf16)
        .unwrap_err()
        .to_string()
        .contains("save it as UTF-8"));
    let latin1 = b"name = K\xfcche\n";
    let e = parse(latin1).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    assert!(e.is_bad_value());
}

#[test]
fn empty_values_and_quotes() {
    assert_eq!(ok("name =\nwifi_ssid=\n"), BootSettings::default());
    assert_eq!(ok("name = \" two  \"\n").name.as_deref(), Some(" two  "));
    assert_eq!(
        ok("NAME = x\n").name.as_deref(),
        Some("x"),
        "keys ignore case"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    assert_eq!(
        err("# x\nname kitchen\n"),
        "line 2: expected `setting = value`"
    );
    let e = err("name = a\nwifi_sid = x\n");
    assert!(e.starts_with("line 2: unknown setting `wifi_sid`"), "{e}");
    assert_eq!(err("name = a\nname = b\n"), "line 2: `name` is set twice");
}

#[test]
fn ssid_is_1_to_32_bytes() {
    let with = |ssid: &str| format!("wifi_country = DE\nwifi_ssid = {ssid}\n");
    assert_eq!(ok(&with(&"s".repeat(32))).wifi.unwrap().ssid.len(), 32);
    assert_eq!(
        err(&with(&"s".repeat(33))),
        "line 2: wifi_ssid must be at most 32 bytes"
    );
    // 11 characters, 33 bytes.
    assert!(err(&with(&"\u{2603}".repeat(11))).contains("32 bytes"));
}

#[test]
fn passphrase_is_8_to_63_ascii_or_64_hex() {
    let with = |p: &str| format!("wifi_country = US\nwifi_ssid = n\nwifi_passphrase = {p}\n");
    let key = |p: &str| ok(&with(p)).wifi.unwrap().key;
    assert!(key("12345678") == WifiKey::Passphrase("12345678".into()));
    assert!(key(&"p".repeat(63)) == WifiKey::Passphrase("p".repeat(63)));
    assert!(key("a \"quoted\" # pass") == WifiKey::Passphrase("a \"quoted\" # pass".into()));
    let e = err(&with("pa\"ss #word"));
    assert!(e.contains("cannot have # after an odd number"), "{e}");
    let hex = "0123456789ABCDEF".repeat(4);
    assert!(key(&hex) == WifiKey::Psk(hex.to_ascii_lowercase()));
    for bad in ["1234567", &"p".repeat(64), "pässwört-long", &"g".repeat(64)] {
        let e = err(&with(bad));
        assert!(
            e.contains("line 3: wifi_passphrase must be 8-63"),
            "{bad}: {e}"
        );
        assert!(
            !e.contains(bad),
            "the error must not reveal the passphrase: {e}"
        );
    }
    assert!(
        ok("wifi_country = US\nwifi_ssid = cafe\n")
            .wifi
            .unwrap()
            .key
            == WifiKey::Open
    );
}

#[test]
fn country_is_two_letters() {
    for bad in ["G", "GBR", "1A", "G-"] {
        let e = err(&format!("wifi_country = {bad}\nwifi_ssid = n\n"));
        assert!(
            e.contains("wifi_country must be a two-letter"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn wifi_settings_need_each_other() {
    assert!(err("wifi_ssid = n\n").starts_with("wifi_ssid needs wifi_country"));
    assert!(err("wifi_passphrase = 12345678\n").starts_with("wifi_passphrase needs wifi_ssid"));
    assert!(err("wifi_country = GB\n").starts_with("wifi_country needs wifi_ssid"));
}

#[test]
fn names_and_party_keys() {
    assert!(err(&format!("name = {}\n", "n".repeat(33))).contains("at most 32 bytes"));
    assert!(err("name = a\u{7}b\n").contains("control characters"));
    assert_eq!(
        err("\n\nname = \" \"\n"),
        "line 3: name must not be only spaces"
    );
    let e = err("party_key = s3cret\n");
    assert_eq!(
        e,
        "line 1: party_key must be 64 hex digits or a passphrase of 12 to 128 bytes"
    );
    assert!(err("party_key = \" s3cret party \"\n").contains("space"));
    let key = ok("party_key = our long s3cret party\n").party_key.unwrap();
    assert_eq!(key.expose(), "our long s3cret party");
    let shown = format!("{:?}", ok("party_key = our long s3cret party\n"));
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn debug_output_hides_the_passphrase() {
    let shown = format!("{:?}", ok(&full()));
    assert!(
        shown.contains("Home Net") && !shown.contains(PASS),
        "{shown}"
    );
}

#[test]
fn wifi_conf_quotes_nothing_it_cannot() {
    let wifi = Wifi {
        country: "GB".into(),
        ssid: "a\"b #".into(),
        key: WifiKey::Passphrase("pa\"s\"s #word".into()),
    };
    let conf = wifi_conf(&wifi);
    assert!(conf.contains("\ncountry=GB\n"), "{conf}");
    assert!(conf.contains("\tssid=6122622023\n"), "{conf}");
    assert!(conf.contains("\tpsk=\"pa\"s\"s #word\"\n"), "{conf}");
    let open = wifi_conf(&Wifi {
        key: WifiKey::Open,
        ..wifi.clone()
    });
    assert!(
        open.contains("key_mgmt=NONE") && !open.contains("psk"),
        "{open}"
    );
    let psk = wifi_conf(&Wifi {
        key: WifiKey::Psk("ab".repeat(32)),
        ..wifi
    });
    assert!(
        psk.contains(&format!("\tpsk={}\n", "ab".repeat(32))),
        "{psk}"
    );
}

/// A box's files in a temporary directory: chorus.toml from board/, chorus.txt, Wi-Fi.
#[derive(Debug)]
struct Box_ {
    _dir: tempfile::TempDir,
    boot: PathBuf,
    config: PathBuf,
    wifi: PathBuf,
}

impl Box_ {
    fn new(boot_text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("chorus.toml");
        fs::copy(board("chorus.toml"), &config).unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o640)).unwrap();
        let boot = dir.path().join("chorus.txt");
        fs::write(&boot, boot_text).unwrap();
        let wifi = dir.path().join("wpa/wpa_supplicant-wlan0.conf");
        Box_ {
            _dir: dir,
            boot,
            config,
            wifi,
        }
    }

    fn apply(&self) -> Result<Outcome, BootError> {
        apply(
            &self.boot,
            Targets {
                config: &self.config,
                wifi_conf: &self.wifi,
            },
        )
    }
}

fn board(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("board")
        .join(file)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn applying_sets_the_name_keeps_comments_and_writes_the_wifi() {
    let b = Box_::new(&full());
    let before = fs::read_to_string(&b.config).unwrap();
    let outcome = b.apply().unwrap();
    assert_eq!(
        outcome,
        Outcome::Applied {
            config: Some(Written::Changed),
            wifi: Some(Written::Changed)
        }
    );
    let after = fs::read_to_string(&b.config).unwrap();
    let config = Config::parse(&after, &b.config).unwrap();
    assert_eq!(config.name.as_deref(), Some("kitchen"));
    let kept = before.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(after.lines().filter(|l| l.starts_with('#')).count(), kept);
    assert_eq!(mode(&b.config), 0o640, "chorus.toml keeps its permissions");
    let wifi = fs::read_to_string(&b.wifi).unwrap();
    assert!(wifi.contains("country=GB") && wifi.contains(PASS), "{wifi}");
    assert_eq!(mode(&b.wifi), 0o600, "only root reads the passphrase");
    assert_eq!(
        b.apply().unwrap(),
        Outcome::Applied {
            config: Some(Written::Unchanged),
            wifi: Some(Written::Unchanged)
        },
        "the same file again writes nothing"
    );
    let leftovers: Vec<_> = fs::read_dir(b.config.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn applying_sets_the_party_key() {
    let b = Box_::new("party_key = our long s3cret party\n");
    let outcome = b.apply().unwrap();
    assert_eq!(
        outcome,
        Outcome::Applied {
            config: Some(Written::Changed),
            wifi: None
        }
    );
    let after = fs::read_to_string(&b.config).unwrap();
    let config = Config::parse(&after, &b.config).unwrap();
    let key = config.party_key.unwrap();
    assert_eq!(key.expose(), "our long s3cret party");
    assert_eq!(config.name, None, "the name is left as it was");
    assert_eq!(mode(&b.config), 0o640);
}

#[test]
fn a_bad_value_changes_nothing() {
    let b = Box_::new(&full());
    b.apply().unwrap();
    let (config, wifi) = (fs::read(&b.config).unwrap(), fs::read(&b.wifi).unwrap());
    for bad in [
        "name = parlour\nwifi_country = GB\nwifi_ssid = x\nwifi_passphrase = short\n",
        "name = parlour\nwifi_country = GBR\nwifi_ssid = x\n",
        &format!("name = {}\n", "n".repeat(40)),
        "name = \"   \"\n",
        "name = parlour\nparty_key = too short\n",
    ] {
        fs::write(&b.boot, bad).unwrap();
        let e = b.apply().unwrap_err();
        assert!(e.is_bad_value(), "{e}");
        assert_eq!(fs::read(&b.config).unwrap(), config, "{bad}");
        assert_eq!(fs::read(&b.wifi).unwrap(), wifi, "{bad}");
    }
}

#[test]
fn a_broken_chorus_toml_is_reported_and_left_alone() {
    let b = Box_::new("name = kitchen\n");
    fs::write(&b.config, "[discovery]\nport = \"x\"\n").unwrap();
    let e = b.apply().unwrap_err().to_string();
    assert!(e.contains("port"), "{e}");
    assert_eq!(
        fs::read_to_string(&b.config).unwrap(),
        "[discovery]\nport = \"x\"\n"
    );
}

#[test]
fn no_file_means_nothing_to_do() {
    let b = Box_::new("");
    fs::remove_file(&b.boot).unwrap();
    assert_eq!(b.apply().unwrap(), Outcome::NoFile);
    assert!(!b.wifi.exists());
}

#[test]
fn a_failed_replace_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.conf");
    fs::write(&path, "old").unwrap();
    // The temporary file's name is taken by a directory: the write fails part way.
    fs::create_dir(dir.path().join(".x.conf.new")).unwrap();
    assert!(atomic::replace(&path, b"new", 0o644).is_err());
    assert_eq!(fs::read_to_string(&path).unwrap(), "old");
}

#[test]
fn the_notice_is_one_line_and_clears() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(notice::read(&state), None);
    notice::write(
        &state,
        &format!("line 3: bad\nsecond line{}", "x".repeat(300)),
    )
    .unwrap();
    assert_eq!(notice::read(&state).as_deref(), Some("line 3: bad"));
    assert_eq!(mode(&state.join(notice::NOTICE_FILE)), 0o644);
    notice::write(&state, &"y".repeat(500)).unwrap();
    assert_eq!(notice::read(&state).unwrap().len(), 200);
    notice::clear(&state).unwrap();
    notice::clear(&state).unwrap();
    assert_eq!(notice::read(&state), None);
}

/// The file shipped on the boot partition sets nothing as shipped, and each example
/// line, uncommented, is valid.
#[test]
fn the_shipped_file_sets_nothing_and_its_examples_are_valid() {
    let shipped = fs::read(board("chorus.txt")).unwrap();
    assert_eq!(parse(&shipped).unwrap(), BootSettings::default());
    let text = String::from_utf8(shipped).unwrap();
    let examples: String = text
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter(|l| l.contains(" = ") && !l.starts_with(' '))
        .map(|l| format!("{l}\n"))
        .collect();
    let s = parse(examples.as_bytes()).unwrap();
    assert!(s.name.is_some() && s.wifi.is_some(), "{examples}");
}
