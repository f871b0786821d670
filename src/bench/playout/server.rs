//! The sound server of one bench run: a PipeWire instance of its own (own runtime and
//! config dirs) with one N-channel null sink, `chorus-bench`, and per box a stereo sink,
//! `chorus-boxK`, looped into channel K of it; plus `chorus-control`, looped into
//! channels 1 and 2, for the control. Every loopback runs in the one graph the null sink
//! drives, so one recording of its monitor holds every box sample-aligned.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::signal::RATE;
use super::PlayoutError;

/// The multichannel sink every box ends up in.
pub const BENCH_SINK: &str = "chorus-bench";
/// The sink the control plays into.
pub const CONTROL_SINK: &str = "chorus-control";

/// Box `k`'s (1-based) ALSA device: the PipeWire ALSA plugin aimed at its own sink.
pub fn box_device(k: usize) -> String {
    format!("pipewire:NODE=chorus-box{k}")
}

/// The graph's smallest cycle, in frames (21 ms at 48 kHz). Left to itself the server
/// picks 256 (the largest power of two under the boxes' 10 ms period), and on a shared
/// 2-core machine it then misses a 5.3 ms cycle every few seconds under load: every box
/// goes silent for a cycle at once and its position jumps. That is the rig failing, not
/// the boxes, so the rig runs the server's default cycle instead.
pub const QUANTUM: u32 = 1024;

/// PipeWire config for `channels` recorded channels and `boxes` boxes (box k -> AUX k-1).
pub fn config_text(channels: usize, boxes: usize) -> String {
    let positions: Vec<String> = (0..channels).map(|c| format!("AUX{c}")).collect();
    let mut text = format!(
        "context.properties = {{ default.clock.min-quantum = {QUANTUM} }}\n\
         context.objects = [\n  {{ factory = adapter\n    args = {{ factory.name = \
         support.null-audio-sink  node.name = \"{BENCH_SINK}\"\n             media.class = \
         \"Audio/Sink\"  audio.position = [ {} ]  audio.rate = {RATE}\n             \
         node.driver = true  priority.driver = 1000 }} }} ]\ncontext.modules = [\n",
        positions.join(" ")
    );
    // The loopback copies capture channel i to playback channel i: a box's left channel
    // (it plays the same on both) lands on its own AUX channel, the right is dropped.
    let mut loopback = |name: &str, out: &str| {
        text.push_str(&format!(
            "  {{ name = libpipewire-module-loopback\n    args = {{ capture.props = {{ \
             node.name = \"{name}\" media.class = \"Audio/Sink\" audio.position = [ FL FR ] }}\n\
             \x20            playback.props = {{ node.name = \"{name}-out\" target.object = \
             \"{BENCH_SINK}\" audio.position = [ {out} ] stream.dont-remix = true \
             node.passive = true }} }} }}\n"
        ));
    };
    loopback(CONTROL_SINK, "AUX0 AUX1");
    for k in 1..=boxes {
        loopback(&format!("chorus-box{k}"), &format!("AUX{}", k - 1));
    }
    text.push_str("]\n");
    text
}

/// A running PipeWire + WirePlumber, killed (the whole process group) when dropped.
#[derive(Debug)]
pub struct SoundServer {
    runtime: PathBuf,
    config: PathBuf,
    child: Child,
    /// The request for zero CPU wake-up latency, held while the server runs.
    wake_latency: Option<std::fs::File>,
}

/// Asks the kernel (PM QoS) to keep idle CPUs ready to wake at once, for as long as the
/// returned file is open. A timer drives the rig's server, not a sound card's interrupt:
/// on a virtual machine whose idle CPUs halt, its wake-ups come milliseconds late and
/// every box's stream skips a cycle at once. Low-latency audio set-ups hold the same
/// request; only root may make it.
fn hold_wake_latency() -> Option<std::fs::File> {
    use std::io::Write;
    let path = "/dev/cpu_dma_latency";
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(&0i32.to_ne_bytes()).map(|()| f));
    match held {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(
                "cannot hold {path} at 0 ({e}): the sound server's wake-ups may come late \
                 on an idle virtual machine (run as root to hold it)"
            );
            None
        }
    }
}

impl SoundServer {
    /// Starts the server under `dir` and waits until every loopback is linked.
    pub fn start(dir: &Path, channels: usize, boxes: usize) -> Result<Self, PlayoutError> {
        let runtime = dir.join("pw-run");
        let config = dir.join("pw-config");
        let conf_d = config.join("pipewire/pipewire.conf.d");
        for d in [&runtime, &conf_d] {
            std::fs::create_dir_all(d).map_err(|e| PlayoutError::io(d, e))?;
        }
        let conf = conf_d.join("10-chorus-bench.conf");
        std::fs::write(&conf, config_text(channels, boxes))
            .map_err(|e| PlayoutError::io(&conf, e))?;
        let log =
            std::fs::File::create(dir.join("pw.log")).map_err(|e| PlayoutError::io(dir, e))?;
        let mut cmd = Command::new("dbus-run-session");
        cmd.args(["--", "sh", "-c", "pipewire & sleep 0.5; exec wireplumber"])
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_CONFIG_HOME", &config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| PlayoutError::io(dir, e))?)
            .stderr(log);
        // Its own process group, so dropping the server ends pipewire and wireplumber too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| PlayoutError::Tool(format!("cannot start dbus-run-session: {e}")))?;
        let server = SoundServer {
            runtime,
            config,
            child,
            wake_latency: hold_wake_latency(),
        };
        server.wait_linked(boxes)?;
        Ok(server)
    }

    /// Whether idle CPUs are kept ready to wake while the server runs.
    pub fn wake_latency_held(&self) -> bool {
        self.wake_latency.is_some()
    }

    /// The process group of the server (pipewire and wireplumber).
    pub fn group(&self) -> u32 {
        self.child.id()
    }

    /// The environment a client of this server needs.
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        [
            ("XDG_RUNTIME_DIR", &self.runtime),
            ("XDG_CONFIG_HOME", &self.config),
        ]
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env()).stdin(Stdio::null());
        cmd
    }

    /// Polls `pw-link -l` until the control's and every box's loopback reach the sink.
    fn wait_linked(&self, boxes: usize) -> Result<(), PlayoutError> {
        let mut want: Vec<String> = vec![
            format!("{CONTROL_SINK}-out:output_AUX0"),
            format!("{CONTROL_SINK}-out:output_AUX1"),
        ];
        want.extend((1..=boxes).map(|k| format!("chorus-box{k}-out:output_AUX{}", k - 1)));
        let start = Instant::now();
        let mut seen = String::new();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(out) = self.command("pw-link").arg("-l").output() {
                seen = String::from_utf8_lossy(&out.stdout).into_owned();
                let linked = |port: &String| {
                    seen.lines()
                        .skip_while(|l| l.trim() != port)
                        .nth(1)
                        .is_some_and(|l| l.contains(&format!("{BENCH_SINK}:playback_")))
                };
                if want.iter().all(linked) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(PlayoutError::Tool(format!(
            "the sound server's loopbacks never all reached {BENCH_SINK}; pw-link -l said:\n{seen}"
        )))
    }

    /// Starts recording the bench sink's monitor, `channels` channels of f32, to `path`.
    pub fn record(&self, path: &Path, channels: usize) -> Result<Recorder, PlayoutError> {
        let map: Vec<String> = (0..channels).map(|c| format!("AUX{c}")).collect();
        let child = self
            .command("pw-record")
            .args([
                "--target",
                BENCH_SINK,
                "-P",
                "{ stream.capture.sink = true }",
            ])
            .arg("--channels")
            .arg(channels.to_string())
            .arg("--channel-map")
            .arg(map.join(","))
            .args(["--format", "f32", "--rate"])
            .arg(RATE.to_string())
            .arg(path)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| PlayoutError::Tool(format!("cannot start pw-record: {e}")))?;
        Ok(Recorder {
            child,
            started: Instant::now(),
        })
    }

    /// Plays `wav` into the control sink through ALSA (`aplay`), as a box would; waits.
    pub fn play_control(&self, wav: &Path) -> Result<(), PlayoutError> {
        let out = self
            .command("aplay")
            .args(["-q", "-D", &format!("pipewire:NODE={CONTROL_SINK}")])
            .arg(wav)
            .output()
            .map_err(|e| PlayoutError::Tool(format!("cannot run aplay: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(PlayoutError::Tool(format!(
                "aplay into {CONTROL_SINK} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A running `pw-record`.
#[derive(Debug)]
pub struct Recorder {
    child: Child,
    /// When it was started: recording sample 0 is a little after this.
    pub started: Instant,
}

impl Recorder {
    /// SIGINT (pw-record then finishes the WAV header) and wait.
    pub fn stop(mut self) -> Result<(), PlayoutError> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        self.child
            .wait()
            .map_err(|e| PlayoutError::Tool(format!("pw-record: {e}")))?;
        Ok(())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Only reached without stop(): the run failed; the file is not needed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
