//! The queues a node fills for its driver: datagrams, stream actions, events, counters.

use std::collections::VecDeque;

use super::{Counters, Destination, Event, StreamAction, StreamId, Transmit};
use crate::proto::{self, Control, Message};

/// Everything the state machines ask of the outside world, in order.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) streams: VecDeque<StreamAction>,
    pub(crate) events: VecDeque<Event>,
    /// Notes between state machines of one node, drained by the node itself.
    pub(crate) internal: VecDeque<Internal>,
    pub(crate) counters: Counters,
}

/// Something one state machine of a node tells another.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Internal {
    /// A guest came in (or back) on `stream`: it needs the pool and the schedule.
    GuestJoined { stream: StreamId },
    /// The host accepted a playback action (its own or a guest's request).
    PlaybackRequested { action: crate::core::Action },
    /// The party started: play the first song unless something plays already.
    Autoplay,
    /// A box offered one of its songs: it joins the pool, fetched from `song.origin`.
    Offered { song: crate::core::PoolSong },
}

impl Out {
    /// Encodes and queues a datagram; an encoding failure is a bug, counted, not sent.
    pub(crate) fn datagram(&mut self, destination: Destination, msg: &Message) {
        match proto::encode_datagram(msg) {
            Ok(payload) => self.raw(destination, payload),
            Err(_) => self.counters.encode_errors += 1,
        }
    }

    pub(crate) fn raw(&mut self, destination: Destination, payload: Vec<u8>) {
        self.counters.datagrams_out += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload,
        });
    }

    pub(crate) fn send(&mut self, stream: StreamId, msg: Control) {
        self.streams.push_back(StreamAction::Send { stream, msg });
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}
