//! One record's journey: an observer beside the loop that follows one record identity from
//! `send()` to every group's commit (or to where it ended), with the reason for each wait.
//!
//! It reads, never writes: between steps it looks at the producer's accumulator and requests,
//! at the partition's replicas and at the groups' committed offsets, and it sees the step's
//! trace events and ledger observations. So a followed run is the run, with the same digest;
//! and with nothing followed (`Sim::watch` is `None`) the loop pays one branch per step.
//! Kafka has no such tool: it is what a reader would piece together from the producer's
//! callbacks, the brokers' request logs and the consumers' positions.

use std::collections::BTreeSet;

use super::*;
use crate::ledger::Observation;
use crate::producer::{BatchState, ProducerConfig, RecordPlace};
use crate::protocol::Acks;
use crate::record::{Bytes, LeaderEpoch, Record, RecordId};

/// What a step of a journey is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// The application called `send()`: the partitioner placed it and it joined a batch.
    Send,
    /// Its batch stopped taking records and left the accumulator (`batch.size`, `linger.ms`).
    BatchClosed,
    /// A Produce request carrying its batch went to the partition's leader.
    Request,
    /// The request failed and the batch went back to the accumulator to be retried.
    Retry,
    /// The leader appended it at an offset.
    Appended,
    /// A retry appended it again: the record is in the log twice.
    AppendedAgain,
    /// The leader recognised a retried idempotent batch and did not append it again.
    DuplicateRefused,
    /// A follower fetched it into its log.
    Replicated,
    /// The high watermark passed it: consumers may read it.
    HighWatermark,
    Acknowledged,
    Failed,
    /// A new leader was elected for its partition.
    LeaderElected,
    /// A replica truncated it away.
    Truncated,
    Lost,
    Expired,
    /// A consumer's fetch brought it.
    Fetched,
    /// `poll()` returned it to the application.
    Polled,
    /// The application finished processing it.
    Processed,
    /// A group committed an offset past it.
    Committed,
}

/// One step, at a virtual time, in words: what happened and why (the wait that ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JourneyStep {
    pub at: Instant,
    pub kind: StepKind,
    pub what: String,
    pub why: String,
}

/// Where the journey stands at the end of the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    /// The application has not sent it yet.
    NotSent,
    /// Sent, not yet acknowledged or failed.
    InProgress,
    /// Acknowledged (and read by every group that processed it, if any).
    Acknowledged,
    /// The producer gave up on it.
    Failed,
    /// Acknowledged, then gone from every replica.
    Lost,
    /// Removed by retention.
    Expired,
}

/// A record's journey: plain data for every host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journey {
    pub record: RecordId,
    /// The key as text (lossy UTF-8), once the record was seen.
    pub key: Option<String>,
    pub topic: Option<String>,
    pub partition: Option<u32>,
    /// Where its leader appended it last.
    pub offset: Option<u64>,
    pub steps: Vec<JourneyStep>,
    /// Steps not kept past `MAX_STEPS` (a record fetched again and again).
    pub steps_dropped: u64,
    pub end: EndKind,
    pub end_text: String,
}

/// Steps kept per journey: enough for retries and rebalances, bounded.
const MAX_STEPS: usize = 400;

/// What a `Sim` follows.
#[derive(Clone, Debug)]
pub(super) enum Watch {
    /// The first record sent with this key (scanning Produce requests): a first pass.
    Key {
        key: Bytes,
        found: Option<Record>,
    },
    Record(Box<RecordWatch>),
}

/// The state of following one record.
#[derive(Clone, Debug)]
pub(super) struct RecordWatch {
    journey: Journey,
    /// What the step that is running saw, handled after it.
    traces: Vec<TraceKind>,
    observations: Vec<Observation>,
    /// The record's place in its producer before the step, and a broker's log end.
    pre_place: Option<RecordPlace>,
    pre_log_end: Option<(BrokerId, Offset)>,
    sent_at: Option<Instant>,
    /// The producer's configuration, read at `send()` (the producer may go later).
    config: Option<ProducerConfig>,
    place: Option<RecordPlace>,
    tp: Option<TopicPartition>,
    offset: Option<Offset>,
    /// Every offset a leader appended it at (a retry without idempotence writes it again).
    appended_at: Vec<Offset>,
    /// When its batch was first seen full (ready to go whatever `linger.ms` says).
    full_since: Option<Instant>,
    holders: BTreeSet<BrokerId>,
    hw_passed: bool,
    acked: bool,
    ended: Option<(EndKind, String)>,
    /// Per consumer, when `poll()` returned it.
    polled: BTreeMap<u32, Instant>,
    processed: BTreeSet<Arc<str>>,
    committed: BTreeSet<Arc<str>>,
}

impl Watch {
    pub(super) fn record(id: RecordId) -> Watch {
        Watch::Record(Box::new(RecordWatch {
            journey: Journey {
                record: id,
                key: None,
                topic: None,
                partition: None,
                offset: None,
                steps: Vec::new(),
                steps_dropped: 0,
                end: EndKind::NotSent,
                end_text: String::new(),
            },
            traces: Vec::new(),
            observations: Vec::new(),
            pre_place: None,
            pre_log_end: None,
            sent_at: None,
            config: None,
            place: None,
            tp: None,
            offset: None,
            appended_at: Vec::new(),
            full_since: None,
            holders: BTreeSet::new(),
            hw_passed: false,
            acked: false,
            ended: None,
            polled: BTreeMap::new(),
            processed: BTreeSet::new(),
            committed: BTreeSet::new(),
        }))
    }

    /// A trace event of the step (kept only when it may concern the record). Cold, as every
    /// hook here: kept out of the loop's hot code, which only tests whether a record is followed.
    #[cold]
    #[inline(never)]
    pub(super) fn on_trace(&mut self, kind: &TraceKind) {
        let Watch::Record(w) = self else { return };
        use TraceKind as K;
        let relevant = match kind {
            K::BatchRetrying { producer, .. } | K::BatchSplit { producer, .. } => {
                *producer == w.journey.record.producer
            }
            K::DuplicateBatch { tp, .. }
            | K::LeaderElected { tp, .. }
            | K::FollowerTruncated { tp, .. }
            | K::SegmentsDeleted { tp, .. }
            | K::RecordsPolled { tp, .. } => w.tp.as_ref() == Some(tp),
            _ => false,
        };
        if relevant {
            w.traces.push(kind.clone());
        }
    }

    /// A ledger observation of the step (kept only when it is about the record).
    #[cold]
    #[inline(never)]
    pub(super) fn on_observation(&mut self, observation: &Observation) {
        let Watch::Record(w) = self else { return };
        let id = w.journey.record;
        let mine = match observation {
            Observation::Acked {
                producer, records, ..
            }
            | Observation::Failed {
                producer, records, ..
            } => *producer == id.producer && holds(records, id),
            Observation::Delivered {
                records, from, to, ..
            } => holds(&records[*from as usize..*to as usize], id),
            Observation::CommitAcked { .. }
            | Observation::Transformed { .. }
            | Observation::Handled { .. } => false,
        };
        if mine {
            w.observations.push(observation.clone());
        }
    }

    /// A message a producer sends: the key search looks into Produce requests.
    #[cold]
    #[inline(never)]
    pub(super) fn on_send(&mut self, msg: &Message) {
        let Watch::Key { key, found } = self else {
            return;
        };
        let Message::ProduceRequest(request) = msg else {
            return;
        };
        let batches = request.partitions.iter().map(|(_, b)| b);
        for r in batches.flat_map(|b| b.records.iter()) {
            if r.key.as_deref() == Some(&**key) {
                let earlier = |f: &Record| {
                    (r.timestamp_ms, r.id.producer, r.id.seq)
                        < (f.timestamp_ms, f.id.producer, f.id.seq)
                };
                if found.as_ref().is_none_or(earlier) {
                    *found = Some(r.clone());
                }
            }
        }
    }
}

/// Whether `records` (one producer's, in order) hold the record `id`.
fn holds(records: &[Record], id: RecordId) -> bool {
    records
        .binary_search_by_key(&(id.producer, id.seq), |r| (r.id.producer, r.id.seq))
        .is_ok()
        || records.iter().any(|r| r.id == id)
}

/// A ledger audience in words: a group, or a standalone consumer (`consumer:NAME`).
fn reader_name(audience: &str) -> String {
    match audience.strip_prefix("consumer:") {
        Some(name) => format!("consumer {name} (no group)"),
        None => format!("group {}", audience.trim_start_matches("group:")),
    }
}

/// Milliseconds with a tenth, from virtual time.
fn ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{} ms", us / 1000, us % 1000 / 100)
}

fn broker_list(ids: &[BrokerId]) -> String {
    let names: Vec<String> = ids.iter().map(|b| b.0.to_string()).collect();
    match names.len() {
        0 => "none".into(),
        1 => format!("broker {}", names[0]),
        _ => format!("brokers {}", names.join(", ")),
    }
}

impl RecordWatch {
    fn step(&mut self, at: Instant, kind: StepKind, what: String, why: String) {
        if self.journey.steps.len() >= MAX_STEPS {
            self.journey.steps_dropped += 1;
            return;
        }
        self.journey.steps.push(JourneyStep {
            at,
            kind,
            what,
            why,
        });
    }

    fn end(&mut self, at: Instant, kind: EndKind, what: String, why: String) {
        let step = match kind {
            EndKind::Lost => StepKind::Lost,
            EndKind::Expired => StepKind::Expired,
            _ => StepKind::Failed,
        };
        self.ended = Some((kind, what.clone()));
        self.step(at, step, what, why);
    }
}

impl Sim {
    /// Follows one record through the rest of the run (replay from the start to see all of
    /// it). Changes nothing the run does.
    pub fn watch_record(&mut self, id: RecordId) {
        self.watch = Some(Watch::record(id));
    }

    /// Looks for the first record sent with `key` through the rest of the run (a first pass:
    /// `found_key` answers, then a replay follows it).
    pub fn watch_key(&mut self, key: &[u8]) {
        self.watch = Some(Watch::Key {
            key: Bytes::from(key),
            found: None,
        });
    }

    /// The first record sent with the key `watch_key` looks for, if one was sent.
    pub fn found_key(&self) -> Option<RecordId> {
        match &self.watch {
            Some(Watch::Key { found, .. }) => found.as_ref().map(|r| r.id),
            _ => None,
        }
    }

    /// The record at `offset` of a partition now, from its leader's log (else its first
    /// replica's). The error says why there is none, naming what was asked.
    pub fn record_at(&self, topic: &str, partition: u32, offset: u64) -> Result<RecordId, String> {
        let md = self.controller.metadata();
        let t = md
            .topics
            .get(topic)
            .ok_or_else(|| format!("no topic {topic:?}"))?;
        let pm = t.partitions.get(partition as usize).ok_or_else(|| {
            format!(
                "{topic} has {} partitions, no partition {partition}",
                t.partitions.len()
            )
        })?;
        let tp = TopicPartition::new(topic, partition);
        let replica = self
            .authoritative_replica(&tp, pm)
            .ok_or_else(|| format!("{tp} has no replica"))?;
        let (start, end) = (replica.log.log_start().0, replica.log.log_end().0);
        if offset < start || offset >= end {
            return Err(format!(
                "{tp} holds offsets {start} to {}, not {offset}",
                end.saturating_sub(1)
            ));
        }
        let record = replica.log.record_at(Offset(offset));
        record
            .map(|r| r.id)
            .ok_or_else(|| format!("{tp} has no record at {offset}"))
    }

    /// The journey of the record followed (`watch_record`), as far as the run has gone.
    pub fn journey(&self) -> Option<Journey> {
        let Some(Watch::Record(w)) = &self.watch else {
            return None;
        };
        let mut journey = w.journey.clone();
        (journey.end, journey.end_text) = self.journey_end(w);
        Some(journey)
    }

    fn journey_end(&self, w: &RecordWatch) -> (EndKind, String) {
        if let Some(ended) = &w.ended {
            return ended.clone();
        }
        if w.acked {
            let read = if w.processed.is_empty() {
                "no application has processed it yet".to_string()
            } else {
                let names: Vec<String> = w.processed.iter().map(|a| reader_name(a)).collect();
                format!("processed by {}", names.join(", "))
            };
            return (EndKind::Acknowledged, format!("acknowledged; {read}"));
        }
        match w.sent_at {
            None => (EndKind::NotSent, format!("not sent by {}", self.now)),
            Some(_) => (
                EndKind::InProgress,
                format!("still on its way at {}", self.now),
            ),
        }
    }

    /// Before a step: where the record is in its producer, the log end of the broker that
    /// handles the event, and whether a consumer's fetch brings it.
    #[cold]
    #[inline(never)]
    pub(super) fn watch_before(&mut self, event: &Event) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        let id = w.journey.record;
        let target = match event {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Some(*to),
            Event::Timer { node, .. } => Some(*node),
            Event::Handoff { to, .. } => Some(*to),
            Event::Command(_) => None,
        };
        let pre_place = match target {
            Some(NodeId::Producer(p)) if p == id.producer => {
                self.producer(p).and_then(|p| p.locate(id.seq))
            }
            None => self.producer(id.producer).and_then(|p| p.locate(id.seq)),
            _ => None,
        };
        let pre_log_end = match (target, &w.tp) {
            (Some(NodeId::Broker(b)), Some(tp)) => {
                let replica = self.brokers[b.0 as usize].broker.replica(tp);
                replica.map(|r| (b, r.log.log_end()))
            }
            _ => None,
        };
        let fetched = match event {
            Event::Deliver {
                from,
                to: NodeId::Consumer(c),
                msg: Message::FetchResponse(r),
                ..
            } => self.fetch_brings(w, *from, *c, r),
            _ => None,
        };
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        w.pre_place = pre_place;
        w.pre_log_end = pre_log_end;
        if let Some((what, why)) = fetched {
            w.step(self.now, StepKind::Fetched, what, why);
        }
    }

    /// Whether a fetch response to consumer `c` carries the record, in words.
    fn fetch_brings(
        &self,
        w: &RecordWatch,
        from: NodeId,
        c: u32,
        response: &crate::protocol::FetchResponse,
    ) -> Option<(String, String)> {
        let tp = w.tp.as_ref()?;
        let part = response.partitions.iter().find(|p| &p.tp == tp)?;
        let mut records = part.batches.iter().flat_map(|b| b.records.iter());
        if !records.any(|r| r.id == w.journey.record) {
            return None;
        }
        let name = self.consumers.get(c as usize)?.as_ref()?.spec.name.clone();
        Some((
            format!("consumer {name} fetched it from {from}"),
            format!(
                "a fetch returns records below the high watermark ({} then)",
                part.high_watermark
            ),
        ))
    }

    /// After a step: what it did to the record.
    #[cold]
    #[inline(never)]
    pub(super) fn watch_after(&mut self) {
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        let traces = std::mem::take(&mut w.traces);
        let observations = std::mem::take(&mut w.observations);
        let producer = w.journey.record.producer;
        let touched = self.touched;
        if matches!(touched, Touched::Everything)
            || touched == Touched::Node(NodeId::Producer(producer))
        {
            self.watch_producer(&traces);
        }
        let brokers: Vec<BrokerId> = match touched {
            Touched::Node(NodeId::Broker(b)) => vec![b],
            Touched::Everything => self.broker_ids(),
            _ => Vec::new(),
        };
        for b in brokers {
            self.watch_broker(b);
        }
        for kind in &traces {
            self.watch_trace(kind);
        }
        for o in &observations {
            self.watch_observation(o);
        }
        self.watch_commits();
    }
}

/// What `acks` makes the producer wait for, in words.
fn acks_why(acks: Acks, min_isr: u32) -> String {
    match acks {
        Acks::All => format!(
            "acks=all: the leader answers once every in-sync replica has it \
             (and only while the ISR has at least min.insync.replicas = {min_isr})"
        ),
        Acks::One => "acks=1: the leader answers as soon as it appended it, before any \
                      follower has it"
            .into(),
        Acks::Zero => "acks=0: the producer asks for no answer; it counts the record sent \
                       and never learns its offset"
            .into(),
    }
}

/// Why a batch left the accumulator on its first attempt (`RecordAccumulator.ready` and
/// `drainBatchesForOneNode`), from its state before the step that sent it.
fn close_reason(
    before: &RecordPlace,
    now: Instant,
    config: &ProducerConfig,
    newer_batch: bool,
    broker: BrokerId,
) -> String {
    let (records, bytes, size) = (before.batch_records, before.batch_bytes, config.batch_size);
    let plural = if records == 1 { "" } else { "s" };
    let holding = format!("{records} record{plural}, {bytes} B of batch.size {size}");
    let (closed, behind, exhausted) = match before.state {
        BatchState::Queued {
            closed,
            behind,
            exhausted,
        } => (closed, behind, exhausted),
        BatchState::InFlight { .. } => (true, false, false),
    };
    let linger = config.linger.as_millis();
    if closed || behind || bytes >= size || newer_batch {
        format!("batch.size: full, the next record did not fit ({holding})")
    } else if now >= before.created_at + config.linger {
        match linger {
            0 => format!("linger.ms = 0: it goes as soon as the sender runs ({holding})"),
            _ => format!("linger.ms = {linger} expired ({holding})"),
        }
    } else if exhausted {
        format!(
            "buffer.memory is exhausted: the application waits for room, so every batch \
             may go ({holding})"
        )
    } else {
        format!(
            "it rode along before linger.ms = {linger} expired: another partition's batch for \
             broker {broker} was ready, and a request takes the head batch of every partition \
             that broker leads (RecordAccumulator.drainBatchesForOneNode) ({holding})"
        )
    }
}

/// Why the partitioner chose the partition, in words (`KafkaProducer.partition`).
fn placement_why(key: Option<&[u8]>, partitions: u32, config: &ProducerConfig) -> String {
    match key {
        Some(k) if !config.round_robin && !config.ignore_keys => {
            let e = crate::partitioner::explain_key(k, partitions);
            format!(
                "murmur2(key) = {}, toPositive = {}, {} % {} = {}",
                e.murmur2, e.positive, e.positive, partitions, e.partition
            )
        }
        _ if config.round_robin => "partitioner.class = RoundRobinPartitioner".into(),
        _ => "no key used: the built-in sticky partitioner's current partition (KIP-794)".into(),
    }
}

impl Sim {
    /// The record's place in its producer after a step, against before it.
    fn watch_producer(&mut self, traces: &[TraceKind]) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        let id = w.journey.record;
        let Some(p) = self.producer(id.producer) else {
            return;
        };
        let after = p.locate(id.seq);
        let created = p.stats.produced > id.seq;
        let (config, topic, partitions) = (
            p.config().clone(),
            p.topic().to_string(),
            p.partitions_known(),
        );
        let newer = after.as_ref().is_some_and(|a| p.queued_in(a.partition) > 0);
        let now = self.now;
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        let before = w.pre_place.take().or_else(|| w.place.clone());
        if w.sent_at.is_none() && created {
            w.sent_at = Some(now);
            w.config = Some(config.clone());
            if let Some(place) = &after {
                w.sent(now, place, &topic, partitions, &config);
            }
        }
        if let Some(after) = &after {
            let full = match after.state {
                BatchState::Queued { closed, behind, .. } => {
                    closed || behind || after.batch_bytes >= config.batch_size
                }
                BatchState::InFlight { .. } => false,
            };
            if full && w.full_since.is_none() {
                w.full_since = Some(now);
            }
            w.moved(now, before.as_ref(), after, &config, newer, traces);
        }
        w.place = after;
    }
}

impl RecordWatch {
    fn sent(
        &mut self,
        now: Instant,
        place: &RecordPlace,
        topic: &str,
        partitions: u32,
        config: &ProducerConfig,
    ) {
        let tp = TopicPartition::new(topic, place.partition);
        let key = place.key.as_deref();
        self.journey.key = key.map(|k| String::from_utf8_lossy(k).into_owned());
        self.journey.topic = Some(topic.to_string());
        self.journey.partition = Some(place.partition);
        let joined = if place.batch_records <= 1 {
            "opened a new batch".to_string()
        } else {
            format!(
                "joined the open batch ({} records, {} B of batch.size {})",
                place.batch_records, place.batch_bytes, config.batch_size
            )
        };
        let what = format!("send(): to {tp}; it {joined}");
        let why = placement_why(key, partitions, config);
        self.tp = Some(tp);
        self.step(now, StepKind::Send, what, why);
    }

    /// A batch that left the accumulator, or came back to it.
    fn moved(
        &mut self,
        now: Instant,
        before: Option<&RecordPlace>,
        after: &RecordPlace,
        config: &ProducerConfig,
        newer: bool,
        traces: &[TraceKind],
    ) {
        let request_of = |p: &RecordPlace| match p.state {
            BatchState::InFlight { broker, request } => Some((broker, request)),
            BatchState::Queued { .. } => None,
        };
        let was = before.and_then(request_of);
        let Some((broker, request)) = request_of(after) else {
            if was.is_some() {
                self.retrying(now, config, traces);
            }
            return;
        };
        if was.is_some_and(|(_, r)| r == request) {
            return;
        }
        if was.is_some() {
            self.retrying(now, config, traces);
        }
        let tp = self.tp.clone().map_or(String::new(), |tp| tp.to_string());
        if after.attempts == 0 {
            // Sent in the step that made it: it was in an open batch just before.
            let fresh = RecordPlace {
                state: BatchState::Queued {
                    closed: false,
                    behind: false,
                    exhausted: false,
                },
                ..after.clone()
            };
            let before = before.unwrap_or(&fresh);
            let mut reason = close_reason(before, now, config, newer, broker);
            reason += &self.waited(before, now, config, broker);
            self.step(
                now,
                StepKind::BatchClosed,
                "its batch closed".into(),
                reason,
            );
            let what = format!("Produce request to broker {broker}, the leader of {tp}");
            let why = format!(
                "at most max.in.flight.requests.per.connection = {} requests wait for answers \
                 per broker",
                config.max_in_flight
            );
            self.step(now, StepKind::Request, what, why);
        } else {
            let what = format!(
                "retry {}: Produce request to broker {broker}, the leader of {tp}",
                after.attempts
            );
            let why = format!(
                "after retry.backoff.ms = {} (growing up to retry.backoff.max.ms = {})",
                config.retry_backoff.as_millis(),
                config.retry_backoff_max.as_millis()
            );
            self.step(now, StepKind::Request, what, why);
        }
    }

    /// Why a batch ready to go (full, or past `linger.ms`) stayed in the accumulator.
    fn waited(
        &self,
        before: &RecordPlace,
        now: Instant,
        config: &ProducerConfig,
        broker: BrokerId,
    ) -> String {
        let linger_end = before.created_at + config.linger;
        let ready = self.full_since.map_or(linger_end, |f| f.min(linger_end));
        let waited = now.saturating_since(ready);
        if waited <= Duration::from_millis(1) {
            return String::new();
        }
        format!(
            "; it was ready at {ready} and waited {} for broker {broker} to take a request \
             (max.in.flight.requests.per.connection = {} unanswered, a connection backing off, \
             or the leader not known yet)",
            ms(waited),
            config.max_in_flight
        )
    }

    fn retrying(&mut self, now: Instant, config: &ProducerConfig, traces: &[TraceKind]) {
        let error = traces.iter().find_map(|t| match t {
            TraceKind::BatchRetrying { tp, error, .. } if Some(tp) == self.tp.as_ref() => {
                Some(*error)
            }
            _ => None,
        });
        let what = match error {
            Some(e) => format!("the request failed with {e}: its batch goes back to be retried"),
            None => "the request got no answer: its batch goes back to be retried".into(),
        };
        let why = format!(
            "retries = {}, until delivery.timeout.ms = {} after send()",
            config.retries,
            config.delivery_timeout.as_millis()
        );
        self.step(now, StepKind::Retry, what, why);
    }
}

impl Sim {
    /// The partition's replica on broker `b` after a step: an append, a follower's fetch, the
    /// high watermark, a truncation.
    fn watch_broker(&mut self, b: BrokerId) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        let (id, Some(tp)) = (w.journey.record, w.tp.clone()) else {
            return;
        };
        let Some(replica) = self.brokers[b.0 as usize].broker.replica(&tp) else {
            return;
        };
        let leads = replica.is_leader(b);
        let end = replica.log.log_end();
        let appended = match w.pre_log_end {
            Some((pb, pre_end)) if pb == b && leads && end > pre_end => replica
                .log
                .records_between(pre_end, end)
                .find(|(_, r)| r.id == id)
                .map(|(o, _)| o),
            _ => None,
        };
        let has = |o: Offset| replica.log.record_at(o).is_some_and(|r| r.id == id);
        let look = ReplicaLook {
            broker: b,
            leads,
            end,
            appended,
            epoch: replica.leader_epoch,
            isr: replica.isr.clone(),
            min_isr: replica.config.min_insync_replicas,
            hw: replica.high_watermark,
            holds: w.offset.is_some_and(has) || appended.is_some(),
            log_start: replica.log.log_start(),
        };
        let now = self.now;
        if let Some(Watch::Record(w)) = &mut self.watch {
            w.on_replica(now, &look);
        }
    }
}

/// What a replica of the record's partition holds after a step.
struct ReplicaLook {
    broker: BrokerId,
    leads: bool,
    end: Offset,
    /// Where this step's append put the record, if it did.
    appended: Option<Offset>,
    epoch: LeaderEpoch,
    isr: Vec<BrokerId>,
    min_isr: u32,
    hw: Offset,
    /// It holds the record at its latest offset.
    holds: bool,
    log_start: Offset,
}

impl RecordWatch {
    fn on_replica(&mut self, now: Instant, r: &ReplicaLook) {
        if let Some(o) = r.appended {
            self.appended(now, r.broker, o, r.epoch, &r.isr, r.min_isr);
        }
        let Some(o) = self.offset else { return };
        let b = r.broker;
        if r.holds && self.holders.insert(b) && !r.leads {
            let missing: Vec<BrokerId> = (r.isr.iter().copied())
                .filter(|m| !self.holders.contains(m))
                .collect();
            let what = format!("follower broker {b} fetched it (its log end now {})", r.end);
            let why = match missing.len() {
                0 => "followers fetch from the leader continuously; every ISR replica has it now"
                    .to_string(),
                _ => format!(
                    "still waiting for {} to fetch offset {o}",
                    broker_list(&missing)
                ),
            };
            self.step(now, StepKind::Replicated, what, why);
        }
        if !r.holds && o >= r.log_start && self.holders.remove(&b) {
            if self.holders.is_empty() {
                self.appended_at.retain(|&a| a != o);
            }
            let what = format!("broker {b} truncated it: its log now ends at {}", r.end);
            let why = "its log diverged from the leader's (a record the new leader never had is \
                       removed, KIP-101)"
                .to_string();
            self.step(now, StepKind::Truncated, what, why);
        }
        if r.leads && r.holds && !self.hw_passed && r.hw > o {
            self.hw_passed = true;
            let what = format!("the high watermark passed offset {o} (now {})", r.hw);
            let why = format!(
                "every in-sync replica ({}) has it: consumers read only below the high watermark",
                broker_list(&r.isr)
            );
            self.step(now, StepKind::HighWatermark, what, why);
        }
    }
}

impl RecordWatch {
    fn appended(
        &mut self,
        now: Instant,
        b: BrokerId,
        o: Offset,
        epoch: LeaderEpoch,
        isr: &[BrokerId],
        min_isr: u32,
    ) {
        let again = self.offset.is_some() && !self.holders.is_empty();
        self.offset = Some(o);
        self.appended_at.push(o);
        self.journey.offset = Some(o.0);
        self.holders = BTreeSet::from([b]);
        self.hw_passed = false;
        let acks = self.config.as_ref().map_or(Acks::All, |c| c.acks);
        let followers: Vec<BrokerId> = isr.iter().copied().filter(|&r| r != b).collect();
        let (kind, what) = if again {
            let times = match self.appended_at.len() {
                2 => "twice".to_string(),
                n => format!("{n} times"),
            };
            let what = format!(
                "broker {b} appended it again, at offset {o}: a retry of a batch already \
                 written, so the record is in the log {times}"
            );
            (StepKind::AppendedAgain, what)
        } else {
            let what =
                format!("broker {b}, the leader at epoch {epoch}, appended it at offset {o}");
            (StepKind::Appended, what)
        };
        let mut why = acks_why(acks, min_isr);
        if acks == Acks::All && !followers.is_empty() {
            let numbers: Vec<String> = followers.iter().map(|f| f.0.to_string()).collect();
            let who = match numbers.len() {
                1 => format!("follower {} has", numbers[0]),
                _ => format!("followers {} have", numbers.join(", ")),
            };
            why += &format!("; waiting for the high watermark: {who} not fetched offset {o} yet");
        }
        if again {
            why = "the first attempt was appended but its answer never arrived; without \
                   enable.idempotence the leader cannot tell a retry from a new batch"
                .into();
        }
        self.step(now, kind, what, why);
    }
}

impl Sim {
    /// A trace event about the record's partition.
    fn watch_trace(&mut self, kind: &TraceKind) {
        use TraceKind as K;
        match kind {
            K::DuplicateBatch {
                broker,
                base_offset,
                ..
            } => self.watch_duplicate(*broker, *base_offset),
            K::LeaderElected {
                leader,
                leader_epoch,
                unclean,
                ..
            } => self.watch_election(*leader, *leader_epoch, *unclean),
            K::SegmentsDeleted {
                broker, log_start, ..
            } => self.watch_retention(*broker, *log_start),
            K::RecordsPolled {
                consumer,
                first,
                last,
                ..
            } => self.watch_poll(*consumer, *first, *last),
            _ => {}
        }
    }

    fn watch_duplicate(&mut self, broker: BrokerId, base_offset: Offset) {
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        let (Some(tp), Some(place)) = (w.tp.as_ref(), w.place.as_ref()) else {
            return;
        };
        let Some(replica) = self.brokers[broker.0 as usize].broker.replica(tp) else {
            return;
        };
        let end = Offset(base_offset.0 + u64::from(place.batch_records));
        let id = w.journey.record;
        if !replica
            .log
            .records_between(base_offset, end)
            .any(|(_, r)| r.id == id)
        {
            return;
        }
        let what = format!(
            "broker {broker} recognised the retry as a duplicate and did not append it again"
        );
        let why = "enable.idempotence = true: the leader remembers the sequence numbers of each \
                   producer's last five batches, and answers a retry with the first append's \
                   offset"
            .to_string();
        w.step(self.now, StepKind::DuplicateRefused, what, why);
    }

    fn watch_election(&mut self, leader: BrokerId, epoch: LeaderEpoch, unclean: bool) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        if w.sent_at.is_none() || w.ended.is_some() {
            return;
        }
        let (Some(tp), Some(o)) = (w.tp.clone(), w.offset) else {
            return;
        };
        let id = w.journey.record;
        let has = self.brokers[leader.0 as usize]
            .broker
            .replica(&tp)
            .and_then(|r| r.log.record_at(o))
            .is_some_and(|r| r.id == id);
        let now = self.now;
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        let what = format!("broker {leader} became leader of {tp} at epoch {epoch}");
        let why = match (has, unclean) {
            (true, _) => "it has the record: it stays at its offset".to_string(),
            (false, true) => {
                "an unclean election (unclean.leader.election.enable): the new leader \
                              was not in the ISR and does not have it"
                    .to_string()
            }
            (false, false) => format!("the new leader does not have offset {o}'s record"),
        };
        w.step(now, StepKind::LeaderElected, what, why);
        if !has && w.acked {
            let what = format!(
                "lost in a failover: acknowledged at offset {o}, not in broker {leader}'s log"
            );
            let why = match w.config.as_ref().map(|c| c.acks) {
                Some(Acks::All) if !unclean => {
                    "the leader acknowledged it before the ISR had it".to_string()
                }
                Some(Acks::All) => "only an out-of-sync replica could lead".to_string(),
                _ => "acks=1: the leader acknowledged it before any follower had it, then lost \
                      its leadership (it crashed, or was cut off and fenced)"
                    .to_string(),
            };
            w.end(now, EndKind::Lost, what, why);
        }
    }

    fn watch_retention(&mut self, broker: BrokerId, log_start: Offset) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        let (Some(tp), Some(o)) = (w.tp.clone(), w.offset) else {
            return;
        };
        let leader = self.controller.metadata().leader(&tp.topic, tp.partition);
        if o >= log_start || w.ended.is_some() || leader != Some(broker) {
            return;
        }
        let config = self.brokers[broker.0 as usize]
            .broker
            .replica(&tp)
            .map(|r| r.config.clone());
        let why = match config {
            Some(c) => format!(
                "retention.ms = {}, retention.bytes = {}: whole segments past either are deleted",
                c.retention_ms.map_or("-1".into(), |v| v.to_string()),
                c.retention_bytes.map_or("-1".into(), |v| v.to_string())
            ),
            None => "retention deleted the segment".into(),
        };
        let what = format!("expired by retention: broker {broker}'s log now starts at {log_start}");
        let now = self.now;
        if let Some(Watch::Record(w)) = &mut self.watch {
            w.end(now, EndKind::Expired, what, why);
        }
    }

    fn watch_poll(&mut self, consumer: u32, first: Offset, last: Offset) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        // Only offsets that still hold it: a truncated offset holds another record later.
        if !w.appended_at.iter().any(|&o| first <= o && o <= last) || w.holders.is_empty() {
            return;
        }
        let Some(c) = self
            .consumers
            .get(consumer as usize)
            .and_then(Option::as_ref)
        else {
            return;
        };
        let name = c.spec.name.clone();
        let per_record = c.spec.processing_per_record;
        let now = self.now;
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        w.polled.insert(consumer, now);
        let what =
            format!("poll() returned it to {name}'s application (offsets {first} to {last})");
        let why = format!(
            "the application processes the records of a poll one after another, {} each",
            ms(per_record)
        );
        w.step(now, StepKind::Polled, what, why);
    }
}

impl Sim {
    /// What the ledger learnt about the record: acknowledged, failed, processed.
    fn watch_observation(&mut self, observation: &Observation) {
        let now = self.now;
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        let id = w.journey.record;
        match observation {
            Observation::Acked {
                base_offset,
                records,
                ..
            } => {
                let index = records.iter().position(|r| r.id == id).unwrap_or(0) as u64;
                let offset = base_offset.map(|b| Offset(b.0 + index));
                w.acked(now, offset);
            }
            Observation::Failed { error, .. } => w.failed(now, *error),
            Observation::Delivered { audience, .. } => w.processed(now, audience),
            Observation::CommitAcked { .. }
            | Observation::Transformed { .. }
            | Observation::Handled { .. } => {}
        }
    }

    /// Groups that processed the record and have since committed an offset past it.
    fn watch_commits(&mut self) {
        let Some(Watch::Record(w)) = &self.watch else {
            return;
        };
        let (Some(tp), Some(o)) = (w.tp.as_ref(), w.offset) else {
            return;
        };
        let mut newly = Vec::new();
        let groups = w.processed.difference(&w.committed);
        for audience in groups {
            let Some(name) = audience.strip_prefix("group:") else {
                continue;
            };
            let (_, _, group) = self.coordinator_of(name);
            let committed = group.and_then(|g| g.offsets.get(tp)).copied();
            if let Some(c) = committed.filter(|&c| c > o) {
                newly.push((audience.clone(), c));
            }
        }
        let now = self.now;
        let Some(Watch::Record(w)) = &mut self.watch else {
            return;
        };
        for (group, c) in newly {
            let what = format!("{} committed offset {c}, past it", reader_name(&group));
            let why = "a member that restarts or takes the partition over resumes at the \
                       committed offset: the group will not process it again"
                .to_string();
            w.committed.insert(group);
            w.step(now, StepKind::Committed, what, why);
        }
    }
}

impl RecordWatch {
    fn acked(&mut self, now: Instant, offset: Option<Offset>) {
        self.acked = true;
        let latency = now.saturating_since(self.sent_at.unwrap_or(now));
        let acks = self.config.as_ref().map_or(Acks::All, |c| c.acks);
        let at = offset.map_or(String::new(), |o| format!(" at offset {o}"));
        let what = format!(
            "acknowledged{at} after {} (acks={})",
            ms(latency),
            acks.name()
        );
        let why = acks_why(acks, 0)
            .split(" (and only while")
            .next()
            .unwrap_or_default()
            .to_string();
        self.step(now, StepKind::Acknowledged, what, why);
    }

    fn failed(&mut self, now: Instant, error: crate::protocol::ErrorCode) {
        use crate::protocol::ErrorCode as E;
        let config = self.config.as_ref();
        let ms_of = |d: Option<Duration>| d.map_or("?".into(), |d| d.as_millis().to_string());
        let why = match error {
            E::DeliveryTimeout => format!(
                "delivery.timeout.ms = {} passed since send() without an acknowledgement",
                ms_of(config.map(|c| c.delivery_timeout))
            ),
            E::MetadataTimeout => format!(
                "max.block.ms = {} passed without metadata for the topic",
                ms_of(config.map(|c| c.max_block))
            ),
            E::BufferExhausted => format!(
                "max.block.ms = {} passed without room in buffer.memory",
                ms_of(config.map(|c| c.max_block))
            ),
            _ => "the error is not retriable, or retries ran out".into(),
        };
        let what = format!("failed: the producer gave up with {error}");
        self.end(now, EndKind::Failed, what, why);
    }

    fn processed(&mut self, now: Instant, audience: &Arc<str>) {
        let since = self.polled.values().max().copied();
        let reader = reader_name(audience);
        if self.processed.insert(audience.clone()) {
            let what = format!("{reader}: the application finished processing it");
            let why = match since {
                Some(p) => format!(
                    "{} after poll() returned it: the application counts a poll's records \
                     processed when it has processed them all",
                    ms(now.saturating_since(p))
                ),
                None => "processed after poll()".into(),
            };
            self.step(now, StepKind::Processed, what, why);
        } else {
            let what = format!("{reader} processed it again: a duplicate");
            let why = if self.appended_at.len() > 1 {
                "it is in the log more than once (see the appends above)".to_string()
            } else {
                "it was read again from an older committed offset (after a crash or a \
                 rebalance)"
                    .to_string()
            };
            self.step(now, StepKind::Processed, what, why);
        }
    }
}
