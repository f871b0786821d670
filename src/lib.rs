//! chorus: Raspberry Pi speaker boxes that form one synchronized sound system, peer to peer.
//!
//! Layout, from the top down: a module uses only the ones listed below it.
//!
//! - [`bench`]: benchmarks (`chorus bench …`): the deterministic simulation, real ALSA
//!   recorded through a sound server, real processes in network namespaces.
//! - [`net`]: the tokio + socket2 runtime that drives a [`core::Node`] with real sockets.
//! - [`config`]: the TOML configuration with defaults and validation, and `chorus.txt`
//!   from the boot partition applied to it.
//! - [`hal`]: buttons and display backends (`rpi`, `mock`) and the task that runs them.
//! - [`ui`]: pure screens (view model -> any `DrawTarget`) and button presses -> commands.
//! - [`command`]: what a person can ask a box and its answers, transport-free.
//! - [`sim`]: a deterministic simulator that drives many [`core::Node`]s with virtual time
//!   and a lossy network.
//! - [`status`]: the status snapshot, built once and published to `chorus ctl status`
//!   and the screens.
//! - [`audio`]: decode -> resample -> gain -> sink (ALSA, WAV, null, simulated DAC) and the
//!   playout controller.
//! - [`library`]: the music folder scan, songs named by the BLAKE3 hash of their bytes, and
//!   the cache of songs fetched from peers.
//! - [`identity`]: the box's key, made once and kept in the state folder, and the id
//!   derived from it.
//! - [`party_key`]: the optional shared secret of a keyed party and the keys derived
//!   from it (sealed datagrams, the sessions' pre-shared key).
//! - [`clock`]: the box's monotonic clock (`CLOCK_MONOTONIC` as a [`core::Instant`]), the
//!   one clock the runtime, audio and the face read.
//! - [`core`]: sans-IO state machines fed with `(event, now)`; they own no sockets,
//!   threads, clocks or files.
//! - [`proto`]: wire messages and identifiers (serde + postcard), datagram and stream
//!   framing, limits.

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
pub mod party_key;
pub mod proto;
pub mod sim;
pub mod status;
pub mod ui;
