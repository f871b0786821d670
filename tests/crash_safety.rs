//! Real boxes SIGKILLed at random moments (a fixed seed) while songs travel, while they
//! rejoin and while they play, 100 times, each restarted from the same state dir: every
//! box rejoins its party, no box ever plays a song it does not hold whole, and every
//! cached song still verifies at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chorus::core::{PartyRole, PartyState};
use chorus::library::Cache;
use chorus::status::Status;
use common::audio::write_song;
use common::{box_config, ctl, host_and_join, neighbour_names, start_with, status, test_port};
use common::{wait_for, BoxProc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KILLS: usize = 100;
const SEED: u64 = 0x0013_0007;
const NAMES: [&str; 3] = ["a", "b", "c"];
/// Songs only the host has, about 2.5 MB each.
const SONGS: usize = 12;
/// How long a restarted box may take to be back in its party.
const REJOIN_BOUND: Duration = Duration::from_secs(15);

/// What the victim was doing when it was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Not (yet) welcomed back into the party.
    Join,
    /// Fetching a song.
    Transfer,
    /// Playing, nothing to fetch.
    Playback,
    /// Welcomed, neither fetching nor playing.
    Idle,
}

struct Rig {
    dir: PathBuf,
    port: u16,
    boxes: Vec<BoxProc>,
    /// The host's songs by content hash.
    songs: BTreeMap<String, Vec<u8>>,
    party: String,
    /// Songs seen playing, per box: each was checked whole in that box's files.
    played: usize,
}

fn phase_of(s: Option<&Status>) -> Phase {
    let Some(s) = s else { return Phase::Join };
    let welcomed = s
        .party
        .as_ref()
        .is_some_and(|p| !matches!(p.state, PartyState::Joining | PartyState::Failover));
    let fetching = s.transfers.iter().any(|t| t.state != "complete");
    let playing = s.playback.as_ref().is_some_and(|p| p.state == "playing");
    match (welcomed, fetching, playing) {
        (false, _, _) => Phase::Join,
        (true, true, _) => Phase::Transfer,
        (true, false, true) => Phase::Playback,
        (true, false, false) => Phase::Idle,
    }
}

/// Three boxes on loopback; only `a` has music. Uploads are capped so that a window of
/// songs takes seconds to travel and kills land mid-transfer.
fn rig(dir: &Path, port: u16) -> Rig {
    let music = dir.join("music-a");
    std::fs::create_dir_all(&music).unwrap();
    let empty = dir.join("music-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut songs = BTreeMap::new();
    for i in 0..SONGS {
        let path = music.join(format!("{i:02}-song.wav"));
        write_song(&path, 50 + i);
        let bytes = std::fs::read(&path).unwrap();
        songs.insert(blake3::hash(&bytes).to_hex().to_string(), bytes);
    }
    let mut boxes = Vec::new();
    for name in NAMES {
        let folder = if name == "a" { &music } else { &empty };
        let party = format!("min_accepts = {}", NAMES.len() - 1);
        let config = box_config(
            dir,
            name,
            folder,
            "null",
            &party,
            "upload_limit_kbps = 16000",
        );
        boxes.push(start_with(dir, name, port, &config, &[]));
    }
    let found = wait_for(Duration::from_secs(15), || {
        boxes.iter().all(|b| neighbour_names(&b.state).len() == 2)
    });
    assert!(found.is_some(), "boxes did not find each other");
    let party = host_and_join(&boxes);
    Rig {
        dir: dir.to_path_buf(),
        port,
        boxes,
        songs,
        party,
        played: 0,
    }
}

impl Rig {
    fn restart(&mut self, i: usize) {
        let name = NAMES[i];
        let config = self.dir.join(format!("{name}.toml"));
        self.boxes[i] = start_with(&self.dir, name, self.port, &config, &[]);
    }

    /// Every box that says it plays a song holds it whole: `a` in its music folder, the
    /// others (and `a` too, once it no longer hosts) from their own cache, verified.
    fn check_playing(&mut self, i: usize, s: &Status) {
        let Some(p) = &s.playback else { return };
        let Some(song) = p.song.as_ref().filter(|_| p.state == "playing") else {
            return;
        };
        if p.missing_song {
            return;
        }
        let want = self.songs.get(song).expect("a song of the host");
        if i == 0 {
            self.played += 1;
            return;
        }
        let cached = cached_file(&self.boxes[i].state, song)
            .unwrap_or_else(|| panic!("{} plays {song} without a cached copy", NAMES[i]));
        let bytes = std::fs::read(&cached).unwrap();
        assert!(
            bytes == *want,
            "{} plays {song} from a file that is not the whole song ({} of {} bytes)",
            NAMES[i],
            bytes.len(),
            want.len()
        );
        self.played += 1;
    }

    /// Looks at every running box once; true when box `i` is back in the party.
    fn poll(&mut self, i: usize, skip: Option<usize>) -> bool {
        let mut back = false;
        for j in 0..self.boxes.len() {
            if Some(j) == skip {
                continue;
            }
            let Some(s) = status(&self.boxes[j].state) else {
                continue;
            };
            self.check_playing(j, &s);
            if j == i {
                back = s.party.as_ref().is_some_and(|p| {
                    p.id == self.party
                        && matches!(p.state, PartyState::Forming | PartyState::Started)
                        && p.members.len() == NAMES.len()
                });
            }
        }
        back
    }

    /// Waits until box `i` is back in its party, checking every box meanwhile.
    fn wait_rejoined(&mut self, i: usize) -> Duration {
        let start = Instant::now();
        while start.elapsed() < REJOIN_BOUND {
            if self.poll(i, None) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{} did not rejoin party {} within {REJOIN_BOUND:?}: {:?}",
            NAMES[i],
            self.party,
            status(&self.boxes[i].state).map(|s| s.party)
        );
    }

    /// Sleeps `d` while checking what the boxes play, then kills box `i`; what it was
    /// doing just before.
    fn kill_after(&mut self, i: usize, d: Duration) -> Phase {
        let start = Instant::now();
        while start.elapsed() + Duration::from_millis(150) < d {
            self.poll(usize::MAX, Some(i));
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(d.saturating_sub(start.elapsed()));
        let phase = phase_of(status(&self.boxes[i].state).as_ref());
        self.boxes[i].kill();
        phase
    }

    fn host(&self) -> Option<usize> {
        (0..self.boxes.len()).find(|&i| {
            status(&self.boxes[i].state)
                .and_then(|s| s.party)
                .is_some_and(|p| p.role == PartyRole::Host)
        })
    }
}

/// `songs/<hash>.<format>` in the cache under `state`, if there.
fn cached_file(state: &Path, song: &str) -> Option<PathBuf> {
    let songs = state.join("cache/songs");
    std::fs::read_dir(songs)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.file_stem().and_then(|s| s.to_str()) == Some(song))
}

/// Every file in every box's `songs/` is a whole song of the host, named by its hash,
/// and no temp file sits where songs are played from.
fn assert_caches_verify(rig: &Rig) -> usize {
    let mut verified = 0;
    for b in &rig.boxes {
        let songs = b.state.join("cache/songs");
        let Ok(entries) = std::fs::read_dir(&songs) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let (stem, ext) = name.split_once('.').expect("named hash.format");
            assert_eq!(ext, "wav", "{}: {name} is no song", b.name);
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                blake3::hash(&bytes).to_hex().as_str(),
                stem,
                "{}: {name} does not verify",
                b.name
            );
            assert!(rig.songs.contains_key(stem), "{}: {name} unknown", b.name);
            verified += 1;
        }
    }
    verified
}

/// Temp files anywhere in the cache under `state`.
fn temp_files(state: &Path) -> Vec<PathBuf> {
    let cache = state.join("cache");
    [cache.clone(), cache.join("songs"), cache.join("partial")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|n| n.ends_with(".tmp")))
        .collect()
}

/// What a restart makes of the cache a kill left behind: no temp file survives the
/// opening, and every song it offers to play is whole.
fn assert_reopened_cache_is_clean(rig: &Rig) {
    for b in &rig.boxes {
        let left = temp_files(&b.state).len();
        let cache = Cache::open(&b.state.join("cache"), u64::MAX).unwrap();
        assert_eq!(temp_files(&b.state), Vec::<PathBuf>::new(), "{}", b.name);
        for (song, size) in cache.songs() {
            let path = cache.path_of(&song).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len() as u64, size, "{}", path.display());
            assert_eq!(
                blake3::hash(&bytes).as_bytes(),
                &song.0,
                "{}",
                path.display()
            );
        }
        eprintln!(
            "{}: {left} temp files swept, {} songs whole",
            b.name,
            cache.songs().len()
        );
    }
}

/// Kills one box after a random delay, restarts it from its state dir and checks it is
/// back; sometimes kills it again while it rejoins. Returns the phases of the kills and
/// whether the victim was the host.
fn round(rig: &mut Rig, rng: &mut StdRng) -> (Vec<Phase>, bool) {
    let host = rig.host();
    // Members most of the time; the host now and then (failover, then it rejoins).
    let victim = match host {
        Some(h) if rng.gen_ratio(1, 8) => h,
        Some(h) => (h + rng.gen_range(1..NAMES.len())) % NAMES.len(),
        None => rng.gen_range(0..NAMES.len()),
    };
    if let Some(h) = host.filter(|&h| h != victim && rng.gen_ratio(1, 3)) {
        // A jump moves the window onto songs the members may not hold yet.
        let index = rng.gen_range(0..SONGS).to_string();
        let _ = ctl(&rig.boxes[h].state, &["play", &index]);
    }
    let mut phases = Vec::new();
    let delay = Duration::from_millis(rng.gen_range(200..2_000));
    phases.push(rig.kill_after(victim, delay));
    rig.restart(victim);
    if Some(victim) != host && rng.gen_ratio(1, 3) {
        let delay = Duration::from_millis(rng.gen_range(200..2_000));
        phases.push(rig.kill_after(victim, delay));
        rig.restart(victim);
    }
    let took = rig.wait_rejoined(victim);
    let was_host = Some(victim) == host;
    eprintln!(
        "killed {}{} ({phases:?}); back in {:.1} s",
        NAMES[victim],
        if was_host { ", the host," } else { "" },
        took.as_secs_f64()
    );
    (phases, was_host)
}

#[test]
fn boxes_killed_at_random_moments_rejoin_and_never_play_a_partial_song() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = rig(dir.path(), test_port(81));
    for i in 0..NAMES.len() {
        rig.wait_rejoined(i);
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut phases: BTreeMap<Phase, usize> = BTreeMap::new();
    let started = Instant::now();
    let (mut kills, mut host_kills) = (0, 0);
    while kills < KILLS {
        let (round_phases, was_host) = round(&mut rig, &mut rng);
        host_kills += usize::from(was_host);
        for p in round_phases {
            *phases.entry(p).or_default() += 1;
            kills += 1;
        }
    }
    eprintln!(
        "{kills} kills ({host_kills} of the host) in {:.0} s: {phases:?}; {} plays checked",
        started.elapsed().as_secs_f64(),
        rig.played
    );
    assert!(
        host_kills >= 3,
        "the host was killed only {host_kills} times"
    );
    for p in [Phase::Join, Phase::Transfer, Phase::Playback] {
        assert!(
            phases.get(&p).copied().unwrap_or(0) >= 5,
            "too few kills during {p:?}: {phases:?}"
        );
    }
    assert!(rig.played > 0, "no box was ever seen playing");
    // One party, one host, everyone in it.
    for i in 0..NAMES.len() {
        rig.wait_rejoined(i);
    }
    let hosts = (0..NAMES.len())
        .filter(|&i| {
            status(&rig.boxes[i].state)
                .and_then(|s| s.party)
                .is_some_and(|p| p.role == PartyRole::Host)
        })
        .count();
    assert_eq!(hosts, 1, "the party split");
    for b in &mut rig.boxes {
        b.kill();
    }
    let verified = assert_caches_verify(&rig);
    eprintln!("{verified} cached songs verified");
    assert!(verified >= 2, "the members cached nothing");
    assert_reopened_cache_is_clean(&rig);
}
