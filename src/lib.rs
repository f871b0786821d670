//! chorus: Raspberry Pi speaker boxes that form one synchronized sound system, peer to peer.
//!
//! Layout (see `DESIGN.md` in the shared folder for the architecture):
//!
//! - [`clock`]: the box's monotonic clock (`CLOCK_MONOTONIC` as a [`core::Instant`]), the
//!   one clock the runtime, audio and the face read.
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
//! - [`command`]: what a person can ask a box and its answers, transport-free.
//! - [`status`]: the status snapshot, built once and published to `chorus ctl status`
//!   and the screens.
//! - [`ui`]: pure screens (view model -> any `DrawTarget`) and button presses -> commands.
//! - [`hal`]: buttons and display backends (`rpi`, `mock`) and the task that runs them.

pub mod audio;
pub mod bench;
pub mod clock;
pub mod command;
pub mod config;
pub mod core;
pub mod hal;
pub mod identity;
pub mod library;
pub mod net;
pub mod proto;
pub mod sim;
pub mod status;
pub mod ui;
