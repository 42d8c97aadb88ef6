//! A broker as transaction coordinator for the `__transaction_state` partitions it leads
//! (Kafka's `TransactionCoordinator`, `TransactionStateManager` and
//! `TransactionMarkerChannelManager`, reference §5), and as the leader that writes a
//! transaction's markers into its partitions (`WriteTxnMarkers`).
//!
//! Every transition is persisted (acks=all) before it applies and before the client hears of
//! it; a broker that comes to lead a `__transaction_state` partition loads it and finishes
//! the transactions it finds between EndTxn and their markers. Ongoing transactions past
//! `transaction.timeout.ms` are aborted by the coordinator, which fences their producer.

use super::offsets::{internal_batch, Written};
use super::*;
use crate::partitioner::coordinator_partition;
use crate::protocol::{ProducerIdAndEpoch, TxnMarker};
use crate::record::{marker_batch, ControlType, ProducerId};
use crate::txn::{
    PendingMarkers, ProducerIdManager, TxnMetadata, TxnState, PRODUCER_ID_BLOCK, TRANSACTION_TOPIC,
};

/// Backoff before markers that failed go again (`TransactionMarkerChannelManager` retries
/// at the request's retry backoff).
const MARKER_RETRY: Duration = Duration(100_000);

/// What a broker keeps as transaction coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnCoordinator {
    /// The `__transaction_state` partitions it leads and loaded, with their coordinator epoch
    /// (the partition's leader epoch).
    loaded: BTreeMap<u32, u32>,
    pub txns: BTreeMap<Arc<str>, TxnMetadata>,
    markers: BTreeMap<Arc<str>, PendingMarkers>,
    ids: ProducerIdManager,
    partitions: u32,
    max_timeout_ms: u32,
    /// A `TxnMarkerRetry` timer is set (one at a time).
    retry_scheduled: bool,
}

/// Whom a persisted transition answers once it is replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TxnReply {
    InitProducerId {
        to: NodeId,
        correlation_id: u32,
    },
    AddPartitions {
        to: NodeId,
        correlation_id: u32,
    },
    AddOffsets {
        to: NodeId,
        correlation_id: u32,
    },
    EndTxn {
        to: NodeId,
        correlation_id: u32,
    },
    /// The coordinator's own step (a timeout abort, a fence, a completion).
    Nobody,
}

impl TxnReply {
    fn answer(&self, error: ErrorCode, producer: ProducerIdAndEpoch, out: &mut Vec<Effect>) {
        let (to, msg) = match *self {
            TxnReply::InitProducerId { to, correlation_id } => (
                to,
                Message::InitProducerIdResponse {
                    correlation_id,
                    error,
                    producer,
                },
            ),
            TxnReply::AddPartitions { to, correlation_id } => (
                to,
                Message::AddPartitionsToTxnResponse {
                    correlation_id,
                    error,
                },
            ),
            TxnReply::AddOffsets { to, correlation_id } => (
                to,
                Message::AddOffsetsToTxnResponse {
                    correlation_id,
                    error,
                },
            ),
            TxnReply::EndTxn { to, correlation_id } => (
                to,
                Message::EndTxnResponse {
                    correlation_id,
                    error,
                    producer,
                },
            ),
            TxnReply::Nobody => return,
        };
        out.push(Effect::Send { to, msg });
    }
}

impl TxnCoordinator {
    pub(super) fn new(configs: &Configs) -> TxnCoordinator {
        TxnCoordinator {
            partitions: configs.int("transaction.state.log.num.partitions") as u32,
            max_timeout_ms: configs.int("transaction.max.timeout.ms") as u32,
            ..TxnCoordinator::default()
        }
    }

    pub fn partition_of(&self, transactional_id: &str) -> u32 {
        coordinator_partition(transactional_id, self.partitions)
    }

    fn coordinates(&self, transactional_id: &str) -> bool {
        self.loaded
            .contains_key(&self.partition_of(transactional_id))
    }

    pub(super) fn crash(&mut self) {
        self.loaded.clear();
        self.txns.clear();
        self.markers.clear();
        self.ids.crash();
        self.retry_scheduled = false;
    }

    /// The transactional ids this broker coordinates now, for snapshots.
    pub fn coordinated(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }
}

impl Broker {
    /// Starts the coordinator's periodic abort of timed-out transactions.
    pub(super) fn start_transactions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        out.push(Effect::SetTimer {
            at: now + self.txn_abort_check,
            timer: Timer::TxnAbortCheck,
        });
    }

    pub(super) fn load_txn_partition(
        &mut self,
        now: Instant,
        partition: u32,
        out: &mut Vec<Effect>,
    ) {
        let tp = TopicPartition::new(TRANSACTION_TOPIC, partition);
        let Some(replica) = self.replicas.get(&tp) else {
            return;
        };
        let epoch = replica.leader_epoch.0;
        let log = &replica.log;
        let mut found = BTreeMap::new();
        for (_, record) in log.records_between(log.log_start(), log.log_end()) {
            if let Some(m) = TxnMetadata::from_record(record) {
                found.insert(m.transactional_id.clone(), m);
            }
        }
        let c = &mut self.txn;
        c.loaded.insert(partition, epoch);
        for (id, mut m) in found {
            // A transaction between EndTxn and its markers is finished by its new coordinator
            // (`TransactionStateManager.loadTransactionsForTxnTopicPartition`).
            if m.state.is_preparing() {
                m.started_at = m.started_at.min(now);
                let commit = m.state == TxnState::PrepareCommit;
                let pending =
                    PendingMarkers::new(commit, m.producer(), epoch, m.partitions.clone());
                c.markers.insert(id.clone(), pending);
            }
            c.txns.insert(id, m);
        }
        self.send_markers(now, out);
    }

    pub(super) fn unload_txn_partition(&mut self, partition: u32) {
        let c = &mut self.txn;
        c.loaded.remove(&partition);
        let parts = c.partitions;
        let mine = |id: &Arc<str>| coordinator_partition(id, parts) == partition;
        c.txns.retain(|id, _| !mine(id));
        c.markers.retain(|id, _| !mine(id));
    }

    pub(super) fn on_find_txn_coordinator(&self, key: &str) -> Option<BrokerId> {
        let partition = self.txn.partition_of(key);
        self.metadata.leader(TRANSACTION_TOPIC, partition)
    }

    /// The transaction protocol, coordinator and partition leader sides.
    pub(super) fn on_txn_message(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: Message,
        out: &mut Vec<Effect>,
    ) {
        match msg {
            Message::InitProducerId {
                correlation_id,
                transactional_id,
                timeout_ms,
            } => {
                let (id, timeout) = (transactional_id, timeout_ms);
                self.on_init_producer_id(now, from, correlation_id, id, timeout, out)
            }
            Message::AddPartitionsToTxn {
                correlation_id,
                transactional_id,
                producer,
                partitions,
            } => {
                let reply = TxnReply::AddPartitions {
                    to: from,
                    correlation_id,
                };
                self.on_add_partitions(now, reply, transactional_id, producer, partitions, out)
            }
            Message::AddOffsetsToTxn {
                correlation_id,
                transactional_id,
                producer,
                group_id,
            } => {
                // `handleAddPartitionsToTransaction` with the group's offsets partition.
                let reply = TxnReply::AddOffsets {
                    to: from,
                    correlation_id,
                };
                let partition = self.coordinator.partition_of(&group_id);
                let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
                self.on_add_partitions(now, reply, transactional_id, producer, vec![tp], out)
            }
            Message::EndTxn {
                correlation_id,
                transactional_id,
                producer,
                commit,
            } => {
                let reply = TxnReply::EndTxn {
                    to: from,
                    correlation_id,
                };
                self.on_end_txn(now, reply, transactional_id, producer, commit, out)
            }
            Message::WriteTxnMarkers {
                correlation_id,
                marker,
            } => self.on_write_markers(now, from, correlation_id, marker, out),
            Message::WriteTxnMarkersResponse {
                correlation_id,
                results,
            } => self.on_markers_written(now, correlation_id, results, out),
            Message::AllocateProducerIdsResponse { first, count } => self.on_id_block(first, count),
            other => unreachable!("not a transaction message: {}", other.kind()),
        }
    }

    /// InitProducerId (`TransactionCoordinator.handleInitProducerId`).
    pub(super) fn on_init_producer_id(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u32,
        transactional_id: Option<Arc<str>>,
        timeout_ms: u32,
        out: &mut Vec<Effect>,
    ) {
        let reply = TxnReply::InitProducerId {
            to: from,
            correlation_id,
        };
        let none = ProducerIdAndEpoch {
            producer_id: ProducerId(-1),
            epoch: -1,
        };
        self.request_id_block(out);
        let Some(id) = transactional_id else {
            return self.init_idempotent(reply, out);
        };
        if !self.txn.coordinates(&id) {
            return reply.answer(ErrorCode::NotCoordinator, none, out);
        }
        if timeout_ms > self.txn.max_timeout_ms {
            return reply.answer(ErrorCode::InvalidTransactionTimeout, none, out);
        }
        let existing = self.txn.txns.get(&id).cloned();
        let mut m = match existing {
            None => {
                let Some(producer_id) = self.txn.ids.next_id() else {
                    return reply.answer(ErrorCode::CoordinatorLoadInProgress, none, out);
                };
                // Epoch −1 bumped to 0 below, as Kafka's first InitProducerId does.
                let producer = ProducerIdAndEpoch {
                    producer_id,
                    epoch: -1,
                };
                TxnMetadata::new(id.clone(), producer, timeout_ms)
            }
            Some(m) if m.pending.is_some() || m.state.is_preparing() => {
                return reply.answer(ErrorCode::ConcurrentTransactions, none, out);
            }
            Some(m) if m.state == TxnState::Ongoing => {
                // An older instance left a transaction open: fence it and abort that
                // transaction first; the new instance retries (`PrepareEpochFence`).
                self.fence_and_abort(now, &id, false, out);
                return reply.answer(ErrorCode::ConcurrentTransactions, none, out);
            }
            Some(m) => m,
        };
        if !m.bump_epoch() {
            let Some(producer_id) = self.txn.ids.next_id() else {
                return reply.answer(ErrorCode::CoordinatorLoadInProgress, none, out);
            };
            m.producer_id = producer_id;
            m.epoch = 0;
            m.pending_epoch = None;
        }
        m.timeout_ms = timeout_ms;
        m.partitions.clear();
        self.txn.txns.insert(id.clone(), m);
        self.persist_txn(now, &id, TxnState::Empty, reply, out);
    }

    /// InitProducerId without a transactional id: a fresh id at epoch 0, nothing persisted.
    fn init_idempotent(&mut self, reply: TxnReply, out: &mut Vec<Effect>) {
        let (error, producer_id, epoch) = match self.txn.ids.next_id() {
            Some(id) => (ErrorCode::None, id, 0),
            None => (ErrorCode::CoordinatorLoadInProgress, ProducerId(-1), -1),
        };
        reply.answer(error, ProducerIdAndEpoch { producer_id, epoch }, out);
    }

    /// AddPartitionsToTxn (V1 clients; Transactions V2 brokers add them on the first write).
    pub(super) fn on_add_partitions(
        &mut self,
        now: Instant,
        reply: TxnReply,
        id: Arc<str>,
        producer: ProducerIdAndEpoch,
        partitions: Vec<TopicPartition>,
        out: &mut Vec<Effect>,
    ) {
        let error = match self.txn_validate(&id, producer) {
            Err(e) => e,
            Ok(m) if m.pending.is_some() || m.state.is_preparing() => {
                ErrorCode::ConcurrentTransactions
            }
            Ok(m)
                if m.state == TxnState::Ongoing
                    && partitions.iter().all(|tp| m.partitions.contains(tp)) =>
            {
                ErrorCode::None
            }
            Ok(_) => {
                let m = self.txn.txns.get_mut(&id).expect("validated");
                if m.state.is_idle() {
                    m.partitions.clear();
                    m.started_at = now;
                    m.timed_out = false;
                }
                m.pending_partitions = partitions
                    .into_iter()
                    .filter(|tp| !m.partitions.contains(tp))
                    .collect();
                return self.persist_txn(now, &id, TxnState::Ongoing, reply, out);
            }
        };
        reply.answer(error, producer, out);
    }

    /// EndTxn (`handleEndTransaction`, Transactions V2): Prepare* persisted at the next epoch,
    /// then answered with that epoch, then the markers.
    pub(super) fn on_end_txn(
        &mut self,
        now: Instant,
        reply: TxnReply,
        id: Arc<str>,
        producer: ProducerIdAndEpoch,
        commit: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some(m) = self.txn.txns.get(&id).filter(|_| self.txn.coordinates(&id)) else {
            return reply.answer(ErrorCode::NotCoordinator, producer, out);
        };
        // A retry of an EndTxn already done: its answer again.
        let (target_prepare, target_done) = (TxnState::prepare(commit), TxnState::complete(commit));
        // Transactions V2 recognises it by the epoch alone (the bumped one is the request's
        // plus one), so a retry to a new coordinator after a failover is one too.
        let retried = m.producer_id == producer.producer_id
            && m.epoch == producer.epoch.saturating_add(1)
            && (m.state == target_done || m.state == target_prepare);
        if retried {
            return reply.answer(ErrorCode::None, m.producer(), out);
        }
        if let Err(e) = m.validate(producer) {
            return reply.answer(e, producer, out);
        }
        if m.pending.is_some() || m.state.is_preparing() {
            return reply.answer(ErrorCode::ConcurrentTransactions, producer, out);
        }
        if m.state != TxnState::Ongoing {
            return reply.answer(ErrorCode::InvalidTxnState, producer, out);
        }
        let m = self.txn.txns.get_mut(&id).expect("just read");
        m.bump_epoch();
        self.persist_txn(now, &id, target_prepare, reply, out);
    }

    /// Fences the producer of an open transaction and aborts it: a new instance's
    /// InitProducerId, or `transaction.timeout.ms` (`abortTimedOutTransactions`).
    fn fence_and_abort(
        &mut self,
        now: Instant,
        id: &Arc<str>,
        timed_out: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some(m) = self.txn.txns.get_mut(id) else {
            return;
        };
        if !m.may_become(TxnState::PrepareEpochFence) || m.pending.is_some() {
            return;
        }
        // PrepareEpochFence is never persisted: the epoch bump goes with PrepareAbort.
        m.bump_epoch();
        m.timed_out = timed_out;
        if timed_out {
            out.push(Effect::Trace(TraceKind::TransactionTimedOut {
                broker: self.id,
                transactional_id: id.to_string(),
                timeout_ms: m.timeout_ms,
            }));
        }
        self.persist_txn(now, id, TxnState::PrepareAbort, TxnReply::Nobody, out);
    }

    /// Every `transaction.abort.timed.out.transaction.cleanup.interval.ms`: abort the open
    /// transactions older than their timeout.
    pub(super) fn abort_timed_out(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let expired: Vec<Arc<str>> = self
            .txn
            .txns
            .values()
            .filter(|m| m.state == TxnState::Ongoing && m.pending.is_none())
            .filter(|m| now >= m.started_at + Duration::from_millis(u64::from(m.timeout_ms)))
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in expired {
            self.fence_and_abort(now, &id, true, out);
        }
        out.push(Effect::SetTimer {
            at: now + self.txn_abort_check,
            timer: Timer::TxnAbortCheck,
        });
    }

    fn txn_validate(
        &self,
        id: &Arc<str>,
        producer: ProducerIdAndEpoch,
    ) -> Result<&TxnMetadata, ErrorCode> {
        if !self.txn.coordinates(id) {
            return Err(ErrorCode::NotCoordinator);
        }
        let m = self
            .txn
            .txns
            .get(id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        m.validate(producer)?;
        Ok(m)
    }

    /// Appends `state` for `id` to `__transaction_state` (acks=all); it applies, and `reply`
    /// hears, once replicated.
    fn persist_txn(
        &mut self,
        now: Instant,
        id: &Arc<str>,
        state: TxnState,
        reply: TxnReply,
        out: &mut Vec<Effect>,
    ) {
        let partition = self.txn.partition_of(id);
        let m = self
            .txn
            .txns
            .get_mut(id)
            .expect("persisting a known transaction");
        assert!(
            m.may_become(state)
                || (m.state == TxnState::Ongoing && state == TxnState::PrepareAbort)
        );
        m.pending = Some(state);
        let batch = internal_batch(vec![m.to_record(state, now)]);
        let tp = TopicPartition::new(TRANSACTION_TOPIC, partition);
        let (result, wait_for) = self.append_as_leader(now, tp.clone(), batch, Acks::All, out);
        let what = Written::Txn {
            id: id.clone(),
            reply,
        };
        self.await_write(now, tp, result.error, wait_for, what, out);
    }

    /// A transition was replicated (or failed): apply it, answer, and go on.
    pub(super) fn txn_write_settled(
        &mut self,
        now: Instant,
        id: Arc<str>,
        reply: TxnReply,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let epoch = self.txn.loaded.get(&self.txn.partition_of(&id)).copied();
        let Some(m) = self.txn.txns.get_mut(&id) else {
            return reply.answer(
                ErrorCode::NotCoordinator,
                ProducerIdAndEpoch {
                    producer_id: ProducerId(-1),
                    epoch: -1,
                },
                out,
            );
        };
        let Some(state) = m.pending.take() else {
            return;
        };
        if error != ErrorCode::None {
            return self.txn_write_failed(now, id, state, reply, error, epoch, out);
        }
        m.apply_pending(state);
        let producer = m.producer();
        reply.answer(ErrorCode::None, producer, out);
        match state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                let commit = state == TxnState::PrepareCommit;
                let coordinator_epoch = epoch.unwrap_or(0);
                let pending =
                    PendingMarkers::new(commit, producer, coordinator_epoch, m.partitions.clone());
                self.txn.markers.insert(id, pending);
                self.send_markers(now, out);
            }
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                out.push(Effect::Trace(TraceKind::TransactionCompleted {
                    broker: self.id,
                    transactional_id: id.to_string(),
                    producer_id: producer.producer_id.0,
                    committed: state == TxnState::CompleteCommit,
                    timed_out: m.timed_out,
                    partitions: m.partitions.len() as u32,
                }));
            }
            _ => {}
        }
    }

    /// A transition that was not persisted: the state stays as it was (a coordinator that lost
    /// its partition unloads it; the client retries).
    #[allow(clippy::too_many_arguments)]
    fn txn_write_failed(
        &mut self,
        now: Instant,
        id: Arc<str>,
        state: TxnState,
        reply: TxnReply,
        error: ErrorCode,
        epoch: Option<u32>,
        out: &mut Vec<Effect>,
    ) {
        let m = self
            .txn
            .txns
            .get_mut(&id)
            .expect("settling a known transaction");
        let error = match error {
            ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
            e => e,
        };
        // Not persisted: nor is its epoch bump, nor the partitions it adds.
        m.drop_pending();
        let producer = m.producer();
        if matches!(state, TxnState::CompleteCommit | TxnState::CompleteAbort) {
            // The markers are written: persisting the completion is tried again.
            let commit = state == TxnState::CompleteCommit;
            let done = PendingMarkers::new(commit, producer, epoch.unwrap_or(0), BTreeSet::new());
            self.txn.markers.insert(id, done);
            self.schedule_marker_retry(now, out);
        }
        reply.answer(error, producer, out);
    }

    /// Sends every waiting marker to its partition's leader; a partition without one waits
    /// for the retry.
    pub(super) fn send_markers(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut retry = false;
        let ids: Vec<Arc<str>> = self.txn.markers.keys().cloned().collect();
        for id in ids {
            let pending = self.txn.markers.get_mut(&id).expect("listed");
            let mut by_leader: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
            for tp in std::mem::take(&mut pending.waiting) {
                match self.metadata.leader(&tp.topic, tp.partition) {
                    Some(leader) => by_leader.entry(leader).or_default().push(tp),
                    None if !self.metadata.topics.contains_key(&tp.topic) => {}
                    None => {
                        retry = true;
                        pending.waiting.insert(tp);
                    }
                }
            }
            for (leader, partitions) in by_leader {
                self.next_correlation_id += 1;
                let correlation_id = self.next_correlation_id;
                let marker = TxnMarker {
                    producer: pending.producer,
                    commit: pending.commit,
                    coordinator_epoch: pending.coordinator_epoch,
                    partitions: partitions.clone(),
                };
                pending
                    .in_flight
                    .insert(correlation_id, (leader, partitions));
                out.push(Effect::Send {
                    to: NodeId::Broker(leader),
                    msg: Message::WriteTxnMarkers {
                        correlation_id,
                        marker,
                    },
                });
            }
        }
        self.complete_marked(now, out);
        if retry {
            self.schedule_marker_retry(now, out);
        }
    }

    fn schedule_marker_retry(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if !self.txn.retry_scheduled {
            self.txn.retry_scheduled = true;
            out.push(Effect::SetTimer {
                at: now + MARKER_RETRY,
                timer: Timer::TxnMarkerRetry,
            });
        }
    }

    pub(super) fn on_marker_retry(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.txn.retry_scheduled = false;
        self.send_markers(now, out);
    }

    /// Transactions whose markers are all written are completed (persisted).
    fn complete_marked(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let done: Vec<(Arc<str>, bool)> = self
            .txn
            .markers
            .iter()
            .filter(|(_, p)| p.is_done())
            .map(|(id, p)| (id.clone(), p.commit))
            .collect();
        for (id, commit) in done {
            self.txn.markers.remove(&id);
            let state = TxnState::complete(commit);
            if self
                .txn
                .txns
                .get(&id)
                .is_some_and(|m| m.pending.is_none() && m.may_become(state))
            {
                self.persist_txn(now, &id, state, TxnReply::Nobody, out);
            }
        }
    }

    pub(super) fn on_markers_written(
        &mut self,
        now: Instant,
        correlation_id: u32,
        results: Vec<(TopicPartition, ErrorCode)>,
        out: &mut Vec<Effect>,
    ) {
        let mut retry = false;
        for pending in self.txn.markers.values_mut() {
            if pending.in_flight.remove(&correlation_id).is_none() {
                continue;
            }
            for (tp, error) in &results {
                match error {
                    // Written; or refused for good (a newer epoch wrote there, the topic is
                    // gone): `TransactionMarkerRequestCompletionHandler` stops retrying.
                    ErrorCode::None
                    | ErrorCode::InvalidProducerEpoch
                    | ErrorCode::TransactionCoordinatorFenced
                    | ErrorCode::UnknownTopicOrPartition => {}
                    _ => {
                        retry = true;
                        pending.waiting.insert(tp.clone());
                    }
                }
            }
        }
        self.complete_marked(now, out);
        if retry {
            self.schedule_marker_retry(now, out);
        }
    }

    /// The connection to a leader broke: the markers it was writing go again.
    pub(super) fn markers_disconnected(
        &mut self,
        now: Instant,
        leader: BrokerId,
        out: &mut Vec<Effect>,
    ) {
        let mut retry = false;
        for pending in self.txn.markers.values_mut() {
            let lost: Vec<u32> = pending
                .in_flight
                .iter()
                .filter(|(_, (b, _))| *b == leader)
                .map(|(&c, _)| c)
                .collect();
            for c in lost {
                let (_, tps) = pending.in_flight.remove(&c).expect("listed");
                pending.waiting.extend(tps);
                retry = true;
            }
        }
        if retry {
            self.schedule_marker_retry(now, out);
        }
    }

    /// As a partition leader: WriteTxnMarkers appends each partition's control batch (acks=all,
    /// answered once replicated, as Kafka appends markers with `requiredAcks = -1`).
    pub(super) fn on_write_markers(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u32,
        marker: TxnMarker,
        out: &mut Vec<Effect>,
    ) {
        let kind = if marker.commit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let mut results = Vec::with_capacity(marker.partitions.len());
        let mut waiting = Vec::new();
        for tp in marker.partitions {
            let batch = marker_batch(
                marker.producer.producer_id,
                marker.producer.epoch,
                kind,
                marker.coordinator_epoch,
                now.as_millis() as i64,
            );
            let (result, wait_for) = self.append_as_leader(now, tp, batch, Acks::All, out);
            if let Some(required) = wait_for {
                waiting.push((results.len(), required));
            }
            results.push(result);
        }
        self.hold_or_answer(
            now,
            from,
            correlation_id,
            results,
            waiting,
            Reply::Markers,
            30_000,
            out,
        );
    }

    /// Asks the controller for the next block of producer ids when due.
    fn request_id_block(&mut self, out: &mut Vec<Effect>) {
        if self.txn.ids.wants_block() {
            self.txn.ids.requested = true;
            out.push(Effect::Send {
                to: NodeId::Controller,
                msg: Message::AllocateProducerIds {
                    broker: self.id,
                    incarnation: self.incarnation,
                },
            });
        }
    }

    pub(super) fn on_id_block(&mut self, first: ProducerId, count: u32) {
        debug_assert_eq!(count, PRODUCER_ID_BLOCK);
        self.txn.ids.block_arrived(first, count);
    }

    /// The controller connection broke: a block asked for may never come; ask again.
    pub(super) fn id_request_lost(&mut self) {
        self.txn.ids.requested = false;
    }
}
