//! Which output the demo's audible box plays through: the one asked for, or the default
//! sound device when this machine has one and chorus was built with ALSA.

use std::path::Path;

/// The ALSA device the audible box plays through when none is asked for.
const DEFAULT_SPEAKER: &str = "alsa:default";

/// The audible box's output: `asked` if given; else, when `speakers` is set (the screens
/// are shown), the default sound device if the build has ALSA and `cards` (the text of
/// `/proc/asound/cards`) lists one. The second value is the one line that says why
/// nothing will be heard, when so.
pub(super) fn speaker(
    asked: Option<&str>,
    speakers: bool,
    cards: Option<&str>,
) -> (Option<String>, Option<String>) {
    if let Some(sink) = asked {
        return (Some(sink.to_owned()), None);
    }
    if !speakers {
        return (None, None);
    }
    if !cfg!(feature = "alsa") {
        let why =
            "this chorus was built without ALSA: every box records to a WAV file, none is heard";
        return (None, Some(why.into()));
    }
    if !cards.is_some_and(lists_a_card) {
        let why = "no sound device: every box records to a WAV file, none is heard";
        return (None, Some(why.into()));
    }
    (Some(DEFAULT_SPEAKER.into()), None)
}

/// The text of `/proc/asound/cards`, `None` without ALSA in the kernel.
pub(super) fn read_cards() -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/asound/cards")).ok()
}

/// Whether `/proc/asound/cards` lists a card: a line starting with its number.
fn lists_a_card(cards: &str) -> bool {
    cards
        .lines()
        .any(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_CARD: &str = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n                      HDA Intel PCH at 0xf7f10000 irq 32\n";

    #[test]
    fn a_card_is_found_and_no_card_is_said() {
        assert!(lists_a_card(ONE_CARD));
        assert!(!lists_a_card("--- no soundcards ---\n"));
        assert!(!lists_a_card(""));
    }

    #[test]
    fn an_asked_output_wins_and_the_timeline_stays_silent() {
        assert_eq!(
            speaker(Some("alsa:hw:1"), true, None),
            (Some("alsa:hw:1".into()), None)
        );
        assert_eq!(speaker(None, false, Some(ONE_CARD)), (None, None));
        let (sink, why) = speaker(None, true, Some("--- no soundcards ---\n"));
        assert_eq!(sink, None);
        assert!(why.is_some_and(|w| w.contains("none is heard")));
    }

    #[test]
    fn with_a_card_the_default_device_plays_when_built_with_alsa() {
        let (sink, why) = speaker(None, true, Some(ONE_CARD));
        if cfg!(feature = "alsa") {
            assert_eq!((sink.as_deref(), why), (Some(DEFAULT_SPEAKER), None));
        } else {
            assert_eq!(sink, None);
            assert!(why.is_some_and(|w| w.contains("without ALSA")));
        }
    }
}
