//! What the producer and the consumer do the same way with their connections (Kafka's
//! `NetworkClient` side): the bootstrap rotation for metadata and coordinator lookups
//! (`leastLoadedNode`), the reconnect backoff per broker, correlation ids, and the exponential
//! backoff with jitter both use (KIP-580).

use std::collections::BTreeMap;

use crate::rng::Prng;
use crate::time::{Duration, Instant};

/// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` defaults.
pub(crate) const RECONNECT_BACKOFF: Duration = Duration(50_000);
pub(crate) const RECONNECT_BACKOFF_MAX: Duration = Duration(1_000_000);

/// Exponential backoff with ±20% jitter (KIP-580): `base * 2^(attempt-1)`, capped at `max`.
pub fn exponential(base: Duration, max: Duration, attempt: u32, rng: &mut Prng) -> Duration {
    let shift = attempt.saturating_sub(1).min(32);
    let raw = base
        .as_micros()
        .saturating_mul(1u64 << shift)
        .min(max.as_micros().max(base.as_micros()));
    let jitter = 80 + rng.below(41); // 80..=120 percent
    Duration(raw.saturating_mul(jitter) / 100)
}

/// A client's connections to the brokers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Connections {
    /// The bootstrap list, and where its next rotation starts.
    brokers: Vec<u32>,
    next: usize,
    /// Brokers that refused a connection: until when not to try again, and how many times in
    /// a row.
    backoff: BTreeMap<u32, (Instant, u32)>,
    correlation_id: u32,
}

impl Connections {
    /// `start` spreads clients over the bootstrap list (each starts at its own index).
    pub(crate) fn new(brokers: Vec<u32>, start: usize) -> Connections {
        Connections {
            brokers,
            next: start,
            backoff: BTreeMap::new(),
            correlation_id: 0,
        }
    }

    pub(crate) fn brokers(&self) -> &[u32] {
        &self.brokers
    }

    /// The next broker to ask for metadata or a coordinator, skipping those that refused a
    /// connection while their `reconnect.backoff.ms` runs (Kafka's `leastLoadedNode`, which
    /// here rotates over the bootstrap list); none while every broker is backing off.
    pub(crate) fn least_loaded_node(&mut self, now: Instant) -> Option<u32> {
        for _ in 0..self.brokers.len() {
            let broker = self.brokers[self.next % self.brokers.len()];
            self.next += 1;
            if self.connectable(now, broker) {
                return Some(broker);
            }
        }
        None
    }

    /// Whether `broker` may be tried now (no reconnect backoff running).
    pub(crate) fn connectable(&self, now: Instant, broker: u32) -> bool {
        self.backoff
            .get(&broker)
            .is_none_or(|&(until, _)| until <= now)
    }

    /// A broker answered: it is reachable again.
    pub(crate) fn answered(&mut self, broker: u32) {
        self.backoff.remove(&broker);
    }

    /// A broker refused or dropped the connection: back off from it, longer each time in a
    /// row (`reconnect.backoff.ms` doubling up to `reconnect.backoff.max.ms`).
    pub(crate) fn refused(&mut self, now: Instant, broker: u32, rng: &mut Prng) {
        let attempts = self.backoff.get(&broker).map_or(0, |&(_, a)| a) + 1;
        let wait = exponential(RECONNECT_BACKOFF, RECONNECT_BACKOFF_MAX, attempts, rng);
        self.backoff.insert(broker, (now + wait, attempts));
    }

    /// Until when `broker` is backed off from, if it is.
    pub(crate) fn backoff_until(&self, broker: u32) -> Option<Instant> {
        self.backoff.get(&broker).map(|&(until, _)| until)
    }

    /// When each running backoff ends.
    pub(crate) fn backoff_ends(&self) -> impl Iterator<Item = Instant> + '_ {
        self.backoff.values().map(|&(until, _)| until)
    }

    pub(crate) fn next_correlation(&mut self) -> u32 {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        self.correlation_id
    }

    /// How many requests went out (the last correlation id).
    pub(crate) fn requests_sent(&self) -> u32 {
        self.correlation_id
    }

    /// Correlation ids go on from `sent`: a restarted process must not reuse the old one's.
    pub(crate) fn continue_requests_from(&mut self, sent: u32) {
        self.correlation_id = self.correlation_id.max(sent);
    }
}
