//! The consumer's fetcher (Kafka's `Fetcher`, `SubscriptionState` and `OffsetFetcher`):
//! metadata, positions, KIP-320 validation after a leader change, `auto.offset.reset`, and
//! fetches per leader into a buffer of fetched batches that `poll()` drains.

use super::*;
use crate::protocol::Isolation;
/// One assigned partition, as the consumer sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The next offset `poll()` will return; `None` until reset or seek.
    pub position: Option<Offset>,
    /// The high watermark from the last fetch response.
    pub high_watermark: Option<Offset>,
    pub log_start: Offset,
    /// Fetched batches not yet returned by `poll()`.
    pub(super) buffered: VecDeque<RecordBatch>,
    /// read_committed: base offsets of buffered batches of aborted transactions, which
    /// `poll()` steps over as it steps over control batches.
    pub(super) aborted: BTreeSet<Offset>,
    /// The last stable offset from the last fetch response.
    pub last_stable_offset: Option<Offset>,
    pub(super) reset_in_flight: bool,
    /// Group mode: the committed offset is asked for before `auto.offset.reset` applies.
    pub(super) committed: Committed,
    /// Waiting after an error before fetching again.
    pub(super) retry_at: Option<Instant>,
    /// The leader epoch of the last record consumed (`FetchPosition.offsetEpoch`): what a
    /// new leader is asked about, to find whether its log diverged from what was read.
    pub(super) offset_epoch: Option<LeaderEpoch>,
    /// The leader epoch the position is known good under (`FetchPosition.currentLeader`).
    pub(super) leader_epoch: Option<LeaderEpoch>,
    /// KIP-320: validating the position after a leader change (`AWAIT_VALIDATION`).
    pub(super) validation: Validation,
}

/// Where a position stands in KIP-320's validation (Kafka's `FetchStates`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Validation {
    /// Fetching (or waiting to).
    #[default]
    Valid,
    /// Not fetchable until the leader says where the position's epoch ends.
    Awaiting,
    /// OffsetsForLeaderEpoch is out for this position.
    InFlight {
        position: Offset,
        correlation_id: u32,
    },
}

impl PartitionPosition {
    /// Lag as the consumer's metric computes it: high watermark − position.
    pub fn lag(&self) -> Option<u64> {
        Some(self.high_watermark?.0.saturating_sub(self.position?.0))
    }
    pub fn buffered_records(&self) -> u64 {
        let position = self.position.map_or(0, |p| p.0);
        self.buffered
            .iter()
            .map(|b| {
                b.next_offset()
                    .0
                    .saturating_sub(position.max(b.base_offset.0))
            })
            .sum()
    }
}

/// Whether a newly assigned partition's committed offset is known yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Committed {
    /// Known, or not needed (standalone mode).
    #[default]
    Known,
    Unknown,
    Fetching,
}

impl Consumer {
    pub(super) fn on_metadata(
        &mut self,
        now: Instant,
        metadata: Arc<ClusterMetadata>,
        out: &mut Vec<Effect>,
    ) {
        let metadata = self.metadata.answered(metadata);
        if self.membership.is_some() {
            // Subscribed: the group assigns partitions. Topics not there yet: look again soon.
            let changed = self.metadata.cluster.as_ref().is_none_or(|old| {
                self.spec.topics.iter().any(|t| {
                    old.topics.get(t.as_str()).map(|x| x.partitions.len())
                        != metadata.topics.get(t.as_str()).map(|x| x.partitions.len())
                })
            });
            if changed && self.metadata.cluster.is_some() {
                // The leader would assign differently: ask for a rebalance (Kafka's leader
                // watches the subscribed topics' metadata).
                if let Some(m) = &mut self.membership {
                    if m.leader && m.state == MemberState::Stable {
                        m.state = MemberState::Unjoined;
                    }
                }
            }
        } else {
            // Standalone mode: assign every partition of the listed topics that exists.
            for topic in &self.spec.topics {
                let Some(t) = metadata.topics.get(topic.as_str()) else {
                    continue;
                };
                for p in 0..t.partitions.len() as u32 {
                    let tp = TopicPartition {
                        topic: t.name.clone(),
                        partition: p,
                    };
                    self.positions.entry(tp).or_default();
                }
            }
        }
        self.positions
            .retain(|tp, _| metadata.topics.contains_key(&tp.topic));
        let refresh_at = self.metadata_refresh(now, &metadata, out);
        self.positions_meet_new_leaders(&metadata);
        self.metadata.keep(metadata, refresh_at);
    }

    /// When to ask for metadata next: soon while a topic it wants is missing (traced once,
    /// so a consumer waiting for a topic that never comes says so), else after
    /// `metadata.max.age.ms`.
    fn metadata_refresh(
        &mut self,
        now: Instant,
        metadata: &ClusterMetadata,
        out: &mut Vec<Effect>,
    ) -> Instant {
        let mut missing = false;
        for topic in &self.spec.topics {
            if metadata.topics.contains_key(topic.as_str()) {
                continue;
            }
            missing = true;
            if self.reported_missing.insert(topic.clone()) {
                out.push(Effect::Trace(TraceKind::TopicNotPresent {
                    consumer: self.index,
                    topic: topic.clone(),
                }));
            }
        }
        // A missing topic is an `InvalidMetadataException` (UNKNOWN_TOPIC_OR_PARTITION): Kafka
        // asks again at once, behind the exponential refresh backoff, which soon sits at its
        // cap (`Metadata.handleMetadataResponse` → `requestUpdate`; `retry.backoff.max.ms`).
        let wait = match missing {
            true => self.config.retry_backoff_max,
            false => self.config.metadata_max_age,
        };
        now + wait
    }

    pub(super) fn next_correlation(&mut self) -> u32 {
        self.connections.next_correlation()
    }

    /// Asks for metadata if none came yet or a refresh is due.
    pub(super) fn refresh_metadata_if_due(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let (topics, allow_auto_create) = (&self.spec.topics, self.config.allow_auto_create);
        let request = |correlation_id| Message::MetadataRequest {
            correlation_id,
            topics: topics.iter().map(|t| Arc::from(t.as_str())).collect(),
            allow_auto_create,
        };
        self.metadata
            .refresh_if_due(now, &mut self.connections, request, out);
    }

    fn leader_of(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.metadata
            .cluster
            .as_ref()?
            .leader(&tp.topic, tp.partition)
    }

    /// The leader of `tp`, unless it refused a connection and its backoff is running.
    fn reachable_leader_of(&self, now: Instant, tp: &TopicPartition) -> Option<BrokerId> {
        let leader = self.leader_of(tp)?;
        self.connections.connectable(now, leader).then_some(leader)
    }

    /// KIP-320, on new metadata (`SubscriptionState.maybeValidatePositionForCurrentLeader`):
    /// a position read under another leader epoch is validated before fetching again, if it
    /// knows the epoch of the records it follows; fetched data not yet returned is dropped.
    fn positions_meet_new_leaders(&mut self, metadata: &ClusterMetadata) {
        for (tp, p) in &mut self.positions {
            let Some(pm) = metadata.partition(&tp.topic, tp.partition) else {
                continue;
            };
            if pm.leader.is_none() || p.leader_epoch == Some(pm.leader_epoch) {
                continue;
            }
            let known = p.leader_epoch.is_some();
            p.leader_epoch = Some(pm.leader_epoch);
            if known && p.position.is_some() && p.offset_epoch.is_some() {
                p.validation = Validation::Awaiting;
                p.buffered.clear();
                p.aborted.clear();
                self.ready.retain(|t| t != tp);
            }
        }
    }

    /// Positions awaiting validation: ask their leaders where the epoch of the last record
    /// read ends (OffsetsForLeaderEpoch, one request per leader).
    pub(super) fn validate_positions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let waiting: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| {
                p.validation == Validation::Awaiting && p.retry_at.is_none_or(|at| at <= now)
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        let mut requests: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
        for tp in waiting {
            if self.leader_of(&tp).is_none() {
                // No leader known: ask for metadata, no faster than the backoff (Kafka's
                // validation requests a metadata update for a partition without a leader).
                self.metadata.refresh_by(now + self.config.retry_backoff);
                continue;
            }
            if let Some(leader) = self.reachable_leader_of(now, &tp) {
                requests.entry(leader).or_default().push(tp);
            }
        }
        for (broker, tps) in requests {
            let correlation_id = self.next_correlation();
            let mut partitions = Vec::with_capacity(tps.len());
            for tp in tps {
                let p = self.positions.get_mut(&tp).expect("present");
                let (Some(position), Some(leader_epoch), Some(current)) =
                    (p.position, p.offset_epoch, p.leader_epoch)
                else {
                    p.validation = Validation::Valid;
                    continue;
                };
                p.validation = Validation::InFlight {
                    position,
                    correlation_id,
                };
                partitions.push(EpochQuery {
                    tp,
                    current_leader_epoch: current,
                    leader_epoch,
                });
            }
            if partitions.is_empty() {
                continue;
            }
            let msg = Message::OffsetsForLeaderEpochRequest(OffsetsForLeaderEpochRequest {
                correlation_id,
                partitions,
            });
            let timeout_at = now + self.config.request_timeout;
            send_request(out, broker, msg, correlation_id, timeout_at);
        }
    }

    /// `SubscriptionState.maybeCompleteValidation`: the log diverged below the position, so
    /// the consumer moves back to the first offset known to diverge (not to earliest or
    /// latest); a leader that knows no such epoch sends it through `auto.offset.reset`; with
    /// `auto.offset.reset=none` either is a LogTruncationException.
    pub(super) fn on_epoch_end_offsets(
        &mut self,
        now: Instant,
        response: OffsetsForLeaderEpochResponse,
        out: &mut Vec<Effect>,
    ) {
        for answer in response.partitions {
            let Some(p) = self.positions.get_mut(&answer.tp) else {
                continue;
            };
            let Validation::InFlight {
                position,
                correlation_id,
            } = p.validation
            else {
                continue;
            };
            if correlation_id != response.correlation_id || p.position != Some(position) {
                continue; // The position moved on since: a stale answer.
            }
            if answer.error != ErrorCode::None {
                p.validation = Validation::Awaiting;
                p.retry_at = Some(now + self.config.retry_backoff);
                if answer.error.invalidates_metadata() {
                    self.metadata.refresh_by(now + self.config.retry_backoff);
                }
                continue;
            }
            let truncated = match answer.end {
                None => true,
                Some((_, end)) => end < position,
            };
            p.validation = Validation::Valid;
            if !truncated {
                continue;
            }
            if self.config.auto_offset_reset == OffsetReset::None {
                self.state = AppState::Failed(ErrorCode::LogTruncation);
                out.push(Effect::Trace(TraceKind::ConsumerFailed {
                    consumer: self.index,
                    tp: answer.tp,
                    error: ErrorCode::LogTruncation,
                }));
                return;
            }
            let resume = answer.end.map(|(_, end)| end);
            p.position = resume;
            p.offset_epoch = answer.end.map(|(epoch, _)| epoch);
            out.push(Effect::Trace(TraceKind::TruncationDetected {
                consumer: self.index,
                tp: answer.tp,
                position,
                resume,
            }));
        }
    }

    /// Positions missing: ask the leader for the earliest or latest offset.
    pub(super) fn reset_positions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut requests: BTreeMap<BrokerId, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
            OffsetReset::None => {
                if let Some(tp) = self
                    .positions
                    .iter()
                    .find(|(_, p)| p.position.is_none() && p.committed == Committed::Known)
                    .map(|(tp, _)| tp.clone())
                {
                    self.state = AppState::Failed(ErrorCode::NoOffsetForPartition);
                    let error = ErrorCode::NoOffsetForPartition;
                    out.push(Effect::Trace(TraceKind::ConsumerFailed {
                        consumer: self.index,
                        tp,
                        error,
                    }));
                }
                return;
            }
        };
        let wanted: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| {
                p.position.is_none() && !p.reset_in_flight && p.committed == Committed::Known
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in wanted {
            if self.leader_of(&tp).is_none() {
                // Offline as far as we know: look again (Kafka's offset reset asks for a
                // metadata update when the leader is unknown).
                self.metadata.refresh_by(now + self.config.retry_backoff);
                continue;
            }
            let Some(leader) = self.reachable_leader_of(now, &tp) else {
                continue;
            };
            self.positions
                .get_mut(&tp)
                .expect("present")
                .reset_in_flight = true;
            requests.entry(leader).or_default().push((tp, spec));
        }
        for (broker, partitions) in requests {
            let correlation_id = self.next_correlation();
            let msg = Message::ListOffsetsRequest(ListOffsetsRequest {
                isolation: self.config.isolation,
                correlation_id,
                partitions,
            });
            out.push(Effect::Send {
                to: NodeId::Broker(broker),
                msg,
            });
        }
    }

    pub(super) fn on_list_offsets(
        &mut self,
        now: Instant,
        response: ListOffsetsResponse,
        out: &mut Vec<Effect>,
    ) {
        let earliest = self.config.auto_offset_reset == OffsetReset::Earliest;
        for (tp, error, offset) in response.partitions {
            let Some(p) = self.positions.get_mut(&tp) else {
                continue;
            };
            if !p.reset_in_flight {
                continue; // An answer to a request of an earlier assignment or process.
            }
            p.reset_in_flight = false;
            if error != ErrorCode::None {
                self.metadata.refresh_by(now + self.config.retry_backoff);
                continue;
            }
            if p.position.is_none() {
                p.position = Some(offset);
                p.offset_epoch = None;
                p.validation = Validation::Valid;
                out.push(Effect::Trace(TraceKind::OffsetReset {
                    consumer: self.index,
                    tp,
                    offset,
                    earliest,
                }));
            }
        }
    }

    /// One fetch per leader, for its partitions that have a position and nothing buffered.
    pub(super) fn send_fetches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut no_leader = false;
        let mut by_broker: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, p) in &self.positions {
            let Some(position) = p.position else { continue };
            if !p.buffered.is_empty() || p.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            if p.validation != Validation::Valid {
                continue; // Not fetchable until validated (KIP-320).
            }
            if self.leader_of(tp).is_none() {
                no_leader = true;
            }
            let Some(leader) = self.reachable_leader_of(now, tp) else {
                continue;
            };
            if self.fetches.contains_key(&leader) {
                continue;
            }
            let epoch = self
                .metadata
                .cluster
                .as_ref()
                .and_then(|m| m.partition(&tp.topic, tp.partition))
                .map(|p| p.leader_epoch);
            by_broker.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: position,
                partition_max_bytes: self.config.max_partition_fetch_bytes,
                current_leader_epoch: epoch,
                last_fetched_epoch: None,
            });
        }
        if no_leader {
            // A partition without a leader: ask again for metadata, no faster than the backoff.
            self.metadata.refresh_by(now + self.config.retry_backoff);
        }
        for (broker, partitions) in by_broker {
            let correlation_id = self.next_correlation();
            let request = FetchRequest {
                correlation_id,
                isolation: self.config.isolation,
                replica_id: None,
                max_wait_ms: self.config.fetch_max_wait.as_millis() as u32,
                min_bytes: self.config.fetch_min_bytes,
                max_bytes: self.config.fetch_max_bytes,
                partitions,
            };
            self.fetches.insert(broker, correlation_id);
            self.fetch_sent_at.retain(|(b, _)| *b != broker);
            self.fetch_sent_at.push((broker, now));
            self.stats.fetches += 1;
            // A fetch may wait fetch.max.wait.ms on the broker before the request timeout starts.
            let at = now + self.config.fetch_max_wait + self.config.request_timeout;
            send_request(
                out,
                broker,
                Message::FetchRequest(request),
                correlation_id,
                at,
            );
        }
    }

    pub(super) fn on_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: FetchResponse,
    ) {
        let NodeId::Broker(broker) = from else {
            unreachable!("fetch responses come from brokers")
        };
        if self.fetches.get(&broker) != Some(&response.correlation_id) {
            return; // A response to a fetch we gave up on.
        }
        self.fetches.remove(&broker);
        if let Some(i) = self.fetch_sent_at.iter().position(|(b, _)| *b == broker) {
            let (_, sent) = self.fetch_sent_at.swap_remove(i);
            self.stats.fetch_responses += 1;
            self.stats.fetch_latency_us_total += now.saturating_since(sent).as_micros();
        }
        self.owed_ns += self.cost.ns_per_fetch;
        for fetched in response.partitions {
            let Some(p) = self.positions.get_mut(&fetched.tp) else {
                continue;
            };
            match fetched.error {
                ErrorCode::None => {}
                ErrorCode::OffsetOutOfRange => {
                    // Reset as auto.offset.reset says, like a consumer with no position.
                    p.position = None;
                    p.offset_epoch = None;
                    p.buffered.clear();
                    p.aborted.clear();
                    continue;
                }
                error => {
                    p.retry_at = Some(now + self.config.retry_backoff);
                    if error.invalidates_metadata() {
                        self.metadata.refresh_by(now + self.config.retry_backoff);
                    }
                    continue;
                }
            }
            p.high_watermark = Some(fetched.high_watermark);
            p.last_stable_offset = Some(fetched.last_stable_offset);
            p.log_start = fetched.log_start;
            if self.config.isolation == Isolation::ReadCommitted {
                p.aborted
                    .extend(aborted_batches(&fetched.batches, &fetched.aborted));
            }
            // Reassigned since the fetch went out (its position is being looked up): the data
            // may not start where the new owner will.
            let Some(position) = p.position else { continue };
            let fresh: Vec<RecordBatch> = fetched
                .batches
                .into_iter()
                .filter(|b| b.next_offset() > position)
                .collect();
            if !fresh.is_empty() {
                p.buffered.extend(fresh);
                if !self.ready.contains(&fetched.tp) {
                    self.ready.push_back(fetched.tp);
                }
            }
        }
    }
}

/// The batches a read_committed consumer drops (Kafka's `CompletedFetch.nextFetchedRecord`
/// with `abortedProducerIds`): walking the batches in order, a producer whose aborted
/// transaction starts at or before a batch is aborted until its ABORT marker.
fn aborted_batches(
    batches: &[RecordBatch],
    aborted: &[(crate::record::ProducerId, Offset)],
) -> Vec<Offset> {
    let mut pending: Vec<(Offset, crate::record::ProducerId)> =
        aborted.iter().map(|&(p, o)| (o, p)).collect();
    crate::sort::sort(&mut pending);
    let mut pending = pending.into_iter().peekable();
    let mut aborting = BTreeSet::new();
    let mut dropped = Vec::new();
    for b in batches {
        let Some(pid) = b
            .producer
            .filter(|_| b.is_transactional)
            .map(|p| p.producer_id)
        else {
            continue;
        };
        // `consumeAbortedTransactionsUpTo`, for control batches too: an aborted transaction
        // that wrote nothing here starts at its own marker, which then ends it.
        while let Some(&(first, p)) = pending.peek() {
            if first > b.last_offset() {
                break;
            }
            aborting.insert(p);
            pending.next();
        }
        if b.is_control {
            if b.control_type() == Some(crate::record::ControlType::Abort) {
                aborting.remove(&pid);
            }
            continue;
        }
        if aborting.contains(&pid) {
            dropped.push(b.base_offset);
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{marker_batch, test_batch, ControlType, ProducerId, ProducerIdentity};

    fn txn_batch(base: u64, n: u64, epoch: i16) -> RecordBatch {
        let mut b = test_batch(Offset(base), base, n, 100);
        b.is_transactional = true;
        b.producer = Some(ProducerIdentity {
            producer_id: ProducerId(7),
            producer_epoch: epoch,
            base_sequence: 0,
        });
        b
    }

    fn marker(base: u64, kind: ControlType) -> RecordBatch {
        let mut b = marker_batch(ProducerId(7), 1, kind, 0, 0);
        b.base_offset = Offset(base);
        b
    }

    #[test]
    fn an_aborted_transaction_is_dropped_until_its_marker() {
        // [0,5) aborted, ABORT at 5; [6,9) committed, COMMIT at 9.
        let batches = [
            txn_batch(0, 5, 0),
            marker(5, ControlType::Abort),
            txn_batch(6, 3, 1),
            marker(9, ControlType::Commit),
        ];
        let dropped = aborted_batches(&batches, &[(ProducerId(7), Offset(0))]);
        assert_eq!(dropped, vec![Offset(0)]);
    }

    #[test]
    fn an_aborted_transaction_that_wrote_nothing_here_ends_at_its_own_marker() {
        // Kafka's index gives such a transaction its marker's offset as first offset: the
        // consumer meets it at the marker, which also ends it (swarm seed 300085: the next,
        // committed transaction was dropped).
        let batches = [marker(5, ControlType::Abort), txn_batch(6, 3, 1)];
        let dropped = aborted_batches(&batches, &[(ProducerId(7), Offset(5))]);
        assert!(dropped.is_empty(), "{dropped:?}");
    }
}
