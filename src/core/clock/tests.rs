//! Tests of the clock estimator against a simulated member clock with known offset and rate.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::core::Instant;

const HOUR: f64 = 3_600e9;

/// A member clock `local = base + (1 + ppm) * t` against the host's `party = PARTY0 + t`.
#[derive(Clone, Copy)]
struct Truth {
    base: f64,
    ppm: f64,
}

const PARTY0: f64 = 5.0 * HOUR;

impl Truth {
    fn local(&self, t: f64) -> Instant {
        Instant::from_nanos((self.base + (1.0 + self.ppm * 1e-6) * t) as u64)
    }
    fn party(t: f64) -> PartyTime {
        PartyTime::from_nanos((PARTY0 + t) as u64)
    }
    /// The true party time (ns) at local instant `l`.
    fn party_at(&self, l: Instant) -> f64 {
        PARTY0 + (l.as_nanos() as f64 - self.base) / (1.0 + self.ppm * 1e-6)
    }
}

/// One-way delays of a path, ns.
struct Path {
    up: fn(&mut StdRng) -> f64,
    down: fn(&mut StdRng) -> f64,
    loss: f64,
    stall_chance: f64,
}

fn lan(rng: &mut StdRng) -> f64 {
    rng.gen_range(200e3..400e3)
}

fn wifi(rng: &mut StdRng) -> f64 {
    rng.gen_range(1e6..5e6)
}

/// Heavy upward tail: 1 ms plus an exponential with a 2 ms mean.
fn slow_uplink(rng: &mut StdRng) -> f64 {
    1e6 - 2e6 * (1.0 - rng.gen::<f64>()).ln()
}

fn fast_downlink(rng: &mut StdRng) -> f64 {
    rng.gen_range(1.0e6..1.1e6)
}

struct Outcome {
    /// |estimated - true| party time at the last exchange, ns.
    error: f64,
    /// The estimator's bound there.
    bound: f64,
    rate_ppm: f64,
    est: ClockEstimator,
}

/// Run exchanges as the estimator asks for them for `seconds`, then compare.
fn run(truth: Truth, path: &Path, seconds: f64, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut est = ClockEstimator::new(ClockConfig::default());
    let mut t = 1e9;
    let end = t + seconds * 1e9;
    let mut last = t;
    while t < end {
        let t1 = truth.local(t);
        est.exchange_sent(t1);
        let stall = |rng: &mut StdRng| {
            if rng.gen::<f64>() < path.stall_chance {
                50e6
            } else {
                0.0
            }
        };
        let arrive = t + (path.up)(&mut rng) + stall(&mut rng);
        let depart = arrive + rng.gen_range(10e3..30e3);
        let back = depart + (path.down)(&mut rng) + stall(&mut rng);
        if rng.gen::<f64>() >= path.loss {
            est.add(ClockSample {
                t1,
                t2: Truth::party(arrive),
                t3: Truth::party(depart),
                t4: truth.local(back),
            });
            last = back;
        }
        let next = est.next_exchange(truth.local(t));
        let wait = (next.as_nanos() as f64 - truth.local(t).as_nanos() as f64).max(1e6);
        t += wait / (1.0 + truth.ppm * 1e-6);
    }
    let at = truth.local(last);
    let Some(e) = est.estimate() else {
        panic!("no estimate after {seconds} s");
    };
    Outcome {
        error: (e.party_nanos(at) - truth.party_at(at)).abs(),
        bound: e.error_at(at),
        rate_ppm: e.rate_ppm,
        est,
    }
}

const LAN: Path = Path {
    up: lan,
    down: lan,
    loss: 0.01,
    stall_chance: 0.0,
};

const WIFI: Path = Path {
    up: wifi,
    down: wifi,
    loss: 0.01,
    stall_chance: 0.01,
};

/// The member's rate relative to the party, ppm, as the estimator reports it.
fn expected_rate(truth: Truth) -> f64 {
    (1.0 / (1.0 + truth.ppm * 1e-6) - 1.0) * 1e6
}

#[test]
fn recovers_an_hour_and_100_ppm_on_a_lan() {
    let truth = Truth {
        base: PARTY0 + HOUR,
        ppm: 100.0,
    };
    let o = run(truth, &LAN, 60.0, 1);
    println!(
        "lan: error {:.1} us (bound {:.1} us), rate {:.3} ppm",
        o.error / 1e3,
        o.bound / 1e3,
        o.rate_ppm
    );
    assert!(o.error < 20e3, "{} ns", o.error);
    assert!(o.error <= o.bound, "{} > {}", o.error, o.bound);
    assert!(
        (o.rate_ppm - expected_rate(truth)).abs() < 1.0,
        "{}",
        o.rate_ppm
    );
    assert!(o.est.locked());
}

#[test]
fn recovers_minus_an_hour_through_wifi_stalls_and_loss() {
    let truth = Truth {
        base: PARTY0 - HOUR,
        ppm: -100.0,
    };
    let o = run(truth, &WIFI, 120.0, 2);
    println!(
        "wifi: error {:.1} us (bound {:.1} us), rate {:.3} ppm",
        o.error / 1e3,
        o.bound / 1e3,
        o.rate_ppm
    );
    assert!(o.error < 300e3, "{} ns", o.error);
    assert!(o.error <= o.bound, "{} > {}", o.error, o.bound);
    assert!(
        (o.rate_ppm - expected_rate(truth)).abs() < 5.0,
        "{}",
        o.rate_ppm
    );
}

#[test]
fn asymmetric_jitter_is_filtered_by_the_minimum_delay() {
    let path = Path {
        up: slow_uplink,
        down: fast_downlink,
        loss: 0.01,
        stall_chance: 0.005,
    };
    let truth = Truth {
        base: PARTY0 + 0.5 * HOUR,
        ppm: 37.0,
    };
    let o = run(truth, &path, 120.0, 3);
    println!(
        "asymmetric: error {:.1} us (bound {:.1} us)",
        o.error / 1e3,
        o.bound / 1e3
    );
    // A naive midpoint average would be ~1 ms off (half the mean uplink excess).
    assert!(o.error < 200e3, "{} ns", o.error);
    assert!(o.error <= o.bound, "{} > {}", o.error, o.bound);
}

#[test]
fn the_error_bound_covers_the_true_error() {
    let mut rng = StdRng::seed_from_u64(99);
    let (mut covered, runs) = (0, 40);
    for seed in 0..runs {
        let truth = Truth {
            base: PARTY0 + rng.gen_range(-HOUR..HOUR),
            ppm: rng.gen_range(-100.0..100.0),
        };
        let path = if seed % 2 == 0 { &LAN } else { &WIFI };
        let secs = rng.gen_range(1.0..60.0);
        let o = run(truth, path, secs, 1_000 + seed);
        if o.error <= o.bound {
            covered += 1;
        }
    }
    println!("bound covered the error in {covered}/{runs} runs");
    assert!(covered * 100 >= runs * 95, "{covered}/{runs}");
}

#[test]
fn hostile_samples_are_counted_and_ignored() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    let at = |n: u64| Instant::from_nanos(n);
    let p = PartyTime::from_nanos;
    // Response before request, host time backwards, processing longer than the trip,
    // and an absurd round trip.
    for s in [
        (at(2_000), p(10), p(20), at(1_000)),
        (at(1_000), p(30), p(20), at(2_000)),
        (at(1_000), p(0), p(5_000), at(2_000)),
        (at(0), p(0), p(0), at(u64::MAX)),
    ] {
        est.add(ClockSample {
            t1: s.0,
            t2: s.1,
            t3: s.2,
            t4: s.3,
        });
    }
    assert_eq!(est.counters().rejected, 4);
    assert!(est.estimate().is_none());
    assert!(!est.locked());
}

#[test]
fn a_new_host_continues_the_timeline() {
    let truth = Truth {
        base: PARTY0 + 0.25 * HOUR,
        ppm: -60.0,
    };
    let o = run(truth, &LAN, 60.0, 4);
    let host = HostClock::continuing(&o.est, truth.local(61e9));
    // The old host dies; ten seconds later the new host still stamps the old timeline,
    // drifting only by its rate error.
    let t = 75e9;
    let stamped = host.now(truth.local(t)).as_nanos() as f64;
    let drift = (stamped - Truth::party(t).as_nanos() as f64).abs();
    println!("party time 15 s after the last exchange: off by {drift:.0} ns");
    assert!(drift < 50e3, "{drift} ns");
    assert_eq!(host.to_local(host.now(truth.local(t))), truth.local(t));
    // A fresh host is the identity.
    let fresh = HostClock::fresh();
    assert_eq!(
        fresh.now(Instant::from_nanos(42)),
        PartyTime::from_nanos(42)
    );
}

#[test]
fn a_jump_of_the_timeline_restarts_the_estimate() {
    let truth = Truth {
        base: PARTY0,
        ppm: 0.0,
    };
    let mut o = run(truth, &LAN, 20.0, 5);
    let mut rng = StdRng::seed_from_u64(6);
    // The host is replaced by one whose party time is 10 s ahead.
    for k in 0..10 {
        let t = 30e9 + f64::from(k) * 1e9;
        let arrive = t + lan(&mut rng);
        let back = arrive + 20e3 + lan(&mut rng);
        o.est.add(ClockSample {
            t1: truth.local(t),
            t2: Truth::party(arrive + 10e9),
            t3: Truth::party(arrive + 20e3 + 10e9),
            t4: truth.local(back),
        });
    }
    let c = o.est.counters();
    assert_eq!(c.resets, 1);
    assert_eq!(c.outliers, u64::from(JUMP_AFTER));
    let at = truth.local(40e9);
    let Some(party) = o.est.to_party(at) else {
        panic!("no estimate");
    };
    let off = party.as_nanos() as f64 - (truth.party_at(at) + 10e9);
    assert!(off.abs() < 100e3, "{off} ns");
}

#[test]
fn exchanges_burst_then_settle() {
    let c = ClockConfig::default();
    let mut est = ClockEstimator::new(c);
    let t0 = Instant::from_nanos(1_000_000_000);
    assert_eq!(est.next_exchange(t0), t0);
    est.exchange_sent(t0);
    assert_eq!(est.next_exchange(t0), t0 + c.burst_interval);
    let o = run(
        Truth {
            base: PARTY0,
            ppm: 10.0,
        },
        &LAN,
        30.0,
        7,
    );
    let now = Instant::from_nanos(o.est.last_sent.map_or(0, Instant::as_nanos));
    assert!(o.est.locked());
    assert_eq!(o.est.next_exchange(now), now + c.period);
}

#[test]
fn party_time_arithmetic_saturates() {
    let t = PartyTime::from_nanos(1_000);
    assert_eq!(t + Duration::from_nanos(5), PartyTime::from_nanos(1_005));
    assert_eq!(PartyTime::ZERO - t, Duration::ZERO);
    assert_eq!(t - PartyTime::ZERO, Duration::from_nanos(1_000));
    let e = ClockEstimate {
        offset_ns: -1e12,
        ..ClockEstimate::identity()
    };
    assert_eq!(e.to_party(Instant::from_nanos(5)), PartyTime::ZERO);
}

/// Feeds `n` exchanges `gap` s apart from `start` s over a 0.3 ms path to a host whose
/// party time at true time t (s, the member's clock) is `party(t)` ns.
fn exchanges(est: &mut ClockEstimator, start: f64, gap: f64, n: usize, party: impl Fn(f64) -> f64) {
    for k in 0..n {
        let t = start + gap * k as f64;
        let stamp = |s: f64| PartyTime::from_nanos(party(s) as u64);
        est.exchange_sent(Instant::from_nanos((t * 1e9) as u64));
        est.add(ClockSample {
            t1: Instant::from_nanos((t * 1e9) as u64),
            t2: stamp(t + 300e-6),
            t3: stamp(t + 320e-6),
            t4: Instant::from_nanos(((t + 620e-6) * 1e9) as u64),
        });
    }
}

/// Seed 606 of the playback sweep: after a failover the new host's timeline is its own
/// estimate of the old one (here 600 µs and 10 ppm off). A member that kept the old
/// host's samples mixed both clocks while its bound claimed a few µs; after a rebase it
/// plays on the old estimate until the new samples lock, then follows the new timeline.
#[test]
fn a_rebase_keeps_the_estimate_until_the_new_host_locks_then_follows_it() {
    let old = |t: f64| PARTY0 + t * 1e9;
    let new = |t: f64| PARTY0 + 600e3 + t * 1e9 * (1.0 + 10e-6);
    let mut est = ClockEstimator::new(ClockConfig::default());
    exchanges(&mut est, 1.0, 1.0, 30, old);
    let before = est.estimate().unwrap();
    est.rebase();
    assert!(est.locked(), "the music plays on");
    assert_eq!(est.estimate(), Some(before));
    let now = Instant::from_nanos(30_500_000_000);
    est.exchange_sent(now);
    assert_eq!(
        est.next_exchange(now) - now,
        est.config().burst_interval,
        "a new burst"
    );
    exchanges(&mut est, 31.0, 0.05, 1, new);
    let kept = est.estimate().unwrap();
    assert_eq!(
        (kept.offset_ns, kept.rate_ppm),
        (before.offset_ns, before.rate_ppm),
        "one sample does not lock"
    );
    assert!(
        kept.error_ns >= before.error_ns + 500e3,
        "the bound owns up to the step the new sample shows: {kept:?}"
    );
    exchanges(&mut est, 31.05, 0.05, 7, new);
    let after = est.estimate().unwrap();
    let at = Instant::from_nanos(31_500_000_000);
    let off = after.party_nanos(at) - new(31.5);
    assert!(off.abs() < 20e3, "{off} ns off the new timeline: {after:?}");
    assert!(after.samples <= 8, "only the new host's samples: {after:?}");
}

/// Playback seed 220: a member promoted a second after it began following a new host froze
/// a young estimate claiming +2000 ppm; the party's timeline then ran away from every
/// player (which steer 500 ppm at most) by 1.5 ms a second. A successor holds the rate to
/// what two crystals can differ by, without moving the party time at its promotion.
#[test]
fn a_successor_holds_the_frozen_rate_to_what_crystals_allow() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    // A clock that runs 1 % fast: no crystal does that.
    exchanges(&mut est, 1.0, 0.05, 8, |t| PARTY0 + t * 1e9 * 1.01);
    let e = est.estimate().unwrap();
    assert!(e.rate_ppm > 1_000.0, "{e:?}");
    let now = Instant::from_nanos(1_500_000_000);
    let host = HostClock::continuing(&est, now);
    assert_eq!(host.mapping().rate_ppm, est.config().rate_prior_ppm);
    let moved = host.now(now).as_nanos() as f64 - e.party_nanos(now);
    assert!(
        moved.abs() < 2.0,
        "party time moved by {moved} ns at the promotion"
    );
}
