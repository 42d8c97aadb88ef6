//! The transactional half of Kafka's `TransactionManager`: a producer with a
//! `transactional.id` finds its transaction coordinator, `initTransactions()` (InitProducerId:
//! its id and an epoch that fences any older instance), then runs one transaction after
//! another as its application asks: `beginTransaction()` at the first record, AddPartitionsToTxn
//! before a partition's first batch goes out, `commitTransaction()` (or
//! `abortTransaction()`) every `records_per_transaction` records, which flushes and sends
//! EndTxn. Transactions V2: the EndTxn answer carries the epoch of the next transaction.
//!
//! Requests to the coordinator go one at a time, as Kafka's do. A fenced producer
//! (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) is done: its application must close it.

use super::*;
use crate::protocol::{CoordinatorType, ProducerIdAndEpoch};

/// Backoff after CONCURRENT_TRANSACTIONS on AddPartitionsToTxn (Kafka's client uses 20 ms
/// there instead of `retry.backoff.ms`, `TransactionManager.AddPartitionsToTxnHandler`).
const CONCURRENT_BACKOFF: Duration = Duration(20_000);

/// Where the application is with its transactions (`TransactionManager.State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnClientState {
    /// `initTransactions()` not done yet.
    Initializing,
    /// Between transactions.
    Ready,
    InTransaction,
    /// `commitTransaction()` or `abortTransaction()` called: flushing, then EndTxn.
    Ending {
        commit: bool,
    },
    /// Fenced: every call fails; the application must close the producer.
    Fenced,
}

impl TxnClientState {
    pub fn name(self) -> &'static str {
        match self {
            TxnClientState::Initializing => "initializing",
            TxnClientState::Ready => "ready",
            TxnClientState::InTransaction => "in transaction",
            TxnClientState::Ending { commit: true } => "committing",
            TxnClientState::Ending { commit: false } => "aborting",
            TxnClientState::Fenced => "fenced",
        }
    }
}

/// The application's transaction loop and what the client keeps for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnManager {
    pub transactional_id: Arc<str>,
    timeout_ms: u32,
    records_per_transaction: u64,
    /// Chance in a million that the application aborts a transaction instead of committing.
    abort_ppm: u32,
    pub state: TxnClientState,
    coordinator: Option<BrokerId>,
    /// The one request to the coordinator out: its correlation id and broker.
    in_flight: Option<(u32, BrokerId)>,
    retry_at: Instant,
    /// Partitions in the open transaction, and those being added.
    added: BTreeSet<u32>,
    adding: BTreeSet<u32>,
    /// Records the application sent in the open transaction.
    records_in_txn: u64,
    /// An error that forces the open transaction to abort (a batch that failed).
    abort_required: bool,
    pub committed: u64,
    pub aborted: u64,
    /// A processor's producer: its consumer's application ends each transaction.
    processor: bool,
    /// The application called `commitTransaction()` while outputs still wait for `send()`.
    end_pending: bool,
    /// Offsets to commit in the transaction before EndTxn (`sendOffsetsToTransaction`).
    offsets: Option<crate::processor::TxnOffsets>,
    /// AddOffsetsToTxn answered: the group's offsets partition is in the transaction.
    offsets_added: bool,
    /// The group coordinator that takes TxnOffsetCommit, and whether a FindCoordinator for
    /// it is the request out.
    group_coordinator: Option<BrokerId>,
    finding_group: bool,
}

impl TxnManager {
    pub(super) fn new(id: &str, configs: &Configs, spec: &ProducerSpec) -> TxnManager {
        TxnManager {
            transactional_id: Arc::from(id),
            timeout_ms: configs.int("transaction.timeout.ms") as u32,
            records_per_transaction: spec.records_per_transaction.max(1),
            abort_ppm: spec.abort_ppm,
            state: TxnClientState::Initializing,
            coordinator: None,
            in_flight: None,
            retry_at: Instant::ZERO,
            added: BTreeSet::new(),
            adding: BTreeSet::new(),
            records_in_txn: 0,
            abort_required: false,
            committed: 0,
            aborted: 0,
            processor: spec.processor.is_some(),
            end_pending: false,
            offsets: None,
            offsets_added: false,
            group_coordinator: None,
            finding_group: false,
        }
    }

    /// A processor's transaction ends when its application calls `commitTransaction()`, once
    /// the outputs it handed over are sent; if a send failed meanwhile, the error surfaces
    /// there, as Kafka's `commitTransaction()` throws it, and the application aborts at once
    /// (its outputs not sent yet are dropped). Ending earlier, while the application still
    /// processed the poll, left its commit to a producer with no transaction: swarm seed
    /// 1212409's processor waited for an answer for ever.
    fn processor_ends(&mut self, handed_over: bool) {
        if !self.processor || !self.end_pending {
            return;
        }
        match self.state {
            TxnClientState::InTransaction if self.abort_required || handed_over => {
                self.state = TxnClientState::Ending {
                    commit: !self.abort_required,
                };
                self.end_pending = false;
            }
            // Nothing sent in this poll (every input failed): its offsets alone make the
            // transaction (`sendOffsetsToTransaction` begins one), or there is nothing to do.
            TxnClientState::Ready if handed_over => {
                self.state = TxnClientState::Ending { commit: true };
                self.end_pending = false;
            }
            _ => {}
        }
    }

    /// A processor's application calls `sendOffsetsToTransaction` (exactly-once, with
    /// offsets) and `commitTransaction()` once the outputs it just handed over are sent.
    pub(super) fn end_with(&mut self, offsets: Option<crate::processor::TxnOffsets>) {
        self.end_pending = true;
        self.offsets = offsets;
    }

    /// Whether `send()` may take a record now: after `initTransactions()`, and not while the
    /// application waits in `commitTransaction()`.
    pub(super) fn accepts_records(&self) -> bool {
        matches!(
            self.state,
            TxnClientState::Ready | TxnClientState::InTransaction
        )
    }

    /// Whether a partition's batches may go out: it is in the transaction.
    pub(super) fn may_send(&self, partition: u32) -> bool {
        self.added.contains(&partition)
    }

    /// When the coordinator work waits for a backoff.
    pub(super) fn wake_at(&self) -> Option<Instant> {
        let waiting = self.in_flight.is_none() && self.state != TxnClientState::Fenced;
        waiting.then_some(self.retry_at)
    }

    pub fn in_transaction(&self) -> bool {
        matches!(
            self.state,
            TxnClientState::InTransaction | TxnClientState::Ending { .. }
        )
    }
}

impl Producer {
    /// Whether a partition's batches must wait: a transactional producer sends to a partition
    /// only once it is in the transaction (`isSendToPartitionAllowed`).
    pub(super) fn txn_holds(&self, partition: u32) -> bool {
        self.txn.as_ref().is_some_and(|t| !t.may_send(partition))
    }

    /// The application handed a record to `send()`: it begins a transaction, and after
    /// `records_per_transaction` records it calls commit (or abort).
    pub(super) fn txn_record_sent(&mut self) {
        let Some(t) = &mut self.txn else { return };
        t.state = TxnClientState::InTransaction;
        t.records_in_txn += 1;
        if t.records_in_txn >= t.records_per_transaction {
            let abort = t.abort_ppm > 0 && self.rng.chance(u64::from(t.abort_ppm), 1_000_000);
            t.state = TxnClientState::Ending { commit: !abort };
        }
    }

    /// A batch failed inside a transaction: the transaction can only abort now
    /// (`TransactionManager.transitionToAbortableError`); fencing errors are fatal.
    pub(super) fn txn_batch_failed(&mut self, error: ErrorCode, out: &mut Vec<Effect>) {
        let Some(t) = &mut self.txn else { return };
        if matches!(
            error,
            ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch
        ) {
            return self.txn_fenced(error, out);
        }
        if t.in_transaction() {
            t.abort_required = true;
        }
    }

    /// The producer learned it is fenced: nothing it holds will be sent; the application
    /// stops (it must close the producer).
    fn txn_fenced(&mut self, error: ErrorCode, out: &mut Vec<Effect>) {
        let Some(t) = &mut self.txn else { return };
        if t.state == TxnClientState::Fenced {
            return;
        }
        t.state = TxnClientState::Fenced;
        t.in_flight = None;
        if t.processor {
            out.push(Effect::Handoff(crate::processor::AppCall::Fenced));
        }
        self.running = false;
        out.push(Effect::Trace(TraceKind::ProducerFenced {
            producer: self.index,
            error,
        }));
        self.fail_queued(ErrorCode::ProducerFenced, out);
    }

    /// Fails every batch still in the accumulator (`abortUndrainedBatches`), and the record
    /// the application waits to hand over.
    fn fail_queued(&mut self, error: ErrorCode, out: &mut Vec<Effect>) {
        let mut batches = Vec::new();
        for q in &mut self.queues {
            batches.extend(q.batches.drain(..));
        }
        for batch in batches {
            self.fail(batch, error, false, out);
        }
        if let Some((record, _)) = self.waiting.take() {
            self.send_failed(record, error, out);
        }
        if self.spec.processor.is_some() {
            // Outputs not handed to `send()` yet: the aborted poll is processed again.
            self.manual.clear();
            self.scheduled.clear();
        }
    }

    /// The coordinator work of one wake: find it, initialise, add partitions, end the
    /// transaction once everything sent is answered.
    pub(super) fn txn_step(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let handed_over = self.handed_over();
        let queues = &self.queues;
        let Some(t) = &mut self.txn else { return };
        t.processor_ends(handed_over);
        if t.in_flight.is_some() || now < t.retry_at || t.state == TxnClientState::Fenced {
            return;
        }
        let Some(coordinator) = t.coordinator else {
            let Some(broker) = self.connections.least_loaded_node(now) else {
                return;
            };
            let key = t.transactional_id.clone();
            let msg = |correlation_id| Message::FindCoordinator {
                correlation_id,
                key,
                key_type: CoordinatorType::Transaction,
            };
            return self.txn_send(now, broker, msg, out);
        };
        let producer = ProducerIdAndEpoch {
            producer_id: self.producer_id,
            epoch: self.producer_epoch,
        };
        let id = t.transactional_id.clone();
        match t.state {
            TxnClientState::Initializing => {
                let timeout_ms = t.timeout_ms;
                let msg = |correlation_id| Message::InitProducerId {
                    correlation_id,
                    transactional_id: Some(id),
                    timeout_ms,
                };
                self.txn_send(now, coordinator, msg, out);
            }
            TxnClientState::InTransaction | TxnClientState::Ending { .. } => {
                // Partitions with batches waiting and not yet in the transaction.
                let new: Vec<u32> = (0..queues.len() as u32)
                    .filter(|&p| !queues[p as usize].batches.is_empty() && !t.added.contains(&p))
                    .collect();
                let aborting =
                    t.abort_required || t.state == TxnClientState::Ending { commit: false };
                if !new.is_empty() && !aborting {
                    t.adding = new.iter().copied().collect();
                    let topic = self.topic.clone();
                    let partitions = new
                        .iter()
                        .map(|&p| TopicPartition {
                            topic: topic.clone(),
                            partition: p,
                        })
                        .collect();
                    let msg = |correlation_id| Message::AddPartitionsToTxn {
                        correlation_id,
                        transactional_id: id,
                        producer,
                        partitions,
                    };
                    return self.txn_send(now, coordinator, msg, out);
                }
                if let TxnClientState::Ending { commit } = t.state {
                    let commit = commit && !t.abort_required;
                    self.txn_end(now, coordinator, id, producer, commit, out);
                }
            }
            TxnClientState::Ready | TxnClientState::Fenced => {}
        }
    }

    /// `commitTransaction()` / `abortTransaction()`: flush, then EndTxn (if any partition
    /// was added; else the transaction ends here).
    fn txn_end(
        &mut self,
        now: Instant,
        coordinator: BrokerId,
        id: Arc<str>,
        producer: ProducerIdAndEpoch,
        commit: bool,
        out: &mut Vec<Effect>,
    ) {
        if !commit {
            // `abortTransaction()`: what was never sent is dropped.
            self.fail_queued(ErrorCode::TransactionAborted, out);
        }
        if self.pending_records() > 0 {
            return; // `flush()`: wait for every batch sent to be answered.
        }
        let t = self.txn.as_mut().expect("transactional");
        if commit && t.offsets.is_some() {
            return self.txn_send_offsets(now, coordinator, id, producer, out);
        }
        if t.added.is_empty() && !t.offsets_added {
            // Nothing reached a partition: nothing to tell the coordinator.
            return self.txn_ended(commit, out);
        }
        let msg = |correlation_id| Message::EndTxn {
            correlation_id,
            transactional_id: id,
            producer,
            commit,
        };
        self.txn_send(now, coordinator, msg, out);
    }

    /// `sendOffsetsToTransaction`: AddOffsetsToTxn to the transaction coordinator, then
    /// TxnOffsetCommit to the group's coordinator (found first).
    fn txn_send_offsets(
        &mut self,
        now: Instant,
        coordinator: BrokerId,
        id: Arc<str>,
        producer: ProducerIdAndEpoch,
        out: &mut Vec<Effect>,
    ) {
        let t = self.txn.as_mut().expect("transactional");
        let offsets = t.offsets.clone().expect("checked");
        if !t.offsets_added {
            let msg = |correlation_id| Message::AddOffsetsToTxn {
                correlation_id,
                transactional_id: id,
                producer,
                group_id: offsets.group,
            };
            return self.txn_send(now, coordinator, msg, out);
        }
        let Some(group_coordinator) = t.group_coordinator else {
            let Some(broker) = self.connections.least_loaded_node(now) else {
                return;
            };
            self.txn.as_mut().expect("transactional").finding_group = true;
            let msg = |correlation_id| Message::FindCoordinator {
                correlation_id,
                key: offsets.group,
                key_type: CoordinatorType::Group,
            };
            return self.txn_send(now, broker, msg, out);
        };
        let msg = |correlation_id| {
            Message::TxnOffsetCommit(crate::protocol::TxnOffsetCommitRequest {
                correlation_id,
                transactional_id: id,
                producer,
                group_id: offsets.group,
                generation: offsets.generation,
                member_id: offsets.member_id,
                offsets: offsets.offsets,
            })
        };
        self.txn_send(now, group_coordinator, msg, out);
    }

    fn txn_send(
        &mut self,
        now: Instant,
        broker: BrokerId,
        msg: impl FnOnce(u32) -> Message,
        out: &mut Vec<Effect>,
    ) {
        let correlation_id = self.next_correlation();
        let t = self.txn.as_mut().expect("transactional");
        t.in_flight = Some((correlation_id, broker));
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: msg(correlation_id),
        });
        out.push(Effect::SetTimer {
            at: now + self.config.request_timeout,
            timer: Timer::RequestTimeout { correlation_id },
        });
    }

    fn txn_ended(&mut self, commit: bool, out: &mut Vec<Effect>) {
        let t = self.txn.as_mut().expect("transactional");
        if commit {
            t.committed += 1;
        } else {
            t.aborted += 1;
        }
        t.added.clear();
        t.adding.clear();
        t.records_in_txn = 0;
        t.abort_required = false;
        t.offsets = None;
        t.offsets_added = false;
        t.state = TxnClientState::Ready;
        if t.processor {
            let call = crate::processor::AppCall::TransactionEnded { committed: commit };
            out.push(Effect::Handoff(call));
        }
    }

    /// Whether `correlation_id` is the coordinator request in flight (then it is answered).
    fn txn_answered(&mut self, correlation_id: u32) -> bool {
        let Some(t) = self.txn.as_mut() else {
            return false;
        };
        let ours = t.in_flight.is_some_and(|(c, _)| c == correlation_id);
        if ours {
            t.in_flight = None;
        }
        ours
    }

    /// A coordinator error: fatal ones fence; the coordinator moved: find it again; busy:
    /// retry after the backoff.
    fn txn_retry(&mut self, now: Instant, error: ErrorCode, out: &mut Vec<Effect>) {
        if matches!(
            error,
            ErrorCode::ProducerFenced
                | ErrorCode::InvalidProducerEpoch
                | ErrorCode::InvalidProducerIdMapping
        ) {
            return self.txn_fenced(error, out);
        }
        let backoff = self.config.retry_backoff;
        let t = self.txn.as_mut().expect("transactional");
        t.adding.clear();
        t.finding_group = false;
        let backoff = match error {
            ErrorCode::ConcurrentTransactions => CONCURRENT_BACKOFF,
            ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::RequestTimedOut
            | ErrorCode::NetworkException => {
                t.coordinator = None;
                t.group_coordinator = None;
                backoff
            }
            _ => backoff,
        };
        t.retry_at = now + backoff;
    }

    pub(super) fn on_txn_message(&mut self, now: Instant, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            Message::FindCoordinatorResponse {
                correlation_id,
                error,
                coordinator,
            } => {
                if !self.txn_answered(correlation_id) {
                    return;
                }
                let t = self.txn.as_mut().expect("transactional");
                let group = std::mem::take(&mut t.finding_group);
                match coordinator.filter(|_| error == ErrorCode::None) {
                    Some(b) if group => t.group_coordinator = Some(b),
                    Some(b) => t.coordinator = Some(b),
                    None => self.txn_retry(now, ErrorCode::CoordinatorNotAvailable, out),
                }
            }
            Message::InitProducerIdResponse {
                correlation_id,
                error,
                producer,
            } => {
                if !self.txn_succeeded(now, correlation_id, error, out) {
                    return;
                }
                self.producer_id = producer.producer_id;
                self.producer_epoch = producer.epoch;
                let t = self.txn.as_mut().expect("transactional");
                t.state = TxnClientState::Ready;
            }
            Message::AddPartitionsToTxnResponse {
                correlation_id,
                error,
            } => {
                if !self.txn_succeeded(now, correlation_id, error, out) {
                    return;
                }
                let t = self.txn.as_mut().expect("transactional");
                let adding = std::mem::take(&mut t.adding);
                t.added.extend(adding);
            }
            msg @ (Message::AddOffsetsToTxnResponse { .. }
            | Message::TxnOffsetCommitResponse { .. }) => self.on_offsets_answer(now, msg, out),
            Message::EndTxnResponse {
                correlation_id,
                error,
                producer,
            } => {
                if !self.txn_succeeded(now, correlation_id, error, out) {
                    return;
                }
                let commit = matches!(
                    self.txn.as_ref().map(|t| t.state),
                    Some(TxnClientState::Ending { commit: true })
                ) && !self.txn.as_ref().is_some_and(|t| t.abort_required);
                // Transactions V2: the next transaction writes at the epoch the answer names.
                self.producer_epoch = producer.epoch;
                self.txn_ended(commit, out);
            }
            other => unreachable!("producer got {}", other.kind()),
        }
    }

    /// `sendOffsetsToTransaction`'s answers: AddOffsetsToTxn's, then TxnOffsetCommit's.
    fn on_offsets_answer(&mut self, now: Instant, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            Message::AddOffsetsToTxnResponse {
                correlation_id,
                error,
            } => {
                if self.txn_succeeded(now, correlation_id, error, out) {
                    self.txn.as_mut().expect("transactional").offsets_added = true;
                }
            }
            Message::TxnOffsetCommitResponse {
                correlation_id,
                error,
            } => {
                if !self.txn_answered(correlation_id) {
                    return;
                }
                let t = self.txn.as_mut().expect("transactional");
                match error {
                    ErrorCode::None => t.offsets = None,
                    // The member lost its partitions to a rebalance (KIP-447's zombie
                    // fencing): `CommitFailedException`, the application aborts.
                    ErrorCode::UnknownMemberId
                    | ErrorCode::IllegalGeneration
                    | ErrorCode::FencedInstanceId
                    | ErrorCode::RebalanceInProgress => {
                        t.abort_required = true;
                        t.state = TxnClientState::Ending { commit: false };
                    }
                    ErrorCode::NotCoordinator
                    | ErrorCode::CoordinatorNotAvailable
                    | ErrorCode::RequestTimedOut => {
                        t.group_coordinator = None;
                        t.retry_at = now + self.config.retry_backoff;
                    }
                    e => self.txn_retry(now, e, out),
                }
            }
            other => unreachable!("not an offsets answer: {}", other.kind()),
        }
    }

    /// Whether `correlation_id` answers the request in flight, successfully; an error is
    /// handled here (retried, or fatal).
    fn txn_succeeded(
        &mut self,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) -> bool {
        if !self.txn_answered(correlation_id) {
            return false;
        }
        if error != ErrorCode::None {
            self.txn_retry(now, error, out);
            return false;
        }
        true
    }

    /// A request to the coordinator timed out or its connection broke.
    pub(super) fn txn_request_lost(
        &mut self,
        now: Instant,
        broker: BrokerId,
        out: &mut Vec<Effect>,
    ) {
        let lost = self
            .txn
            .as_ref()
            .and_then(|t| t.in_flight)
            .is_some_and(|(_, b)| b == broker);
        if lost {
            self.txn.as_mut().expect("transactional").in_flight = None;
            self.txn_retry(now, ErrorCode::NetworkException, out);
        }
    }

    pub(super) fn txn_timed_out(
        &mut self,
        now: Instant,
        correlation_id: u32,
        out: &mut Vec<Effect>,
    ) {
        if self.txn_answered(correlation_id) {
            self.txn_retry(now, ErrorCode::RequestTimedOut, out);
        }
    }
}
