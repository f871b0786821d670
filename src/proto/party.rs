//! Party messages: the flooded invitation (UDP) and the control-stream messages (TCP).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::NodeId;
use super::{
    PartyId, MAX_MEMBERS, MAX_NAME_LEN, MAX_PLAYLIST_NAME_LEN, MAX_POOL, MAX_REASON_LEN,
    MAX_SCHEDULE, MAX_SONG_LEN,
};

/// "Party `party` is hosted by `host`; join it at `host_addr`." Flooded over the overlay,
/// signed by the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub party: PartyId,
    pub term: u64,
    /// Increases each time the host re-floods; (party, round) identifies one flood.
    pub round: u32,
    pub host: NodeId,
    pub host_name: String,
    /// The host's TCP control address. The host sends the unspecified IP; the first box
    /// to receive it fills in the source IP before forwarding. The IP is therefore not
    /// signed: a joiner takes a welcome only from the box that proves `host`.
    pub host_addr: SocketAddr,
    /// Forwarding budget left; a box forwards only while it is above zero.
    pub ttl: u8,
    /// Boxes this copy passed through.
    pub hops: u8,
    /// False while the invite window is open (the party may still lose an election).
    pub started: bool,
    /// Guests already in the party.
    pub members: u8,
    /// The host's ed25519 public key; `host` must be its id.
    pub host_key: [u8; 32],
    /// The host's signature over the fields it sets ([`Invite::signed_bytes`]); every box
    /// checks it ([`Invite::verify`]) before it believes or relays the invitation.
    #[serde(with = "super::auth::signature_bytes")]
    pub signature: [u8; 64],
}

/// First message on every control stream, in both directions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub id: NodeId,
    pub name: String,
    /// The sender's TCP control port (its IP is the stream's remote address).
    pub control_port: u16,
    /// The sender's TCP port for song transfers (0: it serves none).
    pub bulk_port: u16,
}

/// One box of a party as its host lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: NodeId,
    pub name: String,
    /// TCP control address.
    pub addr: SocketAddr,
    /// TCP port for song transfers at the same IP (0: none).
    pub bulk_port: u16,
    /// Join order under the current host, unique in the roster: it decides succession.
    pub slot: u32,
    /// Pool indices of the songs this box lacks (it plays those silently), so a successor
    /// that holds the current song can be preferred.
    pub missing: Vec<u32>,
}

/// Whether the party still gathers guests or is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PartyPhase {
    Forming,
    Started,
}

/// The host's authoritative member list, sent on every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub party: PartyId,
    pub term: u64,
    pub phase: PartyPhase,
    pub host: MemberInfo,
    /// Guests in slot order.
    pub members: Vec<MemberInfo>,
    /// The host's UDP port for clock sync (its IP is the control stream's).
    pub udp_port: u16,
}

/// What a member may ask of the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    /// A playback action: skip, pause, resume, previous, select, seek, volume.
    Playback(super::schedule::Action),
    /// Add one of the requester's own songs to the pool; the boxes fetch it from there.
    Offer {
        song: super::schedule::PoolSong,
        title: String,
    },
}

/// Control-stream messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    Hello(Hello),
    /// Ask to join `party`; `term` is the term the joiner expects the receiver to host.
    Join {
        party: PartyId,
        term: u64,
    },
    Welcome(Roster),
    Roster(Roster),
    /// The join was refused; the reason is for the user.
    Refused {
        party: PartyId,
        reason: String,
    },
    /// The party moved: join `host` at `addr` instead.
    Redirect {
        party: PartyId,
        term: u64,
        host: NodeId,
        addr: SocketAddr,
    },
    Heartbeat {
        party: PartyId,
        term: u64,
    },
    Leave {
        party: PartyId,
    },
    End {
        party: PartyId,
        term: u64,
    },
    Request {
        party: PartyId,
        id: u32,
        kind: RequestKind,
    },
    /// The songs of the party, in play order (host to guests, on join and on change).
    Pool {
        party: PartyId,
        songs: Vec<super::schedule::PoolSong>,
        /// The playlist the host's songs come from (every box shows it); `None` for
        /// the host's whole music folder.
        playlist: Option<String>,
    },
    /// Schedule entries (host to guests: all of them on join, then each new one).
    Schedule {
        party: PartyId,
        entries: Vec<super::schedule::Entry>,
    },
    /// A guest's measured clock-sync round trip, so the host can schedule far enough ahead,
    /// and its clock's error bound (`u32::MAX` until locked), so the first song waits for
    /// the guests' clocks to settle.
    Delivery {
        party: PartyId,
        rtt_us: u32,
        clock_error_us: u32,
    },
    /// The pool indices a guest lacks (sent when the pool arrives or changes).
    Holdings {
        party: PartyId,
        missing: Vec<u32>,
    },
    Answer {
        party: PartyId,
        id: u32,
        accepted: bool,
        reason: Option<String>,
    },
}

fn check_name(field: &'static str, name: &str) -> Result<(), (&'static str, String)> {
    if name.len() > MAX_NAME_LEN {
        return Err((field, format!("{} bytes, limit {MAX_NAME_LEN}", name.len())));
    }
    Ok(())
}

fn check_roster(r: &Roster) -> Result<(), (&'static str, String)> {
    if r.members.len() > MAX_MEMBERS {
        return Err((
            "roster.members",
            format!("{} entries, limit {MAX_MEMBERS}", r.members.len()),
        ));
    }
    if r.members.iter().any(|m| m.missing.len() > MAX_POOL) {
        return Err(("roster.members.missing", format!("limit {MAX_POOL}")));
    }
    check_name("roster.host.name", &r.host.name)?;
    r.members
        .iter()
        .try_for_each(|m| check_name("roster.members.name", &m.name))
}

impl Invite {
    pub(crate) fn check_limits(&self) -> Result<(), (&'static str, String)> {
        check_name("invite.host_name", &self.host_name)
    }
}

impl Control {
    pub(crate) fn check_limits(&self) -> Result<(), (&'static str, String)> {
        match self {
            Control::Hello(h) => check_name("hello.name", &h.name),
            Control::Welcome(r) | Control::Roster(r) => check_roster(r),
            Control::Refused { reason, .. }
            | Control::Answer {
                reason: Some(reason),
                ..
            } if reason.len() > MAX_REASON_LEN => Err((
                "reason",
                format!("{} bytes, limit {MAX_REASON_LEN}", reason.len()),
            )),
            Control::Holdings { missing, .. } if missing.len() > MAX_POOL => Err((
                "holdings.missing",
                format!("{} entries, limit {MAX_POOL}", missing.len()),
            )),
            Control::Pool { songs, .. } if songs.len() > MAX_POOL => Err((
                "pool.songs",
                format!("{} entries, limit {MAX_POOL}", songs.len()),
            )),
            Control::Pool {
                playlist: Some(name),
                ..
            } if name.len() > MAX_PLAYLIST_NAME_LEN => Err((
                "pool.playlist",
                format!("{} bytes, limit {MAX_PLAYLIST_NAME_LEN}", name.len()),
            )),
            Control::Schedule { entries, .. } if entries.len() > MAX_SCHEDULE => Err((
                "schedule.entries",
                format!("{} entries, limit {MAX_SCHEDULE}", entries.len()),
            )),
            Control::Request {
                kind: RequestKind::Offer { title, .. },
                ..
            } if title.len() > MAX_SONG_LEN => Err((
                "request.title",
                format!("{} bytes, limit {MAX_SONG_LEN}", title.len()),
            )),
            _ => Ok(()),
        }
    }
}

/// A member asks the host's clock: sent at `t1` on the member's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRequest {
    pub party: PartyId,
    pub seq: u32,
    pub t1: u64,
    /// The asking member, so the host knows whose session key checks `mac`.
    pub member: NodeId,
    /// [`TimeRequest::mac_with`] the key of the member's session with the host.
    pub mac: [u8; super::MAC_LEN],
}

/// The host's answer: `t2` when the request arrived and `t3` when this left, both in
/// party time (nanoseconds); `t1` is echoed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeReply {
    pub party: PartyId,
    pub seq: u32,
    pub t1: u64,
    pub t2: u64,
    pub t3: u64,
    /// [`TimeReply::mac_with`] the session key and the request's MAC.
    pub mac: [u8; super::MAC_LEN],
}
