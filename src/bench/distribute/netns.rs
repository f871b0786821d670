//! Network namespaces for the benchmark: one per box on a shared bridge, every link
//! rate-limited with `tbf`, torn down when dropped (also on error and Ctrl-C).

use std::net::Ipv4Addr;
use std::process::Command;

use super::DistributeError;

/// The `tbf` every link gets, both directions. The bucket holds a few GSO segments so
/// veth's 64 KiB packets are not split one by one.
const TBF: [&str; 6] = ["rate", "100mbit", "burst", "256kb", "latency", "50ms"];

/// The bridge's namespace and one namespace per box, deleted on drop.
#[derive(Debug)]
pub(super) struct Netns {
    prefix: String,
    boxes: usize,
    created: Vec<String>,
}

/// Box `i`'s address on the bridge.
pub(super) fn box_addr(i: usize) -> Ipv4Addr {
    let last = u8::try_from(i + 1).unwrap_or(u8::MAX);
    Ipv4Addr::new(10, 78, 0, last)
}

/// Why the benchmark cannot build namespaces here, or `None` if it can try.
pub(super) fn unavailable() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some(
            "needs root to create network namespaces (run it as root, or use --loopback for \
             the single-pair run only)"
                .into(),
        );
    }
    match Command::new("ip").arg("netns").arg("list").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `ip` (iproute2): {e}")),
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, DistributeError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| DistributeError::Netns(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(DistributeError::Netns(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// Builds `boxes` namespaces on one bridge, each link limited both ways.
    pub(super) fn build(boxes: usize) -> Result<Netns, DistributeError> {
        let mut net = Netns {
            prefix: format!("chb{}", std::process::id() % 100_000),
            boxes,
            created: Vec::new(),
        };
        let sw = net.switch();
        net.add(&sw)?;
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        run("ip", &["-n", &sw, "link", "set", "br0", "up"])?;
        for i in 0..boxes {
            let ns = net.name(i);
            net.add(&ns)?;
            let outer = format!("{}v{i}", net.prefix);
            let addr = format!("{}/24", box_addr(i));
            run(
                "ip",
                &[
                    "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            run("ip", &["link", "set", &outer, "netns", &sw])?;
            run(
                "ip",
                &["-n", &sw, "link", "set", &outer, "master", "br0", "up"],
            )?;
            run("ip", &["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            run(
                "ip",
                &["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"],
            )?;
            // The box's uplink, then its downlink (egress of the bridge side).
            for (space, dev) in [(&ns, "eth0"), (&sw, outer.as_str())] {
                let mut args = vec!["-n", space, "qdisc", "add", "dev", dev, "root", "tbf"];
                args.extend(TBF);
                run("tc", &args)?;
            }
        }
        Ok(net)
    }

    fn add(&mut self, name: &str) -> Result<(), DistributeError> {
        run("ip", &["netns", "add", name])?;
        self.created.push(name.to_owned());
        Ok(())
    }

    fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// The namespace of box `i`.
    pub(super) fn name(&self, i: usize) -> String {
        format!("{}b{i}", self.prefix)
    }

    pub(super) fn boxes(&self) -> usize {
        self.boxes
    }

    /// Bytes box `i` has sent on its link since the namespace was built.
    pub(super) fn tx_bytes(&self, i: usize) -> Option<u64> {
        let ns = self.name(i);
        let text = run(
            "ip",
            &["-n", &ns, "-j", "-s", "link", "show", "dev", "eth0"],
        )
        .ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json.get(0)?
            .get("stats64")?
            .get("tx")?
            .get("bytes")?
            .as_u64()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace ends its veths; boxes still inside keep it alive only
        // until they exit, which the box guard sees to first.
        for ns in self.created.iter().rev() {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                tracing::warn!(error = %e, "namespace left behind");
            }
        }
    }
}
