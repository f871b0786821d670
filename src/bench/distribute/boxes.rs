//! The benchmark's boxes: a scratch directory, the generated song, each box's config,
//! and real `chorus run` processes, all killed and removed when dropped.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::DistributeError;

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub(super) struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub(super) fn new(tag: &str) -> Result<Scratch, DistributeError> {
        let dir = std::env::temp_dir().join(format!("chorus-bench-{tag}-{}", std::process::id()));
        // A leftover of a killed run with the same pid holds nothing we need.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| DistributeError::io(&dir, e))?;
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "scratch dir left behind");
        }
    }
}

/// Writes a 16-bit stereo WAV of pseudo-random noise of about `bytes` bytes (noise so
/// no layer can shortcut the transfer with compression); returns its BLAKE3 hex id.
pub(super) fn write_song(path: &Path, bytes: u64) -> Result<String, DistributeError> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let frames = u32::try_from(bytes / 4).map_err(|_| DistributeError::TooBig)?;
    let wav = |e: hound::Error| DistributeError::Song(e.to_string());
    let mut w = hound::WavWriter::create(path, spec).map_err(wav)?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = u64::from(frames) * 2;
    while left > 0 {
        let block = left.min(1 << 16);
        // `block` fits: it is at most 2^16.
        let mut samples = w.get_i16_writer(block as u32);
        for _ in 0..block {
            // xorshift64: fast, and its high bits are noise enough for a benchmark.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.write_sample((x >> 48) as u16 as i16);
        }
        samples.flush().map_err(wav)?;
        left -= block;
    }
    w.finalize().map_err(wav)?;
    let file = std::fs::File::open(path).map_err(|e| DistributeError::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(file)
        .map_err(|e| DistributeError::io(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Writes `bytes` to a new file in `dir` in 512 KiB writes (the chunk size of a large
/// song), without flushing, as a member stores a song; returns MB/s and removes the file.
/// On a VM, filling fresh page-cache pages can be the slowest step of a transfer.
pub(super) fn plain_write_rate(dir: &Path, bytes: u64) -> Result<f64, DistributeError> {
    let path = dir.join("plain-write.tmp");
    let block = vec![0x5a_u8; 512 * 1024];
    let started = std::time::Instant::now();
    let written = (|| {
        let mut f = std::fs::File::create(&path)?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n])?;
            left -= n as u64;
        }
        Ok(())
    })();
    let seconds = started.elapsed().as_secs_f64();
    let removed = std::fs::remove_file(&path);
    written
        .and(removed)
        .map_err(|e| DistributeError::io(&path, e))?;
    Ok(bytes as f64 / 1e6 / seconds.max(1e-9))
}

/// How one box is started.
#[derive(Debug, Clone)]
pub(super) struct BoxSpec {
    pub name: String,
    pub state: PathBuf,
    pub music: PathBuf,
    /// Network namespace to run in; `None`: this one (loopback).
    pub netns: Option<String>,
    /// Interface to beacon on.
    pub interface: Ipv4Addr,
    /// Multicast group port.
    pub port: u16,
    /// Guests the host waits for before the party starts.
    pub min_accepts: usize,
    pub swarm: bool,
}

impl BoxSpec {
    /// The box's config file text.
    pub(super) fn config_text(&self) -> String {
        format!(
            "music_dir = {:?}\nstate_dir = {:?}\n[audio]\noutput = \"null\"\n\
             [party]\nmin_accepts = {}\ncontrol_port = 0\nautoplay = false\n\
             [discovery]\nport = {}\nunicast_port = 0\n\
             [songs]\nbulk_port = 0\nswarm = {}\n",
            self.music.display().to_string(),
            self.state.display().to_string(),
            self.min_accepts,
            self.port,
            self.swarm
        )
    }
}

/// Running boxes, killed (SIGKILL: nothing of theirs is kept) when dropped.
#[derive(Debug, Default)]
pub(super) struct Boxes {
    pub specs: Vec<BoxSpec>,
    children: Vec<Child>,
}

impl Boxes {
    /// Writes `spec`'s config and starts `exe run` with it.
    pub(super) fn start(&mut self, exe: &Path, spec: BoxSpec) -> Result<(), DistributeError> {
        for dir in [&spec.state, &spec.music] {
            std::fs::create_dir_all(dir).map_err(|e| DistributeError::io(dir, e))?;
        }
        let config = spec.state.with_extension("toml");
        let mut f = std::fs::File::create(&config).map_err(|e| DistributeError::io(&config, e))?;
        f.write_all(spec.config_text().as_bytes())
            .map_err(|e| DistributeError::io(&config, e))?;
        let mut cmd = match &spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        cmd.args(["run", "--name", &spec.name])
            .arg("--interface")
            .arg(spec.interface.to_string())
            .arg("--config")
            .arg(&config)
            // CHORUS_BENCH_LOG=debug shows what the boxes do when a run fails.
            .env(
                "CHORUS_LOG",
                std::env::var("CHORUS_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = cmd.spawn().map_err(|e| DistributeError::io(exe, e))?;
        self.children.push(child);
        self.specs.push(spec);
        Ok(())
    }

    /// Per box, the CPU seconds it has used so far (`None` once it is gone).
    pub(super) fn cpu_seconds(&self) -> Vec<Option<f64>> {
        self.children
            .iter()
            .map(|c| crate::bench::procstat::cpu_seconds(c.id()))
            .collect()
    }

    /// A box that exited by itself, with how.
    pub(super) fn exited(&mut self) -> Option<String> {
        self.children
            .iter_mut()
            .zip(&self.specs)
            .find_map(|(c, s)| match c.try_wait() {
                Ok(Some(status)) => Some(format!("box {} exited: {status}", s.name)),
                _ => None,
            })
    }
}

impl Drop for Boxes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
