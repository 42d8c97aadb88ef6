//! What the producer and the consumer do the same way with their connections (Kafka's
//! `NetworkClient` side): the bootstrap rotation for metadata and coordinator lookups
//! (`leastLoadedNode`), the reconnect backoff per broker, correlation ids, the exponential
//! backoff with jitter both use (KIP-580), and the metadata cache with its refresh (Kafka's
//! client-side `Metadata`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Timer};
use crate::protocol::Message;

use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId};

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
    brokers: Vec<BrokerId>,
    next: usize,
    /// Brokers that refused a connection: until when not to try again, and how many times in
    /// a row.
    backoff: BTreeMap<BrokerId, (Instant, u32)>,
    correlation_id: u32,
}

impl Connections {
    /// `start` spreads clients over the bootstrap list (each starts at its own index).
    pub(crate) fn new(brokers: Vec<BrokerId>, start: usize) -> Connections {
        Connections {
            brokers,
            next: start,
            backoff: BTreeMap::new(),
            correlation_id: 0,
        }
    }

    pub(crate) fn brokers(&self) -> &[BrokerId] {
        &self.brokers
    }

    /// The next broker to ask for metadata or a coordinator, skipping those that refused a
    /// connection while their `reconnect.backoff.ms` runs (Kafka's `leastLoadedNode`, which
    /// here rotates over the bootstrap list); none while every broker is backing off.
    pub(crate) fn least_loaded_node(&mut self, now: Instant) -> Option<BrokerId> {
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
    pub(crate) fn connectable(&self, now: Instant, broker: BrokerId) -> bool {
        self.backoff
            .get(&broker)
            .is_none_or(|&(until, _)| until <= now)
    }

    /// A broker answered: it is reachable again.
    pub(crate) fn answered(&mut self, broker: BrokerId) {
        self.backoff.remove(&broker);
    }

    /// A broker refused or dropped the connection: back off from it, longer each time in a
    /// row (`reconnect.backoff.ms` doubling up to `reconnect.backoff.max.ms`).
    pub(crate) fn refused(&mut self, now: Instant, broker: BrokerId, rng: &mut Prng) {
        let attempts = self.backoff.get(&broker).map_or(0, |&(_, a)| a) + 1;
        let wait = exponential(RECONNECT_BACKOFF, RECONNECT_BACKOFF_MAX, attempts, rng);
        self.backoff.insert(broker, (now + wait, attempts));
    }

    /// Until when `broker` is backed off from, if it is.
    pub(crate) fn backoff_until(&self, broker: BrokerId) -> Option<Instant> {
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

/// A client's view of the cluster and when to refresh it (Kafka's client-side `Metadata`
/// with its `MetadataUpdater`): the newest metadata seen, one request at a time to the
/// least loaded broker, and the time by which to ask again (`metadata.max.age.ms`, sooner
/// after an error). An update stays wanted until an answer comes: when every broker is
/// backing off, it is asked for when the first backoff ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The newest metadata seen (an answer from a broker that lags is not a step back).
    pub(crate) cluster: Option<Arc<ClusterMetadata>>,
    in_flight: bool,
    refresh_at: Option<Instant>,
}

impl Metadata {
    /// Asks for metadata if none has come yet or a refresh is due.
    pub(crate) fn refresh_if_due(
        &mut self,
        now: Instant,
        connections: &mut Connections,
        request: impl Fn(u32) -> Message,
        out: &mut Vec<Effect>,
    ) {
        if self.refresh_at.is_some_and(|at| at <= now) {
            self.refresh_at = None;
            self.request(now, connections, &request, out);
        }
        if self.cluster.is_none() {
            self.request(now, connections, &request, out);
        }
    }

    /// Asks for metadata now, unless a request is out already.
    pub(crate) fn request(
        &mut self,
        now: Instant,
        connections: &mut Connections,
        request: impl Fn(u32) -> Message,
        out: &mut Vec<Effect>,
    ) {
        if self.in_flight {
            return;
        }
        let Some(broker) = connections.least_loaded_node(now) else {
            // Every broker refused us lately: try again when the first backoff ends.
            if let Some(at) = connections.backoff_ends().min() {
                self.refresh_by(at);
            }
            return;
        };
        self.in_flight = true;
        let correlation_id = connections.next_correlation();
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: request(correlation_id),
        });
    }

    /// The answer: the newer of it and what the client had, for the client to look at
    /// before it keeps it (`keep`).
    pub(crate) fn answered(&mut self, metadata: Arc<ClusterMetadata>) -> Arc<ClusterMetadata> {
        self.in_flight = false;
        ClusterMetadata::newer_of(self.cluster.as_ref(), metadata)
    }

    /// Keeps `metadata` and asks again at `refresh_at`.
    pub(crate) fn keep(&mut self, metadata: Arc<ClusterMetadata>, refresh_at: Instant) {
        self.cluster = Some(metadata);
        self.refresh_at = Some(refresh_at);
    }

    /// The request's connection went away: its answer will not come.
    pub(crate) fn disconnected(&mut self) {
        self.in_flight = false;
    }

    /// Asks for a refresh no later than `at`. An earlier pending refresh is kept: pushing it
    /// back on every error would postpone it forever.
    pub(crate) fn refresh_by(&mut self, at: Instant) {
        self.refresh_at = Some(self.refresh_at.map_or(at, |t| t.min(at)));
    }

    /// When a refresh is due, if one is wanted.
    pub(crate) fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }
}

/// Sets a client's wake-up timer for `next`, unless one is already set as early: a client
/// keeps one `Timer::Wake` pending and is woken by the earliest.
pub(crate) fn wake_at(scheduled: &mut Option<Instant>, next: Instant, out: &mut Vec<Effect>) {
    if scheduled.is_none_or(|s| next < s) {
        *scheduled = Some(next);
        out.push(Effect::SetTimer {
            at: next,
            timer: Timer::Wake,
        });
    }
}
