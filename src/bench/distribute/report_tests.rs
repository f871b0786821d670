use super::*;

fn report(swarm_s: f64, origin_s: f64) -> BenchReport {
    let size = 20_000_000;
    BenchReport {
        namespaces: Some(DistributeReport {
            members: 8,
            song_bytes: size,
            link_bits_per_sec: LINK_BITS_PER_SEC,
            lower_bound_s: lower_bound_s(size, LINK_BITS_PER_SEC).unwrap(),
            runs: vec![
                RunReport {
                    swarm: true,
                    seconds: swarm_s,
                    member_seconds: vec![1.5, swarm_s],
                    host_tx_bytes: Some(30_000_000),
                },
                RunReport {
                    swarm: false,
                    seconds: origin_s,
                    member_seconds: vec![origin_s],
                    host_tx_bytes: None,
                },
            ],
        }),
        loopback: Some(LoopbackReport::new(200_000_000, 0.25)),
    }
}

#[test]
fn lower_bound_is_size_over_uplink() {
    // 20 MB over 100 Mbit/s = 12.5 MB/s takes 1.6 s.
    let s = lower_bound_s(20_000_000, 100_000_000).unwrap();
    assert!((s - 1.6).abs() < 1e-12, "{s}");
    assert_eq!(lower_bound_s(1, 0), None);
}

#[test]
fn ratio_is_time_over_the_bound() {
    let r = RunReport {
        swarm: true,
        seconds: 2.4,
        member_seconds: vec![2.4],
        host_tx_bytes: None,
    };
    assert!((r.ratio(1.6).unwrap() - 1.5).abs() < 1e-12);
    assert_eq!(r.ratio(0.0), None);
}

#[test]
fn loopback_rate_is_megabytes_per_second() {
    assert!((LoopbackReport::new(200_000_000, 0.25).mb_per_sec - 800.0).abs() < 1e-9);
    assert_eq!(LoopbackReport::new(1, 0.0).mb_per_sec, 0.0);
}

#[test]
fn text_shows_bound_ratio_host_bytes_and_verdicts() {
    let text = report(2.0, 13.0).render_text();
    assert!(
        text.contains("lower bound (size / host uplink): 1.600 s"),
        "{text}"
    );
    let swarm = text.lines().find(|l| l.starts_with("swarm")).unwrap();
    // 2.0 / 1.6 = 1.25: within 1.3.
    assert!(swarm.contains("1.25"), "{swarm}");
    assert!(swarm.contains("30.0") && swarm.contains("1.50"), "{swarm}");
    assert!(swarm.ends_with("met"), "{swarm}");
    let origin = text.lines().find(|l| l.starts_with("origin")).unwrap();
    assert!(origin.contains("8.12"), "{origin}");
    assert!(
        origin.ends_with('-'),
        "no target without swarming: {origin}"
    );
    assert!(
        text.contains("800.0 MB/s (target >= 500 MB/s: met)"),
        "{text}"
    );

    let slow = report(2.2, 13.0).render_text();
    let swarm = slow.lines().find(|l| l.starts_with("swarm")).unwrap();
    assert!(swarm.ends_with("MISSED"), "{swarm}");
}

#[test]
fn json_carries_every_number() {
    let v: serde_json::Value = serde_json::from_str(&report(2.0, 13.0).to_json()).unwrap();
    let ns = &v["namespaces"];
    assert_eq!(ns["song_bytes"], 20_000_000);
    assert_eq!(ns["runs"][0]["host_tx_bytes"], 30_000_000);
    assert_eq!(ns["runs"][1]["host_tx_bytes"], serde_json::Value::Null);
    assert_eq!(v["loopback"]["mb_per_sec"], 800.0);
}

#[test]
fn missing_parts_are_left_out_of_the_text() {
    let only_loopback = BenchReport {
        namespaces: None,
        loopback: Some(LoopbackReport::new(100_000_000, 1.0)),
    };
    let text = only_loopback.render_text();
    assert!(!text.contains("lower bound"));
    assert!(
        text.contains("100.0 MB/s (target >= 500 MB/s: MISSED)"),
        "{text}"
    );
}
