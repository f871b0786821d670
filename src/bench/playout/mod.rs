//! `chorus bench playout`: how closely real boxes play together, measured by listening.
//!
//! N real `chorus run` processes on loopback form a party; the last one hosts it and is
//! the only one with the song (seeded band-limited noise), so the others fetch it. Each
//! box plays through real ALSA into its own sink of a PipeWire server started for the
//! run, looped into its own channel of one multichannel null sink; one recording of that
//! sink's monitor holds every box sample-aligned. Each box's channel is cross-correlated
//! with box 1's in 0.5 s windows (sub-sample peak), which gives first-sample offsets,
//! time to lock, spread percentiles and excursions.
//!
//! A control runs first through the same path: one stream whose two channels carry the
//! noise [`report::CONTROL_PAD`] samples apart must read that delay within 0.1 sample,
//! or the run stops without a report.
//!
//! - [`signal`]: the noise (any fractional delay) and WAV files.
//! - [`correlate`]: lag estimation, onsets, silences.
//! - [`analyze`]: windows -> lock, spread, excursions, gaps.
//! - [`server`]: the PipeWire server, the recorder, the control's player.
//! - [`boxes`]: the `chorus run` processes and `chorus ctl`.
//! - [`skips`]: `--skip-every`, and where each box began the new song.
//! - [`report`]: the control and the report.

pub mod analyze;
mod boxes;
pub mod correlate;
mod load;
pub mod memory;
pub mod report;
mod server;
pub mod signal;
pub mod skips;
mod stalls;
#[cfg(test)]
mod tests;
pub mod wander;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use report::{ControlReport, HostKill, PlayoutReport};
pub use server::config_text;

use analyze::{Percentiles, WINDOW_S};
use boxes::Boxes;
use report::{CONTROL_PAD, CONTROL_S};
use server::SoundServer;
use signal::{noise, read_wav, write_wav, RATE};

/// The song's seed: every run plays the same noise.
const SEED: u64 = 0x0C40_5EED;
/// The song outlasts the measurement by this much (boxes start within it).
const SONG_MARGIN_S: f64 = 30.0;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PlayoutError {
    #[error("invalid settings: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("WAV: {0}")]
    Wav(#[from] hound::Error),
    #[error("{0}")]
    Tool(String),
    #[error("{0}")]
    Box(String),
    #[error("the control failed, so nothing this setup measures can be trusted:\n{0}")]
    ControlFailed(String),
    #[error("interrupted; boxes, sound server and files removed")]
    Interrupted,
}

/// Set by [`interrupt`]: the run stops at its next check and cleans up behind it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks a running [`run`] to stop (Ctrl-C): its guards then kill the boxes and the sound
/// server (which runs in a process group of its own and would outlive us) and delete the
/// scratch dir.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

impl PlayoutError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        PlayoutError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayoutConfig {
    pub boxes: usize,
    /// Seconds measured from the first sample.
    pub seconds: f64,
    /// Busy-loop threads competing for the cores while the boxes play.
    pub load: usize,
    /// SIGKILL the host this many seconds after play.
    pub kill_host_at: Option<f64>,
    /// Freeze the sound server this many times during the run (see [`stalls`]).
    pub stall_server: usize,
    /// Box 1 asks for the next song this often, seconds (see [`skips`]).
    pub skip_every: Option<f64>,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            boxes: 3,
            seconds: 60.0,
            load: 0,
            kill_host_at: None,
            stall_server: 0,
            skip_every: None,
        }
    }
}

impl PlayoutConfig {
    pub fn validate(&self) -> Result<(), PlayoutError> {
        let invalid = |m: &str| Err(PlayoutError::Invalid(m.into()));
        if !(2..=16).contains(&self.boxes) {
            return invalid("--boxes must be 2 to 16");
        }
        if !(5.0..=3600.0).contains(&self.seconds) {
            return invalid("--seconds must be 5 to 3600");
        }
        if self.load > 64 {
            return invalid("--load must be at most 64");
        }
        if self
            .kill_host_at
            .is_some_and(|t| !(1.0..self.seconds).contains(&t))
        {
            return invalid("--kill-host-at must be 1 s or more and within --seconds");
        }
        if self
            .skip_every
            .is_some_and(|t| !(5.0..=self.seconds - 5.0).contains(&t))
        {
            return invalid("--skip-every must be 5 s or more and 5 s within --seconds");
        }
        if self.stall_server > 0 && stalls::Stalls::last_at_s(self.stall_server) >= self.seconds {
            return invalid("--stall-server: one stall every 12 s from 10 s must fit in --seconds");
        }
        Ok(())
    }
}

/// The tools the bench (and its control) needs that are not on PATH, with the Debian
/// packages that have them; `None` if all are there.
pub fn missing_tools() -> Option<String> {
    let tools = [
        "pipewire",
        "wireplumber",
        "dbus-run-session",
        "pw-record",
        "pw-link",
        "aplay",
    ];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|tool| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "missing {} (Debian: pipewire pipewire-bin pipewire-alsa wireplumber dbus alsa-utils)",
            missing.join(", ")
        )
    })
}

/// Why the bench cannot run here, if it cannot: a tool or the ALSA build is missing.
pub fn unavailable() -> Option<String> {
    if !cfg!(feature = "alsa") {
        return Some(
            "this chorus was built without the `alsa` feature (cargo build --features alsa)".into(),
        );
    }
    missing_tools()
}

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Result<Scratch, PlayoutError> {
        let dir = std::env::temp_dir().join(format!("chorus-bench-{tag}-{}", std::process::id()));
        // A leftover of a killed run with the same pid holds nothing we need.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| PlayoutError::io(&dir, e))?;
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("CHORUS_BENCH_KEEP").is_some() {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "scratch dir left behind");
        }
    }
}

/// The control alone: starts a sound server under `dir`, plays one stream whose two
/// channels are the noise padded by [`CONTROL_PAD`] and 0 samples, records it, and reads
/// the delay. Returns the server for the run that follows.
pub fn control(
    dir: &Path,
    channels: usize,
    boxes: usize,
) -> Result<(ControlReport, SoundServer), PlayoutError> {
    let server = SoundServer::start(dir, channels, boxes)?;
    let len = (CONTROL_S * f64::from(RATE)) as usize;
    let sound = noise(SEED ^ 1, len, 0.0);
    let mut late = vec![0.0; CONTROL_PAD];
    late.extend_from_slice(&sound);
    let mut early = sound;
    early.extend(std::iter::repeat_n(0.0, CONTROL_PAD));
    let wav = dir.join("control.wav");
    write_wav(&wav, &[late, early])?;
    let recording = dir.join("control-rec.wav");
    let recorder = server.record(&recording, channels)?;
    // The recorder links to the sink before the stream starts.
    std::thread::sleep(Duration::from_millis(500));
    server.play_control(&wav)?;
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop()?;
    let (_, rec) = read_wav(&recording)?;
    let (Some(aux0), Some(aux1)) = (rec.first(), rec.get(1)) else {
        return Err(PlayoutError::Tool(
            "the control recording has fewer than 2 channels".into(),
        ));
    };
    Ok((ControlReport::measure(aux1, aux0), server))
}

/// Runs the whole bench with `exe` (this chorus binary) as the boxes.
pub fn run(exe: &Path, config: &PlayoutConfig) -> Result<PlayoutReport, PlayoutError> {
    config.validate()?;
    if let Some(why) = unavailable() {
        return Err(PlayoutError::Tool(format!(
            "cannot run bench playout: {why}"
        )));
    }
    let scratch = Scratch::new("playout")?;
    let channels = config.boxes.max(2);
    let (control, server) = control(&scratch.dir, channels, config.boxes)?;
    tracing::info!(
        passed = control.passed,
        worst = control.worst_error_samples,
        "control"
    );
    if !control.passed {
        return Err(PlayoutError::ControlFailed(control.render_text()));
    }
    let music = scratch.dir.join("music");
    std::fs::create_dir_all(&music).map_err(|e| PlayoutError::io(&music, e))?;
    let heads = write_songs(&music, config)?;
    let songs = heads.len();
    let mut boxes = Boxes::start(exe, &server, &scratch.dir, config.boxes, &music)?;
    let recording = scratch.dir.join("playout.wav");
    let Played {
        recorder,
        kill,
        memory,
        skips_asked,
    } = play(&mut boxes, &server, config, &recording, songs)?;
    recorder.stop()?;
    let nice = boxes.nice();
    let underruns = boxes.underruns();
    let playback: Vec<_> = (0..config.boxes)
        .map(|i| boxes.status(i).and_then(|s| s.playback))
        .collect();
    let reseeks = playback.iter().map(|p| p.as_ref()?.reseeks).collect();
    let device_jitter_us = playback
        .iter()
        .map(|p| p.as_ref()?.position_jitter_us)
        .collect();
    let device_rate_ppm = playback
        .iter()
        .map(|p| p.as_ref()?.device_rate_ppm)
        .collect();
    // One machine, one monotonic clock: a member's true offset from the host is zero, so
    // what it reports is its clock error.
    let clock_offset_us = playback
        .iter()
        .map(|p| Some(p.as_ref()?.clock.as_ref()?.offset_us))
        .collect();
    drop(boxes);
    let wake_latency_held = server.wake_latency_held();
    drop(server);
    let (rate, rec) = read_wav(&recording)?;
    let channels_rec: Vec<Vec<f32>> = rec.into_iter().take(config.boxes).collect();
    let mut analysis = analyze::analyse(&channels_rec, rate, config.seconds);
    analysis.first_song_ms = analyze::first_song_ms(&channels_rec, &heads[0], rate);
    let song_changes = skips::song_changes(&analysis, &channels_rec, &heads, &skips_asked, rate);
    let host_kill = kill.map(|k| after_kill(&analysis, &channels_rec, &k, rate));
    let wander = wander::wander(&analysis.series, config.boxes);
    Ok(PlayoutReport {
        boxes: config.boxes,
        seconds: config.seconds,
        load: config.load,
        kill_host_at_s: config.kill_host_at,
        server_stalls: config.stall_server,
        skip_every_s: config.skip_every,
        wake_latency_held,
        nice,
        control,
        analysis,
        underruns,
        reseeks,
        wander,
        device_jitter_us,
        device_rate_ppm,
        clock_offset_us,
        host_kill,
        song_changes,
        memory,
    })
}

/// Writes the host's songs into `music`: one that outlasts the run, or with skips two
/// that alternate, each outlasting the time between skips. Returns each song's first
/// seconds (boxes begin within them, wherever the schedule puts them).
fn write_songs(music: &Path, config: &PlayoutConfig) -> Result<Vec<Vec<f32>>, PlayoutError> {
    let (song_s, songs) = match config.skip_every {
        Some(every) => (every, skips::SONGS),
        None => (config.seconds, 1),
    };
    let song_len = ((song_s + SONG_MARGIN_S) * f64::from(RATE)) as usize;
    let mut heads = Vec::new();
    for i in 0..songs {
        let song = noise(SEED + i as u64, song_len, 0.0);
        heads.push(song.iter().take(2 * RATE as usize).copied().collect());
        // Named so that the library's order (by path) is the order they were made in.
        let name = if i == 0 {
            "noise.wav".into()
        } else {
            format!("noise{}.wav", i + 1)
        };
        write_wav(&music.join(name), &[song.clone(), song])?;
    }
    Ok(heads)
}

/// How many songs a `ctl library --json` answer (an array of songs) lists.
fn listed(answer: &str) -> usize {
    serde_json::from_str::<Vec<serde_json::Value>>(answer).map_or(0, |songs| songs.len())
}

/// What playing left to analyse.
struct Played {
    recorder: server::Recorder,
    kill: Option<Kill>,
    memory: Vec<Option<memory::Rss>>,
    /// Seconds since the recorder started, at each skip asked.
    skips_asked: Vec<f64>,
}

/// The host's death as the run saw it.
#[derive(Debug)]
struct Kill {
    /// Recording sample (approximate: pw-record's start latency is not known).
    sample: usize,
    at: Instant,
    /// Until box 1 named another host, with the party started again.
    new_host_after_s: Option<f64>,
}

/// The members after the host was killed: their longest silence from half a second
/// before the kill (its sample is approximate) and their spread from a window after it.
fn after_kill(a: &analyze::Analysis, channels: &[Vec<f32>], kill: &Kill, rate: u32) -> HostKill {
    let rate_f = f64::from(rate);
    let at_s = kill.sample.saturating_sub(a.origin_sample) as f64 / rate_f;
    let after: Vec<f64> = a
        .series
        .iter()
        .filter(|w| w.t >= at_s + WINDOW_S)
        .filter_map(|w| w.spread_us)
        .collect();
    let from = kill.sample.saturating_sub(rate as usize / 2);
    let members = channels.len().saturating_sub(1);
    let silence_ms = channels
        .iter()
        .take(members)
        .map(|c| {
            let end = correlate::offset_end(c).unwrap_or(0);
            correlate::silences(c, from, end, rate as usize / 1_000)
                .iter()
                .map(|(_, n)| *n as f64 * 1e3 / rate_f)
                .fold(0.0, f64::max)
        })
        .collect();
    HostKill {
        at_s,
        new_host_after_s: kill.new_host_after_s,
        member_longest_silence_ms: silence_ms,
        spread_after_us: Percentiles::of(&after),
    }
}

/// Waits for the boxes to see each other and the host to list its `songs`, forms the
/// party with box `n` (the last) as host, and waits until every member holds every song
/// and has locked its clock.
fn form_party(boxes: &mut Boxes, n: usize, songs: usize) -> Result<(), PlayoutError> {
    let host = n - 1;
    let minute = Duration::from_secs(60);
    boxes.wait_all(0..n, minute, "every box sees every other", |s| {
        s.neighbours.len() + 1 >= n
    })?;
    let scanned = Instant::now();
    while !boxes
        .ctl(host, &["library", "--json"])
        .is_ok_and(|l| listed(&l) >= songs)
    {
        boxes.check_alive()?;
        if scanned.elapsed() > minute {
            return Err(PlayoutError::Box("the host never listed its song".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    boxes.ctl(host, &["host"])?;
    boxes.wait_all(0..host, minute, "every member is invited", |s| {
        !s.invitations.is_empty()
    })?;
    for i in 0..host {
        boxes.ctl(i, &["join"])?;
    }
    boxes.wait_all(
        0..host,
        minute,
        "every member fetched the songs and locked its clock",
        |s| {
            s.transfers.iter().filter(|t| t.state == "complete").count() >= songs
                && s.playback.as_ref().is_some_and(|p| p.state != "unsynced")
        },
    )?;
    Ok(())
}

/// Forms the party, records, plays; returns the running recorder and, if the host was
/// killed, the recording sample it was killed at (approximately: the recorder's start
/// latency is not known).
fn play(
    boxes: &mut Boxes,
    server: &SoundServer,
    config: &PlayoutConfig,
    recording: &Path,
    songs: usize,
) -> Result<Played, PlayoutError> {
    let n = config.boxes;
    let host = n - 1;
    form_party(boxes, n, songs)?;
    let load = load::Load::start(config.load);
    let recorder = server.record(recording, config.boxes.max(2))?;
    std::thread::sleep(Duration::from_millis(500));
    boxes.ctl(host, &["play"])?;
    let played = Instant::now();
    boxes.wait_all(0..n, Duration::from_secs(30), "every box plays", |s| {
        s.playback.as_ref().is_some_and(|p| p.state == "playing")
    })?;
    let host_id = boxes.status(host).map(|s| s.id);
    let mut kill: Option<Kill> = None;
    let run = Duration::try_from_secs_f64(config.seconds).unwrap_or_default();
    let mut memory = memory::MemoryWatch::new(n, played, run);
    let mut stalls = stalls::Stalls::new(config.stall_server, played);
    let mut skipper = skips::Skipper::new(config.skip_every, config.seconds, played);
    let end = played + Duration::from_secs_f64(config.seconds + 1.0);
    while Instant::now() < end {
        memory.poll(&boxes.pids());
        stalls.poll(Instant::now(), server.group());
        if skipper.due() {
            boxes.ctl(0, &["skip"])?;
            skipper.asked(recorder.started);
        }
        match (&mut kill, config.kill_host_at) {
            (None, Some(at)) if played.elapsed().as_secs_f64() >= at => {
                boxes.kill(host);
                let t = recorder.started.elapsed().as_secs_f64();
                kill = Some(Kill {
                    sample: (t * f64::from(RATE)) as usize,
                    at: Instant::now(),
                    new_host_after_s: None,
                });
            }
            (Some(k), _) if k.new_host_after_s.is_none() => {
                // In charge: another host, and the party under way again (not failover).
                let host_now = boxes
                    .status(0)
                    .and_then(|s| s.party)
                    .filter(|p| p.state == crate::core::PartyState::Started)
                    .map(|p| p.host);
                if host_now.is_some() && host_now != host_id {
                    k.new_host_after_s = Some(k.at.elapsed().as_secs_f64());
                }
            }
            _ => {}
        }
        boxes.check_alive()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(load);
    Ok(Played {
        recorder,
        kill,
        memory: memory.finish(),
        skips_asked: skipper.asked,
    })
}
