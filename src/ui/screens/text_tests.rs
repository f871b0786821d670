//! Tests of text fitting, wrapping and font coverage.

use super::*;

#[test]
fn short_text_is_not_cut() {
    assert_eq!(BODY.fit("Hello", 200), "Hello");
}

#[test]
fn long_text_ends_in_an_ellipsis_within_the_width() {
    let cut = BODY.fit("A very long song title that cannot fit", 100);
    assert!(cut.ends_with('\u{2026}'), "{cut}");
    assert!(BODY.width(&cut) <= 100);
    assert!(cut.starts_with("A very"));
}

#[test]
fn every_script_of_the_golden_titles_has_a_font() {
    for text in [
        "Café Déjà Vu",
        "Sigur Rós",
        "Москва",
        "東京",
        "Ελλάδα",
        "Łódź",
        "서울",
    ] {
        for ch in text.chars() {
            assert!(
                matches!(TITLE.glyph(ch), Glyph::Font(..) | Glyph::Space(_)),
                "{ch:?} of {text} has no font"
            );
        }
    }
}

#[test]
fn unknown_characters_take_room_as_a_box() {
    let g = BODY.glyph('\u{1F3B5}');
    assert!(matches!(g, Glyph::Missing(w) if w > 0));
}

#[test]
fn wrap_breaks_at_spaces_and_cuts_the_rest() {
    let lines = BODY.wrap(
        "Check the DAC overlay in config.txt and restart the box",
        120,
        2,
    );
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| BODY.width(l) <= 120));
    assert!(lines[0].starts_with("Check"));
    assert!(lines[1].ends_with('\u{2026}'), "{lines:?}");
    assert_eq!(BODY.wrap("Short", 120, 2), vec!["Short".to_owned()]);
}
