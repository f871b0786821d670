//! The bench's boxes: real `chorus run` processes on loopback, each playing through ALSA
//! into its own sink of the bench's sound server, driven through `chorus ctl`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{box_device, SoundServer};
use super::PlayoutError;
use crate::status::Status;

/// The systemd unit's `Nice=`: the boxes run at it when this user may raise priority.
pub const NICE: i32 = -5;

/// One started box.
#[derive(Debug)]
pub struct BoxProc {
    pub name: String,
    pub state: PathBuf,
    /// Its stderr (warnings: underruns are logged there).
    pub log: PathBuf,
    child: Option<Child>,
}

/// Every box of the run, SIGKILLed when dropped.
#[derive(Debug)]
pub struct Boxes {
    exe: PathBuf,
    pub boxes: Vec<BoxProc>,
}

impl Boxes {
    /// Starts `count` boxes under `dir`, box k playing into `chorus-boxK`; only the last
    /// (the host) has music, in `music`.
    pub fn start(
        exe: &Path,
        server: &SoundServer,
        dir: &Path,
        count: usize,
        music: &Path,
    ) -> Result<Self, PlayoutError> {
        // A multicast port no concurrent run (or test) of another process shares.
        let port = 20_000 + (std::process::id() % 30_000) as u16;
        let mut all = Boxes {
            exe: exe.to_path_buf(),
            boxes: Vec::new(),
        };
        for k in 1..=count {
            let name = format!("box{k}");
            let state = dir.join(&name);
            let own_music = if k == count {
                music.to_path_buf()
            } else {
                dir.join(format!("{name}-music"))
            };
            for d in [&state, &own_music] {
                std::fs::create_dir_all(d).map_err(|e| PlayoutError::io(d, e))?;
            }
            let config = dir.join(format!("{name}.toml"));
            let text = format!(
                "music_dir = {:?}\nstate_dir = {:?}\n[audio]\noutput = \"alsa:{}\"\n\
                 [party]\ncontrol_port = 0\nautoplay = false\n\
                 [discovery]\nport = {port}\nunicast_port = 0\n[songs]\nbulk_port = 0\n",
                own_music.display().to_string(),
                state.display().to_string(),
                box_device(k),
            );
            std::fs::write(&config, text).map_err(|e| PlayoutError::io(&config, e))?;
            let log = dir.join(format!("{name}.log"));
            let err = std::fs::File::create(&log).map_err(|e| PlayoutError::io(&log, e))?;
            // Scheduled as the systemd unit schedules a box (Nice=-5; its playback
            // thread's SCHED_FIFO comes from the box itself), where this user may.
            let child = Command::new("nice")
                .args(["-n", &NICE.to_string()])
                .arg(exe)
                .args([
                    "run",
                    "--name",
                    &name,
                    "--interface",
                    "127.0.0.1",
                    "--config",
                ])
                .arg(&config)
                .envs(server.env())
                // CHORUS_BENCH_LOG=debug shows what the boxes do when a run fails.
                .env(
                    "CHORUS_LOG",
                    std::env::var("CHORUS_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .map_err(|e| PlayoutError::io(exe, e))?;
            all.boxes.push(BoxProc {
                name,
                state,
                log,
                child: Some(child),
            });
        }
        Ok(all)
    }

    /// Runs `chorus ctl ARGS` against box `i`; its stdout on success.
    pub fn ctl(&self, i: usize, args: &[&str]) -> Result<String, PlayoutError> {
        let b = self
            .boxes
            .get(i)
            .ok_or_else(|| PlayoutError::Box(format!("no box {i}")))?;
        let out = Command::new(&self.exe)
            .arg("ctl")
            .args(args)
            .arg("--state-dir")
            .arg(&b.state)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| PlayoutError::io(&self.exe, e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(PlayoutError::Box(format!(
                "{}: ctl {} failed: {}",
                b.name,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Box `i`'s status, if it answers.
    pub fn status(&self, i: usize) -> Option<Status> {
        let text = self.ctl(i, &["status", "--json"]).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Polls until `done` holds for every box in `which`; fails with `what` after
    /// `limit` or when a box exited.
    pub fn wait_all(
        &mut self,
        which: std::ops::Range<usize>,
        limit: Duration,
        what: &str,
        done: impl Fn(&Status) -> bool,
    ) -> Result<(), PlayoutError> {
        let start = Instant::now();
        loop {
            if which
                .clone()
                .all(|i| self.status(i).is_some_and(|s| done(&s)))
            {
                return Ok(());
            }
            self.check_alive()?;
            if start.elapsed() > limit {
                return Err(PlayoutError::Box(format!(
                    "{what}: not within {} s (box logs: CHORUS_BENCH_LOG=debug)",
                    limit.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fails if a box that was not killed on purpose exited, or the run was interrupted.
    pub fn check_alive(&mut self) -> Result<(), PlayoutError> {
        if super::interrupted() {
            return Err(PlayoutError::Interrupted);
        }
        for b in &mut self.boxes {
            if let Some(child) = b.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
                    return Err(PlayoutError::Box(format!(
                        "{} exited ({status}): {}",
                        b.name,
                        log.lines().last().unwrap_or("")
                    )));
                }
            }
        }
        Ok(())
    }

    /// SIGKILL box `i`: it gets no chance to say goodbye.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.boxes.get_mut(i).and_then(|b| b.child.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Per box: its process id while it runs.
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.boxes
            .iter()
            .map(|b| b.child.as_ref().map(Child::id))
            .collect()
    }

    /// Box 1's nice value as its process runs (`None`: not known).
    pub fn nice(&self) -> Option<i32> {
        crate::bench::procstat::nice(self.boxes.first()?.child.as_ref()?.id())
    }

    /// Per box: how many ALSA underruns it logged.
    pub fn underruns(&self) -> Vec<u64> {
        self.boxes
            .iter()
            .map(|b| {
                let log = std::fs::read_to_string(&b.log).unwrap_or_default();
                log.lines().filter(|l| l.contains("underrun")).count() as u64
            })
            .collect()
    }
}

impl Drop for Boxes {
    fn drop(&mut self) {
        for i in 0..self.boxes.len() {
            self.kill(i);
        }
    }
}
