//! Control streams in the running simulation: what a node's stream actions do, and how
//! opens, messages and closes reach the other end.
//!
//! - **Connect**: the open runs one link delay later. If the target address is a live box
//!   reachable from the initiator, the target accepts (remote = initiator IP and an
//!   ephemeral port) and what the initiator queued meanwhile follows in order. A box
//!   whose process was killed refuses (closed after one more link delay); anything else
//!   (no such box, no route, a cut, a box without power) times out after
//!   [`StreamModel::connect_timeout`] from the connect.
//! - **Send**: every message is encoded and decoded with [`MAX_FRAME`] (a failure is a
//!   violation) and arrives after the link delay, retransmission penalties included, but
//!   never before the previous message of the same direction.
//! - **Close**: the other end is told after what is already in flight.
//! - **Partition**: a connection crossing a cut stops delivering and both ends are told
//!   after [`StreamModel::break_delay`].
//! - **Crash**: see [`CrashMode`]; a message for a box rebooted since the connection
//!   opened makes its kernel reset the connection (the sender is told after a link delay).

use super::{Pending, Sim};
use crate::core::{Instant, StreamAction};
use crate::proto::{self, Control, Message, MAX_FRAME};
use crate::sim::invariants::{Breach, Violation};
use crate::sim::streams::{ConnState, CrashMode, EndRef, StreamModel};
use crate::sim::trace::TraceKind;
use std::net::SocketAddr;
use std::sync::Arc;

impl Sim {
    /// How control streams behave.
    pub fn stream_model(&self) -> StreamModel {
        self.stream_model
    }

    pub fn set_stream_model(&mut self, model: StreamModel) {
        self.stream_model = model;
    }

    /// Connections open or opening.
    pub fn live_streams(&self) -> usize {
        self.streams.live()
    }

    /// The incarnation of box `i` if it is running.
    pub(super) fn live_boot(&self, i: usize) -> Option<u64> {
        self.slots
            .get(i)
            .filter(|s| s.node.is_some())
            .map(|s| s.boot)
    }

    fn is_live_end(&self, end: &EndRef) -> bool {
        self.live_boot(end.node) == Some(end.boot)
    }

    /// One-way delay of a stream message from box `from` to box `to`.
    pub(super) fn stream_delay(&mut self, from: usize, to: usize) -> std::time::Duration {
        let m = self.stream_model;
        self.network.stream_delay(
            &mut self.rng,
            from,
            to,
            m.retransmit_penalty,
            m.max_retransmits,
        )
    }

    /// Carries out one stream action of box `i`.
    pub(super) fn stream_action(
        &mut self,
        i: usize,
        action: StreamAction,
    ) -> Result<(), Violation> {
        let Some(boot) = self.live_boot(i) else {
            return Ok(());
        };
        let end = |stream| EndRef {
            node: i,
            boot,
            stream,
        };
        match action {
            StreamAction::Connect { stream, addr } => {
                let conn = self.streams.connect(end(stream), addr, self.now);
                let target = self.control_addrs.get(&addr).copied().unwrap_or(i);
                let at = self.now + self.stream_delay(i, target);
                self.queue.push(at, Pending::StreamOpen { conn });
            }
            StreamAction::Send { stream, msg } => self.stream_send(end(stream), msg)?,
            StreamAction::Close { stream } => self.stream_close(end(stream)),
        }
        Ok(())
    }

    fn stream_send(&mut self, end: EndRef, msg: Control) -> Result<(), Violation> {
        let bytes = proto::encode(&Message::Control(msg), MAX_FRAME).map_err(|e| {
            self.violation(
                end.node,
                Breach::StreamEncode {
                    error: e.to_string(),
                },
            )
        })?;
        let found = self.streams.find(&end);
        let Some((conn, side)) = found else {
            self.stats.stream_sends_dropped += 1;
            return Ok(());
        };
        let Some(c) = self.streams.get_mut(conn) else {
            return Ok(());
        };
        match c.state {
            _ if c.done[side] => self.stats.stream_sends_dropped += 1,
            ConnState::Connecting => c.queued.push(bytes.into()),
            ConnState::Open => self.schedule_data(conn, side, bytes.into()),
            ConnState::Broken => self.stats.stream_sends_dropped += 1,
        }
        Ok(())
    }

    /// Puts a message sent by end `dir` of `conn` on the wire, behind earlier ones.
    fn schedule_data(&mut self, conn: u64, dir: usize, payload: Arc<[u8]>) {
        let Some((from, to)) = self.ends(conn, dir) else {
            return;
        };
        let at = self.now + self.stream_delay(from.node, to.node);
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        let at = at.max(c.last[dir]);
        c.last[dir] = at;
        self.queue
            .push(at, Pending::StreamData { conn, dir, payload });
    }

    /// Tells the end opposite `dir` that the stream closed, after what `dir` sent.
    pub(super) fn schedule_close_after_data(&mut self, conn: u64, dir: usize) {
        let Some((from, to)) = self.ends(conn, dir) else {
            return;
        };
        let at = self.now + self.stream_delay(from.node, to.node);
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        if c.done[1 - dir] {
            return;
        }
        let at = at.max(c.last[dir]);
        c.last[dir] = at;
        self.queue.push(at, Pending::StreamClosed { conn, to });
    }

    /// The sending and receiving ends of direction `dir`, once both exist.
    pub(super) fn ends(&self, conn: u64, dir: usize) -> Option<(EndRef, EndRef)> {
        let c = self.streams.get(conn)?;
        Some((c.ends[dir]?, c.ends[1 - dir]?))
    }

    fn stream_close(&mut self, end: EndRef) {
        let Some((conn, side)) = self.streams.find(&end) else {
            return;
        };
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        if c.done[side] {
            return;
        }
        c.done[side] = true;
        // A connecting stream is closed by the open, after its queued messages.
        if c.state == ConnState::Open {
            self.schedule_close_after_data(conn, side);
        }
        self.streams.collect(conn);
    }

    /// The connect of `conn` reaches (or fails to reach) its target.
    pub(super) fn open_stream(&mut self, conn: u64) -> Result<(), Violation> {
        let Some(c) = self.streams.get(conn) else {
            return Ok(());
        };
        let (Some(init), addr, started) = (c.ends[0], c.addr, c.started) else {
            return Ok(());
        };
        if !self.is_live_end(&init) {
            self.streams.remove(conn);
            return Ok(());
        }
        let target = self
            .control_addrs
            .get(&addr)
            .copied()
            .filter(|&t| {
                self.network.unicast_reachable(init.node, t) && !self.network.is_cut(init.node, t)
            })
            .and_then(|t| self.slots.get(t).map(|s| (t, s.node.is_some(), s.down)));
        match target {
            Some((t, true, _)) => self.accept(conn, init, t),
            Some((t, false, Some(CrashMode::ProcessKill))) => {
                let at = self.now + self.stream_delay(t, init.node);
                self.fail_connect(conn, init, at);
                Ok(())
            }
            _ => {
                let at = (started + self.stream_model.connect_timeout).max(self.now);
                self.fail_connect(conn, init, at);
                Ok(())
            }
        }
    }

    fn fail_connect(&mut self, conn: u64, init: EndRef, at: Instant) {
        self.stats.connects_failed += 1;
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        c.state = ConnState::Broken;
        c.queued.clear();
        if c.done[0] {
            self.streams.remove(conn);
        } else {
            self.queue
                .push(at, Pending::StreamClosed { conn, to: init });
        }
    }

    fn accept(&mut self, conn: u64, init: EndRef, t: usize) -> Result<(), Violation> {
        let initiator = self
            .slots
            .get(init.node)
            .map(|s| (s.addr.ip(), s.config.id));
        let port = self.streams.ephemeral_port();
        let Some((slot, (ip, init_id))) = self.slots.get_mut(t).zip(initiator) else {
            return Ok(());
        };
        let accept_id = slot.config.id;
        let Some(node) = slot.node.as_mut() else {
            return Ok(());
        };
        let remote = SocketAddr::new(ip, port);
        let stream = node.accept_stream(remote);
        // The handshake is not simulated, only its outcome: each end learns the other's
        // id, and both share a key that is the connection's own.
        let key = blake3::derive_key("chorus sim session key", &conn.to_le_bytes());
        node.handle_session(self.now, stream, init_id, key);
        let end = EndRef {
            node: t,
            boot: slot.boot,
            stream,
        };
        self.streams.accepted(conn, end);
        self.stats.streams_opened += 1;
        self.record(
            t,
            TraceKind::StreamOpen {
                from: remote,
                stream,
            },
            &[],
        );
        let (queued, closed) = match self.streams.get_mut(conn) {
            Some(c) => (std::mem::take(&mut c.queued), c.done[0]),
            None => (Vec::new(), false),
        };
        for payload in queued {
            self.schedule_data(conn, 0, payload);
        }
        if closed {
            self.schedule_close_after_data(conn, 0);
        }
        self.after_step(t, false)?;
        if let Some(node) = self.slots.get_mut(init.node).and_then(|s| s.node.as_mut()) {
            node.handle_session(self.now, init.stream, accept_id, key);
        }
        self.after_step(init.node, false)
    }

    /// A message sent by end `dir` of `conn` arrives.
    pub(super) fn deliver_stream(
        &mut self,
        conn: u64,
        dir: usize,
        payload: &[u8],
    ) -> Result<(), Violation> {
        let Some(c) = self.streams.get(conn) else {
            return Ok(());
        };
        let (state, done) = (c.state, c.done[1 - dir]);
        let Some((from, to)) = self.ends(conn, dir) else {
            return Ok(());
        };
        if state == ConnState::Broken {
            return Ok(());
        }
        if self.network.is_cut(from.node, to.node) {
            self.break_conn(conn);
            return Ok(());
        }
        if done {
            // A box rebooted since this connection opened answers with a reset.
            let rebooted = self.live_boot(to.node).is_some_and(|boot| boot != to.boot);
            if rebooted {
                self.reset(conn, dir);
            }
            return Ok(());
        }
        let msg = match proto::decode(payload, MAX_FRAME) {
            Ok(Message::Control(msg)) => msg,
            other => {
                let error = match other {
                    Err(e) => e.to_string(),
                    Ok(m) => format!("a {:?} message on a control stream", m.kind()),
                };
                return Err(self.violation(to.node, Breach::StreamDecode { error }));
            }
        };
        self.deliver_control(to, msg, payload)
    }

    fn deliver_control(
        &mut self,
        to: EndRef,
        msg: Control,
        payload: &[u8],
    ) -> Result<(), Violation> {
        let now = self.now;
        let Some(node) = self.slots.get_mut(to.node).and_then(|s| s.node.as_mut()) else {
            return Ok(());
        };
        node.handle_stream_message(now, to.stream, msg);
        self.stats.stream_messages += 1;
        let kind = TraceKind::StreamData {
            stream: to.stream,
            len: payload.len(),
        };
        self.record(to.node, kind, payload);
        self.after_step(to.node, false)
    }

    /// End `to` of `conn` learns that its stream closed.
    pub(super) fn notify_closed(&mut self, conn: u64, to: EndRef) -> Result<(), Violation> {
        let Some((found, side)) = self.streams.find(&to) else {
            return Ok(());
        };
        let Some(c) = self.streams.get_mut(found).filter(|_| found == conn) else {
            return Ok(());
        };
        if c.done[side] {
            return Ok(());
        }
        c.done[side] = true;
        self.streams.collect(conn);
        if !self.is_live_end(&to) {
            return Ok(());
        }
        let now = self.now;
        if let Some(node) = self.slots.get_mut(to.node).and_then(|s| s.node.as_mut()) {
            node.handle_stream_closed(now, to.stream);
        }
        self.record(to.node, TraceKind::StreamClosed { stream: to.stream }, &[]);
        self.after_step(to.node, false)
    }
}
