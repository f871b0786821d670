//! The simulated network: per-link delay, jitter, loss, duplication and reordering;
//! multicast segments, declared unicast routes and partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::Rng;

/// One multicast segment (a LAN, a Wi-Fi, a VLAN): multicast reaches every box on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u32);

/// How the variable part of a link's delay is distributed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// Every datagram takes exactly the base delay.
    None,
    /// Uniform in `base ± spread`, never below zero.
    Uniform(Duration),
    /// `base` plus an exponential tail of this mean: mostly fast, sometimes slow, like Wi-Fi.
    Exponential(Duration),
}

/// What one direction of a link does to a datagram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Fixed part of the one-way delay.
    pub delay: Duration,
    pub jitter: Jitter,
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a delivered datagram arrives twice (the copy has its own delay).
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay`, so later ones overtake it.
    pub reorder: f64,
    pub reorder_delay: Duration,
}

impl LinkModel {
    /// A perfect link: 100 µs, nothing lost, duplicated or reordered.
    pub fn ideal() -> Self {
        LinkModel {
            delay: Duration::from_micros(100),
            jitter: Jitter::None,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    /// A wired LAN: 0.3 ms ± 0.1 ms, 1 % loss, a little duplication and reordering.
    pub fn lan() -> Self {
        LinkModel {
            delay: Duration::from_micros(300),
            jitter: Jitter::Uniform(Duration::from_micros(100)),
            loss: 0.01,
            duplicate: 0.005,
            reorder: 0.01,
            reorder_delay: Duration::from_millis(5),
        }
    }

    /// The delays of the copies of one datagram that arrive: none if it is lost, two if
    /// it is duplicated.
    pub fn sample(&self, rng: &mut impl Rng) -> Vec<Duration> {
        if chance(rng, self.loss) {
            return Vec::new();
        }
        let mut out = vec![self.one_delay(rng)];
        if chance(rng, self.duplicate) {
            out.push(self.one_delay(rng));
        }
        out
    }

    /// The delay of one message on a reliable stream over this link: the delay and
    /// jitter of a datagram, plus `penalty` for each loss draw (at most `max`): a stream
    /// retransmits, it never loses.
    pub fn stream_delay(&self, rng: &mut impl Rng, penalty: Duration, max: u32) -> Duration {
        let mut d = self.one_delay(rng);
        let mut lost = 0;
        while lost < max && chance(rng, self.loss) {
            d += penalty;
            lost += 1;
        }
        d
    }

    fn one_delay(&self, rng: &mut impl Rng) -> Duration {
        let mut d = match self.jitter {
            Jitter::None => self.delay,
            Jitter::Uniform(spread) => {
                let offset = spread.mul_f64(rng.gen_range(0.0..=1.0));
                if rng.gen::<bool>() {
                    self.delay + offset
                } else {
                    self.delay.saturating_sub(offset)
                }
            }
            Jitter::Exponential(mean) => {
                // Inverse transform; 1 - u is in (0, 1] so the logarithm is finite.
                let u: f64 = rng.gen_range(0.0..1.0);
                self.delay + mean.mul_f64(-(1.0 - u).ln())
            }
        };
        if chance(rng, self.reorder) {
            d += self.reorder_delay;
        }
        d
    }
}

/// True with probability `p`; never draws for 0 or less so a perfect link costs no
/// randomness and adding loss elsewhere does not shift its trace.
fn chance(rng: &mut impl Rng, p: f64) -> bool {
    p > 0.0 && rng.gen_bool(p.min(1.0))
}

/// Delay of a box's multicast echo to itself (IP_MULTICAST_LOOP): local, never lost.
pub const LOOPBACK_DELAY: Duration = Duration::from_micros(10);

/// Who can reach whom, and how each link behaves. Boxes are indices into the simulation.
#[derive(Clone, Debug)]
pub struct Network {
    default_link: LinkModel,
    links: BTreeMap<(usize, usize), LinkModel>,
    segments: Vec<BTreeSet<SegmentId>>,
    routes: BTreeSet<(SegmentId, SegmentId)>,
    blocked: BTreeSet<(usize, usize)>,
}

impl Network {
    /// An empty network whose links all behave like `default_link`.
    pub fn new(default_link: LinkModel) -> Self {
        Network {
            default_link,
            links: BTreeMap::new(),
            segments: Vec::new(),
            routes: BTreeSet::new(),
            blocked: BTreeSet::new(),
        }
    }

    /// Adds a box on the given segments; returns its index.
    pub fn add_box(&mut self, segments: &[SegmentId]) -> usize {
        self.segments.push(segments.iter().copied().collect());
        self.segments.len() - 1
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn set_default_link(&mut self, link: LinkModel) {
        self.default_link = link;
    }

    /// Overrides the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: usize, to: usize, link: LinkModel) {
        self.links.insert((from, to), link);
    }

    /// The model of the link from `from` to `to`.
    pub fn link(&self, from: usize, to: usize) -> &LinkModel {
        self.links.get(&(from, to)).unwrap_or(&self.default_link)
    }

    /// Declares that unicast flows between the two segments (both directions), as through
    /// a router; multicast still does not cross.
    pub fn add_route(&mut self, a: SegmentId, b: SegmentId) {
        self.routes.insert((a, b));
        self.routes.insert((b, a));
    }

    pub fn remove_route(&mut self, a: SegmentId, b: SegmentId) {
        self.routes.remove(&(a, b));
        self.routes.remove(&(b, a));
    }

    /// Cuts the network between the groups: a box of one group reaches no box of
    /// another, both ways. Boxes in no group are unaffected. Adds to earlier cuts.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        for (gi, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(gi + 1) {
                for &x in a.iter() {
                    for &y in b.iter() {
                        self.block(x, y);
                    }
                }
            }
        }
    }

    /// Cuts the link between two boxes, both ways.
    pub fn block(&mut self, a: usize, b: usize) {
        self.block_one_way(a, b);
        self.block_one_way(b, a);
    }

    /// Cuts the link from `from` to `to` only: an asymmetric failure.
    pub fn block_one_way(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// The segments a box is on.
    pub fn segments_of(&self, node: usize) -> impl Iterator<Item = SegmentId> + '_ {
        self.segments.get(node).into_iter().flatten().copied()
    }

    /// Receivers of one multicast send by `from`, one entry per shared segment (a box on
    /// two of the sender's segments hears it twice, as with two interfaces). The sender
    /// is included: multicast loops back. Cuts are not applied here.
    pub fn multicast_targets(&self, from: usize) -> Vec<usize> {
        let Some(mine) = self.segments.get(from) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for seg in mine {
            for (to, theirs) in self.segments.iter().enumerate() {
                if theirs.contains(seg) {
                    out.push(to);
                }
            }
        }
        out
    }

    /// Whether a unicast datagram from `from` can reach `to`: same box, a shared
    /// segment, or a declared route between their segments. Cuts are not applied here.
    pub fn unicast_reachable(&self, from: usize, to: usize) -> bool {
        if from == to {
            return true;
        }
        let (Some(a), Some(b)) = (self.segments.get(from), self.segments.get(to)) else {
            return false;
        };
        a.iter().any(|sa| {
            b.iter()
                .any(|sb| sa == sb || self.routes.contains(&(*sa, *sb)))
        })
    }

    /// One-way delay of a stream message from `from` to `to` (see
    /// [`LinkModel::stream_delay`]); cuts are not applied here.
    pub fn stream_delay(
        &self,
        rng: &mut impl Rng,
        from: usize,
        to: usize,
        penalty: Duration,
        max: u32,
    ) -> Duration {
        match self.links.get(&(from, to)) {
            Some(link) => link.stream_delay(rng, penalty, max),
            None if from == to => LOOPBACK_DELAY,
            None => self.default_link.stream_delay(rng, penalty, max),
        }
    }

    /// Whether either direction between two boxes is cut.
    pub fn is_cut(&self, a: usize, b: usize) -> bool {
        self.is_blocked(a, b) || self.is_blocked(b, a)
    }

    /// Delays of the copies of one datagram from `from` to `to` that arrive; empty if it
    /// is cut or lost.
    pub fn transit(&self, rng: &mut impl Rng, from: usize, to: usize) -> Vec<Duration> {
        if self.is_blocked(from, to) {
            return Vec::new();
        }
        match self.links.get(&(from, to)) {
            Some(link) => link.sample(rng),
            None if from == to => vec![LOOPBACK_DELAY],
            None => self.default_link.sample(rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const A: SegmentId = SegmentId(0);
    const B: SegmentId = SegmentId(1);

    #[test]
    fn loss_rate_is_roughly_as_configured() {
        let mut rng = StdRng::seed_from_u64(7);
        let link = LinkModel {
            loss: 0.2,
            ..LinkModel::ideal()
        };
        let n = 20_000;
        let lost = (0..n).filter(|_| link.sample(&mut rng).is_empty()).count();
        let rate = lost as f64 / f64::from(n);
        assert!((0.18..0.22).contains(&rate), "loss rate {rate}");
    }

    #[test]
    fn duplication_and_jitter_stay_in_bounds() {
        let mut rng = StdRng::seed_from_u64(8);
        let link = LinkModel {
            duplicate: 0.5,
            loss: 0.0,
            reorder: 0.0,
            ..LinkModel::lan()
        };
        let mut copies = 0;
        for _ in 0..2_000 {
            let d = link.sample(&mut rng);
            copies += d.len();
            for x in d {
                assert!((Duration::from_micros(200)..=Duration::from_micros(400)).contains(&x));
            }
        }
        assert!((2_800..3_200).contains(&copies), "{copies} copies");
    }

    #[test]
    fn partition_blocks_both_directions_and_heal_restores() {
        let mut net = Network::new(LinkModel::ideal());
        let boxes: Vec<usize> = (0..4).map(|_| net.add_box(&[A])).collect();
        net.partition(&[&boxes[..2], &boxes[2..]]);
        let mut rng = StdRng::seed_from_u64(1);
        assert!(net.transit(&mut rng, 0, 2).is_empty());
        assert!(net.transit(&mut rng, 2, 0).is_empty());
        assert_eq!(
            net.transit(&mut rng, 0, 1).len(),
            1,
            "same side still talks"
        );
        net.heal();
        assert_eq!(net.transit(&mut rng, 0, 2).len(), 1);
        assert_eq!(net.transit(&mut rng, 2, 0).len(), 1);
    }

    #[test]
    fn multicast_stays_on_segments_and_unicast_needs_a_route() {
        let mut net = Network::new(LinkModel::ideal());
        let a = net.add_box(&[A]);
        let bridge = net.add_box(&[A, B]);
        let b = net.add_box(&[B]);
        assert_eq!(net.multicast_targets(a), vec![a, bridge]);
        assert_eq!(net.multicast_targets(bridge), vec![a, bridge, bridge, b]);
        assert!(!net.unicast_reachable(a, b));
        net.add_route(A, B);
        assert!(net.unicast_reachable(a, b) && net.unicast_reachable(b, a));
        assert_eq!(
            net.multicast_targets(a),
            vec![a, bridge],
            "routes carry no multicast"
        );
    }
}
