//! A broker: hosts partition replicas, by protocol role (reference §2.3, §2.4, §3):
//! - here: the process (start, crash), routing requests, applying the metadata the controller
//!   publishes (taking up new roles), heartbeats, retention, auto-created topics;
//! - [`replica`]: one replica's state (log, high watermark, leader epochs, producer state for
//!   idempotence, the HW rule and the ISR changes it proposes);
//! - [`leader`]: produce, fetch serving, ListOffsets, OffsetsForLeaderEpoch, ISR changes;
//! - [`follower`]: fetching from leaders, truncation where the log diverged (KIP-101/279);
//! - [`offsets`]: hosting `__consumer_offsets` for the group coordinator;
//! - [`purgatory`]: the requests waiting for something (acks=all produces, parked fetches,
//!   the coordinator's writes).
//!
//! It decides only from its own state and the message in hand.

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
    FetchRequest, FetchResponse, FetchedPartition, Isolation, ListOffsetsRequest,
    ListOffsetsResponse, Message, OffsetCommitRequest, OffsetSpec, OffsetsForLeaderEpochRequest,
    OffsetsForLeaderEpochResponse, PartitionProduceResult, ProduceRequest, ProduceResponse,
    TxnOffsetCommitRequest,
};
use crate::record::{record_size, Offset, RecordBatch, TopicPartition, BATCH_OVERHEAD};
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId, TraceKind};

mod follower;
mod leader;
mod offsets;
mod purgatory;
pub mod replica;
mod transactions;

use crate::protocol::CoordinatorType;
use crate::txn::TRANSACTION_TOPIC;
use leader::{DelayedProduce, ParkedFetch, Reply};
#[cfg(test)]
pub(crate) use offsets::internal_batch;
use offsets::DelayedWrite;
use purgatory::Purgatory;
pub use replica::Replica;
use replica::{propose_isr, Role, RoleChange, SequenceCheck};
pub use transactions::TxnCoordinator;

/// A broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub id: BrokerId,
    incarnation: u32,
    metadata: Arc<ClusterMetadata>,
    replicas: BTreeMap<TopicPartition, Replica>,
    /// Requests waiting for something, by the id their expiry timer carries.
    parked_fetches: Purgatory<ParkedFetch>,
    delayed_produces: Purgatory<DelayedProduce>,
    delayed_writes: Purgatory<DelayedWrite>,
    pub coordinator: Coordinator,
    /// The transaction coordinator for the `__transaction_state` partitions it leads.
    pub txn: TxnCoordinator,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    txn_abort_check: Duration,
    offsets_commit_timeout: Duration,
    /// Whether it has applied the controller's metadata since it (re)started.
    caught_up: bool,
    /// `auto.create.topics.enable`, and the topics it asked the controller to create.
    auto_create: bool,
    creating: BTreeSet<Arc<str>>,
    /// As leader: numbers the ISR changes it proposes.
    next_proposal: u64,
    /// As follower: the fetch in flight to each leader (correlation id).
    replica_fetches: BTreeMap<BrokerId, u32>,
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
    pub fn new(id: BrokerId, metadata: Arc<ClusterMetadata>, configs: &Configs) -> Broker {
        let ms = |k: &str| Duration::from_millis(configs.int(k) as u64);
        Broker {
            id,
            incarnation: 0,
            metadata,
            replicas: BTreeMap::new(),
            parked_fetches: Purgatory::default(),
            delayed_produces: Purgatory::default(),
            delayed_writes: Purgatory::default(),
            coordinator: Coordinator::new(
                id,
                CoordinatorConfig {
                    initial_rebalance_delay: ms("group.initial.rebalance.delay.ms"),
                    min_session_timeout_ms: configs.int("group.min.session.timeout.ms") as u32,
                    max_session_timeout_ms: configs.int("group.max.session.timeout.ms") as u32,
                    offsets_partitions: configs.int("offsets.topic.num.partitions") as u32,
                },
            ),
            txn: TxnCoordinator::new(configs),
            txn_abort_check: ms("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
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
        self.start_transactions(now, out);
        // Leading and following wait for the controller's metadata (`apply_metadata`).
    }

    /// The process died: requests held in memory are gone; logs on disk survive.
    pub fn crash(&mut self) {
        self.parked_fetches.clear();
        self.delayed_produces.clear();
        self.delayed_writes.clear();
        self.coordinator.crash();
        self.txn.crash();
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
            r.role = Role::Follower;
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
        let mut moves = CoordinatorMoves {
            stopped: self.drop_unassigned(&metadata, out),
            led: Vec::new(),
        };
        let mut leads = Vec::new();
        for (name, topic) in &metadata.topics {
            for (p, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: p as u32,
                };
                // A topic's configs altered (`kafka-configs.sh --alter`) apply to the replicas
                // this broker already holds, as Kafka's `LogManager` updates a log's config.
                if let Some(r) = self.replicas.get_mut(&tp) {
                    if r.config != topic.config {
                        r.config = topic.config.clone();
                    }
                }
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
                match change {
                    RoleChange::BecameLeader | RoleChange::NewLeaderEpoch => {
                        // Reload even if this broker led before: it may have missed commits
                        // another leader took in between.
                        moves.note(&tp, true);
                        leads.push(tp);
                    }
                    RoleChange::StillLeads => leads.push(tp),
                    RoleChange::StoppedLeading => {
                        moves.note(&tp, false);
                        self.fail_waiting(&tp, out);
                    }
                    RoleChange::Follows => {}
                }
            }
        }
        self.metadata = metadata;
        self.caught_up = true;
        self.move_coordinators(now, moves, out);
        // A smaller ISR may let the high watermark move (Kafka's `makeLeader` tries too).
        for tp in leads {
            let hw = self.next_high_watermark(now, &tp);
            self.set_high_watermark(now, &tp, hw, out);
        }
        self.send_replica_fetches(now, out);
    }

    /// Unloads the coordinator partitions it stopped leading, then loads those it leads now
    /// (both coordinators: groups in `__consumer_offsets`, transactions in
    /// `__transaction_state`).
    fn move_coordinators(&mut self, now: Instant, moves: CoordinatorMoves, out: &mut Vec<Effect>) {
        for tp in moves.stopped {
            match &*tp.topic {
                OFFSETS_TOPIC => self.coordinator.unload(tp.partition, out),
                _ => self.unload_txn_partition(tp.partition),
            }
        }
        for tp in moves.led {
            if &*tp.topic == OFFSETS_TOPIC {
                self.coordinator.unload(tp.partition, out);
                self.load_offsets_partition(now, tp.partition, out);
            } else {
                self.unload_txn_partition(tp.partition);
                self.load_txn_partition(now, tp.partition, out);
            }
        }
    }

    /// Drops the replicas `metadata` no longer assigns to this broker, answering what waited
    /// on them; returns the coordinator partitions among them.
    fn drop_unassigned(
        &mut self,
        metadata: &ClusterMetadata,
        out: &mut Vec<Effect>,
    ) -> Vec<TopicPartition> {
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
        let mut coordinators = Vec::new();
        for tp in dropped {
            if is_coordinator_topic(&tp) {
                coordinators.push(tp.clone());
            }
            self.replicas.remove(&tp);
            self.fail_waiting(&tp, out);
        }
        coordinators
    }

    /// This broker no longer leads `tp`: answer what waited on it.
    fn fail_waiting(&mut self, tp: &TopicPartition, out: &mut Vec<Effect>) {
        for write in self.delayed_writes.take_done(|d| d.tp == *tp) {
            write.settle(ErrorCode::NotCoordinator, Instant::ZERO, self, out);
        }
        let produces = self
            .delayed_produces
            .take_done(|d| d.fail_partition(tp, ErrorCode::NotLeaderOrFollower));
        for delayed in produces {
            delayed.answer(out);
        }
        for parked in self.parked_fetches.take_done(|p| p.waits_on(tp)) {
            self.answer_parked(Instant::ZERO, parked, out);
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        match input {
            Input::App(call) => unreachable!("a broker got {call:?}"),
            Input::Message { from, msg } => self.on_message(now, from, msg, out),
            Input::Disconnected {
                peer: NodeId::Broker(leader),
            } => {
                self.markers_disconnected(now, leader, out);
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
                self.id_request_lost();
                self.resend_isr_changes(out);
            }
            Input::Disconnected { .. } => {}
            Input::Timer(timer) => self.on_timer(now, timer, out),
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer, out: &mut Vec<Effect>) {
        match timer {
            Timer::FetchExpiry { id } => {
                if let Some(parked) = self.parked_fetches.take(id) {
                    self.answer_parked(now, parked, out);
                }
            }
            Timer::ProduceExpiry { id } => {
                if let Some(delayed) = self.delayed_produces.take(id) {
                    delayed.time_out(out);
                }
            }
            Timer::CoordinatorWriteExpiry { id } => {
                if let Some(d) = self.delayed_writes.take(id) {
                    d.settle(ErrorCode::RequestTimedOut, now, self, out);
                }
            }
            Timer::GroupDeadline { group } => {
                self.coordinator.on_deadline(now, group, out);
                self.persist_groups(now, out);
            }
            Timer::RetentionCheck => {
                self.apply_retention(now, out);
                out.push(Effect::SetTimer {
                    at: now + self.retention_check,
                    timer: Timer::RetentionCheck,
                });
            }
            Timer::Heartbeat => {
                self.heartbeat(out);
                out.push(Effect::SetTimer {
                    at: now + self.heartbeat_interval,
                    timer: Timer::Heartbeat,
                });
            }
            Timer::IsrCheck => {
                self.shrink_isrs(now, out);
                out.push(Effect::SetTimer {
                    at: now + Duration(self.replica_lag_max.as_micros() / 2),
                    timer: Timer::IsrCheck,
                });
            }
            Timer::ReplicaFetchTimeout {
                leader,
                correlation_id,
            } => {
                if self.replica_fetches.get(&leader) == Some(&correlation_id) {
                    self.replica_fetches.remove(&leader);
                    self.send_replica_fetches(now, out);
                }
            }
            Timer::ReplicaFetchBackoff => self.send_replica_fetches(now, out),
            Timer::TxnAbortCheck => self.abort_timed_out(now, out),
            Timer::TxnMarkerRetry => self.on_marker_retry(now, out),
            other @ (Timer::Wake
            | Timer::RequestTimeout { .. }
            | Timer::SessionCheck
            | Timer::LeaderRebalance) => unreachable!("broker got timer {other:?}"),
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
            msg => self.on_coordination(now, from, msg, out),
        }
    }

    /// What the coordinators (group and transaction) take; a client's answer never comes here.
    fn on_coordination(&mut self, now: Instant, from: NodeId, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            msg @ (Message::FindCoordinator { .. }
            | Message::OffsetCommit(_)
            | Message::InitProducerId { .. }
            | Message::AddPartitionsToTxn { .. }
            | Message::AddOffsetsToTxn { .. }
            | Message::TxnOffsetCommit(_)
            | Message::EndTxn { .. }
            | Message::WriteTxnMarkers { .. }
            | Message::WriteTxnMarkersResponse { .. }
            | Message::AllocateProducerIdsResponse { .. }) => {
                self.on_coordinator_message(now, from, msg, out)
            }
            msg @ (Message::JoinGroup(_)
            | Message::SyncGroup(_)
            | Message::Heartbeat(_)
            | Message::LeaveGroup(_)) => {
                self.coordinator.handle(now, from, msg, out);
                self.persist_groups(now, out);
            }
            msg @ Message::OffsetFetch { .. } => self.on_offset_fetch(now, from, msg, out),
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
            | Message::OffsetFetchResponse { .. }
            | Message::InitProducerIdResponse { .. }
            | Message::AddPartitionsToTxnResponse { .. }
            | Message::AddOffsetsToTxnResponse { .. }
            | Message::TxnOffsetCommitResponse { .. }
            | Message::EndTxnResponse { .. }
            | Message::AllocateProducerIds { .. }
            | Message::MetadataRequest { .. }
            | Message::ProduceRequest(_)
            | Message::FetchRequest(_)
            | Message::FetchResponse(_)
            | Message::ListOffsetsRequest(_)
            | Message::OffsetsForLeaderEpochRequest(_)
            | Message::MetadataUpdate { .. }
            | Message::CreateTopicsResponse { .. }
            | Message::AlterPartitionResponse(_) => unreachable!("broker got {}", msg.kind()),
        }
    }

    /// What coordinators handle: FindCoordinator, offset commits, and the transaction
    /// protocol (coordinator and partition leader sides).
    fn on_coordinator_message(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: Message,
        out: &mut Vec<Effect>,
    ) {
        match msg {
            Message::FindCoordinator {
                correlation_id,
                key,
                key_type,
            } => {
                let coordinator = match key_type {
                    CoordinatorType::Group => {
                        let partition = self.coordinator.partition_of(&key);
                        self.metadata.leader(OFFSETS_TOPIC, partition)
                    }
                    CoordinatorType::Transaction => self.on_find_txn_coordinator(&key),
                };
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
            Message::TxnOffsetCommit(req) => self.on_txn_offset_commit(now, from, req, out),
            msg => self.on_txn_message(now, from, msg, out),
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

/// The partitions of the topics coordinators live on.
fn is_coordinator_topic(tp: &TopicPartition) -> bool {
    &*tp.topic == OFFSETS_TOPIC || &*tp.topic == TRANSACTION_TOPIC
}

/// The coordinator partitions a metadata change moved to or from this broker.
struct CoordinatorMoves {
    stopped: Vec<TopicPartition>,
    led: Vec<TopicPartition>,
}

impl CoordinatorMoves {
    fn note(&mut self, tp: &TopicPartition, led: bool) {
        if is_coordinator_topic(tp) {
            let list = if led {
                &mut self.led
            } else {
                &mut self.stopped
            };
            list.push(tp.clone());
        }
    }
}

/// Kafka's `isReplicaIsrEligible`: a broker may join an ISR (or hold the high watermark back to
/// join one) while it is registered and not fenced, as this broker's metadata says.
fn isr_eligible(metadata: &ClusterMetadata, broker: BrokerId) -> bool {
    metadata.brokers.iter().any(|b| b.id == broker && !b.fenced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scope;
    use crate::metadata::{BrokerRegistration, PartitionMetadata, TopicConfig, TopicMetadata};
    use crate::record::{LeaderEpoch, ProducerId, ProducerIdentity};
    use crate::trace::ids;

    fn broker() -> Broker {
        let topic: Arc<str> = Arc::from("t");
        let mut topics = BTreeMap::new();
        let pm = PartitionMetadata {
            partition_epoch: 0,
            replicas: ids(&[0]),
            leader: Some(BrokerId(0)),
            leader_epoch: LeaderEpoch(3),
            isr: ids(&[0]),
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
                id: BrokerId(0),
                fenced: false,
            }],
            controller: BrokerId(0),
            topics,
        });
        // Born with the cluster's first metadata (no topics), then told of the topic.
        let first = Arc::new(ClusterMetadata {
            version: 0,
            topics: BTreeMap::new(),
            ..(*metadata).clone()
        });
        let mut b = Broker::new(BrokerId(0), first, &Configs::new(Scope::Broker));
        b.apply_metadata(Instant::ZERO, metadata, &mut Vec::new());
        b
    }

    fn batch(epoch: i16, base_sequence: i32, n: u64) -> RecordBatch {
        let mut b = crate::record::test_batch(Offset(0), 0, n, 100);
        b.partition_leader_epoch = None;
        b.producer = Some(ProducerIdentity {
            producer_id: ProducerId(7),
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
        assert_eq!(stamped, Some(LeaderEpoch(3)), "the leader stamps its epoch");
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
            replicas: ids(&[0, 1]),
            leader: Some(BrokerId(0)),
            leader_epoch: LeaderEpoch(0),
            isr: ids(&[0]),
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
        let registration = |id| BrokerRegistration {
            id: BrokerId(id),
            fenced: false,
        };
        let metadata = Arc::new(ClusterMetadata {
            version: 1,
            brokers: vec![registration(0), registration(1)],
            controller: BrokerId(0),
            topics,
        });
        let first = Arc::new(ClusterMetadata {
            version: 0,
            topics: BTreeMap::new(),
            ..(*metadata).clone()
        });
        let mut b = Broker::new(BrokerId(0), first, &Configs::new(Scope::Broker));
        b.apply_metadata(Instant::ZERO, metadata.clone(), &mut Vec::new());
        (b, metadata)
    }

    /// Follower 1 fetches `t-0` from offset 0; returns what the leader sent.
    fn follower_fetch(b: &mut Broker) -> Vec<Effect> {
        let mut out = Vec::new();
        let request = FetchRequest {
            isolation: Isolation::ReadUncommitted,
            correlation_id: 1,
            replica_id: Some(BrokerId(1)),
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partitions: vec![FetchPartition {
                tp: TopicPartition::new("t", 0),
                fetch_offset: Offset(0),
                partition_max_bytes: 1 << 20,
                current_leader_epoch: Some(LeaderEpoch(0)),
                last_fetched_epoch: None,
            }],
        };
        let msg = Message::FetchRequest(request);
        let input = Input::Message {
            from: NodeId::Broker(BrokerId(1)),
            msg,
        };
        b.handle(Instant::ZERO, input, &mut out);
        out
    }

    fn pending(b: &Broker, partition: u32) -> Option<u64> {
        let r = b
            .replica(&TopicPartition::new("t", partition))
            .expect("replica");
        r.pending_isr().map(|p| p.proposal)
    }

    #[test]
    fn news_about_another_partition_keeps_a_pending_isr_expansion() {
        // Issue #11: an unrelated metadata update dropped the pending expansion, and the high
        // watermark passed the joining replica. Kafka applies only the partitions a metadata
        // delta changes.
        let (mut b, metadata) = leader_of_two();
        let out = follower_fetch(&mut b);
        let both = ids(&[0, 1]);
        let asked = out.iter().any(|e| {
            matches!(e, Effect::Send { msg: Message::AlterPartition(r), .. } if r.new_isr == both)
        });
        assert!(asked, "a caught-up follower is proposed: {out:?}");
        assert_eq!(pending(&b, 0), Some(1));
        let mut next = (*metadata).clone();
        next.version = 2;
        let t = next.topics.get_mut("t").expect("topic");
        t.partitions[1].isr = ids(&[0, 1]);
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
            isr: ids(&[0]),
            leader_epoch: LeaderEpoch(0),
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
            isr: ids(&[0]),
            leader_epoch: LeaderEpoch(0),
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
