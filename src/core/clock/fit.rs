//! The estimator's arithmetic: weighted line fits of party - local against local time,
//! first on round-trip midpoints, then refined on the two one-way minimum envelopes.

/// One exchange reduced to what the fit needs; times are local ns relative to the fit's
/// origin, offsets are party - local in ns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    /// Local midpoint of t1 and t4 (absolute ns; the fit subtracts its origin).
    pub mid: u64,
    /// party - local at `mid` assuming equal one-way delays.
    pub theta: f64,
    /// Round trip minus host processing.
    pub delay: f64,
    /// t1 (absolute local ns).
    pub t1: u64,
    /// t2 - t1: the offset at t1 plus the uplink delay.
    pub fwd: f64,
    /// t4 (absolute local ns).
    pub t4: u64,
    /// t3 - t4: the offset at t4 minus the downlink delay.
    pub back: f64,
}

/// A fitted line `y = offset + slope * x` and its (scaled) variances.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    /// y at x = 0 (the fit's origin).
    pub offset: f64,
    /// dy/dx (dimensionless: ns per ns).
    pub slope: f64,
    pub var_offset: f64,
    pub var_slope: f64,
}

/// An observation for the weighted fit.
#[derive(Debug, Clone, Copy)]
struct Obs {
    x: f64,
    y: f64,
    var: f64,
}

/// Slopes searched by the envelope fit: far beyond any crystal (±100 ppm each side).
const MAX_SLOPE: f64 = 2e-3;
/// Golden-section steps: shrink the ±2000 ppm bracket below 0.001 ppm.
const SEARCH_STEPS: usize = 40;

/// Fit the window. `origin` is the local ns that becomes x = 0, `stamp` the per-stamp
/// noise floor (ns), `rate_prior` the 1σ prior on the slope.
pub(super) fn fit(points: &[Point], origin: u64, stamp: f64, rate_prior: f64) -> Option<Line> {
    let rel = |t: u64| (i128::from(t) - i128::from(origin)) as f64;
    let midpoint = midpoint_fit(points, &rel, stamp, rate_prior)?;
    if points.len() < 4 {
        return Some(midpoint);
    }
    let Some(best) = envelope(points, &rel, None) else {
        // Rare enough that a trace helps when a clock estimate looks noisier than it should.
        tracing::trace!(points = points.len(), "no envelope fit; midpoint fit used");
        return Some(midpoint);
    };
    // The envelope rests on a few extreme samples; how far it moves without each of them
    // says how far those extremes probably are from the path's true minimum.
    let m = best.slope;
    let eps = 1e-9;
    let mut binding = [
        binding_points(points, &rel, m - eps),
        binding_points(points, &rel, m + eps),
    ]
    .concat();
    binding.sort_unstable();
    binding.dedup();
    let (mut var_offset, mut var_slope) = (stamp * stamp, 0.0);
    for skip in binding {
        if let Some(other) = envelope(points, &rel, Some(skip)) {
            // Doubled: the next extreme is itself above the true minimum by about as much.
            var_offset += 4.0 * (other.offset - best.offset).powi(2);
            var_slope += 4.0 * (other.slope - best.slope).powi(2);
        }
    }
    // On short windows the few extremes can all sit on one side by chance (the band
    // then tilts); the plain midpoint fit is noisier but unbiased, so the two estimates'
    // disagreement is added as an honest floor.
    Some(Line {
        var_offset: var_offset + (best.offset - midpoint.offset).powi(2),
        var_slope: var_slope + (best.slope - midpoint.slope).powi(2),
        ..best
    })
}

/// The line through the middle of the tightest band between the forward samples (party
/// ahead by the uplink delay) and the backward ones (behind by the downlink delay): every
/// forward sample lies at least `gap` above it, every backward one `gap` below, and `gap`
/// (the path's minimum one-way delay, assumed equal both ways) is as large as possible.
/// Queueing, stalls and asymmetric jitter only add delay, so they never bind.
fn envelope(points: &[Point], rel: &dyn Fn(u64) -> f64, skip: Option<usize>) -> Option<Line> {
    // Only the lower hull of the forward samples and the upper hull of the backward ones
    // can bound the band at any slope: searching those few vertices instead of the whole
    // window gives the same band for a fraction of the work.
    let kept = || {
        points
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != skip)
            .map(|(_, p)| p)
    };
    let lower = hull(kept().map(|p| (rel(p.t1), p.fwd)).collect(), 1.0);
    let upper = hull(kept().map(|p| (rel(p.t4), p.back)).collect(), -1.0);
    let band = |m: f64| -> (f64, f64) {
        let lo_f = lower
            .iter()
            .map(|(x, y)| y - m * x)
            .fold(f64::INFINITY, f64::min);
        let hi_b = upper
            .iter()
            .map(|(x, y)| y - m * x)
            .fold(f64::NEG_INFINITY, f64::max);
        (lo_f, hi_b)
    };
    // The band's width is concave in the slope: golden-section search finds its maximum.
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let width = |m: f64| {
        let (lo, hi) = band(m);
        lo - hi
    };
    let (mut a, mut b) = (-MAX_SLOPE, MAX_SLOPE);
    let (mut c, mut d) = (b - phi * (b - a), a + phi * (b - a));
    let (mut wc, mut wd) = (width(c), width(d));
    for _ in 0..SEARCH_STEPS {
        if wc > wd {
            (b, d, wd) = (d, c, wc);
            c = b - phi * (b - a);
            wc = width(c);
        } else {
            (a, c, wc) = (c, d, wd);
            d = a + phi * (b - a);
            wd = width(d);
        }
    }
    let slope = (a + b) / 2.0;
    let (lo, hi) = band(slope);
    // A negative width means no line fits: inconsistent stamps; let the caller fall back.
    (lo.is_finite() && hi.is_finite() && lo >= hi).then_some(Line {
        offset: (lo + hi) / 2.0,
        slope,
        var_offset: 0.0,
        var_slope: 0.0,
    })
}

/// The lower (`side` 1) or upper (`side` -1) convex hull of `pts` (Andrew's monotone
/// chain): for any slope m, the extreme of y - m·x over `pts` lies on one of its vertices.
fn hull(mut pts: Vec<(f64, f64)>, side: f64) -> Vec<(f64, f64)> {
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for p in pts {
        while let [.., a, b] = out[..] {
            // Cross product of a→b and a→p: drop b while it does not turn the hull's way.
            let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
            if cross * side > 0.0 {
                break;
            }
            out.pop();
        }
        out.push(p);
    }
    out
}

/// The samples that bound the band at slope `m`.
fn binding_points(points: &[Point], rel: &dyn Fn(u64) -> f64, m: f64) -> Vec<usize> {
    let key_f = |p: &Point| p.fwd - m * rel(p.t1);
    let key_b = |p: &Point| p.back - m * rel(p.t4);
    let lo = points
        .iter()
        .enumerate()
        .min_by(|x, y| key_f(x.1).total_cmp(&key_f(y.1)))
        .map(|x| x.0);
    let hi = points
        .iter()
        .enumerate()
        .max_by(|x, y| key_b(x.1).total_cmp(&key_b(y.1)))
        .map(|x| x.0);
    lo.into_iter().chain(hi).collect()
}

/// Weighted fit of the round-trip midpoints, each weighted by how much slower than the
/// fastest it was (its offset error is bounded by half the excess, uniform inside it).
fn midpoint_fit(
    points: &[Point],
    rel: &dyn Fn(u64) -> f64,
    stamp: f64,
    rate_prior: f64,
) -> Option<Line> {
    let min_delay = points.iter().map(|p| p.delay).fold(f64::INFINITY, f64::min);
    let delays: Vec<f64> = points.iter().map(|p| p.delay - min_delay).collect();
    let floor = stamp.hypot(spacing(&delays) / 12f64.sqrt());
    let mids: Vec<Obs> = points
        .iter()
        .map(|p| Obs {
            x: rel(p.mid),
            y: p.theta,
            var: floor * floor + (p.delay - min_delay).powi(2) / 12.0,
        })
        .collect();
    wls(&mids, rate_prior.max(1e-9).powi(-2))
}

/// Mean spacing of the lowest tenth of `values` (at least the lowest two): how far the
/// smallest value probably lies above the true minimum of its distribution.
fn spacing(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    let k = (values.len() / 10).max(1);
    match (values.first(), values.get(k)) {
        (Some(lo), Some(hi)) => (hi - lo) / k as f64,
        _ => 0.0,
    }
}

/// Weighted least squares with a zero-mean prior of precision `prior` on the slope. The
/// variances are scaled up when the residuals exceed what the weights promised, so the
/// reported uncertainty stays honest when the noise model is optimistic.
fn wls(obs: &[Obs], prior: f64) -> Option<Line> {
    let sw: f64 = obs.iter().map(|o| 1.0 / o.var).sum();
    if !(sw.is_finite() && sw > 0.0) {
        return None;
    }
    let xc = obs.iter().map(|o| o.x / o.var).sum::<f64>() / sw;
    let yc = obs.iter().map(|o| o.y / o.var).sum::<f64>() / sw;
    let sxx: f64 = obs.iter().map(|o| (o.x - xc).powi(2) / o.var).sum();
    let sxy: f64 = obs.iter().map(|o| (o.x - xc) * (o.y - yc) / o.var).sum();
    let slope = sxy / (sxx + prior);
    let chi2: f64 = obs
        .iter()
        .map(|o| (o.y - yc - slope * (o.x - xc)).powi(2) / o.var)
        .sum();
    let n = obs.len();
    let scale = if n > 2 {
        (chi2 / (n - 2) as f64).max(1.0)
    } else {
        1.0
    };
    let var_slope = scale / (sxx + prior);
    Some(Line {
        offset: yc - slope * xc,
        slope,
        var_offset: scale / sw + xc * xc * var_slope,
        var_slope,
    })
}
