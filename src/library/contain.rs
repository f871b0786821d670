//! Keeps a panic inside symphonia from taking the thread that called it down: symphonia
//! 0.5 panics on some malformed files (its ADTS length estimate steps by zero when a
//! file ends just after its first frame), and for the box that is a corrupt song to
//! skip, not a dead scan or playback thread.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic caught at the boundary: its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the decoder failed on this file: {0}")]
pub struct Panicked(pub String);

/// Runs `f`, which calls into symphonia; a panic becomes [`Panicked`]. Whatever `f` was
/// working on must be dropped afterwards, never used again: it may be half updated.
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        tracing::warn!(%message, "symphonia panicked; the song is treated as corrupt");
        Panicked(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_a_value_passes_through() {
        assert_eq!(contained(|| 7), Ok(7));
        let steps: Vec<u32> = Vec::new();
        let got = contained(|| (0..4u32).step_by(steps.len()).count());
        assert!(got.is_err_and(|p| p.0.contains("step")));
        assert_eq!(
            contained(|| -> u8 { std::panic::panic_any(String::from("owned")) }),
            Err(Panicked("owned".into()))
        );
    }
}
