//! Driving the boxes through their control sockets (host, join) and timing how long the
//! members take to hold the song, by watching for the song's file in each member's cache.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::boxes::Boxes;
use super::DistributeError;
use crate::net::control::{self, Request, Response};
use crate::status::Status;

/// Cache files are looked for this often: small next to the times measured (≥ 0.3 s).
const POLL: Duration = Duration::from_millis(5);
/// Control-socket questions (slower: each is a round trip through the box) this often.
const ASK: Duration = Duration::from_millis(50);

async fn ask(state: &Path, request: &Request) -> Result<Response, DistributeError> {
    let response = control::request(state, request)
        .await
        .map_err(|e| DistributeError::Box(e.to_string()))?;
    if response.ok {
        Ok(response)
    } else {
        Err(DistributeError::Box(
            response.error.unwrap_or_else(|| "the box refused".into()),
        ))
    }
}

async fn status(state: &Path) -> Option<Status> {
    ask(state, &Request::Status).await.ok()?.status
}

/// Polls `check` until it holds; fails with `what` after `limit` or if a box exited.
async fn wait_for<F, Fut>(
    boxes: &mut Boxes,
    limit: Duration,
    what: &str,
    mut check: F,
) -> Result<(), DistributeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Ok(());
        }
        if let Some(exit) = boxes.exited() {
            return Err(DistributeError::Box(exit));
        }
        if start.elapsed() > limit {
            return Err(DistributeError::Timeout(format!(
                "{what} within {} s",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(ASK).await;
    }
}

/// The first box hosts a party once its library holds the song; the others join it at
/// once when all are invited. Returns when the joins were sent: the clock's start.
pub(super) async fn form_party(
    boxes: &mut Boxes,
    limit: Duration,
) -> Result<Instant, DistributeError> {
    let states: Vec<PathBuf> = boxes.specs.iter().map(|s| s.state.clone()).collect();
    let (host, members) = states
        .split_first()
        .ok_or_else(|| DistributeError::Box("no boxes".into()))?;
    wait_for(boxes, limit, "the host scanned its song", || async {
        ask(host, &Request::Library)
            .await
            .ok()
            .and_then(|r| r.songs)
            .is_some_and(|s| !s.is_empty())
    })
    .await?;
    wait_for(boxes, limit, "the host saw every member", || async {
        status(host)
            .await
            .is_some_and(|s| s.neighbours.len() >= members.len())
    })
    .await?;
    ask(host, &Request::host()).await?;
    wait_for(boxes, limit, "every member was invited", || async {
        for m in members {
            if status(m).await.is_none_or(|s| s.invitations.is_empty()) {
                return false;
            }
        }
        true
    })
    .await?;
    // Earlier runs leave hundreds of MB of dirty pages; writing them back would compete
    // with this run's own final flushes. Start every run from a clean disk.
    let _ = tokio::task::spawn_blocking(rustix::fs::sync).await;
    let start = Instant::now();
    let joins = members
        .iter()
        .map(|m| ask(m, &Request::Join { party: None }));
    for joined in join_all(joins).await {
        joined?;
    }
    Ok(start)
}

/// Seconds from `start` until each of `files` exists (the cache renames a song into
/// place only once every chunk is verified and written).
pub(super) async fn wait_held(
    boxes: &mut Boxes,
    files: &[PathBuf],
    start: Instant,
    limit: Duration,
) -> Result<Vec<f64>, DistributeError> {
    let mut held: Vec<Option<f64>> = vec![None; files.len()];
    loop {
        for (at, file) in held.iter_mut().zip(files) {
            if at.is_none() && file.exists() {
                *at = Some(start.elapsed().as_secs_f64());
            }
        }
        if held.iter().all(Option::is_some) {
            return Ok(held.into_iter().flatten().collect());
        }
        if let Some(exit) = boxes.exited() {
            return Err(DistributeError::Box(exit));
        }
        if start.elapsed() > limit {
            return Err(DistributeError::Timeout(
                progress(boxes, "every member held the song", limit).await,
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What each member's transfers looked like when the wait gave up.
async fn progress(boxes: &Boxes, what: &str, limit: Duration) -> String {
    let mut text = format!("{what} within {} s:", limit.as_secs());
    for spec in boxes.specs.iter().skip(1) {
        let t = status(&spec.state).await.map(|s| {
            s.transfers
                .iter()
                .map(|t| format!("{} {}/{}", t.state, t.bytes, t.size))
                .collect::<Vec<_>>()
                .join(", ")
        });
        text.push_str(&format!(
            " {} [{}]",
            spec.name,
            t.unwrap_or_else(|| "no status".into())
        ));
    }
    text
}
