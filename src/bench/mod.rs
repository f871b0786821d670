//! Benchmarks that run in a deterministic simulation (seeded, virtual time), so their
//! numbers are exact and repeatable; the CLI prints them (`chorus bench …`).

pub mod sync;
