//! A broker as the leader of its partitions (Kafka's `ReplicaManager` leader side and
//! `Partition`): appends produced batches (idempotence checks, acks=all in purgatory), moves
//! the high watermark and wakes what waited on it, serves fetches from consumers (below the
//! high watermark) and followers (up to its log end, with divergence by leader epoch), asks
//! the controller to expand or shrink the ISR, and answers ListOffsets and
//! OffsetsForLeaderEpoch.

use super::*;

/// A fetch waiting for `fetch.min.bytes` or `fetch.max.wait.ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ParkedFetch {
    from: NodeId,
    request: FetchRequest,
}

/// What an append answers: a client's produce, or a coordinator's markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    Produce,
    Markers,
}

/// An acks=all produce (or a transaction's markers) waiting for the high watermark to pass
/// its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DelayedProduce {
    from: NodeId,
    correlation_id: u32,
    reply: Reply,
    results: Vec<PartitionProduceResult>,
    /// (index into results, offset the HW must reach).
    waiting: Vec<(usize, Offset)>,
}

impl ParkedFetch {
    pub(super) fn waits_on(&self, tp: &TopicPartition) -> bool {
        self.request.partitions.iter().any(|fp| fp.tp == *tp)
    }
}

impl DelayedProduce {
    /// This broker no longer leads `tp`: what waited on it fails with `error`. Returns
    /// whether the produce is done waiting (nothing left on other partitions).
    pub(super) fn fail_partition(&mut self, tp: &TopicPartition, error: ErrorCode) -> bool {
        let (results, waiting) = (&mut self.results, &mut self.waiting);
        if !waiting.iter().any(|&(i, _)| results[i].tp == *tp) {
            return false;
        }
        waiting.retain(|&(i, _)| {
            let here = results[i].tp == *tp;
            if here {
                results[i].error = error;
            }
            !here
        });
        waiting.is_empty()
    }

    /// Its timeout passed: what still waits fails with REQUEST_TIMED_OUT.
    pub(super) fn time_out(mut self, out: &mut Vec<Effect>) {
        for &(i, _) in &self.waiting {
            self.results[i].error = ErrorCode::RequestTimedOut;
        }
        self.answer(out);
    }

    /// Sends the produce response with every partition's result as it stands.
    pub(super) fn answer(self, out: &mut Vec<Effect>) {
        let correlation_id = self.correlation_id;
        let msg = match self.reply {
            Reply::Produce => Message::ProduceResponse(ProduceResponse {
                correlation_id,
                results: self.results,
            }),
            Reply::Markers => Message::WriteTxnMarkersResponse {
                correlation_id,
                results: self.results.into_iter().map(|r| (r.tp, r.error)).collect(),
            },
        };
        out.push(Effect::Send { to: self.from, msg });
    }
}

impl Broker {
    /// The leader's next high watermark for `tp` (see `Replica::next_high_watermark`).
    pub(super) fn next_high_watermark(&self, now: Instant, tp: &TopicPartition) -> Offset {
        if planted!(self, HwOverCommittedIsrOnly) {
            let r = &self.replicas[tp];
            if r.isr.len() < r.effective_min_isr() {
                return r.high_watermark;
            }
            let followers = r.isr.iter().filter_map(|&m| r.follower(m));
            let ends = followers.map(|f| f.log_end.unwrap_or(Offset(0)));
            let hw = ends.fold(r.log.log_end(), Offset::min);
            return hw.max(r.high_watermark);
        }
        let metadata = &self.metadata;
        self.replicas[tp].next_high_watermark(self.id, now, self.replica_lag_max, |b| {
            isr_eligible(metadata, b)
        })
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

    pub(super) fn on_produce(
        &mut self,
        now: Instant,
        from: NodeId,
        request: ProduceRequest,
        out: &mut Vec<Effect>,
    ) {
        let mut results = Vec::with_capacity(request.partitions.len());
        let mut waiting = Vec::new();
        for (tp, batch) in request.partitions {
            let (result, wait_for) = self.append_locally(now, tp, batch, request.acks, out);
            if let Some(required) = wait_for {
                waiting.push((results.len(), required));
            }
            results.push(result);
        }
        for result in results.iter().filter(|r| r.error == ErrorCode::None) {
            self.complete_parked_fetches(now, &result.tp, out);
        }
        if request.acks == Acks::Zero {
            return;
        }
        let waiting = match request.acks {
            Acks::All => waiting,
            _ => Vec::new(),
        };
        let (id, timeout) = (request.correlation_id, request.timeout_ms);
        self.hold_or_answer(
            now,
            from,
            id,
            results,
            waiting,
            Reply::Produce,
            timeout,
            out,
        );
    }

    /// Answers an append now, or holds it until the high watermark passes what it waits for
    /// (Kafka's `DelayedProduce`), up to `timeout_ms`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hold_or_answer(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u32,
        results: Vec<PartitionProduceResult>,
        waiting: Vec<(usize, Offset)>,
        reply: Reply,
        timeout_ms: u32,
        out: &mut Vec<Effect>,
    ) {
        let delayed = DelayedProduce {
            from,
            correlation_id,
            reply,
            results,
            waiting,
        };
        if delayed.waiting.is_empty() {
            return delayed.answer(out);
        }
        let id = self.next_id();
        self.delayed_produces.hold(id, delayed);
        let at = now + Duration::from_millis(u64::from(timeout_ms));
        out.push(Effect::SetTimer {
            at,
            timer: Timer::ProduceExpiry { id },
        });
    }

    /// Appends one batch as leader. Returns the partition result and, for acks=all, the offset
    /// the high watermark must reach before the result may be sent.
    pub(super) fn append_as_leader(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        batch: RecordBatch,
        acks: Acks,
        out: &mut Vec<Effect>,
    ) -> (PartitionProduceResult, Option<Offset>) {
        let appended = self.append_locally(now, tp, batch, acks, out);
        if appended.0.error == ErrorCode::None {
            // Followers parked on this partition can now be answered.
            self.complete_parked_fetches(now, &appended.0.tp, out);
        }
        appended
    }

    /// [`Self::append_as_leader`] without answering the fetches parked on the partition: a
    /// produce request appends every partition first (Kafka's `ReplicaManager.appendRecords`
    /// completes delayed fetches once the whole request is appended), so a follower's fetch
    /// brings all of the request's batches at once.
    fn append_locally(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        mut batch: RecordBatch,
        acks: Acks,
        out: &mut Vec<Effect>,
    ) -> (PartitionProduceResult, Option<Offset>) {
        let broker = self.id;
        let ack_early = planted!(self, AckBeforeHighWatermark);
        let lenient = Lenient {
            duplicates: planted!(self, DuplicateAppend),
            out_of_order: planted!(self, OutOfOrderAccepted),
            fenced: planted!(self, FencedWriteAccepted),
        };
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
        match admit(replica, &batch, acks, lenient) {
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
        batch.partition_leader_epoch = Some(replica.leader_epoch);
        recompress(&mut batch, replica.config.compression);
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
        self.set_high_watermark(now, &tp, hw, out);
        let result = PartitionProduceResult {
            tp,
            error: ErrorCode::None,
            base_offset: Some(base_offset),
        };
        (result, wait_for)
    }

    /// Moves a partition's high watermark and wakes what waited on it.
    pub(super) fn set_high_watermark(
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
        let below_min_isr = self
            .replicas
            .get(tp)
            .is_some_and(|r| r.isr.len() < r.effective_min_isr());
        let done = self.delayed_produces.take_done(|delayed| {
            let (results, waiting) = (&mut delayed.results, &mut delayed.waiting);
            waiting.retain(|&(i, required)| {
                let satisfied = results[i].tp == *tp && hw >= required;
                if satisfied && below_min_isr {
                    // Kafka's `Partition.checkEnoughReplicasReachOffset`. The high watermark
                    // does not advance while the ISR is below min.insync.replicas
                    // (`next_high_watermark`), so this does not happen as the code stands: the
                    // producer waits, then times out. Kept so the rule holds if that changes.
                    results[i].error = ErrorCode::NotEnoughReplicasAfterAppend;
                }
                !satisfied
            });
            waiting.is_empty()
        });
        for delayed in done {
            delayed.answer(out);
        }
    }

    fn complete_parked_fetches(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        out: &mut Vec<Effect>,
    ) {
        // One at a time: an answer read now may change what the next one would get.
        for id in self.parked_fetches.ids(|p| p.waits_on(tp)) {
            let request = &self.parked_fetches.get(id).expect("just seen").request;
            if self.fetchable_bytes(request) >= u64::from(request.min_bytes) {
                let parked = self.parked_fetches.take(id).expect("just seen");
                self.answer_parked(now, parked, out);
            }
        }
    }

    /// A parked fetch is answered with what it may read now (its wait ended, or there is
    /// enough, or its partition moved away).
    pub(super) fn answer_parked(
        &mut self,
        now: Instant,
        parked: ParkedFetch,
        out: &mut Vec<Effect>,
    ) {
        let response = self.read_fetch(now, &parked.request, false, out);
        out.push(Effect::Send {
            to: parked.from,
            msg: Message::FetchResponse(response),
        });
    }

    pub(super) fn on_fetch(
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
        self.parked_fetches.hold(id, ParkedFetch { from, request });
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
            } else if request.isolation == Isolation::ReadCommitted {
                r.last_stable_offset()
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
        let lenient_reads = (
            planted!(self, ReadCommittedPastLso),
            planted!(self, NoAbortedTransactions),
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
                if let Some(state) = replica.follower_mut(follower) {
                    state.on_fetch(fp.fetch_offset, log_end, now);
                    // Revisited below only when the ISR may grow or the high watermark move:
                    // most partitions of a replica fetch have neither.
                    let may_join =
                        !replica.isr.contains(&follower) && replica.pending_isr().is_none();
                    let hw = replica
                        .next_high_watermark(me, now, lag_max, |b| isr_eligible(metadata, b));
                    if may_join || hw > replica.high_watermark {
                        hw_moves.push((fp.tp.clone(), partitions.len()));
                    }
                }
            }
            let reader = match request.replica_id {
                Some(_) => Reader::Follower,
                None if read_past_hw => Reader::Follower,
                None => Reader::Consumer(request.isolation),
            };
            let fetched = read_partition(replica, fp, reader, &mut remaining, lenient_reads);
            partitions.push(fetched);
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
    fn maybe_expand_isr(&mut self, tp: &TopicPartition, follower: BrokerId, out: &mut Vec<Effect>) {
        let me = self.id;
        let eligible = isr_eligible(&self.metadata, follower);
        let early = planted!(self, ExpandBeforeCaughtUp);
        let Some(r) = self.replicas.get_mut(tp) else {
            return;
        };
        if r.isr.contains(&follower) || r.pending_isr().is_some() || !eligible {
            return;
        }
        let fetched = r.follower(follower).is_some_and(|f| f.log_end.is_some());
        if r.may_join_isr(follower) || (early && fetched) {
            let mut isr = r.isr.clone();
            isr.push(follower);
            crate::sort::sort(&mut isr);
            self.next_proposal += 1;
            propose_isr(r, tp, me, isr, self.next_proposal, out);
        }
    }

    /// ISR shrink (§3.3, Kafka's `maybeShrinkIsr`): followers not caught up within
    /// `replica.lag.time.max.ms` leave.
    pub(super) fn shrink_isrs(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let me = self.id;
        let lag_max = self.replica_lag_max;
        for (tp, r) in &mut self.replicas {
            if !r.is_leader(me) || r.pending_isr().is_some() {
                continue;
            }
            let leo = r.log.log_end();
            let lagging: Vec<BrokerId> = r
                .isr
                .iter()
                .filter(|&&f| f != me)
                .filter(|f| {
                    r.follower(**f)
                        .is_none_or(|s| !s.is_caught_up(leo, now, lag_max))
                })
                .copied()
                .collect();
            if lagging.is_empty() {
                continue;
            }
            let isr: Vec<BrokerId> = r
                .isr
                .iter()
                .copied()
                .filter(|b| !lagging.contains(b))
                .collect();
            self.next_proposal += 1;
            propose_isr(r, tp, me, isr, self.next_proposal, out);
        }
    }

    /// The connection to the controller broke: ISR changes still pending may never have
    /// arrived, so they go again (Kafka's `AlterPartitionManager` retries until answered). The
    /// controller refuses a copy it already applied (a stale partition epoch), and the
    /// metadata it published settles the change.
    pub(super) fn resend_isr_changes(&mut self, out: &mut Vec<Effect>) {
        let me = self.id;
        for (tp, r) in &self.replicas {
            let Some(pending) = r.pending_isr().filter(|_| r.is_leader(me)) else {
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
    pub(super) fn on_alter_partition_response(
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
            .pending_isr()
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
                r.leadership_mut().expect("it leads").pending_isr = None;
                // A smaller ISR may let the high watermark move (and complete acks=all produces).
                let hw = self.next_high_watermark(now, &response.tp);
                self.set_high_watermark(now, &response.tp, hw, out);
            }
            ErrorCode::IneligibleReplica | ErrorCode::InvalidRequest => {
                r.leadership_mut().expect("it leads").pending_isr = None;
            }
            _ => {}
        }
    }

    /// OffsetsForLeaderEpoch from a consumer (KIP-320): the leader checks the asker's view of
    /// its epoch, as a fetch does, then says where the asked epoch ends in its log.
    pub(super) fn offsets_for_leader_epoch(
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

    pub(super) fn list_offsets(&self, request: &ListOffsetsRequest) -> ListOffsetsResponse {
        let me = self.id;
        let partitions = request
            .partitions
            .iter()
            .map(|(tp, spec)| match self.replicas.get(tp) {
                Some(r) if r.is_leader(me) => {
                    let offset = match (spec, request.isolation) {
                        (OffsetSpec::Earliest, _) => r.log.log_start(),
                        // "Latest" is the last stable offset for read_committed, and the high
                        // watermark (not the log end) for read_uncommitted.
                        (OffsetSpec::Latest, Isolation::ReadCommitted) => r.last_stable_offset(),
                        (OffsetSpec::Latest, Isolation::ReadUncommitted) => r.high_watermark,
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
}

/// Who reads: a follower up to the log end, a consumer by its isolation level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Follower,
    Consumer(Isolation),
}

/// One partition of a fetch: a follower reads to the log end; a consumer to the high
/// watermark, or read_committed to the last stable offset with the aborted transactions its
/// batches overlap (`Partition.fetchRecords`, `UnifiedLog.collectAbortedTransactions`).
/// `lenient` holds deliberate bugs: past the LSO, no aborted list.
fn read_partition(
    replica: &Replica,
    fp: &FetchPartition,
    reader: Reader,
    remaining: &mut u64,
    lenient: (bool, bool),
) -> FetchedPartition {
    let committed = reader == Reader::Consumer(Isolation::ReadCommitted);
    let lso = replica.last_stable_offset();
    let limit = match reader {
        Reader::Follower => replica.log.log_end(),
        _ if committed && !lenient.0 => lso,
        Reader::Consumer(_) => replica.high_watermark,
    };
    let max_bytes = u64::from(fp.partition_max_bytes).min(*remaining);
    let batches = if *remaining == 0 {
        Vec::new()
    } else {
        replica.log.read(fp.fetch_offset, limit, max_bytes)
    };
    let bytes: u64 = batches.iter().map(|b| u64::from(b.size_bytes)).sum();
    *remaining = remaining.saturating_sub(bytes);
    let aborted = match batches.last() {
        Some(last) if committed && !lenient.1 => replica
            .txns
            .aborted_between(fp.fetch_offset, last.next_offset()),
        _ => Vec::new(),
    };
    FetchedPartition {
        tp: fp.tp.clone(),
        error: ErrorCode::None,
        high_watermark: replica.high_watermark,
        log_start: replica.log.log_start(),
        batches,
        last_stable_offset: lso,
        aborted,
        diverging: None,
    }
}

/// Deliberate bugs that make a leader accept what it must refuse (`planted`).
#[derive(Clone, Copy)]
struct Lenient {
    duplicates: bool,
    out_of_order: bool,
    fenced: bool,
}

/// Whether a leader appends a batch (Kafka's `Partition.appendRecordsToLeader` checks, then
/// `ProducerAppendInfo`): not too large, enough in-sync replicas for acks=all, no plain write
/// by a producer with a transaction open here, then the idempotence check (a duplicate is
/// answered with the original's offset).
/// The batch as its topic stores it: recompressed when the topic has a compression.type of
/// its own (`LogValidator`), else as the producer sent it.
fn recompress(batch: &mut RecordBatch, topic_codec: Option<crate::compression::Codec>) {
    let Some(codec) = topic_codec.filter(|c| *c != batch.codec) else {
        return;
    };
    let overhead = crate::record::BATCH_OVERHEAD;
    let records = batch.uncompressed_bytes.saturating_sub(overhead);
    batch.size_bytes = match codec {
        crate::compression::Codec::None => batch.uncompressed_bytes,
        c => overhead + c.compressed(batch.values, records),
    };
    batch.codec = codec;
}

fn admit(r: &Replica, batch: &RecordBatch, acks: Acks, lenient: Lenient) -> SequenceCheck {
    if batch.size_bytes > r.config.max_message_bytes {
        return SequenceCheck::Reject(ErrorCode::MessageTooLarge);
    }
    if acks == Acks::All && r.isr.len() < r.effective_min_isr() {
        return SequenceCheck::Reject(ErrorCode::NotEnoughReplicas);
    }
    let open = |p: crate::record::ProducerIdentity| r.txns.open(p.producer_id).is_some();
    if !batch.is_transactional && batch.producer.is_some_and(open) {
        return SequenceCheck::Reject(ErrorCode::InvalidTxnState);
    }
    match r.check_sequence(batch) {
        SequenceCheck::Duplicate(_) if lenient.duplicates => SequenceCheck::Append,
        SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber) if lenient.out_of_order => {
            SequenceCheck::Append
        }
        SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
            if lenient.fenced && batch.is_transactional =>
        {
            SequenceCheck::Append
        }
        check => check,
    }
}

fn empty_fetch(tp: &TopicPartition, error: ErrorCode) -> FetchedPartition {
    FetchedPartition {
        tp: tp.clone(),
        error,
        high_watermark: Offset(0),
        log_start: Offset(0),
        batches: Vec::new(),
        last_stable_offset: Offset(0),
        aborted: Vec::new(),
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
