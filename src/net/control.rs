//! The control socket: newline-delimited JSON over a Unix socket in the state dir, used by
//! `chorus ctl` (and the demo) to query and command a running box.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::{Framed, LinesCodec};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// File name of the control socket inside the state dir.
pub const CONTROL_SOCKET: &str = "control.sock";
/// Longest request or response line; a status of 1024 neighbours fits comfortably.
const MAX_LINE: usize = 1 << 20;
/// Concurrent control connections; more wait for a slot.
const MAX_CONNECTIONS: usize = 16;
/// How long a client waits for an answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

use crate::command::Ask;
pub use crate::command::{Request, Response};

/// Why the control socket failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Another box already runs with this state dir: give each box its own `--state-dir`.
    #[error("another chorus box is already running with control socket {0}")]
    InUse(PathBuf),
    /// No box answers at this path: start one with `chorus run`, or pass its `--state-dir`.
    #[error(
        "no chorus box is running with control socket {path} ({source}); start one with \
         `chorus run`, or give the running box's `--state-dir`"
    )]
    NotRunning {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Socket I/O failed.
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The box answered something that is not a response (version mismatch?).
    #[error("control protocol error: {0}")]
    Protocol(String),
    /// The box did not answer in time: it may be overloaded or hung.
    #[error("the box did not answer within {0:?}")]
    Timeout(Duration),
}

/// Binds the control socket at `path`, replacing a stale socket file left by a crash but
/// refusing to steal one a live box answers on.
pub(crate) async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ControlError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(|source| ControlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    UnixListener::bind(path).map_err(|source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Accepts connections until `cancel`, handing each request to the driver via `commands`.
pub(crate) async fn serve(
    listener: UnixListener,
    commands: mpsc::Sender<Ask>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let commands = commands.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = connection(stream, commands) => {}
            }
        });
    }
}

async fn connection(stream: UnixStream, commands: mpsc::Sender<Ask>) {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let response = match line {
            Ok(line) => match parse_request(&line) {
                Ok(request) => ask(&commands, request).await,
                Err(e) => Response::error(format!("bad request: {e}")),
            },
            Err(e) => {
                // An over-long line leaves the stream mid-line: answer and hang up.
                let _ = send(&mut lines, Response::error(format!("bad request: {e}"))).await;
                return;
            }
        };
        if send(&mut lines, response).await.is_err() {
            return;
        }
    }
}

/// One request line as the box reads it from the socket: any text gives a request or
/// an error to answer with, never a panic.
pub fn parse_request(line: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(line)
}

/// One response line as `chorus ctl` reads it from the box.
pub fn parse_response(line: &str) -> Result<Response, serde_json::Error> {
    serde_json::from_str(line)
}

async fn ask(commands: &mpsc::Sender<Ask>, request: Request) -> Response {
    let (ask, rx) = Ask::new(request);
    if commands.send(ask).await.is_err() {
        return Response::error("the box is shutting down");
    }
    rx.await
        .unwrap_or_else(|_| Response::error("the box is shutting down"))
}

async fn send(
    lines: &mut Framed<UnixStream, LinesCodec>,
    response: Response,
) -> Result<(), tokio_util::codec::LinesCodecError> {
    let text = serde_json::to_string(&response)
        .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"cannot encode response: {e}\"}}"));
    lines.send(text).await
}

/// Sends one request to the box whose state dir is `state_dir` and returns its answer.
pub async fn request(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    let path = state_dir.join(CONTROL_SOCKET);
    let exchange = async {
        let stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| ControlError::NotRunning {
                    path: path.clone(),
                    source,
                })?;
        let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
        let text =
            serde_json::to_string(request).map_err(|e| ControlError::Protocol(e.to_string()))?;
        let io = |e: tokio_util::codec::LinesCodecError| ControlError::Protocol(e.to_string());
        lines.send(text).await.map_err(io)?;
        let line = lines
            .next()
            .await
            .ok_or_else(|| ControlError::Protocol("connection closed without an answer".into()))?
            .map_err(io)?;
        parse_response(&line).map_err(|e| ControlError::Protocol(e.to_string()))
    };
    tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .map_err(|_| ControlError::Timeout(CLIENT_TIMEOUT))?
}
