//! Bulk connections: one TCP connection per pair of boxes, authenticated by the session
//! handshake, then split into a reader and a writer task so two boxes sending each other
//! chunks never deadlock on full buffers.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::transfer::ConnId;
use crate::core::NodeId;
use crate::net::admission::Permit;
use crate::net::noise::{self, SessionCodec};
use crate::net::streams::{CloseReason, SessionCtx};
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
    Closed(ConnId, Option<CloseReason>),
}

/// What a connection's tasks share with the transfer loop.
#[derive(Debug, Clone)]
pub(super) struct ConnCtx {
    pub events: mpsc::Sender<ConnEvent>,
    pub cancel: CancellationToken,
    pub pacer: Option<std::sync::Arc<Pacer>>,
    pub session: SessionCtx,
}

/// Which end of a connection this box is.
#[derive(Debug)]
pub(super) enum Side {
    /// It dialed, and speaks first with this hello.
    Dialer(Bulk),
    /// It accepted, holding the admission permit for the handshake.
    Acceptor(Permit),
}

/// Starts the tasks of a connection: the session handshake, then a reader and a writer.
/// The dialing side speaks first with its hello; the accepting side answers through the
/// returned sender once it has taken the dialer on, so neither side counts the pair as
/// connected before both do.
pub(super) fn spawn(
    tracker: &TaskTracker,
    conn: ConnId,
    mut socket: TcpStream,
    side: Side,
    ctx: ConnCtx,
) {
    let inner = tracker.clone();
    let (hello, permit) = match side {
        Side::Dialer(hello) => (Some(hello), None),
        Side::Acceptor(permit) => (None, Some(permit)),
    };
    tracker.spawn(async move {
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let keys = &ctx.session.keys;
        let handshake = async {
            match hello.is_some() {
                true => noise::initiate(&mut socket, keys).await,
                false => noise::respond(&mut socket, keys).await,
            }
        };
        let session = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            s = handshake => s,
        };
        drop(permit);
        match ctx.session.accept(session, socket.peer_addr().ok()) {
            Ok(session) => {
                let (read, write) = socket.into_split();
                let (tx, rx) = mpsc::channel::<Bulk>(OUTGOING_QUEUE);
                let sink = FramedWrite::new(write, session.codec());
                inner.spawn(write_loop(conn, sink, hello, rx, ctx.clone()));
                let stream = FramedRead::new(read, session.codec());
                read_loop(conn, stream, session.peer(), tx, ctx).await;
            }
            Err(e) => {
                let _ = ctx.events.send(ConnEvent::Closed(conn, Some(e))).await;
            }
        }
    });
}

async fn write_loop(
    conn: ConnId,
    mut sink: FramedWrite<OwnedWriteHalf, SessionCodec>,
    hello: Option<Bulk>,
    mut rx: mpsc::Receiver<Bulk>,
    ctx: ConnCtx,
) {
    let mut next = hello;
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None => tokio::select! {
                _ = ctx.cancel.cancelled() => return,
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return,
                },
            },
        };
        if let (Some(p), Bulk::Chunk { data, .. }) = (&ctx.pacer, &msg) {
            p.take(data.len()).await;
        }
        if let Err(e) = sink.send(&Message::Bulk(msg)).await {
            let _ = ctx
                .events
                .send(ConnEvent::Closed(conn, Some(e.into())))
                .await;
            return;
        }
    }
}

async fn read_loop(
    conn: ConnId,
    mut stream: FramedRead<OwnedReadHalf, SessionCodec>,
    proven: NodeId,
    tx: mpsc::Sender<Bulk>,
    ctx: ConnCtx,
) {
    let mut tx = Some(tx);
    let reason = loop {
        let frame = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            f = stream.next() => f,
        };
        let event = match frame {
            // The transfer machine learns only ids their peers proved.
            Some(Ok(Message::Bulk(Bulk::Hello { id, .. }))) if id != proven => {
                ctx.session.stats.wrong_id(proven, id);
                let claimed = id;
                break Some(CloseReason::WrongId { proven, claimed });
            }
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
            Some(Err(e)) => break Some(e.into()),
            None => break None,
        };
        if ctx.events.send(event).await.is_err() {
            return;
        }
    };
    let _ = ctx.events.send(ConnEvent::Closed(conn, reason)).await;
}

/// Connects to `addr`, then runs the connection like an accepted one.
pub(super) fn dial(
    tracker: &TaskTracker,
    conn: ConnId,
    addr: SocketAddr,
    hello: Bulk,
    ctx: ConnCtx,
) {
    let inner = tracker.clone();
    tracker.spawn(async move {
        let timeout = noise::CONNECT_TIMEOUT;
        let connected = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            c = tokio::time::timeout(timeout, TcpStream::connect(addr)) => c,
        };
        let e = match connected {
            Ok(Ok(socket)) => return spawn(&inner, conn, socket, Side::Dialer(hello), ctx),
            Ok(Err(e)) => e,
            Err(_) => std::io::Error::from(std::io::ErrorKind::TimedOut),
        };
        let reason = CloseReason::Frame(e.into());
        let _ = ctx.events.send(ConnEvent::Closed(conn, Some(reason))).await;
    });
}
