//! The box's network sockets: the shared multicast receiver, the per-box unicast socket
//! that also sends beacons, and the TCP control listener; binding them and sending the
//! core's datagrams.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::rxstamp::{self, Received};
use crate::core::{Destination, Transmit, Via};

/// The sockets the core's datagrams and control streams go through.
#[derive(Debug)]
pub(super) struct Sockets {
    multicast: UdpSocket,
    unicast: UdpSocket,
    tcp: TcpListener,
    group: SocketAddr,
    interfaces: Vec<Ipv4Addr>,
    /// Why the last multicast send failed, until one succeeds.
    multicast_error: Option<String>,
}

impl Sockets {
    /// Takes over bound sockets; beacons go to `group` on each of `interfaces`.
    pub(super) fn new(
        multicast: UdpSocket,
        unicast: UdpSocket,
        tcp: TcpListener,
        group: SocketAddr,
        interfaces: Vec<Ipv4Addr>,
    ) -> Self {
        Sockets {
            multicast,
            unicast,
            tcp,
            group,
            interfaces,
            multicast_error: None,
        }
    }

    /// The next datagram to the multicast group (never kernel-stamped).
    pub(super) async fn recv_multicast(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.multicast.recv_from(buf).await.map(Received::unstamped)
    }

    /// The next datagram to this box's unicast socket, with its kernel stamp.
    pub(super) async fn recv_unicast(
        &self,
        buf: &mut [u8],
        control: &mut [u8],
    ) -> io::Result<Received> {
        rxstamp::recv(&self.unicast, buf, control).await
    }

    /// A datagram already waiting on the multicast or (with `control`) the unicast
    /// socket; `WouldBlock` if none is.
    pub(super) fn try_recv(
        &self,
        via: Via,
        buf: &mut [u8],
        control: &mut [u8],
    ) -> io::Result<Received> {
        match via {
            Via::Multicast => self.multicast.try_recv_from(buf).map(Received::unstamped),
            Via::Unicast => rxstamp::try_recv(&self.unicast, buf, control),
        }
    }

    /// The next inbound control stream.
    pub(super) async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.tcp.accept().await
    }

    /// Sends one datagram. A failed unicast concerns one peer and is only logged; a
    /// failed multicast means no beacons, which is kept for the status until one works.
    pub(super) async fn send(&mut self, transmit: Transmit) {
        let Transmit {
            destination,
            payload,
        } = transmit;
        let sent = match destination {
            Destination::Multicast => {
                send_multicast(&self.unicast, self.group, &self.interfaces, &payload).await
            }
            Destination::Unicast(addr) => self.unicast.send_to(&payload, addr).await.map(|_| ()),
        };
        match (sent, destination) {
            (Ok(()), Destination::Multicast) => self.multicast_error = None,
            (Err(e), Destination::Multicast) => {
                if self.multicast_error.is_none() {
                    tracing::warn!(error = %e, "cannot send beacons: no network?");
                }
                self.multicast_error = Some(e.to_string());
            }
            (Err(e), _) => tracing::debug!(?destination, error = %e, "send failed"),
            (Ok(()), _) => {}
        }
    }

    /// Why beacons cannot be sent, while they cannot.
    pub(super) fn multicast_error(&self) -> Option<&str> {
        self.multicast_error.as_deref()
    }
}

/// Binds the multicast group port with `SO_REUSEADDR` + `SO_REUSEPORT` (so several boxes
/// on one machine share it) and joins `group` on each interface (or the default one).
pub(crate) fn multicast_receiver(
    group: Ipv4Addr,
    port: u16,
    interfaces: &[Ipv4Addr],
) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // Binding the group address (not 0.0.0.0) keeps unrelated unicast on this port out.
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(group, port)).into())?;
    if interfaces.is_empty() {
        socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)?;
    }
    for iface in interfaces {
        socket.join_multicast_v4(&group, iface)?;
    }
    UdpSocket::from_std(socket.into())
}

/// Binds this box's unicast socket, which also sends the multicast beacons: TTL 1 keeps
/// them on the link, loop on lets boxes on the same machine hear each other. Received
/// datagrams carry kernel timestamps (read them with [`Sockets::recv_unicast`]).
///
/// If `port` is taken and not 0, falls back to a free port (reported by the caller).
pub(crate) fn unicast_socket(port: u16) -> io::Result<UdpSocket> {
    let socket = match bind_unicast(port) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 => bind_unicast(0)?,
        other => other?,
    };
    socket.set_multicast_ttl_v4(1)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_nonblocking(true)?;
    // Clock-sync datagrams arrive here; without kernel stamps sync still works, with
    // the event loop's scheduling jitter in its samples.
    if let Err(e) = rxstamp::enable(&socket) {
        tracing::warn!(error = %e, "no kernel receive timestamps; clock sync is less precise");
    }
    UdpSocket::from_std(socket.into())
}

fn bind_unicast(port: u16) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(socket)
}

/// Sends `payload` to the group once per interface (or once on the default interface).
async fn send_multicast(
    socket: &UdpSocket,
    group: SocketAddr,
    interfaces: &[Ipv4Addr],
    payload: &[u8],
) -> io::Result<()> {
    if interfaces.is_empty() {
        socket.send_to(payload, group).await?;
        return Ok(());
    }
    for iface in interfaces {
        SockRef::from(socket).set_multicast_if_v4(iface)?;
        socket.send_to(payload, group).await?;
    }
    Ok(())
}

/// Binds the TCP control listener, falling back to a free port if `port` is taken.
pub(crate) async fn tcp_listener(port: u16) -> io::Result<TcpListener> {
    let any = Ipv4Addr::UNSPECIFIED;
    match TcpListener::bind((any, port)).await {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 => {
            TcpListener::bind((any, 0)).await
        }
        other => other,
    }
}
