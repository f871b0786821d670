//! Benchmarks whose numbers go into BENCHMARKS.md; the CLI prints them (`chorus bench …`).
//! `sync` runs in a deterministic simulation (seeded, virtual time, exact and
//! repeatable), and so do `party` (the playback invariant over many seeds) and `soak`
//! (one party for hours with churn);
//! `distribute` runs real boxes and measures wall time; `playout` records real boxes
//! playing through ALSA into one PipeWire sink and cross-correlates them; `handshake`
//! times what the party key costs the CPU (handshakes, key derivation, sealing).

pub mod distribute;
pub mod handshake;
pub mod party;
pub mod playout;
mod procstat;
pub mod soak;
pub mod sync;
