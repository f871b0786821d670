//! Kernel receive timestamps (`SO_TIMESTAMPNS`) on a UDP socket, mapped onto our monotonic clock.
//!
//! Clock sync measures one-way delays of a few hundred microseconds; the time the event
//! loop gets round to a datagram adds scheduler jitter of the same order. The kernel
//! stamps each datagram on arrival, but only on `CLOCK_REALTIME`, so the stamp is turned
//! into an age (realtime now minus stamp) and subtracted from monotonic now.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};
use nix::sys::time::TimeSpec;
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::clock::monotonic_now;
use crate::core::Instant;

/// Older stamps than this are treated as this old: only a wall-clock step (or a
/// datagram that sat in the queue for a second) gets there, and then the stamp is
/// worthless anyway.
const MAX_AGE: Duration = Duration::from_secs(1);

/// One datagram read from a stamped socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    pub len: usize,
    pub from: SocketAddr,
    /// The kernel's `CLOCK_REALTIME` receive stamp, since the Unix epoch, if it gave one.
    pub kernel_rx: Option<Duration>,
}

impl Received {
    /// A datagram from a socket that does not stamp.
    pub(crate) fn unstamped((len, from): (usize, SocketAddr)) -> Self {
        Received {
            len,
            from,
            kernel_rx: None,
        }
    }
}

/// Asks the kernel to stamp every datagram `socket` receives.
pub(crate) fn enable(socket: &impl AsFd) -> io::Result<()> {
    socket::setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// Room for the control message carrying one stamp.
pub(crate) fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// Receives one datagram into `buf` with its kernel stamp (if any). `control` comes from
/// [`control_buffer`] and is reused between calls.
pub(crate) async fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    control: &mut [u8],
) -> io::Result<Received> {
    socket
        .async_io(Interest::READABLE, || recv_now(socket, buf, control))
        .await
}

/// [`recv`] without waiting: `WouldBlock` if no datagram is there yet.
pub(crate) fn try_recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    control: &mut [u8],
) -> io::Result<Received> {
    socket.try_io(Interest::READABLE, || recv_now(socket, buf, control))
}

/// One non-blocking `recvmsg`; `WouldBlock` makes tokio wait for readiness again.
fn recv_now(socket: &UdpSocket, buf: &mut [u8], control: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = socket::recvmsg::<SockaddrIn>(
        socket.as_raw_fd(),
        &mut iov,
        Some(control),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let from = msg
        .address
        .map(SocketAddr::from)
        .ok_or_else(|| io::Error::other("datagram without a source address"))?;
    // A truncated control area (ENOBUFS) only costs the stamp; the datagram is fine.
    let kernel_rx = msg.cmsgs().ok().and_then(|mut cmsgs| {
        cmsgs.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => Some(since_epoch(ts)),
            _ => None,
        })
    });
    Ok(Received {
        len: msg.bytes,
        from,
        kernel_rx,
    })
}

fn since_epoch(ts: TimeSpec) -> Duration {
    let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec()).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// Now on the monotonic clock, and when the datagram stamped `kernel_rx` arrived on it
/// (now when there is no stamp).
pub(crate) fn now_and_rx(kernel_rx: Option<Duration>) -> (Instant, Instant) {
    // Monotonic around realtime, so the pair is sampled at (nearly) one instant.
    let before = monotonic_now();
    let real = realtime_now();
    let after = monotonic_now();
    let Some(kernel_rx) = kernel_rx else {
        return (after, after);
    };
    let mid = Instant::from_nanos(
        before.as_nanos() + after.as_nanos().saturating_sub(before.as_nanos()) / 2,
    );
    (after, to_monotonic(kernel_rx, real, mid))
}

/// Maps a realtime receive stamp onto the monotonic clock, given realtime and monotonic
/// read together: `now_mono - (now_real - rx_real)`, never later than `now_mono` and never
/// more than [`MAX_AGE`] before it, so a wall-clock step cannot yield nonsense.
pub(crate) fn to_monotonic(rx_real: Duration, now_real: Duration, now_mono: Instant) -> Instant {
    let age = now_real.saturating_sub(rx_real).min(MAX_AGE);
    let age = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX);
    Instant::from_nanos(now_mono.as_nanos().saturating_sub(age))
}

fn realtime_now() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

#[cfg(test)]
#[path = "rxstamp_tests.rs"]
mod tests;
