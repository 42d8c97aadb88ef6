//! The consumer client and the application polling it (Kafka's `KafkaConsumer` with its
//! `ClassicKafkaConsumer` poll loop). Three rooms:
//! - here: the process (start, close, crash, restart after a processing failure), the
//!   application's `poll()` returning up to `max.poll.records`, its processing time per
//!   record, commits before or after processing, and when to wake next;
//! - [`fetcher`]: metadata, positions and `seek`, KIP-320 validation, `auto.offset.reset`,
//!   and fetches per leader (`fetch.min.bytes`, `fetch.max.wait.ms`,
//!   `max.partition.fetch.bytes`) into a buffer of fetched batches;
//! - [`member`]: with a `group.id`, the member side of the classic group protocol (reference
//!   §4.2–§4.3, §4.6): finding the coordinator, JoinGroup and SyncGroup (the leader runs the
//!   assignor), heartbeats, eager or cooperative rejoins, offset commits, leaving on close or
//!   when `max.poll.interval.ms` passes.
//!
//! Without a `group.id` the consumer assigns itself every partition of its topics
//! (standalone `assign` mode).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::client::{Connections, Metadata};
use crate::config::ConfigError;
use crate::group::assignor::{self, rebalance_protocol, RebalanceProtocol, Strategy};
use crate::group::Generation;
use crate::ledger::Observation;
use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Input, Timer};
use crate::protocol::{
    EpochQuery, ErrorCode, FetchPartition, FetchRequest, FetchResponse, JoinGroupRequest,
    JoinGroupResponse, ListOffsetsRequest, ListOffsetsResponse, MemberRef, Message,
    OffsetCommitRequest, OffsetSpec, OffsetsForLeaderEpochRequest, OffsetsForLeaderEpochResponse,
    Subscription, SyncGroupRequest, SyncGroupResponse,
};
use crate::record::{LeaderEpoch, Offset, RecordBatch, TopicPartition};
use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId, TraceKind};

mod config;
pub mod failure;
mod fetcher;
mod member;

pub use config::{
    CommitStrategy, ConsumerConfig, ConsumerSpec, OffsetReset, RESTART_AFTER_FAILURE,
};
use fetcher::Committed;
pub use fetcher::PartitionPosition;
use fetcher::Validation;
pub use member::{MemberState, Membership};
/// What the application is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppState {
    /// Blocked in `poll()` until records arrive.
    Polling,
    /// Processing the last poll's records until the given time.
    Processing { until: Instant },
    /// Blocked in `commitSync()`; then processes for `then` (commit before processing) or
    /// polls again.
    Committing { then: Option<Duration> },
    /// A processor's application waits for its producer: in `commitTransaction()`
    /// (exactly-once) or `flush()` (at-least-once).
    AwaitingOutput,
    /// Stopped by an error the application did not handle.
    Failed(ErrorCode),
    /// Closed by the user.
    Stopped,
    /// The process died (no LeaveGroup, no commit).
    Crashed,
    /// Processing threw; the process died and comes back (a new process) at `at`.
    Restarting { at: Instant },
}

/// Counters shown in snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub consumed: u64,
    pub polls: u64,
    pub fetches: u64,
    /// Records whose processing finished.
    pub processed: u64,
    pub commits: u64,
    pub failed_commits: u64,
    /// Completed rebalances this member took part in.
    pub rebalances: u64,
    /// Time spent owning nothing during rebalances (eager: the whole rebalance).
    pub paused: Duration,
    /// End-to-end latency of every record `poll()` returned: from its timestamp (`send()`)
    /// to the poll, as Kafka's `EndToEndLatency` tool measures it.
    pub end_to_end_ms: crate::histogram::Histogram,
    /// Answered fetches and their summed latency (`fetch-latency-avg`).
    pub fetch_responses: u64,
    pub fetch_latency_us_total: u64,
    /// Answered offset commits and their summed latency (`commit-latency-avg`).
    pub commit_responses: u64,
    pub commit_latency_us_total: u64,
}

impl ConsumerStats {
    /// `poll()` returned `records` at `now`: their end-to-end latencies.
    fn polled(&mut self, records: &[crate::record::Record], now: Instant) {
        for r in records {
            let ms = now.as_millis().saturating_sub(r.timestamp_ms.max(0) as u64);
            self.end_to_end_ms.record(ms);
        }
    }

    /// An offset commit sent at `sent_at` was answered at `now` (`commit-latency-avg`).
    pub(super) fn commit_answered(&mut self, sent_at: Instant, now: Instant) {
        self.commit_responses += 1;
        self.commit_latency_us_total += now.saturating_since(sent_at).as_micros();
    }
}

/// One poll's records, delivered to the ledger as processing completes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Polled {
    tp: TopicPartition,
    base_offset: Offset,
    records: Arc<Vec<crate::record::Record>>,
    from: u32,
    to: u32,
}

/// A consumer client and its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub index: u32,
    pub spec: ConsumerSpec,
    config: ConsumerConfig,
    /// Who counts as one reader for the ledger: the group, else this consumer.
    audience: Arc<str>,
    connections: Connections,
    metadata: Metadata,
    pub positions: BTreeMap<TopicPartition, PartitionPosition>,
    /// Partitions with buffered data, in the order their data arrived.
    ready: VecDeque<TopicPartition>,
    /// Fetch in flight per broker: correlation id.
    fetches: BTreeMap<BrokerId, u32>,
    /// When each broker's fetch left (`fetch-latency`): a few entries, a vector.
    fetch_sent_at: Vec<(BrokerId, Instant)>,
    pub state: AppState,
    scheduled_wake: Option<Instant>,
    /// Brokers that refused a connection: (retry no earlier than, attempts), as
    /// `reconnect.backoff.ms` (50 ms, doubling to `reconnect.backoff.max.ms`, 1 s).
    rng: Prng,
    pub stats: ConsumerStats,
    pub membership: Option<Membership>,
    /// The records of the poll being processed, and when processing started.
    processing: Vec<Polled>,
    processing_started: Instant,
    /// Processing throws at this record of the current poll (see `failures`).
    failing_at: Option<u32>,
    /// What became of each record of the current poll, when failures are routed.
    fates: Vec<crate::ledger::Handled>,
    /// The topics the current poll's failed records were published to.
    forward_topics: Vec<String>,
    /// `flush()`es of those topics' producers not yet answered; whether one reported a
    /// failed send.
    awaiting_forwards: u32,
    forward_failed: bool,
    /// Topics it wanted that were missing, already said so.
    reported_missing: BTreeSet<String>,
    /// What `poll()` costs the application thread, and what it owes so far (ns): fetches
    /// parsed since the last poll, and this poll's records.
    cost: crate::hardware::ConsumerCost,
    owed_ns: u64,
    /// This poll's share of `poll()` itself, before the application's processing.
    client_busy: Duration,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted: crate::planted::Planted,
}

impl Consumer {
    pub fn new(
        index: u32,
        spec: ConsumerSpec,
        brokers: Vec<BrokerId>,
        rng: Prng,
    ) -> Result<Consumer, ConfigError> {
        let config = ConsumerConfig::from_configs(&spec.configs)?;
        let audience = audience_of(&config, &spec.name);
        Ok(Consumer {
            index,
            spec,
            audience,
            connections: Connections::new(brokers, index as usize),
            metadata: Metadata::default(),
            positions: BTreeMap::new(),
            ready: VecDeque::new(),
            fetches: BTreeMap::new(),
            fetch_sent_at: Vec::new(),
            state: AppState::Polling,
            scheduled_wake: None,
            rng,
            stats: ConsumerStats::default(),
            membership: config
                .group_id
                .as_ref()
                .map(|g| Membership::new(g, rebalance_protocol(&config.strategies))),
            config,
            processing: Vec::new(),
            processing_started: Instant::ZERO,
            failing_at: None,
            fates: Vec::new(),
            forward_topics: Vec::new(),
            awaiting_forwards: 0,
            forward_failed: false,
            reported_missing: BTreeSet::new(),
            cost: Default::default(),
            owed_ns: 0,
            client_busy: Duration::ZERO,
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        })
    }

    /// The hardware's price of `poll()` (none by default).
    pub fn set_cost(&mut self, cost: crate::hardware::ConsumerCost) {
        self.cost = cost;
    }

    /// How many requests this process numbered (its correlation ids so far).
    pub fn requests_sent(&self) -> u32 {
        self.connections.requests_sent()
    }

    /// A restarted process numbers its requests after its predecessor's, so an answer to one
    /// of the old process's requests (on its dead connection, in Kafka) is never taken for an
    /// answer to the new one's.
    pub fn continue_requests_from(&mut self, sent: u32) {
        self.connections.continue_requests_from(sent);
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    pub fn audience(&self) -> &Arc<str> {
        &self.audience
    }

    pub fn start(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.wake(now, out);
    }

    /// `close()`: the application stops polling; a group member commits (with
    /// auto-commit) and leaves the group, unless it is a static member (KIP-345).
    pub fn stop(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if matches!(self.state, AppState::Crashed | AppState::Stopped) {
            return;
        }
        self.finish_processing(now, out);
        // Not past failed records whose copies are still unacknowledged: whoever takes the
        // partitions over processes them again.
        if self.config.enable_auto_commit && !self.awaits_forwards() {
            self.commit(now, false, out);
        }
        self.member(|m, c| m.leave_group(c, "closed", out));
        self.state = AppState::Stopped;
    }

    /// Whether the application is waiting for its failed records' copies to be acknowledged
    /// (its offsets must not be committed meanwhile).
    pub fn awaits_forwards(&self) -> bool {
        self.awaiting_forwards > 0
    }

    /// The process dies: the records of the current poll processed so far count as processed,
    /// the rest not; nothing is committed and the group is not told.
    pub fn crash(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let per = self.spec.processing_per_record.as_micros();
        let elapsed = now.0.saturating_sub(self.processing_started.0);
        let done = elapsed.checked_div(per).unwrap_or(u64::MAX);
        let total: u64 = self
            .processing
            .iter()
            .map(|p| u64::from(p.to - p.from))
            .sum();
        let processed = done.min(total);
        self.deliver_first(processed, out);
        self.state = AppState::Crashed;
        out.push(Effect::Trace(TraceKind::ConsumerCrashed {
            consumer: self.index,
            processed: processed as u32,
            unprocessed: (total - processed) as u32,
        }));
    }

    /// The process stops mid-poll: the first `n` records of the poll count as processed, the
    /// rest are dropped with it.
    fn deliver_first(&mut self, mut n: u64, out: &mut Vec<Effect>) {
        for p in std::mem::take(&mut self.processing) {
            let k = u64::from(p.to - p.from).min(n) as u32;
            n -= u64::from(k);
            if k > 0 {
                let to = p.from + k;
                self.deliver(Polled { to, ..p }, out);
            }
        }
    }

    /// Processing threw at record `k` of the poll: the records before it count as processed,
    /// nothing is committed, nobody is told; a new process starts after a while.
    fn die_and_restart(&mut self, now: Instant, k: u32, out: &mut Vec<Effect>) {
        let total: u32 = self.processing.iter().map(|p| p.to - p.from).sum();
        self.deliver_first(u64::from(k), out);
        out.push(Effect::Trace(TraceKind::ConsumerCrashed {
            consumer: self.index,
            processed: k,
            unprocessed: total - k,
        }));
        // A new process: fresh client state; the counters and the PRNG carry on, and so do
        // correlation ids, so that answers to the old process are not mistaken for new ones.
        let fresh = Consumer::new(
            self.index,
            self.spec.clone(),
            self.connections.brokers().to_vec(),
            self.rng.clone(),
        )
        .expect("the spec was valid when the consumer was created");
        let (stats, sent, rng) = (
            std::mem::take(&mut self.stats),
            self.connections.requests_sent(),
            self.rng.clone(),
        );
        *self = Consumer {
            stats,
            rng,
            cost: self.cost,
            ..fresh
        };
        self.connections.continue_requests_from(sent);
        // The clients in the same process die with it and start again with it: a
        // processor's producer, and those publishing failed records.
        if self.spec.processor.is_some() {
            out.push(Effect::Handoff(crate::processor::AppCall::Restart));
        }
        for topic in self.spec.failures.all_destinations(&self.spec.topics) {
            let call = Box::new(crate::processor::AppCall::Restart);
            out.push(Effect::Handoff(crate::processor::AppCall::Forward {
                topic,
                call,
            }));
        }
        let at = now + RESTART_AFTER_FAILURE;
        self.state = AppState::Restarting { at };
        self.scheduled_wake = Some(at);
        out.push(Effect::SetTimer {
            at,
            timer: Timer::Wake,
        });
    }

    /// "Make it slow": the application now needs `per_record` for each record.
    pub fn set_processing_time(&mut self, per_record: Duration, out: &mut Vec<Effect>) {
        self.spec.processing_per_record = per_record;
        out.push(Effect::Trace(TraceKind::ProcessingTimeChanged {
            consumer: self.index,
            per_record_us: per_record.as_micros(),
        }));
    }

    /// `seek(tp, offset)`: the next poll returns `offset`; buffered data for `tp` is dropped.
    pub fn seek(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        offset: Offset,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(p) = self.positions.get_mut(tp) else {
            return false;
        };
        p.position = Some(offset);
        p.offset_epoch = None;
        p.validation = Validation::Valid;
        p.buffered.clear();
        p.aborted.clear();
        p.retry_at = None;
        self.ready.retain(|t| t != tp);
        out.push(Effect::Trace(TraceKind::Seek {
            consumer: self.index,
            tp: tp.clone(),
            offset,
        }));
        self.wake(now, out);
        true
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        if let Input::Message {
            from: NodeId::Broker(b),
            ..
        } = &input
        {
            // A broker that answers is reachable again: forget its reconnect backoff.
            self.connections.answered(*b);
        }
        if matches!(self.state, AppState::Crashed) {
            return;
        }
        if let AppState::Restarting { at } = self.state {
            // The process is down: the network drops what arrives; only its comeback counts.
            if now < at || !matches!(input, Input::Timer(Timer::Wake)) {
                return;
            }
            self.state = AppState::Polling;
            self.scheduled_wake = None;
            out.push(Effect::Trace(TraceKind::ConsumerRestarted {
                consumer: self.index,
            }));
        }
        match input {
            Input::App(call) => self.on_app_call(now, call, out),
            Input::Message { from, msg } => match msg {
                Message::MetadataResponse { metadata, .. } => self.on_metadata(now, metadata, out),
                Message::FetchResponse(r) => self.on_fetch_response(now, from, r),
                Message::ListOffsetsResponse(r) => self.on_list_offsets(now, r, out),
                Message::OffsetsForLeaderEpochResponse(r) => self.on_epoch_end_offsets(now, r, out),
                msg if msg.is_group_answer() => {
                    // The group protocol's answers; a commit's may release processing.
                    let resume = self.member(|m, c| m.on_response(c, now, msg, out));
                    if let Some(Some(busy)) = resume {
                        self.start_processing(now, busy, out);
                    }
                }
                other => unreachable!("consumer got {}", other.kind()),
            },
            Input::Disconnected {
                peer: NodeId::Broker(b),
            } => self.on_disconnected(now, b),
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::Wake) => {
                if self.scheduled_wake.is_some_and(|at| at <= now) {
                    self.scheduled_wake = None;
                }
                if let AppState::Processing { until } = self.state {
                    if until <= now {
                        self.finish_processing(now, out);
                    }
                }
            }
            Input::Timer(Timer::RequestTimeout { correlation_id }) => {
                self.fetches.retain(|_, c| *c != correlation_id);
                for p in self.positions.values_mut() {
                    if let Validation::InFlight {
                        correlation_id: c, ..
                    } = p.validation
                    {
                        if c == correlation_id {
                            p.validation = Validation::Awaiting;
                        }
                    }
                }
            }
            Input::Timer(other) => unreachable!("consumer got timer {other:?}"),
        }
        self.wake(now, out);
    }

    /// A broker's connection broke: what was in flight to it is lost.
    fn on_disconnected(&mut self, now: Instant, b: BrokerId) {
        self.connections.refused(now, b, &mut self.rng);
        self.fetches.remove(&b);
        self.metadata.disconnected();
        self.member(|m, c| m.coordinator_lost(c, b));
        for p in self.positions.values_mut() {
            p.reset_in_flight = false;
            if matches!(p.validation, Validation::InFlight { .. }) {
                p.validation = Validation::Awaiting;
            }
        }
        self.metadata.refresh_by(now + self.config.retry_backoff);
    }

    /// Runs a step of the group member with the rest of the consumer at hand; nothing in
    /// standalone mode. The membership is out of the consumer meanwhile, so that the two can
    /// be borrowed together: a member step must not reach back into it (nor restart the
    /// process, which replaces it; `on_commit_response` hands processing back instead).
    fn member<R>(&mut self, step: impl FnOnce(&mut Membership, &mut Consumer) -> R) -> Option<R> {
        let mut m = self.membership.take()?;
        let r = step(&mut m, self);
        assert!(
            self.membership.is_none(),
            "a member step replaced its own membership"
        );
        self.membership = Some(m);
        Some(r)
    }

    /// Commits the current positions (a group member only). Returns whether the commit is
    /// under way (a synchronous caller then waits for it).
    fn commit(&mut self, now: Instant, sync: bool, out: &mut Vec<Effect>) -> bool {
        self.member(|m, c| m.commit(c, now, sync, out))
            .unwrap_or(false)
    }

    fn wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if matches!(
            self.state,
            AppState::Stopped
                | AppState::Failed(_)
                | AppState::Crashed
                | AppState::Restarting { .. }
        ) {
            return;
        }
        self.refresh_metadata_if_due(now, out);
        if self.membership.is_some() {
            // A poll begins with the coordinator's work (`ConsumerCoordinator.poll`): the join
            // completes before the new partitions' committed offsets are fetched (and before
            // `poll()` below, which only `wake` calls).
            if self.state == AppState::Polling {
                self.member(|m, c| m.complete_join(c, now, out));
            }
            self.member(|m, c| m.group_tick(c, now, out));
        }
        self.validate_positions(now, out);
        self.reset_positions(now, out);
        // `KafkaConsumer.poll` returns what is buffered before it sends the next fetches, so a
        // partition just drained rides in the next fetch to its leader; fetching first would
        // leave it out, and then wait behind that fetch's long poll (one fetch per broker).
        self.poll(now, out);
        // Only `poll()` sends fetches (the classic consumer's `Fetcher` runs on the
        // application thread): one taking records sends them above, as it returns; while the
        // application processes, or waits in `commitSync()`, answers wait for the next poll,
        // which drains what they brought before it fetches again.
        if self.state == AppState::Polling {
            self.send_fetches(now, out);
        }
        self.schedule_wake(now, out);
    }

    /// `poll()`: up to `max.poll.records`, draining one partition's fetched data before the next.
    /// A group member first auto-commits when due and rejoins when a rebalance asks for it.
    fn poll(&mut self, now: Instant, out: &mut Vec<Effect>) {
        while self.state == AppState::Polling {
            if self.membership.is_some() {
                self.member(|m, c| m.maybe_auto_commit(c, now, out));
                self.member(|m, c| m.rejoin_if_needed(c, now, out));
                if self.state != AppState::Polling {
                    return;
                }
            }
            let mut budget = self.config.max_poll_records;
            let (mut taken, mut drained) = (0u64, false);
            while budget > 0 {
                // The first partition with data due (a retry topic's record waits for its due
                // time: Spring pauses its partition until then).
                let Some(i) = (0..self.ready.len()).find(|&i| self.head_due(i, now)) else {
                    break;
                };
                let tp = self.ready[i].clone();
                let n = self.take_records(&tp, budget, now, out);
                budget -= n;
                taken += u64::from(n);
                let p = &self.positions[&tp];
                if p.buffered.is_empty() {
                    self.ready.remove(i);
                    drained = true;
                } else if n == 0 {
                    break;
                }
            }
            if taken == 0 {
                // Empty answers were parsed while poll() waited (a consumer at the tail): that
                // time passed unseen, and the next poll with records owes none of it.
                self.owed_ns = 0;
                if drained {
                    // Only markers or aborted batches were stepped over: fetch on from there.
                    self.send_fetches(now, out);
                }
                return;
            }
            self.stats.polls += 1;
            self.stats.consumed += taken;
            if let Some(m) = &mut self.membership {
                m.last_poll = now;
            }
            let busy = self.busy_for(taken);
            match self.spec.commit {
                CommitStrategy::AfterProcessing { sync }
                    if planted!(self, CommitBeforeProcessing) && self.membership.is_some() =>
                {
                    self.commit(now, sync, out);
                    self.start_processing(now, busy, out);
                }
                CommitStrategy::BeforeProcessing { sync } if self.membership.is_some() => {
                    if self.commit(now, sync, out) && sync {
                        self.state = AppState::Committing { then: Some(busy) };
                    } else {
                        self.start_processing(now, busy, out);
                    }
                }
                _ => self.start_processing(now, busy, out),
            }
            // After this poll, fetch what was drained while the application processes.
            self.send_fetches(now, out);
        }
    }

    /// How long the application thread is busy with a poll of `taken` records: poll()'s own
    /// work first (what the consumer owes), then the application's processing.
    fn busy_for(&mut self, taken: u64) -> Duration {
        let client_us = std::mem::take(&mut self.owed_ns).div_ceil(1_000);
        self.client_busy = Duration(client_us);
        let per = self.spec.processing_per_record.as_micros();
        Duration(per.saturating_mul(taken).saturating_add(client_us))
    }

    fn start_processing(&mut self, now: Instant, mut busy: Duration, out: &mut Vec<Effect>) {
        self.processing_started = now;
        let mut ends = None;
        // What poll() itself took comes first, whatever the processing then does.
        let client = std::mem::take(&mut self.client_busy);
        if self.spec.failures.on_failure.routes() {
            let (b, e) = self.plan_failures(now + client, out);
            (busy, ends) = (client + b, Some(e));
        } else if self.spec.failures.failure_ppm > 0 || !self.spec.failures.poison_keys.is_empty() {
            let ppm = u64::from(self.spec.failures.failure_ppm);
            let (rng, failures) = (&mut self.rng, &self.spec.failures);
            self.failing_at = polled_records(&self.processing)
                .position(|(_, _, r)| {
                    failures.is_poison(r) || (ppm > 0 && rng.chance(ppm, 1_000_000))
                })
                .map(|k| k as u32);
            if let Some(k) = self.failing_at {
                // It throws at the end of record k's processing.
                let per = self.spec.processing_per_record.as_micros();
                busy = client + Duration(per.saturating_mul(u64::from(k) + 1));
            }
        }
        if let Some(role) = self.spec.processor {
            self.send_outputs(role, now, ends.as_deref(), out);
        }
        if busy > Duration::ZERO {
            self.state = AppState::Processing { until: now + busy };
        } else {
            self.finish_processing(now, out);
        }
    }

    /// A processor sends each output as it finishes its input: every input's, or with
    /// `on_failure` handling failures, each processed input's at its end (`ends`).
    fn send_outputs(
        &mut self,
        role: crate::processor::Role,
        now: Instant,
        ends: Option<&[Instant]>,
        out: &mut Vec<Effect>,
    ) {
        use crate::ledger::Fate;
        let per = self.spec.processing_per_record;
        let fates = &self.fates;
        let records = polled_records(&self.processing)
            .enumerate()
            .filter_map(|(i, (tp, offset, r))| {
                let at = match ends {
                    Some(_) if fates[i].fate != Fate::Processed => return None,
                    Some(ends) => ends[i],
                    None => now + Duration(per.as_micros().saturating_mul(i as u64 + 1)),
                };
                Some((at, role.transform.apply(r, (tp, offset))))
            })
            .collect();
        out.push(Effect::Handoff(crate::processor::AppCall::Send { records }));
    }

    /// The application processed the poll's records; with commit-after-processing it commits
    /// (once the copies of its failed records are acknowledged).
    fn finish_processing(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if let Some(k) = self.failing_at.take() {
            return self.die_and_restart(now, k, out);
        }
        if let Some(role) = self.spec.processor {
            return self.hand_over(role, out);
        }
        let had = !self.processing.is_empty();
        for p in std::mem::take(&mut self.processing) {
            self.deliver(p, out);
        }
        if matches!(self.state, AppState::Processing { .. }) {
            self.state = AppState::Polling;
        }
        self.report_fates(out);
        if self.await_forwards(out) {
            return;
        }
        self.commit_after_processing(now, had, out);
    }

    fn commit_after_processing(&mut self, now: Instant, had: bool, out: &mut Vec<Effect>) {
        if let CommitStrategy::AfterProcessing { sync } = self.spec.commit {
            if had && self.commit(now, sync, out) && sync {
                self.state = AppState::Committing { then: None };
            }
        }
    }

    /// A processor's application processed a poll (its outputs were sent meanwhile):
    /// exactly-once, it hands the positions to commit in the transaction with the group's
    /// metadata and waits in `commitTransaction()`; at-least-once, it waits in `flush()`.
    /// At-most-once committed before processing and polls on.
    fn hand_over(&mut self, role: crate::processor::Role, out: &mut Vec<Effect>) {
        use crate::processor::{AppCall, Guarantee, TxnOffsets};
        let polled = std::mem::take(&mut self.processing);
        if polled.is_empty() {
            if matches!(self.state, AppState::Processing { .. }) {
                self.state = AppState::Polling;
            }
            return;
        }
        for p in polled {
            self.deliver(p, out);
        }
        self.report_fates(out);
        let offsets = match (role.guarantee, &self.membership) {
            _ if planted!(self, OffsetsOutsideTransaction) => None,
            (Guarantee::ExactlyOnce, Some(m)) => Some(TxnOffsets {
                group: m.group.clone(),
                generation: m.generation,
                member_id: m.member_id.clone(),
                offsets: (self.positions.iter())
                    .filter_map(|(tp, p)| Some((tp.clone(), p.position?)))
                    .collect(),
            }),
            _ => None,
        };
        let flush = role.guarantee == Guarantee::AtLeastOnce;
        self.state = match role.guarantee {
            Guarantee::AtMostOnce => AppState::Polling,
            Guarantee::ExactlyOnce | Guarantee::AtLeastOnce => AppState::AwaitingOutput,
        };
        if role.guarantee != Guarantee::AtMostOnce {
            out.push(Effect::Handoff(AppCall::Commit { offsets, flush }));
        }
        if flush && self.spec.failures.on_failure.forwards() {
            // Its output producer's `flush()` is awaited with its failed records' copies.
            self.forward_failed = false;
            self.await_forwards(out);
            self.awaiting_forwards += 1;
        }
    }

    /// A call from the producer of the same processor.
    fn on_app_call(
        &mut self,
        now: Instant,
        call: crate::processor::AppCall,
        out: &mut Vec<Effect>,
    ) {
        use crate::processor::AppCall;
        match call {
            AppCall::TransactionEnded { committed } => {
                if self.state == AppState::AwaitingOutput {
                    self.state = AppState::Polling;
                }
                if !committed {
                    self.rewind_to_committed();
                } else if planted!(self, OffsetsOutsideTransaction) && self.commit(now, true, out) {
                    self.state = AppState::Committing { then: None };
                }
            }
            AppCall::Flushed { failed } if self.spec.failures.on_failure.forwards() => {
                self.forwards_flushed(now, failed, out)
            }
            AppCall::Flushed { failed } => {
                if self.state == AppState::AwaitingOutput {
                    self.state = AppState::Polling;
                    if failed > 0 {
                        // An output failed for good: committing would skip its input. An
                        // at-least-once application does not commit then; it seeks back to
                        // its committed offsets and processes again. (Kafka Streams' default
                        // handler fails the thread; with REPLACE_THREAD a new one starts from
                        // those offsets, which is what this models.) The producer's trace says
                        // what failed. Swarm seed 1404881.
                        self.rewind_to_committed();
                    } else if self.commit(now, true, out) {
                        self.state = AppState::Committing { then: None };
                    }
                }
            }
            AppCall::Fenced => {
                // `ProducerFencedException` is fatal to the producer: the application closes
                // both clients and its supervisor starts it again, with a new producer.
                self.processing.clear();
                self.die_and_restart(now, 0, out);
            }
            other => unreachable!("a consumer got {other:?}"),
        }
    }

    /// After an aborted transaction the application seeks every partition back to its
    /// committed offset (what the aborted transaction did not commit is processed again).
    fn rewind_to_committed(&mut self) {
        self.owed_ns = 0; // What it had fetched is thrown away unread.
        if self.membership.is_none() {
            return;
        }
        for p in self.positions.values_mut() {
            p.position = None;
            p.offset_epoch = None;
            p.committed = Committed::Unknown;
            p.buffered.clear();
            p.aborted.clear();
            p.retry_at = None;
            p.validation = Validation::Valid;
        }
        self.ready.clear();
        self.fetches.clear();
    }

    fn deliver(&mut self, p: Polled, out: &mut Vec<Effect>) {
        self.stats.processed += u64::from(p.to - p.from);
        out.push(Effect::Observe(Observation::Delivered {
            audience: self.audience.clone(),
            tp: p.tp,
            base_offset: p.base_offset,
            records: p.records,
            from: p.from,
            to: p.to,
            read_committed: self.config.isolation == crate::protocol::Isolation::ReadCommitted,
        }));
    }

    /// Returns up to `max` records of `tp` to the application, advancing its position.
    fn take_records(
        &mut self,
        tp: &TopicPartition,
        max: u32,
        now: Instant,
        out: &mut Vec<Effect>,
    ) -> u32 {
        let waits = self.waits_for_due(tp);
        let p = self
            .positions
            .get_mut(tp)
            .expect("ready partitions are assigned");
        let mut taken = 0;
        let mut first = None;
        while taken < max {
            let Some(batch) = p.buffered.front() else {
                break;
            };
            let position = p.position.expect("buffered data implies a position");
            // Control batches (transaction markers) and, read_committed, the batches of aborted
            // transactions are stepped over: the position passes them, the application never
            // sees them.
            if batch.is_control || p.aborted.remove(&batch.base_offset) {
                p.position = Some(position.max(batch.next_offset()));
                p.offset_epoch = batch.partition_leader_epoch;
                p.buffered.pop_front();
                continue;
            }
            let from = position.0.saturating_sub(batch.base_offset.0) as u32;
            let available = batch.record_count() - from.min(batch.record_count());
            let mut n = available.min(max - taken);
            if waits {
                let rest = batch.records.get(from as usize..).unwrap_or(&[]);
                n = failure::due_prefix(rest, n, now);
            }
            if n > 0 {
                self.owed_ns += poll_cost_ns(&self.cost, batch, n);
                let polled = batch.records.get(from as usize..(from + n) as usize);
                self.stats.polled(polled.unwrap_or(&[]), now);
                first.get_or_insert(Offset(batch.base_offset.0 + u64::from(from)));
                self.processing.push(Polled {
                    tp: tp.clone(),
                    base_offset: batch.base_offset,
                    records: batch.records.clone(),
                    from,
                    to: from + n,
                });
                p.position = Some(Offset(batch.base_offset.0 + u64::from(from + n)));
                p.offset_epoch = batch.partition_leader_epoch;
                taken += n;
            }
            if from + n >= batch.record_count() {
                p.buffered.pop_front();
            } else if waits {
                break;
            }
        }
        if let (Some(first), Some(position)) = (first, p.position) {
            let last = Offset(position.0 - 1);
            out.push(Effect::Trace(TraceKind::RecordsPolled {
                consumer: self.index,
                tp: tp.clone(),
                first,
                last,
            }));
        }
        taken
    }

    fn schedule_wake(&mut self, now: Instant, out: &mut Vec<Effect>) {
        // Only what lies ahead: something still due now waits for a message (a heartbeat
        // whose coordinator is silent), and must not keep the rest (the end of processing)
        // from being scheduled.
        let processing = match self.state {
            AppState::Processing { until } => Some(until),
            _ => None,
        };
        let backoffs = self.connections.backoff_ends();
        let due = (0..self.ready.len()).filter_map(|i| self.head_due_at(i));
        let retries = self.positions.values().filter_map(|p| p.retry_at);
        let next = processing
            .into_iter()
            .chain(self.metadata.refresh_at())
            .chain(
                self.membership
                    .iter()
                    .flat_map(|m| m.group_wakes(self))
                    .flatten(),
            )
            .chain(backoffs)
            .chain(retries)
            .chain(due)
            .filter(|&at| at > now)
            .min();
        let Some(next) = next else {
            return;
        };
        crate::client::wake_at(&mut self.scheduled_wake, next, out);
    }
}

/// Who counts as one reader for the ledger: the group, else the consumer.
pub fn audience_of(config: &ConsumerConfig, name: &str) -> Arc<str> {
    match &config.group_id {
        Some(g) => Arc::from(format!("group:{g}")),
        None => Arc::from(format!("consumer:{name}")),
    }
}

/// The records of a poll in order, each with its partition and offset.
fn polled_records(
    polled: &[Polled],
) -> impl Iterator<Item = (&TopicPartition, Offset, &crate::record::Record)> {
    polled.iter().flat_map(|p| {
        (p.from..p.to).map(move |i| {
            let offset = Offset(p.base_offset.0 + u64::from(i));
            (&p.tp, offset, &p.records[i as usize])
        })
    })
}

/// Sends `msg` to `broker` and sets the timer that gives up on its answer at `timeout_at`.
fn send_request(
    out: &mut Vec<Effect>,
    broker: BrokerId,
    msg: Message,
    correlation_id: u32,
    timeout_at: Instant,
) {
    out.push(Effect::Send {
        to: NodeId::Broker(broker),
        msg,
    });
    out.push(Effect::SetTimer {
        at: timeout_at,
        timer: Timer::RequestTimeout { correlation_id },
    });
}

/// What returning `n` records of `batch` costs `poll()`: per record, their share of the
/// batch's bytes, and decompressing that share.
fn poll_cost_ns(cost: &crate::hardware::ConsumerCost, batch: &RecordBatch, n: u32) -> u64 {
    let count = u64::from(batch.record_count().max(1));
    let share = |bytes: u32| u64::from(bytes) * u64::from(n) / count;
    let bytes = crate::hardware::transfer_ns(share(batch.size_bytes), cost.bytes_per_sec);
    let codec = batch.codec.decompress_ns(share(batch.uncompressed_bytes));
    (cost.ns_per_record.saturating_mul(u64::from(n)))
        .saturating_add(bytes)
        .saturating_add(codec)
}
