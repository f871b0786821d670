//! The party's public types: its settings, what commands return, and the snapshot
//! [`PartyView`] that status and the runtime read.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::phi::PhiDetector;
use crate::core::{Instant, NodeId};
use crate::proto::{Control, MemberInfo, PartyId};

/// Who may ask the host to skip or queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestPolicy {
    Anyone,
    HostOnly,
}

/// Party settings; the runtime builds them from the `[party]` config table.
#[derive(Clone, Debug, PartialEq)]
pub struct PartyConfig {
    /// Our TCP control port, sent in invitations and hellos.
    pub control_port: u16,
    /// Our unicast UDP port, sent in rosters for clock sync.
    pub udp_port: u16,
    /// Our TCP port for song transfers, sent in hellos and rosters (0: none).
    pub bulk_port: u16,
    pub min_accepts: usize,
    pub invite_window: Duration,
    pub invite_ttl: u8,
    pub invite_refresh: Duration,
    pub auto_join: bool,
    /// The party this box was in when it last stopped (kept in the state dir): it
    /// rejoins as a guest when it hears that party's invitation again.
    pub rejoin: Option<PartyId>,
    pub heartbeat_interval: Duration,
    pub phi_threshold: f64,
    /// How long a join may take before the target is given up.
    pub join_timeout: Duration,
    pub requests: RequestPolicy,
    pub max_members: usize,
    /// The host plays the first song by itself once the party starts.
    pub autoplay: bool,
    /// How long the first song waits for the boxes that joined before the start to hold
    /// it; after that it plays anyway (the ones still downloading come in later).
    pub start_wait: Duration,
    /// How many songs from the current one on every box fetches ahead.
    pub pool_window: usize,
    /// Signs this box's invitations; without one they go out unsigned and every other
    /// box drops them.
    pub signer: Option<crate::core::Signer>,
}

impl Default for PartyConfig {
    fn default() -> Self {
        PartyConfig {
            control_port: 7702,
            udp_port: 7701,
            bulk_port: 0,
            min_accepts: 3,
            invite_window: Duration::from_secs(20),
            invite_ttl: 4,
            invite_refresh: Duration::from_secs(2),
            auto_join: false,
            rejoin: None,
            heartbeat_interval: Duration::from_millis(250),
            phi_threshold: 8.0,
            join_timeout: Duration::from_secs(2),
            requests: RequestPolicy::Anyone,
            max_members: 32,
            autoplay: true,
            start_wait: Duration::from_secs(60),
            pool_window: 5,
            signer: None,
        }
    }
}

impl PartyConfig {
    /// An invitation not refreshed for this long is dropped.
    pub fn invite_expiry(&self) -> Duration {
        self.invite_refresh * 3
    }

    pub(super) fn detector(&self, now: Instant) -> PhiDetector {
        // Half an interval of spread: a LAN's regular heartbeats still get slack for a
        // scheduling hiccup, and death is declared after about 3.5 intervals of silence.
        PhiDetector::new(now, self.heartbeat_interval, self.heartbeat_interval / 2)
    }
}

/// A control stream, numbered by the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u64);

/// What the node asks of the stream transport (TCP in production).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamAction {
    /// Open a stream to `addr`; report failure or loss with `handle_stream_closed`.
    /// Sends queued before the connection is up must be delivered after it.
    Connect {
        stream: StreamId,
        addr: SocketAddr,
    },
    Send {
        stream: StreamId,
        msg: Control,
    },
    /// Flush what was queued, then close.
    Close {
        stream: StreamId,
    },
}

/// Why a party command was refused; the message is for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("this box is already in party {0}; leave it first")]
    AlreadyInParty(PartyId),
    #[error("this box is in no party; host one or join one first")]
    NotInParty,
    #[error("no invitation to join; wait for one or ask a box to host")]
    NoInvitation,
    #[error("no invitation for party {0}; the status lists the invitations this box has")]
    UnknownInvitation(PartyId),
    #[error("only the host can do that")]
    NotHost,
    #[error("the party is still being joined; try again in a moment")]
    NotJoinedYet,
}

/// The answer to a skip or queue request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Decided here (we are the host).
    Answered {
        accepted: bool,
        reason: Option<String>,
    },
    /// Sent to the host; `Event::RequestAnswered` with this id carries the answer.
    Pending(u32),
}

/// Our role in a party, for status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartyRole {
    Host,
    Member,
}

/// Where the party stands from this box's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartyState {
    /// Connecting to the host, not yet welcomed.
    Joining,
    /// Gathering guests.
    Forming,
    /// Under way.
    Started,
    /// The host was lost; finding its successor.
    Failover,
}

/// A snapshot of our party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyView {
    pub id: PartyId,
    pub term: u64,
    pub host: NodeId,
    pub role: PartyRole,
    pub state: PartyState,
    /// Everyone in the party, host first, then guests in slot order.
    pub members: Vec<MemberInfo>,
    /// Titles of the songs accepted offers added to the pool that are still to come
    /// (host only).
    pub queue: Vec<String>,
    /// When a forming party starts by itself if too few boxes join (host only).
    pub starts_by: Option<crate::core::Instant>,
}

/// What the party decided that the rest of the node carries out, returned by the call
/// that decided it (the node applies it before that call returns).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decision {
    /// A guest came in (or back) on `stream`: it needs the pool and the schedule.
    GuestJoined { stream: StreamId },
    /// The host accepted a playback action (its own or a guest's request).
    Play { action: crate::core::Action },
    /// The party started: play the first song unless something plays already.
    Autoplay,
    /// An accepted offer: the song joins the pool, fetched from `song.origin`.
    AddSong { song: crate::core::PoolSong },
}
