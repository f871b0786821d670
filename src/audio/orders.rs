//! What the driver tells the player and what the player reports back: the messages
//! between the runtime and the playback thread.

use std::path::PathBuf;

/// Where in a song the schedule wants to be: the core's [`crate::core::Anchor`]. The
/// driver re-anchors it often (the clock estimate moves), and the controller absorbs the
/// steps.
pub type LocalTarget = crate::core::Anchor;

/// What the driver asks of the player.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCommand {
    /// Play `path` on `target`; a different path replaces the current song.
    Play { path: PathBuf, target: LocalTarget },
    /// While the current song plays: open `path` now and from `target.at` on play it
    /// instead, handing over on the frame (a song's end or a skip).
    Next { path: PathBuf, target: LocalTarget },
    /// The song told by `Next` is not coming after all.
    CancelNext,
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
    /// Blocks the decoder had not filled in time (a CPU too slow or too busy for the
    /// song's format): each is heard as a short gap and is usually followed by a re-seek.
    pub decoder_late: u64,
    /// Songs opened so far: a song the schedule still names after it ended or failed is
    /// not opened again, so this counts songs, not the driver's asks.
    pub opened: u64,
    /// The last error that stopped a song (a corrupt file, a lost device).
    pub last_error: Option<String>,
    /// Whether the playback thread got real-time scheduling.
    pub realtime: bool,
    /// How long after a command a new song can be heard, in microseconds: the audio
    /// queued in the sink plus a block. A start scheduled closer than this comes in late.
    pub latency_us: u64,
    /// How far the sink's timing readings scatter around the filtered device position,
    /// RMS in microseconds (a sound server's plugin: tens to hundreds; a DMA: its burst).
    pub position_jitter_us: f64,
    /// The device's rate against nominal as measured on the local clock, ppm.
    pub device_rate_ppm: f64,
}
