//! The transaction coordinator's state (Kafka's `TransactionMetadata` and
//! `TransactionStateManager`, reference §5): one entry per transactional id, its states and
//! the transitions Kafka allows, the records it keeps in `__transaction_state`, and the
//! producer id blocks a broker hands out (`ProducerIdManager`).
//!
//! Pure state: the broker (`broker::transactions`) routes requests here, appends what must be
//! persisted and sends the markers. Transactions V2 (KIP-890, Kafka 4.0 with
//! `transaction.version=2`) is modelled: the epoch is bumped at the end of every transaction,
//! so a late write of an ended transaction is refused by its partition; partitions are added
//! by the client (`AddPartitionsToTxn`) as V1 clients do, where V2 brokers add them on the
//! first write (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::protocol::{ErrorCode, ProducerIdAndEpoch};
use crate::record::{ProducerId, Record, TopicPartition};
use crate::time::Instant;

/// The internal topic holding transaction state.
pub const TRANSACTION_TOPIC: &str = "__transaction_state";

/// Producer ids the controller hands a broker at a time
/// (`ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK: u32 = 1000;

/// The largest epoch before the producer id is replaced (`Short.MAX_VALUE - 1`).
const MAX_EPOCH: i16 = i16::MAX - 1;

/// A transaction's state (`TransactionState`), with Kafka's ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The states a transition into `self` may start from (`TransactionState.validPreviousStates`,
    /// Transactions V2: an empty transaction may be aborted).
    pub fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[
                Ongoing,
                PrepareEpochFence,
                Empty,
                CompleteCommit,
                CompleteAbort,
            ],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteCommit, CompleteAbort],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// The state EndTxn moves an open transaction to.
    pub fn prepare(commit: bool) -> TxnState {
        match commit {
            true => TxnState::PrepareCommit,
            false => TxnState::PrepareAbort,
        }
    }

    /// The state a transaction reaches once its markers are written.
    pub fn complete(commit: bool) -> TxnState {
        match commit {
            true => TxnState::CompleteCommit,
            false => TxnState::CompleteAbort,
        }
    }

    /// Whether the transaction is between EndTxn and its markers.
    pub fn is_preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// Whether no transaction is open (a new one may begin).
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// One transactional id's entry (`TransactionMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: Arc<str>,
    pub producer_id: ProducerId,
    pub epoch: i16,
    pub timeout_ms: u32,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    /// When the open transaction began (its first AddPartitionsToTxn).
    pub started_at: Instant,
    /// A transition being persisted: requests wait (CONCURRENT_TRANSACTIONS) until it is.
    pub pending: Option<TxnState>,
    /// The epoch the pending transition bumps to: applied with it, as Kafka's
    /// `TxnTransitMetadata` (until then requests at the current epoch are not fenced).
    pub pending_epoch: Option<i16>,
    /// The partitions the pending transition adds: they join `partitions` only once it is
    /// persisted (`TxnTransitMetadata.topicPartitions`). Added eagerly, a failed write left
    /// them in memory and the retry was answered at once, so the producer wrote to a
    /// partition the persisted transaction never named and whose marker never came (swarm
    /// seed 501141).
    pub pending_partitions: BTreeSet<TopicPartition>,
    /// Aborted by the coordinator (`transaction.timeout.ms`), not by its producer.
    pub timed_out: bool,
}

impl TxnMetadata {
    pub fn new(id: Arc<str>, producer: ProducerIdAndEpoch, timeout_ms: u32) -> TxnMetadata {
        TxnMetadata {
            transactional_id: id,
            producer_id: producer.producer_id,
            epoch: producer.epoch,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            started_at: Instant::ZERO,
            pending: None,
            pending_epoch: None,
            pending_partitions: BTreeSet::new(),
            timed_out: false,
        }
    }

    pub fn producer(&self) -> ProducerIdAndEpoch {
        ProducerIdAndEpoch {
            producer_id: self.producer_id,
            epoch: self.epoch,
        }
    }

    /// Whether `to` may follow the current state (Kafka throws `IllegalStateException`: a bug).
    pub fn may_become(&self, to: TxnState) -> bool {
        to.valid_previous().contains(&self.state)
    }

    /// Checks a client's id and epoch (`TransactionCoordinator`'s validation): an older epoch
    /// is a fenced instance; a retry at the previous epoch is recognised by the caller.
    pub fn validate(&self, producer: ProducerIdAndEpoch) -> Result<(), ErrorCode> {
        if producer.producer_id != self.producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if producer.epoch < self.epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        if producer.epoch > self.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        Ok(())
    }

    /// Bumps the epoch with the next transition (applied once it is persisted); `false` when
    /// the epoch is exhausted and the producer id must be replaced.
    pub fn bump_epoch(&mut self) -> bool {
        if self.epoch >= MAX_EPOCH {
            return false;
        }
        self.pending_epoch = Some(self.epoch + 1);
        true
    }

    /// The pending transition was persisted: it applies, with its epoch bump.
    pub fn apply_pending(&mut self, state: TxnState) {
        self.state = state;
        if let Some(epoch) = self.pending_epoch.take() {
            self.epoch = epoch;
        }
        self.partitions.append(&mut self.pending_partitions);
    }

    /// The pending transition failed to persist: nothing of it applies.
    pub fn drop_pending(&mut self) {
        self.pending = None;
        self.pending_epoch = None;
        self.pending_partitions.clear();
    }

    /// The record persisting this entry in `__transaction_state` (key: the transactional id;
    /// value: producer id, epoch, timeout, state, start time, partitions), as Kafka's
    /// `TransactionLog.valueToBytes` keeps the same fields. The pending state is what is
    /// written: it applies once replicated.
    pub fn to_record(&self, state: TxnState, now: Instant) -> Record {
        let partitions: Vec<String> = match state {
            TxnState::Empty => Vec::new(),
            _ => (self.partitions.iter())
                .chain(&self.pending_partitions)
                .map(|tp| tp.to_string())
                .collect(),
        };
        let value = format!(
            "{},{},{},{},{};{}",
            self.producer_id.0,
            self.pending_epoch.unwrap_or(self.epoch),
            self.timeout_ms,
            state as u8,
            self.started_at.as_micros(),
            partitions.join(" ")
        );
        Record {
            timestamp_ms: now.as_millis() as i64,
            key: Some(Arc::from(self.transactional_id.as_bytes())),
            value: Some(Arc::from(value.into_bytes())),
            headers: crate::record::Headers::default(),
            id: crate::group::coordinator::INTERNAL_RECORD,
        }
    }

    /// Reads a record of `__transaction_state` back (a new coordinator loading the partition).
    pub fn from_record(record: &Record) -> Option<TxnMetadata> {
        let id = std::str::from_utf8(record.key.as_deref()?).ok()?;
        let value = std::str::from_utf8(record.value.as_deref()?).ok()?;
        let (fields, partitions) = value.split_once(';')?;
        let mut f = fields.split(',');
        let producer_id = ProducerId(f.next()?.parse().ok()?);
        let epoch: i16 = f.next()?.parse().ok()?;
        let timeout_ms: u32 = f.next()?.parse().ok()?;
        let state = *TxnState::ALL.get(f.next()?.parse::<usize>().ok()?)?;
        let started_at = Instant(f.next()?.parse().ok()?);
        let partitions = partitions
            .split(' ')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (topic, n) = p.rsplit_once('-')?;
                Some(TopicPartition::new(topic, n.parse().ok()?))
            })
            .collect();
        Some(TxnMetadata {
            transactional_id: Arc::from(id),
            producer_id,
            epoch,
            timeout_ms,
            state,
            partitions,
            started_at,
            pending: None,
            pending_epoch: None,
            pending_partitions: BTreeSet::new(),
            timed_out: false,
        })
    }
}

/// A broker's producer ids: the block the controller handed it (`RPCProducerIdManager`),
/// asking for the next one when 90% are used, and answering COORDINATOR_LOAD_IN_PROGRESS
/// (retriable) while it has none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerIdManager {
    /// The next id and one past the last of the current block.
    current: Option<(i64, i64)>,
    next_block: Option<(i64, i64)>,
    pub requested: bool,
}

impl ProducerIdManager {
    /// The next id, or `None` when the blocks are used up (ask the controller).
    pub fn next_id(&mut self) -> Option<ProducerId> {
        if self.current.is_none_or(|(next, end)| next >= end) {
            self.current = self.next_block.take();
        }
        let (next, end) = self.current.as_mut()?;
        if *next >= *end {
            return None;
        }
        let id = *next;
        *next += 1;
        Some(ProducerId(id))
    }

    /// Whether to ask the controller for a block now: none prefetched, none asked for, and
    /// the current one 90% used or gone.
    pub fn wants_block(&self) -> bool {
        if self.requested || self.next_block.is_some() {
            return false;
        }
        self.current.is_none_or(|(next, end)| {
            let used = PRODUCER_ID_BLOCK as i64 - (end - next);
            used * 10 >= PRODUCER_ID_BLOCK as i64 * 9
        })
    }

    pub fn block_arrived(&mut self, first: ProducerId, count: u32) {
        self.requested = false;
        self.next_block = Some((first.0, first.0 + i64::from(count)));
    }

    /// The process died: blocks were in memory (the unused ids are never handed out).
    pub fn crash(&mut self) {
        *self = ProducerIdManager::default();
    }
}

/// The markers one transaction still has to write (`TransactionMarkerChannelManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMarkers {
    pub commit: bool,
    pub producer: ProducerIdAndEpoch,
    pub coordinator_epoch: u32,
    /// Partitions with no marker yet and no request out.
    pub waiting: BTreeSet<TopicPartition>,
    /// Requests out, by correlation id: to which broker, for which partitions.
    pub in_flight: BTreeMap<u32, (crate::trace::BrokerId, Vec<TopicPartition>)>,
}

impl PendingMarkers {
    /// Markers for `partitions`, none sent yet.
    pub fn new(
        commit: bool,
        producer: ProducerIdAndEpoch,
        coordinator_epoch: u32,
        partitions: BTreeSet<TopicPartition>,
    ) -> PendingMarkers {
        PendingMarkers {
            commit,
            producer,
            coordinator_epoch,
            waiting: partitions,
            in_flight: BTreeMap::new(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let mut m = TxnMetadata::new(
            Arc::from("tx-1"),
            ProducerIdAndEpoch {
                producer_id: ProducerId(4000),
                epoch: 3,
            },
            60_000,
        );
        m.partitions.insert(TopicPartition::new("my-topic", 2));
        m.partitions.insert(TopicPartition::new("out", 0));
        m.started_at = Instant(1_500_000);
        let back = TxnMetadata::from_record(&m.to_record(TxnState::PrepareCommit, Instant::ZERO))
            .expect("reads back");
        assert_eq!(back.state, TxnState::PrepareCommit);
        assert_eq!(back.partitions, m.partitions);
        assert_eq!((back.producer_id, back.epoch), (ProducerId(4000), 3));
        assert_eq!(back.started_at, m.started_at);
    }

    #[test]
    fn transitions_follow_kafkas_valid_previous_states() {
        let mut m = TxnMetadata::new(
            Arc::from("t"),
            ProducerIdAndEpoch {
                producer_id: ProducerId(1),
                epoch: 0,
            },
            1000,
        );
        assert!(m.may_become(TxnState::Ongoing));
        assert!(!m.may_become(TxnState::PrepareCommit), "nothing to commit");
        m.state = TxnState::Ongoing;
        assert!(m.may_become(TxnState::PrepareEpochFence));
        m.state = TxnState::PrepareCommit;
        assert!(!m.may_become(TxnState::Ongoing), "markers first");
        assert!(m.may_become(TxnState::CompleteCommit));
    }

    #[test]
    fn a_block_is_prefetched_at_ninety_percent() {
        let mut ids = ProducerIdManager::default();
        assert!(ids.wants_block());
        assert_eq!(ids.next_id(), None, "no block yet");
        ids.requested = true;
        ids.block_arrived(ProducerId(0), PRODUCER_ID_BLOCK);
        for i in 0..900 {
            assert_eq!(ids.next_id(), Some(ProducerId(i)));
        }
        assert!(ids.wants_block(), "900 of 1000 used");
        ids.requested = true;
        ids.block_arrived(ProducerId(5000), PRODUCER_ID_BLOCK);
        for _ in 900..1000 {
            ids.next_id();
        }
        assert_eq!(ids.next_id(), Some(ProducerId(5000)), "then the next block");
    }

    #[test]
    fn an_older_epoch_is_fenced() {
        let m = TxnMetadata::new(
            Arc::from("t"),
            ProducerIdAndEpoch {
                producer_id: ProducerId(1),
                epoch: 5,
            },
            1000,
        );
        let at = |epoch| ProducerIdAndEpoch {
            producer_id: ProducerId(1),
            epoch,
        };
        assert_eq!(m.validate(at(4)), Err(ErrorCode::ProducerFenced));
        assert_eq!(m.validate(at(5)), Ok(()));
    }
}
