//! Runs the sync benchmark until the CLI's `chorus bench sync [--json]` exists:
//! `cargo run --release --example bench_sync [-- --json]`.

fn main() {
    let mut config = chorus::bench::sync::SyncBenchConfig::default();
    if let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse().ok()) {
        config.seed = seed;
    }
    // `KP=0.5 KI=0.0625` runs the playout controller's own default tuning instead.
    if let (Ok(kp), Ok(ki)) = (std::env::var("KP"), std::env::var("KI")) {
        config.playout.kp = kp.parse().unwrap_or(config.playout.kp);
        config.playout.ki = ki.parse().unwrap_or(config.playout.ki);
    }
    let report = chorus::bench::sync::run(&config);
    if std::env::args().any(|a| a == "--json") {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
}
