//! Playback sync of one box: clock exchanges with the host, the party schedule, and the
//! host's scheduling of actions "at party time T" just far enough ahead.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use super::clock::{ClockConfig, ClockEstimator, ClockSample, HostClock, PartyTime};
use super::out::Out;
use super::schedule::{
    lead_time, Action, Entry, PoolSong, Schedule, SongRef, OPEN_AHEAD, REPORT_EVERY,
    SETTLED_ERROR_US, SETTLE_WAIT,
};
use super::{Destination, Instant, NodeId, PartyRole, PlaybackView, StreamId};
use crate::proto::{PartyId, MAC_LEN};
pub(crate) use sync::TimeLink;

/// Song rate assumed for songs outside the pool (positions of those are not replayed).
const DEFAULT_RATE: u32 = 44_100;
/// Clock-sync requests awaiting an answer; older ones count as lost.
const OUTSTANDING: usize = 16;
/// A guest's reported round trip counts towards the lead time for this long.
const RTT_MEMORY: Duration = Duration::from_secs(10);
/// Lead time assumed before any guest reported a round trip.
const UNMEASURED: Duration = Duration::from_millis(50);
/// The most an output latency adds to the lead: a misreporting sink must not hold every
/// action back for seconds.
const MAX_OUTPUT_LEAD: Duration = Duration::from_millis(500);

/// Who we are in which party, as far as playback cares.
type Seat = (PartyId, PartyRole, NodeId);

/// Clock, schedule and lead-time bookkeeping.
#[derive(Debug)]
pub(crate) struct Playback {
    seat: Option<Seat>,
    clock: ClockEstimator,
    host_clock: Option<HostClock>,
    schedule: Schedule,
    /// Songs this box offers when it hosts.
    local_pool: Vec<PoolSong>,
    /// The playlist `local_pool` follows (`None`: the whole music folder).
    local_playlist: Option<String>,
    /// The playlist the party's pool follows, as its host said.
    playlist: Option<String>,
    /// Where and how to ask the host's clock: none until the session with the host
    /// gave a key, so the clock never steers on answers nobody could authenticate.
    time_link: Option<TimeLink>,
    next_sync: Option<Instant>,
    seq: u32,
    /// (seq, t1, MAC) of each request sent: a reply must answer one of them, once.
    outstanding: VecDeque<(u32, u64, [u8; MAC_LEN])>,
    next_entry: u64,
    guest_rtts: BTreeMap<StreamId, (Duration, Instant)>,
    rtt: Option<Duration>,
    last_report: Option<Instant>,
    /// What we last told the host we lack.
    reported_missing: Option<Vec<u32>>,
    /// Songs this box holds outside its library (downloaded into the cache).
    held: HashSet<SongRef>,
    /// The party's first song, waiting (until the deadline) for the boxes that joined
    /// before the start to hold it (host only).
    gated: Option<(Action, Instant)>,
    /// When the gated song was first held by every founder.
    songs_ready_at: Option<Instant>,
    /// The guests' last reported clock error bounds, µs (host).
    guest_clock_error: BTreeMap<StreamId, u32>,
    /// How long this box's audio output takes to make a new song audible (a song change
    /// adds [`OPEN_AHEAD`]).
    output_latency: Duration,
    /// A member just began following another host: the next schedule it sends (the
    /// whole of its schedule, sent on join) replaces ours rather than adding to it.
    replace_entries: bool,
}

impl Playback {
    pub(crate) fn new() -> Self {
        Playback {
            seat: None,
            clock: ClockEstimator::new(ClockConfig::default()),
            host_clock: None,
            schedule: Schedule::new(Vec::new(), DEFAULT_RATE),
            local_pool: Vec::new(),
            local_playlist: None,
            playlist: None,
            time_link: None,
            next_sync: None,
            seq: 0,
            outstanding: VecDeque::new(),
            next_entry: 1,
            guest_rtts: BTreeMap::new(),
            rtt: None,
            last_report: None,
            reported_missing: None,
            held: HashSet::new(),
            gated: None,
            songs_ready_at: None,
            guest_clock_error: BTreeMap::new(),
            replace_entries: false,
            output_latency: Duration::ZERO,
        }
    }

    /// Songs held in the cache (downloaded), besides the library's.
    pub(crate) fn set_held(&mut self, held: HashSet<SongRef>) {
        self.held = held;
    }

    /// Whether this box holds `song` (library or cache).
    pub(crate) fn holds(&self, song: &SongRef) -> bool {
        self.held.contains(song) || self.local_pool.iter().any(|l| l.song == *song)
    }

    /// The pool index `action` starts playing, if it starts the party's first song: only
    /// that one waits for the boxes to hold it, later ones never delay anybody.
    pub(crate) fn first_song(&self, action: &Action) -> Option<u32> {
        if !self.schedule.entries().is_empty() {
            return None;
        }
        match action {
            Action::Select { index } => Some(*index),
            Action::Play { song, .. } => self
                .schedule
                .pool()
                .iter()
                .position(|p| p.song == *song)
                .and_then(|i| u32::try_from(i).ok()),
            _ => None,
        }
    }

    /// Holds the first song back until `deadline` (or until everyone has it).
    pub(crate) fn gate(&mut self, action: Action, deadline: Instant) {
        self.gated = Some((action, deadline));
    }

    /// The gated first song, once `ready(index)` says everyone has it or its time is up.
    /// `songs_ready(index)`: every founder holds that pool song; `clocks_ready`: their
    /// clocks are settled. The song waits for both, for the clocks at most
    /// [`SETTLE_WAIT`] after the song is everywhere, and for all of it until the deadline.
    pub(crate) fn gate_open(
        &mut self,
        now: Instant,
        songs_ready: impl Fn(u32) -> bool,
        clocks_ready: bool,
    ) -> Option<Action> {
        let (action, deadline) = self.gated?;
        let index = self.first_song(&action);
        let songs = index.is_none_or(&songs_ready);
        let songs_since = match (songs, self.songs_ready_at) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(*self.songs_ready_at.insert(now)),
            (false, _) => None,
        };
        let clocks = clocks_ready || songs_since.is_some_and(|t| now - t >= SETTLE_WAIT);
        if now >= deadline || (songs && clocks) {
            self.gated = None;
            self.songs_ready_at = None;
            return Some(action);
        }
        None
    }

    /// Whether the first song is waiting for boxes to fetch it.
    /// A skip, previous or select while the first song is held back changes which song
    /// that will be, instead of acting on a schedule that has not begun. True if the
    /// request was taken this way.
    pub(crate) fn retarget_gate(&mut self, action: &Action) -> bool {
        let Some((gated, deadline)) = self.gated else {
            return false;
        };
        let Some(index) = self.first_song(&gated) else {
            return false;
        };
        let next = match *action {
            // Past the last song, the first (as a skip does once the party plays).
            Action::Skip => match u32::try_from(self.schedule.pool().len()) {
                Ok(len) if len > 0 => index.saturating_add(1) % len,
                _ => index.saturating_add(1),
            },
            Action::Previous => index.saturating_sub(1),
            Action::Select { index } => index,
            _ => return false,
        };
        if (next as usize) < self.schedule.pool().len() {
            self.gated = Some((Action::Select { index: next }, deadline));
            self.songs_ready_at = None;
        }
        true
    }

    pub(crate) fn gated(&self) -> bool {
        self.gated.is_some()
    }

    /// The songs every box should hold now, with the box each comes from (`None`: the
    /// host): the current one and the next ones up to `window` songs of the pool, and
    /// every song a member offered that is still to come.
    pub(crate) fn window(&self, now: Instant, window: usize) -> Vec<(SongRef, Option<NodeId>)> {
        let start = self
            .view(now)
            .and_then(|v| v.state.index)
            .map_or(0, |i| i as usize);
        self.schedule
            .pool()
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(i, p)| *i < start + window || p.origin.is_some())
            .map(|(_, p)| (p.song, p.origin))
            .collect()
    }

    /// Adds a song a box offered to the end of the pool (host); false if it is there.
    pub(crate) fn offer(&mut self, song: PoolSong) -> bool {
        let mut pool = self.schedule.pool().to_vec();
        if pool.iter().any(|p| p.song == song.song) || pool.len() >= crate::proto::MAX_POOL {
            return false;
        }
        pool.push(song);
        self.schedule.set_pool(pool);
        true
    }

    /// The party playback follows, if any.
    pub(crate) fn party(&self) -> Option<PartyId> {
        self.seat.map(|s| s.0)
    }

    pub(crate) fn current_seat(&self) -> Option<Seat> {
        self.seat
    }

    pub(crate) fn set_local_pool(&mut self, pool: Vec<PoolSong>, playlist: Option<String>) {
        self.local_pool = pool;
        self.local_playlist = playlist.map(|name| cut(name, crate::proto::MAX_PLAYLIST_NAME_LEN));
    }

    /// The playlist the party's pool follows, if it follows one.
    pub(crate) fn playlist(&self) -> Option<&str> {
        self.playlist.as_deref()
    }

    /// When a clock-sync request is due; none while there is no host to ask (during a
    /// failover), so a stale deadline never spins the driver.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if let Some((_, deadline)) = self.gated {
            // Wake for the settle cap too, not only the deadline.
            let settle = self.songs_ready_at.map(|t| t + SETTLE_WAIT);
            return Some(settle.map_or(deadline, |s| s.min(deadline)));
        }
        match self.seat {
            Some((_, PartyRole::Member, _)) => self.time_link.and(self.next_sync),
            _ => None,
        }
    }

    /// Follows a change of party, role or host. Returns true when we just became host
    /// and the pool must go to the guests.
    pub(crate) fn seat(
        &mut self,
        now: Instant,
        seat: Option<Seat>,
        time_link: Option<TimeLink>,
    ) -> bool {
        let before = self.seat;
        self.time_link = time_link;
        if seat == before {
            return false;
        }
        self.seat = seat;
        self.reported_missing = None;
        let same_party = before.map(|s| s.0) == seat.map(|s| s.0);
        if !same_party || seat.is_none_or(|s| s.1 != PartyRole::Host) {
            self.gated = None;
        }
        if !same_party {
            self.schedule = Schedule::new(Vec::new(), DEFAULT_RATE);
            self.playlist = None;
            self.clock.reset();
            self.guest_rtts.clear();
            self.next_entry = 1;
        } else if seat.is_some_and(|s| s.1 == PartyRole::Member)
            && before.map(|b| (b.1, b.2)) != seat.map(|s| (s.1, s.2))
        {
            // Following another host of the same party: its timeline is its estimate of
            // the old one, so the samples of the old clock must not linger in the fit.
            self.clock.rebase();
            // Its schedule is the party's from now on. Ours may hold entries it never had
            // (we followed another side of a partition, or hosted ourselves) or numbers it
            // gave to other entries; we play on ours until its own arrives.
            self.replace_entries = true;
        }
        match seat {
            None => {
                self.host_clock = None;
                self.next_sync = None;
                false
            }
            Some((_, PartyRole::Host, _)) => {
                // A successor continues the party's timeline from its own estimate.
                self.host_clock = Some(if same_party && self.clock.locked() {
                    HostClock::continuing(&self.clock, now)
                } else {
                    HostClock::fresh()
                });
                self.next_entry = self.schedule.max_seq().map_or(1, |s| s + 1);
                if self.schedule.pool().is_empty() {
                    self.schedule.set_pool(self.local_pool.clone());
                    self.playlist = self.local_playlist.clone();
                }
                self.next_sync = None;
                true
            }
            Some((_, PartyRole::Member, _)) => {
                self.host_clock = None;
                self.outstanding.clear();
                self.next_sync = Some(now);
                false
            }
        }
    }

    /// Pool indices of the songs this box lacks, if they changed since last reported.
    pub(crate) fn holdings_due(&mut self) -> Option<Vec<u32>> {
        let Some((_, PartyRole::Member, _)) = self.seat else {
            return None;
        };
        let pool = self.schedule.pool();
        if pool.is_empty() {
            return None;
        }
        let missing: Vec<u32> = pool
            .iter()
            .enumerate()
            .filter(|(_, p)| !self.holds(&p.song))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        if self.reported_missing.as_ref() == Some(&missing) {
            return None;
        }
        self.reported_missing = Some(missing.clone());
        Some(missing)
    }

    pub(crate) fn pool(&self) -> Vec<PoolSong> {
        self.schedule.pool().to_vec()
    }

    pub(crate) fn pool_songs(&self) -> &[PoolSong] {
        self.schedule.pool()
    }

    /// The whole schedule as it goes to a guest that just joined, in messages of at most
    /// `max` entries: at least one, even empty, since the first one replaces the
    /// schedule a guest brought from another host.
    pub(crate) fn schedule_messages(&self, max: usize) -> Vec<Vec<Entry>> {
        let entries = self.schedule.entries();
        if entries.is_empty() {
            return vec![Vec::new()];
        }
        entries.chunks(max.max(1)).map(<[Entry]>::to_vec).collect()
    }

    /// The local instant at which party time reads `party`, as far as this box knows.
    fn to_local(&self, party: PartyTime) -> Option<Instant> {
        match &self.host_clock {
            Some(h) => Some(h.to_local(party)),
            None => self
                .clock
                .locked()
                .then(|| self.clock.to_local(party))
                .flatten(),
        }
    }

    /// Party time now, if this box knows it.
    pub(crate) fn party_now(&self, now: Instant) -> Option<PartyTime> {
        match &self.host_clock {
            Some(h) => Some(h.now(now)),
            None => self
                .clock
                .locked()
                .then(|| self.clock.to_party(now))
                .flatten(),
        }
    }

    pub(crate) fn view(&self, now: Instant) -> Option<PlaybackView> {
        let (_, role, _) = self.seat?;
        let party_now = self.party_now(now)?;
        let clock = self.clock.estimate().filter(|_| role == PartyRole::Member);
        Some(PlaybackView::of(
            &self.schedule,
            party_now,
            clock,
            role,
            |t| self.to_local(t),
        ))
    }

    /// The host schedules `action` ahead of now by the party's worst delivery time.
    pub(crate) fn schedule(&mut self, now: Instant, action: Action) -> Option<Entry> {
        let party_now = self.host_clock.as_ref()?.now(now);
        let worst = self
            .guest_rtts
            .values()
            .filter(|(_, at)| now - *at <= RTT_MEMORY)
            .map(|(rtt, _)| *rtt)
            .max();
        // Far enough ahead for the slowest delivery, and for this box's own audio output
        // to make the start audible on time (the boxes of a party are alike).
        let output = self.output_latency.min(MAX_OUTPUT_LEAD);
        let mut lead = lead_time(worst.unwrap_or(UNMEASURED)).max(lead_time(output));
        if action.changes_song() {
            lead += OPEN_AHEAD;
        }
        let entry = Entry {
            at: party_now + lead,
            seq: self.next_entry,
            action,
        };
        self.next_entry += 1;
        self.schedule.insert(entry);
        Some(entry)
    }

    /// How long this box's audio output takes to make a new song audible (a song change
    /// adds [`OPEN_AHEAD`]).
    pub(crate) fn set_output_latency(&mut self, latency: Duration) {
        self.output_latency = latency;
    }

    /// Entries and pool from the host.
    pub(crate) fn host_entries(&mut self, entries: Vec<Entry>) {
        if std::mem::take(&mut self.replace_entries) {
            self.schedule = Schedule::new(self.schedule.pool().to_vec(), DEFAULT_RATE);
        }
        for e in entries {
            self.schedule.insert(e);
        }
    }

    pub(crate) fn host_pool(&mut self, pool: Vec<PoolSong>, playlist: Option<String>) {
        self.schedule.set_pool(pool);
        self.playlist = playlist;
    }

    /// A guest's clock-sync round trip (host side).
    pub(crate) fn guest_rtt(&mut self, now: Instant, stream: StreamId, rtt_us: u32, error_us: u32) {
        let rtt = Duration::from_micros(u64::from(rtt_us)).min(Duration::from_secs(2));
        self.guest_rtts.insert(stream, (rtt, now));
        self.guest_clock_error.insert(stream, error_us);
    }

    /// Whether the clocks of the guests on `streams` are settled enough to start the
    /// party's first song in step.
    pub(crate) fn clocks_settled(&self, streams: &[StreamId]) -> bool {
        streams.iter().all(|s| {
            self.guest_clock_error
                .get(s)
                .is_some_and(|&e| e <= SETTLED_ERROR_US)
        })
    }

    /// Our own round trip to report to the host, at most once a second.
    /// Our own round trip and clock error bound (µs) to report to the host, at most every
    /// `REPORT_EVERY`.
    pub(crate) fn report_due(&mut self, now: Instant) -> Option<(u32, u32)> {
        let rtt = self.rtt?;
        if self.last_report.is_some_and(|t| now - t < REPORT_EVERY) {
            return None;
        }
        self.last_report = Some(now);
        Some((
            u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX),
            self.clock.reported_error_us(),
        ))
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

#[path = "playback_sync.rs"]
mod sync;

#[cfg(test)]
#[path = "playback_tests.rs"]
mod tests;
