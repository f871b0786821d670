//! The player's handle: commands to the playback thread and the status it publishes.
//!
//! Two threads play a song. The decoding thread ([`super::feed`]) opens, seeks and
//! decodes into a lock-free ring; the playback thread ([`super::engine`]) resamples,
//! applies gain and writes to the sink, keeping the DAC on the local-time target the
//! driver sets. The playback thread runs SCHED_FIFO where allowed and, once a song plays,
//! neither allocates nor waits on a lock another thread holds.

use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::engine::Engine;
use super::realtime::{promote_current_thread, Scheduling};
use super::Sink;

/// Where in a song the schedule wants to be: the core's [`crate::core::Anchor`]. The
/// driver re-anchors it often (the clock estimate moves), and the controller absorbs the
/// steps.
pub type LocalTarget = crate::core::Anchor;

/// What the driver asks of the player.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCommand {
    /// Play `path` on `target`; a different path replaces the current song.
    Play { path: PathBuf, target: LocalTarget },
    /// Silence: stop the song (the device keeps running, so timing stays continuous).
    Stop,
    /// The party volume, 0 to 100, scheduled by the host for every box.
    Volume(u8),
    /// This box's own volume, 0 to 100, on top of the party volume.
    BoxVolume(u8),
}

/// What the player is doing, for status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayerStatus {
    pub song: Option<PathBuf>,
    pub playing: bool,
    /// Song position audible now, in milliseconds.
    pub position_ms: u64,
    /// Last measured distance from the schedule, in microseconds (positive: ahead).
    pub playout_error_us: Option<f64>,
    pub steering_ppm: f64,
    pub reseeks: u64,
    /// The last error that stopped a song (a corrupt file, a lost device).
    pub last_error: Option<String>,
    /// Whether the playback thread got real-time scheduling.
    pub realtime: bool,
    /// How long after a command a new song can be heard, in microseconds: the audio
    /// queued in the sink plus a block. A start scheduled closer than this comes in late.
    pub latency_us: u64,
}

/// The driver's handle; dropping it stops the thread.
#[derive(Debug)]
pub struct Player {
    commands: Option<Sender<PlayerCommand>>,
    status: Arc<Mutex<PlayerStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    /// Starts the playback thread on `sink`.
    pub fn spawn(sink: Box<dyn Sink>) -> std::io::Result<Player> {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(PlayerStatus::default()));
        let shared = Arc::clone(&status);
        let thread = std::thread::Builder::new()
            .name("chorus-player".into())
            .spawn(move || {
                let realtime = promote_current_thread() != Scheduling::Normal;
                match Engine::new(sink, shared, realtime) {
                    Ok(engine) => engine.run(rx),
                    Err(e) => tracing::error!(error = %e, "cannot start the decoding thread"),
                }
            })?;
        Ok(Player {
            commands: Some(tx),
            status,
            thread: Some(thread),
        })
    }

    /// Sends a command; false if the thread has stopped.
    pub fn send(&self, command: PlayerCommand) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|c| c.send(command).is_ok())
    }

    pub fn status(&self) -> PlayerStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
