//! The decoding side of playback: a thread that opens, seeks and decodes songs into a
//! lock-free ring, so the real-time playback thread never reads a file, allocates or
//! waits on the decoder.
//!
//! The playback thread asks ([`Feed::open`], [`Feed::seek`]) without waiting and learns the
//! outcome from [`Feed::poll`]. Each ask starts a new *generation*; samples of an older
//! one still in the ring are dropped by count: a [`Fed::Ready`] says how many samples the
//! feeder had pushed before the new generation's first one.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::decode::{DecodeError, Decoder, SongInfo};
use super::resample::Resampler;

/// Ring length in seconds of song: decoding runs far ahead of real time, so this is only
/// what a slow SD card or a busy core may need to be covered for.
const RING_SECONDS: usize = 1;
/// How long the feeder naps when the ring is full or it has nothing to do.
const NAP: Duration = Duration::from_millis(3);

/// What the playback thread asks of the feeder.
#[derive(Debug)]
enum Ask {
    Open {
        path: PathBuf,
        from_seconds: f64,
        generation: u64,
    },
    Seek {
        frame: u64,
        generation: u64,
    },
    Stop,
}

/// What the feeder tells the playback thread.
#[derive(Debug)]
pub(crate) enum Fed {
    /// A song is open: its info and a resampler made for it (both built here, off the
    /// real-time thread). A `Ready` of the same generation follows.
    Opened {
        generation: u64,
        info: SongInfo,
        resampler: Box<Resampler>,
    },
    /// Samples from song frame `landed` on follow the first `boundary` samples ever pushed.
    Ready {
        generation: u64,
        landed: u64,
        boundary: u64,
    },
    /// The song ends after the first `total` samples ever pushed.
    End { generation: u64, total: u64 },
    /// The song cannot be opened or decoded further; when it broke part-way, after the
    /// first `total` samples ever pushed (which are still worth playing).
    Failed {
        generation: u64,
        error: String,
        total: Option<u64>,
    },
}

/// The playback thread's end: asks, news and the ring of decoded samples (interleaved,
/// already remixed to the device's channels, at the song's rate).
#[derive(Debug)]
pub(crate) struct Feed {
    asks: SyncSender<Ask>,
    news: Receiver<Fed>,
    samples: rtrb::Consumer<f32>,
    /// Samples taken from the ring so far.
    popped: u64,
    generation: u64,
    thread: Option<JoinHandle<()>>,
}

impl Feed {
    /// Starts the feeder for a device of `rate` Hz and `channels` channels.
    pub(crate) fn spawn(rate: u32, channels: u16) -> std::io::Result<Feed> {
        let capacity = RING_SECONDS * 192_000 * usize::from(channels.max(1));
        let (producer, samples) = rtrb::RingBuffer::new(capacity);
        let (asks, asked) = mpsc::sync_channel(8);
        let (told, news) = mpsc::channel();
        let feeder = Feeder {
            asked,
            told,
            ring: producer,
            pushed: 0,
            rate,
            channels: usize::from(channels.max(1)),
            song: None,
            scratch: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("chorus-decode".into())
            .spawn(move || feeder.run())?;
        Ok(Feed {
            asks,
            news,
            samples,
            popped: 0,
            generation: 0,
            thread: Some(thread),
        })
    }

    /// Open `path` and decode from `from_seconds` into the song on (the start if
    /// negative); returns the new generation.
    pub(crate) fn open(&mut self, path: PathBuf, from_seconds: f64) -> u64 {
        self.drop_older();
        self.generation += 1;
        let generation = self.generation;
        self.ask(Ask::Open {
            path,
            from_seconds,
            generation,
        });
        generation
    }

    /// Decode the open song from song frame `frame` on; returns the new generation.
    pub(crate) fn seek(&mut self, frame: u64) -> u64 {
        self.drop_older();
        self.generation += 1;
        let generation = self.generation;
        self.ask(Ask::Seek { frame, generation });
        generation
    }

    /// Empties the ring before a new generation is asked for: all it holds is the older
    /// one's, which nothing will play. Left there, a full ring would keep the feeder
    /// from decoding the new song ahead until the playback thread came to line it up,
    /// and a song change would then start on a ring with one packet in it.
    fn drop_older(&mut self) {
        self.discard(u64::MAX);
    }

    fn ask(&self, ask: Ask) {
        // The channel holds 8 asks and the feeder takes them within a nap; a full one
        // means the feeder is gone or stuck, and the generation then never gets ready,
        // which the playback thread shows as silence.
        if let Err(e) = self.asks.try_send(ask) {
            tracing::warn!(error = %e, "decoder thread does not take requests");
        }
    }

    /// The next piece of news, if any.
    pub(crate) fn poll(&mut self) -> Option<Fed> {
        self.news.try_recv().ok()
    }

    /// The current generation: news of older ones are stale.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Samples taken from the ring so far.
    pub(crate) fn popped(&self) -> u64 {
        self.popped
    }

    /// Drops up to `n` samples; returns how many were dropped.
    pub(crate) fn discard(&mut self, n: u64) -> u64 {
        let n = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.samples.slots());
        if let Ok(chunk) = self.samples.read_chunk(n) {
            chunk.commit_all();
        }
        self.popped += n as u64;
        n as u64
    }

    /// Hands up to `n` samples to `take` (in at most two slices, where the ring wraps) and
    /// removes them; returns how many.
    pub(crate) fn read(&mut self, n: usize, mut take: impl FnMut(&[f32])) -> usize {
        let n = n.min(self.samples.slots());
        let Ok(chunk) = self.samples.read_chunk(n) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        take(a);
        if !b.is_empty() {
            take(b);
        }
        chunk.commit_all();
        self.popped += n as u64;
        n
    }
}

impl Feed {
    /// Lets a stuck decoding thread go: asks it to stop, but never waits for it.
    pub(crate) fn abandon(mut self) {
        let _ = self.asks.try_send(Ask::Stop);
        self.thread.take();
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.asks.try_send(Ask::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The song the feeder decodes.
struct Song {
    decoder: Decoder,
    generation: u64,
    /// Decoded samples not yet in the ring (the ring was full).
    pending: usize,
    ended: bool,
}

struct Feeder {
    asked: Receiver<Ask>,
    told: mpsc::Sender<Fed>,
    ring: rtrb::Producer<f32>,
    /// Samples ever pushed into the ring.
    pushed: u64,
    rate: u32,
    channels: usize,
    song: Option<Song>,
    /// The current packet remixed to the device's channels; its tail is `pending`.
    scratch: Vec<f32>,
}

impl Feeder {
    fn run(mut self) {
        loop {
            let busy = self.song.as_ref().is_some_and(|s| !s.ended);
            let ask = if busy && !self.ring.is_full() {
                match self.asked.try_recv() {
                    Ok(ask) => Some(ask),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else if busy {
                match self.asked.recv_timeout(NAP) {
                    Ok(ask) => Some(ask),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                // Nothing to decode: sleep until asked (a player has two of these threads,
                // and the one waiting for a next song would otherwise wake every nap).
                match self.asked.recv() {
                    Ok(ask) => Some(ask),
                    Err(_) => return,
                }
            };
            match ask {
                Some(Ask::Stop) => return,
                Some(Ask::Open {
                    path,
                    from_seconds,
                    generation,
                }) => self.open(path, from_seconds, generation),
                Some(Ask::Seek { frame, generation }) => self.seek(frame, generation),
                None => self.fill(),
            }
        }
    }

    fn tell(&self, news: Fed) {
        // The playback thread is gone only when the player is dropped, which stops us too.
        let _ = self.told.send(news);
    }

    fn open(&mut self, path: PathBuf, from_seconds: f64, generation: u64) {
        self.song = None;
        let opened = Decoder::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|decoder| {
                let info = decoder.info();
                let resampler = Resampler::new(info.rate, self.rate, self.channels)
                    .map_err(|e| format!("resampler: {e}"))?;
                Ok((decoder, info, resampler))
            });
        match opened {
            Ok((decoder, info, resampler)) => {
                let frame = (from_seconds.max(0.0) * f64::from(info.rate)) as u64;
                self.tell(Fed::Opened {
                    generation,
                    info,
                    resampler: Box::new(resampler),
                });
                self.song = Some(Song {
                    decoder,
                    generation,
                    pending: 0,
                    ended: false,
                });
                self.seek(frame, generation);
            }
            Err(error) => self.tell(Fed::Failed {
                generation,
                error,
                total: None,
            }),
        }
    }

    fn seek(&mut self, frame: u64, generation: u64) {
        let Some(song) = self.song.as_mut() else {
            let error = "seek without a song".to_owned();
            let total = None;
            return self.tell(Fed::Failed {
                generation,
                error,
                total,
            });
        };
        song.generation = generation;
        song.pending = 0;
        song.ended = false;
        match song.decoder.seek(frame) {
            Ok(landed) => {
                let boundary = self.pushed;
                self.tell(Fed::Ready {
                    generation,
                    landed,
                    boundary,
                });
            }
            // Past the end (a late seek near the end of a song, or a header that
            // promises more than the file holds): the song is over, quietly.
            Err(DecodeError::PastEnd) => self.past_end(frame, generation),
            Err(_) if song.decoder.info().frames.is_some_and(|n| frame >= n) => {
                self.past_end(frame, generation)
            }
            Err(e) => {
                self.song = None;
                let error = format!("seek: {e}");
                self.tell(Fed::Failed {
                    generation,
                    error,
                    total: None,
                });
            }
        }
    }

    fn past_end(&mut self, frame: u64, generation: u64) {
        if let Some(song) = self.song.as_mut() {
            song.ended = true;
        }
        let boundary = self.pushed;
        self.tell(Fed::Ready {
            generation,
            landed: frame,
            boundary,
        });
        self.tell(Fed::End {
            generation,
            total: boundary,
        });
    }

    /// Pushes what is pending, then decodes the next packet, as far as the ring has room.
    fn fill(&mut self) {
        let Some(song) = self.song.as_mut().filter(|s| !s.ended) else {
            return;
        };
        if song.pending == 0 {
            let from = usize::from(song.decoder.info().channels);
            match song.decoder.next_block() {
                Ok(Some(block)) => {
                    remix_into(&mut self.scratch, block, from, self.channels);
                    song.pending = self.scratch.len();
                }
                Ok(None) => {
                    song.ended = true;
                    let (generation, total) = (song.generation, self.pushed);
                    return self.tell(Fed::End { generation, total });
                }
                Err(e) => {
                    let generation = song.generation;
                    self.song = None;
                    let error = e.to_string();
                    let total = Some(self.pushed);
                    return self.tell(Fed::Failed {
                        generation,
                        error,
                        total,
                    });
                }
            }
        }
        let start = self.scratch.len() - song.pending;
        let (pushed, _) = self.ring.push_partial_slice(&self.scratch[start..]);
        song.pending -= pushed.len();
        self.pushed += pushed.len() as u64;
    }
}

/// Writes `block` (`from` interleaved channels) into `out` as `to` channels: mono is copied
/// to every output, extra channels are dropped, missing ones repeat the last.
fn remix_into(out: &mut Vec<f32>, block: &[f32], from: usize, to: usize) {
    out.clear();
    if from == to || from == 0 {
        out.extend_from_slice(block);
        return;
    }
    for frame in block.chunks_exact(from) {
        for c in 0..to {
            out.push(frame[c.min(from - 1)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 48 kHz stereo WAV of `seconds` of a constant `level`.
    fn level_wav(path: &std::path::Path, seconds: u32, level: f32) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for _ in 0..seconds * 48_000 * 2 {
            w.write_sample(level).unwrap();
        }
        w.finalize().unwrap();
    }

    /// Waits up to 5 s for the feeder's news of `generation` being ready.
    fn ready(feed: &mut Feed, generation: u64) -> u64 {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            match feed.poll() {
                Some(Fed::Ready {
                    generation: g,
                    boundary,
                    ..
                }) if g == generation => return boundary,
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        panic!("generation {generation} never got ready");
    }

    #[test]
    fn a_new_song_is_decoded_ahead_even_when_the_old_one_filled_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.wav"), dir.path().join("new.wav"));
        // Longer than the ring holds (it is sized for the highest rate).
        level_wav(&old, 6, 0.25);
        level_wav(&new, 3, 0.5);
        let mut feed = Feed::spawn(48_000, 2).unwrap();
        let first = feed.open(old, 0.0);
        ready(&mut feed, first);
        // The old song fills the ring while nothing reads it.
        let full = RING_SECONDS * 192_000 * 2;
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while feed.samples.slots() < full && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let second = feed.open(new, 0.0);
        let boundary = ready(&mut feed, second);
        // Still nothing read: the new song fills the ring on its own, as it would in
        // the time before a song change.
        std::thread::sleep(Duration::from_millis(300));
        let stale = boundary.saturating_sub(feed.popped());
        assert!(
            feed.discard(stale) == stale,
            "the old song's samples are all in the ring"
        );
        let mut ahead = Vec::new();
        feed.read(48_000 * 2, |s| ahead.extend_from_slice(s));
        assert_eq!(
            ahead.len(),
            48_000 * 2,
            "half a second of the new song is decoded"
        );
        assert!(ahead.iter().all(|s| *s == 0.5), "and it is the new song");
    }

    #[test]
    fn remix_mono_to_stereo_and_back() {
        let mut out = Vec::new();
        remix_into(&mut out, &[0.1, 0.2], 1, 2);
        assert_eq!(out, [0.1, 0.1, 0.2, 0.2]);
        remix_into(&mut out, &[0.1, 0.2, 0.3, 0.4], 2, 1);
        assert_eq!(out, [0.1, 0.3]);
        remix_into(&mut out, &[0.5, 0.6], 2, 2);
        assert_eq!(out, [0.5, 0.6]);
    }
}
