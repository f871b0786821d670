//! `chorus demo`: several boxes in this process on loopback; box-1 has the bundled music
//! (one song per format), the others none. They find each other, box-1 hosts, the others
//! join and fetch the songs from box-1 (and from each other), all play the same song, the
//! host skips to the next one every few seconds so every format is heard, and the
//! recordings are compared at the end.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use chorus::config::Config;
use chorus::net::control::{self, Request};
use chorus::status::{PlaybackStatus, Status};

use super::demo_check::SongLog;
use super::demo_fleet::DemoBox;
use super::demo_music::{bundled_dir, ensure_music, first_sound};
use super::demo_sound;
use super::{shutdown_token, CliError};

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// How many boxes to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    boxes: u16,
    /// Stop after this many seconds (0: run until Ctrl-C or q). Default: 45 for the
    /// timeline, until q with the screens.
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// In the timeline, once every box plays, skip to the next song after this many
    /// seconds, until each song has been heard (0: play the songs through). With the
    /// screens, the keys skip.
    #[arg(long, value_name = "SECS", default_value_t = 6)]
    tour: u64,
    /// The songs box-1 gets (default: the source tree's bundled `music/` folder; without
    /// it, three synthesised tunes).
    #[arg(long, value_name = "DIR")]
    music: Option<PathBuf>,
    /// Where the boxes keep their state dirs, the music and the recordings (default:
    /// `$TMPDIR/chorus-demo`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Multicast port for the demo (kept apart from real boxes on 7700).
    #[arg(long, default_value_t = 7790)]
    port: u16,
    /// Play the audible box through this audio output (e.g. `alsa:default`); the other
    /// boxes record to WAV files either way. Default: with the screens, the default sound
    /// device when this machine has one and chorus was built with ALSA; otherwise none.
    #[arg(long, value_name = "SINK")]
    speaker: Option<String>,
    /// Which box plays through the speaker (1 is box-1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    audible: u16,
    /// Print the timeline even on a terminal, instead of the boxes' screens.
    #[arg(long)]
    timeline: bool,
}

impl DemoArgs {
    /// Whether the boxes' screens are shown: stdout is a terminal, the build has the mock
    /// HAL's painter, and the timeline was not asked for.
    pub(super) fn screens(&self) -> bool {
        use std::io::IsTerminal;
        cfg!(feature = "mock") && !self.timeline && std::io::stdout().is_terminal()
    }

    /// The demo's folder: the boxes' state dirs, the music, the recordings, the log.
    fn base(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("chorus-demo"))
    }

    /// Where the log goes while the screens take the terminal (log lines would smear them).
    pub(super) fn log_file(&self) -> Option<PathBuf> {
        self.screens().then(|| self.base().join("demo.log"))
    }
}

pub(super) async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let base = args.base();
    let music = base.join("music");
    let bundled = args.music.clone().unwrap_or_else(bundled_dir);
    let (what, songs) = ensure_music(&music, &bundled)
        .map_err(|e| CliError::Failed(format!("cannot write the demo music: {e}")))?;
    println!(
        "music: {what} in {} (box-1's folder; the others start with none)",
        music.display()
    );
    let screens = args.screens();
    if args.audible == 0 || args.audible > args.boxes {
        return Err(CliError::Usage(format!(
            "--audible {}: there are boxes 1 to {}",
            args.audible, args.boxes
        )));
    }
    let cards = demo_sound::read_cards();
    let (speaker, silent) = demo_sound::speaker(args.speaker.as_deref(), screens, cards.as_deref());
    let sound = match (&speaker, silent) {
        (Some(sink), _) => format!("box-{} plays through {sink}", args.audible),
        (None, Some(why)) => why,
        (None, None) => String::new(),
    };
    if !sound.is_empty() {
        println!("{sound}");
    }
    let cancel = shutdown_token();
    let mut boxes = Vec::new();
    for i in 1..=args.boxes {
        let audible = (i == args.audible).then_some(speaker.as_deref()).flatten();
        let (config, recording) = box_config(&args, &base, &music, i, audible);
        std::fs::create_dir_all(&config.music_dir)
            .map_err(|e| CliError::Failed(format!("cannot create a music folder: {e}")))?;
        let mut b = DemoBox::new(format!("box-{i}"), config, recording);
        let id = b.start(i, &cancel, screens).await?;
        println!(
            "started box-{i} id {id}   (chorus ctl --state-dir {} status)",
            b.state().display()
        );
        boxes.push(b);
    }
    let duration = args.duration.unwrap_or(if screens { 0 } else { 45 });
    let deadline = (duration > 0).then(|| Duration::from_secs(duration));
    #[cfg(feature = "mock")]
    if screens {
        let log = base.join("demo.log").display().to_string();
        let result =
            super::demo_screens::run(&mut boxes, &cancel, deadline, log.clone(), sound).await;
        stop(&mut boxes, &cancel).await;
        println!(
            "the demo's boxes, music and recordings are in {}; the log is {log}",
            base.display()
        );
        return result;
    }
    let mut tour = Tour::new(args.tour, songs);
    let mut log = SongLog::new(boxes.len());
    let (hosted, played) = narrate(deadline, &boxes, &mut tour, &mut log, &cancel).await;
    stop(&mut boxes, &cancel).await;
    tour.report();
    report(&boxes, hosted, played, &log)
}

/// Stops every box and waits until each has closed its sockets.
async fn stop(boxes: &mut [DemoBox], cancel: &tokio_util::sync::CancellationToken) {
    cancel.cancel();
    for b in boxes {
        b.kill().await;
    }
}

/// Box `i`'s config, and its recording unless it plays through `speaker`.
fn box_config(
    args: &DemoArgs,
    base: &Path,
    music: &Path,
    i: u16,
    speaker: Option<&str>,
) -> (Config, Option<PathBuf>) {
    let state_dir = base.join(format!("box-{i}"));
    // Only box-1 has music: the others fetch the party's songs into their caches.
    let music_dir = if i == 1 {
        music.to_path_buf()
    } else {
        state_dir.join("music")
    };
    let mut config = Config {
        name: Some(format!("box-{i}")),
        state_dir,
        music_dir,
        ..Config::default()
    };
    config.songs.bulk_port = 0;
    config.discovery.port = args.port;
    config.discovery.unicast_port = 0;
    config.party.control_port = 0;
    // box-1 hosts; the others accept its invitation as if JOIN were pressed.
    config.party.auto_join = i != 1;
    // Start as soon as everyone is in, not after the 20 s invite window.
    config.party.min_accepts = usize::from(args.boxes.saturating_sub(1).max(1));
    // Loopback only: the demo never puts a packet on a real network.
    config.discovery.interfaces = vec![Ipv4Addr::LOCALHOST];
    let recording = base.join(format!("box-{i}.wav"));
    match speaker {
        Some(speaker) => {
            config.audio.output = speaker.to_owned();
            (config, None)
        }
        None => {
            config.audio.output = format!("wav:{}", recording.display());
            (config, Some(recording))
        }
    }
}

/// Prints what the boxes do and drives the story: host once all see each other; the host
/// plays by itself once every box fetched the first song. Returns whether it hosted and
/// whether every box played.
async fn narrate(
    deadline: Option<Duration>,
    boxes: &[DemoBox],
    tour: &mut Tour,
    log: &mut SongLog,
    cancel: &tokio_util::sync::CancellationToken,
) -> (bool, bool) {
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let (mut hosted, mut played) = (false, false);
    let mut last = Vec::new();
    let n = boxes.len();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let statuses = statuses(boxes).await;
        log.note(&statuses, chorus::clock::monotonic_now().as_nanos());
        let lines: Vec<String> = boxes
            .iter()
            .zip(&statuses)
            .map(|(b, s)| line(b, s.as_ref()))
            .collect();
        // Print when something other than the ticking positions changed, and every 4 s.
        let shape: Vec<String> = lines
            .iter()
            .map(|l| l.split(" at ").next().unwrap_or(l).to_owned())
            .collect();
        let every = started.elapsed().as_millis() % 4_000 < 500;
        if shape != last || (played && every) {
            println!("after {:.1}s:", started.elapsed().as_secs_f64());
            for l in &lines {
                println!("  {l}");
            }
            last = shape;
        }
        let all = |f: &dyn Fn(&Status) -> bool| statuses.iter().all(|s| s.as_ref().is_some_and(f));
        if !hosted && all(&|s| s.neighbours.len() + 1 == n) {
            hosted = true;
            say(&boxes[0], Request::host()).await;
        }
        let playing = |s: &Status| {
            s.party.as_ref().is_some_and(|p| p.members.len() == n)
                && s.playback
                    .as_ref()
                    .is_some_and(|p| p.state == "playing" && !p.missing_song)
        };
        if hosted && !played && all(&playing) {
            played = true;
            println!("every box has the song and plays it");
        }
        let host = statuses[0].as_ref().and_then(|s| s.playback.as_ref());
        if played && tour.skip_now(host) {
            say(&boxes[0], Request::Skip).await;
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            cancel.cancel();
        }
    }
    (hosted, played)
}

/// The host's tour of the songs: once every box plays, it skips to the next song every
/// few seconds until the last one, so a short run plays every format; and it remembers
/// which songs were heard.
struct Tour {
    every: Option<Duration>,
    songs: usize,
    /// Titles of the songs the host played, in order.
    heard: Vec<String>,
    current: Option<(String, tokio::time::Instant)>,
}

impl Tour {
    fn new(every_secs: u64, songs: usize) -> Tour {
        Tour {
            every: (every_secs > 0).then(|| Duration::from_secs(every_secs)),
            songs,
            heard: Vec::new(),
            current: None,
        }
    }

    /// Notes the host's song; true when it has played long enough and another follows.
    fn skip_now(&mut self, host: Option<&PlaybackStatus>) -> bool {
        let Some(p) = host.filter(|p| p.state == "playing") else {
            return false;
        };
        let Some(song) = &p.song else {
            return false;
        };
        if self.current.as_ref().is_none_or(|(id, _)| id != song) {
            let title = p.title.clone().unwrap_or_else(|| song.clone());
            println!("box-1 plays \"{title}\"");
            self.heard.push(title);
            self.current = Some((song.clone(), tokio::time::Instant::now()));
            return false;
        }
        let since = self.current.as_ref().map(|(_, t)| t.elapsed());
        // Skipping past the last song would stop the party.
        let due =
            self.heard.len() < self.songs && self.every.zip(since).is_some_and(|(e, s)| s >= e);
        if due {
            // The host's status shows the old song a moment longer: one skip per period.
            self.current = Some((song.clone(), tokio::time::Instant::now()));
        }
        due
    }

    fn report(&self) {
        if !self.heard.is_empty() {
            println!(
                "songs played: {} of {}: {}",
                self.heard.len(),
                self.songs,
                self.heard.join(", ")
            );
        }
    }
}

async fn statuses(boxes: &[DemoBox]) -> Vec<Option<Status>> {
    let mut out = Vec::new();
    for b in boxes {
        let status = control::request(b.state(), &Request::Status)
            .await
            .ok()
            .and_then(|r| r.status);
        out.push(status);
    }
    out
}

async fn say(b: &DemoBox, request: Request) {
    match control::request(b.state(), &request).await {
        Ok(r) => println!("{}: {}", b.name, r.message.or(r.error).unwrap_or_default()),
        Err(e) => println!("{}: {e}", b.name),
    }
}

fn line(b: &DemoBox, s: Option<&Status>) -> String {
    let Some(s) = s else {
        return format!("{} not answering", b.name);
    };
    let party = match &s.party {
        None => "no party".to_owned(),
        Some(p) => format!(
            "{:?} of party {} ({} boxes, {:?})",
            p.role,
            &p.id[..6],
            p.members.len(),
            p.state
        ),
    };
    let play = match &s.playback {
        None => String::new(),
        Some(p) => {
            let pos = p
                .position_ms
                .map_or(String::new(), |ms| format!(" at {:.1}s", ms as f64 / 1e3));
            let clock = p
                .clock
                .as_ref()
                .map_or(String::new(), |c| format!(", clock ±{:.0} us", c.error_us));
            format!("; {}{pos}{clock}", p.state)
        }
    };
    let fetching = super::demo_fleet::fetching(s);
    let fetch = if fetching.is_empty() {
        String::new()
    } else {
        format!("; fetching {}", fetching.join(", "))
    };
    format!(
        "{} sees {} boxes; {party}{play}{fetch}",
        b.name,
        s.neighbours.len()
    )
}

/// Checks the run: a party, the same songs in the same order on every box, and the first
/// note of the first song and of every new song out of every box within 1 ms, compared on
/// the recordings.
fn report(boxes: &[DemoBox], hosted: bool, played: bool, log: &SongLog) -> Result<(), CliError> {
    if !hosted {
        return Err(CliError::Failed(
            "the boxes never all saw each other".into(),
        ));
    }
    if !played {
        return Err(CliError::Failed(
            "the party never got in step to play (run longer with --duration)".into(),
        ));
    }
    let names: Vec<&str> = boxes.iter().map(|b| b.name.as_str()).collect();
    log.check_order(&names).map_err(CliError::Failed)?;
    let onsets: Vec<(String, f64)> = boxes
        .iter()
        .filter_map(|b| Some((b.name.clone(), first_sound(b.recording.as_ref()?)?)))
        .collect();
    let Some(&(_, reference)) = onsets.first() else {
        println!("no recordings to compare");
        return Ok(());
    };
    println!("recordings (first note, on this machine's monotonic clock):");
    let mut worst: f64 = 0.0;
    for (name, t) in &onsets {
        let d = (t - reference) / 1e3;
        worst = worst.max(d.abs());
        println!("  {name}: {d:+.1} us");
    }
    let recordings: Vec<(String, &Path)> = boxes
        .iter()
        .filter_map(|b| Some((b.name.clone(), b.recording.as_deref()?)))
        .collect();
    let (changes, missed) = log.check_changes(&recordings);
    println!("song changes: largest difference {changes:.1} us; first notes missed {missed}");
    println!("every box played the same tune; largest difference {worst:.1} us");
    if worst > 1_000.0 {
        return Err(CliError::Failed(format!(
            "boxes were {worst:.0} us apart (> 1 ms)"
        )));
    }
    if changes > 1_000.0 || missed > 0 {
        return Err(CliError::Failed(format!(
            "song changes were {changes:.0} us apart and {missed} first notes missed \
             (every box should start every song within 1 ms)"
        )));
    }
    Ok(())
}
