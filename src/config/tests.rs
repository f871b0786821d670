//! Parsing, defaults and validation of the configuration file, and the board's default
//! file kept in step with the parser.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::*;
use crate::core::{NodeId, RequestPolicy};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

#[test]
fn empty_file_gives_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.discovery, DiscoveryConfig::default());
    assert_eq!(c.name, None);
}

#[test]
fn fields_parse() {
    let c = parse(
        r#"
        name = "kitchen"
        state_dir = "/tmp/x"
        [discovery]
        port = 9000
        interfaces = ["127.0.0.1"]
        static_peers = ["10.0.0.2:7701"]
        [party]
        auto_join = true
        requests = "host-only"
        "#,
    )
    .unwrap();
    assert_eq!(c.effective_name(), "kitchen");
    assert_eq!(c.state_dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.discovery.port, 9000);
    assert_eq!(c.discovery.interfaces, vec![Ipv4Addr::LOCALHOST]);
    assert_eq!(c.discovery.static_peers.len(), 1);
    assert_eq!(
        c.discovery.beacon_interval_ms, 1000,
        "unset fields keep defaults"
    );
    let node = c.node_config(NodeId(1), 7701, 7702);
    assert!(node.party.auto_join);
    assert_eq!(node.party.requests, RequestPolicy::HostOnly);
    assert_eq!(node.party.min_accepts, 3);
}

#[test]
fn parse_errors_name_the_field() {
    let e = parse("[discovery]\nport = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("port"), "{e}");
    let e = parse("[discovery]\nprot = 1\n").unwrap_err().to_string();
    assert!(e.contains("prot"), "{e}");
    let e = parse("[discovery]\ngroup = \"10.0.0.1\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("discovery.group"), "{e}");
    let e = parse("[discovery]\nbeacon_interval_ms = 5\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("discovery.beacon_interval_ms"), "{e}");
    let e = parse("[party]\nrequests = \"everyone\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("requests"), "{e}");
    let e = parse("[party]\nmin_accepts = 0\n").unwrap_err().to_string();
    assert!(e.contains("party.min_accepts"), "{e}");
    let e = parse("name = \"\"\n").unwrap_err().to_string();
    assert!(e.contains("`name`"), "{e}");
    let e = parse("[audio]\noutput = \"pulse\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("audio.output"), "{e}");
}

#[test]
fn explicit_missing_file_is_an_error_default_missing_is_not() {
    assert!(matches!(
        Config::load(Some(Path::new("/nonexistent/chorus.toml"))),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn names_are_cut_on_a_char_boundary() {
    let c = Config {
        name: Some("é".repeat(20)),
        ..Config::default()
    };
    assert_eq!(c.effective_name(), "é".repeat(16));
}

/// The commented default installed on a Pi must stay in step with this parser.
#[test]
fn board_default_config_parses_to_the_defaults() {
    let text = include_str!("../../board/chorus.toml");
    let c = Config::parse(text, Path::new("board/chorus.toml")).unwrap();
    assert_eq!(c.discovery, DiscoveryConfig::default());
    assert_eq!(c.party, PartyTable::default());
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/chorus"));
}
