//! The event loop of one box: feeds socket reads, stream messages, control commands and
//! timer expiries into the core `Node` and carries out what it asks for, until cancelled.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::control::{self, ControlError, CONTROL_SOCKET};
use super::rxstamp::{self, Received};
use super::streams::{self, Outgoing, StreamEvent, StreamHandle};
use super::{persist, sockets};
use crate::clock::monotonic_now;
use crate::command::{Ask, Response};
use crate::config::Config;
use crate::core::{Destination, Instant, Node, NodeId, StreamAction, StreamId, Transmit, Via};
use crate::identity::{self, IdentityError};
use crate::proto::MAX_DATAGRAM;
use crate::status::{Snapshot, Status};

/// Inbound control streams at once; more are refused until some close.
const MAX_STREAMS: usize = 256;

/// Why a box could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The state dir or id is unusable.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A socket could not be set up: another program holds the port, or the interface
    /// address is not on this machine.
    #[error("cannot set up the {what} socket: {source}")]
    Socket {
        what: &'static str,
        source: std::io::Error,
    },
    /// The control socket could not be set up.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// A box with its sockets bound, ready to [`run`](BoxRuntime::run).
#[derive(Debug)]
pub struct BoxRuntime {
    pub(super) config: Config,
    pub(super) node: Node,
    multicast: UdpSocket,
    unicast: UdpSocket,
    tcp: TcpListener,
    /// Taken by the control task when the box runs.
    control: Option<UnixListener>,
    control_path: PathBuf,
    pub(super) local_addr: SocketAddr,
    streams: HashMap<StreamId, StreamHandle>,
    /// Control clients waiting for the host's answer to their request, by request id.
    pub(super) pending: HashMap<u32, (Instant, oneshot::Sender<Response>)>,
    /// The music folder, once its first scan finished.
    pub(super) library: Option<crate::library::Library>,
    /// The playback thread, if the audio output opened.
    pub(super) player: Option<crate::audio::player::Player>,
    /// What the core's playout machine last told the player.
    pub(super) playout: crate::core::Playout,
    /// The party id last written to the state dir.
    remembered: Option<crate::proto::PartyId>,
    /// The song-transfer listener until the box runs, then the manager's handle.
    bulk_listener: Option<TcpListener>,
    pub(super) bulk: Option<super::bulk::BulkHandle>,
    /// Songs fetched into the cache, by content hash.
    pub(super) cached: HashMap<crate::core::SongRef, PathBuf>,
    /// What the transfer manager was last told.
    sent_view: Option<Option<crate::core::TransferView>>,
    /// This box's own volume, 0 to 100 (kept in the state dir).
    pub(super) box_volume: u8,
    /// The status snapshot every reader sees.
    pub(super) publisher: super::publish::Publisher,
    /// Requests from the control socket and the buttons, one path into the box.
    asks_tx: mpsc::Sender<Ask>,
    asks: Option<mpsc::Receiver<Ask>>,
}

impl BoxRuntime {
    /// Loads (or creates) the box id, binds the discovery sockets, the TCP control
    /// listener and the control socket.
    pub async fn bind(config: Config) -> Result<Self, RunError> {
        let id = identity::load_or_create(&config.state_dir)?;
        let d = &config.discovery;
        let socket_err = |what| move |source| RunError::Socket { what, source };
        let multicast = sockets::multicast_receiver(d.group, d.port, &d.interfaces)
            .map_err(socket_err("multicast"))?;
        let unicast = sockets::unicast_socket(d.unicast_port).map_err(socket_err("unicast"))?;
        let local_addr = unicast.local_addr().map_err(socket_err("unicast"))?;
        warn_if_moved("unicast", d.unicast_port, local_addr.port());
        let tcp = sockets::tcp_listener(config.party.control_port)
            .await
            .map_err(socket_err("TCP control"))?;
        let tcp_port = tcp.local_addr().map_err(socket_err("TCP control"))?.port();
        warn_if_moved("TCP control", config.party.control_port, tcp_port);
        let bulk_listener = sockets::tcp_listener(config.songs.bulk_port)
            .await
            .map_err(socket_err("TCP song transfer"))?;
        let bulk_port = bulk_listener
            .local_addr()
            .map_err(socket_err("TCP song transfer"))?
            .port();
        warn_if_moved("TCP song transfer", config.songs.bulk_port, bulk_port);
        let control_path = config.state_dir.join(CONTROL_SOCKET);
        let control = control::bind(&control_path).await?;
        let mut node_config = config.node_config(id, local_addr.port(), tcp_port);
        node_config.party.bulk_port = bulk_port;
        node_config.party.rejoin = persist::load(&config.state_dir);
        let remembered = node_config.party.rejoin;
        let node = Node::new(node_config, monotonic_now(), rand::random::<u64>());
        tracing::info!(%id, name = node.name(), udp = %local_addr, tcp = tcp_port, "box ready");
        let box_volume = persist::load_box_volume(&config.state_dir);
        let player = super::setup::open_player(&config);
        if let Some(p) = &player {
            p.send(crate::audio::player::PlayerCommand::BoxVolume(box_volume));
        }
        let publisher = super::publish::Publisher::new(Status::of(
            &node,
            monotonic_now(),
            local_addr.to_string(),
        ));
        let (asks_tx, asks) = mpsc::channel::<Ask>(32);
        Ok(BoxRuntime {
            config,
            node,
            multicast,
            unicast,
            tcp,
            control: Some(control),
            control_path,
            local_addr,
            streams: HashMap::new(),
            pending: HashMap::new(),
            library: None,
            player,
            playout: Default::default(),
            remembered,
            bulk_listener: Some(bulk_listener),
            bulk: None,
            cached: HashMap::new(),
            sent_view: None,
            box_volume,
            publisher,
            asks_tx,
            asks: Some(asks),
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
        let mut commands = match self.asks.take() {
            Some(rx) => rx,
            None => mpsc::channel::<Ask>(1).1,
        };
        let (events_tx, mut stream_events) = mpsc::channel::<StreamEvent>(1024);
        if let Some(control) = self.control.take() {
            let serve = control::serve(
                control,
                self.asks_tx.clone(),
                cancel.clone(),
                tracker.clone(),
            );
            tracker.spawn(serve);
        }
        let mut scanned = super::setup::scan_library(&self.config, &tracker);
        if let Some(listener) = self.bulk_listener.take() {
            let songs = &self.config.songs;
            let config = super::bulk::BulkConfig {
                me: self.node.id(),
                cache_dir: self.config.state_dir.join("cache"),
                quota_bytes: songs.cache_quota_mb.saturating_mul(1 << 20),
                swarm: songs.swarm,
                max_in_flight: songs.max_in_flight,
                upload_bytes_per_sec: songs.upload_limit_kbps.saturating_mul(1000) / 8,
            };
            self.bulk = Some(super::bulk::spawn(
                config,
                listener,
                &tracker,
                cancel.clone(),
            ));
        }
        let mut playout = tokio::time::interval(super::playout::TICK);
        playout.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let d = &self.config.discovery;
        let group = SocketAddr::from((d.group, d.port));
        let mut mbuf = vec![0u8; MAX_DATAGRAM + 1];
        let mut ubuf = vec![0u8; MAX_DATAGRAM + 1];
        let mut ucontrol = rxstamp::control_buffer();
        loop {
            self.flush(group, &tracker, &events_tx, &cancel).await;
            self.update_transfers();
            let sleep = tokio::time::sleep_until(to_tokio(self.node.poll_timeout()));
            tokio::select! {
                _ = cancel.cancelled() => break,
                received = self.multicast.recv_from(&mut mbuf) => {
                    self.received(received.map(Received::unstamped), Via::Multicast, &mbuf);
                }
                received = rxstamp::recv(&self.unicast, &mut ubuf, &mut ucontrol) => {
                    self.received(received, Via::Unicast, &ubuf);
                }
                accepted = self.tcp.accept() => {
                    self.accepted(accepted, &tracker, &events_tx, &cancel);
                }
                Some(event) = stream_events.recv() => self.stream_event(event),
                _ = sleep => {
                    self.node.handle_timeout(monotonic_now());
                    self.expire_pending();
                }
                Some(ask) = commands.recv() => {
                    self.command(ask.request, ask.reply);
                    self.flush(group, &tracker, &events_tx, &cancel).await;
                    self.publish();
                }
                Some((library, pool)) = scanned.recv() => {
                    self.node.set_pool(pool);
                    if let Some(bulk) = &self.bulk {
                        let songs = super::bulk::local_songs(&library);
                        let _ = bulk.commands.try_send(super::bulk::BulkCommand::Library(songs));
                    }
                    self.library = Some(library);
                }
                Some(held) = held_songs(&mut self.bulk) => {
                    self.node.set_held(monotonic_now(), held.keys().copied().collect());
                    self.cached = held;
                }
                _ = playout.tick() => {
                    self.drive_player();
                    if monotonic_now() - self.publisher.last >= super::publish::PUBLISH_EVERY {
                        self.publish();
                    }
                }
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

    fn received(&mut self, received: std::io::Result<Received>, via: Via, buf: &[u8]) {
        match received {
            Ok(Received {
                len,
                from,
                kernel_rx,
            }) => {
                let (now, rx) = rxstamp::now_and_rx(kernel_rx);
                let bytes = buf.get(..len).unwrap_or(buf);
                self.node.handle_datagram_at(now, rx, from, via, bytes)
            }
            // UDP receive errors (e.g. ICMP feedback) concern one datagram; keep going.
            Err(e) => tracing::debug!(?via, error = %e, "receive failed"),
        }
    }

    fn accepted(
        &mut self,
        accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
        tracker: &TaskTracker,
        events: &mpsc::Sender<StreamEvent>,
        cancel: &CancellationToken,
    ) {
        match accepted {
            Ok((socket, remote)) if self.streams.len() < MAX_STREAMS => {
                let id = self.node.accept_stream(remote);
                let handle =
                    streams::spawn_accepted(tracker, id, socket, events.clone(), cancel.clone());
                self.streams.insert(id, handle);
            }
            Ok((_, remote)) => tracing::warn!(%remote, "too many control streams; refused"),
            Err(e) => tracing::warn!(error = %e, "TCP accept failed"),
        }
    }

    fn stream_event(&mut self, event: StreamEvent) {
        let now = monotonic_now();
        match event {
            StreamEvent::Message(id, msg) => self.node.handle_stream_message(now, id, msg),
            StreamEvent::Closed(id, reason) => {
                if let Some(e) = reason {
                    tracing::debug!(stream = id.0, error = %e, "control stream closed");
                }
                self.streams.remove(&id);
                self.node.handle_stream_closed(now, id);
            }
        }
    }

    async fn flush(
        &mut self,
        group: SocketAddr,
        tracker: &TaskTracker,
        events: &mpsc::Sender<StreamEvent>,
        cancel: &CancellationToken,
    ) {
        while let Some(Transmit {
            destination,
            payload,
        }) = self.node.poll_transmit()
        {
            let sent = match destination {
                Destination::Multicast => {
                    let ifaces = &self.config.discovery.interfaces;
                    sockets::send_multicast(&self.unicast, group, ifaces, &payload).await
                }
                Destination::Unicast(addr) => {
                    self.unicast.send_to(&payload, addr).await.map(|_| ())
                }
            };
            match (sent, destination) {
                (Ok(()), Destination::Multicast) => self.publisher.multicast_error = None,
                (Err(e), Destination::Multicast) => {
                    if self.publisher.multicast_error.is_none() {
                        tracing::warn!(error = %e, "cannot send beacons: no network?");
                    }
                    self.publisher.multicast_error = Some(e.to_string());
                }
                (Err(e), _) => tracing::debug!(?destination, error = %e, "send failed"),
                (Ok(()), _) => {}
            }
        }
        while let Some(action) = self.node.poll_stream_action() {
            self.stream_action(action, tracker, events, cancel);
        }
        while let Some(event) = self.node.poll_event() {
            self.event(event);
        }
        self.remember_party();
    }

    fn stream_action(
        &mut self,
        action: StreamAction,
        tracker: &TaskTracker,
        events: &mpsc::Sender<StreamEvent>,
        cancel: &CancellationToken,
    ) {
        match action {
            StreamAction::Connect { stream, addr } => {
                let handle =
                    streams::spawn_connect(tracker, stream, addr, events.clone(), cancel.clone());
                self.streams.insert(stream, handle);
            }
            StreamAction::Send { stream, msg } => {
                let alive = self
                    .streams
                    .get(&stream)
                    .is_some_and(|h| h.push(Outgoing::Send(msg)));
                if !alive {
                    // Gone or hopelessly behind: drop it and let the core react.
                    if let Some(h) = self.streams.remove(&stream) {
                        h.push(Outgoing::Close);
                    }
                    self.node.handle_stream_closed(monotonic_now(), stream);
                }
            }
            StreamAction::Close { stream } => {
                if let Some(h) = self.streams.remove(&stream) {
                    h.push(Outgoing::Close);
                }
            }
        }
    }
}

/// The next cache update from the transfer manager (never, without one).
async fn held_songs(
    bulk: &mut Option<super::bulk::BulkHandle>,
) -> Option<HashMap<crate::core::SongRef, PathBuf>> {
    match bulk {
        Some(b) => b.held.recv().await,
        None => std::future::pending().await,
    }
}

impl BoxRuntime {
    /// Tells the transfer manager when the party, its boxes or the songs to hold change.
    fn update_transfers(&mut self) {
        let Some(bulk) = &self.bulk else { return };
        let view = self.node.transfer_view(monotonic_now());
        if self.sent_view.as_ref() == Some(&view) {
            return;
        }
        if bulk
            .commands
            .try_send(super::bulk::BulkCommand::View(view.clone()))
            .is_ok()
        {
            self.sent_view = Some(view);
        }
    }

    /// Sets this box's own volume, for the player and for the next start.
    pub(super) fn set_box_volume(&mut self, percent: u8) {
        self.box_volume = percent;
        if let Some(p) = &self.player {
            p.send(crate::audio::player::PlayerCommand::BoxVolume(percent));
        }
        if let Err(e) = persist::store_box_volume(&self.config.state_dir, percent) {
            tracing::warn!(error = %e, "cannot remember the box volume in the state dir");
        }
    }

    /// Keeps the state dir's party file in step with the party we are in. While we wait
    /// to rejoin after a restart, the memory is kept.
    fn remember_party(&mut self) {
        let current = self.node.party().map(|p| p.id);
        if current == self.remembered || (current.is_none() && self.node.rejoining()) {
            return;
        }
        match persist::store(&self.config.state_dir, current) {
            Ok(()) => self.remembered = current,
            Err(e) => tracing::warn!(error = %e, "cannot remember the party in the state dir"),
        }
    }
}

fn warn_if_moved(what: &str, wanted: u16, got: u16) {
    if wanted != 0 && wanted != got {
        tracing::warn!(
            wanted,
            got,
            "{what} port taken (another box on this machine?); using a free one"
        );
    }
}

fn to_tokio(deadline: Instant) -> tokio::time::Instant {
    let now = monotonic_now();
    tokio::time::Instant::now() + (deadline - now)
}
