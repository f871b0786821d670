//! Executes the core's playout decisions on the playback thread: every tick, the
//! [`crate::core::Playout`] machine's commands go to the player with each song's file.
//! Also carries this box's own volume to the player and the state dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::persist;
use super::songs::Songs;
use crate::audio::player::{Player, PlayerCommand, PlayerStatus};
use crate::core::playout::REANCHOR;
use crate::core::{Instant, PlaybackView, Playout, SinkCommand, SongRef};

/// How often the player is driven: every re-anchoring period of the core's playout.
pub(super) const TICK: Duration = REANCHOR;

/// The box's audio output: the playback thread, if the output opened, and what the
/// core's playout machine last told it.
#[derive(Debug)]
pub(super) struct PlayoutExec {
    player: Option<Player>,
    playout: Playout,
    /// When the schedule next changes (a start, a skip, a song's end), if soon: the
    /// driver runs the playout step then, not at the next tick.
    next_change: Option<Instant>,
    /// This box's own volume, 0 to 100 (kept in the state dir).
    box_volume: u8,
    state_dir: PathBuf,
}

impl PlayoutExec {
    /// Drives `player` at the box volume remembered in `state_dir`.
    pub(super) fn new(player: Option<Player>, state_dir: &Path) -> Self {
        let box_volume = persist::load_box_volume(state_dir);
        if let Some(p) = &player {
            p.send(PlayerCommand::BoxVolume(box_volume));
        }
        PlayoutExec {
            player,
            playout: Playout::default(),
            next_change: None,
            box_volume,
            state_dir: state_dir.to_path_buf(),
        }
    }

    /// Runs the core's playout machine on `view` and sends what it decides to the
    /// player, each song with its file. Returns the song that started, if one did.
    pub(super) fn tick(
        &mut self,
        now: Instant,
        view: Option<PlaybackView>,
        songs: &Songs,
    ) -> Option<SongRef> {
        let player = self.player.as_ref()?;
        self.next_change = view
            .as_ref()
            .and_then(|v| v.upcoming)
            .map(|(at, _)| at)
            .filter(|&at| at > now);
        let step = self
            .playout
            .update(now, view.as_ref(), |s| songs.path(s).is_some());
        for command in step.commands {
            let command = match command {
                SinkCommand::Play { song, anchor } => {
                    // The machine only plays songs this box holds; a song that vanished
                    // in between is silence until the next tick decides again.
                    let Some(path) = songs.path(&song) else {
                        continue;
                    };
                    PlayerCommand::Play {
                        path,
                        target: anchor,
                    }
                }
                SinkCommand::Next { song, anchor } => {
                    let Some(path) = songs.path(&song) else {
                        continue;
                    };
                    PlayerCommand::Next {
                        path,
                        target: anchor,
                    }
                }
                SinkCommand::CancelNext => PlayerCommand::CancelNext,
                SinkCommand::Stop => PlayerCommand::Stop,
                SinkCommand::Volume(v) => PlayerCommand::Volume(v),
            };
            player.send(command);
        }
        step.started
    }

    /// How long the player takes to make a new song audible (zero without a player).
    pub(super) fn latency(&self) -> Duration {
        let us = self.player.as_ref().map_or(0, |p| p.status().latency_us);
        Duration::from_micros(us)
    }

    /// When the schedule next changes, if within the look-ahead.
    pub(super) fn next_change(&self) -> Option<Instant> {
        self.next_change
    }

    /// Sets this box's own volume, for the player and for the next start.
    pub(super) fn set_box_volume(&mut self, percent: u8) {
        self.box_volume = percent;
        if let Some(p) = &self.player {
            p.send(PlayerCommand::BoxVolume(percent));
        }
        if let Err(e) = persist::store_box_volume(&self.state_dir, percent) {
            tracing::warn!(error = %e, "cannot remember the box volume in the state dir");
        }
    }

    pub(super) fn box_volume(&self) -> u8 {
        self.box_volume
    }

    /// Whether the audio output opened.
    pub(super) fn has_player(&self) -> bool {
        self.player.is_some()
    }

    /// What the playback thread reports, if there is one.
    pub(super) fn player_status(&self) -> Option<PlayerStatus> {
        self.player.as_ref().map(Player::status)
    }
}
