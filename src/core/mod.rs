//! Sans-IO protocol core: state machines fed with `(event, now)` that return actions.
//!
//! Nothing here owns a socket, a thread, a clock or a file. The runtime in [`crate::net`]
//! and the simulator in [`crate::sim`] drive the same [`Node`]: they hand it datagrams and
//! timeouts, then drain [`Node::poll_transmit`], [`Node::poll_event`] and ask
//! [`Node::poll_timeout`] when to call again.

pub mod clock;
mod learned;
pub mod limit;
mod neighbours;
mod node;
mod out;
pub mod party;
mod playback;
mod playback_view;
pub mod playout;
mod request;
pub mod schedule;
mod sign;
mod time;
pub mod transfer;

pub use crate::proto::{NodeId, ParseNodeIdError};
pub use clock::{ClockConfig, ClockEstimate, ClockEstimator, ClockSample, HostClock, PartyTime};
pub use neighbours::{Neighbour, Via};
pub use node::{Node, NodeConfig, TransferView};
pub use out::{Counters, Destination, Event, Transmit};
pub use party::invitations::Invitation;
pub use party::{
    CommandError, PartyConfig, PartyRole, PartyState, PartyView, RequestOutcome, RequestPolicy,
    StreamAction, StreamId,
};
pub use playback_view::PlaybackView;
pub use playout::{Anchor, Playout, PlayoutStep, SinkCommand};
pub use request::PartyRequest;
pub use schedule::{Action, Entry, PlaybackState, PoolSong, Schedule, SongRef};
pub use sign::{Sign, Signer};
pub use time::Instant;
