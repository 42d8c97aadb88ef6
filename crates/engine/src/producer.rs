//! The producer client: an application that calls `send()` at a rate, the partitioner,
//! the record accumulator (`batch.size`, `linger.ms`, `buffer.memory`), the sender
//! (`max.in.flight.requests.per.connection`, `acks`), retries with exponential backoff,
//! delivery timeouts, and idempotence (producer id, epoch, sequence numbers).
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

/// How often a rate-driven application wakes to call `send()` for the records now due.
const SEND_TICK: Duration = Duration(1_000);
/// Largest key pool whose keys are built once up front.
const KEY_CACHE_MAX: u32 = 100_000;

/// How the workload picks record keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// Null keys: the sticky partitioner spreads them.
    Null,
    /// `key-0` .. `key-{n-1}`, chosen uniformly.
    Pool(u32),
    /// A new key for every record.
    Unique,
}

/// Everything needed to create a producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSpec {
    pub name: String,
    pub topic: String,
    /// Records per second the application sends; 0 sends only records produced by hand.
    pub rate_per_sec: u64,
    /// Stop after this many generated records.
    pub max_records: Option<u64>,
    pub keys: KeyMode,
    pub value_bytes: u32,
    pub configs: Configs,
}

/// The producer configuration the client acts on, derived and validated as Kafka does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub acks: Acks,
    pub idempotent: bool,
    pub retries: u32,
    pub max_in_flight: u32,
    pub batch_size: u32,
    pub linger: Duration,
    pub delivery_timeout: Duration,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub buffer_memory: u64,
    pub max_block: Duration,
    pub metadata_max_age: Duration,
    pub max_request_size: u32,
    pub round_robin: bool,
    pub ignore_keys: bool,
    pub adaptive: bool,
}

impl ProducerConfig {
    /// Kafka's `postProcessAndValidateIdempotenceConfigs` and delivery-timeout rules (§2.1).
    pub fn from_configs(c: &Configs) -> Result<ProducerConfig, ConfigError> {
        let acks = match c.str("acks").as_deref() {
            Some("0") => Acks::Zero,
            Some("1") => Acks::One,
            _ => Acks::All,
        };
        let retries = c.int("retries") as u32;
        let max_in_flight = c.int("max.in.flight.requests.per.connection") as u32;
        let mut idempotent = c.bool("enable.idempotence");
        let conflict = if retries == 0 {
            Some("retries must be greater than 0")
        } else if acks != Acks::All {
            Some("acks must be all")
        } else if max_in_flight > 5 {
            Some("max.in.flight.requests.per.connection must be at most 5")
        } else {
            None
        };
        if let (true, Some(why)) = (idempotent, conflict) {
            if c.is_explicit("enable.idempotence") {
                let message = format!("idempotence requires that {why}");
                return Err(ConfigError {
                    key: "enable.idempotence".into(),
                    message,
                });
            }
            // Not asked for explicitly: Kafka quietly turns idempotence off.
            idempotent = false;
        }
        if c.str("transactional.id").is_some() {
            let message = "transactions are not simulated yet".to_string();
            return Err(ConfigError {
                key: "transactional.id".into(),
                message,
            });
        }
        let ms = |k: &str| Duration::from_millis(c.int(k) as u64);
        let linger = ms("linger.ms");
        let request_timeout = ms("request.timeout.ms");
        let mut delivery_timeout = ms("delivery.timeout.ms");
        let floor = linger + request_timeout;
        if delivery_timeout < floor {
            if c.is_explicit("delivery.timeout.ms") {
                let message = format!(
                    "must be at least linger.ms + request.timeout.ms = {}",
                    floor.as_millis()
                );
                return Err(ConfigError {
                    key: "delivery.timeout.ms".into(),
                    message,
                });
            }
            delivery_timeout = floor;
        }
        Ok(ProducerConfig {
            acks,
            idempotent,
            retries,
            max_in_flight,
            batch_size: c.int("batch.size") as u32,
            max_block: ms("max.block.ms"),
            metadata_max_age: ms("metadata.max.age.ms"),
            linger,
            delivery_timeout,
            request_timeout,
            retry_backoff: ms("retry.backoff.ms"),
            retry_backoff_max: ms("retry.backoff.max.ms"),
            buffer_memory: c.int("buffer.memory") as u64,
            max_request_size: c.int("max.request.size") as u32,
            round_robin: c.str("partitioner.class").is_some(),
            ignore_keys: c.bool("partitioner.ignore.keys"),
            adaptive: c.bool("partitioner.adaptive.partitioning.enable"),
        })
    }
}

/// A record produced by hand (the UI's "produce one record").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    pub partition: Option<u32>,
}

/// A batch in the accumulator or in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerBatch {
    partition: u32,
    records: Arc<Vec<Record>>,
    size_bytes: u32,
    first_timestamp_ms: i64,
    max_timestamp_ms: i64,
    created_at: Instant,
    /// No more records go in (one did not fit, or it was sent).
    closed: bool,
    attempts: u32,
    retry_at: Instant,
    /// Epoch and base sequence, once assigned (idempotence). A batch keeps them on every
    /// retry: its first attempt may have been appended, and only the same sequence lets the
    /// broker recognise the retry (`RecordAccumulator.drainBatchesForOneNode`).
    sequence: Option<(i16, i32)>,
    /// Its sequence was rewritten by an epoch bump since it was last sent.
    rewritten: bool,
    /// Failed by `delivery.timeout.ms` while its request was still out (Kafka's `isDone()`
    /// batch in `Sender.getExpiredInflightBatches`): the request keeps its place on the
    /// connection until it is answered or times out, and its answer only settles sequences.
    expired: bool,
    /// Made by splitting a batch the broker found too large: its memory is not from the
    /// `buffer.memory` pool (`ProducerBatch.split` allocates outside it).
    split: bool,
    /// What it holds of `buffer.memory` until it completes: `max(batch.size, its first
    /// record)`, as `RecordAccumulator.append` allocates (0 for a split batch).
    pool_bytes: u32,
}

impl ProducerBatch {
    /// A batch opened by `record` (`RecordAccumulator.appendNewBatch`), holding
    /// `max(batch.size, record)` of `buffer.memory`.
    fn open(partition: u32, record: Record, created_at: Instant, batch_size: u32) -> ProducerBatch {
        let size = record_size(0, 0, &record);
        // Room for as many records like this one as batch.size holds, so the batch never regrows.
        let expected =
            (batch_size.saturating_sub(BATCH_OVERHEAD) / size.max(1)).clamp(1, 4096) as usize;
        let mut records = Vec::with_capacity(expected);
        let timestamp_ms = record.timestamp_ms;
        records.push(record);
        ProducerBatch {
            partition,
            size_bytes: BATCH_OVERHEAD + size,
            first_timestamp_ms: timestamp_ms,
            max_timestamp_ms: timestamp_ms,
            records: Arc::new(records),
            created_at,
            closed: false,
            attempts: 0,
            retry_at: created_at,
            sequence: None,
            rewritten: false,
            expired: false,
            split: false,
            pool_bytes: batch_size.max(BATCH_OVERHEAD + size),
        }
    }

    /// What `record` adds to this batch if it still fits in `batch_size`
    /// (`MemoryRecordsBuilder.hasRoomFor`).
    fn room_for(&self, record: &Record, batch_size: u32) -> Option<u32> {
        let delta = self.records.len() as u32;
        let size = record_size(delta, record.timestamp_ms - self.first_timestamp_ms, record);
        (self.size_bytes + size <= batch_size).then_some(size)
    }

    /// Adds `record`, of `size` bytes here (from `room_for`).
    fn push(&mut self, record: Record, size: u32) {
        self.size_bytes += size;
        self.max_timestamp_ms = self.max_timestamp_ms.max(record.timestamp_ms);
        // Copy-on-write: a cloned simulation (a checkpoint or fork) may share this batch.
        Arc::make_mut(&mut self.records).push(record);
    }

    /// Kafka's `MemoryRecordsBuilder.isFull`: closed (a record did not fit, or it was sent)
    /// or at `batch.size`. Not a guess at the next record: a batch with room for less than
    /// one more waits for that record, which closes it, or for `linger.ms`.
    fn is_full(&self, batch_size: u32) -> bool {
        self.closed || self.size_bytes >= batch_size
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    in_flight: u32,
    /// Of those, batches already failed by `delivery.timeout.ms` (see `ProducerBatch::expired`):
    /// the idempotence bookkeeping no longer waits for them, as Kafka's `handleFailedBatch`
    /// removes them from the in-flight batches it tracks.
    expired_in_flight: u32,
    /// Idempotence per partition (Kafka's `TxnPartitionEntry`): the epoch its sequences
    /// belong to, the next sequence, the last acknowledged one.
    epoch: i16,
    next_sequence: i32,
    last_acked: Option<i32>,
    /// A batch that had been sent expired: whether it was appended is unknown until the
    /// batches after it answer (`partitionsWithUnresolvedSequences`).
    unresolved: bool,
    /// With `max.in.flight.requests.per.connection` 1, a partition whose batch is out sends
    /// nothing more until it is answered, even to a new leader (`guaranteeMessageOrder`).
    muted: bool,
}

impl PartitionQueue {
    /// Batches in flight whose outcome still matters (`TransactionManager.hasInflightBatches`).
    fn live_in_flight(&self) -> u32 {
        self.in_flight - self.expired_in_flight
    }

    /// Whether `sequence` is the one after the last acknowledged (`isNextSequence`).
    fn is_next(&self, sequence: i32) -> bool {
        sequence == self.last_acked.map_or(0, |a| a.wrapping_add(1) & i32::MAX)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct InFlight {
    broker: BrokerId,
    batches: Vec<ProducerBatch>,
}

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
    pub stats: ProducerStats,
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
            // Producer ids come from the cluster in Kafka; here each producer has a fixed one.
            producer_id: ProducerId(1000 + i64::from(index)),
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
        })
    }

    /// Whether record `seq` was in a batch an epoch bump renumbered while unfinished (it may
    /// be in its partition's log twice, or after newer records: see `rewritten`).
    pub fn was_renumbered(&self, seq: u64) -> bool {
        self.rewritten.contains(&seq)
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }
    pub fn is_running(&self) -> bool {
        self.running
    }
    /// Records accepted by `send()` and not yet acknowledged or failed.
    pub fn pending_records(&self) -> u64 {
        self.stats.produced - self.stats.acked - self.stats.failed
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
        match input {
            Input::Message { from, msg } => match msg {
                Message::MetadataResponse { metadata, .. } => self.on_metadata(now, metadata),
                Message::ProduceResponse(response) => {
                    self.on_produce_response(now, from, response, out)
                }
                other => unreachable!("producer got {}", other.kind()),
            },
            Input::Disconnected {
                peer: NodeId::Broker(b),
            } => {
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
            self.drain(now, out);
        }
        self.schedule_wake(now, out);
    }

    /// Whether the application has a record to hand to `send()` now.
    fn send_due(&self, now: Instant) -> bool {
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

    /// The `buffer.memory` a record needs from the pool: none if it fits the open batch of the
    /// partition it goes to, else a new batch's buffer, `max(batch.size, the record)`
    /// (`RecordAccumulator.append`). Worked out without choosing: a round-robin counter or a
    /// sticky choice moves only when the record is really sent.
    fn memory_needed(&self, record: &Record, explicit: Option<u32>) -> u64 {
        let partition = self
            .placement(record, explicit)
            .or_else(|| self.sticky.current());
        let fits = partition.is_some_and(|p| {
            self.queues[p as usize].batches.back().is_some_and(|last| {
                !last.closed && last.room_for(record, self.config.batch_size).is_some()
            })
        });
        if fits {
            0
        } else {
            u64::from(
                self.config
                    .batch_size
                    .max(BATCH_OVERHEAD + record_size(0, 0, record)),
            )
        }
    }

    fn record_due_at(&self, n: u64) -> Instant {
        let rate = self.spec.rate_per_sec.max(1);
        let offset = (u128::from(n) * 1_000_000 / u128::from(rate)) as u64;
        self.started_at + Duration(offset)
    }

    fn generating(&self) -> bool {
        self.running
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
            let (record, partition) = if let Some(waiting) = self.waiting.take() {
                waiting
            } else if let Some(manual) = self.manual.pop_front() {
                self.manual_record(now, manual)
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
            self.blocked_since = None;
            self.send(now, record, partition);
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

    fn available(&self) -> Vec<bool> {
        available(self.metadata.cluster.as_deref(), &self.topic)
    }

    /// `KafkaProducer.send`: partition, then append to the accumulator.
    fn send(&mut self, now: Instant, record: Record, explicit: Option<u32>) {
        match self.placement(&record, explicit) {
            Some(partition) => {
                if explicit.is_none() && self.config.round_robin {
                    self.round_robin_counter = self.round_robin_counter.wrapping_add(1);
                }
                self.append(now, partition, record);
            }
            None => {
                let (queues, metadata) = (&self.queues, self.metadata.cluster.as_deref());
                let load = || load_stats(queues, self.config.adaptive, metadata, &self.topic);
                let partition = self.sticky.partition(load, &mut self.rng);
                self.append_sticky(now, partition, record);
            }
        }
        self.stats.produced += 1;
    }

    /// `KafkaProducer.partition`: the record's explicit partition, the round-robin
    /// partitioner's next, or its key's; `None` leaves it to the built-in sticky partitioner
    /// inside the accumulator. Chooses nothing: `send` moves the round-robin counter.
    fn placement(&self, record: &Record, explicit: Option<u32>) -> Option<u32> {
        let n = self.queues.len() as u32;
        let use_key = !self.config.ignore_keys && !self.config.round_robin;
        match (explicit, &record.key) {
            (Some(p), _) => Some(p.min(n - 1)),
            (None, _) if self.config.round_robin => Some(partitioner::round_robin_partition(
                self.round_robin_counter,
                &self.available(),
            )),
            (None, Some(key)) if use_key => Some(partitioner::partition_for_key(key, n)),
            (None, _) => None,
        }
    }

    /// Whether every batch of the partition is full: none open, or the last full
    /// (`RecordAccumulator.allBatchesFull`).
    fn all_batches_full(&self, partition: u32) -> bool {
        let queue = &self.queues[partition as usize];
        queue
            .batches
            .back()
            .is_none_or(|b| b.is_full(self.config.batch_size))
    }

    /// `RecordAccumulator.append` for a record the built-in partitioner places. Before the
    /// record goes in, `partitionChanged` lets the partitioner switch if the sticky partition
    /// has no open batch (it left by `linger.ms`, or the last record filled it) and it took
    /// `batch.size` bytes since it was chosen; a record that does not fit the open batch
    /// closes it and asks again. So a run ends at the first batch boundary past `batch.size`
    /// (`BuiltInPartitioner.updatePartitionInfo`); only batches that never fill, because
    /// traffic keeps one open, stay until twice `batch.size`.
    fn append_sticky(&mut self, now: Instant, mut partition: u32, mut record: Record) {
        let size = loop {
            if self.all_batches_full(partition) {
                let (queues, metadata) = (&self.queues, self.metadata.cluster.as_deref());
                let load = || load_stats(queues, self.config.adaptive, metadata, &self.topic);
                self.sticky.on_append(0, true, load, &mut self.rng);
                let (queues, metadata) = (&self.queues, self.metadata.cluster.as_deref());
                let load = || load_stats(queues, self.config.adaptive, metadata, &self.topic);
                let now_sticky = self.sticky.partition(load, &mut self.rng);
                if now_sticky != partition {
                    partition = now_sticky;
                    continue;
                }
                break self.append_new_batch(now, partition, record);
            }
            match self.try_append(partition, record) {
                Ok(size) => break size,
                Err(back) => record = back, // The open batch is closed now: ask again.
            }
        };
        let switch = self.all_batches_full(partition);
        let (queues, metadata) = (&self.queues, self.metadata.cluster.as_deref());
        let load = || load_stats(queues, self.config.adaptive, metadata, &self.topic);
        self.sticky.on_append(size, switch, load, &mut self.rng);
    }

    /// `RecordAccumulator.append`. Returns the bytes the record added.
    fn append(&mut self, now: Instant, partition: u32, record: Record) -> u32 {
        match self.try_append(partition, record) {
            Ok(size) => size,
            Err(record) => self.append_new_batch(now, partition, record),
        }
    }

    /// `RecordAccumulator.tryAppend`: into the partition's open batch if the record fits;
    /// if not, the batch is closed and the record comes back.
    fn try_append(&mut self, partition: u32, record: Record) -> Result<u32, Record> {
        let batch_size = self.config.batch_size;
        let queue = &mut self.queues[partition as usize];
        if let Some(last) = queue.batches.back_mut().filter(|b| !b.closed) {
            if let Some(size) = last.room_for(&record, batch_size) {
                last.push(record, size);
                return Ok(size);
            }
            last.closed = true;
        }
        Err(record)
    }

    /// A new batch for the record at the tail of the partition's queue.
    fn append_new_batch(&mut self, now: Instant, partition: u32, record: Record) -> u32 {
        let batch = ProducerBatch::open(partition, record, now, self.config.batch_size);
        let size = batch.size_bytes;
        self.pool_used += u64::from(batch.pool_bytes);
        self.queues[partition as usize].batches.push_back(batch);
        size
    }

    /// Whether the head batch of a queue may be sent now (`RecordAccumulator.ready`).
    fn ready_at(&self, queue: &PartitionQueue) -> Option<Instant> {
        let head = queue.batches.front()?;
        if head.attempts > 0 {
            return Some(head.retry_at);
        }
        // Someone waits for pool memory: every batch may go (`RecordAccumulator.ready`).
        let exhausted = self.waiting.is_some();
        if queue.batches.len() > 1 || head.is_full(self.config.batch_size) || exhausted {
            Some(head.created_at)
        } else {
            Some(head.created_at + self.config.linger)
        }
    }

    fn leader_of(&self, partition: u32) -> Option<BrokerId> {
        self.metadata
            .cluster
            .as_ref()?
            .leader(&self.topic, partition)
    }

    fn connectable(&self, now: Instant, broker: BrokerId) -> bool {
        self.connections.connectable(now, broker)
    }

    fn in_flight_to(&self, broker: BrokerId) -> u32 {
        self.in_flight
            .values()
            .filter(|f| f.broker == broker)
            .count() as u32
    }

    /// The sender (`Sender.sendProducerData`): a broker is ready when any partition it leads
    /// has a batch ready to go (`RecordAccumulator.ready`); a ready broker that can take a
    /// request gets one with the head batch of every partition it leads, ready or not
    /// (`drainBatchesForOneNode`: a batch still lingering rides along).
    fn drain(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if !self.rewrite.is_empty() {
            self.bump_epoch();
        }
        let mut ready: BTreeSet<BrokerId> = BTreeSet::new();
        for p in 0..self.queues.len() as u32 {
            let queue = &self.queues[p as usize];
            if queue.muted || self.ready_at(queue).is_none_or(|at| at > now) {
                continue;
            }
            match self.leader_of(p) {
                Some(b) => {
                    ready.insert(b);
                }
                // No leader: refresh metadata, no faster than retry.backoff.ms.
                None => self.metadata.refresh_by(now + self.config.retry_backoff),
            }
        }
        for broker in ready {
            if !self.connectable(now, broker) {
                continue;
            }
            if self.config.acks != Acks::Zero
                && self.in_flight_to(broker) >= self.config.max_in_flight
            {
                continue;
            }
            let partitions = self.drain_broker(now, broker);
            if !partitions.is_empty() {
                self.send_request(now, broker, &partitions, out);
            }
        }
    }

    /// `RecordAccumulator.drainBatchesForOneNode`: the partitions `broker` leads, from where
    /// its last drain stopped, each giving its head batch unless it is muted or backing off
    /// to retry; the request stops filling at `max.request.size` and at a partition that
    /// idempotence holds back (`shouldStopDrainBatchesForPartition`).
    fn drain_broker(&mut self, now: Instant, broker: BrokerId) -> Vec<u32> {
        let parts: Vec<u32> = (0..self.queues.len() as u32)
            .filter(|&p| self.leader_of(p) == Some(broker))
            .collect();
        if parts.is_empty() {
            return Vec::new();
        }
        let mut index = self.drain_index.get(&broker).copied().unwrap_or(0) % parts.len();
        let start = index;
        let mut taken = Vec::new();
        let mut bytes = 0u32;
        loop {
            let p = parts[index];
            // Kafka stores the index visited last, before moving on: a full pass leaves the
            // next drain one partition before this one's start.
            self.drain_index.insert(broker, index);
            index = (index + 1) % parts.len();
            let queue = &self.queues[p as usize];
            if let Some(head) = queue.batches.front().filter(|_| !queue.muted) {
                let backing_off = head.attempts > 0 && head.retry_at > now;
                if !backing_off {
                    if !taken.is_empty() && bytes + head.size_bytes > self.config.max_request_size {
                        break;
                    }
                    if self.config.idempotent && self.holds_back(p) {
                        break;
                    }
                    bytes += head.size_bytes;
                    taken.push(p);
                }
            }
            if index == start {
                break;
            }
        }
        taken
    }

    /// Kafka's `shouldStopDrainBatchesForPartition`: a new batch waits while an earlier
    /// sequence is unresolved or batches of an older epoch are in flight (it would start the
    /// new epoch at 0 before they land); a retry goes only as the partition's lowest
    /// sequence in flight (`firstInFlightSequence`), so the broker sees sequences in order.
    fn holds_back(&self, partition: u32) -> bool {
        let queue = &self.queues[partition as usize];
        let head = queue.batches.front().expect("a head batch");
        match head.sequence {
            None => {
                queue.unresolved
                    || (queue.live_in_flight() > 0 && queue.epoch != self.producer_epoch)
            }
            Some((_, sequence)) => self
                .in_flight
                .values()
                .flat_map(|f| f.batches.iter())
                .filter(|b| b.partition == partition && !b.expired)
                .any(|b| b.sequence.is_some_and(|(_, s)| s < sequence)),
        }
    }

    fn send_request(
        &mut self,
        now: Instant,
        broker: BrokerId,
        partitions: &[u32],
        out: &mut Vec<Effect>,
    ) {
        let mut batches = Vec::new();
        let mut wire = Vec::new();
        for &p in partitions {
            let mut batch = self.queues[p as usize].batches.pop_front().expect("head");
            if !batch.closed {
                // Sealed: give back the room reserved for a full batch. A batch that leaves by
                // `linger.ms` holds a few records in room for `batch.size`, and the logs of
                // every replica keep it: unshrunk, it was 2 KB per record held. Moved to an
                // exact allocation rather than shrunk in place: shrinking leaves a hole just
                // too small for the next batch's room, and wasm's allocator grew memory by a
                // hole per batch (1,350 bytes per record for 300 live).
                let records = Arc::make_mut(&mut batch.records);
                let mut exact = Vec::with_capacity(records.len());
                exact.append(records);
                *records = exact;
            }
            batch.closed = true;
            if self.config.idempotent && batch.sequence.is_none() {
                let epoch = self.producer_epoch;
                let queue = &mut self.queues[p as usize];
                if queue.epoch != epoch {
                    // `maybeUpdateProducerIdAndEpoch`: nothing of the older epoch is in flight
                    // (drain waited), so the partition starts the new one at sequence 0.
                    queue.epoch = epoch;
                    queue.next_sequence = 0;
                    queue.last_acked = None;
                }
                batch.sequence = Some((epoch, queue.next_sequence));
                let n = batch.records.len() as i32;
                queue.next_sequence = queue.next_sequence.wrapping_add(n) & i32::MAX;
            }
            batch.rewritten = false;
            self.queues[p as usize].in_flight += 1;
            if self.config.max_in_flight == 1 && self.config.acks != Acks::Zero {
                self.queues[p as usize].muted = true;
            }
            self.stats.batches += 1;
            let tp = TopicPartition {
                topic: self.topic.clone(),
                partition: p,
            };
            out.push(Effect::Trace(TraceKind::BatchSent {
                producer: self.index,
                broker,
                tp: tp.clone(),
                records: batch.records.len() as u32,
                attempt: batch.attempts,
            }));
            wire.push((tp, self.seal(&batch)));
            batches.push(batch);
        }
        let correlation_id = self.next_correlation();
        let request = ProduceRequest {
            correlation_id,
            acks: self.config.acks,
            timeout_ms: self.config.request_timeout.as_millis() as u32,
            partitions: wire,
        };
        self.stats.requests += 1;
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: Message::ProduceRequest(request),
        });
        if self.config.acks == Acks::Zero {
            // Fire and forget: the send counts as done the moment it leaves.
            for batch in batches {
                self.queues[batch.partition as usize].in_flight -= 1;
                self.complete(batch, None, out);
            }
            return;
        }
        let at = now + self.config.request_timeout;
        out.push(Effect::SetTimer {
            at,
            timer: Timer::RequestTimeout { correlation_id },
        });
        self.in_flight
            .insert(correlation_id, InFlight { broker, batches });
    }

    fn seal(&self, batch: &ProducerBatch) -> RecordBatch {
        RecordBatch::from(crate::record::BatchData {
            base_offset: crate::record::Offset(0),
            partition_leader_epoch: None,
            producer: batch.sequence.map(|(epoch, seq)| ProducerIdentity {
                producer_id: self.producer_id,
                producer_epoch: epoch,
                base_sequence: seq,
            }),
            is_transactional: false,
            is_control: false,
            size_bytes: batch.size_bytes,
            max_timestamp_ms: batch.max_timestamp_ms,
            records: batch.records.clone(),
        })
    }

    fn on_produce_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: ProduceResponse,
        out: &mut Vec<Effect>,
    ) {
        let Some(flight) = self.in_flight.remove(&response.correlation_id) else {
            return; // Already failed by a timeout or disconnect.
        };
        assert_eq!(from, NodeId::Broker(flight.broker));
        assert_eq!(flight.batches.len(), response.results.len());
        for (batch, result) in flight.batches.into_iter().zip(response.results) {
            assert_eq!(result.tp.partition, batch.partition);
            self.queues[batch.partition as usize].in_flight -= 1;
            self.queues[batch.partition as usize].muted = false;
            if batch.expired {
                self.settle_expired(batch, result.error == ErrorCode::None);
                continue;
            }
            match result.error {
                ErrorCode::None => self.complete(batch, result.base_offset, out),
                error => self.retry_or_fail(now, batch, error, out),
            }
        }
    }

    /// Fails every request in flight to `broker` (connection lost or request timed out).
    fn on_disconnect(
        &mut self,
        now: Instant,
        broker: BrokerId,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let ids: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.broker == broker)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let flight = self.in_flight.remove(&id).expect("present");
            for batch in flight.batches {
                self.queues[batch.partition as usize].in_flight -= 1;
                self.queues[batch.partition as usize].muted = false;
                if batch.expired {
                    self.settle_expired(batch, false);
                    continue;
                }
                self.retry_or_fail(now, batch, error, out);
            }
        }
        self.connections.refused(now, broker, &mut self.rng);
        self.request_metadata(now, out);
    }

    fn complete(
        &mut self,
        batch: ProducerBatch,
        base_offset: Option<crate::record::Offset>,
        out: &mut Vec<Effect>,
    ) {
        let records = batch.records.len() as u64;
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        self.sequence_acked(&batch);
        self.pool_used -= u64::from(batch.pool_bytes);
        self.stats.acked += records;
        out.push(Effect::Trace(TraceKind::BatchAcked {
            producer: self.index,
            tp: tp.clone(),
            base_offset,
            records: records as u32,
        }));
        out.push(Effect::Observe(Observation::Acked {
            producer: self.index,
            tp,
            base_offset,
            records: batch.records,
        }));
    }

    /// An appended batch's sequences are acknowledged (`handleCompletedBatch`).
    fn sequence_acked(&mut self, batch: &ProducerBatch) {
        let Some((epoch, first)) = batch.sequence else {
            return;
        };
        let queue = &mut self.queues[batch.partition as usize];
        if epoch == queue.epoch {
            let last = first.wrapping_add(batch.records.len() as i32 - 1) & i32::MAX;
            queue.last_acked = Some(queue.last_acked.map_or(last, |a| a.max(last)));
        }
        self.maybe_resolve(batch.partition);
    }

    /// The answer to a batch that `delivery.timeout.ms` failed while it was out: the
    /// application heard already, so only the sequences learn from it. Kafka's `Sender`
    /// logs a late success ("returned SUCCEEDED ... after batch ... had already been FAILED")
    /// and acknowledges its sequence; a late error changes nothing.
    fn settle_expired(&mut self, batch: ProducerBatch, appended: bool) {
        self.queues[batch.partition as usize].expired_in_flight -= 1;
        if appended {
            self.sequence_acked(&batch);
        } else if batch.sequence.is_some() {
            self.maybe_resolve(batch.partition);
        }
    }

    /// Back to the front of its queue, ahead of batches never sent, in sequence order
    /// among the others (`RecordAccumulator.reenqueue`, `insertInSequenceOrder`).
    fn reenqueue(&mut self, batch: ProducerBatch) {
        let queue = &mut self.queues[batch.partition as usize];
        let at = queue
            .batches
            .iter()
            .position(|b| {
                let unsent = b.attempts == 0 && !b.split;
                unsent || b.sequence.map(|s| s.1) > batch.sequence.map(|s| s.1)
            })
            .unwrap_or(queue.batches.len());
        queue.batches.insert(at, batch);
    }

    /// MESSAGE_TOO_LARGE for a batch of several records (`Sender.completeBatch` →
    /// `RecordAccumulator.splitAndReenqueue`): its records go again in batches of at most
    /// `batch.size` (`ProducerBatch.split`), as if never tried, with the original creation
    /// time and consecutive pieces of its sequence range; no retry is counted. Kafka 4.0
    /// splits by `batch.size` even when the batch already fit in it, so when the topic's
    /// `max.message.bytes` is below `batch.size` the same batch goes again and again until
    /// `delivery.timeout.ms` (KAFKA-8202; later versions halve it instead).
    fn split_and_reenqueue(&mut self, batch: ProducerBatch, out: &mut Vec<Effect>) {
        let batch_size = self.config.batch_size;
        let mut pieces: Vec<ProducerBatch> = Vec::new();
        let mut sequence = batch.sequence;
        for record in batch.records.iter() {
            if let Some(last) = pieces.last_mut() {
                if let Some(size) = last.room_for(record, batch_size) {
                    last.push(record.clone(), size);
                    continue;
                }
            }
            if let (Some(last), Some((epoch, seq))) = (pieces.last(), sequence) {
                let next = seq.wrapping_add(last.records.len() as i32) & i32::MAX;
                sequence = Some((epoch, next));
            }
            let open = ProducerBatch::open(
                batch.partition,
                record.clone(),
                batch.created_at,
                batch_size,
            );
            pieces.push(ProducerBatch {
                closed: true,
                sequence,
                rewritten: batch.rewritten,
                split: true,
                pool_bytes: 0,
                ..open
            });
        }
        out.push(Effect::Trace(TraceKind::BatchSplit {
            producer: self.index,
            tp: TopicPartition {
                topic: self.topic.clone(),
                partition: batch.partition,
            },
            records: batch.records.len() as u32,
            batches: pieces.len() as u32,
        }));
        self.pool_used -= u64::from(batch.pool_bytes);
        for piece in pieces {
            self.reenqueue(piece);
        }
    }

    fn retry_or_fail(
        &mut self,
        now: Instant,
        mut batch: ProducerBatch,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        if error == ErrorCode::MessageTooLarge && batch.records.len() > 1 {
            return self.split_and_reenqueue(batch, out);
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        if error.invalidates_metadata() {
            self.request_metadata(now, out);
        }
        let retriable = error.is_retriable()
            || (error == ErrorCode::OutOfOrderSequenceNumber
                && self.sequence_error_retriable(&batch));
        let in_time = now < batch.created_at + self.config.delivery_timeout;
        if retriable && batch.attempts < self.config.retries && in_time {
            batch.attempts += 1;
            let backoff = exponential(
                self.config.retry_backoff,
                self.config.retry_backoff_max,
                batch.attempts,
                &mut self.rng,
            );
            batch.retry_at = now + backoff;
            self.stats.retries += 1;
            out.push(Effect::Trace(TraceKind::BatchRetrying {
                producer: self.index,
                tp,
                error,
                attempt: batch.attempts,
            }));
            self.reenqueue(batch);
            return;
        }
        // Refused, out of retries, or out of time (`canRetry`): the application hears the
        // broker's error, not a timeout. Its sequences must not leave a gap (Kafka adjusts only
        // when retries were not exhausted: otherwise a retry may have landed).
        let adjust = batch.attempts < self.config.retries;
        self.fail(batch, error, adjust, out);
    }

    /// Kafka's `TransactionManager.canRetry` for OUT_OF_ORDER_SEQUENCE_NUMBER: a batch that is
    /// not the next expected one follows a batch that failed or is being retried, so it is
    /// retried as it is; the next expected one refused means the broker lost our sequence,
    /// and the partition starts over in a new epoch (retried then).
    fn sequence_error_retriable(&mut self, batch: &ProducerBatch) -> bool {
        let Some((_, sequence)) = batch.sequence.filter(|_| self.config.idempotent) else {
            return false;
        };
        let queue = &self.queues[batch.partition as usize];
        let next = queue.is_next(sequence);
        if !queue.unresolved && (batch.rewritten || !next) {
            return true;
        }
        if !queue.unresolved || next {
            self.rewrite.insert(batch.partition);
        }
        true
    }

    /// A batch reached `delivery.timeout.ms`: it fails. If it had been sent before (a retry),
    /// whether it was appended is unknown until the partition's later batches answer (Kafka
    /// marks its sequence unresolved rather than reusing it; a first attempt does not).
    fn expire(&mut self, batch: ProducerBatch, out: &mut Vec<Effect>) {
        let partition = batch.partition;
        let retried = self.config.idempotent && batch.sequence.is_some() && batch.attempts > 0;
        self.fail(batch, ErrorCode::DeliveryTimeout, false, out);
        if retried {
            self.queues[partition as usize].unresolved = true;
            self.maybe_resolve(partition);
        }
    }

    /// `maybeResolveSequences`: once nothing of the partition is in flight or waiting to be
    /// retried, an expired batch was appended if the acknowledged sequences reach the next
    /// one; if not, the partition starts over in a new epoch.
    fn maybe_resolve(&mut self, partition: u32) {
        let queue = &mut self.queues[partition as usize];
        let retrying = queue.batches.iter().any(|b| b.sequence.is_some());
        if !queue.unresolved || queue.live_in_flight() > 0 || retrying {
            return;
        }
        queue.unresolved = false;
        if !queue.is_next(queue.next_sequence) {
            self.rewrite.insert(partition);
        }
    }

    /// `bumpIdempotentProducerEpoch`: a new epoch, and the partitions that asked for it
    /// number their unfinished batches from 0 in it. Other partitions move to it with their
    /// next new batch, once nothing of the older epoch is in flight there.
    fn bump_epoch(&mut self) {
        self.producer_epoch = self.producer_epoch.wrapping_add(1);
        let epoch = self.producer_epoch;
        for p in std::mem::take(&mut self.rewrite) {
            let mut unfinished: Vec<&mut ProducerBatch> = self
                .in_flight
                .values_mut()
                .flat_map(|f| f.batches.iter_mut())
                .chain(self.queues[p as usize].batches.iter_mut())
                .filter(|b| b.partition == p && b.sequence.is_some())
                .collect();
            unfinished.sort_by_key(|b| b.sequence.map(|s| s.1));
            let mut next = 0i32;
            for b in unfinished {
                b.sequence = Some((epoch, next));
                b.rewritten = true;
                next = next.wrapping_add(b.records.len() as i32) & i32::MAX;
                self.rewritten.extend(b.records.iter().map(|r| r.id.seq));
            }
            let queue = &mut self.queues[p as usize];
            queue.epoch = epoch;
            queue.next_sequence = next;
            queue.last_acked = None;
            queue.unresolved = false;
        }
    }

    fn fail(
        &mut self,
        batch: ProducerBatch,
        error: ErrorCode,
        adjust: bool,
        out: &mut Vec<Effect>,
    ) {
        let records = batch.records.len() as u64;
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        self.stats.failed += records;
        // `maybeRemoveAndDeallocateBatch`: the buffer goes back now, even for a batch whose
        // request is still out (an in-flight expiry).
        self.pool_used -= u64::from(batch.pool_bytes);
        out.push(Effect::Trace(TraceKind::BatchFailed {
            producer: self.index,
            tp,
            records: records as u32,
            error,
        }));
        // `handleFailedBatch`: a refused batch leaves a gap in its partition's sequences,
        // which a new epoch closes; only that partition's sequences are rewritten.
        let refused = error == ErrorCode::OutOfOrderSequenceNumber || adjust;
        if self.config.idempotent && batch.sequence.is_some() && refused {
            self.rewrite.insert(batch.partition);
        }
        out.push(Effect::Observe(Observation::Failed {
            producer: self.index,
            records: batch.records,
            error,
        }));
    }

    /// Batches waiting longer than `delivery.timeout.ms` fail (Kafka's `TimeoutException`).
    fn expire_batches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let deadline = self.config.delivery_timeout;
        let mut expired = Vec::new();
        for queue in &mut self.queues {
            while let Some(i) = queue
                .batches
                .iter()
                .position(|b| now >= b.created_at + deadline)
            {
                let batch = queue.batches.remove(i).expect("index valid");
                expired.push(batch);
            }
        }
        for batch in expired {
            self.expire(batch, out);
        }
        // Batches out on the wire expire too (`Sender.getExpiredInflightBatches`): the
        // application hears at the deadline, not a request timeout later.
        let mut expired = Vec::new();
        for flight in self.in_flight.values_mut() {
            for b in flight.batches.iter_mut() {
                if !b.expired && now >= b.created_at + deadline {
                    b.expired = true;
                    self.queues[b.partition as usize].expired_in_flight += 1;
                    expired.push(b.clone());
                }
            }
        }
        for batch in expired {
            self.expire(batch, out);
        }
    }

    /// Sets a wake-up timer for the next moment something can happen without a message.
    fn schedule_wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut next = Instant::MAX;
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
        if next == Instant::MAX {
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

/// The producer's MetadataRequest: its topic, which a broker may create (Kafka's producer
/// always lets it).
fn metadata_request(topic: &Arc<str>) -> impl Fn(u32) -> Message + '_ {
    move |correlation_id| Message::MetadataRequest {
        correlation_id,
        topics: vec![topic.clone()],
        allow_auto_create: true,
    }
}

/// Which partitions have a leader, from the producer's metadata.
fn available(metadata: Option<&ClusterMetadata>, topic: &str) -> Vec<bool> {
    let metadata = metadata.expect("partitioning happens after metadata arrived");
    metadata.topics[topic]
        .partitions
        .iter()
        .map(|p| p.leader.is_some())
        .collect()
}

/// Queue lengths per partition for adaptive partitioning (all equal when it is off), and which
/// partitions are available. Only needed when the sticky partitioner chooses a partition.
fn load_stats(
    queues: &[PartitionQueue],
    adaptive: bool,
    metadata: Option<&ClusterMetadata>,
    topic: &str,
) -> (Vec<u32>, Vec<bool>) {
    let sizes = if adaptive {
        queues.iter().map(|q| q.batches.len() as u32).collect()
    } else {
        vec![0; queues.len()]
    };
    (sizes, available(metadata, topic))
}

#[cfg(test)]
mod tests {
    //! Kafka's `RecordAccumulatorTest` cases, seen from outside the accumulator: records go in
    //! by hand to chosen partitions, the clock moves by hand, and the produce requests the
    //! producer sends are read back. Kafka calls `ready()` and `drain()` itself; here the
    //! producer's sender does on every wake, so "ready and drained" is "a request went out".
    use super::*;
    use crate::config::{ConfigValue, Scope};
    use crate::metadata::{BrokerRegistration, TopicConfig, TopicMetadata};
    use crate::protocol::PartitionProduceResult;
    use crate::record::Offset;
    use crate::trace::ids;

    /// What one produce request carried: its broker, and (partition, records) per batch.
    type Drained = Vec<(u32, Vec<(u32, usize)>)>;

    struct Accumulator {
        p: Producer,
        now: Instant,
        out: Vec<Effect>,
    }

    impl Accumulator {
        /// A producer on topic `t`, partition `p` led by `leaders[p]`, with these settings.
        fn new(leaders: &[u32], cfg: &[(&str, i64)]) -> Accumulator {
            let pairs: Vec<(String, ConfigValue)> = cfg
                .iter()
                .map(|(k, v)| (k.to_string(), ConfigValue::Int(*v)))
                .collect();
            let spec = ProducerSpec {
                name: "p".into(),
                topic: "t".into(),
                rate_per_sec: 0,
                max_records: None,
                keys: KeyMode::Null,
                value_bytes: 0,
                configs: Configs::parse(Scope::Producer, &pairs).expect("valid settings"),
            };
            let mut brokers: Vec<BrokerId> = ids(leaders);
            brokers.sort();
            brokers.dedup();
            let mut p = Producer::new(0, spec, Prng::new(1), brokers.clone(), Instant::ZERO)
                .expect("producer");
            let broker = Configs::new(Scope::Broker);
            let config = TopicConfig::resolve(&Configs::new(Scope::Topic), &broker);
            let assignment = leaders.iter().map(|&l| vec![BrokerId(l)]).collect();
            let metadata = ClusterMetadata {
                version: 1,
                brokers: brokers
                    .iter()
                    .map(|&id| BrokerRegistration { id, fenced: false })
                    .collect(),
                controller: BrokerId(0),
                topics: [(
                    Arc::from("t"),
                    TopicMetadata::created(Arc::from("t"), assignment, config),
                )]
                .into_iter()
                .collect(),
            };
            let msg = Message::MetadataResponse {
                correlation_id: 0,
                metadata: Arc::new(metadata),
            };
            let mut out = Vec::new();
            p.start(Instant::ZERO, &mut out);
            let from = NodeId::Broker(brokers[0]);
            p.handle(Instant::ZERO, Input::Message { from, msg }, &mut out);
            Accumulator {
                p,
                now: Instant::ZERO,
                out: Vec::new(),
            }
        }

        /// `accum.append(tp, ...)`, `n` times, records of `value_bytes`.
        fn append(&mut self, partition: u32, n: usize, value_bytes: usize) {
            for _ in 0..n {
                let record = ManualRecord {
                    key: None,
                    value: Some(Arc::from(vec![b'v'; value_bytes])),
                    headers: vec![],
                    partition: Some(partition),
                };
                self.p.produce_one(self.now, record, &mut self.out);
            }
        }

        /// `time.sleep(ms)`: the producer wakes then.
        fn sleep(&mut self, ms: u64) {
            self.now = self.now + Duration::from_millis(ms);
            self.p
                .handle(self.now, Input::Timer(Timer::Wake), &mut self.out);
        }

        /// The produce requests sent since the last call.
        fn drained(&mut self) -> Drained {
            self.requests()
                .into_iter()
                .map(|(broker, r)| {
                    let batches = r
                        .partitions
                        .iter()
                        .map(|(tp, b)| (tp.partition, b.records.len()))
                        .collect();
                    (broker, batches)
                })
                .collect()
        }

        fn requests(&mut self) -> Vec<(u32, ProduceRequest)> {
            std::mem::take(&mut self.out)
                .into_iter()
                .filter_map(|e| match e {
                    Effect::Send {
                        to: NodeId::Broker(b),
                        msg: Message::ProduceRequest(r),
                    } => Some((b.0, r)),
                    _ => None,
                })
                .collect()
        }

        /// The broker answers a request with `error` for every batch.
        fn answer(&mut self, broker: u32, request: &ProduceRequest, error: ErrorCode) {
            let results = request
                .partitions
                .iter()
                .map(|(tp, _)| PartitionProduceResult {
                    tp: tp.clone(),
                    error,
                    base_offset: (error == ErrorCode::None).then_some(Offset(0)),
                })
                .collect();
            let msg = Message::ProduceResponse(ProduceResponse {
                correlation_id: request.correlation_id,
                results,
            });
            let from = NodeId::Broker(BrokerId(broker));
            self.p
                .handle(self.now, Input::Message { from, msg }, &mut self.out);
        }
    }

    /// Records of 100 bytes of value and no key, as appended here: 109 bytes each in a batch,
    /// so a batch of 1,024 + 61 (`RECORD_BATCH_OVERHEAD`) bytes holds nine (1,042 bytes).
    const VALUE: usize = 100;
    /// Kafka's `expectedNumAppends`: how many such records a batch of 1,024 + 61 holds.
    const APPENDS: usize = 9;

    /// RecordAccumulatorTest.testLinger
    #[test]
    fn linger() {
        let mut a = Accumulator::new(&[1], &[("linger.ms", 10), ("batch.size", 1024 + 61)]);
        a.append(0, 1, VALUE);
        assert_eq!(
            a.drained(),
            vec![],
            "no partition is ready before linger.ms"
        );
        a.sleep(10);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(0, 1)])],
            "our partition's leader is ready"
        );
    }

    /// RecordAccumulatorTest.testFull: a batch goes without waiting for linger.ms once it
    /// is full, and not before.
    #[test]
    fn full() {
        let batch_size = 1024 + 61;
        let mut a = Accumulator::new(&[1], &[("linger.ms", 60_000), ("batch.size", batch_size)]);
        a.append(0, APPENDS, VALUE);
        assert_eq!(a.drained(), vec![], "not full yet");
        a.append(0, 1, VALUE);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(0, APPENDS)])],
            "the record that did not fit closed the batch, which goes at once"
        );
    }

    /// RecordAccumulatorTest.testPartialDrain: two full batches for one broker, and a request
    /// limit (`max.request.size`) one batch fits: only one partition goes in the request.
    #[test]
    fn partial_drain() {
        let cfg = [
            ("linger.ms", 10),
            ("batch.size", 1024 + 61),
            ("max.request.size", 1024 + 61),
        ];
        let mut a = Accumulator::new(&[1, 1], &cfg);
        a.append(0, APPENDS + 1, VALUE);
        a.append(1, APPENDS + 1, VALUE);
        let drained = a.drained();
        assert_eq!(drained.len(), 2, "{drained:?}");
        assert!(
            drained.iter().all(|(_, batches)| batches.len() == 1),
            "due to the size bound each request holds one partition: {drained:?}"
        );
    }

    /// RecordAccumulatorTest.testNextReadyCheckDelay, told by what goes out: broker 1 leads
    /// t-0 and t-1, broker 2 leads t-2. t-0 lingers; once t-1 fills, broker 1 is ready and its
    /// request carries t-0's lingering batch too (`drainBatchesForOneNode`); t-2, alone on
    /// broker 2, waits for its own linger.ms.
    #[test]
    fn next_ready_check_delay() {
        let mut a = Accumulator::new(&[1, 1, 2], &[("linger.ms", 10), ("batch.size", 1025 + 61)]);
        a.append(0, APPENDS, VALUE);
        assert_eq!(a.drained(), vec![], "just short of full: it lingers");
        a.sleep(5);
        a.append(2, APPENDS, VALUE);
        assert_eq!(a.drained(), vec![]);
        a.append(1, APPENDS + 1, VALUE);
        assert_eq!(a.drained(), vec![(1, vec![(0, APPENDS), (1, APPENDS)])]);
        a.sleep(4);
        assert_eq!(a.drained(), vec![], "t-2 lingers on");
        a.sleep(6);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(1, 1)]), (2, vec![(2, APPENDS)])],
            "t-2's linger.ms ends, and so does that of t-1's record that did not fit"
        );
    }

    /// RecordAccumulatorTest.testRetryBackoff: a batch sent back for a retry waits
    /// retry.backoff.ms, and does not hold back another partition of its broker.
    #[test]
    fn retry_backoff() {
        let cfg = [
            ("linger.ms", 0),
            ("retry.backoff.ms", 1_000),
            ("retry.backoff.max.ms", 1_000),
        ];
        let mut a = Accumulator::new(&[1, 1], &cfg);
        a.append(0, 1, VALUE);
        let sent = a.requests();
        assert_eq!(sent.len(), 1);
        a.answer(1, &sent[0].1, ErrorCode::NotLeaderOrFollower);
        a.append(1, 1, VALUE);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(1, 1)])],
            "t-0 backs off while t-1 goes"
        );
        a.sleep(1_200);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(0, 1)])],
            "t-0 goes after its backoff"
        );
    }

    /// RecordAccumulatorTest.testMutedPartitions: with max.in.flight.requests.per.connection 1
    /// a partition with a batch out sends nothing more until it is answered.
    #[test]
    fn muted_partitions() {
        let cfg = [
            ("linger.ms", 0),
            ("max.in.flight.requests.per.connection", 1),
        ];
        let mut a = Accumulator::new(&[1], &cfg);
        a.append(0, 1, VALUE);
        let sent = a.requests();
        assert_eq!(sent.len(), 1);
        a.append(0, 1, VALUE);
        a.sleep(50);
        assert_eq!(a.drained(), vec![], "muted while its batch is out");
        a.answer(1, &sent[0].1, ErrorCode::None);
        assert_eq!(
            a.drained(),
            vec![(1, vec![(0, 1)])],
            "unmuted by the answer"
        );
    }
}
