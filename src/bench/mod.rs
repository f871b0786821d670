//! Benchmarks whose numbers go into BENCHMARKS.md; the CLI prints them (`chorus bench …`).
//! `sync` runs in a deterministic simulation (seeded, virtual time, exact and
//! repeatable), and so does `party` (the playback invariant over many seeds);
//! `distribute` runs real boxes and measures wall time; `playout` records real boxes
//! playing through ALSA into one PipeWire sink and cross-correlates them.

pub mod distribute;
pub mod party;
pub mod playout;
pub mod sync;
