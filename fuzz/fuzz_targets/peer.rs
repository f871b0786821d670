//! Hostile peers talking to one box's core: any sequence of datagrams and control-stream
//! messages (each decoded as the runtime decodes it), stream closes, passing time and
//! the box's own commands never panics, and the core's state stays within its bounds.
//!
//! The input is a list of records `[op, len_lo, len_hi, payload…]`: op 0 a datagram
//! (payload: the datagram, from one of a few addresses), 1 a stream frame (payload[0]
//! picks the stream, the rest is the frame's message), 2 a stream closing, 3 time
//! passing, 4 to 6 HOST, JOIN and LEAVE pressed.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};

use chorus::core::party::StreamId;
use chorus::core::{Instant, Node, NodeConfig, NodeId, Via};
use chorus::proto::{decode, Message, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

/// More output than this from one input record is a runaway loop, not a reaction.
const MAX_OUTPUT_PER_STEP: usize = 10_000;

fn peer_addr(selector: u8) -> SocketAddr {
    SocketAddr::from((
        Ipv4Addr::new(10, 0, 0, 1 + selector % 4),
        7701 + u16::from(selector % 3),
    ))
}

/// Drains everything the node wants done, as the runtime would.
fn drain(node: &mut Node, streams: &mut Vec<StreamId>) {
    let mut n = 0;
    while node.poll_transmit().is_some() {
        n += 1;
        assert!(n < MAX_OUTPUT_PER_STEP, "runaway transmits");
    }
    while let Some(action) = node.poll_stream_action() {
        if let chorus::core::party::StreamAction::Connect { stream, .. } = action {
            streams.push(stream);
        }
        n += 1;
        assert!(n < MAX_OUTPUT_PER_STEP, "runaway stream actions");
    }
    while node.poll_event().is_some() {
        n += 1;
        assert!(n < MAX_OUTPUT_PER_STEP, "runaway events");
    }
}

fn check_bounds(node: &Node) {
    let config = node.config();
    assert!(node.neighbour_count() <= config.max_neighbours);
    assert!(node.learned_len() <= config.max_learned_peers);
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::from_nanos(1_000_000_000);
    let mut node = Node::new(NodeConfig::new(NodeId(0xb0c5), "fuzzed"), now, 7);
    let mut streams: Vec<StreamId> = Vec::new();
    let mut rest = data;
    while let [op, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        match op % 7 {
            0 => {
                let (from, via) = match payload.first() {
                    Some(&s) if s & 0x80 != 0 => (peer_addr(s), Via::Unicast),
                    Some(&s) => (peer_addr(s), Via::Multicast),
                    None => (peer_addr(0), Via::Multicast),
                };
                node.handle_datagram(now, from, via, payload.get(1..).unwrap_or_default());
            }
            1 => {
                let Some((&pick, frame)) = payload.split_first() else {
                    continue;
                };
                let stream = match streams.get(usize::from(pick)) {
                    Some(&s) => s,
                    None => {
                        let s = node.accept_stream(peer_addr(pick));
                        streams.push(s);
                        s
                    }
                };
                if let Ok(Message::Control(msg)) = decode(frame, MAX_FRAME) {
                    node.handle_stream_message(now, stream, msg);
                }
            }
            2 => {
                if let Some(&s) = payload.first().and_then(|&p| streams.get(usize::from(p))) {
                    node.handle_stream_closed(now, s);
                }
            }
            3 => {
                let ms = payload.first().map_or(1000, |&b| u64::from(b) * 20);
                now = Instant::from_nanos(now.as_nanos() + ms * 1_000_000);
                node.handle_timeout(now);
            }
            4 => drop(node.host(now)),
            5 => drop(node.join(now, None)),
            _ => drop(node.leave(now)),
        }
        drain(&mut node, &mut streams);
        check_bounds(&node);
    }
});
