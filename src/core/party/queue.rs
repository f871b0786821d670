//! The host's request queue: the songs accepted offers put in the pool that are still to
//! come. A song leaves it once the schedule has reached it, so a long party never fills it.

use crate::core::{PoolSong, SongRef};
use crate::proto::MAX_POOL;

/// Most offered songs waiting to be played.
pub(super) const MAX_QUEUE: usize = 100;

/// One song an accepted offer added, at its pool index.
#[derive(Debug)]
struct Queued {
    index: usize,
    song: SongRef,
    title: String,
}

/// The queue, with what it needs of the pool to decide offers without asking playback.
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// Offered songs still to come, in the order they were offered.
    songs: Vec<Queued>,
    /// The party's pool as last seen, with the songs accepted since appended.
    pool: Vec<SongRef>,
    /// Pool index of the song playing now.
    current: Option<u32>,
}

impl Queue {
    /// The titles of the songs still to come, for status.
    pub(super) fn titles(&self) -> Vec<String> {
        self.songs.iter().map(|q| q.title.clone()).collect()
    }

    /// Follows the pool and the song playing now; songs the schedule reached or passed
    /// leave the queue. Called after every event, so the common case (nothing changed)
    /// only compares lengths: the host's pool only ever grows at its end.
    pub(super) fn follow(&mut self, pool: &[PoolSong], current: Option<u32>) {
        let same =
            self.pool.len() == pool.len() && self.pool.last() == pool.last().map(|p| &p.song);
        if !same {
            self.pool = pool.iter().map(|p| p.song).collect();
            let pool = &self.pool;
            self.songs
                .retain_mut(|q| match pool.iter().position(|s| *s == q.song) {
                    Some(i) => {
                        q.index = i;
                        true
                    }
                    None => false,
                });
        }
        self.current = current;
        // With nothing playing (not started yet, or the pool ran out) everything waits.
        if let Some(c) = current {
            self.songs.retain(|q| q.index > c as usize);
        }
    }

    fn upcoming(&self, index: usize) -> bool {
        self.current.is_none_or(|c| index > c as usize)
    }

    /// Decides an offer of `song`: `Ok(true)` if it is queued and the pool must take it,
    /// `Ok(false)` if it is queued but already in the pool (still to come), else the
    /// reason it is refused.
    pub(super) fn offer(&mut self, song: SongRef, title: String) -> Result<bool, String> {
        let at = self.pool.iter().position(|s| *s == song);
        match at {
            Some(i) if self.current == u32::try_from(i).ok() => {
                return Err("this song is playing now".into())
            }
            Some(i) if !self.upcoming(i) => {
                return Err("this song has played at this party already".into())
            }
            Some(_) if self.songs.iter().any(|q| q.song == song) => return Ok(false),
            _ => {}
        }
        if self.songs.len() >= MAX_QUEUE {
            return Err(format!("the queue is full ({MAX_QUEUE} songs)"));
        }
        if at.is_none() && self.pool.len() >= MAX_POOL {
            return Err(format!("the party's pool is full ({MAX_POOL} songs)"));
        }
        let index = at.unwrap_or(self.pool.len());
        self.songs.push(Queued { index, song, title });
        if at.is_none() {
            self.pool.push(song);
        }
        Ok(at.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(n: u16) -> PoolSong {
        let mut r = [0; 32];
        r[..2].copy_from_slice(&n.to_be_bytes());
        PoolSong {
            song: SongRef(r),
            rate: 44_100,
            frames: 44_100,
            origin: None,
        }
    }

    #[test]
    fn songs_leave_once_the_schedule_reaches_them() {
        let mut pool = vec![song(0)];
        let mut q = Queue::default();
        q.follow(&pool, None);
        for n in 1..=3 {
            assert_eq!(q.offer(song(n).song, format!("s{n}")), Ok(true));
            pool.push(song(n));
        }
        q.follow(&pool, Some(0));
        assert_eq!(q.titles(), ["s1", "s2", "s3"]);
        q.follow(&pool, Some(2));
        assert_eq!(q.titles(), ["s3"]);
        assert_eq!(q.offer(song(3).song, "again".into()), Ok(false));
        assert_eq!(q.titles(), ["s3"], "listed once");
        assert!(q.offer(song(1).song, "old".into()).is_err());
        let now = q.offer(song(2).song, "now".into());
        assert!(now.is_err_and(|r| r.contains("playing now")));
        q.follow(&pool, Some(3));
        assert!(q.titles().is_empty());
    }

    #[test]
    fn a_full_queue_and_a_full_pool_refuse_with_a_reason() {
        let mut q = Queue::default();
        q.follow(&[song(0)], Some(0));
        for n in 1..=MAX_QUEUE as u16 {
            assert_eq!(q.offer(song(n).song, String::new()), Ok(true));
        }
        let full = q.offer(song(999).song, String::new());
        assert!(full.is_err_and(|r| r.contains("queue is full")));
        let pool: Vec<PoolSong> = (0..MAX_POOL as u16).map(song).collect();
        q.follow(&pool, Some(MAX_POOL as u32 - 1));
        let full = q.offer(song(999).song, String::new());
        assert!(full.is_err_and(|r| r.contains("pool is full")));
    }
}
