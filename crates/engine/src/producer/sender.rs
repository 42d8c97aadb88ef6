//! The sender (Kafka's `Sender`, and the idempotence half of `TransactionManager`): one
//! produce request per ready broker, the answers (acknowledged, retried, split on
//! MESSAGE_TOO_LARGE, failed), delivery timeouts for batches queued or in flight, and the
//! producer id, epoch and sequence numbers of an idempotent producer.

use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct InFlight {
    pub(super) broker: BrokerId,
    pub(super) batches: Vec<ProducerBatch>,
    /// When the request left (`request-latency`).
    pub(super) sent_at: Instant,
}

impl InFlight {
    fn new(broker: BrokerId, batches: Vec<ProducerBatch>, sent_at: Instant) -> InFlight {
        InFlight {
            broker,
            batches,
            sent_at,
        }
    }
}

impl Producer {
    pub(super) fn leader_of(&self, partition: u32) -> Option<BrokerId> {
        self.metadata
            .cluster
            .as_ref()?
            .leader(&self.topic, partition)
    }

    pub(super) fn connectable(&self, now: Instant, broker: BrokerId) -> bool {
        self.connections.connectable(now, broker)
    }

    pub(super) fn send_request(
        &mut self,
        now: Instant,
        broker: BrokerId,
        partitions: &[u32],
        out: &mut Vec<Effect>,
    ) {
        let mut batches = Vec::new();
        let mut wire = Vec::new();
        for &p in partitions {
            let mut batch = self.queues[p as usize].batches.pop_front().expect("head");
            if !batch.closed {
                // Sealed: give back the room reserved for a full batch. A batch that leaves by
                // `linger.ms` holds a few records in room for `batch.size`, and the logs of
                // every replica keep it: unshrunk, it was 2 KB per record held. Moved to an
                // exact allocation rather than shrunk in place: shrinking leaves a hole just
                // too small for the next batch's room, and wasm's allocator grew memory by a
                // hole per batch (1,350 bytes per record for 300 live).
                let records = Arc::make_mut(&mut batch.records);
                let mut exact = Vec::with_capacity(records.len());
                exact.append(records);
                *records = exact;
            }
            batch.closed = true;
            if self.config.idempotent && batch.sequence.is_none() {
                let epoch = self.producer_epoch;
                let queue = &mut self.queues[p as usize];
                if queue.epoch != epoch {
                    // `maybeUpdateProducerIdAndEpoch`: nothing of the older epoch is in flight
                    // (drain waited), so the partition starts the new one at sequence 0.
                    queue.epoch = epoch;
                    queue.next_sequence = 0;
                    queue.last_acked = None;
                }
                batch.sequence = Some((epoch, queue.next_sequence));
                let n = batch.records.len() as i32;
                queue.next_sequence = queue.next_sequence.wrapping_add(n) & i32::MAX;
            }
            batch.rewritten = false;
            self.queues[p as usize].in_flight += 1;
            if self.config.max_in_flight == 1 && self.config.acks != Acks::Zero {
                self.queues[p as usize].muted = true;
            }
            let sealed = self.seal_sent(&batch);
            self.stats.count_sent(now, &batch, sealed.size_bytes);
            let tp = TopicPartition {
                topic: self.topic.clone(),
                partition: p,
            };
            out.push(Effect::Trace(TraceKind::BatchSent {
                producer: self.index,
                broker,
                tp: tp.clone(),
                records: batch.records.len() as u32,
                attempt: batch.attempts,
            }));
            wire.push((tp, sealed));
            batches.push(batch);
        }
        let correlation_id = self.next_correlation();
        let request = ProduceRequest {
            correlation_id,
            acks: self.config.acks,
            timeout_ms: self.config.request_timeout.as_millis() as u32,
            partitions: wire,
        };
        self.stats.requests += 1;
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: Message::ProduceRequest(request),
        });
        if self.config.acks == Acks::Zero {
            // Fire and forget: the send counts as done the moment it leaves.
            for batch in batches {
                self.queues[batch.partition as usize].in_flight -= 1;
                self.complete(now, batch, None, out);
            }
            return;
        }
        let at = now + self.config.request_timeout;
        let timer = Timer::RequestTimeout { correlation_id };
        out.push(Effect::SetTimer { at, timer });
        self.in_flight
            .insert(correlation_id, InFlight::new(broker, batches, now));
    }

    /// The batch as it goes on the wire; the first time it goes, the compression estimate
    /// learns from it (`ProducerBatch.close`).
    fn seal_sent(&mut self, batch: &ProducerBatch) -> RecordBatch {
        let sealed = self.seal(batch);
        if batch.attempts == 0 {
            let overhead = crate::record::BATCH_OVERHEAD;
            let (before, after) = (sealed.uncompressed_bytes, sealed.size_bytes);
            self.ratio.observe(before - overhead, after - overhead);
        }
        sealed
    }

    fn seal(&self, batch: &ProducerBatch) -> RecordBatch {
        let codec = self.config.compression;
        RecordBatch::from(crate::record::BatchData {
            base_offset: crate::record::Offset(0),
            partition_leader_epoch: None,
            producer: batch.sequence.map(|(epoch, seq)| ProducerIdentity {
                producer_id: self.producer_id,
                producer_epoch: epoch,
                base_sequence: seq,
            }),
            is_transactional: self.txn.is_some(),
            is_control: false,
            size_bytes: batch.wire_bytes(codec, self.spec.values),
            uncompressed_bytes: batch.size_bytes,
            codec,
            values: self.spec.values,
            max_timestamp_ms: batch.max_timestamp_ms,
            records: batch.records.clone(),
        })
    }

    pub(super) fn on_produce_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: ProduceResponse,
        out: &mut Vec<Effect>,
    ) {
        let Some(flight) = self.in_flight.remove(&response.correlation_id) else {
            return; // Already failed by a timeout or disconnect.
        };
        let latency = now.saturating_since(flight.sent_at).as_micros();
        self.stats.responses += 1;
        self.stats.request_latency_us_total += latency;
        self.stats.request_latency_us_max = self.stats.request_latency_us_max.max(latency);
        assert_eq!(from, NodeId::Broker(flight.broker));
        assert_eq!(flight.batches.len(), response.results.len());
        for (batch, result) in flight.batches.into_iter().zip(response.results) {
            assert_eq!(result.tp.partition, batch.partition);
            self.queues[batch.partition as usize].in_flight -= 1;
            self.queues[batch.partition as usize].muted = false;
            if batch.expired {
                self.settle_expired(batch, result.error == ErrorCode::None);
                continue;
            }
            match result.error {
                ErrorCode::None => self.complete(now, batch, result.base_offset, out),
                error => self.retry_or_fail(now, batch, error, out),
            }
        }
    }

    /// Fails every request in flight to `broker` (connection lost or request timed out).
    pub(super) fn on_disconnect(
        &mut self,
        now: Instant,
        broker: BrokerId,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let ids: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.broker == broker)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let flight = self.in_flight.remove(&id).expect("present");
            for batch in flight.batches {
                self.queues[batch.partition as usize].in_flight -= 1;
                self.queues[batch.partition as usize].muted = false;
                if batch.expired {
                    self.settle_expired(batch, false);
                    continue;
                }
                self.retry_or_fail(now, batch, error, out);
            }
        }
        self.connections.refused(now, broker, &mut self.rng);
        self.request_metadata(now, out);
    }

    fn complete(
        &mut self,
        now: Instant,
        batch: ProducerBatch,
        base_offset: Option<crate::record::Offset>,
        out: &mut Vec<Effect>,
    ) {
        let records = batch.records.len() as u64;
        for r in batch.records.iter() {
            let sent_ms = u64::try_from(r.timestamp_ms).unwrap_or(0);
            let latency = now.as_millis().saturating_sub(sent_ms);
            self.stats.latency_ms.record(latency);
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        self.sequence_acked(&batch);
        self.pool_used -= u64::from(batch.pool_bytes);
        self.stats.acked += records;
        out.push(Effect::Trace(TraceKind::BatchAcked {
            producer: self.index,
            tp: tp.clone(),
            base_offset,
            records: records as u32,
        }));
        out.push(Effect::Observe(Observation::Acked {
            producer: self.index,
            tp,
            base_offset,
            records: batch.records,
        }));
    }

    /// An appended batch's sequences are acknowledged (`handleCompletedBatch`).
    fn sequence_acked(&mut self, batch: &ProducerBatch) {
        let Some((epoch, first)) = batch.sequence else {
            return;
        };
        let queue = &mut self.queues[batch.partition as usize];
        if epoch == queue.epoch {
            let last = first.wrapping_add(batch.records.len() as i32 - 1) & i32::MAX;
            queue.last_acked = Some(queue.last_acked.map_or(last, |a| a.max(last)));
        }
        self.maybe_resolve(batch.partition);
    }

    /// The answer to a batch that `delivery.timeout.ms` failed while it was out: the
    /// application heard already, so only the sequences learn from it. Kafka's `Sender`
    /// logs a late success ("returned SUCCEEDED ... after batch ... had already been FAILED")
    /// and acknowledges its sequence; a late error changes nothing.
    fn settle_expired(&mut self, batch: ProducerBatch, appended: bool) {
        self.queues[batch.partition as usize].expired_in_flight -= 1;
        if appended {
            self.sequence_acked(&batch);
        } else if batch.sequence.is_some() {
            self.maybe_resolve(batch.partition);
        }
    }

    /// Back to the front of its queue, ahead of batches never sent, in sequence order
    /// among the others (`RecordAccumulator.reenqueue`, `insertInSequenceOrder`).
    fn reenqueue(&mut self, batch: ProducerBatch) {
        let queue = &mut self.queues[batch.partition as usize];
        let at = queue
            .batches
            .iter()
            .position(|b| {
                let unsent = b.attempts == 0 && !b.split;
                unsent || b.sequence.map(|s| s.1) > batch.sequence.map(|s| s.1)
            })
            .unwrap_or(queue.batches.len());
        queue.batches.insert(at, batch);
    }

    /// MESSAGE_TOO_LARGE for a batch of several records (`Sender.completeBatch` →
    /// `RecordAccumulator.splitAndReenqueue`): its records go again in batches of at most
    /// `batch.size` (`ProducerBatch.split`), as if never tried, with the original creation
    /// time and consecutive pieces of its sequence range; no retry is counted. Kafka 4.0
    /// splits by `batch.size` even when the batch already fit in it, so when the topic's
    /// `max.message.bytes` is below `batch.size` the same batch goes again and again until
    /// `delivery.timeout.ms` (KAFKA-8202; later versions halve it instead).
    fn split_and_reenqueue(&mut self, batch: ProducerBatch, out: &mut Vec<Effect>) {
        let (batch_size, fit) = (self.config.batch_size, self.fit());
        let mut pieces: Vec<ProducerBatch> = Vec::new();
        let mut sequence = batch.sequence;
        for record in batch.records.iter() {
            if let Some(last) = pieces.last_mut() {
                if let Some(size) = last.room_for(record, fit) {
                    last.push(record.clone(), size);
                    continue;
                }
            }
            if let (Some(last), Some((epoch, seq))) = (pieces.last(), sequence) {
                let next = seq.wrapping_add(last.records.len() as i32) & i32::MAX;
                sequence = Some((epoch, next));
            }
            let open = ProducerBatch::open(
                batch.partition,
                record.clone(),
                batch.created_at,
                batch_size,
            );
            pieces.push(ProducerBatch {
                closed: true,
                sequence,
                rewritten: batch.rewritten,
                split: true,
                pool_bytes: 0,
                ..open
            });
        }
        out.push(Effect::Trace(TraceKind::BatchSplit {
            producer: self.index,
            tp: TopicPartition {
                topic: self.topic.clone(),
                partition: batch.partition,
            },
            records: batch.records.len() as u32,
            batches: pieces.len() as u32,
        }));
        self.pool_used -= u64::from(batch.pool_bytes);
        for piece in pieces {
            self.reenqueue(piece);
        }
    }

    fn retry_or_fail(
        &mut self,
        now: Instant,
        mut batch: ProducerBatch,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        if error == ErrorCode::MessageTooLarge && batch.records.len() > 1 {
            return self.split_and_reenqueue(batch, out);
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        if error.invalidates_metadata() {
            self.request_metadata(now, out);
        }
        // A transactional producer cannot bump its epoch alone: a sequence error aborts the
        // transaction (`TransactionManager.canRetry`), and an epoch error fences it.
        let retriable = error.is_retriable()
            || (error == ErrorCode::OutOfOrderSequenceNumber
                && self.txn.is_none()
                && self.sequence_error_retriable(&batch));
        let in_time = now < batch.created_at + self.config.delivery_timeout;
        if retriable && batch.attempts < self.config.retries && in_time {
            batch.attempts += 1;
            let backoff = exponential(
                self.config.retry_backoff,
                self.config.retry_backoff_max,
                batch.attempts,
                &mut self.rng,
            );
            batch.retry_at = now + backoff;
            self.stats.retries += 1;
            self.stats.records_retried += batch.records.len() as u64;
            out.push(Effect::Trace(TraceKind::BatchRetrying {
                producer: self.index,
                tp,
                error,
                attempt: batch.attempts,
            }));
            self.reenqueue(batch);
            return;
        }
        // Refused, out of retries, or out of time (`canRetry`): the application hears the
        // broker's error, not a timeout. Its sequences must not leave a gap (Kafka adjusts only
        // when retries were not exhausted: otherwise a retry may have landed).
        let adjust = batch.attempts < self.config.retries;
        self.fail(batch, error, adjust, out);
    }

    /// Kafka's `TransactionManager.canRetry` for OUT_OF_ORDER_SEQUENCE_NUMBER: a batch that is
    /// not the next expected one follows a batch that failed or is being retried, so it is
    /// retried as it is; the next expected one refused means the broker lost our sequence,
    /// and the partition starts over in a new epoch (retried then).
    fn sequence_error_retriable(&mut self, batch: &ProducerBatch) -> bool {
        let Some((_, sequence)) = batch.sequence.filter(|_| self.config.idempotent) else {
            return false;
        };
        let queue = &self.queues[batch.partition as usize];
        let next = queue.is_next(sequence);
        if !queue.unresolved && (batch.rewritten || !next) {
            return true;
        }
        if !queue.unresolved || next {
            self.rewrite.insert(batch.partition);
        }
        true
    }

    /// A batch reached `delivery.timeout.ms`: it fails. If it had been sent before (a retry),
    /// whether it was appended is unknown until the partition's later batches answer (Kafka
    /// marks its sequence unresolved rather than reusing it; a first attempt does not).
    fn expire(&mut self, batch: ProducerBatch, out: &mut Vec<Effect>) {
        let partition = batch.partition;
        let retried = self.config.idempotent
            && self.txn.is_none()
            && batch.sequence.is_some()
            && batch.attempts > 0;
        self.fail(batch, ErrorCode::DeliveryTimeout, false, out);
        if retried {
            self.queues[partition as usize].unresolved = true;
            self.maybe_resolve(partition);
        }
    }

    /// `maybeResolveSequences`: once nothing of the partition is in flight or waiting to be
    /// retried, an expired batch was appended if the acknowledged sequences reach the next
    /// one; if not, the partition starts over in a new epoch.
    fn maybe_resolve(&mut self, partition: u32) {
        let queue = &mut self.queues[partition as usize];
        let retrying = queue.batches.iter().any(|b| b.sequence.is_some());
        if !queue.unresolved || queue.live_in_flight() > 0 || retrying {
            return;
        }
        queue.unresolved = false;
        if !queue.is_next(queue.next_sequence) {
            self.rewrite.insert(partition);
        }
    }

    /// `bumpIdempotentProducerEpoch`: a new epoch, and the partitions that asked for it
    /// number their unfinished batches from 0 in it. Other partitions move to it with their
    /// next new batch, once nothing of the older epoch is in flight there.
    pub(super) fn bump_epoch(&mut self) {
        self.producer_epoch = self.producer_epoch.wrapping_add(1);
        let epoch = self.producer_epoch;
        for p in std::mem::take(&mut self.rewrite) {
            let mut unfinished: Vec<&mut ProducerBatch> = self
                .in_flight
                .values_mut()
                .flat_map(|f| f.batches.iter_mut())
                .chain(self.queues[p as usize].batches.iter_mut())
                .filter(|b| b.partition == p && b.sequence.is_some())
                .collect();
            crate::sort::sort_by_key(&mut unfinished, |b| b.sequence.map(|s| s.1));
            let mut next = 0i32;
            for b in unfinished {
                b.sequence = Some((epoch, next));
                b.rewritten = true;
                next = next.wrapping_add(b.records.len() as i32) & i32::MAX;
                self.rewritten.extend(b.records.iter().map(|r| r.id.seq));
            }
            let queue = &mut self.queues[p as usize];
            queue.epoch = epoch;
            queue.next_sequence = next;
            queue.last_acked = None;
            queue.unresolved = false;
        }
    }

    pub(super) fn fail(
        &mut self,
        batch: ProducerBatch,
        error: ErrorCode,
        adjust: bool,
        out: &mut Vec<Effect>,
    ) {
        let records = batch.records.len() as u64;
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: batch.partition,
        };
        self.stats.failed += records;
        // `maybeRemoveAndDeallocateBatch`: the buffer goes back now, even for a batch whose
        // request is still out (an in-flight expiry).
        self.pool_used -= u64::from(batch.pool_bytes);
        out.push(Effect::Trace(TraceKind::BatchFailed {
            producer: self.index,
            tp,
            records: records as u32,
            error,
        }));
        // `handleFailedBatch`: a refused batch leaves a gap in its partition's sequences,
        // which a new epoch closes; only that partition's sequences are rewritten.
        let refused = error == ErrorCode::OutOfOrderSequenceNumber || adjust;
        if self.config.idempotent && self.txn.is_none() && batch.sequence.is_some() && refused {
            self.rewrite.insert(batch.partition);
        }
        out.push(Effect::Observe(Observation::Failed {
            producer: self.index,
            records: batch.records,
            error,
        }));
        self.txn_batch_failed(error, out);
    }

    /// Batches waiting longer than `delivery.timeout.ms` fail (Kafka's `TimeoutException`).
    pub(super) fn expire_batches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let deadline = self.config.delivery_timeout;
        let mut expired = Vec::new();
        for queue in &mut self.queues {
            while let Some(i) = queue
                .batches
                .iter()
                .position(|b| now >= b.created_at + deadline)
            {
                let batch = queue.batches.remove(i).expect("index valid");
                expired.push(batch);
            }
        }
        for batch in expired {
            self.expire(batch, out);
        }
        // Batches out on the wire expire too (`Sender.getExpiredInflightBatches`): the
        // application hears at the deadline, not a request timeout later.
        let mut expired = Vec::new();
        for flight in self.in_flight.values_mut() {
            for b in flight.batches.iter_mut() {
                if !b.expired && now >= b.created_at + deadline {
                    b.expired = true;
                    self.queues[b.partition as usize].expired_in_flight += 1;
                    expired.push(b.clone());
                }
            }
        }
        for batch in expired {
            self.expire(batch, out);
        }
    }
}
