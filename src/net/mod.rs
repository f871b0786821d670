//! The tokio + socket2 runtime: real sockets, real time and the control socket around a
//! [`crate::core::Node`]. The driver's loop hands each of the core's actions to the part
//! that carries it out: `sockets` (datagrams), `streams` (control streams), `playout`
//! (the player), `commands` (requests and their answers), `playlists` (what HOST
//! offers), `publish` (the status),
//! `persist` (the state dir) and the song-transfer manager; `admission` decides which
//! inbound connections get a handshake, `noise` authenticates every TCP connection,
//! `sealing` puts the party key (if any) on every datagram and `clones` handles two
//! boxes holding one key.

mod admission;
mod bulk;
mod clones;
mod commands;
pub mod control;
mod driver;
pub mod noise;
mod persist;
mod playlists;
mod playout;
mod publish;
mod rxstamp;
mod sealing;
mod session_codec;
mod setup;
mod sockets;
mod songs;
mod streams;

pub use control::{ControlError, CONTROL_SOCKET};
pub use driver::BoxRuntime;
pub use setup::RunError;
