//! Kafka's metrics, by Kafka's names, computed from the simulation: what `kplay run --metrics`
//! writes as time series, and what the page charts and alerts read.
//!
//! A [`Metrics`] recorder samples a [`Sim`] between steps (it reads and never changes the
//! run): cumulative counters the nodes keep (`ProducerStats`, `ConsumerStats`, the group
//! observer, the simulator's per-broker traffic and the cost model's handler threads) become
//! rates and averages over the interval since the previous sample, and gauges are read as
//! they are. Values are integers in thousandths (`milli`), so a run's metrics are the same
//! natively and in wasm.
//!
//! Scopes: `producer:NAME` (Kafka's `producer-metrics`), `consumer:NAME`
//! (`consumer-fetch-manager-metrics`), `group:NAME` (`consumer-coordinator-metrics`, as its
//! members see the group), `broker:ID` (`kafka.server` and `kafka.network` MBeans), and
//! `cluster` (`kafka.controller`, and the ISR rates summed over brokers).

use std::collections::BTreeMap;

use super::alerts::{AlertChange, AlertRule, Alerts};
use super::request_metrics::{RequestType, Times};
use super::Sim;
use crate::histogram::Histogram;
use crate::time::{Duration, Instant};
use crate::trace::BrokerId;

/// One value of one metric at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricPoint {
    pub at_ms: u64,
    /// `producer:NAME`, `consumer:NAME`, `group:NAME`, `broker:ID` or `cluster`.
    pub scope: String,
    /// Kafka's name (`record-send-rate`, `UnderReplicatedPartitions`, ...).
    pub name: &'static str,
    /// The value in thousandths.
    pub milli: i64,
}

impl MetricPoint {
    /// The value as Kafka prints it: three decimals, trailing zeros dropped.
    pub fn value(&self) -> String {
        super::alerts::decimal(self.milli)
    }
}

/// Every metric name by scope kind, with what it is, for docs and the page's picker.
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "producer",
        "record-send-rate",
        "records sent a second (retries included)",
    ),
    ("producer", "record-error-rate", "records failed a second"),
    ("producer", "record-retry-rate", "records retried a second"),
    (
        "producer",
        "request-latency-avg",
        "ms from a produce request to its answer",
    ),
    ("producer", "request-latency-max", "ms, the longest so far"),
    ("producer", "batch-size-avg", "bytes per batch sent"),
    (
        "producer",
        "records-per-request-avg",
        "records per produce request",
    ),
    (
        "producer",
        "compression-rate-avg",
        "compressed size over uncompressed size",
    ),
    (
        "producer",
        "record-queue-time-avg",
        "ms a batch waited in the accumulator",
    ),
    (
        "producer",
        "buffer-available-bytes",
        "buffer.memory not held by batches",
    ),
    (
        "producer",
        "bufferpool-wait-time-ns-total",
        "ns send() waited for buffer memory",
    ),
    (
        "producer",
        "produce-latency-p50",
        "ms from send() to acknowledgement, median over the interval (kplay's; \
         kafka-producer-perf-test prints it)",
    ),
    (
        "producer",
        "produce-latency-p99",
        "ms from send() to acknowledgement, p99 over the interval (kplay's)",
    ),
    (
        "producer",
        "produce-latency-p99.9",
        "ms from send() to acknowledgement, p99.9 over the interval (kplay's)",
    ),
    (
        "consumer",
        "records-consumed-rate",
        "records poll() returned a second",
    ),
    (
        "consumer",
        "records-lag-max",
        "the largest lag of its partitions",
    ),
    (
        "consumer",
        "fetch-latency-avg",
        "ms from a fetch request to its answer",
    ),
    (
        "consumer",
        "commit-latency-avg",
        "ms from an offset commit to its answer",
    ),
    (
        "group",
        "rebalance-latency-avg",
        "ms from a rebalance's start to its generation",
    ),
    (
        "group",
        "rebalance-rate-per-hour",
        "generations started an hour",
    ),
    (
        "group",
        "end-to-end-latency-p50",
        "ms from send() to poll() by the group, median over the interval (kplay's; Kafka's \
         EndToEndLatency tool measures it)",
    ),
    (
        "group",
        "end-to-end-latency-p99",
        "ms from send() to poll() by the group, p99 over the interval (kplay's)",
    ),
    (
        "group",
        "end-to-end-latency-p99.9",
        "ms from send() to poll() by the group, p99.9 over the interval (kplay's)",
    ),
    (
        "broker",
        "MessagesInPerSec",
        "records produced to it a second",
    ),
    ("broker", "BytesInPerSec", "bytes produced to it a second"),
    (
        "broker",
        "BytesOutPerSec",
        "bytes fetched by consumers a second",
    ),
    (
        "broker",
        "UnderReplicatedPartitions",
        "partitions it leads with a replica out of the ISR",
    ),
    (
        "broker",
        "UnderMinIsrPartitionCount",
        "partitions it leads with an ISR below min.insync",
    ),
    (
        "broker",
        "RequestQueueSize",
        "requests waiting for a handler thread",
    ),
    (
        "broker",
        "RequestHandlerAvgIdlePercent",
        "the handler threads' idle share, 0 to 1",
    ),
    (
        "broker",
        "TotalTimeMs.Produce",
        "ms from read to response sent, mean",
    ),
    (
        "broker",
        "RequestQueueTimeMs.Produce",
        "ms waiting for a handler thread, mean",
    ),
    (
        "broker",
        "RemoteTimeMs.Produce",
        "ms in purgatory (acks=all: the followers), mean",
    ),
    (
        "broker",
        "TotalTimeMs.FetchConsumer",
        "ms from read to response sent, mean",
    ),
    (
        "broker",
        "RequestQueueTimeMs.FetchConsumer",
        "ms waiting for a handler thread, mean",
    ),
    (
        "broker",
        "RemoteTimeMs.FetchConsumer",
        "ms in purgatory (fetch.min.bytes, fetch.max.wait.ms), mean",
    ),
    (
        "broker",
        "TotalTimeMs.FetchFollower",
        "ms from read to response sent, mean",
    ),
    (
        "broker",
        "RequestQueueTimeMs.FetchFollower",
        "ms waiting for a handler thread, mean",
    ),
    (
        "broker",
        "RemoteTimeMs.FetchFollower",
        "ms in purgatory (replica.fetch.wait.max.ms), mean",
    ),
    (
        "cluster",
        "OfflinePartitionsCount",
        "partitions without a leader",
    ),
    (
        "cluster",
        "ActiveControllerCount",
        "controllers active (the quorum is one node here)",
    ),
    (
        "cluster",
        "IsrShrinksPerSec",
        "ISR changes removing replicas a second",
    ),
    (
        "cluster",
        "IsrExpandsPerSec",
        "ISR changes adding replicas a second",
    ),
];

/// Declares a struct of cumulative counters and `since`, the change from an earlier value
/// (each counter only grows, but a removed client's go away: saturating).
macro_rules! counters {
    ($(#[$doc:meta])* struct $name:ident { $($(#[$fdoc:meta])* $field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        struct $name { $($(#[$fdoc])* $field: u64),* }

        impl $name {
            fn since(&self, before: Option<&$name>) -> $name {
                let before = before.copied().unwrap_or_default();
                $name { $($field: self.$field.saturating_sub(before.$field)),* }
            }

            #[allow(dead_code)] // Only some sum several instances of a name.
            fn add(&mut self, other: &$name) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

counters! {
    /// A producer's (every instance of its name), from its `ProducerStats`.
    struct ProducerCounters {
        records_sent,
        failed,
        retried,
        responses,
        latency_us,
        batches,
        bytes,
        /// Before compression.
        bytes_uncompressed,
        queue_us,
        /// The longest request latency so far (kept apart from the sums: see `counters`).
        latency_max_us,
    }
}

counters! {
    struct ConsumerCounters {
        consumed,
        fetch_responses,
        fetch_latency_us,
        commit_responses,
        commit_latency_us,
    }
}

counters! {
    struct GroupCounters {
        rebalances,
        rebalance_us,
    }
}

counters! {
    /// A broker's traffic and its handler threads' busy time.
    struct BrokerCounters {
        messages_in,
        bytes_in,
        bytes_out,
        busy_ns,
    }
}

/// Cumulative counters at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counters {
    at: Instant,
    producers: BTreeMap<String, ProducerCounters>,
    consumers: BTreeMap<String, ConsumerCounters>,
    groups: BTreeMap<String, GroupCounters>,
    brokers: Vec<BrokerCounters>,
    /// Per broker, its request times by `RequestType::ALL`.
    requests: Vec<[Times; 3]>,
    isr_shrinks: u64,
    isr_expands: u64,
    /// Per producer, its produce latencies so far; per group, its end-to-end latencies.
    produce_latency: BTreeMap<String, Histogram>,
    end_to_end: BTreeMap<String, Histogram>,
}

/// Samples a run's metrics at a fixed interval of virtual time.
#[derive(Clone, Debug)]
struct Metrics {
    interval: Duration,
    last: Option<Counters>,
}

/// What a run watches of its metrics: the sampler, the alert rules, and the points sampled
/// since the owner last took them (kept only when asked: a scenario with alerts and nobody
/// reading its metrics keeps none).
#[derive(Clone, Debug)]
pub(super) struct Monitor {
    metrics: Metrics,
    alerts: Alerts,
    keep: bool,
    points: Vec<MetricPoint>,
    /// Alerts fired and resolved, the first [`MAX_ALERT_HISTORY`].
    history: Vec<crate::snapshot::AlertEvent>,
}

/// Alert changes a run remembers for its report.
const MAX_ALERT_HISTORY: usize = 1_000;

impl Monitor {
    pub(super) fn new(interval: Duration, rules: &[AlertRule]) -> Monitor {
        Monitor {
            metrics: Metrics::new(interval),
            alerts: Alerts::new(rules),
            keep: false,
            points: Vec::new(),
            history: Vec::new(),
        }
    }

    pub(super) fn next_at(&self) -> Instant {
        self.metrics.next_at()
    }

    /// Samples the run at `at`: the alerts that changed.
    pub(super) fn sample(&mut self, sim: &Sim, at: Instant) -> Vec<AlertChange> {
        let points = self.metrics.sample(sim, at);
        let changes = if self.alerts.is_empty() {
            Vec::new()
        } else {
            self.alerts.check(at.as_millis(), &points)
        };
        if self.keep {
            self.points.extend(points);
        }
        for c in changes
            .iter()
            .take(MAX_ALERT_HISTORY.saturating_sub(self.history.len()))
        {
            self.history.push(crate::snapshot::AlertEvent {
                at_ms: at.as_millis(),
                rule: c.rule.clone(),
                scope: c.scope.clone(),
                fired: c.fired,
                value_milli: c.value_milli,
            });
        }
        changes
    }

    pub(super) fn history(&self) -> &[crate::snapshot::AlertEvent] {
        &self.history
    }

    pub(super) fn keep_points(&mut self) {
        self.keep = true;
    }

    pub(super) fn take_points(&mut self) -> Vec<MetricPoint> {
        std::mem::take(&mut self.points)
    }

    pub(super) fn alerts(&self) -> Vec<super::alerts::AlertView> {
        self.alerts.views()
    }

    pub(super) fn interval(&self) -> Duration {
        self.metrics.interval
    }
}

impl Metrics {
    fn new(interval: Duration) -> Metrics {
        Metrics {
            interval: Duration(interval.as_micros().max(1)),
            last: None,
        }
    }

    /// When the next sample is due.
    fn next_at(&self) -> Instant {
        self.last
            .as_ref()
            .map_or(Instant::ZERO, |c| c.at + self.interval)
    }

    /// Every metric at `at` (the run is there: no event after it was processed), rates over
    /// the time since the previous sample (none at the first).
    fn sample(&mut self, sim: &Sim, at: Instant) -> Vec<MetricPoint> {
        let now = sim.counters(at);
        let mut out = Vec::new();
        if let Some(before) = &self.last {
            let span = now.at.saturating_since(before.at).as_micros().max(1);
            points(sim, before, &now, span, &mut out);
        }
        self.last = Some(now);
        out
    }
}

/// Per second, in thousandths: `delta` over `span_us`.
fn rate(delta: u64, span_us: u64) -> i64 {
    (u128::from(delta) * 1_000_000_000 / u128::from(span_us)) as i64
}

/// `total / count` in thousandths (0 without samples); `scale` divides the total first
/// (1,000 turns microseconds into milliseconds).
fn average(total: u64, count: u64, scale: u64) -> i64 {
    match count {
        0 => 0,
        n => (u128::from(total) * 1_000 / u128::from(scale) / u128::from(n)) as i64,
    }
}

fn points(sim: &Sim, before: &Counters, now: &Counters, span: u64, out: &mut Vec<MetricPoint>) {
    let at_ms = now.at.as_millis();
    let mut push = |scope: &str, name: &'static str, milli: i64| {
        out.push(MetricPoint {
            at_ms,
            scope: scope.to_string(),
            name,
            milli,
        })
    };
    client_points(sim, before, now, span, &mut push);
    broker_points(sim, before, now, span, &mut push);
}

/// A metric's value for a scope, in thousandths.
type Push<'a> = dyn FnMut(&str, &'static str, i64) + 'a;

fn client_points(sim: &Sim, before: &Counters, now: &Counters, span: u64, push: &mut Push<'_>) {
    producer_points(sim, before, now, span, push);
    consumer_points(sim, before, now, span, push);
}

fn producer_points(sim: &Sim, before: &Counters, now: &Counters, span: u64, push: &mut Push<'_>) {
    for (name, c) in &now.producers {
        let d = c.since(before.producers.get(name));
        let scope = format!("producer:{name}");
        push(&scope, "record-send-rate", rate(d.records_sent, span));
        push(&scope, "record-error-rate", rate(d.failed, span));
        push(&scope, "record-retry-rate", rate(d.retried, span));
        push(
            &scope,
            "request-latency-avg",
            average(d.latency_us, d.responses, 1_000),
        );
        let max_us = c.latency_max_us;
        push(
            &scope,
            "request-latency-max",
            (max_us / 1_000 * 1_000) as i64,
        );
        push(&scope, "batch-size-avg", average(d.bytes, d.batches, 1));
        push(
            &scope,
            "records-per-request-avg",
            average(d.records_sent, d.responses, 1),
        );
        // Compressed over uncompressed (1 without compression, or without batches).
        let compression = match d.bytes_uncompressed {
            0 => 1_000,
            n => (u128::from(d.bytes) * 1_000 / u128::from(n)) as i64,
        };
        push(&scope, "compression-rate-avg", compression);
        push(
            &scope,
            "record-queue-time-avg",
            average(d.queue_us, d.batches, 1_000),
        );
        let (available, waited_us) = sim.producer_buffer(name);
        push(&scope, "buffer-available-bytes", (available * 1_000) as i64);
        push(
            &scope,
            "bufferpool-wait-time-ns-total",
            (waited_us * 1_000_000) as i64,
        );
    }
    latency_points(
        "producer",
        "produce-latency",
        &before.produce_latency,
        &now.produce_latency,
        push,
    );
}

fn consumer_points(sim: &Sim, before: &Counters, now: &Counters, span: u64, push: &mut Push<'_>) {
    for (name, c) in &now.consumers {
        let d = c.since(before.consumers.get(name));
        let scope = format!("consumer:{name}");
        push(&scope, "records-consumed-rate", rate(d.consumed, span));
        push(
            &scope,
            "records-lag-max",
            (sim.consumer_lag_max(name) * 1_000) as i64,
        );
        push(
            &scope,
            "fetch-latency-avg",
            average(d.fetch_latency_us, d.fetch_responses, 1_000),
        );
        // Kafka's average over a window without a commit is NaN: a gap, not a zero.
        if d.commit_responses > 0 {
            push(
                &scope,
                "commit-latency-avg",
                average(d.commit_latency_us, d.commit_responses, 1_000),
            );
        }
    }
    for (name, c) in &now.groups {
        let d = c.since(before.groups.get(name));
        let scope = format!("group:{name}");
        push(
            &scope,
            "rebalance-latency-avg",
            average(c.rebalance_us, c.rebalances, 1_000),
        );
        push(
            &scope,
            "rebalance-rate-per-hour",
            rate(d.rebalances, span) * 3_600,
        );
    }
    latency_points(
        "group",
        "end-to-end-latency",
        &before.end_to_end,
        &now.end_to_end,
        push,
    );
}

/// p50, p99 and p99.9 of the latencies recorded over the interval, per scope (none for a
/// scope that recorded none: a gap in the chart, not a zero).
fn latency_points(
    kind: &str,
    metric: &str,
    before: &BTreeMap<String, Histogram>,
    now: &BTreeMap<String, Histogram>,
    push: &mut Push<'_>,
) {
    for (name, h) in now {
        let interval = match before.get(name) {
            Some(b) => h.since(b),
            None => h.clone(),
        };
        let scope = format!("{kind}:{name}");
        for (per_mille, suffix) in [(500, "p50"), (990, "p99"), (999, "p99.9")] {
            let Some(ms) = interval.percentile(per_mille) else {
                continue;
            };
            let full = format!("{metric}-{suffix}");
            if let Some((_, name, _)) = METRICS.iter().find(|(_, n, _)| *n == full) {
                push(&scope, name, ms as i64 * 1_000);
            }
        }
    }
}

fn broker_points(sim: &Sim, before: &Counters, now: &Counters, span: u64, push: &mut Push<'_>) {
    let health = sim.partition_health();
    for (b, c) in now.brokers.iter().enumerate() {
        let d = c.since(before.brokers.get(b));
        let scope = format!("broker:{b}");
        let (under_replicated, under_min_isr) =
            health.per_broker.get(b).copied().unwrap_or_default();
        push(&scope, "MessagesInPerSec", rate(d.messages_in, span));
        push(&scope, "BytesInPerSec", rate(d.bytes_in, span));
        push(&scope, "BytesOutPerSec", rate(d.bytes_out, span));
        push(
            &scope,
            "UnderReplicatedPartitions",
            (under_replicated * 1_000) as i64,
        );
        push(
            &scope,
            "UnderMinIsrPartitionCount",
            (under_min_isr * 1_000) as i64,
        );
        let (queue, threads) = sim.request_handlers(BrokerId(b as u32));
        push(&scope, "RequestQueueSize", (queue * 1_000) as i64);
        let busy = d.busy_ns.min(threads * span * 1_000);
        let idle = 1_000 - (u128::from(busy) * 1_000 / u128::from(threads * span * 1_000)) as i64;
        push(&scope, "RequestHandlerAvgIdlePercent", idle);
        let times = now.requests.get(b).copied().unwrap_or_default();
        let earlier = before.requests.get(b).copied().unwrap_or_default();
        request_points(&scope, times, earlier, push);
    }
    push(
        "cluster",
        "OfflinePartitionsCount",
        (health.offline * 1_000) as i64,
    );
    push("cluster", "ActiveControllerCount", 1_000);
    let shrinks = now.isr_shrinks.saturating_sub(before.isr_shrinks);
    let expands = now.isr_expands.saturating_sub(before.isr_expands);
    push("cluster", "IsrShrinksPerSec", rate(shrinks, span));
    push("cluster", "IsrExpandsPerSec", rate(expands, span));
}

/// A broker's request times over the interval, means in ms by request type (none for a type
/// it answered none of: a gap, not a zero).
fn request_points(scope: &str, now: [Times; 3], before: [Times; 3], push: &mut Push<'_>) {
    for ((kind, t), b) in RequestType::ALL.iter().zip(now).zip(before) {
        let d = t.since(b);
        if d.count == 0 {
            continue;
        }
        for (metric, us) in [
            ("TotalTimeMs", d.total_us),
            ("RequestQueueTimeMs", d.queue_us),
            ("RemoteTimeMs", d.remote_us),
        ] {
            push(
                scope,
                request_metric(metric, *kind),
                average(us, d.count, 1_000),
            );
        }
    }
}

/// The [`METRICS`] name of a request metric for a request type (`TotalTimeMs.Produce`).
fn request_metric(metric: &str, kind: RequestType) -> &'static str {
    let full = format!("{metric}.{}", kind.name());
    let found = METRICS.iter().find(|(_, n, _)| *n == full);
    debug_assert!(found.is_some(), "{full} is not in METRICS");
    found.map_or("", |(_, n, _)| n)
}

/// Partitions by health: per broker (under-replicated, under min ISR) among those it leads,
/// and those without a leader.
struct Health {
    per_broker: Vec<(u64, u64)>,
    offline: u64,
}

/// One broker's traffic: records and bytes produced to it, bytes fetched from it by consumers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Traffic {
    pub(super) messages_in: u64,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
}

impl Sim {
    fn counters(&self, at: Instant) -> Counters {
        let mut c = Counters {
            at,
            ..Counters::default()
        };
        self.producer_counters(&mut c);
        for consumer in self.consumers.iter().flatten() {
            let s = &consumer.stats;
            let entry = c.consumers.entry(consumer.spec.name.clone()).or_default();
            entry.add(&ConsumerCounters {
                consumed: s.consumed,
                fetch_responses: s.fetch_responses,
                fetch_latency_us: s.fetch_latency_us_total,
                commit_responses: s.commit_responses,
                commit_latency_us: s.commit_latency_us_total,
            });
            if let Some(m) = &consumer.membership {
                c.end_to_end
                    .entry(m.group.to_string())
                    .or_default()
                    .merge(&s.end_to_end_ms);
            }
        }
        for (group, stats) in &self.groups.stats {
            let counters = GroupCounters {
                rebalances: stats.rebalances,
                rebalance_us: stats.rebalance_us_total,
            };
            c.groups.insert(group.to_string(), counters);
        }
        let brokers = (0..self.setup.brokers).map(BrokerId);
        c.brokers = brokers
            .clone()
            .map(|b| {
                let t = self.traffic.get(b.0 as usize).copied().unwrap_or_default();
                BrokerCounters {
                    messages_in: t.messages_in,
                    bytes_in: t.bytes_in,
                    bytes_out: t.bytes_out,
                    busy_ns: self.costs.as_ref().map_or(0, |k| k.busy_ns(b)),
                }
            })
            .collect();
        c.requests = brokers.map(|b| self.requests.times(b)).collect();
        c.isr_shrinks = self.groups.isr_shrinks;
        c.isr_expands = self.groups.isr_expands;
        c
    }

    fn producer_counters(&self, c: &mut Counters) {
        for p in self.producers.iter().flatten() {
            let s = &p.stats;
            let name = &p.spec.name;
            let entry = c.producers.entry(name.clone()).or_default();
            let max = entry.latency_max_us.max(s.request_latency_us_max);
            entry.add(&ProducerCounters {
                records_sent: s.records_sent,
                failed: s.failed,
                retried: s.records_retried,
                responses: s.responses,
                latency_us: s.request_latency_us_total,
                batches: s.batches,
                bytes: s.bytes_sent,
                bytes_uncompressed: s.uncompressed_bytes_sent,
                queue_us: s.queue_time_us_total,
                latency_max_us: 0,
            });
            entry.latency_max_us = max;
            c.produce_latency
                .entry(name.clone())
                .or_default()
                .merge(&s.latency_ms);
        }
    }

    /// A producer's `buffer-available-bytes` and its time waited for memory, in µs (every
    /// instance of that name: a reconfigured producer's old one may still be draining).
    fn producer_buffer(&self, name: &str) -> (u64, u64) {
        let named = self
            .producers
            .iter()
            .flatten()
            .filter(|p| p.spec.name == name);
        named.fold((0, 0), |(a, w), p| {
            (
                a + p.buffer_available_bytes(),
                w + p.stats.buffer_wait_us_total,
            )
        })
    }

    fn consumer_lag_max(&self, name: &str) -> u64 {
        let named = self
            .consumers
            .iter()
            .flatten()
            .filter(|c| c.spec.name == name);
        named
            .flat_map(|c| c.positions.values().filter_map(|p| p.lag()))
            .max()
            .unwrap_or(0)
    }

    /// Requests waiting for a thread, and how many threads (1 without a cost model, which
    /// is never busy).
    fn request_handlers(&self, broker: BrokerId) -> (u64, u64) {
        self.costs.as_ref().map_or((0, 1), |k| {
            (k.request_queue(broker, self.now), k.threads(broker))
        })
    }

    fn partition_health(&self) -> Health {
        let mut health = Health {
            per_broker: vec![(0, 0); self.setup.brokers as usize],
            offline: 0,
        };
        for t in self.controller.metadata().topics.values() {
            for p in &t.partitions {
                let Some(leader) = p.leader else {
                    health.offline += 1;
                    continue;
                };
                let slot = &mut health.per_broker[leader.0 as usize];
                if p.isr.len() < p.replicas.len() {
                    slot.0 += 1;
                }
                if (p.isr.len() as u32) < t.config.min_insync_replicas.min(p.replicas.len() as u32)
                {
                    slot.1 += 1;
                }
            }
        }
        health
    }

    /// Counts what reaches a broker and what it sends consumers, for its metrics. (The
    /// followed record's journey sees a producer's requests here too.)
    pub(super) fn count_traffic(
        &mut self,
        from: crate::trace::NodeId,
        to: crate::trace::NodeId,
        msg: &crate::protocol::Message,
    ) {
        use crate::protocol::Message;
        use crate::trace::NodeId;
        if let (Some(watch), NodeId::Producer(_)) = (&mut self.watch, from) {
            watch.on_send(msg);
        }
        let (broker, produced) = match (from, to, msg) {
            (NodeId::Producer(_), NodeId::Broker(b), Message::ProduceRequest(_)) => (b, true),
            (NodeId::Broker(b), NodeId::Consumer(_), Message::FetchResponse(_)) => (b, false),
            _ => return,
        };
        let i = broker.0 as usize;
        if self.traffic.len() <= i {
            self.traffic.resize(i + 1, Traffic::default());
        }
        let t = &mut self.traffic[i];
        match (produced, msg) {
            (true, Message::ProduceRequest(r)) => {
                t.messages_in += r
                    .partitions
                    .iter()
                    .map(|(_, b)| b.records.len() as u64)
                    .sum::<u64>();
                t.bytes_in += msg.wire_bytes();
            }
            _ => t.bytes_out += msg.wire_bytes(),
        }
    }
}
