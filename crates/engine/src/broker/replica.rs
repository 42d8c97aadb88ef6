//! One replica of one partition on a broker (Kafka's `Partition`): its log, high watermark,
//! leader epoch cache and producer state; as leader, its view of each follower, the high
//! watermark rule and the ISR changes it proposes (reference §2.3, §3.2, §3.3, §3.5).
//!
//! It decides from its own state only; the broker routes messages to it and sends what it asks.

use std::collections::{BTreeMap, VecDeque};

use crate::log::PartitionLog;
use crate::metadata::{PartitionMetadata, TopicConfig};
use crate::node::Effect;
use crate::protocol::{AlterPartitionRequest, ErrorCode, Message};
use crate::record::{
    ControlType, LeaderEpoch, Offset, ProducerId, ProducerIdentity, RecordBatch, TopicPartition,
};
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId};

/// How many batches of each producer a leader remembers for duplicate detection (§2.3).
const PRODUCER_BATCHES_RETAINED: usize = 5;

/// What a leader remembers of one idempotent producer on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerStateEntry {
    epoch: i16,
    /// The coordinator epoch of the newest marker (`ProducerStateEntry.coordinatorEpoch`).
    coordinator_epoch: u32,
    /// (first sequence, last sequence, base offset) of the newest batches.
    batches: VecDeque<(i32, i32, Offset)>,
}

/// The transaction half of a replica's producer state (Kafka's `ProducerStateManager` with
/// the `.txnindex` beside the log): built from the log on every replica, leader or follower, so
/// a new leader knows the open transactions and the aborted ones at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnIndex {
    /// Open transactions: producer id → offset of its first record here.
    ongoing: BTreeMap<ProducerId, Offset>,
    /// Ended transactions the high watermark may not have passed yet, as (first offset,
    /// marker offset): still unstable until it does (`UnifiedLog.firstUnstableOffset`).
    unstable: Vec<(Offset, Offset)>,
    /// Aborted transactions, as (producer id, first offset, marker offset).
    pub aborted: Vec<(ProducerId, Offset, Offset)>,
}

impl TxnIndex {
    fn on_batch(&mut self, batch: &RecordBatch, hw: Offset) {
        let Some(identity) = batch.producer.filter(|_| batch.is_transactional) else {
            return;
        };
        let pid = identity.producer_id;
        let Some(kind) = batch.control_type() else {
            self.ongoing.entry(pid).or_insert(batch.base_offset);
            return;
        };
        let marker = batch.base_offset;
        let first = self.ongoing.remove(&pid).unwrap_or(marker);
        self.unstable.retain(|&(_, m)| m >= hw);
        self.unstable.push((first, marker));
        if kind == ControlType::Abort {
            self.aborted.push((pid, first, marker));
        }
    }

    /// Kafka's last stable offset: below the first record of the earliest transaction still
    /// open, or ended with a marker the high watermark has not passed; at most the HW.
    pub fn last_stable_offset(&self, hw: Offset) -> Offset {
        let open = self.ongoing.values().copied();
        let unstable = self
            .unstable
            .iter()
            .filter(|&&(_, m)| m >= hw)
            .map(|&(f, _)| f);
        open.chain(unstable).fold(hw, Offset::min)
    }

    /// Whether `batch` belongs to a transaction aborted here (between its first offset and
    /// its ABORT marker).
    pub fn is_aborted(&self, batch: &RecordBatch) -> bool {
        let Some(p) = batch
            .producer
            .filter(|_| batch.is_transactional && !batch.is_control)
        else {
            return false;
        };
        let at = batch.base_offset;
        let of = |&&(pid, first, marker): &&(ProducerId, Offset, Offset)| {
            pid == p.producer_id && first <= at && at < marker
        };
        self.aborted.iter().any(|a| of(&a))
    }

    /// The open transaction of `pid` here, by its first offset.
    pub fn open(&self, pid: ProducerId) -> Option<Offset> {
        self.ongoing.get(&pid).copied()
    }

    /// How many transactions are open here.
    pub fn open_count(&self) -> usize {
        self.ongoing.len()
    }

    /// The aborted transactions a read of `[from, to)` must know (Kafka's
    /// `collectAbortedTransactions`): those ending at or after `from` and starting before `to`.
    pub fn aborted_between(&self, from: Offset, to: Offset) -> Vec<(ProducerId, Offset)> {
        let overlapping = self
            .aborted
            .iter()
            .filter(|&&(_, f, l)| l >= from && f < to);
        overlapping.map(|&(p, f, _)| (p, f)).collect()
    }
}

/// Outcome of the idempotence check.
pub(crate) enum SequenceCheck {
    Append,
    Duplicate(Offset),
    Reject(ErrorCode),
}

/// A leader's view of one follower (Kafka's `Replica.ReplicaState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's log end offset, as its last fetch offset says; unknown until it fetches
    /// from this leader.
    pub log_end: Option<Offset>,
    /// When the follower last had everything the leader had (`lastCaughtUpTimeMs`); `None` is
    /// Kafka's 0: never, or reset because the follower is not in the ISR.
    last_caught_up: Option<Instant>,
    /// The leader's log end when the follower last fetched (`lastFetchLeaderLogEndOffset`).
    last_fetch_leader_end: Option<Offset>,
    last_fetch_time: Option<Instant>,
}

impl FollowerState {
    /// A follower of a leader that has just taken over (`resetReplicaState` with
    /// `isNewLeader`): nothing known but whether it was in the ISR, which counts as caught up.
    pub(crate) fn new(in_isr: bool, now: Instant) -> FollowerState {
        FollowerState {
            log_end: None,
            last_caught_up: in_isr.then_some(now),
            last_fetch_leader_end: None,
            last_fetch_time: None,
        }
    }

    /// A new leader epoch of the same leader (`resetReplicaState` without `isNewLeader`): what
    /// it knows of the follower stays, its catch-up time restarts from the ISR, so that a
    /// follower no longer in the ISR does not hold the high watermark back.
    pub(crate) fn reset(&mut self, in_isr: bool, now: Instant) {
        self.last_caught_up = in_isr.then_some(now);
    }

    /// Kafka's `ReplicaState.isCaughtUp`: at the leader's log end, or caught up within
    /// `replica.lag.time.max.ms`.
    pub fn is_caught_up(&self, leader_end: Offset, now: Instant, lag_max: Duration) -> bool {
        self.log_end == Some(leader_end)
            || self
                .last_caught_up
                .is_some_and(|t| now.saturating_since(t) <= lag_max)
    }

    /// Kafka's `updateFetchState` (§3.3) on a follower fetch at `fetch_offset`: caught up now
    /// if it fetched from the leader's log end, or as of its previous fetch if it reached the
    /// log end the leader had then.
    pub(crate) fn on_fetch(&mut self, fetch_offset: Offset, leader_end: Offset, now: Instant) {
        let caught_up = if fetch_offset >= leader_end {
            Some(now)
        } else if self
            .last_fetch_leader_end
            .is_some_and(|end| fetch_offset >= end)
        {
            self.last_fetch_time
        } else {
            None
        };
        self.last_caught_up = self.last_caught_up.max(caught_up);
        self.last_fetch_leader_end = self.last_fetch_leader_end.max(Some(leader_end));
        self.last_fetch_time = Some(now);
        self.log_end = Some(fetch_offset);
    }
}

/// What a new partition state did to this broker's role in the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoleChange {
    BecameLeader,
    NewLeaderEpoch,
    StillLeads,
    StoppedLeading,
    Follows,
}

/// An ISR change the leader asked the controller for and has not heard back about (Kafka's
/// `PendingExpandIsr` and `PendingShrinkIsr`). Until it is settled the leader counts the
/// proposed members too (the maximal ISR, KIP-497) and proposes nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingIsr {
    pub(crate) isr: Vec<BrokerId>,
    /// Matches the controller's answer to this proposal and not to an older one.
    pub(crate) proposal: u64,
}

/// A replica's role in its partition (Kafka's `Partition` keeps the same state for a leader
/// only: its remote replicas' state and the ISR change in flight).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Leader(Leadership),
    Follower,
}

/// What a leader keeps beside the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    /// Its view of each follower.
    pub followers: BTreeMap<BrokerId, FollowerState>,
    /// The ISR change it asked the controller for and has not heard back about.
    pub(crate) pending_isr: Option<PendingIsr>,
}

/// One replica of one partition on this broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub log: PartitionLog,
    pub high_watermark: Offset,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: u32,
    /// Who leads, as this broker last heard.
    pub leader: Option<BrokerId>,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub config: TopicConfig,
    /// Leader epoch cache: (epoch, start offset), ascending (KIP-101).
    pub epochs: Vec<(LeaderEpoch, Offset)>,
    /// Leader or follower: what only a leader keeps lives in its role.
    pub role: Role,
    producers: BTreeMap<ProducerId, ProducerStateEntry>,
    pub txns: TxnIndex,
}

impl Replica {
    /// A replica as the broker first hears of it: an empty log, no leader known yet.
    pub fn new(log: PartitionLog, pm: &PartitionMetadata, config: TopicConfig) -> Replica {
        Replica {
            log,
            high_watermark: Offset(0),
            leader_epoch: pm.leader_epoch,
            partition_epoch: pm.partition_epoch,
            leader: None,
            replicas: pm.replicas.clone(),
            isr: pm.isr.clone(),
            config,
            epochs: Vec::new(),
            role: Role::Follower,
            producers: BTreeMap::new(),
            txns: TxnIndex::default(),
        }
    }

    /// Applies the controller's state of this partition, as Kafka's `Partition.makeLeader` and
    /// `makeFollower` do: the ISR as committed (a pending change is dropped), the leader and
    /// its epoch. A new leader knows nothing of its followers yet; a new epoch of the same
    /// leader restarts their catch-up times; a new epoch starts at the leader's log end.
    /// Returns `None`, changing nothing, for a state older than the replica's.
    pub(crate) fn apply_partition_state(
        &mut self,
        me: BrokerId,
        pm: &PartitionMetadata,
        now: Instant,
    ) -> Option<RoleChange> {
        if pm.partition_epoch < self.partition_epoch {
            return None;
        }
        let was_leader = self.is_leader(me);
        let new_leader_epoch = pm.leader_epoch > self.leader_epoch;
        self.replicas = pm.replicas.clone();
        self.isr = pm.isr.clone();
        self.partition_epoch = pm.partition_epoch;
        self.leader_epoch = pm.leader_epoch;
        self.leader = pm.leader;
        if !self.is_leader(me) {
            self.role = Role::Follower;
            return Some(match was_leader {
                true => RoleChange::StoppedLeading,
                false => RoleChange::Follows,
            });
        }
        if new_leader_epoch || !was_leader {
            let leo = self.log.log_end();
            self.assign_epoch(pm.leader_epoch, leo);
        }
        // The ISR as committed: a pending change is dropped.
        let leadership = match &mut self.role {
            Role::Leader(l) => {
                l.pending_isr = None;
                l
            }
            follower => {
                *follower = Role::Leader(Leadership::default());
                let Role::Leader(l) = follower else {
                    unreachable!("just made a leader")
                };
                l
            }
        };
        for &r in pm.replicas.iter().filter(|&&r| r != me) {
            let in_isr = pm.isr.contains(&r);
            match leadership.followers.get_mut(&r) {
                Some(f) if was_leader => {
                    if new_leader_epoch {
                        f.reset(in_isr, now);
                    }
                }
                _ => {
                    leadership
                        .followers
                        .insert(r, FollowerState::new(in_isr, now));
                }
            }
        }
        Some(match (was_leader, new_leader_epoch) {
            (false, _) => RoleChange::BecameLeader,
            (true, true) => RoleChange::NewLeaderEpoch,
            (true, false) => RoleChange::StillLeads,
        })
    }

    pub fn is_leader(&self, me: BrokerId) -> bool {
        self.leader == Some(me)
    }

    /// What this replica keeps as leader; none as a follower.
    pub fn leadership(&self) -> Option<&Leadership> {
        match &self.role {
            Role::Leader(l) => Some(l),
            Role::Follower => None,
        }
    }

    pub(crate) fn leadership_mut(&mut self) -> Option<&mut Leadership> {
        match &mut self.role {
            Role::Leader(l) => Some(l),
            Role::Follower => None,
        }
    }

    /// As leader: what it knows of `follower`.
    pub fn follower(&self, follower: BrokerId) -> Option<&FollowerState> {
        self.leadership()?.followers.get(&follower)
    }

    pub(crate) fn follower_mut(&mut self, follower: BrokerId) -> Option<&mut FollowerState> {
        self.leadership_mut()?.followers.get_mut(&follower)
    }

    /// As leader: the ISR change in flight.
    pub(crate) fn pending_isr(&self) -> Option<&PendingIsr> {
        self.leadership()?.pending_isr.as_ref()
    }

    /// The last stable offset (reference §5): read_committed reads below it.
    pub fn last_stable_offset(&self) -> Offset {
        self.txns.last_stable_offset(self.high_watermark)
    }

    pub(crate) fn check_sequence(&self, batch: &RecordBatch) -> SequenceCheck {
        if let (Some(identity), true) = (batch.producer, batch.is_control) {
            // A marker from an older epoch (a coordinator's request delayed past the
            // transactions after it) is refused (`ProducerAppendInfo.checkProducerEpoch`):
            // appended, it would end whatever transaction is open now (swarm seed 400108).
            let Some(entry) = self.producers.get(&identity.producer_id) else {
                return SequenceCheck::Append;
            };
            // And one from a coordinator older than the last one heard from (its partition
            // of `__transaction_state` moved since): `TransactionCoordinatorFencedException`.
            let coordinator = batch.marker_coordinator_epoch().unwrap_or(0);
            return if identity.producer_epoch < entry.epoch {
                SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
            } else if coordinator < entry.coordinator_epoch {
                SequenceCheck::Reject(ErrorCode::TransactionCoordinatorFenced)
            } else {
                SequenceCheck::Append
            };
        }
        if let Some(identity) = batch.producer.filter(|p| p.base_sequence < 0) {
            // A coordinator's append for a producer (TxnOffsetCommit): no sequence to check,
            // but an older epoch is fenced (`AppendOrigin.COORDINATOR`).
            let fenced = (self.producers.get(&identity.producer_id))
                .is_some_and(|e| identity.producer_epoch < e.epoch);
            return match fenced {
                true => SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch),
                false => SequenceCheck::Append,
            };
        }
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

    /// The state kept for a batch's producer id, new at the batch's epoch if there is none.
    fn producer_entry(&mut self, identity: ProducerIdentity) -> &mut ProducerStateEntry {
        let entry = self.producers.entry(identity.producer_id);
        entry.or_insert(ProducerStateEntry {
            epoch: identity.producer_epoch,
            coordinator_epoch: 0,
            batches: VecDeque::new(),
        })
    }

    /// Producer state follows the log: leaders and followers both remember appended batches, so
    /// a new leader recognises retries of batches its predecessor appended.
    pub(crate) fn remember_batch(&mut self, batch: &RecordBatch) {
        self.txns.on_batch(batch, self.high_watermark);
        if let (Some(identity), true) = (batch.producer, batch.is_control) {
            // A marker written at a newer epoch (Transactions V2 bumps it per transaction)
            // fences every older one here: a late write of the ended transaction is refused.
            let entry = self.producer_entry(identity);
            if identity.producer_epoch > entry.epoch {
                entry.epoch = identity.producer_epoch;
                entry.batches.clear();
            }
            let coordinator = batch.marker_coordinator_epoch().unwrap_or(0);
            entry.coordinator_epoch = entry.coordinator_epoch.max(coordinator);
            return;
        }
        let (Some(identity), Some(last_seq)) = (batch.producer, batch.last_sequence()) else {
            return;
        };
        let entry = self.producer_entry(identity);
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
    pub(crate) fn effective_min_isr(&self) -> usize {
        (self.config.min_insync_replicas as usize).min(self.replicas.len())
    }

    /// Whether `replica` is in the ISR the leader acts on: the committed one plus any addition
    /// in flight (the maximal ISR, KIP-497).
    pub(crate) fn in_maximal_isr(&self, replica: BrokerId) -> bool {
        self.isr.contains(&replica) || self.pending_isr().is_some_and(|p| p.isr.contains(&replica))
    }

    /// The leader's high watermark rule (§3.2, Kafka's `Partition.maybeIncrementLeaderHW`): the
    /// smallest log end offset among the leader, the maximal ISR and every follower that is
    /// caught up and eligible to join it (`shouldWaitForReplicaToJoinIsr`, so a follower that
    /// has caught up is not outrun and can rejoin); frozen while the ISR is below the effective
    /// `min.insync.replicas`; never moving back. `eligible` says whether a broker may join an
    /// ISR (registered and not fenced, as this broker's metadata says).
    pub(crate) fn next_high_watermark(
        &self,
        me: BrokerId,
        now: Instant,
        lag_max: Duration,
        eligible: impl Fn(BrokerId) -> bool,
    ) -> Offset {
        if self.isr.len() < self.effective_min_isr() {
            return self.high_watermark;
        }
        let leader_end = self.log.log_end();
        let mut hw = leader_end;
        for &r in self.replicas.iter().filter(|&&r| r != me) {
            let state = self.follower(r);
            let leo = state.and_then(|f| f.log_end).unwrap_or(Offset(0));
            if leo >= hw {
                continue;
            }
            let waits_to_join =
                || state.is_some_and(|f| f.is_caught_up(leader_end, now, lag_max)) && eligible(r);
            if self.in_maximal_isr(r) || waits_to_join() {
                hw = leo;
            }
        }
        hw.max(self.high_watermark)
    }

    /// Kafka's `isFollowerInSync` for ISR expansion (§3.3): the follower has reached the high
    /// watermark and the start of the leader's epoch.
    pub(crate) fn may_join_isr(&self, follower: BrokerId) -> bool {
        let Some(leo) = self.follower(follower).and_then(|f| f.log_end) else {
            return false;
        };
        let epoch_start = self.epochs.last().map_or(Offset(0), |&(_, s)| s);
        leo >= self.high_watermark && leo >= epoch_start
    }

    /// Appends a batch the leader already stamped, keeping the epoch cache.
    pub(crate) fn append_stamped(&mut self, batch: RecordBatch, now: Instant) {
        let epoch = batch.partition_leader_epoch.expect("a leader stamped it");
        self.assign_epoch(epoch, batch.base_offset);
        self.remember_batch(&batch);
        self.log.append(batch, now);
    }

    /// Kafka's `LeaderEpochFileCache.assign`: an entry that is not a continuation of the
    /// latest one replaces every entry it conflicts with (an epoch at or above it, or a start
    /// at or past it). A leader assigns its new epoch at its log end before it has written a
    /// record in it; should it then follow a leader whose older-epoch records land at that
    /// offset, the empty entry must go, or the cache names an epoch the log does not hold.
    pub(crate) fn assign_epoch(&mut self, epoch: LeaderEpoch, start: Offset) {
        let update = self
            .epochs
            .last()
            .is_none_or(|&(e, s)| epoch != e || start < s);
        if !update {
            return;
        }
        while self
            .epochs
            .last()
            .is_some_and(|&(e, s)| e >= epoch || s >= start)
        {
            self.epochs.pop();
        }
        self.epochs.push((epoch, start));
    }

    /// The latest epoch in the epoch cache, which is what a follower sends as its
    /// `lastFetchedEpoch` (Kafka's `UnifiedLog.latestEpoch`, read by `ReplicaFetcherThread`
    /// when the partition is added and after a truncation). It is not the epoch of the last
    /// batch: a broker that led an epoch without writing in it still has that epoch's entry,
    /// and sending it is what makes the new leader report the divergence that removes it
    /// (swarm seed 80698: the last batch's epoch hid the entry, the follower appended older-
    /// epoch records under it, and every replica that fetched from it truncated forever).
    pub(crate) fn last_epoch(&self) -> Option<LeaderEpoch> {
        self.epochs.last().map(|&(e, _)| e)
    }

    /// OffsetsForLeaderEpoch on the leader (§3.5): the largest epoch ≤ `requested` it knows
    /// and where that epoch ends in its log.
    pub fn end_offset_for_epoch(&self, requested: LeaderEpoch) -> (LeaderEpoch, Offset) {
        match self.epochs.last() {
            Some(&(latest, _)) if latest == requested => return (requested, self.log.log_end()),
            None => return (requested, self.log.log_end()),
            _ => {}
        }
        match self.epochs.iter().position(|&(e, _)| e > requested) {
            None => (requested, self.log.log_end()),
            Some(0) => (requested, self.epochs[0].1),
            Some(i) => (self.epochs[i - 1].0, self.epochs[i].1),
        }
    }

    /// OffsetsForLeaderEpoch for a consumer, exactly as Kafka's
    /// `LeaderEpochFileCache.endOffsetFor`: the latest epoch ends at the log end; an older one
    /// at the start of the next higher epoch, reported under the largest known epoch ≤ it (or
    /// itself, if it predates them all); an epoch above every known one is undefined (`None`).
    pub(crate) fn consumer_end_offset_for_epoch(
        &self,
        requested: LeaderEpoch,
    ) -> Option<(LeaderEpoch, Offset)> {
        if self.epochs.last().is_some_and(|&(e, _)| e == requested) {
            return Some((requested, self.log.log_end()));
        }
        let higher = self.epochs.iter().find(|&&(e, _)| e > requested)?;
        let floor = self.epochs.iter().rev().find(|&&(e, _)| e <= requested);
        Some((floor.map_or(requested, |&(e, _)| e), higher.1))
    }

    /// Where a follower's own log ends for `epoch`: the start of its next higher epoch.
    pub(crate) fn local_end_offset_for_epoch(&self, epoch: LeaderEpoch) -> Offset {
        self.epochs
            .iter()
            .find(|&&(e, _)| e > epoch)
            .map_or(self.log.log_end(), |&(_, start)| start)
    }

    pub(crate) fn truncate_to(&mut self, offset: Offset) {
        let offset = offset.max(self.log.log_start());
        self.log.truncate_to(offset);
        let leo = self.log.log_end();
        self.epochs.retain(|&(_, start)| start < leo);
        self.high_watermark = self.high_watermark.min(leo);
        // Kafka rebuilds producer state from the log after a truncation; so do we, so the
        // newest retained batches of each producer are the ones still in the log.
        self.producers.clear();
        self.txns = TxnIndex::default();
        let batches: Vec<RecordBatch> = self
            .log
            .segments()
            .iter()
            .flat_map(|s| s.batches.iter().cloned())
            .collect();
        for batch in &batches {
            self.remember_batch(batch);
        }
    }
}

/// Asks the controller for a new ISR (AlterPartition); one change is in flight at a time, and
/// until it is settled the leader counts the proposed members too (the maximal ISR).
pub(crate) fn propose_isr(
    r: &mut Replica,
    tp: &TopicPartition,
    me: BrokerId,
    isr: Vec<BrokerId>,
    proposal: u64,
    out: &mut Vec<Effect>,
) {
    let request = AlterPartitionRequest {
        tp: tp.clone(),
        leader: me,
        leader_epoch: r.leader_epoch,
        partition_epoch: r.partition_epoch,
        new_isr: isr.clone(),
        proposal,
    };
    let leadership = r.leadership_mut().expect("only a leader proposes an ISR");
    leadership.pending_isr = Some(PendingIsr { isr, proposal });
    out.push(Effect::Send {
        to: NodeId::Controller,
        msg: Message::AlterPartition(request),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::SegmentPolicy;
    use crate::record::test_batch;
    use crate::trace::ids;

    const LAG_MAX: Duration = Duration(30_000_000);

    /// Broker 0 leads a partition on brokers 0, 1, 2 with ISR `isr`, its log holding `leo`
    /// records, min.insync.replicas 1.
    #[test]
    fn a_marker_from_an_older_epoch_or_coordinator_is_refused() {
        use crate::record::{marker_batch, ProducerId};
        let mut r = leader(&[0], 1);
        let marker = |epoch, coordinator| {
            let mut m = marker_batch(ProducerId(7), epoch, ControlType::Commit, coordinator, 0);
            m.base_offset = Offset(1);
            m.partition_leader_epoch = Some(LeaderEpoch(0));
            m
        };
        assert!(matches!(
            r.check_sequence(&marker(3, 5)),
            SequenceCheck::Append
        ));
        r.append_stamped(marker(3, 5), Instant::ZERO);
        let refused = |r: &Replica, m| match r.check_sequence(&m) {
            SequenceCheck::Reject(e) => Some(e),
            _ => None,
        };
        assert_eq!(
            refused(&r, marker(3, 4)),
            Some(ErrorCode::TransactionCoordinatorFenced),
            "a coordinator that lost its partition"
        );
        assert_eq!(
            refused(&r, marker(2, 6)),
            Some(ErrorCode::InvalidProducerEpoch),
            "a delayed marker of an earlier transaction"
        );
        assert_eq!(
            refused(&r, marker(4, 5)),
            None,
            "the next transaction's marker"
        );
    }

    fn leader(isr: &[u32], leo: u64) -> Replica {
        let pm = PartitionMetadata {
            partition_epoch: 0,
            replicas: ids(&[0, 1, 2]),
            leader: Some(BrokerId(0)),
            leader_epoch: LeaderEpoch(0),
            isr: ids(isr),
        };
        let policy = SegmentPolicy {
            segment_bytes: u64::MAX,
            segment_ms: u64::MAX,
        };
        let mut log = PartitionLog::new(policy, Instant::ZERO);
        log.append(test_batch(Offset(0), 0, leo, 100), Instant::ZERO);
        let mut r = Replica::new(log, &pm, TopicConfig::defaults());
        r.apply_partition_state(BrokerId(0), &pm, Instant::ZERO);
        r
    }

    fn fetch(r: &mut Replica, follower: u32, offset: u64, now: Instant) {
        let end = r.log.log_end();
        let leadership = r.leadership_mut().expect("a leader");
        let state = leadership
            .followers
            .get_mut(&BrokerId(follower))
            .expect("a follower");
        state.on_fetch(Offset(offset), end, now);
    }

    fn hw(r: &Replica, now: Instant) -> Offset {
        r.next_high_watermark(BrokerId(0), now, LAG_MAX, |_| true)
    }

    #[test]
    fn the_high_watermark_is_the_smallest_log_end_of_the_isr() {
        let mut r = leader(&[0, 1, 2], 10);
        fetch(&mut r, 1, 10, Instant::ZERO);
        fetch(&mut r, 2, 7, Instant::ZERO);
        assert_eq!(hw(&r, Instant::ZERO), Offset(7));
        fetch(&mut r, 2, 10, Instant::ZERO);
        assert_eq!(hw(&r, Instant::ZERO), Offset(10));
    }

    #[test]
    fn a_replica_being_added_counts_until_the_controller_answers() {
        // KIP-497's maximal ISR: the follower's log end bounds the high watermark from the
        // moment the leader proposes it, not from the moment the controller agrees.
        let mut r = leader(&[0], 10);
        let t = Instant::from_millis(60_000);
        fetch(&mut r, 1, 6, t);
        r.high_watermark = Offset(6);
        r.leadership_mut().expect("a leader").pending_isr = Some(PendingIsr {
            isr: ids(&[0, 1]),
            proposal: 1,
        });
        assert_eq!(hw(&r, t), Offset(6));
        r.leadership_mut().expect("a leader").pending_isr = None;
        assert_eq!(
            hw(&r, t),
            Offset(10),
            "without the proposal, a lagging non-member does not count"
        );
    }

    #[test]
    fn a_caught_up_follower_that_may_join_holds_the_high_watermark_back() {
        // Kafka's shouldWaitForReplicaToJoinIsr: once caught up, the follower is not outrun,
        // so it reaches the high watermark and can rejoin.
        let mut r = leader(&[0], 10);
        let t = Instant::from_millis(60_000);
        fetch(&mut r, 1, 10, t);
        r.log.append(test_batch(Offset(10), 10, 5, 100), t);
        assert_eq!(hw(&r, t), Offset(10), "caught up a moment ago: waited for");
        assert!(r.may_join_isr(BrokerId(1)));
        assert_eq!(
            r.next_high_watermark(BrokerId(0), t, LAG_MAX, |b| b != BrokerId(1)),
            Offset(15),
            "a fenced broker is not waited for"
        );
        let later = t + LAG_MAX + Duration::from_millis(1);
        assert_eq!(
            hw(&r, later),
            Offset(15),
            "no longer caught up: not waited for"
        );
    }

    #[test]
    fn a_new_leader_epoch_stops_waiting_for_followers_outside_the_isr() {
        // resetReplicaState: after a new epoch of the same leader, only ISR members count as
        // caught up.
        let mut r = leader(&[0, 1], 10);
        let t = Instant::from_millis(60_000);
        fetch(&mut r, 2, 10, t);
        r.log.append(test_batch(Offset(10), 10, 5, 100), t);
        fetch(&mut r, 1, 15, t);
        assert_eq!(
            hw(&r, t),
            Offset(10),
            "follower 2 caught up at 10: waited for"
        );
        let pm = PartitionMetadata {
            partition_epoch: 1,
            replicas: ids(&[0, 1, 2]),
            leader: Some(BrokerId(0)),
            leader_epoch: LeaderEpoch(1),
            isr: ids(&[0, 1]),
        };
        assert_eq!(
            r.apply_partition_state(BrokerId(0), &pm, t),
            Some(RoleChange::NewLeaderEpoch)
        );
        assert_eq!(hw(&r, t), Offset(15));
    }

    #[test]
    fn the_high_watermark_stays_while_the_isr_is_below_min_insync_replicas() {
        let mut r = leader(&[0], 10);
        r.config.min_insync_replicas = 2;
        assert_eq!(hw(&r, Instant::ZERO), Offset(0));
    }

    #[test]
    fn an_older_partition_state_changes_nothing() {
        let mut r = leader(&[0, 1, 2], 10);
        let newer = PartitionMetadata {
            partition_epoch: 3,
            replicas: ids(&[0, 1, 2]),
            leader: Some(BrokerId(0)),
            leader_epoch: LeaderEpoch(0),
            isr: ids(&[0, 1]),
        };
        r.apply_partition_state(BrokerId(0), &newer, Instant::ZERO);
        let older = PartitionMetadata {
            partition_epoch: 2,
            isr: ids(&[0]),
            ..newer
        };
        assert_eq!(
            r.apply_partition_state(BrokerId(0), &older, Instant::ZERO),
            None
        );
        assert_eq!(r.isr, ids(&[0, 1]));
    }

    /// A leader whose log ends at `leo`, with this epoch history, assigned in order as
    /// Kafka's `LeaderEpochFileCache.assign` (for the `LeaderEpochFileCacheTest` ports).
    fn cache(leo: u64, assigns: &[(u32, u64)]) -> Replica {
        let mut r = leader(&[0, 1, 2], leo.max(1));
        if leo == 0 {
            r.truncate_to(Offset(0));
        }
        r.epochs.clear();
        for &(epoch, start) in assigns {
            r.assign_epoch(LeaderEpoch(epoch), Offset(start));
        }
        r
    }

    fn end(r: &Replica, epoch: u32) -> Option<(u32, u64)> {
        r.consumer_end_offset_for_epoch(LeaderEpoch(epoch))
            .map(|(e, o)| (e.0, o.0))
    }

    /// LeaderEpochFileCacheTest.shouldReturnLogEndOffsetIfLatestEpochRequested
    #[test]
    fn should_return_log_end_offset_if_latest_epoch_requested() {
        assert_eq!(end(&cache(14, &[(2, 11), (2, 12)]), 2), Some((2, 14)));
    }

    /// LeaderEpochFileCacheTest.shouldReturnUnsupportedIfNoEpochRecorded
    #[test]
    fn should_return_unsupported_if_no_epoch_recorded() {
        assert_eq!(end(&cache(0, &[]), 0), None);
    }

    /// LeaderEpochFileCacheTest.shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch
    #[test]
    fn should_return_first_epoch_if_requested_epoch_less_than_first_epoch() {
        let r = cache(20, &[(5, 11), (6, 12), (7, 13)]);
        assert_eq!(end(&r, 4), Some((4, 11)));
    }

    /// LeaderEpochFileCacheTest.shouldTruncateIfMatchingEpochButEarlierStartingOffset
    #[test]
    fn should_truncate_if_matching_epoch_but_earlier_starting_offset() {
        let r = cache(20, &[(5, 11), (6, 12), (7, 13), (7, 12)]);
        assert_eq!(end(&r, 5), Some((5, 12)));
        assert_eq!(end(&r, 6), Some((5, 12)));
    }

    /// LeaderEpochFileCacheTest.shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch
    #[test]
    fn should_get_first_offset_of_subsequent_epoch_when_offset_requested_for_previous_epoch() {
        let r = cache(17, &[(1, 11), (1, 12), (2, 13), (2, 14), (3, 15), (3, 16)]);
        assert_eq!(end(&r, 2), Some((2, 15)));
    }

    /// LeaderEpochFileCacheTest.shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested
    #[test]
    fn should_return_next_available_epoch_if_there_is_no_exact_epoch_for_the_one_requested() {
        let r = cache(20, &[(0, 10), (2, 13), (4, 17)]);
        assert_eq!(end(&r, 1), Some((0, 13)));
        assert_eq!(end(&r, 2), Some((2, 17)));
        assert_eq!(end(&r, 3), Some((2, 17)));
    }

    /// LeaderEpochFileCacheTest.shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked
    #[test]
    fn should_return_invalid_offset_if_epoch_is_requested_which_is_not_currently_tracked() {
        assert_eq!(end(&cache(100, &[(2, 100)]), 3), None);
    }

    /// LeaderEpochFileCacheTest.shouldEnforceMonotonicallyIncreasingEpochs
    #[test]
    fn should_enforce_monotonically_increasing_epochs() {
        let r = cache(8, &[(1, 5), (2, 6), (1, 7)]);
        assert_eq!(r.last_epoch(), Some(LeaderEpoch(1)));
        assert_eq!(end(&r, 1), Some((1, 8)));
        assert_eq!(end(&r, 2), None);
        assert_eq!(r.epochs, vec![(LeaderEpoch(1), Offset(7))]);
    }

    /// LeaderEpochFileCacheTest.shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes
    #[test]
    fn should_increase_and_track_epochs_as_leaders_change_many_times() {
        let r = cache(0, &[(0, 0), (1, 0)]);
        assert_eq!(r.last_epoch(), Some(LeaderEpoch(1)));
        assert_eq!(end(&r, 1), Some((1, 0)));
        assert_eq!(end(&r, 0), Some((0, 0)));
        let r = cache(5, &[(0, 0), (1, 0)]);
        assert_eq!(end(&r, 1), Some((1, 5)));
        assert_eq!(end(&r, 0), Some((0, 0)));
        let r = cache(10, &[(0, 0), (1, 0), (2, 5)]);
        assert_eq!(end(&r, 2), Some((2, 10)));
        assert_eq!(end(&r, 1), Some((1, 5)));
        assert_eq!(end(&r, 0), Some((0, 0)));
    }
}
