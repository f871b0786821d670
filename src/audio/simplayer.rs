//! A player in virtual time for the benchmark and the simulator: it executes the core's
//! [`SinkCommand`]s on a [`SimDac`] with the real [`PlayoutController`] and an exact model
//! of the steered resampler, and knows (ground truth) which song frame the DAC plays.
//!
//! It mirrors the playback thread ([`super::player`]): a new song is positioned so the
//! next frame written is the one due when it becomes audible, every block is steered, and
//! a re-seek jumps to the frame due. Samples are silence; only positions are modelled.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::device_position::{DevicePosition, DevicePositionConfig};
use super::playout::{
    PlayoutConfig, PlayoutController, PlayoutDecision, PlayoutTarget, PositionMap,
};
use super::simdac::{SimDac, SimDacConfig, TimingNoise};
use super::{Sink, SinkFormat, SinkTiming};
use crate::core::{Anchor, Instant, SinkCommand, SongRef};

/// How a [`SimPlayer`] is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimPlayerConfig {
    /// Device rate, and the rate of every song (the resampler model only steers).
    pub rate: u32,
    /// Frames per write.
    pub block: usize,
    /// DAC buffer in frames.
    pub buffer: u64,
    /// The DAC's crystal error.
    pub dac_ppm: f64,
    /// Controller tuning.
    pub playout: PlayoutConfig,
    /// How the DAC's timing readings differ from the truth.
    pub noise: TimingNoise,
    /// When the playback thread does not get to run.
    pub stalls: Stalls,
}

/// CPU starvation of the playback thread: now and then it does not run for a while, and
/// the DAC plays on from its buffer (or runs dry). The default never stalls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stalls {
    /// Stalls per second, at random (Poisson).
    pub per_second: f64,
    /// Longest stall; each lasts a uniform fraction of it.
    pub longest: Duration,
    /// Seeds the stalls.
    pub seed: u64,
}

/// Output frame -> song frame, exact: one linear segment per written block (`None` for
/// silence).
#[derive(Debug, Default)]
struct Track {
    segments: VecDeque<Segment>,
}

/// From output frame `.0` on: song and song frame (`None`: silence), song frames per
/// output frame.
type Segment = (u64, Option<(SongRef, f64)>, f64);

impl Track {
    fn push(&mut self, out: u64, song: Option<(SongRef, f64)>, slope: f64) {
        // 64 blocks cover far more than the DAC buffer: older ones were played long ago.
        if self.segments.len() > 64 {
            self.segments.pop_front();
        }
        self.segments.push_back((out, song, slope));
    }

    fn song_at(&self, out: f64) -> Option<(SongRef, f64)> {
        let seg = self.segments.iter().rev().find(|s| s.0 as f64 <= out)?;
        let (song, frame) = seg.1?;
        Some((song, frame + (out - seg.0 as f64) * seg.2))
    }
}

/// One box's playback thread in virtual time.
#[derive(Debug)]
pub struct SimPlayer {
    config: SimPlayerConfig,
    dac: SimDac,
    controller: PlayoutController,
    device: DevicePosition,
    map: PositionMap,
    track: Track,
    /// The song being played and its anchor.
    song: Option<(SongRef, Anchor)>,
    /// The song that takes over at its anchor's instant, as the playback thread hands
    /// over on the frame.
    queued: Option<(SongRef, Anchor)>,
    needs_seek: bool,
    /// Anything was ever played: before that the DAC stays stopped, as it has no reason
    /// to run.
    started: bool,
    /// Output frames written.
    out: u64,
    /// Song frame the next written output frame carries.
    next: f64,
    /// Output frames of silence still to write before `next` (a song anchored at a later
    /// start begins on its frame, as the playback thread lines it up).
    lead: u64,
    steer: f64,
    reseeks: u64,
    volume: Option<u8>,
    /// The thread is starved until then; the instant of the last tick.
    stalled_until: Instant,
    last_tick: Option<Instant>,
    rng: StdRng,
}

impl SimPlayer {
    /// A silent player whose DAC starts at virtual instant `start`.
    pub fn new(config: SimPlayerConfig, start: Instant) -> Self {
        SimPlayer {
            dac: SimDac::new(SimDacConfig {
                format: SinkFormat {
                    rate: config.rate,
                    channels: 1,
                },
                rate_error_ppm: config.dac_ppm,
                buffer_frames: config.buffer,
                start,
                noise: config.noise,
            }),
            controller: PlayoutController::new(config.playout),
            device: DevicePosition::new(config.rate, DevicePositionConfig::default()),
            map: PositionMap::new(64),
            track: Track::default(),
            song: None,
            queued: None,
            needs_seek: false,
            started: false,
            out: 0,
            next: 0.0,
            lead: 0,
            steer: 0.0,
            reseeks: 0,
            volume: None,
            stalled_until: start,
            last_tick: None,
            rng: StdRng::seed_from_u64(config.stalls.seed),
            config,
        }
    }

    /// Executes a command of [`crate::core::Playout`].
    pub fn command(&mut self, command: SinkCommand) {
        match command {
            SinkCommand::Play { song, anchor } => match &mut self.song {
                Some((current, a)) if *current == song => *a = anchor,
                _ => {
                    self.song = Some((song, anchor));
                    self.queued = None;
                    self.needs_seek = true;
                }
            },
            SinkCommand::Next { song, anchor } => {
                if self.song.is_none_or(|(current, _)| current != song) {
                    self.queued = Some((song, anchor));
                }
            }
            SinkCommand::CancelNext => self.queued = None,
            SinkCommand::Stop => {
                self.song = None;
                self.queued = None;
            }
            SinkCommand::Volume(v) => self.volume = Some(v),
        }
    }

    /// Let the DAC play until virtual instant `dac_now`, then write and steer as the
    /// playback thread would; `local_now` is the box's own clock at that instant (what
    /// the sink's timestamps read).
    pub fn tick(&mut self, dac_now: Instant, local_now: Instant) {
        self.dac.advance_to(dac_now);
        if self.starved(dac_now) {
            return;
        }
        let Some(timing) = self.timing(local_now) else {
            return;
        };
        if self.needs_seek && self.song.is_some() {
            self.position(&timing);
        }
        let rate = SinkFormat {
            rate: self.config.rate,
            channels: 1,
        };
        self.top_up(timing.at + rate.frames_to_duration(timing.delay));
        let Some(timing) = self.timing(local_now) else {
            return;
        };
        let device = self.device.update(&timing);
        let Some(target) = self.target() else {
            return;
        };
        match self
            .controller
            .update(&target, &device, &self.map, self.config.rate)
        {
            PlayoutDecision::Steer { ppm, .. } => self.steer = ppm,
            PlayoutDecision::Reseek { song_frame, .. } => {
                self.reseeks += 1;
                self.next = song_frame;
                self.map.clear();
            }
            PlayoutDecision::Wait => {}
        }
    }

    /// Whether the thread is starved at `now` (a stall may begin here).
    fn starved(&mut self, now: Instant) -> bool {
        let dt = self
            .last_tick
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.last_tick = Some(now);
        if now < self.stalled_until {
            return true;
        }
        let s = self.config.stalls;
        let chance = (s.per_second * dt).clamp(0.0, 1.0);
        if chance > 0.0 && self.rng.gen_bool(chance) {
            self.stalled_until = now + s.longest.mul_f64(self.rng.gen_range(0.0..1.0));
            return true;
        }
        false
    }

    /// The sink's timing with the box's own clock, as ALSA timestamps would read.
    fn timing(&mut self, local_now: Instant) -> Option<SinkTiming> {
        let timing = self.dac.timing().ok()?;
        Some(SinkTiming {
            at: local_now,
            ..timing
        })
    }

    fn target(&self) -> Option<PlayoutTarget> {
        let (_, anchor) = self.song?;
        Some(PlayoutTarget {
            song_frame: anchor.song_seconds * f64::from(self.config.rate),
            at: anchor.at,
            song_rate: self.config.rate,
            pace: anchor.pace,
        })
    }

    /// A new song: the next frame written is the one due when it becomes audible.
    fn position(&mut self, timing: &SinkTiming) {
        let Some(target) = self.target() else { return };
        let queued = SinkFormat {
            rate: self.config.rate,
            channels: 1,
        }
        .frames_to_duration(timing.delay);
        let due = target.frame_at(timing.at + queued);
        // Nothing before a later anchor is played: silence until its frame is due.
        let floor = if target.at > timing.at {
            target.song_frame
        } else {
            f64::NEG_INFINITY
        };
        self.lead = ((floor - due).max(0.0) / target.pace).round() as u64;
        self.next = due.max(floor);
        self.map.clear();
        self.needs_seek = false;
        self.started = true;
    }

    /// Fill the DAC buffer with whole blocks, advancing the song as the steered
    /// resampler would: each output frame carries 1/(1 + ppm) song frames. The next
    /// frame written is audible at `audible` (local clock).
    fn top_up(&mut self, audible: Instant) {
        if !self.started {
            return;
        }
        let block = vec![0.0f32; self.config.block];
        let first = self.out;
        while self.dac.free_frames() >= self.config.block as u64 {
            let song = self.song.filter(|_| !self.needs_seek).map(|(s, _)| s);
            let slope = 1.0 / (1.0 + self.steer * 1e-6);
            let block_len = self.config.block as u64;
            let written = (self.out - first) as f64 / f64::from(self.config.rate);
            if let Some((lead, frame)) = self.hand_over(audible + Duration::from_secs_f64(written))
            {
                // The playing song (or the silence before it) up to the frame, the
                // queued song from it.
                if lead > 0 {
                    let old = song.filter(|_| self.lead == 0).map(|s| (s, self.next));
                    self.track.push(self.out, old, slope);
                }
                if let Some((next, anchor)) = self.queued.take() {
                    self.song = Some((next, anchor));
                    self.track.push(self.out + lead, Some((next, frame)), slope);
                }
                self.needs_seek = false;
                self.lead = 0;
                self.map.clear();
                self.map.record(self.out + lead, frame);
                if self.dac.write(&block).is_err() {
                    return;
                }
                self.next = frame + (block_len - lead) as f64 * slope;
                self.out += block_len;
                continue;
            }
            let lead = if song.is_some() {
                self.lead.min(block_len)
            } else {
                0
            };
            if song.is_none() || lead > 0 {
                self.track.push(self.out, None, 0.0);
            }
            if let Some(song) = song.filter(|_| lead < block_len) {
                self.map.record(self.out + lead, self.next);
                self.track
                    .push(self.out + lead, Some((song, self.next)), slope);
            }
            if self.dac.write(&block).is_err() {
                return;
            }
            if song.is_some() {
                self.lead -= lead;
                self.next += (block_len - lead) as f64 * slope;
            }
            self.out += block_len;
        }
    }

    /// Where in the next block the queued song takes over, if its instant falls there:
    /// the output frame within the block and the song frame it begins on (the frame due,
    /// when told after its instant had been written). `audible`: when the block's first
    /// frame plays.
    fn hand_over(&self, audible: Instant) -> Option<(u64, f64)> {
        let (_, anchor) = self.queued?;
        let rate = f64::from(self.config.rate);
        let due_in = (anchor.at.as_nanos() as f64 - audible.as_nanos() as f64) * 1e-9 * rate;
        let lead = due_in.round().max(0.0);
        if lead >= self.config.block as f64 {
            return None;
        }
        let late = (-due_in).max(0.0) * anchor.pace;
        Some((lead as u64, anchor.song_seconds * rate + late))
    }

    /// Ground truth: the song and (fractional) song frame the DAC plays now.
    pub fn audible(&self) -> Option<(SongRef, f64)> {
        self.track.song_at(self.dac.played_exact())
    }

    /// Whether a song is being played (the sink was told to and has positioned it).
    pub fn playing(&self) -> bool {
        self.song.is_some() && !self.needs_seek
    }

    /// The steering last set, ppm.
    pub fn steer_ppm(&self) -> f64 {
        self.steer
    }

    /// Re-seeks so far.
    pub fn reseeks(&self) -> u64 {
        self.reseeks
    }

    /// The party volume last set.
    pub fn volume(&self) -> Option<u8> {
        self.volume
    }

    /// Times the DAC ran dry while playing.
    pub fn underruns(&self) -> u64 {
        self.dac.underruns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SongRef = SongRef([1; 32]);
    const B: SongRef = SongRef([2; 32]);

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    fn play(song: SongRef, song_seconds: f64, at: Instant) -> SinkCommand {
        SinkCommand::Play {
            song,
            anchor: Anchor {
                song_seconds,
                at,
                pace: 1.0,
            },
        }
    }

    /// Song frame error of `p` at `t` against `song` starting at local `start`.
    fn error(p: &SimPlayer, song: SongRef, start: Instant, t: Instant) -> Option<f64> {
        let (s, frame) = p.audible()?;
        let due = (t.as_nanos() as f64 - start.as_nanos() as f64) * 48e-6;
        (s == song).then_some(frame - due)
    }

    #[test]
    fn plays_on_the_anchor_switches_songs_and_stops() {
        let config = SimPlayerConfig {
            rate: 48_000,
            block: 480,
            buffer: 960,
            dac_ppm: 80.0,
            playout: PlayoutConfig::default(),
            noise: TimingNoise::default(),
            stalls: Stalls::default(),
        };
        let mut p = SimPlayer::new(config, ms(0));
        p.command(play(A, 0.0, ms(100)));
        for n in 10..3_000 {
            p.tick(ms(n * 10), ms(n * 10));
        }
        let err = error(&p, A, ms(100), ms(29_990));
        assert!(err.is_some_and(|e| e.abs() < 2.0), "{err:?}");
        // A new song comes in on its anchor once the old one's queued frames have played.
        p.command(play(B, 0.0, ms(30_000)));
        for n in 3_000..3_300 {
            p.tick(ms(n * 10), ms(n * 10));
        }
        let err = error(&p, B, ms(30_000), ms(32_990));
        assert!(err.is_some_and(|e| e.abs() < 2.0), "{err:?}");
        p.command(SinkCommand::Stop);
        for n in 3_300..3_310 {
            p.tick(ms(n * 10), ms(n * 10));
        }
        assert_eq!(p.audible(), None);
        assert_eq!(p.reseeks(), 0);
        assert_eq!(p.underruns(), 0);
    }

    /// A next song told ahead takes over on its frame: the old song is heard up to the
    /// instant and the new one from its first frame, with no re-seek.
    #[test]
    fn a_next_song_takes_over_on_its_frame() {
        let config = SimPlayerConfig {
            rate: 48_000,
            block: 480,
            buffer: 1_920,
            dac_ppm: 50.0,
            playout: PlayoutConfig::default(),
            noise: TimingNoise::default(),
            stalls: Stalls::default(),
        };
        let mut p = SimPlayer::new(config, ms(0));
        p.command(play(A, 0.0, ms(100)));
        for n in 1..1_000 {
            p.tick(ms(n * 10), ms(n * 10));
        }
        let SinkCommand::Play { anchor, .. } = play(B, 0.0, ms(10_105)) else {
            unreachable!()
        };
        p.command(SinkCommand::Next { song: B, anchor });
        for n in 1_000..1_030 {
            p.tick(ms(n * 10), ms(n * 10));
            let t = ms(n * 10);
            let (song, _) = p.audible().unwrap();
            assert_eq!(song, if t < ms(10_105) { A } else { B }, "at {t:?}");
        }
        let err = error(&p, B, ms(10_105), ms(10_290));
        assert!(err.is_some_and(|e| e.abs() < 2.0), "{err:?}");
        assert_eq!(p.reseeks(), 0);
        // A later Play of the song that took over only re-anchors it.
        p.command(play(B, 0.2, ms(10_305)));
        p.tick(ms(10_310), ms(10_310));
        assert_eq!(p.reseeks(), 0);
        let err = error(&p, B, ms(10_105), ms(10_310));
        assert!(err.is_some_and(|e| e.abs() < 2.0), "{err:?}");
    }

    /// 30 s of one song through a 20 ms buffer; returns the DAC's underruns.
    fn underruns_with(stalls: Stalls) -> u64 {
        let config = SimPlayerConfig {
            rate: 48_000,
            block: 480,
            buffer: 960,
            dac_ppm: 0.0,
            playout: PlayoutConfig::default(),
            noise: TimingNoise::default(),
            stalls,
        };
        let mut p = SimPlayer::new(config, ms(0));
        p.command(play(A, 0.0, ms(100)));
        for n in 1..3_000 {
            p.tick(ms(n * 10), ms(n * 10));
        }
        p.underruns()
    }

    #[test]
    fn a_starved_thread_lets_the_buffer_run_dry() {
        assert_eq!(underruns_with(Stalls::default()), 0);
        // Two stalls a second of up to 100 ms: most outlast the 20 ms buffer.
        let starved = Stalls {
            per_second: 2.0,
            longest: Duration::from_millis(100),
            seed: 3,
        };
        let n = underruns_with(starved);
        assert!((20..=80).contains(&n), "{n} underruns");
    }
}
