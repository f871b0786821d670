//! The transfer manager's `transfers` and `storage` status.

use super::manager::Manager;
use super::progress::eta_ms;
use super::BulkStatus;
use crate::clock::monotonic_now;
use crate::core::{Instant, SongRef};
use crate::status::{StorageStatus, TransferStatus};

impl Manager {
    pub(super) fn status(&self) -> BulkStatus {
        let now = monotonic_now();
        let transfers = self
            .window()
            .iter()
            .map(|(song, _)| self.transfer_status(now, song))
            .collect();
        let storage = self.disk.cache.lock().ok().map(|c| {
            let u = c.usage();
            StorageStatus {
                used_bytes: u.used,
                quota_bytes: u.quota,
                songs: u.songs,
                error: self.storage_error.clone(),
                corrupt_chunks: self.corrupt,
            }
        });
        BulkStatus { transfers, storage }
    }

    pub(super) fn transfer_status(&self, now: Instant, song: &SongRef) -> TransferStatus {
        let m = self.manifests.get(song);
        let size = m.map_or(0, |m| m.size);
        let whole = self.holds_whole(song).is_some();
        let bytes = if whole {
            size
        } else {
            self.swarm.progress(song).map_or(0, |p| p.bytes_held)
        };
        let rate = self.rates.rate(now, song);
        let error = self.failed.get(song).map(|(_, e)| e.clone());
        let state = match (m, whole || (size > 0 && bytes >= size), &error) {
            (_, true, _) => "complete",
            (_, _, Some(_)) => "failed",
            (None, _, _) => "manifest",
            (Some(_), _, _) => "fetching",
        };
        TransferStatus {
            song: crate::library::SongId::from_bytes(song.0).to_string(),
            title: m.map(|m| m.title.clone()).unwrap_or_default(),
            bytes,
            size,
            rate_bps: rate,
            received_bytes: self.received.get(song).copied().unwrap_or(0),
            eta_ms: (state == "fetching")
                .then(|| eta_ms(size.saturating_sub(bytes), rate))
                .flatten(),
            state: state.into(),
            sources: self.peers.keys().filter(|_| m.is_some()).count(),
            error,
        }
    }
}
