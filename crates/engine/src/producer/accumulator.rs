//! The record accumulator (Kafka's `RecordAccumulator`): where a record goes (explicit
//! partition, key hash, or the KIP-794 sticky partitioner), the batches per partition
//! (`batch.size`, `linger.ms`, the `buffer.memory` pool), and which batches are ready and
//! drained into one request per broker (`drainBatchesForOneNode`).

use super::*;
use crate::compression::{Codec, RatioEstimate, Values};

/// A batch in the accumulator or in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ProducerBatch {
    pub(super) partition: u32,
    pub(super) records: Arc<Vec<Record>>,
    pub(super) size_bytes: u32,
    pub(super) first_timestamp_ms: i64,
    pub(super) max_timestamp_ms: i64,
    pub(super) created_at: Instant,
    /// No more records go in (one did not fit, or it was sent).
    pub(super) closed: bool,
    pub(super) attempts: u32,
    pub(super) retry_at: Instant,
    /// Epoch and base sequence, once assigned (idempotence). A batch keeps them on every
    /// retry: its first attempt may have been appended, and only the same sequence lets the
    /// broker recognise the retry (`RecordAccumulator.drainBatchesForOneNode`).
    pub(super) sequence: Option<(i16, i32)>,
    /// Its sequence was rewritten by an epoch bump since it was last sent.
    pub(super) rewritten: bool,
    /// Failed by `delivery.timeout.ms` while its request was still out (Kafka's `isDone()`
    /// batch in `Sender.getExpiredInflightBatches`): the request keeps its place on the
    /// connection until it is answered or times out, and its answer only settles sequences.
    pub(super) expired: bool,
    /// Made by splitting a batch the broker found too large: its memory is not from the
    /// `buffer.memory` pool (`ProducerBatch.split` allocates outside it).
    pub(super) split: bool,
    /// What it holds of `buffer.memory` until it completes: `max(batch.size, its first
    /// record)`, as `RecordAccumulator.append` allocates (0 for a split batch).
    pub(super) pool_bytes: u32,
}

impl ProducerBatch {
    /// A batch opened by `record` (`RecordAccumulator.appendNewBatch`), holding
    /// `max(batch.size, record)` of `buffer.memory`.
    pub(super) fn open(
        partition: u32,
        record: Record,
        created_at: Instant,
        batch_size: u32,
    ) -> ProducerBatch {
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

    /// What `record` adds to this batch if it still fits in `batch.size`
    /// (`MemoryRecordsBuilder.hasRoomFor`: the batch so far at its estimated compressed size,
    /// plus the record uncompressed).
    pub(super) fn room_for(&self, record: &Record, fit: Fit) -> Option<u32> {
        let delta = self.records.len() as u32;
        let size = record_size(delta, record.timestamp_ms - self.first_timestamp_ms, record);
        (fit.estimated(self.size_bytes) + size <= fit.batch_size).then_some(size)
    }

    /// Adds `record`, of `size` bytes here (from `room_for`).
    pub(super) fn push(&mut self, record: Record, size: u32) {
        self.size_bytes += size;
        self.max_timestamp_ms = self.max_timestamp_ms.max(record.timestamp_ms);
        // Copy-on-write: a cloned simulation (a checkpoint or fork) may share this batch.
        Arc::make_mut(&mut self.records).push(record);
    }

    /// Kafka's `MemoryRecordsBuilder.isFull`: closed (a record did not fit, or it was sent)
    /// or at `batch.size`. Not a guess at the next record: a batch with room for less than
    /// one more waits for that record, which closes it, or for `linger.ms`.
    fn is_full(&self, fit: Fit) -> bool {
        self.closed || fit.estimated(self.size_bytes) >= fit.batch_size
    }

    /// Its size compressed (`size_bytes` is the uncompressed size, which the producer knows
    /// as it appends): what the request carries and the log stores.
    pub(super) fn wire_bytes(&self, codec: Codec, values: Values) -> u32 {
        match codec {
            Codec::None => self.size_bytes,
            _ => BATCH_OVERHEAD + codec.compressed(values, self.size_bytes - BATCH_OVERHEAD),
        }
    }
}

/// How full a batch may get: `batch.size` against the estimated compressed size
/// (`MemoryRecordsBuilder.estimatedBytesWritten`: exact without compression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fit {
    pub(super) batch_size: u32,
    pub(super) codec: Codec,
    pub(super) ratio: RatioEstimate,
}

impl Fit {
    fn estimated(self, size_bytes: u32) -> u32 {
        let records = size_bytes.saturating_sub(BATCH_OVERHEAD);
        BATCH_OVERHEAD + self.ratio.estimate(self.codec, records)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PartitionQueue {
    pub(super) batches: VecDeque<ProducerBatch>,
    pub(super) in_flight: u32,
    /// Of those, batches already failed by `delivery.timeout.ms` (see `ProducerBatch::expired`):
    /// the idempotence bookkeeping no longer waits for them, as Kafka's `handleFailedBatch`
    /// removes them from the in-flight batches it tracks.
    pub(super) expired_in_flight: u32,
    /// Idempotence per partition (Kafka's `TxnPartitionEntry`): the epoch its sequences
    /// belong to, the next sequence, the last acknowledged one.
    pub(super) epoch: i16,
    pub(super) next_sequence: i32,
    pub(super) last_acked: Option<i32>,
    /// A batch that had been sent expired: whether it was appended is unknown until the
    /// batches after it answer (`partitionsWithUnresolvedSequences`).
    pub(super) unresolved: bool,
    /// With `max.in.flight.requests.per.connection` 1, a partition whose batch is out sends
    /// nothing more until it is answered, even to a new leader (`guaranteeMessageOrder`).
    pub(super) muted: bool,
}

impl PartitionQueue {
    /// Batches in flight whose outcome still matters (`TransactionManager.hasInflightBatches`).
    pub(super) fn live_in_flight(&self) -> u32 {
        self.in_flight - self.expired_in_flight
    }

    /// Whether `sequence` is the one after the last acknowledged (`isNextSequence`).
    pub(super) fn is_next(&self, sequence: i32) -> bool {
        sequence == self.last_acked.map_or(0, |a| a.wrapping_add(1) & i32::MAX)
    }
}

impl Producer {
    /// The `buffer.memory` a record needs from the pool: none if it fits the open batch of the
    /// partition it goes to, else a new batch's buffer, `max(batch.size, the record)`
    /// (`RecordAccumulator.append`). Worked out without choosing: a round-robin counter or a
    /// sticky choice moves only when the record is really sent.
    pub(super) fn memory_needed(&self, record: &Record, explicit: Option<u32>) -> u64 {
        let partition = self
            .placement(record, explicit)
            .or_else(|| self.sticky.current());
        let fits = partition.is_some_and(|p| {
            self.queues[p as usize]
                .batches
                .back()
                .is_some_and(|last| !last.closed && last.room_for(record, self.fit()).is_some())
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

    fn available(&self) -> Vec<bool> {
        available(self.metadata.cluster.as_deref(), &self.topic)
    }

    /// How full its batches may get now.
    pub(super) fn fit(&self) -> Fit {
        Fit {
            batch_size: self.config.batch_size,
            codec: self.config.compression,
            ratio: self.ratio,
        }
    }

    /// `KafkaProducer.send`: partition, then append to the accumulator.
    pub(super) fn send(&mut self, now: Instant, record: Record, explicit: Option<u32>) {
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
        queue.batches.back().is_none_or(|b| b.is_full(self.fit()))
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
        // What the record added to the batch's estimated size (`appendedBytes`).
        let size = self.ratio.estimate(self.config.compression, size);
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
        let fit = self.fit();
        let queue = &mut self.queues[partition as usize];
        if let Some(last) = queue.batches.back_mut().filter(|b| !b.closed) {
            if let Some(size) = last.room_for(&record, fit) {
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
    pub(super) fn ready_at(&self, queue: &PartitionQueue) -> Option<Instant> {
        let head = queue.batches.front()?;
        if head.attempts > 0 {
            return Some(head.retry_at);
        }
        // Someone waits for pool memory: every batch may go (`RecordAccumulator.ready`).
        let exhausted = self.waiting.is_some();
        if queue.batches.len() > 1 || head.is_full(self.fit()) || exhausted {
            Some(head.created_at)
        } else {
            Some(head.created_at + self.config.linger)
        }
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
    pub(super) fn drain(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if !self.rewrite.is_empty() {
            self.bump_epoch();
        }
        let mut ready: BTreeSet<BrokerId> = BTreeSet::new();
        for p in 0..self.queues.len() as u32 {
            let queue = &self.queues[p as usize];
            if queue.muted || self.ready_at(queue).is_none_or(|at| at > now) || self.txn_holds(p) {
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
            // The sender loop does not wait between requests while a batch is ready: it
            // sends one request after another to a ready broker until
            // `max.in.flight.requests.per.connection` are out (`Sender.runOnce`, whose poll
            // returns at once while `nextReadyCheckDelayMs` is 0).
            loop {
                if !self.connectable(now, broker) {
                    break;
                }
                if self.config.acks != Acks::Zero
                    && self.in_flight_to(broker) >= self.config.max_in_flight
                {
                    break;
                }
                let partitions = self.drain_broker(now, broker);
                if partitions.is_empty() {
                    break;
                }
                self.send_request(now, broker, &partitions, out);
                if !self.broker_ready(now, broker) {
                    break;
                }
            }
        }
    }

    /// Whether a partition `broker` leads has a batch ready to go now.
    fn broker_ready(&self, now: Instant, broker: BrokerId) -> bool {
        (0..self.queues.len() as u32).any(|p| {
            let queue = &self.queues[p as usize];
            !queue.muted
                && self.ready_at(queue).is_some_and(|at| at <= now)
                && !self.txn_holds(p)
                && self.leader_of(p) == Some(broker)
        })
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
                    let size = head.wire_bytes(self.config.compression, self.spec.values);
                    if !taken.is_empty() && bytes + size > self.config.max_request_size {
                        break;
                    }
                    if self.config.idempotent && self.holds_back(p) {
                        break;
                    }
                    // `shouldStopDrainBatchesForPartition`: not yet in the transaction.
                    if self.txn_holds(p) {
                        break;
                    }
                    bytes += size;
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

    /// Answers the idempotent producer's InitProducerId (if it asked): batches may drain.
    fn answer_producer_id(p: &mut Producer, from: NodeId, out: &mut Vec<Effect>) {
        let asked = out.iter().find_map(|e| match e {
            Effect::Send {
                msg: Message::InitProducerId { correlation_id, .. },
                ..
            } => Some(*correlation_id),
            _ => None,
        });
        if let Some(correlation_id) = asked {
            let msg = Message::InitProducerIdResponse {
                correlation_id,
                error: crate::protocol::ErrorCode::None,
                producer: crate::protocol::ProducerIdAndEpoch {
                    producer_id: crate::record::ProducerId(1),
                    epoch: 0,
                },
            };
            p.handle(Instant::ZERO, Input::Message { from, msg }, out);
        }
    }

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
                processor: None,
                name: "p".into(),
                topic: "t".into(),
                rate_per_sec: 0,
                max_records: None,
                keys: KeyMode::Null,
                value_bytes: 0,
                values: Default::default(),
                records_per_transaction: 100,
                abort_ppm: 0,
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
            answer_producer_id(&mut p, from, &mut out);
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
                    source: None,
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
