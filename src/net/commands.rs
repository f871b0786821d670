//! Carries out `chorus ctl` and button commands on the core and this box, answers them
//! (now, or once the host answered), and logs the core's events.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::oneshot;

use super::playout::PlayoutExec;
use crate::clock::monotonic_now;
use crate::command::{party_volume_after, volume_after, VolumeTarget};
use crate::command::{Request, Response};
use crate::core::{
    Action, CommandError, Event, Instant, Node, PartyRequest, PoolSong, RequestOutcome, SongRef,
};
use crate::library::Library;
use crate::proto::PartyId;

/// A request the host never answered is forgotten after this long.
const PENDING_TIMEOUT: Duration = Duration::from_secs(5);

/// Control clients waiting for the host's answer to their request, by request id.
#[derive(Debug, Default)]
pub(super) struct Commands {
    pending: HashMap<u32, (Instant, oneshot::Sender<Response>)>,
}

/// What a command acts on, borrowed for one command.
#[derive(Debug)]
pub(super) struct Context<'a> {
    pub node: &'a mut Node,
    /// The music folder, once scanned.
    pub library: Option<&'a Library>,
    /// What HOST can offer (empty until the music folder is scanned).
    pub offers: &'a mut super::playlists::Offers,
    pub output: &'a mut PlayoutExec,
}

/// What becomes of a command.
enum Next {
    /// Answered here and now (boxed: a response can carry a whole status).
    Answer(Box<Response>),
    /// A request to the party's host, answered when it is.
    Ask(PartyRequest),
    /// A status request, answered with a fresh snapshot.
    Status,
}

impl Commands {
    /// Carries out `request` and answers on `reply`, except a status request: its
    /// `reply` is handed back, to be answered with a fresh snapshot.
    pub(super) fn handle(
        &mut self,
        mut cx: Context<'_>,
        request: Request,
        reply: oneshot::Sender<Response>,
    ) -> Option<oneshot::Sender<Response>> {
        match next(&mut cx, request) {
            Next::Answer(response) => {
                let _ = reply.send(*response);
            }
            Next::Ask(kind) => self.request(cx.node, kind, reply),
            Next::Status => return Some(reply),
        }
        None
    }

    fn request(&mut self, node: &mut Node, kind: PartyRequest, reply: oneshot::Sender<Response>) {
        let what = match &kind {
            PartyRequest::Playback(action) => describe(action),
            PartyRequest::Offer { title, .. } => format!("queue {title}"),
        };
        let response = match node.request(monotonic_now(), kind) {
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
            Err(e) => Response::error(format!("{what}: {e}")),
        };
        let _ = reply.send(response);
    }

    /// Forgets requests the host never answered.
    pub(super) fn expire(&mut self, now: Instant) {
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
            // Every beacon of such a box says it again; the driver probed it once.
            Event::OwnIdSeen { control } => {
                tracing::debug!(%control, "a beacon announced this box's id")
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

/// What `request` comes to.
fn next(cx: &mut Context<'_>, request: Request) -> Next {
    let now = monotonic_now();
    let playback = |action| Next::Ask(PartyRequest::Playback(action));
    match request {
        Request::Status => Next::Status,
        Request::Library => Next::Answer(Box::new(match cx.library {
            Some(lib) => Response::songs(
                lib.songs().iter().map(Into::into).collect(),
                cx.offers.infos(),
            ),
            None => Response::error("the music folder is still being scanned; try again"),
        })),
        Request::Host { playlist } => host(cx, now, playlist.as_deref()),
        Request::Join { party } => match party.map(|p| p.parse::<PartyId>()).transpose() {
            Ok(party) => answer(
                cx.node
                    .join(now, party)
                    .map(|p| format!("joining party {p}")),
            ),
            Err(_) => Next::Answer(Box::new(Response::error(
                "bad party id: a party id is 16 hexadecimal digits, as the status shows it",
            ))),
        },
        Request::Leave => answer(cx.node.leave(now).map(|p| format!("left party {p}"))),
        Request::End => answer(cx.node.end(now).map(|p| format!("ended party {p}"))),
        Request::Skip => playback(Action::Skip),
        Request::Play { index } => playback(Action::Select {
            index: index.unwrap_or(0),
        }),
        Request::Pause => playback(Action::Pause),
        Request::Resume => playback(Action::Resume),
        Request::Previous => playback(Action::Previous),
        Request::Volume {
            target: VolumeTarget::Box,
            percent,
            delta,
        } => Next::Answer(Box::new(box_volume(cx.output, percent, delta))),
        Request::Volume {
            target: VolumeTarget::Party,
            percent,
            delta,
        } => party_volume(cx.node, now, percent, delta),
        Request::Queue { song } => match offer(cx.library, &song) {
            Ok(kind) => Next::Ask(kind),
            Err(e) => Next::Answer(Box::new(Response::error(e))),
        },
    }
}

/// HOST, offering the songs of `playlist` (by default the configured one, else the
/// whole folder); an unknown playlist is refused before any party is made.
fn host(cx: &mut Context<'_>, now: Instant, playlist: Option<&str>) -> Next {
    let hosting = |node: &mut Node, what: &str| {
        answer(
            node.host(now)
                .map(|p| format!("hosting party {p} with {what}; inviting neighbours")),
        )
    };
    // A party under way keeps its songs (and HOST says why it is refused).
    if cx.node.party().is_some() {
        return hosting(cx.node, "");
    }
    if playlist.is_some() && cx.library.is_none() {
        let e = "the music folder is still being scanned; try again";
        return Next::Answer(Box::new(Response::error(e)));
    }
    let (pool, name) = match cx.offers.choose(playlist) {
        Ok(choice) => choice,
        Err(e) => return Next::Answer(Box::new(Response::error(e))),
    };
    let what = match &name {
        Some(name) => {
            let skipped = cx.offers.skipped().len();
            let skipped = match skipped {
                0 => String::new(),
                n => format!(", {n} entries skipped (see `chorus ctl status --json`)"),
            };
            let plural = if pool.len() == 1 { "" } else { "s" };
            format!("playlist {name:?}: {} song{plural}{skipped}", pool.len())
        }
        None if cx.library.is_none() => {
            "no songs (the music folder is still being scanned)".to_owned()
        }
        None => format!("the music folder: {} songs", pool.len()),
    };
    cx.node.set_playlist(pool, name);
    hosting(cx.node, &what)
}

/// The answer to a party command (host, join, leave, end).
fn answer(done: Result<String, CommandError>) -> Next {
    Next::Answer(Box::new(match done {
        Ok(message) => Response::done(message),
        Err(e) => Response::error(e.to_string()),
    }))
}

/// Sets this box's own volume to a level or by a change.
fn box_volume(output: &mut PlayoutExec, percent: Option<u8>, delta: Option<i8>) -> Response {
    match volume_after(output.box_volume(), percent, delta) {
        Some(percent) => {
            output.set_box_volume(percent);
            Response::done(format!("Box volume {percent}%"))
        }
        None => Response::error("volume: give either a level or a change"),
    }
}

/// A change of the party's volume, to the host.
fn party_volume(node: &Node, now: Instant, percent: Option<u8>, delta: Option<i8>) -> Next {
    // Out of a party the level is unknown because there is none to set.
    if node.party().is_none() {
        let e = CommandError::NotInParty;
        return Next::Answer(Box::new(Response::error(format!("volume: {e}"))));
    }
    let current = node.playback(now).map(|v| v.state.volume);
    match party_volume_after(current, percent, delta) {
        Ok(percent) => Next::Ask(PartyRequest::Playback(Action::Volume { percent })),
        Err(e) => Next::Answer(Box::new(Response::error(e))),
    }
}

/// The song `what` names in this box's music folder (a path, a content hash or a
/// title), as an offer to the party's pool.
fn offer(library: Option<&Library>, what: &str) -> Result<PartyRequest, String> {
    let library = library.ok_or("the music folder is still being scanned; try again")?;
    let song = library.find(what).ok_or_else(|| {
        format!("no song {what:?} in this box's music folder; `chorus ctl library` lists them")
    })?;
    let decoder = crate::audio::decode::Decoder::open(&song.path)
        .map_err(|e| format!("{}: {e}", song.path.display()))?;
    let info = decoder.info();
    Ok(PartyRequest::Offer {
        song: PoolSong {
            song: SongRef(*song.id.as_bytes()),
            rate: info.rate,
            frames: super::playlists::pool_frames(song, info),
            origin: None,
        },
        title: song
            .title
            .chars()
            .take(crate::proto::MAX_SONG_LEN / 4)
            .collect(),
    })
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
