//! What a box keeps whatever its role in a party: its settings and identity, the
//! invitations it heard, its control streams and the party timer, and flooding.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::invitations::Invitations;
use super::{PartyConfig, StreamAction, StreamId};
use crate::core::out::Out;
use crate::core::{Destination, Instant, NodeId};
use crate::proto::{Control, Hello, MemberInfo, Message, PartyId};

#[derive(Clone, Debug)]
struct StreamInfo {
    remote: SocketAddr,
    /// The connecting side's introduction, once it arrived.
    peer: Option<Hello>,
    /// What the stream's session proved, once it is set up: the peer's id, and the MAC
    /// key for clock sync with it.
    session: Option<(NodeId, [u8; 32])>,
}

/// The role-independent half of a box's party state; the host and member sides borrow it.
#[derive(Debug)]
pub(super) struct Common {
    pub(super) cfg: PartyConfig,
    pub(super) me: NodeId,
    pub(super) name: String,
    pub(super) invitations: Invitations,
    streams: BTreeMap<StreamId, StreamInfo>,
    next_stream: u64,
    next_tick: Option<Instant>,
    /// The id of the last request a guest sent to its host.
    pub(super) next_request: u32,
    /// Pool index of the song playing now, so a failover prefers a box that holds it.
    pub(super) current_song: Option<u32>,
}

impl Common {
    pub(super) fn new(cfg: PartyConfig, me: NodeId, name: String) -> Self {
        Common {
            cfg,
            me,
            name,
            invitations: Invitations::default(),
            streams: BTreeMap::new(),
            next_stream: 0,
            next_tick: None,
            next_request: 0,
            current_song: None,
        }
    }

    pub(super) fn next_tick(&self) -> Option<Instant> {
        self.next_tick
    }

    /// Whether the timer is due at `now`; if so it is cleared until rescheduled.
    pub(super) fn tick_due(&mut self, now: Instant) -> bool {
        if self.next_tick.is_some_and(|t| t > now) {
            return false;
        }
        self.next_tick = None;
        true
    }

    /// Asks for the timer at `at`, unless it is due earlier already.
    pub(super) fn schedule_tick(&mut self, at: Instant) {
        self.next_tick = Some(match self.next_tick {
            Some(t) if t < at => t,
            _ => at,
        });
    }

    /// Numbers a new stream to or from `remote`.
    pub(super) fn new_stream(&mut self, remote: SocketAddr) -> StreamId {
        self.next_stream += 1;
        let id = StreamId(self.next_stream);
        self.streams.insert(
            id,
            StreamInfo {
                remote,
                peer: None,
                session: None,
            },
        );
        id
    }

    /// Whether `stream` is one of ours, open or being opened.
    pub(super) fn knows(&self, stream: StreamId) -> bool {
        self.streams.contains_key(&stream)
    }

    /// Records the introduction that arrived on `stream`.
    pub(super) fn set_peer(&mut self, stream: StreamId, hello: Hello) {
        if let Some(info) = self.streams.get_mut(&stream) {
            info.peer = Some(hello);
        }
    }

    /// Records what the session on `stream` proved: the peer's id and the clock-sync key.
    pub(super) fn set_session(&mut self, stream: StreamId, peer: NodeId, key: [u8; 32]) {
        if let Some(info) = self.streams.get_mut(&stream) {
            info.session = Some((peer, key));
        }
    }

    /// The clock-sync key of `stream`'s session, once it is set up.
    pub(super) fn key(&self, stream: StreamId) -> Option<[u8; 32]> {
        self.streams.get(&stream)?.session.map(|(_, key)| key)
    }

    /// The id the peer on `stream` proved, once its session is set up.
    pub(super) fn proven(&self, stream: StreamId) -> Option<NodeId> {
        self.streams.get(&stream)?.session.map(|(id, _)| id)
    }

    /// Who is on `stream` and where from, once it said hello.
    pub(super) fn peer(&self, stream: StreamId) -> Option<(Hello, SocketAddr)> {
        let info = self.streams.get(&stream)?;
        info.peer.clone().map(|h| (h, info.remote))
    }

    /// Forgets a stream the transport lost; false if it was unknown (closed already).
    pub(super) fn forget(&mut self, stream: StreamId) -> bool {
        self.streams.remove(&stream).is_some()
    }

    /// Closes `stream` once (closing a closed stream does nothing).
    pub(super) fn close(&mut self, out: &mut Out, stream: StreamId) {
        if self.streams.remove(&stream).is_some() {
            out.streams.push_back(StreamAction::Close { stream });
        }
    }

    /// Opens a stream to `addr` and asks to join `party` expecting `term`.
    pub(super) fn connect_and_join(
        &mut self,
        out: &mut Out,
        addr: SocketAddr,
        party: PartyId,
        term: u64,
    ) -> StreamId {
        let stream = self.new_stream(addr);
        out.streams
            .push_back(StreamAction::Connect { stream, addr });
        out.send(
            stream,
            Control::Hello(Hello {
                id: self.me,
                name: self.name.clone(),
                control_port: self.cfg.control_port,
                bulk_port: self.cfg.bulk_port,
            }),
        );
        out.send(stream, Control::Join { party, term });
        stream
    }

    /// Turns down a join on `stream`, saying why, and closes it.
    pub(super) fn refuse(&mut self, out: &mut Out, stream: StreamId, party: PartyId, why: &str) {
        out.send(
            stream,
            Control::Refused {
                party,
                reason: why.to_owned(),
            },
        );
        self.close(out, stream);
    }

    /// Our own entry as host; its IP is filled in by whoever knows it.
    pub(super) fn host_info(&self) -> MemberInfo {
        MemberInfo {
            id: self.me,
            name: self.name.clone(),
            addr: SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, self.cfg.control_port)),
            bulk_port: self.cfg.bulk_port,
            slot: 0,
            missing: Vec::new(),
        }
    }
}

/// Sends `msg` to the multicast group and to each relay except `except`.
pub(crate) fn flood(
    out: &mut Out,
    msg: &Message,
    relays: &[SocketAddr],
    except: Option<SocketAddr>,
) {
    out.datagram(Destination::Multicast, msg);
    for addr in relays.iter().filter(|a| Some(**a) != except) {
        out.datagram(Destination::Unicast(*addr), msg);
    }
}
