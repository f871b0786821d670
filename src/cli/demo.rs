//! `chorus demo`: several boxes in this process on loopback, printing who sees whom.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tracing::Instrument;

use chorus::config::Config;
use chorus::net::control::{self, Request};
use chorus::net::BoxRuntime;

use super::{shutdown_token, CliError};

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// How many boxes to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=32))]
    boxes: u16,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Where the boxes keep their state dirs.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Multicast port for the demo (kept apart from real boxes on 7700).
    #[arg(long, default_value_t = 7790)]
    port: u16,
}

pub(super) async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let base = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("chorus-demo"));
    let cancel = shutdown_token();
    let tracker = tokio_util::task::TaskTracker::new();
    let mut dirs = Vec::new();
    for i in 1..=args.boxes {
        let mut config = Config {
            name: Some(format!("box-{i}")),
            state_dir: base.join(format!("box-{i}")),
            ..Config::default()
        };
        config.discovery.port = args.port;
        config.discovery.unicast_port = 0;
        config.party.control_port = 0;
        // box-1 hosts; the others accept its invitation as if JOIN were pressed.
        config.party.auto_join = i != 1;
        // Start as soon as everyone is in, not after the 20 s invite window.
        config.party.min_accepts = usize::from(args.boxes.saturating_sub(1).max(1));
        // Loopback only: the demo never puts a packet on a real network.
        config.discovery.interfaces = vec![Ipv4Addr::LOCALHOST];
        let runtime = BoxRuntime::bind(config.clone()).await?;
        println!(
            "started box-{i} id {} on {}   (chorus ctl --state-dir {} status)",
            runtime.id(),
            runtime.local_addr(),
            config.state_dir.display()
        );
        dirs.push((format!("box-{i}"), config.state_dir));
        let cancel = cancel.clone();
        // In one process the logs of all boxes interleave: tag each with its box.
        let span = tracing::info_span!("box", n = i);
        tracker.spawn(
            async move {
                if let Err(e) = runtime.run(cancel).await {
                    tracing::error!(error = %e, "box failed");
                }
            }
            .instrument(span),
        );
    }
    tracker.close();
    let deadline = args.duration.map(Duration::from_secs);
    let started = tokio::time::Instant::now();
    let mut last: BTreeMap<String, View> = BTreeMap::new();
    let mut hosted = false;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let view = views(&dirs).await;
        if view != last {
            println!("after {:.1}s:", started.elapsed().as_secs_f64());
            for (name, v) in &view {
                let sees = if v.sees.is_empty() {
                    "nobody yet".to_owned()
                } else {
                    v.sees.join(", ")
                };
                println!("  {name} sees {sees}; {}", v.party);
            }
            last = view;
        }
        let everyone_found = !last.is_empty()
            && last
                .values()
                .all(|v| v.sees.len() + 1 == usize::from(args.boxes));
        if everyone_found && !hosted {
            hosted = true;
            if let Some((_, dir)) = dirs.first() {
                match control::request(dir, &Request::Host).await {
                    Ok(r) => println!("box-1: {}", r.message.or(r.error).unwrap_or_default()),
                    Err(e) => println!("box-1 could not host: {e}"),
                }
            }
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            cancel.cancel();
        }
    }
    tracker.wait().await;
    let everyone = last
        .values()
        .all(|v| v.sees.len() + 1 == usize::from(args.boxes));
    let one_party = last.values().all(|v| v.in_party == usize::from(args.boxes));
    match (everyone, one_party) {
        (true, true) => {
            println!(
                "all {} boxes saw each other and formed one party",
                args.boxes
            );
            Ok(())
        }
        (true, false) => Err(CliError::Failed(
            "the boxes saw each other but did not all join the party (run longer?)".into(),
        )),
        _ => Err(CliError::Failed("not every box saw every other box".into())),
    }
}

/// What one box reports, reduced to what the demo prints.
#[derive(Debug, PartialEq, Eq)]
struct View {
    sees: Vec<String>,
    party: String,
    /// Boxes in its party (0 outside one).
    in_party: usize,
}

async fn views(dirs: &[(String, PathBuf)]) -> BTreeMap<String, View> {
    let mut views = BTreeMap::new();
    for (name, dir) in dirs {
        let status = control::request(dir, &Request::Status)
            .await
            .ok()
            .and_then(|r| r.status);
        let view = match status {
            Some(s) => View {
                sees: s.neighbours.into_iter().map(|n| n.name).collect(),
                in_party: s.party.as_ref().map_or(0, |p| p.members.len()),
                party: match s.party {
                    None => "no party".to_owned(),
                    Some(p) => format!(
                        "party {} as {:?}, {:?}, {} boxes",
                        &p.id[..6],
                        p.role,
                        p.state,
                        p.members.len()
                    ),
                },
            },
            None => View {
                sees: Vec::new(),
                party: "not answering".to_owned(),
                in_party: 0,
            },
        };
        views.insert(name.clone(), view);
    }
    views
}
