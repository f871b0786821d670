//! The `Node` state machine of one box: discovery (beacons, neighbours, learned peers)
//! and the facade over the party state machine. What the party decides on a command or
//! an event (a guest to bring up to date, a song to play or add), the node carries out
//! before the call returns.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::learned::LearnedPeers;
use super::limit::{Limiter, CLOCK_REQUESTS, CLOCK_SOURCES};
use super::neighbours::{NeighbourTable, Observed};
use super::out::{Counters, Destination, Event, Out, Transmit};
use super::party::invitations::Invitation;
use super::party::{
    CommandError, Party, PartyConfig, PartyView, RequestOutcome, StreamAction, StreamId,
};
use super::playback::Playback;
use super::request::PartyRequest;
use super::schedule::{from_wire, Action, PoolSong, SongRef};
use super::PartyState;
use super::PlaybackView;
use super::{Instant, Neighbour, NodeId, Via};
use crate::proto::{
    self, Beacon, BoxState, Control, Message, PartyId, PeerHint, MAX_PEER_HINTS, MAX_SCHEDULE,
};

/// What the core needs to know about this box; the runtime builds it from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub id: NodeId,
    pub name: String,
    /// Our unicast UDP port, advertised in beacons.
    pub unicast_port: u16,
    /// Mean time between beacons.
    pub beacon_interval: Duration,
    /// Each interval is drawn uniformly from `interval * (1 ± jitter)`.
    pub beacon_jitter: f64,
    /// A neighbour is dropped after this many intervals (plus jitter) without a beacon.
    pub expiry_beacons: u32,
    pub max_neighbours: usize,
    /// Addresses that always get our beacons by unicast, from the config.
    pub static_peers: Vec<SocketAddr>,
    pub max_learned_peers: usize,
    pub party: PartyConfig,
}

impl NodeConfig {
    /// Defaults suited to a LAN, for the given identity.
    pub fn new(id: NodeId, name: impl Into<String>) -> Self {
        NodeConfig {
            id,
            name: name.into(),
            unicast_port: 7701,
            beacon_interval: Duration::from_secs(1),
            beacon_jitter: 0.2,
            expiry_beacons: 3,
            max_neighbours: 64,
            static_peers: Vec::new(),
            max_learned_peers: 32,
            party: PartyConfig::default(),
        }
    }

    /// Silence after which a neighbour is considered gone.
    pub fn expiry(&self) -> Duration {
        self.beacon_interval
            .mul_f64(f64::from(self.expiry_beacons) + self.beacon_jitter.clamp(0.0, 1.0))
    }
}

/// One box's protocol state. See the module docs of [`crate::core`] for how to drive it.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    rng: StdRng,
    boot: u32,
    seq: u64,
    next_beacon: Instant,
    neighbours: NeighbourTable,
    learned: LearnedPeers,
    party: Party,
    playback: Playback,
    /// Who may have clock-sync requests answered, by source address.
    clock_requests: Limiter<IpAddr>,
    out: Out,
}

impl Node {
    /// A node that sends its first beacon soon after `now`; `seed` drives its jitter and
    /// party ids so a simulation replays exactly.
    pub fn new(config: NodeConfig, now: Instant, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        // Boxes powered on together should not beacon in lock-step, but should be
        // found quickly: the first beacon goes out within a fifth of an interval.
        let first = config.beacon_interval.mul_f64(rng.gen_range(0.0..0.2));
        let party_config = PartyConfig {
            udp_port: config.unicast_port,
            ..config.party.clone()
        };
        Node {
            neighbours: NeighbourTable::new(config.max_neighbours),
            learned: LearnedPeers::new(config.max_learned_peers),
            party: Party::new(party_config, config.id, config.name.clone()),
            playback: Playback::new(),
            clock_requests: Limiter::new(CLOCK_REQUESTS, CLOCK_SOURCES),
            next_beacon: now + first,
            boot: rng.gen(),
            config,
            rng,
            seq: 0,
            out: Out::default(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn counters(&self) -> Counters {
        self.out.counters
    }

    /// What this box is doing, as its beacons say.
    pub fn state(&self) -> BoxState {
        if self.party.is_host() {
            BoxState::Hosting
        } else if self.party.is_member() {
            BoxState::Member
        } else {
            BoxState::Idle
        }
    }

    /// Our party as status shows it.
    pub fn party(&self) -> Option<PartyView> {
        self.party.view()
    }

    /// Whether we still mean to rejoin the party we were in before a restart.
    pub fn rejoining(&self) -> bool {
        self.party.config().rejoin.is_some()
    }

    /// Invitations we could accept, newest first.
    pub fn invitations(&self) -> Vec<&Invitation> {
        self.party.invitations()
    }

    /// Neighbours in id order.
    pub fn neighbours(&self) -> impl Iterator<Item = &Neighbour> {
        self.neighbours.iter()
    }

    pub fn neighbour(&self, id: &NodeId) -> Option<&Neighbour> {
        self.neighbours.get(id)
    }

    /// How many neighbours we hear.
    pub fn neighbour_count(&self) -> usize {
        self.neighbours.len()
    }

    /// How many hinted addresses we are probing.
    pub fn learned_len(&self) -> usize {
        self.learned.len()
    }

    /// How a neighbour reaches us now.
    pub fn via(&self, n: &Neighbour, now: Instant) -> Via {
        n.via(now, self.config.expiry())
    }

    /// HOST: create a party and start inviting.
    pub fn host(&mut self, now: Instant) -> Result<PartyId, CommandError> {
        let r = self.party.host(now, &mut self.out, &mut self.rng);
        self.after(now, None);
        r
    }

    /// JOIN: the given invitation, or the preferred one.
    pub fn join(&mut self, now: Instant, party: Option<PartyId>) -> Result<PartyId, CommandError> {
        let r = self.party.join(now, &mut self.out, party);
        self.after(now, None);
        r
    }

    /// Leave the party (a host ends it).
    pub fn leave(&mut self, now: Instant) -> Result<PartyId, CommandError> {
        let r = self.party.leave(now, &mut self.out);
        self.after(now, None);
        r
    }

    /// End the party we host.
    pub fn end(&mut self, now: Instant) -> Result<PartyId, CommandError> {
        let r = self.party.end(now, &mut self.out);
        self.after(now, None);
        r
    }

    /// Ask (or, as host, decide) to skip or queue a song.
    /// Playback actions go through here too: the host schedules them at once (for
    /// everyone), a guest's go to the host under the request policy.
    pub fn request(
        &mut self,
        now: Instant,
        request: PartyRequest,
    ) -> Result<RequestOutcome, CommandError> {
        match self.party.request(&mut self.out, request.into()) {
            Ok((outcome, decision)) => {
                self.after(now, decision);
                Ok(outcome)
            }
            Err(e) => {
                self.after(now, None);
                Err(e)
            }
        }
    }

    /// The transport accepted a control stream from `remote`; returns its id.
    pub fn accept_stream(&mut self, remote: SocketAddr) -> StreamId {
        self.party.accept_stream(remote)
    }

    /// The session on `stream` proved id `peer` and gave `key` for clock-sync MACs: a host
    /// is believed only once its stream proved its id, and clock sync waits for the key.
    pub fn handle_session(&mut self, now: Instant, stream: StreamId, peer: NodeId, key: [u8; 32]) {
        self.party.set_stream_session(stream, peer, key);
        self.after(now, None);
    }

    /// A control message arrived on `stream`.
    pub fn handle_stream_message(&mut self, now: Instant, stream: StreamId, msg: Control) {
        let decision = match msg {
            Control::Pool { .. }
            | Control::Schedule { .. }
            | Control::Delivery { .. }
            | Control::Holdings { .. } => {
                self.playback_message(now, stream, msg);
                None
            }
            other => self.party.handle_message(now, &mut self.out, stream, other),
        };
        self.after(now, decision);
    }

    /// `stream` broke, was closed by the peer, or could not be opened.
    pub fn handle_stream_closed(&mut self, now: Instant, stream: StreamId) {
        self.party.handle_stream_closed(now, &mut self.out, stream);
        self.after(now, None);
    }

    /// Feeds one received datagram. `from` is its source address; `via` says which
    /// socket it arrived on.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, via: Via, bytes: &[u8]) {
        self.handle_datagram_at(now, now, from, via, bytes)
    }

    /// [`handle_datagram`](Self::handle_datagram) for a datagram the kernel stamped as
    /// received at `rx` (at or before `now`): clock sync measures with `rx`, free of the
    /// event loop's delay; everything else happens at `now`.
    pub fn handle_datagram_at(
        &mut self,
        now: Instant,
        rx: Instant,
        from: SocketAddr,
        via: Via,
        bytes: &[u8],
    ) {
        let rx = rx.min(now);
        self.out.counters.datagrams_in += 1;
        match proto::decode_datagram(bytes) {
            Ok(Message::Beacon(beacon)) => self.on_beacon(now, from, via, beacon),
            Ok(Message::Invite(invite)) => {
                let relays = self.relays(now);
                self.party
                    .handle_invite(now, &mut self.out, from, invite, &relays);
            }
            Ok(Message::Control(_) | Message::Bulk(_)) => self.out.counters.misdirected += 1,
            // Answering costs the host an encode and a send: a stranger's flood must not.
            Ok(Message::TimeRequest(_)) if !self.clock_requests.allow(now, from.ip()) => {
                self.out.counters.clock_limited += 1
            }
            Ok(Message::TimeRequest(req)) => {
                let key = self.party.guest_key(req.member);
                self.playback
                    .time_request(now, rx, &mut self.out, from, (req, key))
            }
            Ok(Message::TimeReply(reply)) => self.playback.time_reply(rx, &mut self.out, reply),
            Err(error) => {
                self.out.counters.malformed += 1;
                self.out.event(Event::Malformed { from, error });
            }
        }
    }

    /// Neighbours our multicast does not reach: floods go to them by unicast.
    fn relays(&self, now: Instant) -> Vec<SocketAddr> {
        let window = self.config.expiry();
        self.neighbours
            .iter()
            .filter(|n| n.via(now, window) == Via::Unicast)
            .map(|n| n.addr)
            .collect()
    }

    fn on_beacon(&mut self, now: Instant, from: SocketAddr, via: Via, beacon: Beacon) {
        self.out.counters.beacons_in += 1;
        if beacon.id == self.config.id {
            self.out.counters.own += 1;
            // Our own echo carries our boot number; another one means another process
            // announces our id: a cloned card, or a forgery (beacons are not signed), for
            // the runtime to check over an authenticated session.
            if beacon.boot != self.boot {
                let control = SocketAddr::new(from.ip(), beacon.control_port);
                self.out.event(Event::OwnIdSeen { control });
            }
            return;
        }
        let addr = SocketAddr::new(from.ip(), beacon.unicast_port);
        match self.neighbours.observe(&beacon, addr, via, now) {
            Observed::New => {
                self.out.event(Event::NeighbourUp {
                    id: beacon.id,
                    name: beacon.name.clone(),
                    addr,
                });
                self.learn_from(&beacon, now);
            }
            Observed::Updated => self.learn_from(&beacon, now),
            Observed::Stale => {
                self.out.counters.stale += 1;
                return;
            }
            Observed::Full => {
                self.out.counters.table_full += 1;
                return;
            }
        }
        if let Some(summary) = beacon.party {
            let host_addr = self
                .neighbours
                .get(&summary.host)
                .filter(|n| n.control_port != 0)
                .map(|n| SocketAddr::new(n.addr.ip(), n.control_port));
            self.party
                .handle_summary(now, &mut self.out, summary, host_addr);
        }
    }

    fn learn_from(&mut self, beacon: &Beacon, now: Instant) {
        for hint in &beacon.peers {
            if hint.id == self.config.id || self.neighbours.contains(&hint.id) {
                continue;
            }
            if !self.learned.mention(hint.id, hint.addr, now) {
                self.out.counters.learned_full += 1;
            }
        }
    }

    /// Runs timers due at or before `now`: expiry, beacons and party work.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expiry = u64::try_from(self.config.expiry().as_nanos()).unwrap_or(u64::MAX);
        let deadline = Instant::from_nanos(now.as_nanos().saturating_sub(expiry));
        for gone in self.neighbours.expire(deadline) {
            self.out.event(Event::NeighbourDown {
                id: gone.id,
                name: gone.name,
            });
        }
        let neighbours = &self.neighbours;
        self.learned.retain(deadline, |id| neighbours.contains(&id));
        if now >= self.next_beacon {
            self.send_beacons(now);
            let jitter = self.config.beacon_jitter.clamp(0.0, 0.9);
            let factor = self.rng.gen_range((1.0 - jitter)..=(1.0 + jitter));
            self.next_beacon = now + self.config.beacon_interval.mul_f64(factor);
        }
        // The host's own invitation goes to every neighbour by unicast as well as to the
        // group: a lost multicast datagram must not cost a box its invitation.
        let everyone: Vec<SocketAddr> = self.neighbours.iter().map(|n| n.addr).collect();
        let decision = self.party.handle_timeout(now, &mut self.out, &everyone);
        self.playback.handle_timeout(now, &mut self.out);
        self.after(now, decision);
    }

    fn send_beacons(&mut self, now: Instant) {
        self.seq += 1;
        let beacon = Beacon {
            id: self.config.id,
            boot: self.boot,
            seq: self.seq,
            name: self.config.name.clone(),
            unicast_port: self.config.unicast_port,
            control_port: self.party.config().control_port,
            state: self.state(),
            party: self.party.summary(),
            peers: self.peer_hints(),
        };
        let payload = match proto::encode_datagram(&Message::Beacon(beacon)) {
            Ok(p) => p,
            Err(_) => {
                self.out.counters.encode_errors += 1;
                return;
            }
        };
        let mut unicast: Vec<SocketAddr> = self.config.static_peers.clone();
        unicast.extend(self.relays(now));
        unicast.extend(self.learned.addrs());
        unicast.sort_unstable();
        unicast.dedup();
        self.out.raw(Destination::Multicast, payload.clone());
        for addr in unicast {
            self.out.raw(Destination::Unicast(addr), payload.clone());
        }
    }

    /// The most recently heard neighbours, newest first, ties by id.
    fn peer_hints(&self) -> Vec<PeerHint> {
        let mut all: Vec<&Neighbour> = self.neighbours.iter().collect();
        all.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        all.into_iter()
            .take(MAX_PEER_HINTS)
            .map(|n| PeerHint {
                id: n.id,
                addr: n.addr,
            })
            .collect()
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next stream action to carry out, if any.
    pub fn poll_stream_action(&mut self) -> Option<StreamAction> {
        self.out.streams.pop_front()
    }

    /// The next event to report, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When [`Node::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let expiry = self
            .neighbours
            .oldest()
            .map(|t| t + self.config.expiry() + Duration::from_nanos(1));
        [
            expiry,
            self.party.poll_timeout(),
            self.playback.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_beacon, Instant::min)
    }
}

#[path = "node_playback.rs"]
mod playback_glue;
pub use playback_glue::TransferView;

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
