//! Control streams over TCP: one task per connection runs the session handshake, then
//! carries framed messages between the socket and the driver, with bounded queues so a
//! slow or hostile peer cannot pile up memory; [`Streams`] keeps the open ones and
//! carries out the core's stream actions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::{Gate, Permit, Refusal};
use super::clones::Clones;
use super::noise::{self, Keys, Session, SessionError, SessionStats};
use crate::core::{NodeId, StreamAction, StreamId};
use crate::proto::frame::FrameError;
use crate::proto::{Control, Message};

/// Messages waiting to be written to one peer; a peer this far behind is cut off.
const OUTGOING_QUEUE: usize = 256;

/// What a connection task tells the driver.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    /// The session is set up: the id the peer proved, and the key that authenticates
    /// clock sync with it. Sent before any message of the stream.
    Session(StreamId, NodeId, [u8; 32]),
    Message(StreamId, Control),
    /// The peer closed, the connection broke or could not be made, or the peer failed
    /// the handshake, sent something undecodable or claimed an id it did not prove.
    Closed(StreamId, Option<CloseReason>),
}

/// Why a connection task ended a stream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloseReason {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the peer proved id {proven} but claimed {claimed}")]
    WrongId { proven: NodeId, claimed: NodeId },
    #[error("the peer holds this box's own key")]
    OwnId,
}

/// What the driver tells a connection task.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Send(Control),
    Close,
}

/// The driver's handle to one connection task.
#[derive(Debug)]
pub(crate) struct StreamHandle {
    tx: mpsc::Sender<Outgoing>,
}

impl StreamHandle {
    /// Queues `out`; false if the peer is too far behind or the task is gone.
    pub(crate) fn push(&self, out: Outgoing) -> bool {
        self.tx.try_send(out).is_ok()
    }
}

/// Inbound control streams at once; more are refused until some close.
const MAX_STREAMS: usize = 256;
/// Events from every connection task, waiting for the driver.
const EVENT_QUEUE: usize = 1024;

/// The open control streams, each a connection task.
#[derive(Debug)]
pub(super) struct Streams {
    open: HashMap<StreamId, StreamHandle>,
    events: mpsc::Sender<StreamEvent>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    session: SessionCtx,
}

/// What every connection task needs for its session.
#[derive(Debug, Clone)]
pub(crate) struct SessionCtx {
    pub keys: Keys,
    pub stats: Arc<SessionStats>,
    pub clones: Arc<Clones>,
    pub gate: Arc<Gate>,
}

impl SessionCtx {
    /// Whether an inbound connection from `remote` may run its handshake; a refusal is
    /// counted, and the caller drops the connection.
    pub(crate) fn admit(&self, remote: SocketAddr) -> Option<Permit> {
        match self.gate.admit(remote) {
            Ok(permit) => Some(permit),
            Err(refusal) => {
                self.stats.refused(remote, refusal == Refusal::Busy);
                None
            }
        }
    }

    /// Counts the handshake; the session if the peer proved an id other than ours (one
    /// that proved ours holds our key: it is handed to clone detection and closed).
    pub(crate) fn accept(
        &self,
        session: Result<Session, SessionError>,
        remote: Option<SocketAddr>,
    ) -> Result<Session, CloseReason> {
        self.stats.handshake(&session, remote);
        let session = session?;
        if session.peer() == self.keys.id() {
            self.clones.proven(&session, &self.keys, &self.stats);
            return Err(CloseReason::OwnId);
        }
        Ok(session)
    }
}

impl Streams {
    /// No streams yet; their tasks run on `tracker` until `cancel`, and report on the
    /// returned receiver.
    pub(super) fn new(
        tracker: TaskTracker,
        cancel: CancellationToken,
        session: SessionCtx,
    ) -> (Self, mpsc::Receiver<StreamEvent>) {
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        let streams = Streams {
            open: HashMap::new(),
            events,
            tracker,
            cancel,
            session,
        };
        (streams, rx)
    }

    /// Whether another inbound stream may be accepted.
    pub(super) fn has_room(&self) -> bool {
        self.open.len() < MAX_STREAMS
    }

    /// Starts the task of an accepted connection the core named `id`.
    pub(super) fn adopt(&mut self, id: StreamId, socket: TcpStream, permit: Permit) {
        let task = self.task(id);
        let handle = spawn_accepted(&self.tracker, socket, task, permit);
        self.open.insert(id, handle);
    }

    /// Carries out one of the core's stream actions. Returns a stream that is gone or
    /// hopelessly behind: it was dropped, and the core must be told it closed.
    pub(super) fn act(&mut self, action: StreamAction) -> Option<StreamId> {
        match action {
            StreamAction::Connect { stream, addr } => {
                let task = self.task(stream);
                let handle = spawn_connect(&self.tracker, addr, task);
                self.open.insert(stream, handle);
                None
            }
            StreamAction::Send { stream, msg } => {
                let alive = self
                    .open
                    .get(&stream)
                    .is_some_and(|h| h.push(Outgoing::Send(msg)));
                if alive {
                    return None;
                }
                self.close(stream);
                Some(stream)
            }
            StreamAction::Close { stream } => {
                self.close(stream);
                None
            }
        }
    }

    /// Forgets a stream whose task reported it closed.
    pub(super) fn closed(&mut self, id: StreamId) {
        self.open.remove(&id);
    }

    fn close(&mut self, id: StreamId) {
        if let Some(h) = self.open.remove(&id) {
            h.push(Outgoing::Close);
        }
    }

    /// A beacon announced our id from `control`: checks over a session whether that box
    /// holds our key.
    pub(super) fn probe_clone(&self, control: SocketAddr) {
        let s = &self.session;
        s.clones.probe(control, &s.keys, &s.stats, &self.tracker);
    }

    fn task(&self, id: StreamId) -> Task {
        Task {
            id,
            events: self.events.clone(),
            cancel: self.cancel.clone(),
            session: self.session.clone(),
        }
    }
}

/// One connection task's handles.
struct Task {
    id: StreamId,
    events: mpsc::Sender<StreamEvent>,
    cancel: CancellationToken,
    session: SessionCtx,
}

impl Task {
    async fn closed(&self, reason: Option<CloseReason>) {
        let _ = self.events.send(StreamEvent::Closed(self.id, reason)).await;
    }
}

/// Starts a task for an accepted connection.
fn spawn_accepted(
    tracker: &TaskTracker,
    socket: TcpStream,
    task: Task,
    permit: Permit,
) -> StreamHandle {
    let (tx, rx) = mpsc::channel(OUTGOING_QUEUE);
    tracker.spawn(async move {
        if let Some(reason) = run(socket, Some(permit), rx, &task).await {
            task.closed(reason).await;
        }
    });
    StreamHandle { tx }
}

/// Starts a task that connects to `addr`; messages queued meanwhile are sent once the
/// connection is up.
fn spawn_connect(tracker: &TaskTracker, addr: SocketAddr, task: Task) -> StreamHandle {
    let (tx, rx) = mpsc::channel(OUTGOING_QUEUE);
    tracker.spawn(async move {
        let connected = tokio::select! {
            _ = task.cancel.cancelled() => return,
            c = tokio::time::timeout(noise::CONNECT_TIMEOUT, TcpStream::connect(addr)) => c,
        };
        let closed = match connected {
            Ok(Ok(socket)) => run(socket, None, rx, &task).await,
            Ok(Err(e)) => Some(Some(FrameError::Io(e).into())),
            Err(_) => Some(Some(
                FrameError::Io(std::io::ErrorKind::TimedOut.into()).into(),
            )),
        };
        if let Some(reason) = closed {
            task.closed(reason).await;
        }
    });
    StreamHandle { tx }
}

/// Runs the handshake (as the dialer, or as the acceptor holding the admission
/// `permit`), then pumps the connection. Returns `Some(reason)` if the driver must be
/// told it closed, `None` if the driver closed it (or we are shutting down).
async fn run(
    mut socket: TcpStream,
    permit: Option<Permit>,
    mut rx: mpsc::Receiver<Outgoing>,
    task: &Task,
) -> Option<Option<CloseReason>> {
    // Heartbeats are tiny and latency-sensitive: never wait to coalesce them.
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let keys = &task.session.keys;
    let accepted = permit.is_some();
    let handshake = async {
        match accepted {
            false => noise::initiate(&mut socket, keys).await,
            true => noise::respond(&mut socket, keys).await,
        }
    };
    let session = tokio::select! {
        _ = task.cancel.cancelled() => return None,
        s = handshake => s,
    };
    drop(permit);
    let session = match task.session.accept(session, socket.peer_addr().ok()) {
        Ok(s) => s,
        Err(e) => return Some(Some(e)),
    };
    let proven = session.peer();
    let proof = StreamEvent::Session(task.id, proven, session.clock_key());
    if task.events.send(proof).await.is_err() {
        return None;
    }
    let mut framed = Framed::new(socket, session.codec());
    loop {
        tokio::select! {
            _ = task.cancel.cancelled() => return None,
            out = rx.recv() => match out {
                Some(Outgoing::Send(msg)) => {
                    if let Err(e) = framed.send(&Message::Control(msg)).await {
                        return Some(Some(e.into()));
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = framed.close().await;
                    return None;
                }
            },
            frame = framed.next() => match frame {
                // Every id the core learns from a stream is the one its peer proved.
                Some(Ok(Message::Control(Control::Hello(h)))) if h.id != proven => {
                    task.session.stats.wrong_id(proven, h.id);
                    return Some(Some(CloseReason::WrongId { proven, claimed: h.id }));
                }
                Some(Ok(Message::Control(msg))) => {
                    if task.events.send(StreamEvent::Message(task.id, msg)).await.is_err() {
                        return None;
                    }
                }
                // A datagram kind on a stream: the peer is confused or hostile.
                Some(Ok(_)) => return Some(None),
                Some(Err(e)) => return Some(Some(e.into())),
                None => return Some(None),
            },
        }
    }
}
