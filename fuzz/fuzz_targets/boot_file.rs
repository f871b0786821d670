//! `chorus.txt` on the boot partition, edited on any computer: any bytes are settings or
//! an error naming the line, an accepted name is one `chorus run` accepts too, and the
//! Wi-Fi file written from accepted settings holds exactly one network.

#![no_main]

use chorus::config::boot::{parse, wifi_conf};
use chorus::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(settings) = parse(data) else {
        return;
    };
    if let Some(name) = settings.name {
        let config = Config {
            name: Some(name),
            ..Config::default()
        };
        config
            .validate()
            .expect("a name chorus.txt accepts is a valid name");
    }
    if let Some(wifi) = settings.wifi {
        let conf = wifi_conf(&wifi);
        // A passphrase may spell `network={` inside its quotes; no line may start one.
        let blocks = conf
            .lines()
            .filter(|l| l.trim_start().starts_with("network="));
        assert_eq!(blocks.count(), 1, "{conf}");
        // Fixed layout: four header lines, country, a blank line, `network={`, ssid,
        // scan_ssid, the key and `}`.
        assert_eq!(
            conf.lines().count(),
            11,
            "a value broke out of its line: {conf}"
        );
    }
});
