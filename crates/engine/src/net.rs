//! The network model: per-link latency with optional jitter, FIFO per link (like TCP).
//! Later faults (partitions, slow links) live here too. Only the simulator calls it.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Directed links that drop everything (a network partition).
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Extra latency on directed links (a slow link).
    extra: BTreeMap<(NodeId, NodeId), Duration>,
}

impl Network {
    pub fn new(config: NetworkConfig, rng: Prng) -> Network {
        Network {
            config,
            rng,
            last_delivery: BTreeMap::new(),
            blocked: BTreeSet::new(),
            extra: BTreeMap::new(),
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
        let extra = self
            .extra
            .get(&(from, to))
            .copied()
            .unwrap_or(Duration::ZERO);
        let natural = now + self.config.latency + jitter + extra;
        let last = self
            .last_delivery
            .entry((from, to))
            .or_insert(Instant::ZERO);
        // Messages on one connection never overtake each other.
        let at = natural.max(*last);
        *last = at;
        at
    }

    /// Whether messages from `from` to `to` are dropped.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Cuts every link between the two sides, both ways.
    pub fn partition(&mut self, side_a: &[NodeId], side_b: &[NodeId]) {
        for &a in side_a {
            for &b in side_b {
                self.blocked.insert((a, b));
                self.blocked.insert((b, a));
            }
        }
    }

    /// Restores every cut link; returns the pairs that were cut.
    pub fn heal(&mut self) -> Vec<(NodeId, NodeId)> {
        let cut: Vec<(NodeId, NodeId)> = self.blocked.iter().copied().collect();
        self.blocked.clear();
        self.extra.clear();
        cut
    }

    /// Adds latency to the link between `a` and `b`, both ways (zero restores it).
    pub fn slow_link(&mut self, a: NodeId, b: NodeId, extra: Duration) {
        for key in [(a, b), (b, a)] {
            if extra == Duration::ZERO {
                self.extra.remove(&key);
            } else {
                self.extra.insert(key, extra);
            }
        }
    }

    /// The brokers currently cut off, for snapshots.
    pub fn blocked_pairs(&self) -> impl Iterator<Item = &(NodeId, NodeId)> {
        self.blocked.iter()
    }
}
