//! The player's handle: commands to the playback thread and the status it publishes.
//!
//! Two threads play a song. The decoding thread ([`super::feed`]) opens, seeks and
//! decodes into a lock-free ring; the playback thread ([`super::engine`]) resamples,
//! applies gain and writes to the sink, keeping the DAC on the local-time target the
//! driver sets. The playback thread runs SCHED_FIFO where allowed and, once a song plays,
//! neither allocates nor waits on a lock another thread holds.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub use super::orders::{LocalTarget, PlayerCommand, PlayerStatus};

use super::engine::Engine;
use super::realtime::{promote_current_thread, Scheduling};
use super::Sink;

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
