//! A broker: hosts partition replicas, appends produced batches as leader, serves fetches
//! (long-polling with `fetch.min.bytes`/`fetch.max.wait.ms`), answers metadata and offsets,
//! and applies retention to its logs.
//!
//! It decides only from its own state and the message in hand; metadata arrives from the
//! controller as a whole new copy.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::config::Configs;
use crate::log::{PartitionLog, SegmentPolicy};
use crate::metadata::{ClusterMetadata, TopicConfig};
use crate::node::{Effect, Input, Timer};
use crate::protocol::{
    Acks, ErrorCode, FetchRequest, FetchResponse, FetchedPartition, ListOffsetsRequest,
    ListOffsetsResponse, Message, OffsetSpec, PartitionProduceResult, ProduceRequest,
    ProduceResponse,
};
use crate::record::{Offset, RecordBatch, TopicPartition};
use crate::time::{Duration, Instant};
use crate::trace::{NodeId, TraceKind};

/// How many batches of each producer a leader remembers for duplicate detection (§2.3).
const PRODUCER_BATCHES_RETAINED: usize = 5;

/// What a leader remembers of one idempotent producer on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerStateEntry {
    epoch: i16,
    /// (first sequence, last sequence, base offset) of the newest batches.
    batches: VecDeque<(i32, i32, Offset)>,
}

/// Outcome of the idempotence check.
enum SequenceCheck {
    Append,
    Duplicate(Offset),
    Reject(ErrorCode),
}

/// One replica of one partition on this broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub log: PartitionLog,
    pub high_watermark: Offset,
    pub leader_epoch: u32,
    pub is_leader: bool,
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
    pub config: TopicConfig,
    producers: BTreeMap<i64, ProducerStateEntry>,
}

impl Replica {
    fn check_sequence(&self, batch: &RecordBatch) -> SequenceCheck {
        let (Some(identity), Some(last_seq)) = (batch.producer, batch.last_sequence()) else {
            return SequenceCheck::Append;
        };
        let Some(entry) = self.producers.get(&identity.producer_id) else {
            // No state (new producer, or its data was removed): any sequence is accepted.
            return SequenceCheck::Append;
        };
        if identity.producer_epoch == entry.epoch {
            let first = identity.base_sequence;
            if let Some(&(_, _, offset)) = entry
                .batches
                .iter()
                .find(|(f, l, _)| *f == first && *l == last_seq)
            {
                return SequenceCheck::Duplicate(offset);
            }
        }
        if identity.producer_epoch < entry.epoch {
            return SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch);
        }
        let expected = if identity.producer_epoch > entry.epoch {
            0
        } else {
            entry
                .batches
                .back()
                .map_or(0, |&(_, last, _)| last.wrapping_add(1) & i32::MAX)
        };
        if identity.base_sequence == expected {
            SequenceCheck::Append
        } else {
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
        }
    }

    fn remember_batch(&mut self, batch: &RecordBatch) {
        let (Some(identity), Some(last_seq)) = (batch.producer, batch.last_sequence()) else {
            return;
        };
        let entry = self
            .producers
            .entry(identity.producer_id)
            .or_insert(ProducerStateEntry {
                epoch: identity.producer_epoch,
                batches: VecDeque::new(),
            });
        if identity.producer_epoch != entry.epoch {
            entry.epoch = identity.producer_epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == PRODUCER_BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        entry
            .batches
            .push_back((identity.base_sequence, last_seq, batch.base_offset));
    }

    /// `min(min.insync.replicas, replication factor)`.
    fn effective_min_isr(&self) -> usize {
        (self.config.min_insync_replicas as usize).min(self.replicas.len())
    }

    /// The leader's high watermark rule (§3.2), for the replicas this broker knows the LEO of.
    /// With a single replica the HW follows the log end offset.
    fn next_high_watermark(&self) -> Offset {
        if self.isr.len() < self.effective_min_isr() {
            return self.high_watermark;
        }
        self.log.log_end().max(self.high_watermark)
    }
}

/// A fetch waiting for `fetch.min.bytes` or `fetch.max.wait.ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ParkedFetch {
    from: NodeId,
    request: FetchRequest,
}

/// An acks=all produce waiting for the high watermark to pass its records.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DelayedProduce {
    from: NodeId,
    correlation_id: u32,
    results: Vec<PartitionProduceResult>,
    /// (index into results, offset the HW must reach).
    waiting: Vec<(usize, Offset)>,
}

/// A broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub id: u32,
    metadata: Arc<ClusterMetadata>,
    replicas: BTreeMap<TopicPartition, Replica>,
    parked_fetches: BTreeMap<u64, ParkedFetch>,
    delayed_produces: BTreeMap<u64, DelayedProduce>,
    next_request_id: u64,
    retention_check: Duration,
}

impl Broker {
    pub fn new(id: u32, metadata: Arc<ClusterMetadata>, configs: &Configs) -> Broker {
        let check_ms = configs.int("log.retention.check.interval.ms") as u64;
        Broker {
            id,
            metadata,
            replicas: BTreeMap::new(),
            parked_fetches: BTreeMap::new(),
            delayed_produces: BTreeMap::new(),
            next_request_id: 0,
            retention_check: Duration::from_millis(check_ms),
        }
    }

    /// Called when the broker process starts (first time or after a crash).
    pub fn start(&mut self, now: Instant, out: &mut Vec<Effect>) {
        out.push(Effect::SetTimer {
            at: now + self.retention_check,
            timer: Timer::RetentionCheck,
        });
    }

    /// The process died: requests held in memory are gone; logs on disk survive.
    pub fn crash(&mut self) {
        self.parked_fetches.clear();
        self.delayed_produces.clear();
    }

    pub fn replicas(&self) -> &BTreeMap<TopicPartition, Replica> {
        &self.replicas
    }

    pub fn replica(&self, tp: &TopicPartition) -> Option<&Replica> {
        self.replicas.get(tp)
    }

    /// A new metadata copy from the controller: create, update or drop local replicas.
    pub fn apply_metadata(&mut self, now: Instant, metadata: Arc<ClusterMetadata>) {
        self.replicas
            .retain(|tp, _| metadata.partition(&tp.topic, tp.partition).is_some());
        for (name, topic) in &metadata.topics {
            for (p, pm) in topic.partitions.iter().enumerate() {
                if !pm.replicas.contains(&self.id) {
                    continue;
                }
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: p as u32,
                };
                let policy = SegmentPolicy {
                    segment_bytes: topic.config.segment_bytes,
                    segment_ms: topic.config.segment_ms,
                };
                let replica = self.replicas.entry(tp).or_insert_with(|| Replica {
                    log: PartitionLog::new(policy, now),
                    high_watermark: Offset(0),
                    leader_epoch: pm.leader_epoch,
                    is_leader: false,
                    replicas: pm.replicas.clone(),
                    isr: pm.isr.clone(),
                    config: topic.config.clone(),
                    producers: BTreeMap::new(),
                });
                replica.is_leader = pm.leader == Some(self.id);
                replica.leader_epoch = pm.leader_epoch;
                replica.replicas = pm.replicas.clone();
                replica.isr = pm.isr.clone();
            }
        }
        self.metadata = metadata;
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        match input {
            Input::Message { from, msg } => self.on_message(now, from, msg, out),
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::FetchExpiry { id }) => {
                if let Some(parked) = self.parked_fetches.remove(&id) {
                    let response = self.read_fetch(&parked.request);
                    out.push(Effect::Send {
                        to: parked.from,
                        msg: Message::FetchResponse(response),
                    });
                }
            }
            Input::Timer(Timer::ProduceExpiry { id }) => {
                if let Some(mut delayed) = self.delayed_produces.remove(&id) {
                    for &(i, _) in &delayed.waiting {
                        delayed.results[i].error = ErrorCode::RequestTimedOut;
                    }
                    let response = ProduceResponse {
                        correlation_id: delayed.correlation_id,
                        results: delayed.results,
                    };
                    out.push(Effect::Send {
                        to: delayed.from,
                        msg: Message::ProduceResponse(response),
                    });
                }
            }
            Input::Timer(Timer::RetentionCheck) => {
                self.apply_retention(now, out);
                out.push(Effect::SetTimer {
                    at: now + self.retention_check,
                    timer: Timer::RetentionCheck,
                });
            }
            Input::Timer(Timer::Wake | Timer::RequestTimeout { .. }) => {}
        }
    }

    fn on_message(&mut self, now: Instant, from: NodeId, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            Message::MetadataRequest { correlation_id } => {
                let metadata = self.metadata.clone();
                out.push(Effect::Send {
                    to: from,
                    msg: Message::MetadataResponse {
                        correlation_id,
                        metadata,
                    },
                });
            }
            Message::ProduceRequest(request) => self.on_produce(now, from, request, out),
            Message::FetchRequest(request) => self.on_fetch(now, from, request, out),
            Message::ListOffsetsRequest(request) => {
                let response = self.list_offsets(&request);
                out.push(Effect::Send {
                    to: from,
                    msg: Message::ListOffsetsResponse(response),
                });
            }
            Message::MetadataResponse { .. }
            | Message::ProduceResponse(_)
            | Message::FetchResponse(_)
            | Message::ListOffsetsResponse(_) => {
                unreachable!("brokers send responses, they never receive them")
            }
        }
    }

    fn leader_replica(&mut self, tp: &TopicPartition) -> Result<&mut Replica, ErrorCode> {
        if !self.metadata.topics.contains_key(&tp.topic) {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        match self.replicas.get_mut(tp) {
            Some(r) if r.is_leader => Ok(r),
            _ => Err(ErrorCode::NotLeaderOrFollower),
        }
    }

    fn on_produce(
        &mut self,
        now: Instant,
        from: NodeId,
        request: ProduceRequest,
        out: &mut Vec<Effect>,
    ) {
        let mut results = Vec::with_capacity(request.partitions.len());
        let mut waiting = Vec::new();
        for (tp, batch) in request.partitions {
            let (result, wait_for) = self.append_as_leader(now, tp, batch, request.acks, out);
            if let Some(required) = wait_for {
                waiting.push((results.len(), required));
            }
            results.push(result);
        }
        match request.acks {
            Acks::Zero => {}
            Acks::All if !waiting.is_empty() => {
                let id = self.next_id();
                let delayed = DelayedProduce {
                    from,
                    correlation_id: request.correlation_id,
                    results,
                    waiting,
                };
                self.delayed_produces.insert(id, delayed);
                let at = now + Duration::from_millis(u64::from(request.timeout_ms));
                out.push(Effect::SetTimer {
                    at,
                    timer: Timer::ProduceExpiry { id },
                });
            }
            Acks::One | Acks::All => {
                let response = ProduceResponse {
                    correlation_id: request.correlation_id,
                    results,
                };
                out.push(Effect::Send {
                    to: from,
                    msg: Message::ProduceResponse(response),
                });
            }
        }
    }

    /// Appends one batch as leader. Returns the partition result and, for acks=all, the offset
    /// the high watermark must reach before the result may be sent.
    fn append_as_leader(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        mut batch: RecordBatch,
        acks: Acks,
        out: &mut Vec<Effect>,
    ) -> (PartitionProduceResult, Option<Offset>) {
        let broker = self.id;
        let replica = match self.leader_replica(&tp) {
            Ok(r) => r,
            Err(error) => {
                return (
                    PartitionProduceResult {
                        tp,
                        error,
                        base_offset: None,
                    },
                    None,
                )
            }
        };
        let fail = |tp, error| {
            (
                PartitionProduceResult {
                    tp,
                    error,
                    base_offset: None,
                },
                None,
            )
        };
        if batch.size_bytes > replica.config.max_message_bytes {
            return fail(tp, ErrorCode::MessageTooLarge);
        }
        if acks == Acks::All && replica.isr.len() < replica.effective_min_isr() {
            return fail(tp, ErrorCode::NotEnoughReplicas);
        }
        match replica.check_sequence(&batch) {
            SequenceCheck::Reject(error) => return fail(tp, error),
            SequenceCheck::Duplicate(base_offset) => {
                out.push(Effect::Trace(TraceKind::DuplicateBatch {
                    broker,
                    tp: tp.clone(),
                    base_offset,
                }));
                let result = PartitionProduceResult {
                    tp,
                    error: ErrorCode::None,
                    base_offset: Some(base_offset),
                };
                return (result, None);
            }
            SequenceCheck::Append => {}
        }
        let base_offset = replica.log.log_end();
        batch.base_offset = base_offset;
        batch.partition_leader_epoch = replica.leader_epoch as i32;
        let records = batch.record_count();
        let next = batch.next_offset();
        replica.remember_batch(&batch);
        let segments_before = replica.log.segments().len();
        replica.log.append(batch, now);
        if replica.log.segments().len() > segments_before {
            out.push(Effect::Trace(TraceKind::SegmentRolled {
                broker,
                tp: tp.clone(),
                base_offset,
            }));
        }
        out.push(Effect::Trace(TraceKind::BatchAppended {
            broker,
            tp: tp.clone(),
            base_offset,
            records,
        }));
        let hw = replica.next_high_watermark();
        let wait_for = (acks == Acks::All && hw < next).then_some(next);
        self.set_high_watermark(now, &tp, hw, out);
        let result = PartitionProduceResult {
            tp,
            error: ErrorCode::None,
            base_offset: Some(base_offset),
        };
        (result, wait_for)
    }

    /// Moves a partition's high watermark and wakes what waited on it.
    fn set_high_watermark(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        let replica = self.replicas.get_mut(tp).expect("replica exists");
        assert!(
            hw >= replica.high_watermark,
            "the high watermark never moves back on a leader"
        );
        assert!(
            hw <= replica.log.log_end(),
            "the high watermark never passes the log end"
        );
        let moved = hw > replica.high_watermark;
        replica.high_watermark = hw;
        if moved {
            self.complete_delayed_produces(tp, hw, out);
            self.complete_parked_fetches(now, tp, out);
        }
    }

    fn complete_delayed_produces(
        &mut self,
        tp: &TopicPartition,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        let mut done = Vec::new();
        for (&id, delayed) in &mut self.delayed_produces {
            delayed
                .waiting
                .retain(|&(i, required)| !(delayed.results[i].tp == *tp && hw >= required));
            if delayed.waiting.is_empty() {
                done.push(id);
            }
        }
        for id in done {
            let delayed = self.delayed_produces.remove(&id).expect("present");
            let response = ProduceResponse {
                correlation_id: delayed.correlation_id,
                results: delayed.results,
            };
            out.push(Effect::Send {
                to: delayed.from,
                msg: Message::ProduceResponse(response),
            });
        }
    }

    fn complete_parked_fetches(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        out: &mut Vec<Effect>,
    ) {
        if self.parked_fetches.is_empty() {
            return;
        }
        let ids: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, p)| p.request.partitions.iter().any(|fp| fp.tp == *tp))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let parked = &self.parked_fetches[&id];
            let response = self.read_fetch(&parked.request);
            if fetched_bytes(&response) >= u64::from(parked.request.min_bytes) {
                let parked = self.parked_fetches.remove(&id).expect("present");
                out.push(Effect::Send {
                    to: parked.from,
                    msg: Message::FetchResponse(response),
                });
            }
        }
    }

    fn on_fetch(
        &mut self,
        now: Instant,
        from: NodeId,
        request: FetchRequest,
        out: &mut Vec<Effect>,
    ) {
        let response = self.read_fetch(&request);
        let has_error = response
            .partitions
            .iter()
            .any(|p| p.error != ErrorCode::None);
        let enough = fetched_bytes(&response) >= u64::from(request.min_bytes);
        if enough || has_error || request.max_wait_ms == 0 {
            out.push(Effect::Send {
                to: from,
                msg: Message::FetchResponse(response),
            });
            return;
        }
        let id = self.next_id();
        let at = now + Duration::from_millis(u64::from(request.max_wait_ms));
        self.parked_fetches
            .insert(id, ParkedFetch { from, request });
        out.push(Effect::SetTimer {
            at,
            timer: Timer::FetchExpiry { id },
        });
    }

    /// Reads what a fetch may see now: consumers below the high watermark.
    fn read_fetch(&self, request: &FetchRequest) -> FetchResponse {
        let mut remaining = u64::from(request.max_bytes);
        let mut partitions = Vec::with_capacity(request.partitions.len());
        for fp in &request.partitions {
            let replica = match self.replicas.get(&fp.tp) {
                Some(r) if r.is_leader => r,
                _ => {
                    partitions.push(empty_fetch(&fp.tp, ErrorCode::NotLeaderOrFollower));
                    continue;
                }
            };
            let log = &replica.log;
            if fp.fetch_offset < log.log_start() || fp.fetch_offset > log.log_end() {
                let mut p = empty_fetch(&fp.tp, ErrorCode::OffsetOutOfRange);
                p.high_watermark = replica.high_watermark;
                p.log_start = log.log_start();
                partitions.push(p);
                continue;
            }
            let max_bytes = u64::from(fp.partition_max_bytes).min(remaining);
            let batches = if remaining == 0 {
                Vec::new()
            } else {
                log.read(fp.fetch_offset, replica.high_watermark, max_bytes)
            };
            let bytes: u64 = batches.iter().map(|b| u64::from(b.size_bytes)).sum();
            remaining = remaining.saturating_sub(bytes);
            partitions.push(FetchedPartition {
                tp: fp.tp.clone(),
                error: ErrorCode::None,
                high_watermark: replica.high_watermark,
                log_start: log.log_start(),
                batches,
            });
        }
        FetchResponse {
            correlation_id: request.correlation_id,
            partitions,
        }
    }

    fn list_offsets(&self, request: &ListOffsetsRequest) -> ListOffsetsResponse {
        let partitions = request
            .partitions
            .iter()
            .map(|(tp, spec)| match self.replicas.get(tp) {
                Some(r) if r.is_leader => {
                    let offset = match spec {
                        OffsetSpec::Earliest => r.log.log_start(),
                        // "Latest" for read_uncommitted is the high watermark, not the true LEO.
                        OffsetSpec::Latest => r.high_watermark,
                    };
                    (tp.clone(), ErrorCode::None, offset)
                }
                _ => (tp.clone(), ErrorCode::NotLeaderOrFollower, Offset(0)),
            })
            .collect();
        ListOffsetsResponse {
            correlation_id: request.correlation_id,
            partitions,
        }
    }

    /// Time and size retention (§6.1): oldest segments first, never the active one,
    /// never past the high watermark.
    fn apply_retention(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let now_ms = now.as_millis() as i64;
        for (tp, replica) in &mut self.replicas {
            if !replica.config.cleanup_delete {
                continue;
            }
            let before = replica.log.log_start();
            let hw = replica.high_watermark;
            if let Some(retention_ms) = replica.config.retention_ms {
                replica.log.delete_oldest_segments(hw, |s| {
                    now_ms.saturating_sub(s.largest_timestamp_ms) > retention_ms as i64
                });
            }
            if let Some(retention_bytes) = replica.config.retention_bytes {
                let mut excess = replica.log.size_bytes() as i64 - retention_bytes as i64;
                replica.log.delete_oldest_segments(hw, |s| {
                    let ok = excess - s.size_bytes as i64 >= 0;
                    if ok {
                        excess -= s.size_bytes as i64;
                    }
                    ok
                });
            }
            let after = replica.log.log_start();
            if after > before {
                let event = TraceKind::SegmentsDeleted {
                    broker: self.id,
                    tp: tp.clone(),
                    log_start: after,
                };
                out.push(Effect::Trace(event));
            }
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }
}

fn empty_fetch(tp: &TopicPartition, error: ErrorCode) -> FetchedPartition {
    FetchedPartition {
        tp: tp.clone(),
        error,
        high_watermark: Offset(0),
        log_start: Offset(0),
        batches: Vec::new(),
    }
}

fn fetched_bytes(response: &FetchResponse) -> u64 {
    response
        .partitions
        .iter()
        .flat_map(|p| &p.batches)
        .map(|b| u64::from(b.size_bytes))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scope;
    use crate::metadata::{BrokerRegistration, PartitionMetadata, TopicMetadata};
    use crate::record::{ProducerIdentity, Record, RecordId};

    fn broker() -> Broker {
        let topic: Arc<str> = Arc::from("t");
        let mut topics = BTreeMap::new();
        let pm = PartitionMetadata {
            replicas: vec![0],
            leader: Some(0),
            leader_epoch: 3,
            isr: vec![0],
        };
        topics.insert(
            topic.clone(),
            TopicMetadata {
                name: topic,
                partitions: vec![pm],
                config: TopicConfig::defaults(),
            },
        );
        let metadata = Arc::new(ClusterMetadata {
            version: 1,
            brokers: vec![BrokerRegistration {
                id: 0,
                fenced: false,
            }],
            controller: 0,
            topics,
        });
        let mut b = Broker::new(0, metadata.clone(), &Configs::new(Scope::Broker));
        b.apply_metadata(Instant::ZERO, metadata);
        b
    }

    fn batch(epoch: i16, base_sequence: i32, n: u64) -> RecordBatch {
        let records = (0..n)
            .map(|i| Record {
                timestamp_ms: 0,
                key: None,
                value: None,
                headers: vec![],
                id: RecordId {
                    producer: 0,
                    seq: i,
                },
            })
            .collect();
        RecordBatch {
            base_offset: Offset(0),
            partition_leader_epoch: -1,
            producer: Some(ProducerIdentity {
                producer_id: 7,
                producer_epoch: epoch,
                base_sequence,
            }),
            is_transactional: false,
            is_control: false,
            size_bytes: 100,
            max_timestamp_ms: 0,
            records: Arc::new(records),
        }
    }

    /// Sends one produce request and returns the single partition result.
    fn produce(b: &mut Broker, batch: RecordBatch) -> PartitionProduceResult {
        let mut out = Vec::new();
        let request = ProduceRequest {
            correlation_id: 1,
            acks: Acks::All,
            timeout_ms: 30_000,
            partitions: vec![(TopicPartition::new("t", 0), batch)],
        };
        b.handle(
            Instant::ZERO,
            Input::Message {
                from: NodeId::Producer(0),
                msg: Message::ProduceRequest(request),
            },
            &mut out,
        );
        let response = out.into_iter().find_map(|e| match e {
            Effect::Send {
                msg: Message::ProduceResponse(r),
                ..
            } => Some(r),
            _ => None,
        });
        response
            .expect("acks=all with one replica answers at once")
            .results
            .remove(0)
    }

    #[test]
    fn a_retried_batch_is_not_appended_twice() {
        let mut b = broker();
        let first = produce(&mut b, batch(0, 0, 5));
        assert_eq!(
            (first.error, first.base_offset),
            (ErrorCode::None, Some(Offset(0)))
        );
        let again = produce(&mut b, batch(0, 0, 5));
        assert_eq!(
            (again.error, again.base_offset),
            (ErrorCode::None, Some(Offset(0))),
            "same offset as the original"
        );
        let log_end = b
            .replica(&TopicPartition::new("t", 0))
            .expect("replica")
            .log
            .log_end();
        assert_eq!(log_end, Offset(5), "appended once");
        let stamped = b
            .replica(&TopicPartition::new("t", 0))
            .expect("replica")
            .log
            .batch_at(Offset(0))
            .expect("batch")
            .partition_leader_epoch;
        assert_eq!(stamped, 3, "the leader stamps its epoch");
    }

    #[test]
    fn a_sequence_gap_or_an_old_epoch_is_rejected() {
        let mut b = broker();
        assert_eq!(produce(&mut b, batch(1, 0, 5)).error, ErrorCode::None);
        assert_eq!(
            produce(&mut b, batch(1, 7, 2)).error,
            ErrorCode::OutOfOrderSequenceNumber,
            "expected 5"
        );
        assert_eq!(
            produce(&mut b, batch(0, 5, 2)).error,
            ErrorCode::InvalidProducerEpoch
        );
        assert_eq!(produce(&mut b, batch(1, 5, 2)).error, ErrorCode::None);
        assert_eq!(
            produce(&mut b, batch(2, 3, 1)).error,
            ErrorCode::OutOfOrderSequenceNumber,
            "a new epoch starts at 0"
        );
        assert_eq!(produce(&mut b, batch(2, 0, 1)).error, ErrorCode::None);
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut b = broker();
        for i in 0..6 {
            assert_eq!(produce(&mut b, batch(0, i * 2, 2)).error, ErrorCode::None);
        }
        // The first batch fell out of the window: its retry is no longer recognised.
        assert_eq!(
            produce(&mut b, batch(0, 0, 2)).error,
            ErrorCode::OutOfOrderSequenceNumber
        );
        assert_eq!(
            produce(&mut b, batch(0, 2, 2)).base_offset,
            Some(Offset(2)),
            "the second still is"
        );
    }
}
