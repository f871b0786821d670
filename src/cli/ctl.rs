//! `chorus ctl`: query and command a running box through its control socket.

use clap::{Args, Subcommand};

use chorus::command::{Request, VolumeTarget};
use chorus::net::control;
use chorus::status::{PlaybackStatus, Status};

use super::{CliError, ConfigArgs};

#[derive(Debug, Args)]
pub(super) struct CtlArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Show the box's id, name, party, invitations, playback, volumes, alerts and neighbours.
    Status {
        /// Print the JSON contract described in the README instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the songs of the box's music folder (id: the start of the BLAKE3 hash of the
    /// file) and its playlists.
    Library {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Host a party: invite the neighbourhood (the HOST button).
    ///
    /// The party plays the songs of the playlist given here, else of `[songs] playlist`
    /// in the configuration, else the whole music folder.
    Host {
        /// A playlist in the music folder (.m3u, .m3u8 or .pls): its file name, with or
        /// without the extension, any case. `chorus ctl library` lists them. Its songs
        /// play in its order; entries that are missing, outside the music folder or not
        /// songs are skipped (`chorus ctl status --json` lists them under `playlist`).
        #[arg(long, value_name = "NAME")]
        playlist: Option<String>,
    },
    /// Join a party: the given one, or else a party still forming (the one that wins the
    /// election when there are several), else the newest invitation (the JOIN button).
    Join {
        /// Party id (16 hex digits) from `chorus ctl status`.
        party: Option<String>,
    },
    /// Leave the party (a host ends it).
    Leave,
    /// End the party this box hosts, for everyone.
    End,
    /// Next song, on every box at once (a member asks the host).
    Skip,
    /// Play the pool's song INDEX on every box (a member asks the host).
    Play {
        /// 0 is the pool's first song (the default).
        index: Option<u32>,
    },
    /// Pause every box (a member asks the host).
    Pause,
    /// Resume every box where it paused (a member asks the host).
    Resume,
    /// Back to the previous song on every box (a member asks the host).
    Previous,
    /// Set a volume: `volume party 40`, `volume box +10`, `volume -5` (party by default).
    /// The party volume is the same on every box (the host schedules it); the box volume
    /// is this box's own knob, kept across restarts.
    Volume {
        /// `box`, `party`, or a level directly (the party's).
        #[arg(allow_hyphen_values = true)]
        first: String,
        /// The level when the first word says which volume: N, +N or -N (0 to 100).
        #[arg(allow_hyphen_values = true)]
        level: Option<String>,
    },
    /// Offer one of this box's songs to the party: it joins the pool and the other boxes
    /// fetch it from here.
    Queue {
        /// A file in this box's music folder, the song's content hash, or its title.
        song: String,
    },
}

pub(super) async fn ctl(args: CtlArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    let (request, json) = match args.command {
        CtlCommand::Status { json } => (Request::Status, json),
        CtlCommand::Library { json } => (Request::Library, json),
        CtlCommand::Host { playlist } => (Request::Host { playlist }, false),
        CtlCommand::Join { party } => (Request::Join { party }, false),
        CtlCommand::Leave => (Request::Leave, false),
        CtlCommand::End => (Request::End, false),
        CtlCommand::Skip => (Request::Skip, false),
        CtlCommand::Play { index } => (Request::Play { index }, false),
        CtlCommand::Pause => (Request::Pause, false),
        CtlCommand::Resume => (Request::Resume, false),
        CtlCommand::Previous => (Request::Previous, false),
        CtlCommand::Volume { first, level } => (volume_request(&first, level.as_deref())?, false),
        // A path is made absolute here: the box runs in another working directory.
        CtlCommand::Queue { song } => {
            let song = std::fs::canonicalize(&song)
                .map(|p| p.display().to_string())
                .unwrap_or(song);
            (Request::Queue { song }, false)
        }
    };
    let response = control::request(&config.state_dir, &request).await?;
    if !response.ok {
        return Err(CliError::Failed(
            response.error.unwrap_or_else(|| "the box refused".into()),
        ));
    }
    if let Some(songs) = response.songs {
        if json {
            let text = serde_json::to_string_pretty(&songs)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{text}");
        } else {
            for s in &songs {
                let secs = s.duration_ms.unwrap_or(0) / 1000;
                let artist = s.artist.as_deref().unwrap_or("-");
                println!(
                    "{}  {:>3}:{:02}  {} — {}",
                    &s.id[..12],
                    secs / 60,
                    secs % 60,
                    s.title,
                    artist
                );
            }
            let plural = if songs.len() == 1 { "" } else { "s" };
            println!("{} song{plural}", songs.len());
            for p in response.playlists.iter().flatten() {
                let default = if p.default { "  (default)" } else { "" };
                let skipped = match p.skipped {
                    0 => String::new(),
                    n => format!(", {n} entries skipped"),
                };
                let plural = if p.songs == 1 { "" } else { "s" };
                println!(
                    "playlist {}: {} song{plural}{skipped}{default}",
                    p.name, p.songs
                );
            }
        }
        return Ok(());
    }
    match (response.status, response.message) {
        (Some(status), _) if json => {
            let text = serde_json::to_string_pretty(&status)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{text}");
        }
        (Some(status), _) => print!("{}", render(&status)),
        (None, Some(message)) => println!("{message}"),
        (None, None) => {}
    }
    Ok(())
}

/// The human-readable status.
pub(super) fn render(s: &Status) -> String {
    let mut out = format!("box   {}  {}  {}\n", s.id, s.name, s.addr);
    match s.keyed {
        true => out.push_str(&format!(
            "key   keyed: only boxes with the party key; {} datagrams without it dropped\n",
            s.counters.wrong_key
        )),
        false => out.push_str(&format!(
            "key   open: no party key; {} datagrams of keyed parties dropped\n",
            s.counters.wrong_key
        )),
    }
    render_party(&mut out, s);
    if let Some(p) = &s.playlist {
        out.push_str(&format!("playlist {}\n", p.name));
        for skipped in &p.skipped {
            out.push_str(&format!(
                "  skipped {}: {}\n",
                skipped.entry, skipped.reason
            ));
        }
    }
    if let Some(p) = &s.playback {
        render_playback(&mut out, p);
    }
    let party_volume = s
        .playback
        .as_ref()
        .and_then(|p| p.party_volume)
        .map_or("-".to_owned(), |v| format!("{v}%"));
    out.push_str(&format!(
        "volume box {}%  party {party_volume}\n",
        s.box_volume
    ));
    for a in &s.alerts {
        out.push_str(&format!("alert {}: {}\n", a.message, a.hint));
    }
    out.push_str(&format!("neighbours {}\n", s.neighbours.len()));
    for n in &s.neighbours {
        let via = match n.via {
            chorus::core::Via::Multicast => "multicast",
            chorus::core::Via::Unicast => "unicast",
        };
        out.push_str(&format!(
            "  {:<16}  {:<20}  {:<21}  {:>5}ms  {}\n",
            n.id, n.name, n.addr, n.age_ms, via
        ));
    }
    out
}

/// The party and the invitations.
fn render_party(out: &mut String, s: &Status) {
    match &s.party {
        None => out.push_str("party none\n"),
        Some(p) => {
            out.push_str(&format!(
                "party {}  generation {}  {:?} as {:?}, {} boxes\n",
                p.id,
                chorus::core::party::generation(p.term),
                p.state,
                p.role,
                p.members.len()
            ));
            for m in &p.members {
                let host = if m.id == p.host { "  (host)" } else { "" };
                out.push_str(&format!(
                    "  {:<16}  {:<20}  {}{host}\n",
                    m.id, m.name, m.addr
                ));
            }
        }
    }
    for i in &s.invitations {
        out.push_str(&format!(
            "invited to {} by {} ({} hops, {} guests{})\n",
            i.party,
            i.host_name,
            i.hops,
            i.members,
            if i.started { ", started" } else { "" }
        ));
    }
}

/// What plays, where in the song, and how well in step.
fn render_playback(out: &mut String, p: &PlaybackStatus) {
    let song = p.song.as_deref().map_or("-", |s| &s[..12.min(s.len())]);
    let pos = p.position_ms.map_or("-".to_owned(), |ms| {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    });
    out.push_str(&format!("playback {} song {song} at {pos}", p.state));
    if let Some(e) = p.playout_error_us {
        out.push_str(&format!(", DAC {e:+.0} us off schedule"));
    }
    if let Some(c) = &p.clock {
        out.push_str(&format!(
            ", clock ±{:.0} us, {:+.1} ppm",
            c.error_us, c.rate_ppm
        ));
    }
    if p.missing_song {
        out.push_str(", song not on this box (silent)");
    }
    out.push('\n');
    if let Some(title) = &p.title {
        let artist = p
            .artist
            .as_deref()
            .map_or(String::new(), |a| format!(" — {a}"));
        out.push_str(&format!("song {title}{artist}\n"));
    }
}

/// `volume [box|party] N|+N|-N` as a request.
fn volume_request(first: &str, level: Option<&str>) -> Result<Request, CliError> {
    let (target, level) = match (first, level) {
        ("box", Some(level)) => (VolumeTarget::Box, level),
        ("party", Some(level)) => (VolumeTarget::Party, level),
        (level, None) => (VolumeTarget::Party, level),
        (other, Some(_)) => {
            return Err(CliError::Usage(format!(
                "volume: expected `box` or `party` before the level, not {other:?}"
            )))
        }
    };
    let bad = || {
        CliError::Usage(format!(
            "volume: {level:?} is not N, +N or -N with N from 0 to 100"
        ))
    };
    if let Some(rest) = level.strip_prefix('+') {
        let d: u8 = rest.parse().map_err(|_| bad())?;
        let d = i8::try_from(d.min(100)).map_err(|_| bad())?;
        Ok(Request::change_volume(target, d))
    } else if let Some(rest) = level.strip_prefix('-') {
        let d: u8 = rest.parse().map_err(|_| bad())?;
        let d = i8::try_from(d.min(100)).map_err(|_| bad())?;
        Ok(Request::change_volume(target, -d))
    } else {
        let p: u8 = level.parse().map_err(|_| bad())?;
        if p > 100 {
            return Err(bad());
        }
        Ok(Request::set_volume(target, p))
    }
}
