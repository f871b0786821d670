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
    let mut last: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let view = views(&dirs).await;
        if view != last {
            println!("after {:.1}s:", started.elapsed().as_secs_f64());
            for (name, sees) in &view {
                println!(
                    "  {name} sees {}",
                    if sees.is_empty() {
                        "nobody yet".to_owned()
                    } else {
                        sees.join(", ")
                    }
                );
            }
            last = view;
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            cancel.cancel();
        }
    }
    tracker.wait().await;
    let everyone = last
        .values()
        .all(|sees| sees.len() + 1 == usize::from(args.boxes));
    if everyone {
        println!("all {} boxes saw each other", args.boxes);
        Ok(())
    } else {
        Err(CliError::Failed("not every box saw every other box".into()))
    }
}

async fn views(dirs: &[(String, PathBuf)]) -> BTreeMap<String, Vec<String>> {
    let mut view = BTreeMap::new();
    for (name, dir) in dirs {
        let sees = match control::request(dir, &Request::Status).await {
            Ok(r) => r
                .status
                .map(|s| s.neighbours.into_iter().map(|n| n.name).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        view.insert(name.clone(), sees);
    }
    view
}
