//! A broker as host of `__consumer_offsets` (Kafka's `GroupCoordinator` runtime around the
//! log): it loads the partitions it comes to lead into its group coordinator, appends the
//! coordinator's records (commits, generations) with acks=all, and answers or settles them
//! once replicated, failed, or past `offsets.commit.timeout.ms`.

use super::*;

/// A coordinator's write to `__consumer_offsets` waiting to be replicated, up to
/// `offsets.commit.timeout.ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DelayedWrite {
    pub(super) tp: TopicPartition,
    required: Offset,
    what: Written,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Written {
    /// An offset commit, answered then.
    Commit {
        from: NodeId,
        request: OffsetCommitRequest,
        /// Where its records went, for the checker.
        appended: CommitAcked,
    },
    /// A generation's assignment, whose SyncGroup answers wait for it (`storeGroup`).
    Generation {
        group: Arc<str>,
        generation: crate::group::Generation,
    },
    /// A TxnOffsetCommit, answered then (its offsets apply with the COMMIT marker).
    TxnCommit { from: NodeId, correlation_id: u32 },
    /// A transaction's new state in `__transaction_state`.
    Txn {
        id: Arc<str>,
        reply: super::transactions::TxnReply,
    },
}

impl DelayedWrite {
    /// Replicated, failed or timed out: the commit is answered, the generation settled.
    pub(super) fn settle(
        self,
        error: ErrorCode,
        now: Instant,
        broker: &mut Broker,
        out: &mut Vec<Effect>,
    ) {
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
            Written::TxnCommit {
                from,
                correlation_id,
            } => {
                let msg = Message::TxnOffsetCommitResponse {
                    correlation_id,
                    error,
                };
                out.push(Effect::Send { to: from, msg });
            }
            Written::Txn { id, reply } => broker.txn_write_settled(now, id, reply, error, out),
        }
    }
}

/// A commit's records in `__consumer_offsets`, observed when the commit is acknowledged: the
/// checker holds acknowledged commits to the same promise as acknowledged records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CommitAcked {
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

impl Broker {
    pub(super) fn load_offsets_partition(
        &mut self,
        now: Instant,
        partition: u32,
        out: &mut Vec<Effect>,
    ) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let Some(replica) = self.replicas.get(&tp) else {
            return;
        };
        let log = &replica.log;
        let batches = log.batches_between(log.log_start(), log.log_end());
        let hw = replica.high_watermark;
        self.coordinator.load(now, partition, batches, hw, out);
    }

    /// The high watermark of an offsets partition this broker coordinates moved: the commits
    /// it passed are committed (whether or not their requests timed out meanwhile).
    pub(super) fn apply_offset_commits(&mut self, tp: &TopicPartition) {
        let Some(applied) = self.coordinator.applied(tp.partition) else {
            return;
        };
        let replica = &self.replicas[tp];
        let hw = replica.high_watermark;
        if hw > applied {
            let batches = replica.log.batches_between(applied, hw);
            self.coordinator.apply_commits(tp.partition, batches, hw);
        }
    }

    /// Appends the group metadata the coordinator wants persisted (acks=all); a generation's
    /// SyncGroup answers wait until its record is replicated.
    pub(super) fn persist_groups(&mut self, now: Instant, out: &mut Vec<Effect>) {
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
    pub(super) fn await_write(
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
        self.delayed_writes.hold(id, write);
    }

    /// OffsetCommit: validated by the coordinator, appended to `__consumer_offsets` with
    /// acks=all, answered when replicated (or after `offsets.commit.timeout.ms`).
    pub(super) fn on_offset_commit(
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

    /// TxnOffsetCommit (`GroupCoordinator.handleTxnCommitOffsets`): validated as a commit,
    /// appended as a transactional batch of the producer (no sequence, as the coordinator
    /// appends), answered once replicated; the offsets apply when the COMMIT marker does.
    pub(super) fn on_txn_offset_commit(
        &mut self,
        now: Instant,
        from: NodeId,
        request: TxnOffsetCommitRequest,
        out: &mut Vec<Effect>,
    ) {
        let correlation_id = request.correlation_id;
        let answer = |error, out: &mut Vec<Effect>| {
            let msg = Message::TxnOffsetCommitResponse {
                correlation_id,
                error,
            };
            out.push(Effect::Send { to: from, msg });
        };
        if !self.coordinator.coordinates(&request.group_id) {
            return answer(ErrorCode::NotCoordinator, out);
        }
        let plan = match self.coordinator.plan_txn_commit(now, &request) {
            Ok(plan) => plan,
            Err(error) => return answer(error, out),
        };
        if plan.records.is_empty() {
            return answer(ErrorCode::None, out);
        }
        let mut batch = internal_batch(plan.records);
        batch.producer = Some(crate::record::ProducerIdentity {
            producer_id: request.producer.producer_id,
            producer_epoch: request.producer.epoch,
            base_sequence: -1,
        });
        batch.is_transactional = true;
        let tp = TopicPartition::new(OFFSETS_TOPIC, plan.partition);
        let (result, wait_for) = self.append_as_leader(now, tp.clone(), batch, Acks::All, out);
        let what = Written::TxnCommit {
            from,
            correlation_id,
        };
        self.await_write(now, tp, result.error, wait_for, what, out);
    }

    /// OffsetFetch: a read_committed consumer requires stable offsets, so it hears
    /// UNSTABLE_OFFSET_COMMIT while a transaction holds offsets for its partitions (KIP-447);
    /// else the coordinator answers.
    pub(super) fn on_offset_fetch(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: Message,
        out: &mut Vec<Effect>,
    ) {
        if let Message::OffsetFetch {
            correlation_id,
            group_id,
            partitions,
            require_stable: true,
        } = &msg
        {
            let tp = TopicPartition::new(OFFSETS_TOPIC, self.coordinator.partition_of(group_id));
            let unstable = self.coordinator.coordinates(group_id)
                && self.replicas.get(&tp).is_some_and(|r| {
                    let tail = r.log.batches_between(r.high_watermark, r.log.log_end());
                    self.coordinator
                        .offsets_unstable(group_id, partitions, tail)
                });
            if unstable {
                let msg = Message::OffsetFetchResponse {
                    correlation_id: *correlation_id,
                    error: ErrorCode::UnstableOffsetCommit,
                    offsets: Vec::new(),
                };
                return out.push(Effect::Send { to: from, msg });
            }
        }
        self.coordinator.handle(now, from, msg, out);
    }

    /// The high watermark of an offsets partition moved: settle the writes it passed.
    pub(super) fn complete_delayed_writes(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        let done = self
            .delayed_writes
            .take_done(|d| d.tp == *tp && hw >= d.required);
        for write in done {
            write.settle(ErrorCode::None, now, self, out);
        }
    }
}

/// A batch of the coordinator's own records for `__consumer_offsets` (no producer id).
pub(crate) fn internal_batch(records: Vec<crate::record::Record>) -> RecordBatch {
    let size = BATCH_OVERHEAD
        + records
            .iter()
            .enumerate()
            .map(|(i, r)| record_size(i as u32, 0, r))
            .sum::<u32>();
    RecordBatch::from(crate::record::BatchData {
        base_offset: Offset(0),
        partition_leader_epoch: None,
        producer: None,
        is_transactional: false,
        is_control: false,
        size_bytes: size,
        uncompressed_bytes: size,
        codec: crate::compression::Codec::None,
        values: crate::compression::Values::Random,
        max_timestamp_ms: records.iter().map(|r| r.timestamp_ms).max().unwrap_or(0),
        records: Arc::new(records),
    })
}
