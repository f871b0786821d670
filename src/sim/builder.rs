//! Building a [`Sim`]: the seed, the default link, which boxes sit on which segments,
//! declared routes and a per-box config hook.

use std::fmt;

use super::network::{LinkModel, SegmentId};
use super::streams::StreamModel;
use super::world::Sim;
use crate::core::NodeConfig;

/// The segment boxes go on when none is named.
pub const DEFAULT_SEGMENT: SegmentId = SegmentId(0);

type Configure = Box<dyn FnMut(usize, &mut NodeConfig)>;

/// Describes a simulation; [`SimBuilder::build`] powers every box on at time zero.
pub struct SimBuilder {
    seed: u64,
    link: LinkModel,
    boxes: Vec<Vec<SegmentId>>,
    routes: Vec<(SegmentId, SegmentId)>,
    configure: Option<Configure>,
    keep_trace: bool,
    streams: StreamModel,
}

impl fmt::Debug for SimBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimBuilder")
            .field("seed", &self.seed)
            .field("link", &self.link)
            .field("boxes", &self.boxes.len())
            .field("routes", &self.routes)
            .field("keep_trace", &self.keep_trace)
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A builder for a simulation seeded with `seed`.
    pub fn builder(seed: u64) -> SimBuilder {
        SimBuilder::new(seed)
    }
}

impl SimBuilder {
    /// No boxes yet, ideal links.
    pub fn new(seed: u64) -> Self {
        SimBuilder {
            seed,
            link: LinkModel::ideal(),
            boxes: Vec::new(),
            routes: Vec::new(),
            configure: None,
            keep_trace: false,
            streams: StreamModel::default(),
        }
    }

    /// The model of every link without a per-link override.
    pub fn link(mut self, link: LinkModel) -> Self {
        self.link = link;
        self
    }

    /// Adds `count` boxes on the default segment.
    pub fn nodes(self, count: usize) -> Self {
        self.nodes_on(count, &[DEFAULT_SEGMENT])
    }

    /// Adds `count` boxes on all of `segments` (a box on two segments bridges them for
    /// multicast listening, not forwarding).
    pub fn nodes_on(mut self, count: usize, segments: &[SegmentId]) -> Self {
        self.boxes
            .extend(std::iter::repeat_with(|| segments.to_vec()).take(count));
        self
    }

    /// Lets unicast flow between two segments, both ways.
    pub fn route(mut self, a: SegmentId, b: SegmentId) -> Self {
        self.routes.push((a, b));
        self
    }

    /// Adjusts box `index`'s config (beacon interval, limits, static peers; see
    /// [`super::node_addr`] for the addresses of other boxes).
    pub fn configure(mut self, f: impl FnMut(usize, &mut NodeConfig) + 'static) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    /// Keeps every trace record in memory, not just the hash.
    pub fn keep_trace(mut self, keep: bool) -> Self {
        self.keep_trace = keep;
        self
    }

    /// How control streams behave (timeouts, retransmission penalty).
    pub fn streams(mut self, model: StreamModel) -> Self {
        self.streams = model;
        self
    }

    /// Creates the simulation with every box powered on at time zero.
    pub fn build(mut self) -> Sim {
        let mut sim = Sim::new(self.seed, self.link, self.keep_trace);
        sim.set_stream_model(self.streams);
        for (a, b) in &self.routes {
            sim.network_mut().add_route(*a, *b);
        }
        for (index, segments) in self.boxes.iter().enumerate() {
            let configure = &mut self.configure;
            sim.add_node(segments, |config| {
                if let Some(f) = configure {
                    f(index, config);
                }
            });
        }
        sim
    }
}
