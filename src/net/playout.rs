//! Keeps the playback thread on the party schedule: every tick, what should be audible
//! now (from the core) becomes a local-time target for the player.

use std::time::Duration;

use super::driver::BoxRuntime;
use crate::audio::player::{LocalTarget, Player, PlayerCommand};
use crate::clock::monotonic_now;
use crate::core::{PartyRole, PoolSong, SongRef};
use crate::library::{Library, SongId};
use crate::status::{ClockStatus, PlaybackStatus};

/// How often the target is re-anchored: the party clock and ours differ by up to
/// ±200 ppm, so 50 ms between anchors leaves at most 10 µs for the controller to absorb.
pub(super) const TICK: Duration = Duration::from_millis(50);

/// What the driver last told the player, so it only speaks on change (and re-anchors).
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct PlayerMemory {
    playing: Option<SongRef>,
    volume: Option<u8>,
}

impl BoxRuntime {
    pub(super) fn drive_player(&mut self) {
        let Some(player) = &self.player else { return };
        let now = monotonic_now();
        let view = self.node.playback(now);
        let state = view.map(|v| v.state).filter(|s| s.playing);
        let song = state.and_then(|s| s.song);
        let path = song.and_then(|s| self.song_path(&s));
        match (state, path) {
            (Some(s), Some(path)) => {
                let target = LocalTarget {
                    song_seconds: s.position_frames / f64::from(s.rate.max(1)),
                    at: now,
                };
                player.send(PlayerCommand::Play { path, target });
                if self.player_memory.playing != song {
                    if let (Some(bulk), Some(s)) = (&self.bulk, song) {
                        let _ = bulk.commands.try_send(super::bulk::BulkCommand::Played(s));
                    }
                }
                self.player_memory.playing = song;
            }
            // Paused, stopped, not yet in step, or a song this box lacks: stay silent,
            // and come in at the right position as soon as that changes.
            _ => {
                if self.player_memory.playing.take().is_some() {
                    player.send(PlayerCommand::Stop);
                }
            }
        }
        if let Some(v) = view {
            if self.player_memory.volume != Some(v.state.volume) {
                player.send(PlayerCommand::Volume(v.state.volume));
                self.player_memory.volume = Some(v.state.volume);
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
