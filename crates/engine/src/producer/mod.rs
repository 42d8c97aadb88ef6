//! The producer client (Kafka's `KafkaProducer`), in three rooms:
//! - here: the process and the application that calls `send()` at a rate or by hand, its
//!   metadata, `max.block.ms`, and when to wake next;
//! - [`accumulator`] (Kafka's `RecordAccumulator`): where a record goes (the partitioner), the
//!   batches per partition (`batch.size`, `linger.ms`, `buffer.memory`), and which batches are
//!   ready and drained for a broker;
//! - [`sender`] (Kafka's `Sender` with the idempotence half of `TransactionManager`):
//!   produce requests (`max.in.flight.requests.per.connection`, `acks`), their answers,
//!   retries with exponential backoff, splits, delivery timeouts, and idempotence (producer
//!   id, epoch, sequence numbers);
//! - [`config`]: the spec and Kafka configuration the producer acts on.
//!
//! Decisions follow the reference §1–§2. The producer owns one PRNG sub-stream, handed to it
//! by the simulator, for its workload and the sticky partitioner.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::client::{exponential, Connections, Metadata};
use crate::config::{ConfigError, Configs};
use crate::ledger::Observation;
use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Input, Timer};
use crate::partitioner::{self, StickyPartitioner};
use crate::protocol::{Acks, ErrorCode, Message, ProduceRequest, ProduceResponse};
use crate::record::{
    record_size, Bytes, Header, ProducerId, ProducerIdentity, Record, RecordBatch, RecordId,
    TopicPartition, BATCH_OVERHEAD,
};
use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId, TraceKind};

mod accumulator;
mod config;
mod producer_id;
mod sender;
mod transactions;

use accumulator::{PartitionQueue, ProducerBatch};
pub use config::{KeyMode, ManualRecord, ProducerConfig, ProducerSpec, RATE_MAX};
use sender::InFlight;
pub use transactions::{TxnClientState, TxnManager};

/// How often a rate-driven application wakes to call `send()` for the records now due.
const SEND_TICK: Duration = Duration(1_000);
/// Largest key pool whose keys are built once up front.
const KEY_CACHE_MAX: u32 = 100_000;

/// Counters shown in snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    pub produced: u64,
    pub acked: u64,
    pub failed: u64,
    pub retries: u64,
    pub requests: u64,
    /// Batches sent, retries included.
    pub batches: u64,
    /// Records an earlier process of this producer held unanswered when it died (a crashed
    /// processor): their fate is the log's, not this instance's to wait for.
    pub abandoned: u64,
    /// Acknowledged records by produce latency: milliseconds from `send()` (the record's
    /// timestamp) to the acknowledgement the producer received, as Kafka's
    /// `record-queue-time` plus `request-latency` add up for one record.
    pub latency_ms: crate::histogram::Histogram,
    /// For Kafka's producer metrics (`sim::metrics`): records and bytes in the batches sent
    /// (retries included), records in retried batches, the answered requests' latency, the
    /// time batches waited in the accumulator, and the time `send()` waited for memory.
    pub records_sent: u64,
    /// On the wire (compressed), and what those batches were uncompressed.
    pub bytes_sent: u64,
    pub uncompressed_bytes_sent: u64,
    pub records_retried: u64,
    pub responses: u64,
    pub request_latency_us_total: u64,
    pub request_latency_us_max: u64,
    pub queue_time_us_total: u64,
    pub buffer_wait_us_total: u64,
}

impl ProducerStats {
    /// A batch goes out (`record-send-rate`, `batch-size-avg`, `record-queue-time-avg`).
    fn count_sent(&mut self, now: Instant, batch: &ProducerBatch, wire_bytes: u32) {
        self.batches += 1;
        self.records_sent += batch.records.len() as u64;
        self.bytes_sent += u64::from(wire_bytes);
        self.uncompressed_bytes_sent += u64::from(batch.size_bytes);
        if batch.attempts == 0 {
            self.queue_time_us_total += now.saturating_since(batch.created_at).as_micros();
        }
    }
}

/// A producer client and the application driving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    pub index: u32,
    pub spec: ProducerSpec,
    config: ProducerConfig,
    topic: Arc<str>,
    rng: Prng,
    connections: Connections,
    metadata: Metadata,
    queues: Vec<PartitionQueue>,
    sticky: StickyPartitioner,
    round_robin_counter: u32,
    /// Where each broker's next drain starts among the partitions it leads (Kafka's
    /// `nodesDrainIndex`).
    drain_index: BTreeMap<BrokerId, usize>,
    in_flight: BTreeMap<u32, InFlight>,
    producer_id: ProducerId,
    producer_epoch: i16,
    /// Partitions whose sequences an epoch bump must rewrite; the bump happens before the
    /// next drain (`requestIdempotentEpochBumpForPartition`).
    rewrite: BTreeSet<u32>,
    /// Records whose batch got a new epoch and sequence while unfinished. If the broker had
    /// appended its first attempt without the answer reaching us, the new attempt lands again,
    /// in Kafka too: idempotence keeps records once and in order within an epoch only.
    rewritten: BTreeSet<u64>,
    /// `buffer.memory` held by unfinished batches, queued or in flight (`BufferPool`).
    pool_used: u64,
    /// The record the application is blocked on in `send()` for want of pool memory, with its
    /// explicit partition (`BufferPool.allocate` waiting).
    waiting: Option<(Record, Option<u32>)>,
    manual: VecDeque<ManualRecord>,
    /// The application's send loop.
    running: bool,
    /// Since when the application's `send()` has been blocked (no metadata for the topic, or
    /// no room in `buffer.memory`); it throws after `max.block.ms`.
    blocked_since: Option<Instant>,
    started_at: Instant,
    generated: u64,
    next_record: u64,
    value: Option<Bytes>,
    /// Pool keys built once (for pools up to `KEY_CACHE_MAX`), so `send()` clones instead of
    /// formatting.
    key_cache: Vec<Bytes>,
    scheduled_wake: Option<Instant>,
    /// With a `transactional.id`: its transactions.
    pub txn: Option<TxnManager>,
    pub stats: ProducerStats,
    /// A processor's outputs, each `send()` at its time (as its input's processing ends).
    scheduled: VecDeque<(Instant, ManualRecord)>,
    /// A processor's producer whose consumer waits in `flush()` (at-least-once).
    flush_waiter: bool,
    /// Records failed when the last `flush()` returned.
    failed_at_flush: u64,
    /// The process died (a crashed processor): it handles nothing until replaced.
    pub crashed: bool,
    /// How many times its process was started again (a processor's restarts).
    pub incarnation: u32,
    /// An idempotent producer's id, asked for with InitProducerId.
    id_state: producer_id::IdState,
    /// What one `send()` costs the application (the hardware's), which paces a closed loop.
    send_ns: u64,
    /// The compression ratio it expects of its next batch (see `compression::RatioEstimate`).
    ratio: crate::compression::RatioEstimate,
}
impl Producer {
    pub fn new(
        index: u32,
        spec: ProducerSpec,
        rng: Prng,
        brokers: Vec<BrokerId>,
        now: Instant,
    ) -> Result<Producer, ConfigError> {
        let config = ProducerConfig::from_configs(&spec.configs)?;
        let key_cache = match spec.keys {
            KeyMode::Pool(n) if n <= KEY_CACHE_MAX => (0..n)
                .map(|i| Bytes::from(format!("key-{i}").into_bytes()))
                .collect(),
            _ => Vec::new(),
        };
        let value = (spec.value_bytes > 0).then(|| -> Bytes {
            // Filler bytes shared by all generated records: records differ by key and identity.
            (0..spec.value_bytes)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<u8>>()
                .into()
        });
        Ok(Producer {
            index,
            topic: Arc::from(spec.topic.as_str()),
            sticky: StickyPartitioner::new(config.batch_size),
            // Asked for before the first batch (InitProducerId): an idempotent producer of any
            // broker, a transactional one of its coordinator.
            producer_id: ProducerId(-1),
            id_state: producer_id::IdState::new(
                &config,
                spec.configs.str("transactional.id").is_some(),
            ),
            txn: spec
                .configs
                .str("transactional.id")
                .map(|id| TxnManager::new(&id, &spec.configs, &spec)),
            config,
            spec,
            rng,
            connections: Connections::new(brokers, index as usize),
            metadata: Metadata::default(),
            queues: Vec::new(),
            round_robin_counter: 0,
            drain_index: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            producer_epoch: 0,
            rewrite: BTreeSet::new(),
            rewritten: BTreeSet::new(),
            pool_used: 0,
            waiting: None,
            manual: VecDeque::new(),
            running: true,
            blocked_since: None,
            started_at: now,
            generated: 0,
            next_record: 0,
            value,
            key_cache,
            scheduled_wake: None,
            stats: ProducerStats::default(),
            scheduled: VecDeque::new(),
            flush_waiter: false,
            failed_at_flush: 0,
            crashed: false,
            incarnation: 0,
            send_ns: 0,
            ratio: Default::default(),
        })
    }

    /// A new instance of `old`'s process: fresh client state; its counters, record numbers
    /// and correlation ids carry on, so that nothing of the old instance is taken for new.
    pub fn restarted(old: &Producer, rng: Prng, now: Instant) -> Result<Producer, ConfigError> {
        let brokers = old.connections.brokers().to_vec();
        let mut p = Producer::new(old.index, old.spec.clone(), rng, brokers, now)?;
        p.stats = old.stats.clone();
        p.stats.abandoned += old.pending_records();
        p.failed_at_flush = p.stats.failed;
        p.incarnation = old.incarnation + 1;
        p.send_ns = old.send_ns;
        // Kafka keeps the estimates in a static map: a client in the same process inherits.
        p.ratio = old.ratio;
        p.connections
            .continue_requests_from(old.connections.requests_sent());
        Ok(p)
    }

    /// Whether record `seq` was in a batch an epoch bump renumbered while unfinished (it may
    /// be in its partition's log twice, or after newer records: see `rewritten`).
    pub fn was_renumbered(&self, seq: u64) -> bool {
        self.rewritten.contains(&seq)
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }
    /// Records the workload generated so far (records produced by hand aside).
    pub fn generated(&self) -> u64 {
        self.generated
    }
    pub fn is_running(&self) -> bool {
        self.running
    }
    /// Records accepted by `send()` and not yet acknowledged or failed.
    pub fn pending_records(&self) -> u64 {
        self.stats.produced - self.stats.acked - self.stats.failed - self.stats.abandoned
    }
    pub fn in_flight_batches(&self) -> u32 {
        self.in_flight
            .values()
            .map(|f| f.batches.iter().filter(|b| !b.expired).count() as u32)
            .sum()
    }
    pub fn queued_batches(&self) -> u32 {
        self.queues.iter().map(|q| q.batches.len() as u32).sum()
    }

    /// Starts or stops the application's send loop; batches already accepted still go out.
    pub fn set_running(&mut self, now: Instant, running: bool, out: &mut Vec<Effect>) {
        if let Some(t) = self.txn.as_mut().filter(|_| !running) {
            // The application stops sending: it commits the transaction it has open.
            if t.state == TxnClientState::InTransaction {
                t.state = TxnClientState::Ending { commit: true };
            }
        }
        if running && !self.running {
            // Resume the rate from now instead of catching up on the pause.
            self.started_at = now;
            self.next_record = 0;
            self.generated_at_resume();
        }
        self.running = running;
        self.wake(now, out);
    }

    fn generated_at_resume(&mut self) {
        self.spec.max_records = self
            .spec
            .max_records
            .map(|m| m.saturating_sub(self.generated));
        self.generated = 0;
    }

    /// What one `send()` costs the application on this machine (the simulator's hardware):
    /// with `rate_per_sec = RATE_MAX` the application sends one record after another at it.
    pub fn set_send_cost(&mut self, ns_per_record: u64) {
        self.send_ns = ns_per_record;
    }

    /// `buffer.memory` not held by unfinished batches (`buffer-available-bytes`).
    pub fn buffer_available_bytes(&self) -> u64 {
        self.config.buffer_memory.saturating_sub(self.pool_used)
    }

    /// Whether the application sends as fast as it can (`rate_per_sec = "max"`).
    fn closed_loop(&self) -> bool {
        self.spec.rate_per_sec == RATE_MAX
    }

    pub fn set_rate(&mut self, now: Instant, rate_per_sec: u64, out: &mut Vec<Effect>) {
        self.spec.rate_per_sec = rate_per_sec;
        self.started_at = now;
        self.next_record = 0;
        self.generated_at_resume();
        self.wake(now, out);
    }

    pub fn produce_one(&mut self, now: Instant, record: ManualRecord, out: &mut Vec<Effect>) {
        self.manual.push_back(record);
        self.wake(now, out);
    }

    pub fn start(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.wake(now, out);
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        if let Input::Message {
            from: NodeId::Broker(b),
            ..
        } = &input
        {
            // A broker that answers is reachable again: forget its reconnect backoff.
            self.connections.answered(*b);
        }
        if self.crashed {
            return;
        }
        match input {
            Input::App(call) => self.on_app_call(call),
            Input::Message { msg, .. } if self.on_producer_id(now, &msg) => {}
            Input::Message { from, msg } => match msg {
                Message::MetadataResponse { metadata, .. } => self.on_metadata(now, metadata),
                Message::ProduceResponse(response) => {
                    self.on_produce_response(now, from, response, out)
                }
                other => self.on_txn_message(now, other, out),
            },
            Input::Disconnected {
                peer: NodeId::Broker(b),
            } => {
                self.producer_id_request_lost(now, |_, broker| broker == b);
                self.txn_request_lost(now, b, out);
                self.on_disconnect(now, b, ErrorCode::NetworkException, out);
                self.metadata.disconnected();
            }
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::Wake) => {
                if self.scheduled_wake.is_some_and(|at| at <= now) {
                    self.scheduled_wake = None;
                }
            }
            Input::Timer(Timer::RequestTimeout { correlation_id }) => {
                if let Some(f) = self.in_flight.get(&correlation_id) {
                    // Kafka closes the connection of a timed-out request.
                    let broker = f.broker;
                    self.on_disconnect(now, broker, ErrorCode::RequestTimedOut, out);
                }
                self.txn_timed_out(now, correlation_id, out);
                self.producer_id_request_lost(now, |c, _| c == correlation_id);
            }
            Input::Timer(other) => unreachable!("producer got timer {other:?}"),
        }
        self.wake(now, out);
    }

    fn on_metadata(&mut self, now: Instant, metadata: Arc<ClusterMetadata>) {
        let metadata = self.metadata.answered(metadata);
        let partitions = metadata
            .topics
            .get(&self.topic)
            .map_or(0, |t| t.partitions.len());
        let refresh_at = if partitions == 0 {
            // The topic does not exist (yet): `send()` keeps waiting for it, as Kafka's does.
            now + self.config.retry_backoff_max
        } else {
            // `metadata.max.age.ms`: refreshed at least that often, errors or not.
            if self.queues.len() != partitions {
                self.queues.resize_with(partitions, PartitionQueue::default);
                self.sticky.reset();
            }
            now + self.config.metadata_max_age
        };
        self.metadata.keep(metadata, refresh_at);
    }

    /// Asks for the topic's metadata now (unless a request is out).
    fn request_metadata(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let request = metadata_request(&self.topic);
        self.metadata
            .request(now, &mut self.connections, request, out);
    }

    fn next_correlation(&mut self) -> u32 {
        self.connections.next_correlation()
    }

    /// Everything the producer does when it gets to run: send() due records, expire, drain.
    fn wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        while self.scheduled.front().is_some_and(|(at, _)| *at <= now) {
            let (_, record) = self.scheduled.pop_front().expect("checked");
            self.manual.push_back(record);
        }
        let request = metadata_request(&self.topic);
        self.metadata
            .refresh_if_due(now, &mut self.connections, request, out);
        if self.queues.is_empty() {
            // `waitOnMetadata`: send() waits for the topic's partitions.
            if self.send_due(now) {
                self.block_send(now, out);
            } else {
                self.blocked_since = None;
            }
        } else {
            self.send_due_records(now, out);
        }
        if !self.queues.is_empty() {
            self.expire_batches(now, out);
        }
        self.txn_step(now, out);
        self.ask_producer_id(now, out);
        if !self.queues.is_empty() && !self.awaits_producer_id() {
            self.drain(now, out);
        }
        if self.flush_waiter && self.flushed() {
            self.flush_waiter = false;
            let failed = self.stats.failed - self.failed_at_flush;
            self.failed_at_flush = self.stats.failed;
            out.push(Effect::Handoff(crate::processor::AppCall::Flushed {
                failed,
            }));
        }
        self.schedule_wake(now, out);
    }

    /// Whether everything the application handed over was answered (`flush()` returns).
    fn flushed(&self) -> bool {
        self.handed_over() && self.pending_records() == 0
    }

    /// Whether every output the application has made so far went through `send()`.
    fn handed_over(&self) -> bool {
        self.scheduled.is_empty() && self.manual.is_empty() && self.waiting.is_none()
    }

    /// A call from the consumer of the same processor.
    fn on_app_call(&mut self, call: crate::processor::AppCall) {
        use crate::processor::AppCall;
        match call {
            AppCall::Send { records } => self.scheduled.extend(records),
            AppCall::Commit { offsets, flush } => {
                self.flush_waiter |= flush;
                if let Some(t) = &mut self.txn {
                    t.end_with(offsets);
                }
            }
            AppCall::Restart => unreachable!("the simulator replaces a restarted producer"),
            other => unreachable!("a producer got {other:?}"),
        }
    }

    /// Whether the application has a record to hand to `send()` now.
    fn send_due(&self, now: Instant) -> bool {
        if !self.txn_accepts() {
            return false;
        }
        let generated = self.running
            && self.spec.rate_per_sec > 0
            && self.spec.max_records.is_none_or(|m| self.generated < m)
            && self.record_due_at(self.next_record) <= now;
        !self.manual.is_empty() || generated
    }

    /// The application is blocked in `send()` waiting for the topic's metadata; after
    /// `max.block.ms` the record fails unsent, and the application's next `send()` blocks anew.
    fn block_send(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let since = *self.blocked_since.get_or_insert(now);
        if now < since + self.config.max_block {
            return;
        }
        self.blocked_since = Some(now);
        let record = match self.manual.pop_front() {
            Some(manual) => self.manual_record(now, manual).0,
            None => self.generate_record(),
        };
        self.send_failed(record, ErrorCode::MetadataTimeout, out);
    }

    /// `send()` gave up on a record before it reached the accumulator: Kafka completes its
    /// future with the exception and calls the callback (`doSend` catches `ApiException`).
    fn send_failed(&mut self, record: Record, error: ErrorCode, out: &mut Vec<Effect>) {
        self.stats.produced += 1;
        self.stats.failed += 1;
        out.push(Effect::Trace(TraceKind::SendTimedOut {
            producer: self.index,
            topic: self.topic.to_string(),
            error,
        }));
        out.push(Effect::Observe(Observation::Failed {
            producer: self.index,
            records: Arc::new(vec![record]),
            error,
        }));
    }

    fn record_due_at(&self, n: u64) -> Instant {
        if self.closed_loop() {
            // send() compresses as it appends (`MemoryRecordsBuilder` writes through the
            // codec's stream): the application's thread pays for it.
            let record = u64::from(self.spec.value_bytes) + 20;
            let per_record = self.send_ns + self.config.compression.compress_ns(record);
            let ns = u128::from(n) * u128::from(per_record.max(1));
            return self.started_at + Duration((ns / 1_000) as u64);
        }
        let rate = self.spec.rate_per_sec.max(1);
        let offset = (u128::from(n) * 1_000_000 / u128::from(rate)) as u64;
        self.started_at + Duration(offset)
    }

    /// Whether the application may call `send()` now (a transactional one not before
    /// `initTransactions()`, nor inside `commitTransaction()`).
    fn txn_accepts(&self) -> bool {
        self.txn.as_ref().is_none_or(TxnManager::accepts_records)
    }

    fn generating(&self) -> bool {
        self.txn_accepts()
            && self.running
            && self.spec.rate_per_sec > 0
            && self.spec.max_records.is_none_or(|m| self.generated < m)
    }

    /// The application calls `send()` for every record due by now, and for hand-made ones,
    /// one at a time: a record that needs a new batch while `buffer.memory` has no room for it
    /// blocks the application (`BufferPool.allocate`) until a batch completes and frees its
    /// buffer, or until `max.block.ms`, when the record fails with BufferExhausted and the
    /// next `send()` blocks anew.
    fn send_due_records(&mut self, now: Instant, out: &mut Vec<Effect>) {
        loop {
            let unblocked = self.waiting.is_some();
            let (record, partition) = if let Some(waiting) = self.waiting.take() {
                waiting
            } else if !self.txn_accepts() {
                self.blocked_since = None;
                return;
            } else if let Some(manual) = self.manual.pop_front() {
                let source = manual.source.clone();
                let made = self.manual_record(now, manual);
                if let Some(input) = source {
                    let output = made.0.id;
                    out.push(Effect::Observe(Observation::Transformed { output, input }));
                }
                made
            } else if self.generating() && self.record_due_at(self.next_record) <= now {
                (self.generate_record(), None)
            } else {
                self.blocked_since = None;
                return;
            };
            let need = self.memory_needed(&record, partition);
            if need > 0 && self.pool_used + need > self.config.buffer_memory {
                let since = *self.blocked_since.get_or_insert(now);
                if now >= since + self.config.max_block {
                    self.blocked_since = None;
                    self.send_failed(record, ErrorCode::BufferExhausted, out);
                    continue;
                }
                self.waiting = Some((record, partition));
                return;
            }
            if let (true, Some(since)) = (unblocked, self.blocked_since) {
                self.stats.buffer_wait_us_total += now.saturating_since(since).as_micros();
            }
            self.blocked_since = None;
            self.send(now, record, partition);
            self.txn_record_sent();
            if unblocked && self.closed_loop() {
                // A closed loop goes on from where `send()` returned, without catching up.
                self.started_at = now;
                self.next_record = 0;
                self.generated_at_resume();
            }
        }
    }

    /// A record made by hand, numbered as the next the application sends, with its explicit
    /// partition if any.
    fn manual_record(&self, now: Instant, manual: ManualRecord) -> (Record, Option<u32>) {
        let record = Record {
            timestamp_ms: now.as_millis() as i64,
            key: manual.key,
            value: manual.value,
            headers: crate::record::Headers::new(manual.headers),
            id: RecordId {
                producer: self.index,
                seq: self.stats.produced,
            },
        };
        (record, manual.partition)
    }

    /// The workload's next record (timestamped when it was due), counted as generated.
    fn generate_record(&mut self) -> Record {
        let due = self.record_due_at(self.next_record);
        let seq = self.stats.produced;
        let key: Option<Bytes> = match self.spec.keys {
            KeyMode::Null => None,
            KeyMode::Pool(n) => {
                let i = self.rng.below(u64::from(n));
                Some(match self.key_cache.get(i as usize) {
                    Some(k) => k.clone(),
                    None => format!("key-{i}").into_bytes().into(),
                })
            }
            KeyMode::Unique => Some(format!("key-{seq}").into_bytes().into()),
        };
        self.generated += 1;
        self.next_record += 1;
        Record {
            timestamp_ms: due.as_millis() as i64,
            key,
            value: self.value.clone(),
            headers: crate::record::Headers::default(),
            id: RecordId {
                producer: self.index,
                seq,
            },
        }
    }

    /// Sets a wake-up timer for the next moment something can happen without a message.
    fn schedule_wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut next = self.scheduled.front().map_or(Instant::MAX, |(at, _)| *at);
        if let Some(at) = self.producer_id_wake().filter(|&at| at > now) {
            next = next.min(at);
        }
        if !self.queues.is_empty() && self.generating() {
            next = next.min(self.record_due_at(self.next_record).max(now + SEND_TICK));
        }
        for (p, queue) in self.queues.iter().enumerate() {
            let Some(ready) = self.ready_at(queue) else {
                continue;
            };
            let broker_wait = self
                .leader_of(p as u32)
                .and_then(|b| self.connections.backoff_until(b))
                .unwrap_or(Instant::ZERO);
            let head_expiry = queue.batches.front().map_or(Instant::MAX, |b| {
                b.created_at + self.config.delivery_timeout
            });
            // Only what lies ahead: something due now that could not go waits for a message,
            // and must not keep the rest from being scheduled.
            for at in [ready.max(broker_wait), head_expiry] {
                if at > now {
                    next = next.min(at);
                }
            }
        }
        let in_flight_expiry = self
            .in_flight
            .values()
            .flat_map(|f| f.batches.iter())
            .filter(|b| !b.expired)
            .map(|b| b.created_at + self.config.delivery_timeout)
            .min();
        if let Some(at) = in_flight_expiry.filter(|&at| at > now) {
            next = next.min(at);
        }
        if let Some(at) = self.metadata.refresh_at().filter(|&at| at > now) {
            next = next.min(at);
        }
        if let Some(since) = self.blocked_since {
            next = next.min(since + self.config.max_block);
        }
        if let Some(at) = self.txn.as_ref().and_then(TxnManager::wake_at) {
            if at > now {
                next = next.min(at);
            }
        }
        if next == Instant::MAX {
            return;
        }
        crate::client::wake_at(&mut self.scheduled_wake, next, out);
    }
}

/// The producer's MetadataRequest: its topic, which a broker may create (Kafka's producer
/// always lets it).
fn metadata_request(topic: &Arc<str>) -> impl Fn(u32) -> Message + '_ {
    move |correlation_id| Message::MetadataRequest {
        correlation_id,
        topics: vec![topic.clone()],
        allow_auto_create: true,
    }
}

/// Where one of a producer's records is, for a record's journey (`sim::journey`): read from
/// the producer's state between steps, so following a record changes nothing it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPlace {
    pub partition: u32,
    /// The batch holding it: records and bytes (of `batch.size`), when it opened, its attempts.
    pub batch_records: u32,
    pub batch_bytes: u32,
    pub created_at: Instant,
    pub attempts: u32,
    /// The record's key.
    pub key: Option<Bytes>,
    /// The state of its batch.
    pub state: BatchState,
}

/// Where a record's batch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    /// In the accumulator. `closed`: no record may join it (one did not fit); `behind`: a newer
    /// batch of the same partition waits behind it, which makes it full in Kafka's eyes
    /// (`RecordAccumulator.ready`: `deque.size() > 1`); `exhausted`: the application waits
    /// for `buffer.memory`, so every batch may go.
    Queued {
        closed: bool,
        behind: bool,
        exhausted: bool,
    },
    /// In a Produce request to `broker` (correlation id `request`).
    InFlight { broker: BrokerId, request: u32 },
}

impl Producer {
    /// Where record number `seq` is now: in a batch of the accumulator, or in a request;
    /// `None` before `send()` and once its batch completed.
    pub fn locate(&self, seq: u64) -> Option<RecordPlace> {
        let holds = |b: &ProducerBatch| b.records.binary_search_by_key(&seq, |r| r.id.seq).is_ok();
        let key = |b: &ProducerBatch| {
            let i = b.records.binary_search_by_key(&seq, |r| r.id.seq).ok()?;
            b.records[i].key.clone()
        };
        let place = |b: &ProducerBatch, state| RecordPlace {
            partition: b.partition,
            key: key(b),
            batch_records: b.records.len() as u32,
            batch_bytes: b.size_bytes,
            created_at: b.created_at,
            attempts: b.attempts,
            state,
        };
        for queue in &self.queues {
            if let Some(i) = queue.batches.iter().position(holds) {
                let state = BatchState::Queued {
                    closed: queue.batches[i].closed,
                    behind: i + 1 < queue.batches.len(),
                    exhausted: self.waiting.is_some(),
                };
                return Some(place(&queue.batches[i], state));
            }
        }
        self.in_flight.iter().find_map(|(&request, f)| {
            let b = f.batches.iter().find(|b| holds(b))?;
            let state = BatchState::InFlight {
                broker: f.broker,
                request,
            };
            Some(place(b, state))
        })
    }

    /// The topic it produces to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// How many batches wait in the accumulator for `partition`.
    pub fn queued_in(&self, partition: u32) -> usize {
        self.queues
            .get(partition as usize)
            .map_or(0, |q| q.batches.len())
    }

    /// How many partitions it knows its topic has (0 before its first metadata).
    pub fn partitions_known(&self) -> u32 {
        self.queues.len() as u32
    }
}
