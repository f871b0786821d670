//! `chorus.toml`: any text is a checked configuration or a parse/validation error, and a
//! configuration that passed survives being written out and read back unchanged.

#![no_main]

use std::path::Path;

use chorus::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("chorus.toml");
    let Ok(config) = Config::parse(text, path) else {
        return;
    };
    let written = toml::to_string(&config).expect("a valid config serialises");
    let again = Config::parse(&written, path).expect("a written config parses");
    assert_eq!(again, config);
    let _ = config.effective_name();
});
