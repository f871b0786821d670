//! The benchmark pipeline on a tiny configuration: it must start and lock (no timing
//! assertion).

use super::*;

#[test]
fn a_tiny_party_locks() {
    let config = SyncBenchConfig {
        boxes: 3,
        seconds: 8.0,
        snr_seconds: 1.0,
        ..SyncBenchConfig::default()
    };
    let report = run(&config);
    println!("{}", report.render_text());
    assert_eq!(report.profiles.len(), 2);
    for p in &report.profiles {
        assert!(p.start_s.is_some(), "{} never started", p.profile);
        assert!(p.lock_s.is_some(), "{} never locked", p.profile);
        assert!(p.snr_db.is_some_and(|db| db > 40.0), "{:?}", p.snr_db);
    }
    assert!(report.to_json().contains("\"profiles\""));
}
