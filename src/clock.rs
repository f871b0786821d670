//! The box's monotonic clock: `CLOCK_MONOTONIC` as a [`crate::core::Instant`], the one clock
//! the runtime, audio and the face read (and the only one the core is given). It sits
//! below them all so that none of them depends on another for the time.

use crate::core::Instant;

/// Now on `CLOCK_MONOTONIC`: the clock ALSA status timestamps use, so audio timing and
/// protocol timing share one timeline.
pub fn monotonic_now() -> Instant {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Instant::from_nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_advances_with_std_instant() {
        let a = monotonic_now();
        let std_a = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = monotonic_now() - a;
        let std_elapsed = std_a.elapsed();
        let diff = elapsed.as_secs_f64() - std_elapsed.as_secs_f64();
        assert!(elapsed >= std::time::Duration::from_millis(20));
        assert!(
            diff.abs() < 0.005,
            "monotonic {elapsed:?} vs std {std_elapsed:?}"
        );
    }
}
