//! Faults on control streams: a cut breaks the connections across it, a crash ends a
//! box's streams (quietly or with resets, by [`CrashMode`]), and a rebooted box resets
//! the connections its old self had.

use super::{Pending, Sim};
use crate::sim::streams::{ConnState, CrashMode};

impl Sim {
    /// The receiver of direction `dir` was rebooted: the sender is told after a link delay.
    pub(super) fn reset(&mut self, conn: u64, dir: usize) {
        let Some((from, to)) = self.ends(conn, dir) else {
            return;
        };
        self.stats.streams_broken += 1;
        let at = self.now + self.stream_delay(to.node, from.node);
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        c.state = ConnState::Broken;
        if !c.done[dir] {
            self.queue
                .push(at, Pending::StreamClosed { conn, to: from });
        }
    }

    /// A cut runs across `conn`: nothing more arrives; both ends learn it later.
    pub(super) fn break_conn(&mut self, conn: u64) {
        let at = self.now + self.stream_model.break_delay;
        let Some(c) = self.streams.get_mut(conn) else {
            return;
        };
        if c.state == ConnState::Broken {
            return;
        }
        c.state = ConnState::Broken;
        self.stats.streams_broken += 1;
        for side in 0..2 {
            if let (Some(to), false) = (c.ends[side], c.done[side]) {
                self.queue.push(at, Pending::StreamClosed { conn, to });
            }
        }
    }

    /// Breaks every open connection that a cut now runs across.
    pub(super) fn break_cut_streams(&mut self) {
        for conn in self.streams.unbroken() {
            let cut = self.streams.get(conn).is_some_and(|c| {
                c.state == ConnState::Open
                    && matches!(c.ends, [Some(a), Some(b)] if self.network.is_cut(a.node, b.node))
            });
            if cut {
                self.break_conn(conn);
            }
        }
    }

    /// Box `i` (incarnation `boot`) went down in `mode`: its streams end with it.
    pub(super) fn drop_streams_of(&mut self, i: usize, boot: u64, mode: CrashMode) {
        for (conn, side) in self.streams.of_node(i, boot) {
            let Some(c) = self.streams.get_mut(conn) else {
                continue;
            };
            if c.done[side] {
                continue;
            }
            c.done[side] = true;
            if mode == CrashMode::ProcessKill && c.state == ConnState::Open {
                self.schedule_close_after_data(conn, side);
            }
            self.streams.collect(conn);
        }
    }
}
