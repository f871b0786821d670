//! Builds the box's status once and publishes it (a watch channel) to every reader:
//! `chorus ctl status`, the screens, and anything later.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::driver::BoxRuntime;
use crate::clock::monotonic_now;
use crate::core::{Instant, SongRef};
use crate::library::SongId;
use crate::status::{Alert, AlertKind, Snapshot, Status};

/// How often the snapshot is rebuilt while nothing asks for it sooner: fresh enough for
/// a screen's clock and `ctl status`, cheap enough to cost nothing on a Pi.
pub(super) const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// The publishing side: the channel and what it remembers between snapshots.
#[derive(Debug)]
pub(super) struct Publisher {
    tx: watch::Sender<Arc<Snapshot>>,
    /// Tags of the current song, read once when it changes.
    meta: Option<(SongRef, SongMeta)>,
    /// Why the last multicast send failed, until one succeeds.
    pub(super) multicast_error: Option<String>,
    pub(super) last: Instant,
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
            multicast_error: None,
            last: Instant::ZERO,
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }
}

impl BoxRuntime {
    /// Rebuilds the snapshot and hands it to every reader.
    pub(super) fn publish(&mut self) {
        let now = monotonic_now();
        let mut status = Status::of(&self.node, now, self.local_addr.to_string());
        status.playback = self.playback_status();
        if let Some(bulk) = &self.bulk {
            let b = bulk.status.borrow();
            status.transfers.clone_from(&b.transfers);
            status.storage.clone_from(&b.storage);
        }
        status.box_volume = self.box_volume;
        let song = self
            .node
            .playback(now)
            .and_then(|v| v.state.song)
            .filter(|_| status.playback.is_some());
        let song_path = song.and_then(|s| self.song_path(&s));
        if let (Some(song), Some(playback)) = (song, status.playback.as_mut()) {
            let meta = self.song_meta(song, song_path.as_ref(), &status.transfers);
            playback.title = meta.title;
            playback.artist = meta.artist;
            playback.duration_ms = meta.duration_ms;
        }
        status.alerts = self.alerts(&status);
        self.publisher.last = now;
        self.publisher
            .tx
            .send_replace(Arc::new(Snapshot { status, song_path }));
    }

    /// The current snapshot.
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.publisher.tx.borrow().clone()
    }

    /// Tags of `song`: the music folder's index, else read once from the cached file,
    /// else the title its origin announced.
    fn song_meta(
        &mut self,
        song: SongRef,
        path: Option<&PathBuf>,
        transfers: &[crate::status::TransferStatus],
    ) -> SongMeta {
        if let Some((s, meta)) = &self.publisher.meta {
            if *s == song {
                return meta.clone();
            }
        }
        let id = SongId::from_bytes(song.0);
        let known = self.library.as_ref().and_then(|l| l.get(&id));
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
            self.publisher.meta = Some((song, meta.clone()));
        }
        meta
    }

    /// What keeps this box from doing its job, most important first.
    fn alerts(&self, status: &Status) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let output = &self.config.audio.output;
        let device_error = status.playback.as_ref().and_then(|p| p.error.clone());
        if self.player.is_none() {
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
        if let Some(e) = &self.publisher.multicast_error {
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
