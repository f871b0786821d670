//! The clock-sync exchange of [`Playback`]: a member asks the host for its party time
//! when the estimator wants a sample, the host answers, the member takes the answer.
//! Both carry a MAC under a key from the session between the two boxes; anything
//! without a valid one is dropped and counted, and never reaches the clock.

use std::net::SocketAddr;

use super::{ClockSample, Destination, Instant, Out, PartyRole, PartyTime, Playback, OUTSTANDING};
use crate::core::NodeId;
use crate::proto::{Message, TimeReply, TimeRequest, MAC_LEN};

/// How a member reaches the host's clock: its address, the MAC key of the member's
/// session with it, and the member's own id (the host looks the key up by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeLink {
    pub(crate) addr: SocketAddr,
    pub(crate) key: [u8; 32],
    pub(crate) me: NodeId,
}

impl Playback {
    /// Sends a clock-sync request when one is due (members).
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Out) {
        let (Some(due), Some(link), Some((party, PartyRole::Member, _))) =
            (self.next_sync, self.time_link, self.seat)
        else {
            return;
        };
        if now < due {
            return;
        }
        self.seq = self.seq.wrapping_add(1);
        let t1 = now.as_nanos();
        let mut request = TimeRequest {
            party,
            seq: self.seq,
            t1,
            member: link.me,
            mac: [0; MAC_LEN],
        };
        request.mac = request.mac_with(&link.key);
        if self.outstanding.len() == OUTSTANDING {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((self.seq, t1, request.mac));
        out.datagram(
            Destination::Unicast(link.addr),
            &Message::TimeRequest(request),
        );
        self.clock.exchange_sent(now);
        self.next_sync = Some(self.clock.next_exchange(now));
    }

    /// The host answers a member's request with its party time: `rx` when the request
    /// arrived, `now` when the answer leaves. `key` is the MAC key of the session with
    /// the member the request names, if it is one of our guests.
    pub(crate) fn time_request(
        &mut self,
        now: Instant,
        rx: Instant,
        out: &mut Out,
        from: SocketAddr,
        (req, key): (TimeRequest, Option<[u8; 32]>),
    ) {
        let (Some(host), Some((party, PartyRole::Host, _))) = (&self.host_clock, self.seat) else {
            return;
        };
        if req.party != party {
            return;
        }
        let Some(key) = key.filter(|k| req.authentic(k)) else {
            out.counters.forged_time += 1;
            return;
        };
        let mut reply = TimeReply {
            party,
            seq: req.seq,
            t1: req.t1,
            t2: host.now(rx.min(now)).as_nanos(),
            t3: host.now(now).as_nanos(),
            mac: [0; MAC_LEN],
        };
        reply.mac = reply.mac_with(&key, &req.mac);
        out.datagram(Destination::Unicast(from), &Message::TimeReply(reply));
    }

    /// A member takes the host's answer, received at `rx`, as a clock sample: only an
    /// authentic answer to a request still outstanding (each is taken once).
    pub(crate) fn time_reply(&mut self, rx: Instant, out: &mut Out, reply: TimeReply) {
        let (Some((party, PartyRole::Member, _)), Some(link)) = (self.seat, self.time_link) else {
            return;
        };
        if reply.party != party {
            return;
        }
        let found = self.outstanding.iter().position(|&(seq, t1, ref mac)| {
            seq == reply.seq && t1 == reply.t1 && reply.authentic(&link.key, mac)
        });
        let Some(pos) = found else {
            out.counters.forged_time += 1;
            return;
        };
        self.outstanding.remove(pos);
        let sample = ClockSample {
            t1: Instant::from_nanos(reply.t1),
            t2: PartyTime::from_nanos(reply.t2),
            t3: PartyTime::from_nanos(reply.t3),
            t4: rx,
        };
        let round_trip = (rx - sample.t1).saturating_sub(sample.t3 - sample.t2);
        self.rtt = Some(round_trip);
        self.clock.add(sample);
    }
}
