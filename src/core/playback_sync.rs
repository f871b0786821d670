//! The clock-sync exchange of [`Playback`]: a member asks the host for its party time
//! when the estimator wants a sample, the host answers, the member takes the answer.

use std::net::SocketAddr;

use super::{ClockSample, Destination, Instant, Out, PartyRole, PartyTime, Playback, OUTSTANDING};
use crate::proto::{Message, TimeReply, TimeRequest};

impl Playback {
    /// Sends a clock-sync request when one is due (members).
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Out) {
        let (Some(due), Some(addr), Some((party, PartyRole::Member, _))) =
            (self.next_sync, self.time_addr, self.seat)
        else {
            return;
        };
        if now < due {
            return;
        }
        self.seq = self.seq.wrapping_add(1);
        let t1 = now.as_nanos();
        if self.outstanding.len() == OUTSTANDING {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((self.seq, t1));
        let request = TimeRequest {
            party,
            seq: self.seq,
            t1,
        };
        out.datagram(Destination::Unicast(addr), &Message::TimeRequest(request));
        self.clock.exchange_sent(now);
        self.next_sync = Some(self.clock.next_exchange(now));
    }

    /// The host answers a member's request with its party time: `rx` when the request
    /// arrived, `now` when the answer leaves.
    pub(crate) fn time_request(
        &mut self,
        now: Instant,
        rx: Instant,
        out: &mut Out,
        from: SocketAddr,
        req: TimeRequest,
    ) {
        let (Some(host), Some((party, PartyRole::Host, _))) = (&self.host_clock, self.seat) else {
            return;
        };
        if req.party != party {
            return;
        }
        let reply = TimeReply {
            party,
            seq: req.seq,
            t1: req.t1,
            t2: host.now(rx.min(now)).as_nanos(),
            t3: host.now(now).as_nanos(),
        };
        out.datagram(Destination::Unicast(from), &Message::TimeReply(reply));
    }

    /// A member takes the host's answer, received at `rx`, as a clock sample.
    pub(crate) fn time_reply(&mut self, rx: Instant, reply: TimeReply) {
        let Some((party, PartyRole::Member, _)) = self.seat else {
            return;
        };
        let Some(pos) = self
            .outstanding
            .iter()
            .position(|&(seq, t1)| seq == reply.seq && t1 == reply.t1)
        else {
            return;
        };
        if reply.party != party {
            return;
        }
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
