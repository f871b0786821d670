//! One simulated box of the benchmark: its crystal (clock offset and rate), its clock
//! estimator, and its playout loop (simulated DAC + playout controller + an exact model
//! of the steered resampler), with the ground truth of which song frame it plays.

use std::collections::VecDeque;

use super::net::Link;
use crate::audio::playout::{
    PlayoutConfig, PlayoutController, PlayoutDecision, PlayoutTarget, PositionMap,
};
use crate::audio::simdac::{SimDac, SimDacConfig};
use crate::audio::{Sink, SinkFormat, SinkTiming};
use crate::core::{ClockConfig, ClockEstimator, ClockSample, Instant, PartyTime};

/// Device (and song) rate of the benchmark.
pub(super) const RATE: u32 = 48_000;
/// Frames per write: 10 ms.
pub(super) const BLOCK: usize = 480;
/// DAC buffer: 20 ms, inside what the ALSA sink asks for by default.
const BUFFER: u64 = 960;

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

/// Output frame -> song frame, exact: one linear segment per written block.
#[derive(Debug, Default)]
struct Track {
    segments: VecDeque<(u64, f64, f64)>,
}

impl Track {
    fn push(&mut self, out: u64, song: f64, slope: f64) {
        if self.segments.len() > 64 {
            self.segments.pop_front();
        }
        self.segments.push_back((out, song, slope));
    }
    fn song_at(&self, out: f64) -> Option<f64> {
        let seg = self.segments.iter().rev().find(|s| s.0 as f64 <= out)?;
        Some(seg.1 + (out - seg.0 as f64) * seg.2)
    }
}

/// A box of the benchmark.
#[derive(Debug)]
pub(super) struct Speaker {
    pub crystal: Crystal,
    /// The member's estimator and link; `None` on the host, whose clock is the party's.
    sync: Option<(ClockEstimator, Link)>,
    pending: Vec<(f64, ClockSample)>,
    dac: SimDac,
    controller: PlayoutController,
    map: PositionMap,
    track: Track,
    started: bool,
    out: u64,
    song: f64,
    steer: f64,
    pub reseeks: u64,
    pub max_steer: f64,
    /// Steering per tick from the start of playback (for the SNR measurement).
    pub steer_trace: Vec<f64>,
    pub exchanges: u64,
    pub lost: u64,
}

impl Speaker {
    pub(super) fn new(
        crystal: Crystal,
        dac_ppm: f64,
        sync: Option<(ClockConfig, Link)>,
        playout: PlayoutConfig,
    ) -> Self {
        let format = SinkFormat {
            rate: RATE,
            channels: 1,
        };
        Speaker {
            crystal,
            sync: sync.map(|(c, link)| (ClockEstimator::new(c), link)),
            pending: Vec::new(),
            dac: SimDac::new(SimDacConfig {
                format,
                rate_error_ppm: dac_ppm,
                buffer_frames: BUFFER,
                start: Instant::ZERO,
            }),
            controller: PlayoutController::new(playout),
            map: PositionMap::new(64),
            track: Track::default(),
            started: false,
            out: 0,
            song: 0.0,
            steer: 0.0,
            reseeks: 0,
            max_steer: 0.0,
            steer_trace: Vec::new(),
            exchanges: 0,
            lost: 0,
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

    /// Clock sync at true time `t`: take replies that have arrived, send when due.
    pub(super) fn sync_step(&mut self, t: f64, host: &Crystal) {
        let Some((est, link)) = self.sync.as_mut() else {
            return;
        };
        self.pending.retain(|&(arrives, sample)| {
            if arrives <= t {
                est.add(sample);
            }
            arrives > t
        });
        let local = self.crystal.instant(t);
        if est.next_exchange(local) > local {
            return;
        }
        est.exchange_sent(local);
        self.exchanges += 1;
        let stamp = |t: f64| PartyTime::from_nanos(host.at(t).max(0.0) as u64);
        let reply = link.deliver(t).and_then(|arrive| {
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

    /// Playout at true time `t` for a song whose frame 0 is due at party time `t0` (ns).
    pub(super) fn play_step(&mut self, t: f64, t0: f64) {
        let Some(party) = self.party_estimate(t) else {
            return;
        };
        let due = (party - t0) * f64::from(RATE) * 1e-9;
        if !self.started {
            if due < 0.0 {
                return;
            }
            // Start (or join late) with the frame due now: the DAC plays it at once.
            self.started = true;
            self.song = due;
        }
        self.dac.advance_to(Instant::from_nanos(t as u64));
        self.top_up();
        let Ok(timing) = self.dac.timing() else {
            return;
        };
        // The controller sees the box's own clock, as ALSA timestamps would.
        let local = self.crystal.instant(t);
        let timing = SinkTiming {
            at: local,
            ..timing
        };
        let target = PlayoutTarget {
            song_frame: due,
            at: local,
            song_rate: RATE,
        };
        match self.controller.update(&target, &timing, &self.map, RATE) {
            PlayoutDecision::Steer { ppm, .. } => {
                self.steer = ppm;
                self.max_steer = self.max_steer.max(ppm.abs());
            }
            PlayoutDecision::Reseek { song_frame, .. } => {
                self.reseeks += 1;
                self.song = song_frame;
                self.map.clear();
            }
            PlayoutDecision::Wait => {}
        }
        self.steer_trace.push(self.steer);
    }

    /// Fill the DAC buffer with whole blocks, advancing the song as the steered
    /// resampler would: each output frame carries 1/(1 + ppm) song frames.
    fn top_up(&mut self) {
        let block = [0.0f32; BLOCK];
        while self.dac.free_frames() >= BLOCK as u64 {
            let slope = 1.0 / (1.0 + self.steer * 1e-6);
            self.map.record(self.out, self.song);
            self.track.push(self.out, self.song, slope);
            if self.dac.write(&block).is_err() {
                return;
            }
            self.song += BLOCK as f64 * slope;
            self.out += BLOCK as u64;
        }
    }

    /// Ground truth: the song frame the DAC is playing now.
    pub(super) fn audible_song_frame(&self) -> Option<f64> {
        if !self.started {
            return None;
        }
        self.track.song_at(self.dac.played_exact())
    }
}
