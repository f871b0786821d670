//! The node's playback side: the pool it offers, the songs it holds, and after every
//! event, carrying out what the party decided and keeping playback, the schedule, the
//! start gate and the guests' holdings in step with the party.

use std::net::SocketAddr;

use super::*;
use crate::core::party::Decision;
use crate::core::schedule::to_wire;

/// What the song transfer of a box needs from the party (see [`Node::transfer_view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferView {
    pub party: crate::proto::PartyId,
    /// The host: the origin of the pool's songs.
    pub host: NodeId,
    /// Everyone else in the party with a bulk port: id and bulk address.
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// The songs to hold now, the current one first, each with the box it comes from
    /// (the host, or the member that offered it).
    pub window: Vec<(SongRef, NodeId)>,
    /// The host holds the first song back until the boxes that joined hold it.
    pub waiting_for_first_song: bool,
}

impl Node {
    /// Playback's messages: the pool and the schedule from the host we follow, round
    /// trips and holdings from our guests. From anyone else they are out of place.
    pub(super) fn playback_message(&mut self, now: Instant, stream: StreamId, msg: Control) {
        match msg {
            Control::Pool {
                songs, playlist, ..
            } if self.party.is_host_stream(stream) => {
                self.playback.host_pool(from_wire(songs), playlist)
            }
            Control::Schedule { entries, .. } if self.party.is_host_stream(stream) => {
                self.playback.host_entries(from_wire(entries))
            }
            Control::Delivery {
                rtt_us,
                clock_error_us,
                ..
            } if self.party.is_guest_stream(stream) => {
                self.playback.guest_rtt(now, stream, rtt_us, clock_error_us)
            }
            Control::Holdings { missing, .. } if self.party.is_guest_stream(stream) => {
                self.party.set_guest_missing(&mut self.out, stream, missing)
            }
            _ => self.out.counters.unexpected_control += 1,
        }
    }

    /// The songs this box offers when it hosts (its library, in play order).
    pub fn set_pool(&mut self, pool: Vec<PoolSong>) {
        self.playback.set_local_pool(pool, None);
    }

    /// The songs this box offers when it next hosts, from the playlist `name` (`None`:
    /// the whole music folder), in play order. A party under way keeps its pool; the
    /// name travels with the pool to every guest (cut to the protocol's limit).
    pub fn set_playlist(&mut self, pool: Vec<PoolSong>, name: Option<String>) {
        self.playback.set_local_pool(pool, name);
    }

    /// The playlist the party's pool follows, as its host said; `None` outside a party
    /// or for a host's whole music folder.
    pub fn playlist(&self) -> Option<&str> {
        self.playback.playlist()
    }

    /// How long this box's audio output takes to make a new song audible (the sink's
    /// queued audio): as host, actions are scheduled at least that far ahead, so that
    /// every box starts on the scheduled frame rather than joining late.
    pub fn set_output_latency(&mut self, latency: std::time::Duration) {
        self.playback.set_output_latency(latency);
    }

    /// Songs this box downloaded into its cache (it holds its library's already); the
    /// host learns which pool songs we still lack.
    pub fn set_held(&mut self, now: Instant, held: std::collections::HashSet<SongRef>) {
        self.playback.set_held(held);
        self.after(now, None);
    }

    /// What the song transfer needs to know: the party, who is in it, and which songs
    /// every box should hold now (the current one and the next, up to the pool window).
    pub fn transfer_view(&self, now: Instant) -> Option<TransferView> {
        let view = self.party.view()?;
        let window = self
            .playback
            .window(now, self.party.config().pool_window)
            .into_iter()
            .map(|(song, origin)| (song, origin.unwrap_or(view.host)))
            .collect();
        Some(TransferView {
            party: view.id,
            host: view.host,
            peers: view
                .members
                .iter()
                .filter(|m| m.id != self.config.id && m.bulk_port != 0)
                .filter(|m| !m.addr.ip().is_unspecified())
                .map(|m| (m.id, SocketAddr::new(m.addr.ip(), m.bulk_port)))
                .collect(),
            window,
            waiting_for_first_song: self.playback.gated(),
        })
    }

    /// What should be audible now, once this box knows the party's time.
    pub fn playback(&self, now: Instant) -> Option<PlaybackView> {
        self.playback.view(now)
    }

    /// Keeps playback in step with the party after anything happened, and carries out
    /// what the party just decided (after the seat, so a new host has its schedule).
    pub(super) fn after(&mut self, now: Instant, decision: Option<Decision>) {
        let party = self.sync_seat(now);
        if let (Some(party), Some(decision)) = (party, decision) {
            self.carry_out(now, party, decision);
        }
        if let Some(party) = party {
            let party_state = &self.party;
            let ready = |i| party_state.start_waits_for(i).is_empty();
            let clocks = self.playback.clocks_settled(&party_state.founder_streams());
            if let Some(action) = self.playback.gate_open(now, ready, clocks) {
                self.schedule_now(now, party, action);
            }
        }
        if let (Some(party), Some(missing)) = (party, self.playback.holdings_due()) {
            let msg = Control::Holdings { party, missing };
            self.party.send_to_host(&mut self.out, msg);
        }
        self.party.set_current_song(self.current_index(now));
        self.party.follow_pool(self.playback.pool_songs());
        // Asked even out of a party: the report interval runs on regardless.
        if let (Some(party), Some((rtt_us, clock_error_us))) =
            (party, self.playback.report_due(now))
        {
            let msg = Control::Delivery {
                party,
                rtt_us,
                clock_error_us,
            };
            self.party.send_to_host(&mut self.out, msg);
        }
    }

    fn current_index(&self, now: Instant) -> Option<u32> {
        self.playback.view(now).and_then(|v| v.state.index)
    }

    /// Seats playback in our party (or none); a host whose seat changed sends the pool
    /// and the schedule to every guest. Returns the party playback follows.
    fn sync_seat(&mut self, now: Instant) -> Option<PartyId> {
        let seat = match self.party.view() {
            Some(v) if matches!(v.state, PartyState::Forming | PartyState::Started) => {
                Some((v.id, v.role, v.host))
            }
            // Finding a successor, or moving to another host of the same party: the
            // music keeps playing on the schedule and the clock estimate we have.
            Some(v) if self.playback.party() == Some(v.id) => self.playback.current_seat(),
            _ => None,
        };
        let party = seat.map(|s| s.0);
        let changed = self.playback.seat(now, seat, self.party.host_time_link());
        if let (true, Some(party)) = (changed, party) {
            let pool = Control::Pool {
                party,
                songs: to_wire(&self.playback.pool()),
                playlist: self.playback.playlist().map(str::to_owned),
            };
            self.party.broadcast(&mut self.out, &pool);
            for chunk in self.playback.schedule_messages(MAX_SCHEDULE) {
                let msg = Control::Schedule {
                    party,
                    entries: to_wire(&chunk),
                };
                self.party.broadcast(&mut self.out, &msg);
            }
        }
        party
    }

    /// Carries out what the party decided.
    fn carry_out(&mut self, now: Instant, party: PartyId, decision: Decision) {
        match decision {
            Decision::GuestJoined { stream } => {
                let songs = to_wire(&self.playback.pool());
                let playlist = self.playback.playlist().map(str::to_owned);
                let msg = Control::Pool {
                    party,
                    songs,
                    playlist,
                };
                self.out.send(stream, msg);
                for chunk in self.playback.schedule_messages(MAX_SCHEDULE) {
                    let entries = to_wire(&chunk);
                    self.out.send(stream, Control::Schedule { party, entries });
                }
            }
            Decision::AddSong { song } => {
                if self.playback.offer(song) {
                    let songs = to_wire(&self.playback.pool());
                    let playlist = self.playback.playlist().map(str::to_owned);
                    let msg = Control::Pool {
                        party,
                        songs,
                        playlist,
                    };
                    self.party.broadcast(&mut self.out, &msg);
                }
            }
            Decision::Autoplay => {
                let action = Action::Select { index: 0 };
                // Unless a first song waits already, or something was played already.
                if !self.playback.gated() && self.playback.first_song(&action).is_some() {
                    self.play_or_gate(now, party, action);
                }
            }
            Decision::Play { action } => {
                // A held-back first song just becomes another one.
                if !self.playback.retarget_gate(&action) {
                    self.play_or_gate(now, party, action);
                }
            }
        }
    }

    /// Schedules `action`, unless it starts the party's first song and the boxes that
    /// joined before the start do not hold it yet: then it waits for them (a while).
    fn play_or_gate(&mut self, now: Instant, party: PartyId, action: Action) {
        let waits = (self.playback.first_song(&action))
            .is_some_and(|i| !self.party.start_waits_for(i).is_empty());
        if waits {
            let deadline = now + self.party.config().start_wait;
            self.playback.gate(action, deadline);
        } else {
            self.schedule_now(now, party, action);
        }
    }

    /// The host schedules `action` and tells every guest.
    fn schedule_now(&mut self, now: Instant, party: PartyId, action: Action) {
        if let Some(entry) = self.playback.schedule(now, action) {
            let msg = Control::Schedule {
                party,
                entries: vec![entry.into()],
            };
            self.party.broadcast(&mut self.out, &msg);
        }
    }
}
