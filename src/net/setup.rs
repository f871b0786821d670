//! What a box opens as it starts, beside its sockets: the audio output with its playback
//! thread, and the scan of the music folder.

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::config::Config;

/// Opens the configured audio output and starts the playback thread on it. A box whose
/// output cannot open still takes part in parties (silently), and says why.
pub(super) fn open_player(config: &Config) -> Option<crate::audio::player::Player> {
    let spec = match config.audio.output.parse::<crate::audio::SinkSpec>() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no audio output");
            return None;
        }
    };
    let sink = match crate::audio::open(&spec) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(output = %spec, error = %e, "cannot open the audio output; playing silently");
            return None;
        }
    };
    match crate::audio::player::Player::spawn(sink) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the playback thread");
            None
        }
    }
}

/// Scans the music folder on a blocking thread (hashing takes a while on a Pi).
pub(super) fn scan_library(
    config: &Config,
    tracker: &TaskTracker,
) -> mpsc::Receiver<(crate::library::Library, Vec<crate::core::PoolSong>)> {
    let (music, state) = (config.music_dir.clone(), config.state_dir.clone());
    let order = match config.songs.order {
        crate::config::SongOrder::Folder => crate::library::Order::Folder,
        crate::config::SongOrder::Shuffle => crate::library::Order::Shuffle {
            seed: rand::random(),
        },
    };
    let (tx, rx) = mpsc::channel(1);
    tracker.spawn_blocking(move || {
        let mut library = match crate::library::Library::open(&music, &state) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "no music library");
                return;
            }
        };
        match library.scan() {
            Ok(report) => tracing::info!(
                songs = report.songs,
                hashed = report.hashed,
                skipped = report.skipped.len(),
                music = %music.display(),
                "music library scanned"
            ),
            Err(e) => tracing::warn!(error = %e, "music folder not scanned"),
        }
        let pool = super::playout::pool_of(&library, order);
        let _ = tx.blocking_send((library, pool));
    });
    rx
}
