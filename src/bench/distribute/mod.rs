//! `chorus bench distribute`: how long real boxes take to spread one song through a
//! party, in network namespaces with rate-limited links, and how fast one pair of boxes
//! moves a song over loopback.
//!
//! - [`netns`]: the namespaces, bridge and `tbf` limits (root only).
//! - [`boxes`]: the scratch dir, the generated song and the `chorus run` processes.
//! - [`measure`]: hosting, joining, and timing until each member's cache holds the song.
//! - [`report`]: the results, the lower bound and the text / JSON output.

mod boxes;
mod measure;
mod netns;
mod report;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use report::{
    lower_bound_s, BenchReport, DistributeReport, LoopbackReport, RunReport, LINK_BITS_PER_SEC,
    LOOPBACK_TARGET_MB_PER_SEC, SWARM_TARGET_RATIO,
};

use boxes::{BoxSpec, Boxes, Scratch};
use netns::Netns;

/// Most members: every box needs an address on one /24.
pub const MAX_MEMBERS: usize = 200;
/// Largest song: the WAV writer counts frames in 32 bits, and the cache must hold it.
pub const MAX_SIZE_MB: u64 = 4_000;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributeConfig {
    /// Members besides the host in the namespace runs.
    pub members: usize,
    /// Song size for the namespace runs, MB (10^6 bytes).
    pub size_mb: u64,
    /// Song size for the loopback pair, MB.
    pub loopback_size_mb: u64,
}

impl Default for DistributeConfig {
    fn default() -> Self {
        DistributeConfig {
            members: 8,
            size_mb: 20,
            loopback_size_mb: 200,
        }
    }
}

impl DistributeConfig {
    /// Rejects settings the benchmark cannot run with.
    pub fn validate(&self) -> Result<(), DistributeError> {
        if !(1..=MAX_MEMBERS).contains(&self.members) {
            return Err(DistributeError::Invalid(format!(
                "--members must be 1 to {MAX_MEMBERS}"
            )));
        }
        for (flag, mb) in [
            ("--size-mb", self.size_mb),
            ("--loopback-size-mb", self.loopback_size_mb),
        ] {
            if !(1..=MAX_SIZE_MB).contains(&mb) {
                return Err(DistributeError::Invalid(format!(
                    "{flag} must be 1 to {MAX_SIZE_MB}"
                )));
            }
        }
        Ok(())
    }
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum DistributeError {
    /// The settings are out of range: fix the flags.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// This machine cannot run the namespace benchmark as is.
    #[error("cannot run the namespace benchmark: {0}")]
    Unavailable(String),
    /// Building the namespaces failed midway (what was built is removed again).
    #[error("network namespaces: {0}")]
    Netns(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the song: {0}")]
    Song(String),
    #[error("the song is too big for one WAV file")]
    TooBig,
    /// A box refused, could not be asked, or exited: run with CHORUS_BENCH_LOG=debug.
    #[error("box: {0}")]
    Box(String),
    /// Something did not happen in time: the message says what and how far it got.
    #[error("no {0}")]
    Timeout(String),
}

impl DistributeError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        DistributeError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why the namespace benchmark cannot run here, if it cannot.
pub fn namespaces_unavailable() -> Option<String> {
    netns::unavailable()
}

/// The song file, its id and size, written on a blocking thread (hundreds of MB).
async fn song(dir: &Path, size_mb: u64) -> Result<(PathBuf, String, u64), DistributeError> {
    std::fs::create_dir_all(dir).map_err(|e| DistributeError::io(dir, e))?;
    let path = dir.join("bench.wav");
    let p = path.clone();
    let id = tokio::task::spawn_blocking(move || boxes::write_song(&p, size_mb * 1_000_000))
        .await
        .map_err(|e| DistributeError::Song(e.to_string()))??;
    let len = std::fs::metadata(&path)
        .map_err(|e| DistributeError::io(&path, e))?
        .len();
    Ok((path, id, len))
}

/// How long a run may take: generous next to sending the song to every member in turn.
fn run_limit(song_bytes: u64, members: usize) -> Duration {
    let serial = lower_bound_s(song_bytes, LINK_BITS_PER_SEC).unwrap_or(0.0) * members as f64;
    Duration::from_secs(60) + Duration::from_secs_f64(serial * 4.0)
}

/// Host + `config.members` members in namespaces: one run with swarming, one without.
pub async fn run_namespaces(
    exe: &Path,
    config: &DistributeConfig,
) -> Result<DistributeReport, DistributeError> {
    config.validate()?;
    if let Some(why) = netns::unavailable() {
        return Err(DistributeError::Unavailable(why));
    }
    // Dropped in reverse: the boxes of a run first, then the namespaces, then the files.
    let scratch = Scratch::new("ns")?;
    let (_, id, size) = song(&scratch.dir.join("music-host"), config.size_mb).await?;
    let empty = scratch.dir.join("music-empty");
    let net = Netns::build(config.members + 1)?;
    let limit = run_limit(size, config.members);
    let mut runs = Vec::new();
    for swarm in [true, false] {
        let run_dir = scratch.dir.join(if swarm { "swarm" } else { "origin" });
        let mut boxes = Boxes::default();
        for i in 0..net.boxes() {
            let spec = BoxSpec {
                name: format!("b{i}"),
                state: run_dir.join(format!("b{i}")),
                music: if i == 0 {
                    scratch.dir.join("music-host")
                } else {
                    empty.clone()
                },
                netns: Some(net.name(i)),
                interface: netns::box_addr(i),
                port: 7700,
                min_accepts: config.members,
                swarm,
            };
            boxes.start(exe, spec)?;
        }
        let sent_before = net.tx_bytes(0);
        let start = measure::form_party(&mut boxes, limit).await?;
        let files = cache_files(&boxes, &id);
        let member_seconds = measure::wait_held(&mut boxes, &files, start, limit).await?;
        let host_tx_bytes = net
            .tx_bytes(0)
            .zip(sent_before)
            .map(|(after, before)| after.saturating_sub(before));
        let seconds = member_seconds.iter().copied().fold(0.0, f64::max);
        tracing::info!(swarm, seconds, "distribution run done");
        runs.push(RunReport {
            swarm,
            seconds,
            member_seconds,
            host_tx_bytes,
        });
    }
    Ok(DistributeReport {
        members: config.members,
        song_bytes: size,
        link_bits_per_sec: LINK_BITS_PER_SEC,
        lower_bound_s: lower_bound_s(size, LINK_BITS_PER_SEC).unwrap_or(0.0),
        runs,
    })
}

/// Two boxes on loopback, no limit: the time until the member holds a
/// `config.loopback_size_mb` song.
pub async fn run_loopback(
    exe: &Path,
    config: &DistributeConfig,
) -> Result<LoopbackReport, DistributeError> {
    config.validate()?;
    let scratch = Scratch::new("lo")?;
    let (_, id, size) = song(&scratch.dir.join("music-host"), config.loopback_size_mb).await?;
    let plain = |dir: PathBuf| async move {
        tokio::task::spawn_blocking(move || boxes::plain_write_rate(&dir, size))
            .await
            .map_err(|e| DistributeError::Song(e.to_string()))?
    };
    let before = plain(scratch.dir.clone()).await?;
    // A group port of its own, so boxes of other benchmarks or tests are not neighbours.
    let port = 40_000 + u16::try_from(std::process::id() % 20_000).unwrap_or(0);
    let mut boxes = Boxes::default();
    for i in 0..2 {
        let spec = BoxSpec {
            name: format!("lo{i}"),
            state: scratch.dir.join(format!("lo{i}")),
            music: scratch
                .dir
                .join(if i == 0 { "music-host" } else { "music-empty" }),
            netns: None,
            interface: Ipv4Addr::LOCALHOST,
            port,
            min_accepts: 1,
            swarm: true,
        };
        boxes.start(exe, spec)?;
    }
    let limit = Duration::from_secs(120);
    let start = measure::form_party(&mut boxes, limit).await?;
    let cpu_before = boxes.cpu_seconds();
    let files = cache_files(&boxes, &id);
    let seconds = measure::wait_held(&mut boxes, &files, start, limit)
        .await?
        .into_iter()
        .fold(0.0, f64::max);
    let cpu = cpu_spent(&cpu_before, &boxes.cpu_seconds());
    let after = plain(scratch.dir.clone()).await?;
    let mut report = LoopbackReport::new(size, seconds);
    report.plain_write_mb_per_sec = Some((before, after));
    report.cpu_seconds = match cpu[..] {
        [Some(host), Some(member)] => Some((host, member)),
        _ => None,
    };
    Ok(report)
}

/// Per box, the CPU seconds used between two readings.
fn cpu_spent(before: &[Option<f64>], after: &[Option<f64>]) -> Vec<Option<f64>> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| Some(((*a)? - (*b)?).max(0.0)))
        .collect()
}

/// Where each member's cache puts the song once it holds all of it.
fn cache_files(boxes: &Boxes, id: &str) -> Vec<PathBuf> {
    boxes
        .specs
        .iter()
        .skip(1)
        .map(|s| s.state.join("cache/songs").join(format!("{id}.wav")))
        .collect()
}

#[cfg(test)]
mod tests;
