//! What the driver does with `chorus ctl` commands and with the core's events.

use std::time::Duration;

use tokio::sync::oneshot;

use super::driver::BoxRuntime;
use crate::clock::monotonic_now;
use crate::command::{volume_after, VolumeTarget};
use crate::command::{Request, Response};
use crate::core::{Action, Event, PartyRequest, PoolSong, RequestOutcome, SongRef};
use crate::library::SongId;
use crate::proto::PartyId;

/// A request the host never answered is forgotten after this long.
const PENDING_TIMEOUT: Duration = Duration::from_secs(5);

impl BoxRuntime {
    pub(super) fn command(&mut self, request: Request, reply: oneshot::Sender<Response>) {
        let now = monotonic_now();
        let node = &mut self.node;
        let response = match request {
            // A fresh snapshot, published to every reader, so that `ctl status` right
            // after a change on this or another box sees it.
            Request::Status => {
                self.publish();
                Response::status(self.snapshot().status.clone())
            }
            Request::Library => match &self.library {
                Some(lib) => Response::songs(lib.songs().iter().map(Into::into).collect()),
                None => Response::error("the music folder is still being scanned; try again"),
            },
            Request::Host => match node.host(now) {
                Ok(p) => Response::done(format!("hosting party {p}; inviting neighbours")),
                Err(e) => Response::error(e.to_string()),
            },
            Request::Join { party } => {
                let party = match party.map(|p| p.parse::<PartyId>()).transpose() {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = reply.send(Response::error(format!("bad party id: {e}")));
                        return;
                    }
                };
                match node.join(now, party) {
                    Ok(p) => Response::done(format!("joining party {p}")),
                    Err(e) => Response::error(e.to_string()),
                }
            }
            Request::Leave => match node.leave(now) {
                Ok(p) => Response::done(format!("left party {p}")),
                Err(e) => Response::error(e.to_string()),
            },
            Request::End => match node.end(now) {
                Ok(p) => Response::done(format!("ended party {p}")),
                Err(e) => Response::error(e.to_string()),
            },
            Request::Skip => return self.request(PartyRequest::Playback(Action::Skip), reply),
            Request::Play { index } => {
                let index = index.unwrap_or(0);
                return self.request(PartyRequest::Playback(Action::Select { index }), reply);
            }
            Request::Pause => return self.request(PartyRequest::Playback(Action::Pause), reply),
            Request::Resume => return self.request(PartyRequest::Playback(Action::Resume), reply),
            Request::Previous => {
                return self.request(PartyRequest::Playback(Action::Previous), reply)
            }
            Request::Volume {
                target: VolumeTarget::Box,
                percent,
                delta,
            } => match volume_after(self.box_volume, percent, delta) {
                Some(percent) => {
                    self.set_box_volume(percent);
                    Response::done(format!("Box volume {percent}%"))
                }
                None => Response::error("volume: give either a level or a change"),
            },
            Request::Volume {
                target: VolumeTarget::Party,
                percent,
                delta,
            } => {
                // A change is relative to the schedule this box follows; a box not yet in
                // step with it does not know the level to change.
                let current = node.playback(now).map(|v| v.state.volume);
                match (
                    current,
                    volume_after(current.unwrap_or(100), percent, delta),
                ) {
                    (None, Some(_)) if delta.is_some() => Response::error(
                        "the party's volume is not known here yet; try again in a moment",
                    ),
                    (_, Some(percent)) => {
                        let action = Action::Volume { percent };
                        return self.request(PartyRequest::Playback(action), reply);
                    }
                    (_, None) => Response::error("volume: give either a level or a change"),
                }
            }
            Request::Queue { song } => match self.offer(&song) {
                Ok(kind) => return self.request(kind, reply),
                Err(e) => Response::error(e),
            },
        };
        let _ = reply.send(response);
    }

    fn request(&mut self, kind: PartyRequest, reply: oneshot::Sender<Response>) {
        let what = match &kind {
            PartyRequest::Playback(action) => describe(action),
            PartyRequest::Offer { title, .. } => format!("queue {title}"),
        };
        let response = match self.node.request(monotonic_now(), kind) {
            Ok(RequestOutcome::Answered { accepted: true, .. }) => {
                Response::done(format!("{what}: done"))
            }
            Ok(RequestOutcome::Answered { reason, .. }) => {
                Response::error(format!("{what} refused: {}", reason.unwrap_or_default()))
            }
            Ok(RequestOutcome::Pending(id)) => {
                self.pending.insert(id, (monotonic_now(), reply));
                return;
            }
            Err(e) => Response::error(e.to_string()),
        };
        let _ = reply.send(response);
    }

    /// The song `what` names in this box's music folder (a path, a content hash or a
    /// title), as an offer to the party's pool.
    fn offer(&self, what: &str) -> Result<PartyRequest, String> {
        let library = self
            .library
            .as_ref()
            .ok_or("the music folder is still being scanned; try again")?;
        let by_id = what.parse::<SongId>().ok().and_then(|id| library.get(&id));
        let by_path = || {
            let path = std::path::Path::new(what);
            library.by_path(path).or_else(|| {
                let canonical = std::fs::canonicalize(path).ok()?;
                library
                    .songs()
                    .iter()
                    .find(|s| std::fs::canonicalize(&s.path).ok().as_ref() == Some(&canonical))
            })
        };
        let by_title = || {
            let mut matches = library
                .songs()
                .iter()
                .filter(|s| s.title.eq_ignore_ascii_case(what));
            matches.next().filter(|_| matches.next().is_none())
        };
        let song = by_id
            .or_else(by_path)
            .or_else(by_title)
            .ok_or_else(|| format!("no song {what:?} in this box's music folder"))?;
        let decoder = crate::audio::decode::Decoder::open(&song.path)
            .map_err(|e| format!("{}: {e}", song.path.display()))?;
        let info = decoder.info();
        Ok(PartyRequest::Offer {
            song: PoolSong {
                song: SongRef(*song.id.as_bytes()),
                rate: info.rate,
                frames: info.frames.unwrap_or(0),
                origin: None,
            },
            title: song
                .title
                .chars()
                .take(crate::proto::MAX_SONG_LEN / 4)
                .collect(),
        })
    }

    pub(super) fn expire_pending(&mut self) {
        let now = monotonic_now();
        self.pending
            .retain(|_, (since, _)| now - *since < PENDING_TIMEOUT);
    }

    /// Logs an event; answers a waiting control client if it is the host's answer.
    pub(super) fn event(&mut self, event: Event) {
        match event {
            Event::NeighbourUp { id, name, addr } => {
                tracing::info!(%id, %name, %addr, "neighbour up")
            }
            Event::NeighbourDown { id, name } => tracing::info!(%id, %name, "neighbour gone"),
            Event::Malformed { from, error } => {
                tracing::debug!(%from, %error, "dropped malformed datagram")
            }
            Event::RequestAnswered {
                id,
                accepted,
                reason,
            } => {
                if let Some((_, reply)) = self.pending.remove(&id) {
                    let response = if accepted {
                        Response::done("accepted by the host")
                    } else {
                        Response::error(format!(
                            "refused by the host: {}",
                            reason.unwrap_or_default()
                        ))
                    };
                    let _ = reply.send(response);
                }
            }
            other => tracing::info!(event = ?other, "party"),
        }
    }
}

/// An action in a few words, for `chorus ctl` answers.
fn describe(action: &Action) -> String {
    match action {
        Action::Play { .. } => "play".into(),
        Action::Pause => "pause".into(),
        Action::Resume => "resume".into(),
        Action::Skip => "skip".into(),
        Action::Previous => "previous".into(),
        Action::Select { index } => format!("play song {} of the pool", index + 1),
        Action::Seek { frame } => format!("seek to frame {frame}"),
        Action::Volume { percent } => format!("volume {percent}%"),
    }
}
