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
use crate::record::{Offset, RecordBatch, TopicPartition};
use crate::time::Instant;
use crate::trace::NodeId;

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
pub(crate) enum SequenceCheck {
    Append,
    Duplicate(Offset),
    Reject(ErrorCode),
}

/// A leader's view of one follower (Kafka's `Replica` state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's log end offset, as its last fetch offset says.
    pub log_end: Option<Offset>,
    pub(crate) last_caught_up: Instant,
    pub(crate) last_fetch_leader_end: Offset,
    pub(crate) last_fetch_time: Instant,
}

/// One replica of one partition on this broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub log: PartitionLog,
    pub high_watermark: Offset,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    /// Who leads, as this broker last heard.
    pub leader: Option<u32>,
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
    pub config: TopicConfig,
    /// Leader epoch cache: (epoch, start offset), ascending (KIP-101).
    pub epochs: Vec<(u32, Offset)>,
    /// As leader: the followers' state.
    pub followers: BTreeMap<u32, FollowerState>,
    /// An AlterPartition is in flight: with its proposed ISR.
    pub(crate) isr_change_in_flight: Option<Vec<u32>>,
    producers: BTreeMap<i64, ProducerStateEntry>,
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
            followers: BTreeMap::new(),
            isr_change_in_flight: None,
            producers: BTreeMap::new(),
        }
    }

    pub fn is_leader(&self, me: u32) -> bool {
        self.leader == Some(me)
    }

    pub(crate) fn check_sequence(&self, batch: &RecordBatch) -> SequenceCheck {
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

    /// Producer state follows the log: leaders and followers both remember appended batches, so
    /// a new leader recognises retries of batches its predecessor appended.
    pub(crate) fn remember_batch(&mut self, batch: &RecordBatch) {
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
    pub(crate) fn effective_min_isr(&self) -> usize {
        (self.config.min_insync_replicas as usize).min(self.replicas.len())
    }

    /// The ISR the leader acts on: the committed one plus any addition in flight (KIP-497).
    pub(crate) fn maximal_isr(&self) -> Vec<u32> {
        let mut isr = self.isr.clone();
        if let Some(proposed) = &self.isr_change_in_flight {
            for r in proposed {
                if !isr.contains(r) {
                    isr.push(*r);
                }
            }
        }
        isr
    }

    /// The leader's high watermark rule (§3.2): the smallest log end offset in the maximal ISR,
    /// frozen while the ISR is below the effective `min.insync.replicas`, never moving back.
    pub(crate) fn next_high_watermark(&self, me: u32) -> Offset {
        let isr = self.maximal_isr();
        if self.isr.len() < self.effective_min_isr() {
            return self.high_watermark;
        }
        let mut hw = self.log.log_end();
        for r in isr.iter().filter(|&&r| r != me) {
            let leo = self
                .followers
                .get(r)
                .and_then(|f| f.log_end)
                .unwrap_or(Offset(0));
            hw = hw.min(leo);
        }
        hw.max(self.high_watermark)
    }

    /// Appends a batch the leader already stamped, keeping the epoch cache.
    pub(crate) fn append_stamped(&mut self, batch: RecordBatch, now: Instant) {
        let epoch = batch.partition_leader_epoch as u32;
        if self.epochs.last().is_none_or(|&(e, _)| epoch > e) {
            self.epochs.push((epoch, batch.base_offset));
        }
        self.remember_batch(&batch);
        self.log.append(batch, now);
    }

    /// Epoch of the last batch in the log (a follower's `lastFetchedEpoch`).
    pub(crate) fn last_epoch(&self) -> Option<u32> {
        let leo = self.log.log_end();
        if leo == self.log.log_start() {
            return None;
        }
        // Asked for every partition of every replica fetch: the newest batch, not a search.
        let last = self.log.last_batch();
        debug_assert_eq!(
            last.map(|b| b.base_offset),
            self.log.batch_at(Offset(leo.0 - 1)).map(|b| b.base_offset),
            "the newest batch holds the offset below the log end"
        );
        last.map(|b| b.partition_leader_epoch as u32)
    }

    /// OffsetsForLeaderEpoch on the leader (§3.5): the largest epoch ≤ `requested` it knows
    /// and where that epoch ends in its log.
    pub fn end_offset_for_epoch(&self, requested: u32) -> (u32, Offset) {
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

    /// Where a follower's own log ends for `epoch`: the start of its next higher epoch.
    pub(crate) fn local_end_offset_for_epoch(&self, epoch: u32) -> Offset {
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
/// until it is answered the leader counts the proposed members too (the maximal ISR).
pub(crate) fn propose_isr(
    r: &mut Replica,
    tp: &TopicPartition,
    me: u32,
    isr: Vec<u32>,
    out: &mut Vec<Effect>,
) {
    let request = AlterPartitionRequest {
        tp: tp.clone(),
        leader: me,
        leader_epoch: r.leader_epoch,
        partition_epoch: r.partition_epoch,
        new_isr: isr.clone(),
    };
    r.isr_change_in_flight = Some(isr);
    out.push(Effect::Send {
        to: NodeId::Controller,
        msg: Message::AlterPartition(request),
    });
}

/// Kafka's `lastCaughtUpTimeMs` rule (§3.3) on a follower fetch at `fetch_offset`.
pub(crate) fn update_follower(
    state: &mut FollowerState,
    fetch_offset: Offset,
    leader_end: Offset,
    now: Instant,
) {
    if fetch_offset >= leader_end {
        state.last_caught_up = now;
    } else if fetch_offset >= state.last_fetch_leader_end {
        state.last_caught_up = state.last_caught_up.max(state.last_fetch_time);
    }
    state.last_fetch_leader_end = leader_end;
    state.last_fetch_time = now;
    state.log_end = Some(fetch_offset);
}
