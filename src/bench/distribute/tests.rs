use super::boxes::BoxSpec;
use super::*;

#[test]
fn defaults_are_the_issue_setup_and_valid() {
    let c = DistributeConfig::default();
    assert_eq!((c.members, c.size_mb, c.loopback_size_mb), (8, 20, 200));
    assert!(c.validate().is_ok());
}

#[test]
fn out_of_range_settings_are_refused_naming_the_flag() {
    let bad = [
        (
            DistributeConfig {
                members: 0,
                ..Default::default()
            },
            "--members",
        ),
        (
            DistributeConfig {
                members: MAX_MEMBERS + 1,
                ..Default::default()
            },
            "--members",
        ),
        (
            DistributeConfig {
                size_mb: 0,
                ..Default::default()
            },
            "--size-mb",
        ),
        (
            DistributeConfig {
                loopback_size_mb: MAX_SIZE_MB + 1,
                ..Default::default()
            },
            "--loopback-size-mb",
        ),
    ];
    for (config, flag) in bad {
        match config.validate() {
            Err(DistributeError::Invalid(msg)) => assert!(msg.starts_with(flag), "{msg}"),
            other => panic!("{config:?}: {other:?}"),
        }
    }
}

#[test]
fn box_config_parses_and_carries_the_run_settings() {
    let spec = BoxSpec {
        name: "b1".into(),
        state: "/tmp/x/b1".into(),
        music: "/tmp/x/music \"q\"".into(),
        netns: None,
        interface: std::net::Ipv4Addr::LOCALHOST,
        port: 7700,
        min_accepts: 8,
        swarm: false,
    };
    let config =
        crate::config::Config::parse(&spec.config_text(), std::path::Path::new("b1.toml")).unwrap();
    assert!(!config.songs.swarm);
    assert_eq!(config.songs.bulk_port, 0);
    assert_eq!(config.party.min_accepts, 8);
    assert!(!config.party.autoplay);
    assert_eq!(config.audio.output, "null");
    assert_eq!(
        config.music_dir,
        std::path::PathBuf::from("/tmp/x/music \"q\"")
    );
    assert_eq!(config.state_dir, std::path::PathBuf::from("/tmp/x/b1"));
}

#[test]
fn generous_limit_grows_with_members_and_size() {
    let small = run_limit(20_000_000, 8);
    assert!(small > Duration::from_secs(60));
    assert!(run_limit(20_000_000, 16) > small);
    assert!(run_limit(40_000_000, 8) > small);
}
