//! Two network segments joined only by one box with an interface on each: a host's
//! invitation crosses to the other segment through the overlay (multicast cannot), and a
//! box there joins. Needs root for network namespaces; skips with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ctl, status, wait_for, BoxProc, BIN};

/// Namespaces and links of one test run, torn down on drop.
struct Net {
    prefix: String,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    fn ns(&self, short: &str) -> String {
        format!("{}{short}", self.prefix)
    }

    /// Switch namespace with two bridges; hosts a (seg A), b (seg B), and x on both.
    fn build() -> Result<Net, String> {
        let prefix = format!("ch{}", std::process::id() % 100_000);
        let mut net = Net {
            prefix: prefix.clone(),
            namespaces: Vec::new(),
        };
        for short in ["sw", "a", "b", "x"] {
            let name = net.ns(short);
            ip(&["netns", "add", &name])?;
            net.namespaces.push(name);
        }
        let sw = net.ns("sw");
        for br in ["brA", "brB"] {
            ip(&[
                "-n",
                &sw,
                "link",
                "add",
                br,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ])?;
            ip(&["-n", &sw, "link", "set", br, "up"])?;
        }
        // (namespace, interface inside it, bridge, address)
        let links = [
            ("a", "eth0", "brA", "10.77.1.1/24"),
            ("x", "eth0", "brA", "10.77.1.2/24"),
            ("x", "eth1", "brB", "10.77.2.2/24"),
            ("b", "eth0", "brB", "10.77.2.1/24"),
        ];
        for (i, (short, dev, br, addr)) in links.iter().enumerate() {
            let ns = net.ns(short);
            let outer = format!("{prefix}v{i}");
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", dev, "netns", &ns,
            ])?;
            ip(&["link", "set", &outer, "netns", &sw])?;
            ip(&["-n", &sw, "link", "set", &outer, "master", br, "up"])?;
            ip(&["-n", &ns, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", &ns, "link", "set", dev, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        net.route_between_segments()?;
        Ok(net)
    }

    /// x routes unicast between the segments; multicast (TTL 1) still stops at it.
    fn route_between_segments(&self) -> Result<(), String> {
        let x = self.ns("x");
        let forward = Command::new("ip")
            .args([
                "netns",
                "exec",
                &x,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if !forward.success() {
            return Err("cannot enable forwarding in the bridge box".into());
        }
        ip(&[
            "-n",
            &self.ns("a"),
            "route",
            "add",
            "10.77.2.0/24",
            "via",
            "10.77.1.2",
        ])?;
        ip(&[
            "-n",
            &self.ns("b"),
            "route",
            "add",
            "10.77.1.0/24",
            "via",
            "10.77.2.2",
        ])?;
        Ok(())
    }

    fn run(&self, short: &str, dir: &std::path::Path, ifaces: &[&str]) -> BoxProc {
        let state = dir.join(short);
        // No learned peers: with routing between the segments, a and b would otherwise
        // find each other by unicast and the invitation could skip the bridge box.
        let config = dir.join("overlay.toml");
        std::fs::write(&config, "[discovery]\nmax_learned_peers = 0\n").unwrap();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.ns(short),
            BIN,
            "run",
            "--name",
            short,
        ])
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(&config)
        .env("CHORUS_LOG", "warn")
        .stdout(Stdio::null());
        for iface in ifaces {
            cmd.args(["--interface", iface]);
        }
        BoxProc {
            child: cmd.spawn().unwrap(),
            state,
            name: short.to_owned(),
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

#[test]
fn invitation_crosses_segments_through_the_overlay_and_the_far_box_joins() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED netns_overlay: needs root to create network namespaces");
        return;
    }
    let net = match Net::build() {
        Ok(net) => net,
        Err(e) => {
            eprintln!("SKIPPED netns_overlay: network namespaces unavailable: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let host = net.run("a", dir.path(), &["10.77.1.1"]);
    let bridge = net.run("x", dir.path(), &["10.77.1.2", "10.77.2.2"]);
    let far = net.run("b", dir.path(), &["10.77.2.1"]);
    let names = |b: &BoxProc| -> Vec<String> {
        let mut n: Vec<String> = status(&b.state)
            .map(|s| s.neighbours.into_iter().map(|n| n.name).collect())
            .unwrap_or_default();
        n.sort();
        n
    };
    let settled = wait_for(Duration::from_secs(15), || {
        names(&bridge) == ["a", "b"] && names(&host) == ["x"] && names(&far) == ["x"]
    });
    assert!(
        settled.is_some(),
        "bridge box should see both segments, the others only it"
    );
    assert!(
        !names(&far).contains(&"a".to_owned()),
        "multicast must not cross segments"
    );

    let (ok, out, err) = ctl(&host.state, &["host"]);
    assert!(ok, "{out} {err}");
    let party = status(&host.state).unwrap().party.unwrap().id;
    let mut hops = 0;
    let invited = wait_for(Duration::from_secs(10), || {
        status(&far.state)
            .and_then(|s| s.invitations.into_iter().find(|i| i.party == party))
            .map(|i| {
                hops = i.hops;
                assert_eq!(
                    i.addr.split(':').next(),
                    Some("10.77.1.1"),
                    "host address filled in"
                );
            })
            .is_some()
    });
    assert!(invited.is_some(), "the invitation never reached segment B");
    assert!(hops >= 1, "it came through the bridge box, not directly");
    let (ok, out, err) = ctl(&far.state, &["join", &party]);
    assert!(ok, "{out} {err}");
    let joined = wait_for(Duration::from_secs(10), || {
        status(&host.state)
            .and_then(|s| s.party)
            .is_some_and(|p| p.members.iter().any(|m| m.name == "b"))
            && status(&far.state)
                .and_then(|s| s.party)
                .is_some_and(|p| p.id == party && p.members.len() == 2)
    });
    assert!(
        joined.is_some(),
        "the far box could not join across the segments"
    );
    drop((host, bridge, far));
}
