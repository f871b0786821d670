//! Executes the core's playout decisions on the playback thread (every tick: the
//! [`crate::core::Playout`] machine's commands, with each song's file), and assembles the
//! `playback` part of the status.

use std::time::Duration;

use super::driver::BoxRuntime;
use crate::audio::player::{Player, PlayerCommand};
use crate::clock::monotonic_now;
use crate::core::playout::REANCHOR;
use crate::core::{PartyRole, PoolSong, SinkCommand, SongRef};
use crate::library::{Library, SongId};
use crate::status::{ClockStatus, PlaybackStatus};

/// How often the player is driven: every re-anchoring period of the core's playout.
pub(super) const TICK: Duration = REANCHOR;

impl BoxRuntime {
    /// Runs the core's playout machine and executes what it decides: each command goes
    /// to the player with the song's file, and a started song is reported to the
    /// transfer.
    pub(super) fn drive_player(&mut self) {
        if self.player.is_none() {
            return;
        }
        let now = monotonic_now();
        let view = self.node.playback(now);
        // The machine only asks about the schedule's current song.
        let held = view
            .and_then(|v| v.state.song)
            .filter(|s| self.song_path(s).is_some());
        let step = self
            .playout
            .update(now, view.as_ref(), |s| Some(*s) == held);
        if let (Some(bulk), Some(song)) = (&self.bulk, step.started) {
            let _ = bulk
                .commands
                .try_send(super::bulk::BulkCommand::Played(song));
        }
        for command in step.commands {
            let command = match command {
                SinkCommand::Play { song, anchor } => {
                    // The machine only plays songs this box holds; a song that vanished
                    // in between is silence until the next tick decides again.
                    let Some(path) = self.song_path(&song) else {
                        continue;
                    };
                    PlayerCommand::Play {
                        path,
                        target: anchor,
                    }
                }
                SinkCommand::Stop => PlayerCommand::Stop,
                SinkCommand::Volume(v) => PlayerCommand::Volume(v),
            };
            if let Some(player) = &self.player {
                player.send(command);
            }
        }
    }

    /// Where this box has `song`: its music folder, or the song cache.
    pub(super) fn song_path(&self, song: &SongRef) -> Option<std::path::PathBuf> {
        self.library
            .as_ref()
            .and_then(|l| l.get(&SongId::from_bytes(song.0)))
            .map(|s| s.path.clone())
            .or_else(|| self.cached.get(song).cloned())
    }

    /// The `playback` object of the status.
    pub(super) fn playback_status(&self) -> Option<PlaybackStatus> {
        let now = monotonic_now();
        let view = self.node.playback(now);
        let player = self.player.as_ref().map(Player::status);
        if view.is_none() && player.as_ref().is_none_or(|p| !p.playing) {
            return None;
        }
        let state = view.map(|v| v.state);
        let clock = view
            .and_then(|v| v.clock)
            .filter(|_| view.is_some_and(|v| v.role == PartyRole::Member));
        Some(PlaybackStatus {
            song: state
                .and_then(|s| s.song)
                .map(|s| SongId::from_bytes(s.0).to_string()),
            state: match state {
                None => "unsynced".into(),
                Some(s) if s.playing => "playing".into(),
                Some(s) if s.song.is_some() => "paused".into(),
                Some(_) => "stopped".into(),
            },
            position_ms: state
                .map(|s| (s.position_frames.max(0.0) / f64::from(s.rate.max(1)) * 1e3) as u64),
            clock: clock.map(|c| ClockStatus {
                offset_us: c.offset_ns / 1e3,
                rate_ppm: c.rate_ppm,
                error_us: c.error_ns / 1e3,
            }),
            playout_error_us: player.as_ref().and_then(|p| p.playout_error_us),
            missing_song: state
                .and_then(|s| s.song)
                .is_some_and(|s| self.song_path(&s).is_none()),
            error: player.and_then(|p| p.last_error),
            party_volume: state.map(|s| s.volume),
            title: None,
            artist: None,
            duration_ms: None,
        })
    }
}

/// The songs of `library` in `order` as the pool this box offers when it hosts, with each
/// song's rate and length read from its header (songs that fail are left out).
pub(super) fn pool_of(library: &Library, order: crate::library::Order) -> Vec<PoolSong> {
    crate::library::order(library.songs(), order)
        .into_iter()
        .take(crate::proto::MAX_POOL)
        .filter_map(|song| {
            let decoder = crate::audio::decode::Decoder::open(&song.path).ok()?;
            let info = decoder.info();
            Some(PoolSong {
                song: SongRef(*song.id.as_bytes()),
                rate: info.rate,
                frames: info.frames.unwrap_or(0),
                origin: None,
            })
        })
        .collect()
}
