//! The consumer client in standalone (`assign`) mode, and the application polling it:
//! fetches per leader (`fetch.min.bytes`, `fetch.max.wait.ms`, `max.partition.fetch.bytes`),
//! a buffer of fetched batches, `poll()` returning up to `max.poll.records`, a processing time
//! per record, positions, `seek`, and `auto.offset.reset`.
//!
//! Consumer groups (coordinator, rebalances, commits) build on this in `group`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::config::{ConfigError, Configs};
use crate::ledger::Observation;
use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Input, Timer};
use crate::producer::{exponential, RECONNECT_BACKOFF, RECONNECT_BACKOFF_MAX};
use crate::protocol::{
    ErrorCode, FetchPartition, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, Message, OffsetSpec,
};
use crate::record::{Offset, RecordBatch, TopicPartition};
use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{NodeId, TraceKind};

/// Everything needed to create a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub name: String,
    pub topics: Vec<String>,
    /// Time the application spends on each record it polls.
    pub processing_per_record: Duration,
    pub configs: Configs,
}

/// What `auto.offset.reset` says to do without a valid position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

/// The consumer configuration the client acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub group_id: Option<String>,
    pub max_poll_records: u32,
    pub fetch_min_bytes: u32,
    pub fetch_max_bytes: u32,
    pub fetch_max_wait: Duration,
    pub max_partition_fetch_bytes: u32,
    pub auto_offset_reset: OffsetReset,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
}

impl ConsumerConfig {
    pub fn from_configs(c: &Configs) -> Result<ConsumerConfig, ConfigError> {
        let reset = match c.str("auto.offset.reset").as_deref() {
            Some("earliest") => OffsetReset::Earliest,
            Some("none") => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
        let ms = |k: &str| Duration::from_millis(c.int(k) as u64);
        Ok(ConsumerConfig {
            group_id: c.str("group.id"),
            max_poll_records: c.int("max.poll.records") as u32,
            fetch_min_bytes: c.int("fetch.min.bytes") as u32,
            fetch_max_bytes: c.int("fetch.max.bytes") as u32,
            fetch_max_wait: ms("fetch.max.wait.ms"),
            max_partition_fetch_bytes: c.int("max.partition.fetch.bytes") as u32,
            auto_offset_reset: reset,
            request_timeout: ms("request.timeout.ms"),
            retry_backoff: ms("retry.backoff.ms"),
        })
    }
}

/// One assigned partition, as the consumer sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The next offset `poll()` will return; `None` until reset or seek.
    pub position: Option<Offset>,
    /// The high watermark from the last fetch response.
    pub high_watermark: Option<Offset>,
    pub log_start: Offset,
    /// Fetched batches not yet returned by `poll()`.
    buffered: VecDeque<RecordBatch>,
    reset_in_flight: bool,
    /// Waiting after an error before fetching again.
    retry_at: Option<Instant>,
}

impl PartitionPosition {
    /// Lag as the consumer's metric computes it: high watermark − position.
    pub fn lag(&self) -> Option<u64> {
        Some(self.high_watermark?.0.saturating_sub(self.position?.0))
    }
    pub fn buffered_records(&self) -> u64 {
        let position = self.position.map_or(0, |p| p.0);
        self.buffered
            .iter()
            .map(|b| {
                b.next_offset()
                    .0
                    .saturating_sub(position.max(b.base_offset.0))
            })
            .sum()
    }
}

/// What the application is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppState {
    /// Blocked in `poll()` until records arrive.
    Polling,
    /// Processing the last poll's records until the given time.
    Processing { until: Instant },
    /// Stopped by an error the application did not handle.
    Failed(ErrorCode),
    /// Closed by the user.
    Stopped,
}

/// Counters shown in snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub consumed: u64,
    pub polls: u64,
    pub fetches: u64,
}

/// A consumer client and its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub index: u32,
    pub spec: ConsumerSpec,
    config: ConsumerConfig,
    /// Who counts as one reader for the ledger: the group, else this consumer.
    audience: Arc<str>,
    brokers: Vec<u32>,
    bootstrap_next: usize,
    metadata: Option<Arc<ClusterMetadata>>,
    metadata_in_flight: bool,
    metadata_retry_at: Option<Instant>,
    pub positions: BTreeMap<TopicPartition, PartitionPosition>,
    /// Partitions with buffered data, in the order their data arrived.
    ready: VecDeque<TopicPartition>,
    /// Fetch in flight per broker: correlation id.
    fetches: BTreeMap<u32, u32>,
    next_correlation_id: u32,
    pub state: AppState,
    scheduled_wake: Option<Instant>,
    /// Brokers that refused a connection: (retry no earlier than, attempts), as
    /// `reconnect.backoff.ms` (50 ms, doubling to `reconnect.backoff.max.ms`, 1 s).
    broker_backoff: BTreeMap<u32, (Instant, u32)>,
    rng: Prng,
    pub stats: ConsumerStats,
}

impl Consumer {
    pub fn new(
        index: u32,
        spec: ConsumerSpec,
        brokers: Vec<u32>,
        rng: Prng,
    ) -> Result<Consumer, ConfigError> {
        let config = ConsumerConfig::from_configs(&spec.configs)?;
        let audience: Arc<str> = match &config.group_id {
            Some(g) => Arc::from(format!("group:{g}")),
            None => Arc::from(format!("consumer:{}", spec.name)),
        };
        Ok(Consumer {
            index,
            spec,
            config,
            audience,
            bootstrap_next: index as usize,
            brokers,
            metadata: None,
            metadata_in_flight: false,
            metadata_retry_at: None,
            positions: BTreeMap::new(),
            ready: VecDeque::new(),
            fetches: BTreeMap::new(),
            next_correlation_id: 0,
            state: AppState::Polling,
            scheduled_wake: None,
            broker_backoff: BTreeMap::new(),
            rng,
            stats: ConsumerStats::default(),
        })
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    pub fn audience(&self) -> &Arc<str> {
        &self.audience
    }

    pub fn start(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.wake(now, out);
    }

    /// `close()`: the application stops polling.
    pub fn stop(&mut self) {
        self.state = AppState::Stopped;
    }

    /// `seek(tp, offset)`: the next poll returns `offset`; buffered data for `tp` is dropped.
    pub fn seek(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        offset: Offset,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(p) = self.positions.get_mut(tp) else {
            return false;
        };
        p.position = Some(offset);
        p.buffered.clear();
        p.retry_at = None;
        self.ready.retain(|t| t != tp);
        out.push(Effect::Trace(TraceKind::Seek {
            consumer: self.index,
            tp: tp.clone(),
            offset,
        }));
        self.wake(now, out);
        true
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        if let Input::Message {
            from: NodeId::Broker(b),
            ..
        } = &input
        {
            // A broker that answers is reachable again: forget its reconnect backoff.
            self.broker_backoff.remove(b);
        }
        match input {
            Input::Message { from, msg } => match msg {
                Message::MetadataResponse { metadata, .. } => self.on_metadata(now, metadata),
                Message::FetchResponse(r) => self.on_fetch_response(now, from, r),
                Message::ListOffsetsResponse(r) => self.on_list_offsets(now, r, out),
                other => unreachable!("consumer got {}", other.kind()),
            },
            Input::Disconnected {
                peer: NodeId::Broker(b),
            } => {
                let attempts = self.broker_backoff.get(&b).map_or(0, |&(_, a)| a) + 1;
                let wait = exponential(
                    RECONNECT_BACKOFF,
                    RECONNECT_BACKOFF_MAX,
                    attempts,
                    &mut self.rng,
                );
                self.broker_backoff.insert(b, (now + wait, attempts));
                self.fetches.remove(&b);
                self.metadata_in_flight = false;
                for p in self.positions.values_mut() {
                    p.reset_in_flight = false;
                }
                self.refresh_metadata_by(now + self.config.retry_backoff);
            }
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::Wake) => {
                if self.scheduled_wake.is_some_and(|at| at <= now) {
                    self.scheduled_wake = None;
                }
                if let AppState::Processing { until } = self.state {
                    if until <= now {
                        self.state = AppState::Polling;
                    }
                }
            }
            Input::Timer(Timer::RequestTimeout { correlation_id }) => {
                self.fetches.retain(|_, c| *c != correlation_id);
            }
            Input::Timer(other) => unreachable!("consumer got timer {other:?}"),
        }
        self.wake(now, out);
    }

    fn on_metadata(&mut self, now: Instant, metadata: Arc<ClusterMetadata>) {
        self.metadata_in_flight = false;
        // Standalone mode: assign every partition of the listed topics that exists.
        let mut missing = false;
        for topic in &self.spec.topics {
            match metadata.topics.get(topic.as_str()) {
                Some(t) => {
                    for p in 0..t.partitions.len() as u32 {
                        let tp = TopicPartition {
                            topic: t.name.clone(),
                            partition: p,
                        };
                        self.positions.entry(tp).or_default();
                    }
                }
                None => missing = true,
            }
        }
        self.positions
            .retain(|tp, _| metadata.topics.contains_key(&tp.topic));
        self.metadata_retry_at = missing.then(|| now + Duration::from_millis(1000));
        self.metadata = Some(metadata);
    }

    /// Asks for a metadata refresh no later than `at`. An earlier pending refresh is kept:
    /// pushing it back on every error would postpone it forever.
    fn refresh_metadata_by(&mut self, at: Instant) {
        self.metadata_retry_at = Some(self.metadata_retry_at.map_or(at, |t| t.min(at)));
    }

    fn next_correlation(&mut self) -> u32 {
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        self.next_correlation_id
    }

    fn request_metadata(&mut self, out: &mut Vec<Effect>) {
        if self.metadata_in_flight || self.brokers.is_empty() {
            return;
        }
        let broker = self.brokers[self.bootstrap_next % self.brokers.len()];
        self.bootstrap_next += 1;
        self.metadata_in_flight = true;
        let correlation_id = self.next_correlation();
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: Message::MetadataRequest { correlation_id },
        });
    }

    fn leader_of(&self, tp: &TopicPartition) -> Option<u32> {
        self.metadata.as_ref()?.leader(&tp.topic, tp.partition)
    }

    /// The leader of `tp`, unless it refused a connection and its backoff is running.
    fn reachable_leader_of(&self, now: Instant, tp: &TopicPartition) -> Option<u32> {
        let leader = self.leader_of(tp)?;
        match self.broker_backoff.get(&leader) {
            Some(&(until, _)) if until > now => None,
            _ => Some(leader),
        }
    }

    fn wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if matches!(self.state, AppState::Stopped | AppState::Failed(_)) {
            return;
        }
        if self.metadata_retry_at.is_some_and(|at| at <= now) {
            self.metadata_retry_at = None;
            self.request_metadata(out);
        }
        if self.metadata.is_none() {
            self.request_metadata(out);
        }
        self.reset_positions(now, out);
        self.send_fetches(now, out);
        self.poll(now, out);
        self.schedule_wake(now, out);
    }

    /// Positions missing: ask the leader for the earliest or latest offset.
    fn reset_positions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut requests: BTreeMap<u32, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
            OffsetReset::None => {
                if let Some(tp) = self
                    .positions
                    .iter()
                    .find(|(_, p)| p.position.is_none())
                    .map(|(tp, _)| tp.clone())
                {
                    self.state = AppState::Failed(ErrorCode::NoOffsetForPartition);
                    let error = ErrorCode::NoOffsetForPartition;
                    out.push(Effect::Trace(TraceKind::ConsumerFailed {
                        consumer: self.index,
                        tp,
                        error,
                    }));
                }
                return;
            }
        };
        let wanted: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| p.position.is_none() && !p.reset_in_flight)
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in wanted {
            let Some(leader) = self.reachable_leader_of(now, &tp) else {
                continue;
            };
            self.positions
                .get_mut(&tp)
                .expect("present")
                .reset_in_flight = true;
            requests.entry(leader).or_default().push((tp, spec));
        }
        for (broker, partitions) in requests {
            let correlation_id = self.next_correlation();
            let msg = Message::ListOffsetsRequest(ListOffsetsRequest {
                correlation_id,
                partitions,
            });
            out.push(Effect::Send {
                to: NodeId::Broker(broker),
                msg,
            });
        }
    }

    fn on_list_offsets(
        &mut self,
        now: Instant,
        response: ListOffsetsResponse,
        out: &mut Vec<Effect>,
    ) {
        let earliest = self.config.auto_offset_reset == OffsetReset::Earliest;
        for (tp, error, offset) in response.partitions {
            let Some(p) = self.positions.get_mut(&tp) else {
                continue;
            };
            p.reset_in_flight = false;
            if error != ErrorCode::None {
                self.refresh_metadata_by(now + self.config.retry_backoff);
                continue;
            }
            if p.position.is_none() {
                p.position = Some(offset);
                out.push(Effect::Trace(TraceKind::OffsetReset {
                    consumer: self.index,
                    tp,
                    offset,
                    earliest,
                }));
            }
        }
    }

    /// One fetch per leader, for its partitions that have a position and nothing buffered.
    fn send_fetches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut no_leader = false;
        let mut by_broker: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, p) in &self.positions {
            let Some(position) = p.position else { continue };
            if !p.buffered.is_empty() || p.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            if self.leader_of(tp).is_none() {
                no_leader = true;
            }
            let Some(leader) = self.reachable_leader_of(now, tp) else {
                continue;
            };
            if self.fetches.contains_key(&leader) {
                continue;
            }
            let epoch = self
                .metadata
                .as_ref()
                .and_then(|m| m.partition(&tp.topic, tp.partition))
                .map(|p| p.leader_epoch);
            by_broker.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: position,
                partition_max_bytes: self.config.max_partition_fetch_bytes,
                current_leader_epoch: epoch,
                last_fetched_epoch: None,
            });
        }
        if no_leader {
            // A partition without a leader: ask again for metadata, no faster than the backoff.
            self.refresh_metadata_by(now + self.config.retry_backoff);
        }
        for (broker, partitions) in by_broker {
            let correlation_id = self.next_correlation();
            let request = FetchRequest {
                correlation_id,
                replica_id: None,
                max_wait_ms: self.config.fetch_max_wait.as_millis() as u32,
                min_bytes: self.config.fetch_min_bytes,
                max_bytes: self.config.fetch_max_bytes,
                partitions,
            };
            self.fetches.insert(broker, correlation_id);
            self.stats.fetches += 1;
            out.push(Effect::Send {
                to: NodeId::Broker(broker),
                msg: Message::FetchRequest(request),
            });
            // A fetch may wait fetch.max.wait.ms on the broker before the request timeout starts.
            let at = now + self.config.fetch_max_wait + self.config.request_timeout;
            out.push(Effect::SetTimer {
                at,
                timer: Timer::RequestTimeout { correlation_id },
            });
        }
    }

    fn on_fetch_response(&mut self, now: Instant, from: NodeId, response: FetchResponse) {
        let NodeId::Broker(broker) = from else {
            unreachable!("fetch responses come from brokers")
        };
        if self.fetches.get(&broker) != Some(&response.correlation_id) {
            return; // A response to a fetch we gave up on.
        }
        self.fetches.remove(&broker);
        for fetched in response.partitions {
            let Some(p) = self.positions.get_mut(&fetched.tp) else {
                continue;
            };
            match fetched.error {
                ErrorCode::None => {}
                ErrorCode::OffsetOutOfRange => {
                    // Reset as auto.offset.reset says, like a consumer with no position.
                    p.position = None;
                    p.buffered.clear();
                    continue;
                }
                error => {
                    p.retry_at = Some(now + self.config.retry_backoff);
                    if error.invalidates_metadata() {
                        self.refresh_metadata_by(now + self.config.retry_backoff);
                    }
                    continue;
                }
            }
            p.high_watermark = Some(fetched.high_watermark);
            p.log_start = fetched.log_start;
            let position = p.position.unwrap_or(Offset(0));
            let fresh: Vec<RecordBatch> = fetched
                .batches
                .into_iter()
                .filter(|b| b.next_offset() > position)
                .collect();
            if !fresh.is_empty() {
                p.buffered.extend(fresh);
                if !self.ready.contains(&fetched.tp) {
                    self.ready.push_back(fetched.tp);
                }
            }
        }
    }

    /// `poll()`: up to `max.poll.records`, draining one partition's fetched data before the next.
    fn poll(&mut self, now: Instant, out: &mut Vec<Effect>) {
        while self.state == AppState::Polling {
            let mut budget = self.config.max_poll_records;
            let mut taken = 0u64;
            while budget > 0 {
                let Some(tp) = self.ready.front().cloned() else {
                    break;
                };
                let n = self.take_records(&tp, budget, out);
                budget -= n;
                taken += u64::from(n);
                let p = &self.positions[&tp];
                if p.buffered.is_empty() {
                    self.ready.pop_front();
                }
            }
            if taken == 0 {
                return;
            }
            self.stats.polls += 1;
            self.stats.consumed += taken;
            let busy = Duration(
                self.spec
                    .processing_per_record
                    .as_micros()
                    .saturating_mul(taken),
            );
            if busy > Duration::ZERO {
                self.state = AppState::Processing { until: now + busy };
            }
            // After this poll, fetch what was drained while the application processes.
            self.send_fetches(now, out);
        }
    }

    /// Returns up to `max` records of `tp` to the application, advancing its position.
    fn take_records(&mut self, tp: &TopicPartition, max: u32, out: &mut Vec<Effect>) -> u32 {
        let p = self
            .positions
            .get_mut(tp)
            .expect("ready partitions are assigned");
        let mut taken = 0;
        let mut first = None;
        while taken < max {
            let Some(batch) = p.buffered.front() else {
                break;
            };
            let position = p.position.expect("buffered data implies a position");
            let from = position.0.saturating_sub(batch.base_offset.0) as u32;
            let available = batch.record_count() - from.min(batch.record_count());
            let n = available.min(max - taken);
            if n > 0 {
                first.get_or_insert(Offset(batch.base_offset.0 + u64::from(from)));
                out.push(Effect::Observe(Observation::Delivered {
                    audience: self.audience.clone(),
                    tp: tp.clone(),
                    base_offset: batch.base_offset,
                    records: batch.records.clone(),
                    from,
                    to: from + n,
                }));
                p.position = Some(Offset(batch.base_offset.0 + u64::from(from + n)));
                taken += n;
            }
            if from + n >= batch.record_count() {
                p.buffered.pop_front();
            }
        }
        if let (Some(first), Some(position)) = (first, p.position) {
            let last = Offset(position.0 - 1);
            out.push(Effect::Trace(TraceKind::RecordsPolled {
                consumer: self.index,
                tp: tp.clone(),
                first,
                last,
            }));
        }
        taken
    }

    fn schedule_wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut next = Instant::MAX;
        if let AppState::Processing { until } = self.state {
            next = next.min(until);
        }
        if let Some(at) = self.metadata_retry_at {
            next = next.min(at);
        }
        for &(until, _) in self.broker_backoff.values() {
            if until > now {
                next = next.min(until);
            }
        }
        for p in self.positions.values() {
            if let Some(at) = p.retry_at.filter(|&at| at > now) {
                next = next.min(at);
            }
        }
        if next == Instant::MAX || next <= now {
            return;
        }
        if self.scheduled_wake.is_none_or(|s| next < s) {
            self.scheduled_wake = Some(next);
            out.push(Effect::SetTimer {
                at: next,
                timer: Timer::Wake,
            });
        }
    }
}
