//! One simulated box of the benchmark: its crystal (clock offset and rate), its clock
//! estimator, the core's playout machine ([`Playout`]) and a [`SimPlayer`] executing its
//! commands (simulated DAC + playout controller + an exact model of the steered
//! resampler), with the ground truth of which song frame it plays.

use std::time::Duration;

use super::net::Link;
use crate::audio::simplayer::{SimPlayer, SimPlayerConfig};
use crate::core::{
    ClockConfig, ClockEstimator, ClockSample, Instant, PartyRole, PartyTime, PlaybackView, Playout,
    Schedule,
};

/// Device (and song) rate of the benchmark.
pub(super) const RATE: u32 = 48_000;

/// A crystal: local ns = base + (1 + ppm·1e-6) · true ns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Crystal {
    pub base: f64,
    pub ppm: f64,
}

impl Crystal {
    pub(super) fn at(&self, t: f64) -> f64 {
        self.base + (1.0 + self.ppm * 1e-6) * t
    }
    pub(super) fn instant(&self, t: f64) -> Instant {
        Instant::from_nanos(self.at(t).max(0.0) as u64)
    }
}

/// A box of the benchmark.
#[derive(Debug)]
pub(super) struct Speaker {
    pub crystal: Crystal,
    /// The member's estimator and link; `None` on the host, whose clock is the party's.
    sync: Option<(ClockEstimator, Link)>,
    pending: Vec<(f64, ClockSample)>,
    /// The core's playout decisions, executed by `player`.
    playout: Playout,
    player: SimPlayer,
    pub max_steer: f64,
    /// Steering per tick from the start of playback (for the SNR measurement).
    pub steer_trace: Vec<f64>,
    pub exchanges: u64,
    pub lost: u64,
    /// The last exchange's round trip, as a member reports it to the host.
    last_round_trip: Option<Duration>,
}

impl Speaker {
    pub(super) fn new(
        crystal: Crystal,
        sync: Option<(ClockConfig, Link)>,
        player: SimPlayerConfig,
    ) -> Self {
        Speaker {
            crystal,
            sync: sync.map(|(c, link)| (ClockEstimator::new(c), link)),
            pending: Vec::new(),
            playout: Playout::default(),
            player: SimPlayer::new(player, Instant::ZERO),
            max_steer: 0.0,
            steer_trace: Vec::new(),
            exchanges: 0,
            lost: 0,
            last_round_trip: None,
        }
    }

    /// This box's idea of party time (ns) at true time `t`; the host's is exact.
    pub(super) fn party_estimate(&self, t: f64) -> Option<f64> {
        match &self.sync {
            None => Some(self.crystal.at(t)),
            Some((est, _)) => est
                .estimate()
                .map(|e| e.party_nanos(self.crystal.instant(t))),
        }
    }

    /// The estimator's own error bound (ns) at `t`, for members.
    pub(super) fn error_bound(&self, t: f64) -> Option<f64> {
        let (est, _) = self.sync.as_ref()?;
        est.estimate().map(|e| e.error_at(self.crystal.instant(t)))
    }

    /// The clock error bound this member reports to its host, µs (`u32::MAX` on the host,
    /// which reports none, and before the first lock).
    pub(super) fn reported_error_us(&self) -> u32 {
        self.sync
            .as_ref()
            .map_or(u32::MAX, |(est, _)| est.reported_error_us())
    }

    /// The round trip this member reports to its host (`None` on the host).
    pub(super) fn round_trip(&self) -> Option<Duration> {
        self.last_round_trip
    }

    /// Clock sync at true time `t`: take replies that have arrived, send when due.
    pub(super) fn sync_step(&mut self, t: f64, host: &Crystal) {
        let Some((est, link)) = self.sync.as_mut() else {
            return;
        };
        let mut round_trip = self.last_round_trip;
        self.pending.retain(|&(arrives, sample)| {
            if arrives <= t {
                est.add(sample);
                let nanos = sample.t4.as_nanos().saturating_sub(sample.t1.as_nanos());
                round_trip = Some(Duration::from_nanos(nanos));
            }
            arrives > t
        });
        self.last_round_trip = round_trip;
        let local = self.crystal.instant(t);
        if est.next_exchange(local) > local {
            return;
        }
        est.exchange_sent(local);
        self.exchanges += 1;
        let stamp = |t: f64| PartyTime::from_nanos(host.at(t).max(0.0) as u64);
        let reply = link.deliver(t + link.stamp_lead()).and_then(|arrive| {
            let depart = arrive + link.processing();
            let back = link.deliver(depart)?;
            Some((arrive, depart, back))
        });
        match reply {
            Some((arrive, depart, back)) => self.pending.push((
                back,
                ClockSample {
                    t1: local,
                    t2: stamp(arrive),
                    t3: stamp(depart),
                    t4: self.crystal.instant(back),
                },
            )),
            None => self.lost += 1,
        }
    }

    /// Playout at true time `t`: the core's playout machine turns the `schedule` at this
    /// box's idea of party time into commands, and the player executes them.
    pub(super) fn play_step(&mut self, t: f64, schedule: &Schedule) {
        let Some(party) = self.party_estimate(t) else {
            return;
        };
        let local = self.crystal.instant(t);
        let estimate = self.sync.as_ref().and_then(|(est, _)| est.estimate());
        let role = match self.sync {
            None => PartyRole::Host,
            Some(_) => PartyRole::Member,
        };
        let to_local = |p: PartyTime| match (&self.sync, estimate) {
            // The host's party time is its own clock.
            (None, _) => Some(Instant::from_nanos(p.as_nanos())),
            (Some(_), e) => e.map(|e| e.to_local(p)),
        };
        let party = PartyTime::from_nanos(party.max(0.0) as u64);
        let view = PlaybackView::of(schedule, party, estimate, role, to_local);
        // The benchmark's boxes hold the song; `started` matters only to the transfer.
        let step = self.playout.update(local, Some(&view), |_| true);
        for command in step.commands {
            self.player.command(command);
        }
        self.player.tick(Instant::from_nanos(t as u64), local);
        if self.player.playing() {
            let steer = self.player.steer_ppm();
            self.max_steer = self.max_steer.max(steer.abs());
            self.steer_trace.push(steer);
        }
    }

    /// Re-seeks of this box's player.
    pub(super) fn reseeks(&self) -> u64 {
        self.player.reseeks()
    }

    /// Ground truth: the song frame the DAC is playing now.
    pub(super) fn audible_song_frame(&self) -> Option<f64> {
        self.player.audible().map(|(_, frame)| frame)
    }
}
