//! The tokio + socket2 runtime: real sockets, real time and the control socket around a
//! [`crate::core::Node`].

mod bulk;
mod commands;
pub mod control;
mod driver;
mod persist;
mod playout;
mod publish;
mod rxstamp;
mod setup;
mod sockets;
mod streams;

pub use control::{ControlError, CONTROL_SOCKET};
pub use driver::{BoxRuntime, RunError};
