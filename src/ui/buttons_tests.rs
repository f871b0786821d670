//! Tests of `ui::buttons`: event sequences in, presses out.

use super::*;
use PressKind::*;

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

/// Feeds `(button, pressed, ms)` edges, polling at every deadline in between and
/// finally at `end_ms`; returns every press with the time the poll or edge saw it.
fn run(presses: &mut Presses, edges: &[(Button, bool, u64)], end_ms: u64) -> Vec<Press> {
    let mut out = Vec::new();
    for &(button, pressed, at) in edges {
        while let Some(d) = presses.next_deadline().filter(|d| *d < ms(at)) {
            out.extend(presses.poll(d));
        }
        out.extend(presses.edge(edge(button, pressed, at)));
    }
    while let Some(d) = presses.next_deadline().filter(|d| *d <= ms(end_ms)) {
        out.extend(presses.poll(d));
    }
    out.extend(presses.poll(ms(end_ms)));
    out
}

fn edge(button: Button, pressed: bool, at_ms: u64) -> ButtonEdge {
    ButtonEdge {
        button,
        pressed,
        at: ms(at_ms),
    }
}

fn plain() -> Presses {
    Presses::new(PressTiming::default(), &[Button::X, Button::Y])
}

fn p(button: Button, kind: PressKind) -> Press {
    Press { button, kind }
}

#[test]
fn a_clean_tap_is_one_short_press_on_release() {
    let mut m = plain();
    let got = run(
        &mut m,
        &[(Button::A, true, 100), (Button::A, false, 200)],
        300,
    );
    assert_eq!(got, vec![p(Button::A, Short)]);
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn a_quick_30ms_tap_still_counts() {
    let mut m = plain();
    let got = run(&mut m, &[(Button::B, true, 0), (Button::B, false, 30)], 100);
    assert_eq!(got, vec![p(Button::B, Short)]);
}

#[test]
fn bounces_on_press_and_release_make_one_press() {
    let mut m = plain();
    let edges = [
        (Button::A, true, 100),
        (Button::A, false, 102),
        (Button::A, true, 105),
        (Button::A, false, 111),
        (Button::A, true, 118),
        // held, then a bouncy release
        (Button::A, false, 300),
        (Button::A, true, 303),
        (Button::A, false, 309),
        (Button::A, true, 312),
        (Button::A, false, 319),
    ];
    assert_eq!(run(&mut m, &edges, 500), vec![p(Button::A, Short)]);
}

#[test]
fn a_bounce_burst_alone_is_no_press() {
    let mut m = plain();
    let edges = [
        (Button::A, true, 100),
        (Button::A, false, 105),
        (Button::A, true, 110),
        (Button::A, false, 115),
    ];
    assert_eq!(run(&mut m, &edges, 500), vec![]);
}

#[test]
fn a_long_press_fires_while_held_and_its_release_is_silent() {
    let mut m = plain();
    m.edge(edge(Button::A, true, 0));
    assert_eq!(m.poll(ms(700)), vec![]);
    assert_eq!(m.next_deadline(), Some(ms(800)));
    assert_eq!(m.poll(ms(800)), vec![p(Button::A, Long)]);
    let got = run(&mut m, &[(Button::A, false, 2_000)], 3_000);
    assert_eq!(got, vec![]);
}

#[test]
fn a_release_bounce_just_before_the_long_time_is_still_short() {
    let mut m = plain();
    let edges = [
        (Button::B, true, 0),
        (Button::B, false, 790),
        (Button::B, true, 795),
        (Button::B, false, 798),
    ];
    assert_eq!(run(&mut m, &edges, 2_000), vec![p(Button::B, Short)]);
}

#[test]
fn a_repeating_button_reacts_at_once_then_repeats_until_released() {
    let mut m = plain();
    let got = run(
        &mut m,
        &[(Button::X, true, 0), (Button::X, false, 1_000)],
        2_000,
    );
    // Short at 20 ms, repeats at 400, 550, 700, 850; the one due at 1000 is not
    // sent: the contact opened at that very instant.
    assert_eq!(
        got,
        vec![
            p(Button::X, Short),
            p(Button::X, Repeat),
            p(Button::X, Repeat),
            p(Button::X, Repeat),
            p(Button::X, Repeat),
        ]
    );
}

#[test]
fn a_late_poll_catches_up_in_order() {
    let mut m = plain();
    m.edge(edge(Button::Y, true, 0));
    let got = m.poll(ms(560));
    assert_eq!(
        got,
        vec![
            p(Button::Y, Short),
            p(Button::Y, Repeat),
            p(Button::Y, Repeat)
        ]
    );
}

#[test]
fn two_buttons_at_once_are_independent() {
    let mut m = plain();
    let edges = [
        (Button::A, true, 0),
        (Button::X, true, 5),
        (Button::X, false, 100),
        (Button::A, false, 900),
    ];
    assert_eq!(
        run(&mut m, &edges, 2_000),
        vec![p(Button::X, Short), p(Button::A, Long)]
    );
}

#[test]
fn duplicated_and_out_of_order_edges_do_not_confuse_it() {
    let mut m = plain();
    let edges = [
        (Button::B, true, 100),
        (Button::B, true, 110), // same level twice
        (Button::B, false, 200),
        (Button::B, false, 150), // older than the last edge: stale, dropped
        (Button::B, true, 90),   // stale too
        (Button::B, true, 500),
        (Button::B, false, 600),
    ];
    assert_eq!(
        run(&mut m, &edges, 1_000),
        vec![p(Button::B, Short), p(Button::B, Short)]
    );
}

#[test]
fn a_lost_release_gives_a_long_press_then_nothing_and_other_buttons_still_work() {
    let mut m = plain();
    let got = run(
        &mut m,
        &[
            (Button::A, true, 0),
            (Button::A, true, 5_000),
            (Button::B, true, 6_000),
            (Button::B, false, 6_100),
        ],
        7_000,
    );
    assert_eq!(got, vec![p(Button::A, Long), p(Button::B, Short)]);
}

#[test]
fn a_stuck_repeating_button_stops_repeating() {
    let mut m = plain();
    m.edge(edge(Button::X, true, 0));
    let first = m.poll(ms(60_000));
    assert!(first.len() > 100, "repeated while held: {}", first.len());
    assert_eq!(m.next_deadline(), None);
    assert_eq!(m.poll(ms(120_000)), vec![]);
    let release = m.edge(edge(Button::X, false, 130_000));
    assert_eq!(release, vec![]);
    assert_eq!(m.poll(ms(140_000)), vec![]);
}

#[test]
fn a_long_then_repeat_button_taps_on_release_and_repeats_its_long_press_while_held() {
    let holds = [Hold::Long, Hold::Long, Hold::LongThenRepeat, Hold::Long];
    let mut presses = Presses::with_holds(PressTiming::default(), holds);
    // A tap: one short press on release, nothing while it was down.
    let tap = run(
        &mut presses,
        &[(Button::X, true, 0), (Button::X, false, 100)],
        400,
    );
    assert_eq!(tap, vec![p(Button::X, PressKind::Short)]);
    // Held 1.2 s: long at 0.8 s, repeats at 0.95 and 1.1 s, a silent release.
    let held = run(
        &mut presses,
        &[(Button::X, true, 1_000), (Button::X, false, 2_200)],
        3_000,
    );
    assert_eq!(
        held,
        vec![
            p(Button::X, PressKind::Long),
            p(Button::X, PressKind::Repeat),
            p(Button::X, PressKind::Repeat),
        ]
    );
}
