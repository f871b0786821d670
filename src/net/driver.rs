//! The event loop of one box: feeds socket reads and timer expiries into the core `Node`
//! and carries out what it asks for, until cancelled.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::{UdpSocket, UnixListener};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::control::{self, Command, ControlError, Request, Response, CONTROL_SOCKET};
use super::{monotonic_now, sockets};
use crate::config::Config;
use crate::core::{Destination, Event, Instant, Node, NodeId, Transmit, Via};
use crate::identity::{self, IdentityError};
use crate::proto::MAX_DATAGRAM;
use crate::status::Status;

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
    config: Config,
    node: Node,
    multicast: UdpSocket,
    unicast: UdpSocket,
    /// Taken by the control task when the box runs.
    control: Option<UnixListener>,
    control_path: PathBuf,
    local_addr: SocketAddr,
}

impl BoxRuntime {
    /// Loads (or creates) the box id, binds the discovery sockets and the control socket.
    pub async fn bind(config: Config) -> Result<Self, RunError> {
        let id = identity::load_or_create(&config.state_dir)?;
        let d = &config.discovery;
        let socket_err = |what| move |source| RunError::Socket { what, source };
        let multicast = sockets::multicast_receiver(d.group, d.port, &d.interfaces)
            .map_err(socket_err("multicast"))?;
        let unicast = sockets::unicast_socket(d.unicast_port).map_err(socket_err("unicast"))?;
        let local_addr = unicast.local_addr().map_err(socket_err("unicast"))?;
        if d.unicast_port != 0 && local_addr.port() != d.unicast_port {
            tracing::warn!(
                wanted = d.unicast_port,
                got = local_addr.port(),
                "unicast port taken (another box on this machine?); using a free one"
            );
        }
        let control_path = config.state_dir.join(CONTROL_SOCKET);
        let control = control::bind(&control_path).await?;
        let seed = rand::random::<u64>();
        let node = Node::new(
            config.node_config(id, local_addr.port()),
            monotonic_now(),
            seed,
        );
        tracing::info!(%id, name = node.name(), addr = %local_addr, "box ready");
        Ok(BoxRuntime {
            config,
            node,
            multicast,
            unicast,
            control: Some(control),
            control_path,
            local_addr,
        })
    }

    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// The unicast socket's local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs until `cancel` fires, then closes the sockets and removes the control socket.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), RunError> {
        let tracker = TaskTracker::new();
        let (commands_tx, mut commands) = mpsc::channel::<Command>(32);
        if let Some(control) = self.control.take() {
            tracker.spawn(control::serve(
                control,
                commands_tx,
                cancel.clone(),
                tracker.clone(),
            ));
        }
        let group = SocketAddr::from((self.config.discovery.group, self.config.discovery.port));
        let mut mbuf = vec![0u8; MAX_DATAGRAM + 1];
        let mut ubuf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            self.flush(group).await;
            let sleep = tokio::time::sleep_until(to_tokio(self.node.poll_timeout()));
            tokio::select! {
                _ = cancel.cancelled() => break,
                received = self.multicast.recv_from(&mut mbuf) => {
                    self.received(received, Via::Multicast, &mbuf);
                }
                received = self.unicast.recv_from(&mut ubuf) => {
                    self.received(received, Via::Unicast, &ubuf);
                }
                _ = sleep => self.node.handle_timeout(monotonic_now()),
                Some((request, reply)) = commands.recv() => {
                    let _ = reply.send(self.answer(request));
                }
            }
        }
        tracker.close();
        tracker.wait().await;
        if let Err(e) = std::fs::remove_file(&self.control_path) {
            tracing::warn!(path = %self.control_path.display(), error = %e, "cannot remove control socket");
        }
        tracing::info!(id = %self.node.id(), "box stopped");
        Ok(())
    }

    fn received(&mut self, received: std::io::Result<(usize, SocketAddr)>, via: Via, buf: &[u8]) {
        match received {
            Ok((len, from)) => self
                .node
                .handle_datagram(monotonic_now(), from, via, &buf[..len]),
            // UDP receive errors (e.g. ICMP feedback) concern one datagram; keep going.
            Err(e) => tracing::debug!(?via, error = %e, "receive failed"),
        }
    }

    fn answer(&self, request: Request) -> Response {
        match request {
            Request::Status => Response::status(Status::of(
                &self.node,
                monotonic_now(),
                self.local_addr.to_string(),
            )),
        }
    }

    async fn flush(&mut self, group: SocketAddr) {
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
            if let Err(e) = sent {
                tracing::debug!(?destination, error = %e, "send failed");
            }
        }
        while let Some(event) = self.node.poll_event() {
            match event {
                Event::NeighbourUp { id, name, addr } => {
                    tracing::info!(%id, %name, %addr, "neighbour up")
                }
                Event::NeighbourDown { id, name } => tracing::info!(%id, %name, "neighbour gone"),
                Event::Malformed { from, error } => {
                    tracing::debug!(%from, %error, "dropped malformed datagram")
                }
                other => tracing::info!(event = ?other, "party"),
            }
        }
    }
}

fn to_tokio(deadline: Instant) -> tokio::time::Instant {
    let now = monotonic_now();
    tokio::time::Instant::now() + (deadline - now)
}
