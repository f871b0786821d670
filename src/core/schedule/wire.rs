//! Conversions between the core's schedule types and their wire form in
//! [`crate::proto::schedule`]: the one place the core meets the schedule's bytes.

use super::{Action, Entry, PoolSong};
use crate::core::clock::PartyTime;
use crate::proto::schedule as wire;

impl From<PoolSong> for wire::PoolSong {
    fn from(p: PoolSong) -> Self {
        wire::PoolSong {
            song: p.song,
            rate: p.rate,
            frames: p.frames,
            origin: p.origin,
        }
    }
}

impl From<wire::PoolSong> for PoolSong {
    fn from(p: wire::PoolSong) -> Self {
        PoolSong {
            song: p.song,
            rate: p.rate,
            frames: p.frames,
            origin: p.origin,
        }
    }
}

impl From<Action> for wire::Action {
    fn from(a: Action) -> Self {
        match a {
            Action::Play { song, from_frame } => wire::Action::Play { song, from_frame },
            Action::Pause => wire::Action::Pause,
            Action::Resume => wire::Action::Resume,
            Action::Skip => wire::Action::Skip,
            Action::Previous => wire::Action::Previous,
            Action::Select { index } => wire::Action::Select { index },
            Action::Seek { frame } => wire::Action::Seek { frame },
            Action::Volume { percent } => wire::Action::Volume { percent },
        }
    }
}

impl From<wire::Action> for Action {
    fn from(a: wire::Action) -> Self {
        match a {
            wire::Action::Play { song, from_frame } => Action::Play { song, from_frame },
            wire::Action::Pause => Action::Pause,
            wire::Action::Resume => Action::Resume,
            wire::Action::Skip => Action::Skip,
            wire::Action::Previous => Action::Previous,
            wire::Action::Select { index } => Action::Select { index },
            wire::Action::Seek { frame } => Action::Seek { frame },
            wire::Action::Volume { percent } => Action::Volume { percent },
        }
    }
}

impl From<Entry> for wire::Entry {
    fn from(e: Entry) -> Self {
        wire::Entry {
            at_ns: e.at.as_nanos(),
            seq: e.seq,
            action: e.action.into(),
        }
    }
}

impl From<wire::Entry> for Entry {
    fn from(e: wire::Entry) -> Self {
        Entry {
            at: PartyTime::from_nanos(e.at_ns),
            seq: e.seq,
            action: e.action.into(),
        }
    }
}

/// The wire form of a list of core values (pool songs, entries).
pub(crate) fn to_wire<T: Copy, W: From<T>>(items: &[T]) -> Vec<W> {
    items.iter().map(|&i| W::from(i)).collect()
}

/// The core form of a list of wire values.
pub(crate) fn from_wire<W, T: From<W>>(items: Vec<W>) -> Vec<T> {
    items.into_iter().map(T::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::NodeId;
    use crate::proto::SongRef;

    /// The wire format is pinned byte for byte (postcard varints, the hash raw): a change
    /// to the core's types cannot change what boxes send each other.
    #[test]
    fn golden_entry_and_pool_song_bytes() -> Result<(), postcard::Error> {
        let song = SongRef([7; 32]);
        let entry = Entry {
            at: PartyTime::from_nanos(1_234_567_890),
            seq: 3,
            action: Action::Play {
                song,
                from_frame: 480,
            },
        };
        let bytes = postcard::to_allocvec(&wire::Entry::from(entry))?;
        let mut golden = vec![210, 133, 216, 204, 4, 3, 0];
        golden.extend([7; 32]);
        golden.extend([224, 3]);
        assert_eq!(bytes, golden);
        assert_eq!(
            Entry::from(postcard::from_bytes::<wire::Entry>(&bytes)?),
            entry
        );

        let pool = PoolSong {
            song,
            rate: 44_100,
            frames: 1_000,
            origin: Some(NodeId(5)),
        };
        let bytes = postcard::to_allocvec(&wire::PoolSong::from(pool))?;
        assert_eq!(&bytes[..32], &[7; 32]);
        assert_eq!(&bytes[32..], &[196, 216, 2, 232, 7, 1, 5]);
        assert_eq!(
            PoolSong::from(postcard::from_bytes::<wire::PoolSong>(&bytes)?),
            pool
        );
        Ok(())
    }

    #[test]
    fn every_action_survives_the_round_trip() {
        let song = SongRef([1; 32]);
        for a in [
            Action::Play {
                song,
                from_frame: 1,
            },
            Action::Pause,
            Action::Resume,
            Action::Skip,
            Action::Previous,
            Action::Select { index: 2 },
            Action::Seek { frame: 3 },
            Action::Volume { percent: 4 },
        ] {
            assert_eq!(Action::from(wire::Action::from(a)), a);
        }
    }
}
