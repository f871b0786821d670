//! chorus: Raspberry Pi speaker boxes that form one synchronized sound system, peer to peer.
//!
//! Layout (see `DESIGN.md` in the shared folder for the architecture):
//!
//! - [`proto`]: wire messages (serde + postcard), datagram and stream framing, limits.
//! - [`core`]: sans-IO state machines fed with `(event, now)`; they own no sockets,
//!   threads, clocks or files.
//! - [`net`]: the tokio + socket2 runtime that drives a [`core::Node`] with real sockets.
//! - [`sim`]: a deterministic simulator that drives many [`core::Node`]s with virtual time
//!   and a lossy network.
//! - [`audio`]: decode -> resample -> gain -> sink (ALSA, WAV, null, simulated DAC) and the
//!   playout controller.
//! - [`bench`]: benchmarks in the deterministic simulation (`chorus bench …`).
//! - [`config`]: the TOML configuration with defaults and validation.
//! - [`library`]: the music folder scan, songs named by the BLAKE3 hash of their bytes, and
//!   the cache of songs fetched from peers.
//! - [`status`]: the status snapshot served to `chorus ctl status`.

pub mod audio;
pub mod bench;
pub mod config;
pub mod core;
pub mod identity;
pub mod library;
pub mod net;
pub mod proto;
pub mod sim;
pub mod status;
