//! The network model: per-link latency with optional jitter, FIFO per link (like TCP).
//! Later faults (partitions, slow links) live here too. Only the simulator calls it.

use std::collections::BTreeMap;

use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::NodeId;

/// Network settings of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// One-way latency of every link.
    pub latency: Duration,
    /// Up to this much extra latency, drawn per message.
    pub jitter: Duration,
}

impl NetworkConfig {
    /// A datacenter network: 0.5 ms one way, no jitter.
    pub fn lan() -> NetworkConfig {
        NetworkConfig {
            latency: Duration(500),
            jitter: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    config: NetworkConfig,
    rng: Prng,
    /// Latest delivery time scheduled on each directed link, to keep links FIFO.
    last_delivery: BTreeMap<(NodeId, NodeId), Instant>,
}

impl Network {
    pub fn new(config: NetworkConfig, rng: Prng) -> Network {
        Network {
            config,
            rng,
            last_delivery: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// When a message sent now from `from` arrives at `to`.
    pub fn delivery_time(&mut self, now: Instant, from: NodeId, to: NodeId) -> Instant {
        let jitter = if self.config.jitter > Duration::ZERO {
            Duration(self.rng.below(self.config.jitter.as_micros() + 1))
        } else {
            Duration::ZERO
        };
        let natural = now + self.config.latency + jitter;
        let last = self
            .last_delivery
            .entry((from, to))
            .or_insert(Instant::ZERO);
        // Messages on one connection never overtake each other.
        let at = natural.max(*last);
        *last = at;
        at
    }
}
