//! A song file from a music folder or a peer (the audio front end): probing for tags,
//! the embedded cover, and decoding the first packets give results or errors, never a
//! panic or an unbounded allocation.

#![no_main]

use std::io::Cursor;
use std::sync::Once;

use chorus::audio::decode::Decoder;
use chorus::library::{artwork, probe};
use libfuzzer_sys::fuzz_target;

/// The extension of the file name is only a hint: a hostile file may carry any.
const HINTS: [Option<&str>; 7] = [
    None,
    Some("wav"),
    Some("mp3"),
    Some("flac"),
    Some("ogg"),
    Some("m4a"),
    Some("aac"),
];

/// Blocks decoded per input: the first packets are where headers are trusted most.
const BLOCKS: usize = 32;

/// The product contains symphonia's panics (`library::contain`); libFuzzer's panic hook
/// would abort before they unwind that far, so the default hook is put back. A panic the
/// product does not contain still fails the target: libfuzzer-sys aborts on it.
static DEFAULT_PANIC_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_PANIC_HOOK.call_once(|| drop(std::panic::take_hook()));
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(selector) % HINTS.len()];
    let source = || Box::new(Cursor::new(file.to_vec()));

    let _ = probe::probe_source(source(), hint);
    if let Some(picture) = artwork::embedded_picture_in(source(), hint) {
        let _ = chorus::ui::cover::decode(&picture);
    }
    let Ok(mut decoder) = Decoder::from_source(source(), hint) else {
        return;
    };
    let info = decoder.info();
    assert!(info.rate > 0 && info.channels > 0);
    let channels = usize::from(info.channels);
    for _ in 0..BLOCKS {
        let before = decoder.position();
        let Ok(Some(block)) = decoder.next_block() else {
            return;
        };
        assert_eq!(block.len() % channels, 0, "a block of partial frames");
        let frames = (block.len() / channels) as u64;
        assert_eq!(decoder.position(), before + frames);
    }
});
