//! The `transfers` and `storage` status, from the transfer machine's report and the
//! cache's usage.

use super::disk::Disk;
use super::BulkStatus;
use crate::core::transfer::Transfer;
use crate::core::Instant;
use crate::status::{StorageStatus, TransferStatus};

pub(super) fn status(machine: &Transfer, disk: &Disk, now: Instant) -> BulkStatus {
    let transfers = machine
        .report(now)
        .into_iter()
        .map(|r| TransferStatus {
            song: crate::library::SongId::from_bytes(r.song.0).to_string(),
            title: r.title,
            bytes: r.bytes,
            size: r.size,
            rate_bps: r.rate_bps,
            received_bytes: r.received_bytes,
            eta_ms: r.eta_ms,
            state: r.state.as_str().into(),
            sources: r.sources,
            error: r.error,
        })
        .collect();
    let storage = disk.cache.lock().ok().map(|c| {
        let u = c.usage();
        StorageStatus {
            used_bytes: u.used,
            quota_bytes: u.quota,
            songs: u.songs,
            error: machine.storage_error().map(str::to_owned),
            corrupt_chunks: machine.corrupt_chunks(),
        }
    });
    BulkStatus { transfers, storage }
}
