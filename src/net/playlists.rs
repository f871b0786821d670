//! What a host can offer the party: the whole music folder, or one of its playlists,
//! each already turned into a pool (read once, with the music folder, on the scan's
//! blocking thread), and which one a HOST means.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::command::PlaylistInfo;
use crate::core::{PoolSong, SongRef};
use crate::library::playlist::{self, Skipped};
use crate::library::{Library, Order, Song, SongId};

/// The pools a host can offer, and which one it offered last.
#[derive(Debug, Default)]
pub(super) struct Offers {
    /// The whole music folder, in the configured order.
    folder: Vec<PoolSong>,
    /// The playlist files, in path order, and the pool of each.
    paths: Vec<PathBuf>,
    lists: Vec<Offer>,
    /// The index in `lists` of the configured default playlist, if it was found.
    default: Option<usize>,
    /// What the playlist this box last chose to host skipped (for the status).
    chosen: Vec<Skipped>,
}

/// One playlist as a pool.
#[derive(Debug)]
struct Offer {
    name: String,
    pool: Vec<PoolSong>,
    skipped: Vec<Skipped>,
}

/// The songs a HOST offers: the pool and the playlist's name (`None`: the folder).
pub(super) type Choice = (Vec<PoolSong>, Option<String>);

impl Offers {
    /// Reads every playlist of `library`'s folder and makes each pool, and the folder's
    /// in `order`. `default` is the configured playlist: an unknown one is a warning, and
    /// HOST then offers the whole folder (a card with other music must not keep a box
    /// from playing).
    pub(super) fn build(library: &Library, order: Order, default: Option<&str>) -> Offers {
        let mut headers = HashMap::new();
        let folder = pool_of(crate::library::order(library.songs(), order), &mut headers);
        let paths = playlist::list(library.music_dir());
        let mut lists = Vec::with_capacity(paths.len());
        for path in &paths {
            let (name, songs, mut skipped) = match playlist::load(library, path) {
                Ok(l) => (l.name, l.songs, l.skipped),
                Err(e) => {
                    tracing::warn!(error = %e, "playlist not read");
                    (playlist::name_of(path), Vec::new(), Vec::new())
                }
            };
            let mut pool = Vec::new();
            for song in songs {
                match pool_song(song, &mut headers) {
                    Some(p) if pool.len() < crate::proto::MAX_POOL => pool.push(p),
                    Some(_) => skipped.push(skip(song, "more songs than a party's pool holds")),
                    None => skipped.push(skip(song, "cannot be decoded")),
                }
            }
            lists.push(Offer {
                name,
                pool,
                skipped,
            });
        }
        let default = default.and_then(|name| match playlist::find(&paths, name) {
            Ok(path) => paths.iter().position(|p| p == path),
            Err(e) => {
                tracing::warn!(error = %e, "[songs] playlist: HOST offers the whole music folder");
                None
            }
        });
        Offers {
            folder,
            paths,
            lists,
            default,
            chosen: Vec::new(),
        }
    }

    /// The songs HOST offers: those of the playlist `name`, or by default the configured
    /// playlist, else the whole folder. An unknown name is an error for the user, listing
    /// the playlists there are.
    pub(super) fn choose(&mut self, name: Option<&str>) -> Result<Choice, String> {
        let index = match name {
            Some(name) => {
                let path = playlist::find(&self.paths, name).map_err(|e| e.to_string())?;
                self.paths.iter().position(|p| p == path)
            }
            None => self.default,
        };
        Ok(match index.and_then(|i| self.lists.get(i)) {
            Some(offer) => {
                self.chosen.clone_from(&offer.skipped);
                (offer.pool.clone(), Some(offer.name.clone()))
            }
            None => {
                self.chosen.clear();
                (self.folder.clone(), None)
            }
        })
    }

    /// What the default HOST offers.
    pub(super) fn default_choice(&self) -> Choice {
        match self.default.and_then(|i| self.lists.get(i)) {
            Some(offer) => (offer.pool.clone(), Some(offer.name.clone())),
            None => (self.folder.clone(), None),
        }
    }

    /// The entries skipped by the playlist this box last chose to host.
    pub(super) fn skipped(&self) -> &[Skipped] {
        &self.chosen
    }

    /// The playlists, for `chorus ctl library`.
    pub(super) fn infos(&self) -> Vec<PlaylistInfo> {
        self.lists
            .iter()
            .enumerate()
            .map(|(i, o)| PlaylistInfo {
                name: o.name.clone(),
                songs: o.pool.len(),
                skipped: o.skipped.len(),
                default: self.default == Some(i),
            })
            .collect()
    }
}

fn skip(song: &Song, reason: &str) -> Skipped {
    Skipped {
        entry: song.path.display().to_string(),
        reason: reason.to_owned(),
    }
}

/// `songs` as a pool, at most a pool's worth, leaving out songs that fail to open.
fn pool_of(songs: Vec<&Song>, headers: &mut HashMap<SongId, Option<PoolSong>>) -> Vec<PoolSong> {
    songs
        .into_iter()
        .filter_map(|song| pool_song(song, headers))
        .take(crate::proto::MAX_POOL)
        .collect()
}

/// A song's pool entry, its header read once however many pools list it.
fn pool_song(song: &Song, headers: &mut HashMap<SongId, Option<PoolSong>>) -> Option<PoolSong> {
    *headers.entry(song.id).or_insert_with(|| {
        let decoder = crate::audio::decode::Decoder::open(&song.path).ok()?;
        let info = decoder.info();
        Some(PoolSong {
            song: SongRef(*song.id.as_bytes()),
            rate: info.rate,
            frames: pool_frames(song, info),
            origin: None,
        })
    })
}

/// A song's length in the pool, in frames: its header's, or the shorter length the scan
/// found the file to hold (a header may promise minutes over seconds of audio, and the
/// schedule moves on to the next song at this length).
pub(super) fn pool_frames(song: &Song, info: crate::audio::decode::SongInfo) -> u64 {
    let header = info.frames.unwrap_or(0);
    let held = song
        .duration_ms
        .map(|ms| u64::try_from(u128::from(ms) * u128::from(info.rate) / 1000).unwrap_or(u64::MAX));
    // The scan's milliseconds round an honest length down: only a real shortfall counts.
    let slack = u64::from(info.rate / 100);
    match held {
        Some(held) if held > 0 && held.saturating_add(slack) < header => held,
        _ => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::decode::SongInfo;

    fn song(duration_ms: Option<u64>) -> Song {
        Song {
            id: SongId::of_bytes(b"song"),
            path: "song.wav".into(),
            title: "song".into(),
            artist: None,
            album: None,
            duration_ms,
            size: 4,
            mtime_ns: None,
        }
    }

    #[test]
    fn the_pool_takes_the_length_the_file_holds_when_its_header_promises_more() {
        let info = SongInfo {
            rate: 44_100,
            channels: 2,
            frames: Some(180 * 44_100),
        };
        assert_eq!(pool_frames(&song(Some(2_000)), info), 88_200);
        let honest = SongInfo {
            frames: Some(44_123),
            ..info
        };
        assert_eq!(
            pool_frames(&song(Some(1_000)), honest),
            44_123,
            "ms round down"
        );
        assert_eq!(pool_frames(&song(None), info), 180 * 44_100);
    }
}
