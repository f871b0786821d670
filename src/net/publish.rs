//! Builds the box's status once and publishes it (a watch channel) to every reader:
//! `chorus ctl status`, the screens, and anything later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::bulk::BulkStatus;
use super::playout::PlayoutExec;
use super::songs::Songs;
use crate::audio::player::PlayerStatus;
use crate::core::{Instant, Node, PartyRole, PlaybackView, SongRef};
use crate::library::SongId;
use crate::status::{Alert, AlertKind, ClockStatus, PlaybackStatus, Snapshot, Status};

/// How often the snapshot is rebuilt while nothing asks for it sooner: fresh enough for
/// a screen's clock and `ctl status`, cheap enough to cost nothing on a Pi.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// The publishing side: the channel and what it remembers between snapshots.
#[derive(Debug)]
pub(super) struct Publisher {
    tx: watch::Sender<Arc<Snapshot>>,
    /// Tags of the current song, read once when it changes.
    meta: Option<(SongRef, SongMeta)>,
    last: Instant,
}

/// Everything a snapshot is built from, borrowed for one build.
#[derive(Debug)]
pub(super) struct Sources<'a> {
    pub node: &'a Node,
    pub local_addr: SocketAddr,
    pub output: &'a PlayoutExec,
    pub songs: &'a Songs,
    pub transfers: Option<&'a watch::Receiver<BulkStatus>>,
    /// Why beacons cannot be sent, while they cannot.
    pub multicast_error: Option<&'a str>,
    /// The configured audio output, for the hint of an alert.
    pub audio_output: &'a str,
    /// Why chorus.txt from the boot partition was not applied at this start.
    pub settings_error: Option<&'a str>,
    pub sessions: &'a super::noise::SessionStats,
    /// Whether this box has a party key.
    pub keyed: bool,
    /// Datagrams dropped for the wrong party key (or none).
    pub wrong_key: u64,
    /// The entries skipped by the playlist this box chose when it last hosted.
    pub playlist_skipped: &'a [crate::library::playlist::Skipped],
}

#[derive(Debug, Clone, Default)]
struct SongMeta {
    title: Option<String>,
    artist: Option<String>,
    duration_ms: Option<u64>,
}

impl Publisher {
    pub(super) fn new(first: Status) -> Self {
        let (tx, _) = watch::channel(Arc::new(Snapshot {
            status: first,
            song_path: None,
        }));
        Publisher {
            tx,
            meta: None,
            last: Instant::ZERO,
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    /// Whether the last snapshot is old enough to be rebuilt.
    pub(super) fn due(&self, now: Instant) -> bool {
        now - self.last >= PUBLISH_EVERY
    }

    /// Rebuilds the snapshot at `now` and hands it to every reader.
    pub(super) fn publish(&mut self, now: Instant, from: &Sources<'_>) {
        let mut status = Status::of(from.node, now, from.local_addr.to_string());
        status.sessions = from.sessions.snapshot();
        status.keyed = from.keyed;
        status.counters.wrong_key = from.wrong_key;
        let view = from.node.playback(now);
        status.playback = playback_status(view, from.output.player_status(), from.songs);
        if let Some(transfers) = from.transfers {
            let b = transfers.borrow();
            status.transfers.clone_from(&b.transfers);
            status.storage.clone_from(&b.storage);
        }
        status.box_volume = from.output.box_volume();
        let host = status
            .party
            .as_ref()
            .is_some_and(|p| p.role == PartyRole::Host);
        if let (true, Some(playlist)) = (host, status.playlist.as_mut()) {
            playlist.skipped = from.playlist_skipped.to_vec();
        }
        let song = view
            .and_then(|v| v.state.song)
            .filter(|_| status.playback.is_some());
        let song_path = song.and_then(|s| from.songs.path(&s));
        if let (Some(song), Some(playback)) = (song, status.playback.as_mut()) {
            let meta = self.song_meta(from.songs, song, song_path.as_ref(), &status.transfers);
            playback.title = meta.title;
            playback.artist = meta.artist;
            playback.duration_ms = meta.duration_ms;
        }
        status.alerts = alerts(&status, from);
        self.last = now;
        self.tx
            .send_replace(Arc::new(Snapshot { status, song_path }));
    }

    /// The current snapshot.
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Tags of `song`: the music folder's index, else read once from the cached file,
    /// else the title its origin announced.
    fn song_meta(
        &mut self,
        songs: &Songs,
        song: SongRef,
        path: Option<&PathBuf>,
        transfers: &[crate::status::TransferStatus],
    ) -> SongMeta {
        if let Some((s, meta)) = &self.meta {
            if *s == song {
                return meta.clone();
            }
        }
        let id = SongId::from_bytes(song.0);
        let known = songs.library().and_then(|l| l.get(&id));
        let meta = match (known, path) {
            (Some(s), _) => SongMeta {
                title: Some(s.title.clone()),
                artist: s.artist.clone(),
                duration_ms: s.duration_ms,
            },
            (None, Some(path)) => {
                let probed = crate::library::probe::probe(path).unwrap_or_default();
                SongMeta {
                    title: probed.title,
                    artist: probed.artist,
                    duration_ms: probed.duration_ms,
                }
            }
            (None, None) => SongMeta::default(),
        };
        let announced = || {
            let hex = id.to_string();
            transfers
                .iter()
                .find(|t| t.song == hex)
                .map(|t| t.title.clone())
        };
        let meta = SongMeta {
            title: meta.title.or_else(announced),
            ..meta
        };
        // Only remember what came from the file: a song still downloading is read again
        // once it is complete.
        if path.is_some() {
            self.meta = Some((song, meta.clone()));
        }
        meta
    }
}

/// The `playback` object of the status: the schedule this box follows and what its
/// player reports (none while neither has anything to say).
fn playback_status(
    view: Option<PlaybackView>,
    player: Option<PlayerStatus>,
    songs: &Songs,
) -> Option<PlaybackStatus> {
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
        reseeks: player.as_ref().map(|p| p.reseeks),
        decoder_late: player.as_ref().map(|p| p.decoder_late),
        realtime: player.as_ref().map(|p| p.realtime),
        position_jitter_us: player.as_ref().map(|p| p.position_jitter_us),
        device_rate_ppm: player.as_ref().map(|p| p.device_rate_ppm),
        missing_song: state
            .and_then(|s| s.song)
            .is_some_and(|s| songs.path(&s).is_none()),
        error: player.and_then(|p| p.last_error),
        party_volume: state.map(|s| s.volume),
        title: None,
        artist: None,
        duration_ms: None,
    })
}

/// What keeps this box from doing its job, most important first.
fn alerts(status: &Status, from: &Sources<'_>) -> Vec<Alert> {
    let mut alerts = Vec::new();
    // First: a bad settings file can be the cause of the other alerts (no Wi-Fi).
    if let Some(e) = from.settings_error {
        alerts.push(Alert {
            kind: AlertKind::BadSettings,
            message: "Bad chorus.txt".into(),
            hint: short(e),
        });
    }
    let output = from.audio_output;
    let device_error = status.playback.as_ref().and_then(|p| p.error.clone());
    if !from.output.has_player() {
        alerts.push(Alert {
            kind: AlertKind::NoAudio,
            message: "No audio device".into(),
            hint: format!("check audio.output ({output}) and the DAC"),
        });
    } else if let Some(e) = device_error.as_ref().filter(|e| e.contains("audio device")) {
        alerts.push(Alert {
            kind: AlertKind::NoAudio,
            message: "Audio device lost".into(),
            hint: short(e),
        });
    }
    if let Some(e) = status.storage.as_ref().and_then(|s| s.error.as_ref()) {
        alerts.push(Alert {
            kind: AlertKind::DiskFull,
            message: "Song storage full".into(),
            hint: format!("free space or raise songs.cache_quota_mb ({})", short(e)),
        });
    }
    if let Some(e) = device_error.filter(|e| !e.contains("audio device")) {
        alerts.push(Alert {
            kind: AlertKind::CorruptSong,
            message: "Song skipped: cannot decode".into(),
            hint: short(&e),
        });
    }
    if let Some(e) = from.multicast_error {
        alerts.push(Alert {
            kind: AlertKind::NoNetwork,
            message: "No network".into(),
            hint: format!(
                "connect Wi-Fi or Ethernet, or set static peers ({})",
                short(e)
            ),
        });
    }
    alerts
}

/// An error message cut to what fits a line of the screen or a status field.
fn short(message: &str) -> String {
    const MAX: usize = 120;
    if message.chars().count() <= MAX {
        return message.to_owned();
    }
    let mut cut: String = message.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}
