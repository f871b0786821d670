//! What a person can ask a box (host, join, skip, volume …) and its answers, free of any
//! transport: the control socket and the buttons both send these into the runtime.

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::status::{SongStatus, Status};

/// A command for the box. On the control socket it is one JSON object per line, e.g.
/// `{"cmd":"join","party":null}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Request {
    Status,
    /// List the songs of this box's music folder.
    Library,
    /// Create a party and invite the neighbourhood, offering the songs of `playlist` (a
    /// playlist's file name in the music folder, with or without its extension, any
    /// case), or by default the configured `[songs] playlist`, else the whole folder.
    Host {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        playlist: Option<String>,
    },
    /// Join the given party (16 hex digits), or the preferred invitation.
    Join {
        #[serde(default)]
        party: Option<String>,
    },
    /// Leave the party; a host ends it.
    Leave,
    /// End the party this box hosts.
    End,
    /// Skip to the next song (the host schedules it; a member asks the host).
    Skip,
    /// Start playing the song at `index` of the pool (default: the first).
    Play {
        #[serde(default)]
        index: Option<u32>,
    },
    Pause,
    Resume,
    /// Back to the previous song.
    Previous,
    /// Set or change a volume: this box's own (`"target":"box"`) or the party's, which
    /// the host schedules for every box (the default). `percent` sets it (0 to 100),
    /// `delta` moves it by that many points.
    Volume {
        #[serde(default)]
        target: VolumeTarget,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delta: Option<i8>,
    },
    /// Ask the host to queue a song.
    Queue {
        song: String,
    },
}

/// Which volume a [`Request::Volume`] changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeTarget {
    /// Only this box, like the knob of a speaker; kept across restarts.
    Box,
    /// Every box of the party, scheduled by the host.
    #[default]
    Party,
}

impl Request {
    /// HOST with the default songs (the configured playlist, else the whole folder).
    pub fn host() -> Self {
        Request::Host { playlist: None }
    }

    /// A volume request that sets `target` to `percent`.
    pub fn set_volume(target: VolumeTarget, percent: u8) -> Self {
        Request::Volume {
            target,
            percent: Some(percent),
            delta: None,
        }
    }

    /// A volume request that moves `target` by `delta` points.
    pub fn change_volume(target: VolumeTarget, delta: i8) -> Self {
        Request::Volume {
            target,
            percent: None,
            delta: Some(delta),
        }
    }
}

/// The new level of a volume at `current` after a request's `percent` or `delta`,
/// clamped to 0..=100; `None` if the request gives neither or both.
pub fn volume_after(current: u8, percent: Option<u8>, delta: Option<i8>) -> Option<u8> {
    match (percent, delta) {
        (Some(p), None) => Some(p.min(100)),
        (None, Some(d)) => Some((i16::from(current) + i16::from(d)).clamp(0, 100) as u8),
        _ => None,
    }
}

/// The party volume a request asks for, given the level of the schedule this box follows
/// (`None` while it is not in step with one). A change is relative to that level, so a
/// box that does not know it refuses; a level needs nothing. The error is for the user.
pub fn party_volume_after(
    current: Option<u8>,
    percent: Option<u8>,
    delta: Option<i8>,
) -> Result<u8, &'static str> {
    match (
        current,
        volume_after(current.unwrap_or(100), percent, delta),
    ) {
        (None, Some(_)) if delta.is_some() => {
            Err("the party's volume is not known here yet; try again in a moment")
        }
        (_, Some(percent)) => Ok(percent),
        (_, None) => Err("volume: give either a level or a change"),
    }
}

/// The box's answer: `{"ok": true, "status": …}`, `{"ok": true, "message": "…"}` or
/// `{"ok": false, "error": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// What a successful command did, for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The music library, for `Request::Library`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub songs: Option<Vec<SongStatus>>,
    /// The playlists of the music folder, for `Request::Library`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlists: Option<Vec<PlaylistInfo>>,
}

/// One playlist of the music folder, as `chorus ctl library` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaylistInfo {
    /// Its file name without the extension: what `chorus ctl host --playlist` takes.
    pub name: String,
    /// Songs of the library it lists (each once).
    pub songs: usize,
    /// Its entries that do not play.
    pub skipped: usize,
    /// Whether `[songs] playlist` in the configuration names it (HOST plays it).
    pub default: bool,
}

impl Response {
    fn empty(ok: bool) -> Self {
        Response {
            ok,
            status: None,
            message: None,
            error: None,
            songs: None,
            playlists: None,
        }
    }

    pub fn status(status: Status) -> Self {
        Response {
            status: Some(status),
            ..Response::empty(true)
        }
    }

    pub fn songs(songs: Vec<SongStatus>, playlists: Vec<PlaylistInfo>) -> Self {
        Response {
            songs: Some(songs),
            playlists: Some(playlists),
            ..Response::empty(true)
        }
    }

    pub fn done(message: impl Into<String>) -> Self {
        Response {
            message: Some(message.into()),
            ..Response::empty(true)
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Response {
            error: Some(message.into()),
            ..Response::empty(false)
        }
    }
}

/// A request on its way into the box, with the slot for its answer.
#[derive(Debug)]
pub struct Ask {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

impl Ask {
    /// A request and the receiver its answer arrives on.
    pub fn new(request: Request) -> (Ask, oneshot::Receiver<Response>) {
        let (reply, answer) = oneshot::channel();
        (Ask { request, reply }, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_volume_requests_still_parse_as_party_volume() {
        let r: Request = serde_json::from_str(r#"{"cmd":"volume","percent":40}"#).expect("parse");
        assert_eq!(r, Request::set_volume(VolumeTarget::Party, 40));
        let r: Request =
            serde_json::from_str(r#"{"cmd":"volume","target":"box","delta":-5}"#).expect("parse");
        assert_eq!(r, Request::change_volume(VolumeTarget::Box, -5));
    }

    #[test]
    fn host_requests_with_and_without_a_playlist_parse() {
        let r: Request = serde_json::from_str(r#"{"cmd":"host"}"#).expect("parse");
        assert_eq!(r, Request::host());
        assert_eq!(
            serde_json::to_string(&r).expect("write"),
            r#"{"cmd":"host"}"#
        );
        let r: Request =
            serde_json::from_str(r#"{"cmd":"host","playlist":"Road trip"}"#).expect("parse");
        assert_eq!(
            r,
            Request::Host {
                playlist: Some("Road trip".into())
            }
        );
    }

    #[test]
    fn volume_changes_clamp() {
        assert_eq!(volume_after(98, None, Some(5)), Some(100));
        assert_eq!(volume_after(3, None, Some(-5)), Some(0));
        assert_eq!(volume_after(50, Some(120), None), Some(100));
        assert_eq!(volume_after(50, None, None), None);
        assert_eq!(volume_after(50, Some(1), Some(1)), None);
    }

    #[test]
    fn a_party_volume_change_needs_the_current_level_and_a_level_does_not() {
        assert_eq!(party_volume_after(Some(60), None, Some(-10)), Ok(50));
        assert_eq!(party_volume_after(None, Some(30), None), Ok(30));
        assert!(party_volume_after(None, None, Some(5)).is_err());
        assert!(party_volume_after(Some(60), Some(30), Some(5)).is_err());
        assert!(party_volume_after(Some(60), None, None).is_err());
    }
}
