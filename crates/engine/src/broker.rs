//! A broker: hosts partition replicas. As leader it appends produced batches (with the
//! idempotence checks), answers fetches from consumers (below the high watermark) and from
//! followers (up to its log end, detecting divergence by leader epoch), advances the high
//! watermark by Kafka's rule, and asks the controller to shrink or expand the ISR. As follower
//! it fetches from its leader, truncates where its log diverged (KIP-101/279), and appends.
//! It heartbeats to the controller and applies the metadata the controller publishes.
//!
//! It decides only from its own state and the message in hand (reference §2.3, §2.4, §3).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::Configs;
use crate::group::coordinator::{Coordinator, CoordinatorConfig, OFFSETS_TOPIC};
use crate::ledger::Observation;
use crate::log::{PartitionLog, SegmentPolicy};
use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Input, Timer};
use crate::protocol::{
    Acks, AlterPartitionRequest, AlterPartitionResponse, EpochEndOffset, ErrorCode, FetchPartition,
    FetchRequest, FetchResponse, FetchedPartition, ListOffsetsRequest, ListOffsetsResponse,
    Message, OffsetCommitRequest, OffsetSpec, OffsetsForLeaderEpochRequest,
    OffsetsForLeaderEpochResponse, PartitionProduceResult, ProduceRequest, ProduceResponse,
};
use crate::record::{record_size, Offset, RecordBatch, TopicPartition, BATCH_OVERHEAD};
use crate::time::{Duration, Instant};
use crate::trace::{NodeId, TraceKind};

use crate::replica::{propose_isr, RoleChange, SequenceCheck};
pub use crate::replica::{FollowerState, Replica};

/// How long a follower waits for a fetch response before sending another.
const REPLICA_FETCH_TIMEOUT: Duration = Duration(30_000_000);

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

impl DelayedProduce {
    /// Sends the produce response with every partition's result as it stands.
    fn answer(self, out: &mut Vec<Effect>) {
        let response = ProduceResponse {
            correlation_id: self.correlation_id,
            results: self.results,
        };
        out.push(Effect::Send {
            to: self.from,
            msg: Message::ProduceResponse(response),
        });
    }
}

/// A coordinator's write to `__consumer_offsets` waiting to be replicated, up to
/// `offsets.commit.timeout.ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DelayedWrite {
    tp: TopicPartition,
    required: Offset,
    what: Written,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Written {
    /// An offset commit, answered then.
    Commit {
        from: NodeId,
        request: OffsetCommitRequest,
        /// Where its records went, for the checker.
        appended: CommitAcked,
    },
    /// A generation's assignment, whose SyncGroup answers wait for it (`storeGroup`).
    Generation { group: Arc<str>, generation: i32 },
}

impl DelayedWrite {
    /// Replicated, failed or timed out: the commit is answered, the generation settled.
    fn settle(self, error: ErrorCode, now: Instant, broker: &mut Broker, out: &mut Vec<Effect>) {
        match self.what {
            Written::Commit {
                from,
                request,
                appended,
            } => {
                if error == ErrorCode::None {
                    appended.observe(self.tp, out);
                }
                let msg = Message::OffsetCommitResponse {
                    correlation_id: request.correlation_id,
                    error,
                };
                out.push(Effect::Send { to: from, msg });
            }
            Written::Generation { group, generation } => {
                let error = match error {
                    // Kafka's `storeGroup` maps the append's errors so.
                    ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
                    e => e,
                };
                let c = &mut broker.coordinator;
                c.generation_stored(now, &group, generation, error, out);
            }
        }
    }
}

/// A commit's records in `__consumer_offsets`, observed when the commit is acknowledged: the
/// checker holds acknowledged commits to the same promise as acknowledged records.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CommitAcked {
    base_offset: Offset,
    records: Arc<Vec<crate::record::Record>>,
}

impl CommitAcked {
    fn observe(self, tp: TopicPartition, out: &mut Vec<Effect>) {
        out.push(Effect::Observe(Observation::CommitAcked {
            tp,
            base_offset: self.base_offset,
            records: self.records,
        }));
    }
}

/// A broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub id: u32,
    incarnation: u32,
    metadata: Arc<ClusterMetadata>,
    replicas: BTreeMap<TopicPartition, Replica>,
    parked_fetches: BTreeMap<u64, ParkedFetch>,
    delayed_produces: BTreeMap<u64, DelayedProduce>,
    delayed_writes: BTreeMap<u64, DelayedWrite>,
    pub coordinator: Coordinator,
    offsets_commit_timeout: Duration,
    /// Whether it has applied the controller's metadata since it (re)started.
    caught_up: bool,
    /// `auto.create.topics.enable`, and the topics it asked the controller to create.
    auto_create: bool,
    creating: BTreeSet<Arc<str>>,
    /// As leader: numbers the ISR changes it proposes.
    next_proposal: u64,
    /// As follower: the fetch in flight to each leader (correlation id).
    replica_fetches: BTreeMap<u32, u32>,
    replica_fetch_backoff_until: Instant,
    next_request_id: u64,
    next_correlation_id: u32,
    retention_check: Duration,
    heartbeat_interval: Duration,
    replica_lag_max: Duration,
    replica_fetch_wait: u32,
    replica_fetch_max_bytes: u32,
    replica_fetch_backoff: Duration,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted: crate::planted::Planted,
}

impl Broker {
    pub fn new(id: u32, metadata: Arc<ClusterMetadata>, configs: &Configs) -> Broker {
        let ms = |k: &str| Duration::from_millis(configs.int(k) as u64);
        Broker {
            id,
            incarnation: 0,
            metadata,
            replicas: BTreeMap::new(),
            parked_fetches: BTreeMap::new(),
            delayed_produces: BTreeMap::new(),
            delayed_writes: BTreeMap::new(),
            coordinator: Coordinator::new(
                id,
                CoordinatorConfig {
                    initial_rebalance_delay: ms("group.initial.rebalance.delay.ms"),
                    min_session_timeout_ms: configs.int("group.min.session.timeout.ms") as u32,
                    max_session_timeout_ms: configs.int("group.max.session.timeout.ms") as u32,
                    offsets_partitions: configs.int("offsets.topic.num.partitions") as u32,
                },
            ),
            offsets_commit_timeout: ms("offsets.commit.timeout.ms"),
            caught_up: true,
            auto_create: configs.bool("auto.create.topics.enable"),
            creating: BTreeSet::new(),
            next_proposal: 0,
            replica_fetches: BTreeMap::new(),
            replica_fetch_backoff_until: Instant::ZERO,
            next_request_id: 0,
            next_correlation_id: 0,
            retention_check: ms("log.retention.check.interval.ms"),
            heartbeat_interval: ms("broker.heartbeat.interval.ms"),
            replica_lag_max: ms("replica.lag.time.max.ms"),
            replica_fetch_wait: configs.int("replica.fetch.wait.max.ms") as u32,
            replica_fetch_max_bytes: configs.int("replica.fetch.max.bytes") as u32,
            replica_fetch_backoff: Duration::from_millis(1000),
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        }
    }

    /// Called when the broker process starts (first time or after a crash).
    pub fn start(&mut self, now: Instant, incarnation: u32, out: &mut Vec<Effect>) {
        self.incarnation = incarnation;
        out.push(Effect::SetTimer {
            at: now + self.retention_check,
            timer: Timer::RetentionCheck,
        });
        out.push(Effect::SetTimer {
            at: now + Duration(self.replica_lag_max.as_micros() / 2),
            timer: Timer::IsrCheck,
        });
        self.heartbeat(out);
        out.push(Effect::SetTimer {
            at: now + self.heartbeat_interval,
            timer: Timer::Heartbeat,
        });
        // Leading and following wait for the controller's metadata (`apply_metadata`).
    }

    fn load_offsets_partition(&mut self, now: Instant, partition: u32, out: &mut Vec<Effect>) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let Some(replica) = self.replicas.get(&tp) else {
            return;
        };
        let log = &replica.log;
        let records = log.records_between(log.log_start(), log.log_end());
        let hw = replica.high_watermark;
        self.coordinator.load(now, partition, records, hw, out);
    }

    /// The high watermark of an offsets partition this broker coordinates moved: the commits
    /// it passed are committed (whether or not their requests timed out meanwhile).
    fn apply_offset_commits(&mut self, tp: &TopicPartition) {
        let Some(applied) = self.coordinator.applied(tp.partition) else {
            return;
        };
        let replica = &self.replicas[tp];
        let hw = replica.high_watermark;
        if hw > applied {
            let records = replica.log.records_between(applied, hw).map(|(_, r)| r);
            self.coordinator.apply_commits(tp.partition, records, hw);
        }
    }

    /// Appends the group metadata the coordinator wants persisted (acks=all); a generation's
    /// SyncGroup answers wait until its record is replicated.
    fn persist_groups(&mut self, now: Instant, out: &mut Vec<Effect>) {
        for w in self.coordinator.take_appends(now) {
            let batch = internal_batch(vec![w.record]);
            let tp = TopicPartition::new(OFFSETS_TOPIC, w.partition);
            let (result, wait_for) = self.append_as_leader(now, tp.clone(), batch, Acks::All, out);
            let Some(generation) = w.generation else {
                continue;
            };
            let what = Written::Generation {
                group: w.group,
                generation,
            };
            self.await_write(now, tp, result.error, wait_for, what, out);
        }
    }

    /// An append to `__consumer_offsets` was made: settle it now if it is replicated or
    /// failed, else when the high watermark passes `wait_for` (or the timeout).
    fn await_write(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        error: ErrorCode,
        wait_for: Option<Offset>,
        what: Written,
        out: &mut Vec<Effect>,
    ) {
        let write = DelayedWrite {
            tp,
            required: wait_for.unwrap_or(Offset(0)),
            what,
        };
        let error = match error {
            // Kafka maps log append errors of the offsets topic to coordinator errors.
            ErrorCode::NotLeaderOrFollower | ErrorCode::UnknownTopicOrPartition => {
                ErrorCode::NotCoordinator
            }
            ErrorCode::NotEnoughReplicas | ErrorCode::NotEnoughReplicasAfterAppend => {
                ErrorCode::CoordinatorNotAvailable
            }
            e => e,
        };
        if error != ErrorCode::None || wait_for.is_none() {
            return write.settle(error, now, self, out);
        }
        let id = self.next_id();
        out.push(Effect::SetTimer {
            at: now + self.offsets_commit_timeout,
            timer: Timer::CoordinatorWriteExpiry { id },
        });
        self.delayed_writes.insert(id, write);
    }

    /// The process died: requests held in memory are gone; logs on disk survive.
    pub fn crash(&mut self) {
        self.parked_fetches.clear();
        self.delayed_produces.clear();
        self.delayed_writes.clear();
        self.coordinator.crash();
        self.replica_fetches.clear();
        // The fetcher's backoff was in memory too, and its wake-up timer died with the process:
        // kept, it silenced the restarted follower until some metadata happened to arrive
        // (swarm seed 76367: restarted 303 ms after a failed fetch, inside the 1 s
        // `replica.fetch.backoff.ms`, broker 2 never fetched again and stayed out of the ISR).
        self.replica_fetch_backoff_until = Instant::ZERO;
        self.creating.clear();
        // What it knew of leaders and followers was in memory too: it learns again from the
        // controller before it serves anything.
        self.caught_up = false;
        for r in self.replicas.values_mut() {
            r.pending_isr = None;
            r.followers.clear();
            r.leader = None;
        }
    }

    /// Whether the broker accepts connections: not between a restart and its first metadata.
    pub fn is_serving(&self) -> bool {
        self.caught_up
    }

    pub fn replicas(&self) -> &BTreeMap<TopicPartition, Replica> {
        &self.replicas
    }

    pub fn replica(&self, tp: &TopicPartition) -> Option<&Replica> {
        self.replicas.get(tp)
    }

    fn heartbeat(&self, out: &mut Vec<Effect>) {
        let msg = Message::BrokerHeartbeat {
            broker: self.id,
            incarnation: self.incarnation,
            metadata_version: self.metadata.version,
        };
        out.push(Effect::Send {
            to: NodeId::Controller,
            msg,
        });
    }

    /// A new metadata copy: create or drop local replicas and take up new roles. As a KRaft
    /// broker applies metadata deltas (`ReplicaManager.applyDelta`), only partitions whose state
    /// changed are touched: an unrelated change must not drop a leader's pending ISR change.
    /// The first copy after a (re)start is applied whole, and until then the broker serves
    /// nothing (a restarted KRaft broker catches up with the metadata log first).
    pub fn apply_metadata(
        &mut self,
        now: Instant,
        metadata: Arc<ClusterMetadata>,
        out: &mut Vec<Effect>,
    ) {
        let whole = !self.caught_up;
        if metadata.version <= self.metadata.version && !whole {
            return;
        }
        let me = self.id;
        let dropped: Vec<TopicPartition> = self
            .replicas
            .keys()
            .filter(|tp| {
                metadata
                    .partition(&tp.topic, tp.partition)
                    .is_none_or(|pm| !pm.replicas.contains(&me))
            })
            .cloned()
            .collect();
        let mut became_leader = Vec::new();
        let mut stopped_leading = Vec::new();
        let mut leads = Vec::new();
        for tp in dropped {
            if &*tp.topic == OFFSETS_TOPIC {
                stopped_leading.push(tp.partition);
            }
            self.replicas.remove(&tp);
            self.fail_waiting(&tp, out);
        }
        for (name, topic) in &metadata.topics {
            for (p, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: p as u32,
                };
                let unchanged = self.metadata.partition(name, p as u32) == Some(pm)
                    && self.replicas.contains_key(&tp);
                if !pm.replicas.contains(&me) || (unchanged && !whole) {
                    continue;
                }
                let policy = SegmentPolicy {
                    segment_bytes: topic.config.segment_bytes,
                    segment_ms: topic.config.segment_ms,
                };
                let replica = self.replicas.entry(tp.clone()).or_insert_with(|| {
                    Replica::new(PartitionLog::new(policy, now), pm, topic.config.clone())
                });
                let Some(change) = replica.apply_partition_state(me, pm, now) else {
                    continue;
                };
                let offsets = &**name == OFFSETS_TOPIC;
                match change {
                    RoleChange::BecameLeader | RoleChange::NewLeaderEpoch => {
                        // Reload even if this broker led before: it may have missed commits
                        // another leader took in between.
                        if offsets {
                            became_leader.push(tp.partition);
                        }
                        leads.push(tp);
                    }
                    RoleChange::StillLeads => leads.push(tp),
                    RoleChange::StoppedLeading => {
                        if offsets {
                            stopped_leading.push(tp.partition);
                        }
                        self.fail_waiting(&tp, out);
                    }
                    RoleChange::Follows => {}
                }
            }
        }
        self.metadata = metadata;
        self.caught_up = true;
        for p in stopped_leading {
            self.coordinator.unload(p, out);
        }
        for p in became_leader {
            self.coordinator.unload(p, out);
            self.load_offsets_partition(now, p, out);
        }
        // A smaller ISR may let the high watermark move (Kafka's `makeLeader` tries too).
        for tp in leads {
            let hw = self.next_high_watermark(now, &tp);
            self.set_high_watermark(now, &tp, hw, out);
        }
        self.send_replica_fetches(now, out);
    }

    /// The leader's next high watermark for `tp` (see `Replica::next_high_watermark`).
    fn next_high_watermark(&self, now: Instant, tp: &TopicPartition) -> Offset {
        if planted!(self, HwOverCommittedIsrOnly) {
            let r = &self.replicas[tp];
            if r.isr.len() < r.effective_min_isr() {
                return r.high_watermark;
            }
            let followers = r.isr.iter().filter_map(|m| r.followers.get(m));
            let ends = followers.map(|f| f.log_end.unwrap_or(Offset(0)));
            let hw = ends.fold(r.log.log_end(), Offset::min);
            return hw.max(r.high_watermark);
        }
        let metadata = &self.metadata;
        self.replicas[tp].next_high_watermark(self.id, now, self.replica_lag_max, |b| {
            isr_eligible(metadata, b)
        })
    }

    /// This broker no longer leads `tp`: answer what waited on it.
    fn fail_waiting(&mut self, tp: &TopicPartition, out: &mut Vec<Effect>) {
        let writes: Vec<u64> = self
            .delayed_writes
            .iter()
            .filter(|(_, d)| d.tp == *tp)
            .map(|(&id, _)| id)
            .collect();
        for id in writes {
            let d = self.delayed_writes.remove(&id).expect("present");
            d.settle(ErrorCode::NotCoordinator, Instant::ZERO, self, out);
        }
        let ids: Vec<u64> = self
            .delayed_produces
            .iter()
            .filter(|(_, d)| d.waiting.iter().any(|&(i, _)| d.results[i].tp == *tp))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let mut delayed = self.delayed_produces.remove(&id).expect("present");
            for &(i, _) in &delayed.waiting {
                if delayed.results[i].tp == *tp {
                    delayed.results[i].error = ErrorCode::NotLeaderOrFollower;
                }
            }
            delayed
                .waiting
                .retain(|&(i, _)| delayed.results[i].tp != *tp);
            if delayed.waiting.is_empty() {
                delayed.answer(out);
            } else {
                self.delayed_produces.insert(id, delayed);
            }
        }
        let parked: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, p)| p.request.partitions.iter().any(|fp| fp.tp == *tp))
            .map(|(&id, _)| id)
            .collect();
        for id in parked {
            let parked = self.parked_fetches.remove(&id).expect("present");
            let response = self.read_fetch(Instant::ZERO, &parked.request, false, out);
            out.push(Effect::Send {
                to: parked.from,
                msg: Message::FetchResponse(response),
            });
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        match input {
            Input::Message { from, msg } => self.on_message(now, from, msg, out),
            Input::Disconnected {
                peer: NodeId::Broker(leader),
            } => {
                if self.replica_fetches.remove(&leader).is_some() {
                    self.replica_fetch_backoff_until = now + self.replica_fetch_backoff;
                    out.push(Effect::SetTimer {
                        at: self.replica_fetch_backoff_until,
                        timer: Timer::ReplicaFetchBackoff,
                    });
                }
            }
            Input::Disconnected {
                peer: NodeId::Controller,
            } => {
                self.creating.clear();
                self.resend_isr_changes(out);
            }
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::FetchExpiry { id }) => {
                if let Some(parked) = self.parked_fetches.remove(&id) {
                    let response = self.read_fetch(now, &parked.request, false, out);
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
                    delayed.answer(out);
                }
            }
            Input::Timer(Timer::CoordinatorWriteExpiry { id }) => {
                if let Some(d) = self.delayed_writes.remove(&id) {
                    d.settle(ErrorCode::RequestTimedOut, now, self, out);
                }
            }
            Input::Timer(Timer::GroupDeadline { group }) => {
                self.coordinator.on_deadline(now, group, out);
                self.persist_groups(now, out);
            }
            Input::Timer(Timer::RetentionCheck) => {
                self.apply_retention(now, out);
                out.push(Effect::SetTimer {
                    at: now + self.retention_check,
                    timer: Timer::RetentionCheck,
                });
            }
            Input::Timer(Timer::Heartbeat) => {
                self.heartbeat(out);
                out.push(Effect::SetTimer {
                    at: now + self.heartbeat_interval,
                    timer: Timer::Heartbeat,
                });
            }
            Input::Timer(Timer::IsrCheck) => {
                self.shrink_isrs(now, out);
                out.push(Effect::SetTimer {
                    at: now + Duration(self.replica_lag_max.as_micros() / 2),
                    timer: Timer::IsrCheck,
                });
            }
            Input::Timer(Timer::ReplicaFetchTimeout {
                leader,
                correlation_id,
            }) => {
                if self.replica_fetches.get(&leader) == Some(&correlation_id) {
                    self.replica_fetches.remove(&leader);
                    self.send_replica_fetches(now, out);
                }
            }
            Input::Timer(Timer::ReplicaFetchBackoff) => self.send_replica_fetches(now, out),
            Input::Timer(
                other @ (Timer::Wake
                | Timer::RequestTimeout { .. }
                | Timer::SessionCheck
                | Timer::LeaderRebalance),
            ) => {
                unreachable!("broker got timer {other:?}")
            }
        }
    }

    fn on_message(&mut self, now: Instant, from: NodeId, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            Message::MetadataRequest {
                correlation_id,
                topics,
                allow_auto_create,
            } => {
                if self.auto_create && allow_auto_create {
                    self.create_missing(&topics, out);
                }
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
            Message::FetchResponse(response) => {
                self.on_replica_fetch_response(now, from, response, out)
            }
            Message::ListOffsetsRequest(request) => {
                let response = self.list_offsets(&request);
                out.push(Effect::Send {
                    to: from,
                    msg: Message::ListOffsetsResponse(response),
                });
            }
            Message::OffsetsForLeaderEpochRequest(request) => {
                let response = self.offsets_for_leader_epoch(&request);
                out.push(Effect::Send {
                    to: from,
                    msg: Message::OffsetsForLeaderEpochResponse(response),
                });
            }
            Message::MetadataUpdate { metadata } => self.apply_metadata(now, metadata, out),
            Message::CreateTopicsResponse { topic, .. } => {
                // Created (the metadata brings it) or refused (the next request asks again).
                self.creating.remove(&topic);
            }
            Message::AlterPartitionResponse(response) => {
                self.on_alter_partition_response(now, response, out)
            }
            Message::FindCoordinator {
                correlation_id,
                group_id,
            } => {
                let partition = self.coordinator.partition_of(&group_id);
                let coordinator = self.metadata.leader(OFFSETS_TOPIC, partition);
                let error = match coordinator {
                    Some(_) => ErrorCode::None,
                    None => ErrorCode::CoordinatorNotAvailable,
                };
                let msg = Message::FindCoordinatorResponse {
                    correlation_id,
                    error,
                    coordinator,
                };
                out.push(Effect::Send { to: from, msg });
            }
            Message::OffsetCommit(req) => self.on_offset_commit(now, from, req, out),
            msg @ (Message::JoinGroup(_)
            | Message::SyncGroup(_)
            | Message::Heartbeat(_)
            | Message::LeaveGroup(_)
            | Message::OffsetFetch { .. }) => {
                self.coordinator.handle(now, from, msg, out);
                self.persist_groups(now, out);
            }
            Message::MetadataResponse { .. }
            | Message::ProduceResponse(_)
            | Message::ListOffsetsResponse(_)
            | Message::OffsetsForLeaderEpochResponse(_)
            | Message::BrokerHeartbeat { .. }
            | Message::AlterPartition(_)
            | Message::CreateTopics { .. }
            | Message::FindCoordinatorResponse { .. }
            | Message::JoinGroupResponse(_)
            | Message::SyncGroupResponse(_)
            | Message::HeartbeatResponse { .. }
            | Message::LeaveGroupResponse { .. }
            | Message::OffsetCommitResponse { .. }
            | Message::OffsetFetchResponse { .. } => unreachable!("broker got {}", msg.kind()),
        }
    }

    /// OffsetCommit: validated by the coordinator, appended to `__consumer_offsets` with
    /// acks=all, answered when replicated (or after `offsets.commit.timeout.ms`).
    fn on_offset_commit(
        &mut self,
        now: Instant,
        from: NodeId,
        request: OffsetCommitRequest,
        out: &mut Vec<Effect>,
    ) {
        let answer = |error, out: &mut Vec<Effect>| {
            let msg = Message::OffsetCommitResponse {
                correlation_id: request.correlation_id,
                error,
            };
            out.push(Effect::Send { to: from, msg });
        };
        if !self.coordinator.coordinates(&request.group_id) {
            return answer(ErrorCode::NotCoordinator, out);
        }
        let plan = match self.coordinator.plan_commit(now, &request) {
            Ok(plan) => plan,
            Err(error) => return answer(error, out),
        };
        if plan.records.is_empty() {
            return answer(ErrorCode::None, out);
        }
        let batch = internal_batch(plan.records);
        let records = batch.records.clone();
        let tp = TopicPartition::new(OFFSETS_TOPIC, plan.partition);
        let (result, wait_for) = self.append_as_leader(now, tp.clone(), batch, Acks::All, out);
        let appended = CommitAcked {
            base_offset: result.base_offset.unwrap_or(Offset(0)),
            records,
        };
        let what = Written::Commit {
            from,
            request,
            appended,
        };
        self.await_write(now, tp, result.error, wait_for, what, out);
    }

    /// The high watermark of an offsets partition moved: settle the writes it passed.
    fn complete_delayed_writes(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        let done: Vec<u64> = self
            .delayed_writes
            .iter()
            .filter(|(_, d)| d.tp == *tp && hw >= d.required)
            .map(|(&id, _)| id)
            .collect();
        for id in done {
            let d = self.delayed_writes.remove(&id).expect("present");
            d.settle(ErrorCode::None, now, self, out);
        }
    }

    fn leader_replica(&mut self, tp: &TopicPartition) -> Result<&mut Replica, ErrorCode> {
        if !self.metadata.topics.contains_key(&tp.topic) {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        let me = self.id;
        match self.replicas.get_mut(tp) {
            Some(r) if r.is_leader(me) => Ok(r),
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
        let (append_duplicates, append_out_of_order, ack_early) = (
            planted!(self, DuplicateAppend),
            planted!(self, OutOfOrderAccepted),
            planted!(self, AckBeforeHighWatermark),
        );
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
        let check = match replica.check_sequence(&batch) {
            SequenceCheck::Duplicate(_) if append_duplicates => SequenceCheck::Append,
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber) if append_out_of_order => {
                SequenceCheck::Append
            }
            check => check,
        };
        match check {
            SequenceCheck::Reject(error) => return fail(tp, error),
            SequenceCheck::Duplicate(base_offset) => {
                out.push(Effect::Trace(TraceKind::DuplicateBatch {
                    broker,
                    tp: tp.clone(),
                    base_offset,
                }));
                // The original append may not be replicated yet: with acks=all the answer waits
                // for the high watermark like any other append (Kafka's DelayedProduce).
                let next = Offset(base_offset.0 + u64::from(batch.record_count()));
                let wait_for = (acks == Acks::All && replica.high_watermark < next && !ack_early)
                    .then_some(next);
                let result = PartitionProduceResult {
                    tp,
                    error: ErrorCode::None,
                    base_offset: Some(base_offset),
                };
                return (result, wait_for);
            }
            SequenceCheck::Append => {}
        }
        let base_offset = replica.log.log_end();
        batch.base_offset = base_offset;
        batch.partition_leader_epoch = replica.leader_epoch as i32;
        let records = batch.record_count();
        let next = batch.next_offset();
        let segments_before = replica.log.segments().len();
        replica.append_stamped(batch, now);
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
        let hw = self.next_high_watermark(now, &tp);
        let wait_for = (acks == Acks::All && hw < next && !ack_early).then_some(next);
        // Followers parked on this partition can now be answered.
        self.complete_parked_fetches(now, &tp, out);
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
        if moved && &*tp.topic == OFFSETS_TOPIC {
            self.apply_offset_commits(tp);
        }
        if moved {
            self.complete_delayed_produces(tp, hw, out);
            if !self.delayed_writes.is_empty() {
                self.complete_delayed_writes(now, tp, hw, out);
            }
            self.complete_parked_fetches(now, tp, out);
        }
    }

    fn complete_delayed_produces(
        &mut self,
        tp: &TopicPartition,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        if self.delayed_produces.is_empty() {
            return;
        }
        let below_min_isr = self
            .replicas
            .get(tp)
            .is_some_and(|r| r.isr.len() < r.effective_min_isr());
        let mut done = Vec::new();
        for (&id, delayed) in &mut self.delayed_produces {
            let mut satisfied = Vec::new();
            delayed.waiting.retain(|&(i, required)| {
                let ok = delayed.results[i].tp == *tp && hw >= required;
                if ok {
                    satisfied.push(i);
                }
                !ok
            });
            for i in satisfied {
                if below_min_isr {
                    // Kafka's `Partition.checkEnoughReplicasReachOffset`. The high watermark
                    // does not advance while the ISR is below min.insync.replicas
                    // (`next_high_watermark`), so this does not happen as the code stands: the
                    // producer waits, then times out. Kept so the rule holds if that changes.
                    delayed.results[i].error = ErrorCode::NotEnoughReplicasAfterAppend;
                }
            }
            if delayed.waiting.is_empty() {
                done.push(id);
            }
        }
        for id in done {
            let delayed = self.delayed_produces.remove(&id).expect("present");
            delayed.answer(out);
        }
    }

    fn complete_parked_fetches(
        &mut self,
        now: Instant,
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
            if self.fetchable_bytes(&parked.request) >= u64::from(parked.request.min_bytes) {
                let parked = self.parked_fetches.remove(&id).expect("present");
                let response = self.read_fetch(now, &parked.request, false, out);
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
        let response = self.read_fetch(now, &request, true, out);
        let nothing_to_wait_for = response
            .partitions
            .iter()
            .any(|p| p.error != ErrorCode::None || p.diverging.is_some());
        let enough = fetched_bytes(&response) >= u64::from(request.min_bytes);
        if enough || nothing_to_wait_for || request.max_wait_ms == 0 {
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

    /// Bytes a fetch would return now, without side effects.
    fn fetchable_bytes(&self, request: &FetchRequest) -> u64 {
        let me = self.id;
        let mut bytes = 0;
        for fp in &request.partitions {
            let Some(r) = self.replicas.get(&fp.tp).filter(|r| r.is_leader(me)) else {
                return u64::MAX;
            };
            let limit = if request.replica_id.is_some() {
                r.log.log_end()
            } else {
                r.high_watermark
            };
            if fp.fetch_offset > limit || fp.fetch_offset < r.log.log_start() {
                return u64::MAX;
            }
            bytes +=
                r.log
                    .readable_bytes(fp.fetch_offset, limit, u64::from(fp.partition_max_bytes));
        }
        bytes
    }

    /// Reads what a fetch may see now: consumers below the high watermark, followers up to the
    /// log end. `first_arrival` is true when the request just came in: only then does a
    /// follower's fetch offset count as its log end offset.
    fn read_fetch(
        &mut self,
        now: Instant,
        request: &FetchRequest,
        first_arrival: bool,
        out: &mut Vec<Effect>,
    ) -> FetchResponse {
        let me = self.id;
        let mut remaining = u64::from(request.max_bytes);
        let mut partitions = Vec::with_capacity(request.partitions.len());
        let mut hw_moves = Vec::new();
        let (no_truncation, read_past_hw) = (
            planted!(self, NoTruncation),
            planted!(self, ReadPastHighWatermark),
        );
        let (metadata, lag_max) = (&self.metadata, self.replica_lag_max);
        for fp in &request.partitions {
            let Some(replica) = self.replicas.get_mut(&fp.tp).filter(|r| r.is_leader(me)) else {
                partitions.push(empty_fetch(&fp.tp, ErrorCode::NotLeaderOrFollower));
                continue;
            };
            if let Some(epoch) = fp.current_leader_epoch {
                let error = match epoch.cmp(&replica.leader_epoch) {
                    std::cmp::Ordering::Less => Some(ErrorCode::FencedLeaderEpoch),
                    std::cmp::Ordering::Greater => Some(ErrorCode::UnknownLeaderEpoch),
                    std::cmp::Ordering::Equal => None,
                };
                if let Some(error) = error {
                    partitions.push(empty_fetch(&fp.tp, error));
                    continue;
                }
            }
            let last_fetched_epoch = fp.last_fetched_epoch.filter(|_| !no_truncation);
            if let (Some(_), Some(last_epoch)) = (request.replica_id, last_fetched_epoch) {
                let (epoch, end) = replica.end_offset_for_epoch(last_epoch);
                if epoch != last_epoch || end < fp.fetch_offset {
                    let mut p = empty_fetch(&fp.tp, ErrorCode::None);
                    p.diverging = Some((epoch, end));
                    p.high_watermark = replica.high_watermark;
                    partitions.push(p);
                    continue;
                }
            }
            let log_end = replica.log.log_end();
            if fp.fetch_offset < replica.log.log_start() || fp.fetch_offset > log_end {
                let mut p = empty_fetch(&fp.tp, ErrorCode::OffsetOutOfRange);
                p.high_watermark = replica.high_watermark;
                p.log_start = replica.log.log_start();
                partitions.push(p);
                continue;
            }
            if let (Some(follower), true) = (request.replica_id, first_arrival) {
                if let Some(state) = replica.followers.get_mut(&follower) {
                    state.on_fetch(fp.fetch_offset, log_end, now);
                    // Revisited below only when the ISR may grow or the high watermark move:
                    // most partitions of a replica fetch have neither.
                    let may_join =
                        !replica.isr.contains(&follower) && replica.pending_isr.is_none();
                    let hw = replica
                        .next_high_watermark(me, now, lag_max, |b| isr_eligible(metadata, b));
                    if may_join || hw > replica.high_watermark {
                        hw_moves.push((fp.tp.clone(), partitions.len()));
                    }
                }
            }
            let limit = if request.replica_id.is_some() || read_past_hw {
                log_end
            } else {
                replica.high_watermark
            };
            let max_bytes = u64::from(fp.partition_max_bytes).min(remaining);
            let batches = if remaining == 0 {
                Vec::new()
            } else {
                replica.log.read(fp.fetch_offset, limit, max_bytes)
            };
            let bytes: u64 = batches.iter().map(|b| u64::from(b.size_bytes)).sum();
            remaining = remaining.saturating_sub(bytes);
            partitions.push(FetchedPartition {
                tp: fp.tp.clone(),
                error: ErrorCode::None,
                high_watermark: replica.high_watermark,
                log_start: replica.log.log_start(),
                batches,
                diverging: None,
            });
        }
        // A follower's progress may move the high watermark and grow the ISR.
        for (tp, index) in hw_moves {
            if let Some(follower) = request.replica_id {
                self.maybe_expand_isr(&tp, follower, out);
            }
            let hw = self.next_high_watermark(now, &tp);
            self.set_high_watermark(now, &tp, hw, out);
            partitions[index].high_watermark = self.replicas[&tp].high_watermark;
        }
        FetchResponse {
            correlation_id: request.correlation_id,
            partitions,
        }
    }

    /// ISR expansion (§3.3, Kafka's `maybeExpandIsr`): a follower outside the ISR that reached
    /// the high watermark and the start of the leader's epoch, and may join (not fenced), joins
    /// through the controller.
    fn maybe_expand_isr(&mut self, tp: &TopicPartition, follower: u32, out: &mut Vec<Effect>) {
        let me = self.id;
        let eligible = isr_eligible(&self.metadata, follower);
        let early = planted!(self, ExpandBeforeCaughtUp);
        let Some(r) = self.replicas.get_mut(tp) else {
            return;
        };
        if r.isr.contains(&follower) || r.pending_isr.is_some() || !eligible {
            return;
        }
        let fetched = r
            .followers
            .get(&follower)
            .is_some_and(|f| f.log_end.is_some());
        if r.may_join_isr(follower) || (early && fetched) {
            let mut isr = r.isr.clone();
            isr.push(follower);
            isr.sort_unstable();
            self.next_proposal += 1;
            propose_isr(r, tp, me, isr, self.next_proposal, out);
        }
    }

    /// ISR shrink (§3.3, Kafka's `maybeShrinkIsr`): followers not caught up within
    /// `replica.lag.time.max.ms` leave.
    fn shrink_isrs(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let me = self.id;
        let lag_max = self.replica_lag_max;
        for (tp, r) in &mut self.replicas {
            if !r.is_leader(me) || r.pending_isr.is_some() {
                continue;
            }
            let leo = r.log.log_end();
            let lagging: Vec<u32> = r
                .isr
                .iter()
                .filter(|&&f| f != me)
                .filter(|f| {
                    r.followers
                        .get(f)
                        .is_none_or(|s| !s.is_caught_up(leo, now, lag_max))
                })
                .copied()
                .collect();
            if lagging.is_empty() {
                continue;
            }
            let isr: Vec<u32> = r
                .isr
                .iter()
                .copied()
                .filter(|b| !lagging.contains(b))
                .collect();
            self.next_proposal += 1;
            propose_isr(r, tp, me, isr, self.next_proposal, out);
        }
    }

    /// A client asked for topics that do not exist: ask the controller to create them, once
    /// each while the request is out (Kafka's `AutoTopicCreationManager`). The client sees
    /// them missing now and finds them on a later metadata request.
    fn create_missing(&mut self, topics: &[Arc<str>], out: &mut Vec<Effect>) {
        for topic in topics {
            if self.metadata.topics.contains_key(topic) || !self.creating.insert(topic.clone()) {
                continue;
            }
            out.push(Effect::Send {
                to: NodeId::Controller,
                msg: Message::CreateTopics {
                    topic: topic.clone(),
                },
            });
        }
    }

    /// The connection to the controller broke: ISR changes still pending may never have
    /// arrived, so they go again (Kafka's `AlterPartitionManager` retries until answered). The
    /// controller refuses a copy it already applied (a stale partition epoch), and the
    /// metadata it published settles the change.
    fn resend_isr_changes(&mut self, out: &mut Vec<Effect>) {
        let me = self.id;
        for (tp, r) in &self.replicas {
            let Some(pending) = r.pending_isr.as_ref().filter(|_| r.is_leader(me)) else {
                continue;
            };
            let request = AlterPartitionRequest {
                tp: tp.clone(),
                leader: me,
                leader_epoch: r.leader_epoch,
                partition_epoch: r.partition_epoch,
                new_isr: pending.isr.clone(),
                proposal: pending.proposal,
            };
            out.push(Effect::Send {
                to: NodeId::Controller,
                msg: Message::AlterPartition(request),
            });
        }
    }

    /// The controller's answer to an ISR change, handled as Kafka's `Partition` does: applied
    /// when it answers the pending proposal at the current epochs; dropped (back to the
    /// committed ISR) when the controller refused it outright; otherwise kept pending until the
    /// newer metadata the error speaks of arrives and settles it.
    fn on_alter_partition_response(
        &mut self,
        now: Instant,
        response: AlterPartitionResponse,
        out: &mut Vec<Effect>,
    ) {
        let me = self.id;
        let Some(r) = self.replicas.get_mut(&response.tp) else {
            return;
        };
        let answers_pending = r
            .pending_isr
            .as_ref()
            .is_some_and(|p| p.proposal == response.proposal);
        if !r.is_leader(me) || !answers_pending {
            return;
        }
        match response.error {
            ErrorCode::None
                if response.leader_epoch == r.leader_epoch
                    && response.partition_epoch >= r.partition_epoch =>
            {
                r.isr = response.isr;
                r.partition_epoch = response.partition_epoch;
                r.pending_isr = None;
                // A smaller ISR may let the high watermark move (and complete acks=all produces).
                let hw = self.next_high_watermark(now, &response.tp);
                self.set_high_watermark(now, &response.tp, hw, out);
            }
            ErrorCode::IneligibleReplica | ErrorCode::InvalidRequest => r.pending_isr = None,
            _ => {}
        }
    }

    /// As follower: one fetch per leader for every partition it leads and we follow.
    fn send_replica_fetches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if now < self.replica_fetch_backoff_until {
            return;
        }
        let me = self.id;
        let mut by_leader: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, r) in &self.replicas {
            let Some(leader) = r.leader.filter(|&l| l != me) else {
                continue;
            };
            if self.replica_fetches.contains_key(&leader) {
                continue;
            }
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: r.log.log_end(),
                partition_max_bytes: self.replica_fetch_max_bytes,
                current_leader_epoch: Some(r.leader_epoch),
                last_fetched_epoch: r.last_epoch(),
            });
        }
        for (leader, partitions) in by_leader {
            self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
            let correlation_id = self.next_correlation_id;
            let request = FetchRequest {
                correlation_id,
                replica_id: Some(me),
                max_wait_ms: self.replica_fetch_wait,
                min_bytes: 1,
                max_bytes: 10 * 1024 * 1024,
                partitions,
            };
            self.replica_fetches.insert(leader, correlation_id);
            out.push(Effect::Send {
                to: NodeId::Broker(leader),
                msg: Message::FetchRequest(request),
            });
            let at = now + REPLICA_FETCH_TIMEOUT;
            out.push(Effect::SetTimer {
                at,
                timer: Timer::ReplicaFetchTimeout {
                    leader,
                    correlation_id,
                },
            });
        }
    }

    fn on_replica_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: FetchResponse,
        out: &mut Vec<Effect>,
    ) {
        let NodeId::Broker(leader) = from else {
            unreachable!("fetch responses come from brokers")
        };
        if self.replica_fetches.get(&leader) != Some(&response.correlation_id) {
            return;
        }
        self.replica_fetches.remove(&leader);
        let me = self.id;
        let mut backoff = false;
        for fetched in response.partitions {
            let Some(r) = self.replicas.get_mut(&fetched.tp) else {
                continue;
            };
            if r.leader != Some(leader) {
                continue; // Leadership moved while the fetch was out.
            }
            if fetched.error != ErrorCode::None {
                backoff = true;
                continue;
            }
            if let Some((epoch, end)) = fetched.diverging {
                let from_offset = r.log.log_end();
                let target = end
                    .min(r.local_end_offset_for_epoch(epoch))
                    .min(from_offset);
                r.truncate_to(target);
                let to = r.log.log_end();
                if to < from_offset {
                    out.push(Effect::Trace(TraceKind::FollowerTruncated {
                        broker: me,
                        tp: fetched.tp.clone(),
                        from: from_offset,
                        to,
                    }));
                }
                continue;
            }
            for batch in fetched.batches {
                if batch.base_offset < r.log.log_end() {
                    continue; // Already have it (a retried fetch).
                }
                if batch.base_offset > r.log.log_end() {
                    break; // A gap means the leader's log moved under us; fetch again.
                }
                r.append_stamped(batch, now);
            }
            r.high_watermark = fetched.high_watermark.min(r.log.log_end());
        }
        if backoff {
            self.replica_fetch_backoff_until = now + self.replica_fetch_backoff;
            out.push(Effect::SetTimer {
                at: self.replica_fetch_backoff_until,
                timer: Timer::ReplicaFetchBackoff,
            });
        } else {
            self.send_replica_fetches(now, out);
        }
    }

    /// OffsetsForLeaderEpoch from a consumer (KIP-320): the leader checks the asker's view of
    /// its epoch, as a fetch does, then says where the asked epoch ends in its log.
    fn offsets_for_leader_epoch(
        &self,
        request: &OffsetsForLeaderEpochRequest,
    ) -> OffsetsForLeaderEpochResponse {
        let me = self.id;
        let partitions = request
            .partitions
            .iter()
            .map(|q| {
                let answer = |error, end| EpochEndOffset {
                    tp: q.tp.clone(),
                    error,
                    end,
                };
                match self.replicas.get(&q.tp).filter(|r| r.is_leader(me)) {
                    None => answer(ErrorCode::NotLeaderOrFollower, None),
                    Some(r) if q.current_leader_epoch < r.leader_epoch => {
                        answer(ErrorCode::FencedLeaderEpoch, None)
                    }
                    Some(r) if q.current_leader_epoch > r.leader_epoch => {
                        answer(ErrorCode::UnknownLeaderEpoch, None)
                    }
                    Some(r) => answer(
                        ErrorCode::None,
                        r.consumer_end_offset_for_epoch(q.leader_epoch),
                    ),
                }
            })
            .collect();
        OffsetsForLeaderEpochResponse {
            correlation_id: request.correlation_id,
            partitions,
        }
    }

    fn list_offsets(&self, request: &ListOffsetsRequest) -> ListOffsetsResponse {
        let me = self.id;
        let partitions = request
            .partitions
            .iter()
            .map(|(tp, spec)| match self.replicas.get(tp) {
                Some(r) if r.is_leader(me) => {
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
                out.push(Effect::Trace(TraceKind::SegmentsDeleted {
                    broker: self.id,
                    tp: tp.clone(),
                    log_start: after,
                }));
            }
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }
}

/// A batch of the coordinator's own records for `__consumer_offsets` (no producer id).
fn internal_batch(records: Vec<crate::record::Record>) -> RecordBatch {
    let size = BATCH_OVERHEAD
        + records
            .iter()
            .enumerate()
            .map(|(i, r)| record_size(i as u32, 0, r))
            .sum::<u32>();
    RecordBatch::from(crate::record::BatchData {
        base_offset: Offset(0),
        partition_leader_epoch: 0,
        producer: None,
        is_transactional: false,
        is_control: false,
        size_bytes: size,
        max_timestamp_ms: records.iter().map(|r| r.timestamp_ms).max().unwrap_or(0),
        records: Arc::new(records),
    })
}

/// Kafka's `isReplicaIsrEligible`: a broker may join an ISR (or hold the high watermark back to
/// join one) while it is registered and not fenced, as this broker's metadata says.
fn isr_eligible(metadata: &ClusterMetadata, broker: u32) -> bool {
    metadata.brokers.iter().any(|b| b.id == broker && !b.fenced)
}

fn empty_fetch(tp: &TopicPartition, error: ErrorCode) -> FetchedPartition {
    FetchedPartition {
        tp: tp.clone(),
        error,
        high_watermark: Offset(0),
        log_start: Offset(0),
        batches: Vec::new(),
        diverging: None,
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
    use crate::metadata::{BrokerRegistration, PartitionMetadata, TopicConfig, TopicMetadata};
    use crate::record::ProducerIdentity;

    fn broker() -> Broker {
        let topic: Arc<str> = Arc::from("t");
        let mut topics = BTreeMap::new();
        let pm = PartitionMetadata {
            partition_epoch: 0,
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
        // Born with the cluster's first metadata (no topics), then told of the topic.
        let first = Arc::new(ClusterMetadata {
            version: 0,
            topics: BTreeMap::new(),
            ..(*metadata).clone()
        });
        let mut b = Broker::new(0, first, &Configs::new(Scope::Broker));
        b.apply_metadata(Instant::ZERO, metadata, &mut Vec::new());
        b
    }

    fn batch(epoch: i16, base_sequence: i32, n: u64) -> RecordBatch {
        let mut b = crate::record::test_batch(Offset(0), 0, n, 100);
        b.partition_leader_epoch = -1;
        b.producer = Some(ProducerIdentity {
            producer_id: 7,
            producer_epoch: epoch,
            base_sequence,
        });
        b
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

    /// Broker 0 leads `t-0` and `t-1` (replicas 0 and 1, ISR [0]) at metadata version 1.
    fn leader_of_two() -> (Broker, Arc<ClusterMetadata>) {
        let topic: Arc<str> = Arc::from("t");
        let pm = PartitionMetadata {
            partition_epoch: 0,
            replicas: vec![0, 1],
            leader: Some(0),
            leader_epoch: 0,
            isr: vec![0],
        };
        let mut topics = BTreeMap::new();
        topics.insert(
            topic.clone(),
            TopicMetadata {
                name: topic,
                partitions: vec![pm.clone(), pm],
                config: TopicConfig::defaults(),
            },
        );
        let registration = |id| BrokerRegistration { id, fenced: false };
        let metadata = Arc::new(ClusterMetadata {
            version: 1,
            brokers: vec![registration(0), registration(1)],
            controller: 0,
            topics,
        });
        let first = Arc::new(ClusterMetadata {
            version: 0,
            topics: BTreeMap::new(),
            ..(*metadata).clone()
        });
        let mut b = Broker::new(0, first, &Configs::new(Scope::Broker));
        b.apply_metadata(Instant::ZERO, metadata.clone(), &mut Vec::new());
        (b, metadata)
    }

    /// Follower 1 fetches `t-0` from offset 0; returns what the leader sent.
    fn follower_fetch(b: &mut Broker) -> Vec<Effect> {
        let mut out = Vec::new();
        let request = FetchRequest {
            correlation_id: 1,
            replica_id: Some(1),
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partitions: vec![FetchPartition {
                tp: TopicPartition::new("t", 0),
                fetch_offset: Offset(0),
                partition_max_bytes: 1 << 20,
                current_leader_epoch: Some(0),
                last_fetched_epoch: None,
            }],
        };
        let msg = Message::FetchRequest(request);
        let input = Input::Message {
            from: NodeId::Broker(1),
            msg,
        };
        b.handle(Instant::ZERO, input, &mut out);
        out
    }

    fn pending(b: &Broker, partition: u32) -> Option<u64> {
        let r = b
            .replica(&TopicPartition::new("t", partition))
            .expect("replica");
        r.pending_isr.as_ref().map(|p| p.proposal)
    }

    #[test]
    fn news_about_another_partition_keeps_a_pending_isr_expansion() {
        // Issue #11: an unrelated metadata update dropped the pending expansion, and the high
        // watermark passed the joining replica. Kafka applies only the partitions a metadata
        // delta changes.
        let (mut b, metadata) = leader_of_two();
        let out = follower_fetch(&mut b);
        let asked = out.iter().any(|e| {
            matches!(e, Effect::Send { msg: Message::AlterPartition(r), .. } if r.new_isr == [0, 1])
        });
        assert!(asked, "a caught-up follower is proposed: {out:?}");
        assert_eq!(pending(&b, 0), Some(1));
        let mut next = (*metadata).clone();
        next.version = 2;
        let t = next.topics.get_mut("t").expect("topic");
        t.partitions[1].isr = vec![0, 1];
        t.partitions[1].partition_epoch = 1;
        b.apply_metadata(Instant::ZERO, Arc::new(next), &mut Vec::new());
        assert_eq!(pending(&b, 0), Some(1), "t-0 did not change: still pending");
    }

    #[test]
    fn a_late_answer_to_an_older_proposal_is_ignored() {
        let (mut b, _) = leader_of_two();
        follower_fetch(&mut b);
        let stale = AlterPartitionResponse {
            tp: TopicPartition::new("t", 0),
            proposal: 0,
            error: ErrorCode::None,
            isr: vec![0],
            leader_epoch: 0,
            partition_epoch: 1,
        };
        let input = Input::Message {
            from: NodeId::Controller,
            msg: Message::AlterPartitionResponse(stale),
        };
        b.handle(Instant::ZERO, input, &mut Vec::new());
        assert_eq!(pending(&b, 0), Some(1), "proposal 1 is still pending");
    }

    #[test]
    fn a_refused_expansion_goes_back_to_the_committed_isr_and_a_stale_one_waits() {
        let (mut b, _) = leader_of_two();
        follower_fetch(&mut b);
        let answer = |error| AlterPartitionResponse {
            tp: TopicPartition::new("t", 0),
            proposal: 1,
            error,
            isr: vec![0],
            leader_epoch: 0,
            partition_epoch: 0,
        };
        let input = |error| Input::Message {
            from: NodeId::Controller,
            msg: Message::AlterPartitionResponse(answer(error)),
        };
        b.handle(
            Instant::ZERO,
            input(ErrorCode::InvalidUpdateVersion),
            &mut Vec::new(),
        );
        assert_eq!(
            pending(&b, 0),
            Some(1),
            "newer metadata is on its way: wait"
        );
        b.handle(
            Instant::ZERO,
            input(ErrorCode::IneligibleReplica),
            &mut Vec::new(),
        );
        assert_eq!(
            pending(&b, 0),
            None,
            "refused outright: back to the committed ISR"
        );
    }
}
