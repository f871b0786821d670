//! Song-transfer messages, carried on a bulk TCP connection between two boxes of a party
//! (separate from the control stream, so control and timing never queue behind data).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::manifest::{Manifest, MAX_CHUNKS, MAX_CHUNK_SIZE};
use super::{NodeId, PartyId, SongRef};

/// Bulk-connection messages. Every box speaks first with [`Bulk::Hello`]; after that both
/// sides may send anything, in any order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bulk {
    /// Who is speaking, for which party.
    Hello { id: NodeId, party: PartyId },
    /// "Send me the manifest of `song`."
    WantManifest { song: SongRef },
    /// A song's manifest (checked with [`Manifest::validate`] before use).
    Manifest(Box<Manifest>),
    /// The sender does not know `song`.
    NoManifest { song: SongRef },
    /// The sender's whole bitfield for `song` (`chunks` bits).
    Have {
        song: SongRef,
        chunks: u32,
        bits: Vec<u8>,
    },
    /// The sender now also holds `chunk` of `song`.
    Got { song: SongRef, chunk: u32 },
    /// "Send me `chunk` of `song`."
    Request { song: SongRef, chunk: u32 },
    /// The bytes of `chunk` of `song`, to verify against the manifest.
    Chunk {
        song: SongRef,
        chunk: u32,
        data: Bytes,
    },
    /// The sender cannot serve that chunk (it does not hold it, or is busy elsewhere).
    Refuse { song: SongRef, chunk: u32 },
}

impl Bulk {
    pub(crate) fn check_limits(&self) -> Result<(), (&'static str, String)> {
        match self {
            Bulk::Manifest(m) => m.validate().map_err(|e| ("bulk.manifest", e.to_string())),
            Bulk::Have { bits, chunks, .. }
                if *chunks as usize > MAX_CHUNKS || bits.len() > MAX_CHUNKS.div_ceil(8) =>
            {
                Err(("bulk.have", format!("{chunks} chunks, limit {MAX_CHUNKS}")))
            }
            Bulk::Chunk { data, .. } if data.len() > MAX_CHUNK_SIZE as usize => Err((
                "bulk.chunk",
                format!("{} bytes, limit {MAX_CHUNK_SIZE}", data.len()),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "bulk_tests.rs"]
mod tests;
