//! Bulk connections: one TCP connection per pair of boxes, split into a reader and a
//! writer task so two boxes sending each other chunks never deadlock on full buffers.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::transfer::ConnId;
use crate::core::NodeId;
use crate::proto::frame::{FrameCodec, FrameError};
use crate::proto::{Bulk, Message, PartyId};

/// Messages waiting for one peer. A peer asks for at most a few chunks at a time, so a
/// full queue means it is hostile or hopelessly slow: further requests are refused.
pub(super) const OUTGOING_QUEUE: usize = 64;

/// Paces the chunks a box uploads, over all its connections, to a configured rate (so a
/// box on Wi-Fi leaves room for everything else).
#[derive(Debug)]
pub(super) struct Pacer {
    bytes_per_sec: f64,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub(super) fn new(bytes_per_sec: u64) -> Option<std::sync::Arc<Pacer>> {
        (bytes_per_sec > 0).then(|| {
            std::sync::Arc::new(Pacer {
                bytes_per_sec: bytes_per_sec as f64,
                next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            })
        })
    }

    /// Waits until `bytes` more may go out.
    async fn take(&self, bytes: usize) {
        let at = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let start = (*next).max(now);
            *next = start + std::time::Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec);
            start
        };
        tokio::time::sleep_until(at).await;
    }
}

/// What a connection tells the transfer loop.
#[derive(Debug)]
pub(super) enum ConnEvent {
    /// The peer introduced itself.
    Hello {
        conn: ConnId,
        id: NodeId,
        party: PartyId,
        tx: mpsc::Sender<Bulk>,
    },
    Message(ConnId, Bulk),
    Closed(ConnId, Option<FrameError>),
}

/// Starts the tasks of a connection. The dialing side speaks first with its `hello`; the
/// accepting side passes `None` and answers through the returned sender once it has
/// taken the dialer on, so neither side counts the pair as connected before both do.
pub(super) fn spawn(
    tracker: &TaskTracker,
    conn: ConnId,
    socket: TcpStream,
    hello: Option<Bulk>,
    events: mpsc::Sender<ConnEvent>,
    cancel: CancellationToken,
    pacer: Option<std::sync::Arc<Pacer>>,
) {
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let (read, write) = socket.into_split();
    let (tx, mut rx) = mpsc::channel::<Bulk>(OUTGOING_QUEUE);
    let writer_cancel = cancel.clone();
    let writer_events = events.clone();
    tracker.spawn(async move {
        let mut sink = FramedWrite::new(write, FrameCodec::default());
        let mut next = hello;
        loop {
            let msg = match next.take() {
                Some(m) => m,
                None => tokio::select! {
                    _ = writer_cancel.cancelled() => return,
                    m = rx.recv() => match m {
                        Some(m) => m,
                        None => return,
                    },
                },
            };
            if let (Some(p), Bulk::Chunk { data, .. }) = (&pacer, &msg) {
                p.take(data.len()).await;
            }
            if let Err(e) = sink.send(&Message::Bulk(msg)).await {
                let _ = writer_events.send(ConnEvent::Closed(conn, Some(e))).await;
                return;
            }
        }
    });
    tracker.spawn(async move {
        let mut stream = FramedRead::new(read, FrameCodec::default());
        let mut tx = Some(tx);
        let reason = loop {
            let frame = tokio::select! {
                _ = cancel.cancelled() => return,
                f = stream.next() => f,
            };
            let event = match frame {
                Some(Ok(Message::Bulk(Bulk::Hello { id, party }))) => match tx.take() {
                    Some(tx) => ConnEvent::Hello {
                        conn,
                        id,
                        party,
                        tx,
                    },
                    // A second hello: the peer is confused or hostile.
                    None => break None,
                },
                Some(Ok(Message::Bulk(_))) if tx.is_some() => break None,
                Some(Ok(Message::Bulk(msg))) => ConnEvent::Message(conn, msg),
                Some(Ok(_)) => break None,
                Some(Err(e)) => break Some(e),
                None => break None,
            };
            if events.send(event).await.is_err() {
                return;
            }
        };
        let _ = events.send(ConnEvent::Closed(conn, reason)).await;
    });
}

/// Connects to `addr`, then runs the connection like an accepted one.
pub(super) fn dial(
    tracker: &TaskTracker,
    conn: ConnId,
    addr: SocketAddr,
    hello: Bulk,
    events: mpsc::Sender<ConnEvent>,
    cancel: CancellationToken,
    pacer: Option<std::sync::Arc<Pacer>>,
) {
    let inner = tracker.clone();
    tracker.spawn(async move {
        let timeout = crate::net::streams::CONNECT_TIMEOUT;
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            c = tokio::time::timeout(timeout, TcpStream::connect(addr)) => c,
        };
        match connected {
            Ok(Ok(socket)) => spawn(&inner, conn, socket, Some(hello), events, cancel, pacer),
            Ok(Err(e)) => {
                let _ = events.send(ConnEvent::Closed(conn, Some(e.into()))).await;
            }
            Err(_) => {
                let e = std::io::Error::from(std::io::ErrorKind::TimedOut);
                let _ = events.send(ConnEvent::Closed(conn, Some(e.into()))).await;
            }
        }
    });
}
