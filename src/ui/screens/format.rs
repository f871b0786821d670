//! Numbers as the screens word them: song times, transfer rates, time left, counts, and
//! the deterministic scroll offset of a title too wide for the screen.

/// "1:23", or "1:02:03" past an hour.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// "850 kB/s", "1.2 MB/s" (decimal units, as network rates are told).
pub fn rate(bps: u64) -> String {
    match bps {
        0..=999 => format!("{bps} B/s"),
        1_000..=999_999 => format!("{} kB/s", bps / 1_000),
        1_000_000..=99_999_999 => format!("{:.1} MB/s", bps as f64 / 1e6),
        _ => format!("{} MB/s", bps / 1_000_000),
    }
}

/// "12 s left", "3 min left".
pub fn eta(s: u32) -> String {
    if s < 90 {
        format!("{s} s left")
    } else {
        format!("{} min left", s.div_ceil(60))
    }
}

/// "1 box", "3 boxes" and so on: `noun` and its plural.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Pixels per second a long title scrolls at: slow enough to read.
const SCROLL_PX_PER_S: u64 = 30;
/// The title rests at its start this long before each pass, so it can be read.
const SCROLL_PAUSE_MS: u64 = 2_000;
/// Blank space between the end of a scrolling title and its next copy.
pub const SCROLL_GAP: i32 = 40;

/// How many pixels a title `text_w` wide is scrolled left in a `box_w` wide box at
/// `tick_ms`: 0 when it fits; otherwise a loop of a pause then one pass of
/// `text_w + SCROLL_GAP` pixels (the title is drawn twice, the gap between).
pub fn scroll_offset(text_w: i32, box_w: i32, tick_ms: u64) -> i32 {
    if text_w <= box_w {
        return 0;
    }
    let pass = u64::try_from(text_w + SCROLL_GAP).unwrap_or(0);
    let pass_ms = pass * 1000 / SCROLL_PX_PER_S;
    let t = tick_ms % (SCROLL_PAUSE_MS + pass_ms);
    let moving = t.saturating_sub(SCROLL_PAUSE_MS);
    i32::try_from(moving * SCROLL_PX_PER_S / 1000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_player() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(83_400), "1:23");
        assert_eq!(clock(225_000), "3:45");
        assert_eq!(clock(3_723_000), "1:02:03");
    }

    #[test]
    fn rates_in_decimal_units() {
        assert_eq!(rate(512), "512 B/s");
        assert_eq!(rate(850_000), "850 kB/s");
        assert_eq!(rate(1_234_567), "1.2 MB/s");
        assert_eq!(rate(250_000_000), "250 MB/s");
    }

    #[test]
    fn eta_in_seconds_then_minutes() {
        assert_eq!(eta(12), "12 s left");
        assert_eq!(eta(150), "3 min left");
    }

    #[test]
    fn counts_are_singular_or_plural() {
        assert_eq!(count(1, "box", "boxes"), "1 box");
        assert_eq!(count(0, "box", "boxes"), "0 boxes");
    }

    #[test]
    fn scroll_rests_then_moves_then_loops() {
        assert_eq!(scroll_offset(100, 200, 5_000), 0, "fits: never scrolls");
        assert_eq!(scroll_offset(300, 200, 0), 0);
        assert_eq!(scroll_offset(300, 200, 1_999), 0, "rests first");
        assert_eq!(scroll_offset(300, 200, 3_000), 30);
        // One pass is 340 px at 30 px/s: 11 333 ms, after the 2 s rest.
        assert_eq!(scroll_offset(300, 200, 2_000 + 11_333 + 1), 0, "loops");
        assert!(scroll_offset(300, 200, 2_000 + 11_000) < 340);
    }
}
