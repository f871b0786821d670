//! Cover art embedded in a song (PNG or JPEG from anyone's music folder): it decodes to a
//! picture within the size limit or to an error, and scales to the screen.

#![no_main]

use chorus::ui::cover::{decode, resized, scale_to_fit, MAX_SIDE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cover) = decode(data) else {
        return;
    };
    assert!(cover.width <= MAX_SIDE && cover.height <= MAX_SIDE);
    assert_eq!(
        cover.rgb.len(),
        cover.width as usize * cover.height as usize * 3
    );
    let small = resized(&cover, 64);
    assert_eq!(small.rgb.len(), 64 * 64 * 3);
    assert_eq!(scale_to_fit(&cover, 48).len(), 48 * 48);
});
