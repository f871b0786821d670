//! The event loop of one box: feeds socket reads, stream messages, control commands and
//! timer expiries into the core `Node`, and hands what it asks for to the part of the box
//! that carries it out, until cancelled.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpStream, UnixListener};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::Gate;
use super::bulk::{BulkCommand, BulkHandle};
use super::clones::Clones;
use super::commands::{Commands, Context};
use super::control::{self, CONTROL_SOCKET};
use super::noise::{Keys, SessionStats};
use super::persist::PartyMemory;
use super::playlists::Offers;
use super::playout::{PlayoutExec, TICK};
use super::publish::{Publisher, Sources};
use super::rxstamp::{self, Received};
use super::sealing::Sealing;
use super::setup::{self, RunError};
use super::sockets::Sockets;
use super::songs::Songs;
use super::streams::{SessionCtx, StreamEvent, Streams};
use crate::clock::monotonic_now;
use crate::command::{Ask, Response};
use crate::config::Config;
use crate::core::{Instant, Node, NodeId, Signer, SongRef, TransferView, Transmit, Via};
use crate::identity;
use crate::library::Library;
use crate::party_key::PartyKey;
use crate::proto::seal::MAX_SEALED_DATAGRAM;
use crate::status::{Snapshot, Status};

/// A box with its sockets bound, ready to [`run`](BoxRuntime::run).
#[derive(Debug)]
pub struct BoxRuntime {
    config: Config,
    node: Node,
    sockets: Sockets,
    local_addr: SocketAddr,
    /// Taken by the control task when the box runs.
    control: Option<UnixListener>,
    control_path: PathBuf,
    songs: Songs,
    /// What HOST can offer: the folder and its playlists, once scanned.
    offers: Offers,
    output: PlayoutExec,
    commands: Commands,
    memory: PartyMemory,
    /// The song-transfer listener until the box runs, then the manager's handle.
    bulk_listener: Option<tokio::net::TcpListener>,
    bulk: Option<BulkHandle>,
    /// What the transfer manager was last told.
    sent_view: Option<Option<TransferView>>,
    publisher: Publisher,
    /// Requests from the control socket and the buttons, one path into the box.
    asks_tx: mpsc::Sender<Ask>,
    asks: Option<mpsc::Receiver<Ask>>,
    /// Why chorus.txt was not applied at boot (read once: it changes only at boot).
    settings_error: Option<String>,
    /// The keys every TCP session proves this box's id with, and what sessions refused.
    session: SessionCtx,
    /// The core's count of malformed datagrams and ours of wrong-key ones when the loop
    /// last looked.
    malformed_seen: u64,
    /// The party key on the datagrams.
    sealing: Sealing,
}

/// Junk datagrams read in a row at most, so a flood cannot hold the loop from the rest.
const DRAIN_JUNK: usize = 64;

/// What the loop waits on besides the sockets, made when the box starts running.
struct Inputs {
    asks: mpsc::Receiver<Ask>,
    stream_events: mpsc::Receiver<StreamEvent>,
    scanned: mpsc::Receiver<(Library, Offers)>,
    playout: tokio::time::Interval,
}

impl BoxRuntime {
    /// Loads (or creates) the box identity, binds the discovery sockets, the TCP control
    /// listener and the control socket.
    pub async fn bind(config: Config) -> Result<Self, RunError> {
        let identity = identity::load_or_create(&config.state_dir)?;
        let id = identity.id();
        let party_key = match &config.party_key {
            Some(secret) => Some(PartyKey::derive(secret.expose())?),
            None => None,
        };
        let session = SessionCtx {
            keys: Keys::new(&identity)?.keyed(party_key.as_ref()),
            stats: Arc::new(SessionStats::default()),
            clones: Arc::new(Clones::new(config.state_dir.clone())),
            gate: Arc::new(Gate::default()),
        };
        let bound = setup::bind_sockets(&config).await?;
        let control_path = config.state_dir.join(CONTROL_SOCKET);
        let control = control::bind(&control_path).await?;
        let local_addr = bound.local_addr;
        let memory = PartyMemory::load(&config.state_dir);
        let mut node_config = config.node_config(id, local_addr.port(), bound.tcp_port);
        node_config.party.bulk_port = bound.bulk_port;
        node_config.party.rejoin = memory.remembered();
        node_config.party.signer = Some(Signer::new(identity.clone()));
        let node = Node::new(node_config, monotonic_now(), rand::random::<u64>());
        let tcp = bound.tcp_port;
        let keyed = party_key.is_some();
        tracing::info!(%id, name = node.name(), udp = %local_addr, tcp, keyed, "box ready");
        let output = PlayoutExec::new(setup::open_player(&config), &config.state_dir);
        let first = Status::of(&node, monotonic_now(), local_addr.to_string());
        let (asks_tx, asks) = mpsc::channel::<Ask>(32);
        let settings_error = crate::config::boot::notice::read(&config.state_dir);
        if let Some(e) = &settings_error {
            tracing::warn!(error = %e, "chorus.txt was not applied at boot; running on the previous settings");
        }
        Ok(BoxRuntime {
            config,
            node,
            sockets: bound.sockets,
            local_addr,
            control: Some(control),
            control_path,
            songs: Songs::default(),
            offers: Offers::default(),
            output,
            commands: Commands::default(),
            memory,
            bulk_listener: Some(bound.bulk_listener),
            bulk: None,
            sent_view: None,
            publisher: Publisher::new(first),
            asks_tx,
            asks: Some(asks),
            settings_error,
            session,
            malformed_seen: 0,
            sealing: Sealing::new(party_key),
        })
    }

    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// The unicast socket's local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where to send requests from outside the control socket (the buttons): the same
    /// path into the box as `chorus ctl`.
    pub fn requests(&self) -> mpsc::Sender<Ask> {
        self.asks_tx.clone()
    }

    /// The published status: a new snapshot about every 100 ms and after every request.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>> {
        self.publisher.subscribe()
    }

    /// Runs until `cancel` fires, then closes the sockets and removes the control socket.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), RunError> {
        let tracker = TaskTracker::new();
        let (mut streams, stream_events) =
            Streams::new(tracker.clone(), cancel.clone(), self.session.clone());
        let mut inputs = self.start(stream_events, &tracker, &cancel);
        let mut mbuf = vec![0u8; MAX_SEALED_DATAGRAM + 1];
        let mut ubuf = vec![0u8; MAX_SEALED_DATAGRAM + 1];
        let mut ucontrol = rxstamp::control_buffer();
        loop {
            // Datagrams first: a clock-sync request or answer carries the instant the
            // core saw, so every microsecond it waits here biases the members' clocks.
            self.flush(&mut streams).await;
            // Whatever just happened may have scheduled a start: the player hears of it
            // now, not at the next tick, which may come after it.
            self.play_out();
            self.flush(&mut streams).await;
            self.update_transfers();
            let sleep = tokio::time::sleep_until(to_tokio(self.node.poll_timeout()));
            // A song change lands on the tick after it without this: up to 50 ms late.
            let change = self.output.next_change().map(to_tokio);
            let change_due = async move {
                match change {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                received = self.sockets.recv_multicast(&mut mbuf) => {
                    self.received(received, Via::Multicast, &mbuf);
                    self.drain_junk(Via::Multicast, &mut mbuf, &mut ucontrol);
                }
                received = self.sockets.recv_unicast(&mut ubuf, &mut ucontrol) => {
                    self.received(received, Via::Unicast, &ubuf);
                    self.drain_junk(Via::Unicast, &mut ubuf, &mut ucontrol);
                }
                accepted = self.sockets.accept() => self.accepted(accepted, &mut streams),
                Some(event) = inputs.stream_events.recv() => self.stream_event(event, &mut streams),
                _ = sleep => {
                    let now = monotonic_now();
                    self.node.handle_timeout(now);
                    self.commands.expire(now);
                }
                Some(ask) = inputs.asks.recv() => {
                    self.ask(ask);
                    self.flush(&mut streams).await;
                    self.publish();
                }
                Some((library, offers)) = inputs.scanned.recv() => self.scanned(library, offers),
                Some(held) = held_songs(&mut self.bulk) => {
                    self.node.set_held(monotonic_now(), held.keys().copied().collect());
                    self.songs.set_cached(held);
                }
                _ = inputs.playout.tick() => self.tick(),
                // The loop's top runs the playout step.
                () = change_due => {}
            }
        }
        tracker.close();
        tracker.wait().await;
        if let Err(e) = std::fs::remove_file(&self.control_path) {
            let path = self.control_path.display();
            tracing::warn!(path = %path, error = %e, "cannot remove control socket");
        }
        tracing::info!(id = %self.node.id(), "box stopped");
        Ok(())
    }

    /// Starts the tasks beside the loop: the control socket, the music folder scan and
    /// the transfer manager.
    fn start(
        &mut self,
        stream_events: mpsc::Receiver<StreamEvent>,
        tracker: &TaskTracker,
        cancel: &CancellationToken,
    ) -> Inputs {
        let asks = match self.asks.take() {
            Some(rx) => rx,
            None => mpsc::channel::<Ask>(1).1,
        };
        if let Some(listener) = self.control.take() {
            let serve = control::serve(
                listener,
                self.asks_tx.clone(),
                cancel.clone(),
                tracker.clone(),
            );
            tracker.spawn(serve);
        }
        let scanned = setup::scan_library(&self.config, tracker);
        if let Some(listener) = self.bulk_listener.take() {
            // The transfer port admits on its own: strangers holding its handshake slots
            // must not keep boxes from joining on the control port.
            let session = SessionCtx {
                gate: Arc::new(Gate::default()),
                ..self.session.clone()
            };
            let bulk =
                setup::start_transfers(&self.config, session, listener, tracker, cancel.clone());
            self.bulk = Some(bulk);
        }
        let mut playout = tokio::time::interval(TICK);
        playout.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Inputs {
            asks,
            stream_events,
            scanned,
            playout,
        }
    }

    fn received(&mut self, received: std::io::Result<Received>, via: Via, buf: &[u8]) {
        match received {
            Ok(Received {
                len,
                from,
                kernel_rx,
            }) => {
                let (now, rx) = rxstamp::now_and_rx(kernel_rx);
                let bytes = buf.get(..len).unwrap_or(buf);
                if let Some(bytes) = self.sealing.incoming(bytes) {
                    self.node.handle_datagram_at(now, rx, from, via, &bytes);
                }
            }
            // UDP receive errors (e.g. ICMP feedback) concern one datagram; keep going.
            Err(e) => tracing::debug!(?via, error = %e, "receive failed"),
        }
    }

    /// While the datagram just read was junk, reads the next one already waiting
    /// without a pass round the loop (which drives the player and the transfers): a
    /// flood of junk then costs a read each. Any other datagram ends the run, so what
    /// it asks for (a clock-sync answer above all) goes out at once.
    fn drain_junk(&mut self, via: Via, buf: &mut [u8], control: &mut [u8]) {
        for _ in 0..DRAIN_JUNK {
            let junk = self.junk();
            if junk == self.malformed_seen {
                return;
            }
            self.malformed_seen = junk;
            match self.sockets.try_recv(via, buf, control) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                received => self.received(received, via, buf),
            }
        }
        self.malformed_seen = self.junk();
    }

    /// Datagrams dropped unread so far: malformed, or not of this box's party key.
    fn junk(&self) -> u64 {
        self.node.counters().malformed + self.sealing.wrong_key()
    }

    fn accepted(
        &mut self,
        accepted: std::io::Result<(TcpStream, SocketAddr)>,
        streams: &mut Streams,
    ) {
        match accepted {
            Ok((socket, remote)) if streams.has_room() => {
                // Dropping a refused socket closes it.
                let Some(permit) = self.session.admit(remote) else {
                    return;
                };
                let id = self.node.accept_stream(remote);
                streams.adopt(id, socket, permit);
            }
            Ok((_, remote)) => {
                tracing::warn!(%remote, "too many control streams; refused");
                self.session.stats.refused(remote, true);
            }
            Err(e) => tracing::warn!(error = %e, "TCP accept failed"),
        }
    }

    fn stream_event(&mut self, event: StreamEvent, streams: &mut Streams) {
        let now = monotonic_now();
        match event {
            StreamEvent::Session(id, peer, key) => self.node.handle_session(now, id, peer, key),
            StreamEvent::Message(id, msg) => self.node.handle_stream_message(now, id, msg),
            StreamEvent::Closed(id, reason) => {
                if let Some(e) = reason {
                    tracing::debug!(stream = id.0, error = %e, "control stream closed");
                }
                streams.closed(id);
                self.node.handle_stream_closed(now, id);
            }
        }
    }

    /// A request from the control socket or the buttons.
    fn ask(&mut self, ask: Ask) {
        let cx = Context {
            node: &mut self.node,
            library: self.songs.library(),
            offers: &mut self.offers,
            output: &mut self.output,
        };
        if let Some(reply) = self.commands.handle(cx, ask.request, ask.reply) {
            // A fresh snapshot, published to every reader, so that `ctl status` right
            // after a change on this or another box sees it.
            self.publish();
            let status = self.publisher.snapshot().status.clone();
            let _ = reply.send(Response::status(status));
        }
    }

    /// The first scan of the music folder finished.
    fn scanned(&mut self, library: Library, offers: Offers) {
        let (pool, playlist) = offers.default_choice();
        self.node.set_playlist(pool, playlist);
        self.offers = offers;
        if let Some(bulk) = &self.bulk {
            let songs = super::bulk::local_songs(&library);
            let _ = bulk.commands.try_send(BulkCommand::Library(songs));
        }
        self.songs.set_library(library);
    }

    /// Drives the player (re-anchoring it each period), and publishes when due.
    fn tick(&mut self) {
        self.node.set_output_latency(self.output.latency());
        self.play_out();
        if self.publisher.due(monotonic_now()) {
            self.publish();
        }
    }

    /// Hands the core's playout decisions to the player.
    fn play_out(&mut self) {
        let now = monotonic_now();
        let view = self.node.playback(now);
        let started = self.output.tick(now, view, &self.songs);
        if let (Some(bulk), Some(song)) = (&self.bulk, started) {
            let _ = bulk.commands.try_send(BulkCommand::Played(song));
        }
    }

    /// Carries out everything the core queued: datagrams, stream actions, events, and
    /// the party to remember.
    async fn flush(&mut self, streams: &mut Streams) {
        while let Some(Transmit {
            destination,
            payload,
        }) = self.node.poll_transmit()
        {
            if let Some(payload) = self.sealing.outgoing(payload) {
                let transmit = Transmit {
                    destination,
                    payload,
                };
                self.sockets.send(transmit).await;
            }
        }
        while let Some(action) = self.node.poll_stream_action() {
            // Gone or hopelessly behind: dropped, and the core reacts.
            if let Some(gone) = streams.act(action) {
                self.node.handle_stream_closed(monotonic_now(), gone);
            }
        }
        while let Some(event) = self.node.poll_event() {
            if let crate::core::Event::OwnIdSeen { control } = event {
                streams.probe_clone(control);
            }
            self.commands.event(event);
        }
        let party = self.node.party().map(|p| p.id);
        self.memory.keep(party, self.node.rejoining());
    }

    /// Rebuilds the status snapshot and hands it to every reader.
    fn publish(&mut self) {
        let sources = Sources {
            node: &self.node,
            local_addr: self.local_addr,
            output: &self.output,
            songs: &self.songs,
            transfers: self.bulk.as_ref().map(|b| &b.status),
            multicast_error: self.sockets.multicast_error(),
            audio_output: &self.config.audio.output,
            settings_error: self.settings_error.as_deref(),
            sessions: &self.session.stats,
            keyed: self.sealing.keyed(),
            wrong_key: self.sealing.wrong_key(),
            playlist_skipped: self.offers.skipped(),
        };
        self.publisher.publish(monotonic_now(), &sources);
    }

    /// Tells the transfer manager when the party, its boxes or the songs to hold change.
    fn update_transfers(&mut self) {
        let Some(bulk) = &self.bulk else { return };
        let view = self.node.transfer_view(monotonic_now());
        if self.sent_view.as_ref() == Some(&view) {
            return;
        }
        if bulk
            .commands
            .try_send(BulkCommand::View(view.clone()))
            .is_ok()
        {
            self.sent_view = Some(view);
        }
    }
}

/// The next cache update from the transfer manager (never, without one).
async fn held_songs(bulk: &mut Option<BulkHandle>) -> Option<HashMap<SongRef, PathBuf>> {
    match bulk {
        Some(b) => b.held.recv().await,
        None => std::future::pending().await,
    }
}

fn to_tokio(deadline: Instant) -> tokio::time::Instant {
    let now = monotonic_now();
    tokio::time::Instant::now() + (deadline - now)
}
