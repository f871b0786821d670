//! What a box asks of its party's host (a playback action or a song offer), and its wire
//! form.

use super::schedule::{Action, PoolSong};
use crate::proto::RequestKind;

/// A request from this box: the host decides it at once, a guest sends it to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartyRequest {
    /// Skip, pause, resume, previous, select, seek or volume, for the whole party.
    Playback(Action),
    /// Add one of this box's own songs to the pool; the others fetch it from here.
    Offer { song: PoolSong, title: String },
}

impl From<PartyRequest> for RequestKind {
    fn from(r: PartyRequest) -> Self {
        match r {
            PartyRequest::Playback(action) => RequestKind::Playback(action.into()),
            PartyRequest::Offer { song, title } => RequestKind::Offer {
                song: song.into(),
                title,
            },
        }
    }
}

impl From<RequestKind> for PartyRequest {
    fn from(k: RequestKind) -> Self {
        match k {
            RequestKind::Playback(action) => PartyRequest::Playback(action.into()),
            RequestKind::Offer { song, title } => PartyRequest::Offer {
                song: song.into(),
                title,
            },
        }
    }
}
