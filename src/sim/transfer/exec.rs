//! The runtime's part in the transfer simulator: carrying out what each box's machine
//! asks (connections over simulated links, chunks through finite uplinks, an instant
//! simulated disk), and the hostile peer that claims every chunk and serves garbage.

use std::time::Duration;

use bytes::Bytes;

use super::world::{id, index_of, Ev, World, PARTY};
use crate::core::transfer::{ChunkSet, ConnId, TransferAction};
use crate::proto::Bulk;

impl World {
    /// Carries out what box `i`'s machine wants and keeps its wake-up scheduled.
    pub(super) fn step(&mut self, i: usize) {
        if !self.linked(i, i) {
            return;
        }
        while let Some(action) = self
            .boxes
            .get_mut(i)
            .and_then(|b| b.machine.as_mut())
            .and_then(|m| m.poll_action())
        {
            self.execute(i, action);
        }
        let Some(b) = self.boxes.get_mut(i) else {
            return;
        };
        if let Some(t) = b.machine.as_ref().map(|m| m.poll_timeout()) {
            if b.wake != Some(t) {
                b.wake = Some(t);
                self.queue.push(t, Ev::Wake(i));
            }
        }
    }

    fn execute(&mut self, i: usize, action: TransferAction) {
        let now = self.now;
        match action {
            TransferAction::Send { conn, msg } => self.send(i, conn, msg),
            TransferAction::Dial { conn, addr, hello } => {
                let to = index_of(addr);
                let at = now + self.latency(i, to);
                let ev = Ev::Connect {
                    from: i,
                    to,
                    conn,
                    hello,
                };
                self.queue.push(at, ev);
            }
            TransferAction::Close { conn } => self.close(i, conn),
            TransferAction::HeldChanged(held) => {
                if let Some(b) = self.boxes.get_mut(i) {
                    b.done |= held.contains(&self.song);
                }
            }
            TransferAction::MarkPlayed { .. } => {}
            disk => self.disk(i, disk),
        }
    }

    /// The simulated disk answers at once: the origin describes the song, members start
    /// empty, reads serve what the box stored, writes store.
    fn disk(&mut self, i: usize, action: TransferAction) {
        let (now, song) = (self.now, self.song);
        let manifest = self.manifest.clone();
        let data = self.data.clone();
        let Some(b) = self.boxes.get_mut(i) else {
            return;
        };
        let Some(m) = b.machine.as_mut() else {
            return;
        };
        let mut corrupt = false;
        match action {
            TransferAction::BuildManifest { song } => {
                let result = (i == 0)
                    .then_some(manifest)
                    .ok_or("no such file".to_owned());
                m.manifest_built(now, song, result);
            }
            TransferAction::BeginDownload { .. } => m.begun(now, song, Ok(b.stored.clone()), &[]),
            TransferAction::ReadChunk { conn, chunk, .. } => {
                let range = manifest.chunk_range(chunk);
                let result = if b.stored.contains(chunk) {
                    Ok(data.slice(range.start as usize..range.end as usize))
                } else {
                    Err("not held".to_owned())
                };
                m.chunk_read(conn, song, chunk, result);
            }
            TransferAction::WriteChunk { chunk, .. } => {
                // What the machine calls verified is checked again against the song.
                corrupt = !manifest.verify_chunk(chunk.index(), chunk.data());
                let chunk = chunk.index();
                b.stored.insert(chunk);
                m.chunk_written(now, song, chunk, Ok(b.stored.is_complete()));
            }
            _ => {}
        }
        self.corrupt_stored += u64::from(corrupt);
    }

    /// Sends `msg` from box `i` on its connection `conn`: chunks queue on the sender's
    /// uplink, first come first served; requests and chunks may be lost.
    fn send(&mut self, i: usize, conn: ConnId, msg: Bulk) {
        let Some(&(to, remote)) = self.boxes.get(i).and_then(|b| b.links.get(&conn)) else {
            return;
        };
        let latency = self.latency(i, to);
        let mut at = self.now + latency;
        if let Bulk::Chunk { data, .. } = &msg {
            let len = data.len() as u64;
            let nanos = u128::from(len) * 1_000_000_000 / u128::from(self.config.uplink.max(1));
            let air = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            let now = self.now;
            if let Some(b) = self.boxes.get_mut(i) {
                let end = b.busy_until.max(now) + air;
                b.busy_until = end;
                b.uploaded += len;
                at = end + latency;
            }
        }
        if matches!(msg, Bulk::Request { .. } | Bulk::Chunk { .. }) && self.lost() {
            return;
        }
        let ev = Ev::Deliver {
            from: i,
            to,
            conn: remote,
            msg,
        };
        self.queue.push(at, ev);
    }

    /// Box `i` closes `conn`; the other end hears of it one latency later.
    fn close(&mut self, i: usize, conn: ConnId) {
        let Some((to, remote)) = self.boxes.get_mut(i).and_then(|b| b.links.remove(&conn)) else {
            return;
        };
        let at = self.now + self.latency(i, to);
        self.queue.push(at, Ev::Closed { to, conn: remote });
    }

    /// A dial from box `from` reaches box `to`: refused if `to` is gone or full, else both
    /// ends are linked and `to` hears the hello.
    pub(super) fn connect(&mut self, from: usize, to: usize, conn: ConnId, hello: Bulk) {
        let now = self.now;
        let accepted = match self.boxes.get_mut(to) {
            Some(b) if b.alive && b.hostile => {
                b.next_conn += 1;
                Some(b.next_conn)
            }
            Some(b) if b.alive => b.machine.as_mut().and_then(|m| m.accept(now)),
            _ => None,
        };
        let Some(local) = accepted else {
            let at = now + self.latency(from, to);
            self.queue.push(at, Ev::Closed { to: from, conn });
            return;
        };
        if let Some(b) = self.boxes.get_mut(from) {
            b.links.insert(conn, (to, local));
        }
        if let Some(b) = self.boxes.get_mut(to) {
            b.links.insert(local, (from, conn));
        }
        self.deliver(to, local, hello);
    }

    /// A message arrives at box `to` on its connection `conn`.
    pub(super) fn deliver(&mut self, to: usize, conn: ConnId, msg: Bulk) {
        let now = self.now;
        let Some(b) = self.boxes.get_mut(to) else {
            return;
        };
        if !b.links.contains_key(&conn) {
            return; // closed meanwhile
        }
        match (b.machine.as_mut(), msg) {
            (Some(m), Bulk::Hello { id, party }) => m.hello(now, conn, id, party),
            (Some(m), msg) => m.message(now, conn, msg),
            (None, msg) => self.hostile(to, conn, &msg),
        }
        self.step(to);
    }

    /// The hostile peer answers a hello with its own and a claim to every chunk, and
    /// every request with garbage of the right length.
    fn hostile(&mut self, i: usize, conn: ConnId, msg: &Bulk) {
        let song = self.song;
        match msg {
            Bulk::Hello { .. } => {
                let n = self.manifest.chunk_count();
                let all = ChunkSet::full(n);
                let hello = Bulk::Hello {
                    id: id(i),
                    party: PARTY,
                };
                self.send(i, conn, hello);
                let have = Bulk::Have {
                    song,
                    chunks: n,
                    bits: all.bits().to_vec(),
                };
                self.send(i, conn, have);
            }
            Bulk::Request { chunk, .. } => {
                let len = self.manifest.chunk_len(*chunk);
                let data = Bytes::from(vec![0xa5; len]);
                let chunk = *chunk;
                self.send(i, conn, Bulk::Chunk { song, chunk, data });
            }
            _ => {}
        }
    }
}
