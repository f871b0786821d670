//! How each box's lag behind box 1 wanders once settled: its RMS and correlation time,
//! the figures the simulator's PipeWire rig is calibrated with.

use serde::Serialize;

use super::analyze::{Window, SETTLE_S, WINDOW_S};

/// One box's wander against box 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wander {
    /// RMS of the lag around its mean, µs.
    pub rms_us: f64,
    /// Lag (s) at which the lag's autocorrelation first falls below 1/e; `None` if it
    /// never does within half the run.
    pub tau_s: Option<f64>,
}

/// Per box (box 1 itself `None`): the wander over the windows from [`SETTLE_S`] on,
/// skipping windows without a match and those over 1 ms (excursions are counted apart).
pub fn wander(series: &[Window], boxes: usize) -> Vec<Option<Wander>> {
    (0..boxes)
        .map(|b| {
            if b == 0 {
                return None;
            }
            let lags: Vec<f64> = series
                .iter()
                .filter(|w| w.t >= SETTLE_S)
                .filter_map(|w| w.lags_us.get(b).copied().flatten())
                .filter(|l| l.abs() < 1_000.0)
                .collect();
            of(&lags)
        })
        .collect()
}

/// RMS and correlation time of a series sampled every [`WINDOW_S`].
pub fn of(lags: &[f64]) -> Option<Wander> {
    if lags.len() < 4 {
        return None;
    }
    let n = lags.len() as f64;
    let mean = lags.iter().sum::<f64>() / n;
    let centred: Vec<f64> = lags.iter().map(|l| l - mean).collect();
    let var = centred.iter().map(|x| x * x).sum::<f64>() / n;
    let tau_s = (var > 0.0)
        .then(|| {
            (1..lags.len() / 2).find(|&k| {
                let c: f64 = centred.iter().zip(&centred[k..]).map(|(a, b)| a * b).sum();
                c / ((lags.len() - k) as f64) / var < (-1f64).exp()
            })
        })
        .flatten()
        .map(|k| k as f64 * WINDOW_S);
    Some(Wander {
        rms_us: var.sqrt(),
        tau_s,
    })
}
