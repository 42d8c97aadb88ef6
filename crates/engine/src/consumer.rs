//! The consumer client in standalone (`assign`) mode, and the application polling it:
//! fetches per leader (`fetch.min.bytes`, `fetch.max.wait.ms`, `max.partition.fetch.bytes`),
//! a buffer of fetched batches, `poll()` returning up to `max.poll.records`, a processing time
//! per record, positions, `seek`, and `auto.offset.reset`.
//!
//! With a `group.id` the consumer subscribes instead (reference §4.2–§4.3, §4.6): it finds
//! its coordinator, joins (JoinGroup, SyncGroup; the leader runs the assignor), heartbeats,
//! rejoins eagerly (revoke everything) or cooperatively (revoke only what moves, then a second
//! round), commits offsets (auto-commit during poll, manual sync or async commits before or
//! after processing), and leaves on close or when `max.poll.interval.ms` passes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::client::Connections;
use crate::config::{ConfigError, Configs};
use crate::group::assignor::{self, rebalance_protocol, RebalanceProtocol, Strategy};
use crate::ledger::Observation;
use crate::metadata::ClusterMetadata;
use crate::node::{Effect, Input, Timer};
use crate::protocol::{
    EpochQuery, ErrorCode, FetchPartition, FetchRequest, FetchResponse, JoinGroupRequest,
    JoinGroupResponse, ListOffsetsRequest, ListOffsetsResponse, MemberRef, Message,
    OffsetCommitRequest, OffsetSpec, OffsetsForLeaderEpochRequest, OffsetsForLeaderEpochResponse,
    Subscription, SyncGroupRequest, SyncGroupResponse,
};
use crate::record::{Offset, RecordBatch, TopicPartition};
use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{NodeId, TraceKind};

/// Everything needed to create a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub name: String,
    pub topics: Vec<String>,
    /// Time the application spends on each record it polls.
    pub processing_per_record: Duration,
    /// When the application commits by hand (besides `enable.auto.commit`).
    pub commit: CommitStrategy,
    /// Records (per million) whose processing throws: the application dies there, mid-batch,
    /// without committing or leaving, and its supervisor restarts it after
    /// [`RESTART_AFTER_FAILURE`].
    pub failure_ppm: u32,
    pub configs: Configs,
}

/// How long a supervisor (systemd, Kubernetes) takes to restart a consumer that threw.
pub const RESTART_AFTER_FAILURE: Duration = Duration(5_000_000);

/// Manual commits of the application's poll loop: none (rely on `enable.auto.commit`), or
/// `commitSync`/`commitAsync` of the positions before processing (at-most-once) or after
/// (at-least-once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitStrategy {
    #[default]
    Auto,
    BeforeProcessing {
        sync: bool,
    },
    AfterProcessing {
        sync: bool,
    },
}

impl CommitStrategy {
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "sync-after",
        "async-after",
        "sync-before",
        "async-before",
    ];

    pub fn parse(name: &str) -> Option<CommitStrategy> {
        Some(match name {
            "auto" => CommitStrategy::Auto,
            "sync-after" => CommitStrategy::AfterProcessing { sync: true },
            "async-after" => CommitStrategy::AfterProcessing { sync: false },
            "sync-before" => CommitStrategy::BeforeProcessing { sync: true },
            "async-before" => CommitStrategy::BeforeProcessing { sync: false },
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CommitStrategy::Auto => "auto",
            CommitStrategy::AfterProcessing { sync: true } => "sync-after",
            CommitStrategy::AfterProcessing { sync: false } => "async-after",
            CommitStrategy::BeforeProcessing { sync: true } => "sync-before",
            CommitStrategy::BeforeProcessing { sync: false } => "async-before",
        }
    }
}

/// What `auto.offset.reset` says to do without a valid position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

/// The consumer configuration the client acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub group_id: Option<String>,
    pub max_poll_records: u32,
    pub fetch_min_bytes: u32,
    pub fetch_max_bytes: u32,
    pub fetch_max_wait: Duration,
    pub max_partition_fetch_bytes: u32,
    pub auto_offset_reset: OffsetReset,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub instance_id: Option<Arc<str>>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub strategies: Vec<Strategy>,
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    /// `client.id`: a group member's id starts with it (Kafka's `clientId-UUID`).
    pub client_id: Option<Arc<str>>,
    pub allow_auto_create: bool,
    pub metadata_max_age: Duration,
}

impl ConsumerConfig {
    pub fn from_configs(c: &Configs) -> Result<ConsumerConfig, ConfigError> {
        let reset = match c.str("auto.offset.reset").as_deref() {
            Some("earliest") => OffsetReset::Earliest,
            Some("none") => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
        let ms = |k: &str| Duration::from_millis(c.int(k) as u64);
        if c.str("group.protocol").as_deref() == Some("consumer") {
            return Err(ConfigError {
                key: "group.protocol".to_string(),
                message: "the KIP-848 consumer protocol is not simulated yet; use \"classic\""
                    .to_string(),
            });
        }
        if c.str("group.id").is_some_and(|g| g.trim().is_empty()) {
            // Kafka's InvalidGroupIdException: subscribing needs a real group id.
            return Err(ConfigError {
                key: "group.id".to_string(),
                message: "must not be empty (leave it out for a standalone consumer)".to_string(),
            });
        }
        if c.str("group.instance.id")
            .is_some_and(|g| g.trim().is_empty())
        {
            return Err(ConfigError {
                key: "group.instance.id".to_string(),
                message: "must not be empty (leave it out for a dynamic member)".to_string(),
            });
        }
        if c.str("group.instance.id").is_some() && c.str("group.id").is_none() {
            return Err(ConfigError {
                key: "group.instance.id".to_string(),
                message: "static membership needs a group.id".to_string(),
            });
        }
        let heartbeat = c.int("heartbeat.interval.ms");
        if c.str("group.id").is_some() && heartbeat >= c.int("session.timeout.ms") {
            return Err(ConfigError {
                key: "heartbeat.interval.ms".to_string(),
                message: format!(
                    "must be lower than session.timeout.ms ({}), got {heartbeat}",
                    c.int("session.timeout.ms")
                ),
            });
        }
        let strategies = c
            .list("partition.assignment.strategy")
            .iter()
            .filter_map(|s| Strategy::parse(s))
            .collect();
        Ok(ConsumerConfig {
            group_id: c.str("group.id"),
            max_poll_records: c.int("max.poll.records") as u32,
            fetch_min_bytes: c.int("fetch.min.bytes") as u32,
            fetch_max_bytes: c.int("fetch.max.bytes") as u32,
            fetch_max_wait: ms("fetch.max.wait.ms"),
            max_partition_fetch_bytes: c.int("max.partition.fetch.bytes") as u32,
            auto_offset_reset: reset,
            request_timeout: ms("request.timeout.ms"),
            retry_backoff: ms("retry.backoff.ms"),
            retry_backoff_max: ms("retry.backoff.max.ms"),
            instance_id: c.str("group.instance.id").map(Arc::from),
            session_timeout: ms("session.timeout.ms"),
            heartbeat_interval: ms("heartbeat.interval.ms"),
            max_poll_interval: ms("max.poll.interval.ms"),
            strategies,
            enable_auto_commit: c.bool("enable.auto.commit"),
            auto_commit_interval: ms("auto.commit.interval.ms"),
            client_id: c.str("client.id").map(Arc::from),
            allow_auto_create: c.bool("allow.auto.create.topics"),
            metadata_max_age: ms("metadata.max.age.ms"),
        })
    }
}

/// One assigned partition, as the consumer sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The next offset `poll()` will return; `None` until reset or seek.
    pub position: Option<Offset>,
    /// The high watermark from the last fetch response.
    pub high_watermark: Option<Offset>,
    pub log_start: Offset,
    /// Fetched batches not yet returned by `poll()`.
    buffered: VecDeque<RecordBatch>,
    reset_in_flight: bool,
    /// Group mode: the committed offset is asked for before `auto.offset.reset` applies.
    committed: Committed,
    /// Waiting after an error before fetching again.
    retry_at: Option<Instant>,
    /// The leader epoch of the last record consumed (`FetchPosition.offsetEpoch`): what a
    /// new leader is asked about, to find whether its log diverged from what was read.
    offset_epoch: Option<u32>,
    /// The leader epoch the position is known good under (`FetchPosition.currentLeader`).
    leader_epoch: Option<u32>,
    /// KIP-320: validating the position after a leader change (`AWAIT_VALIDATION`).
    validation: Validation,
}

/// Where a position stands in KIP-320's validation (Kafka's `FetchStates`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Validation {
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
enum Committed {
    /// Known, or not needed (standalone mode).
    #[default]
    Known,
    Unknown,
    Fetching,
}

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
}

/// Where a group member is in the classic protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Not in the group (new, left, or must rejoin).
    Unjoined,
    Joining,
    Syncing,
    Stable,
}

/// A consumer's membership of its group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub group: Arc<str>,
    pub coordinator: Option<u32>,
    find_in_flight: Option<u32>,
    coordinator_retry_at: Option<Instant>,
    pub state: MemberState,
    pub member_id: Arc<str>,
    pub generation: i32,
    pub leader: bool,
    pub protocol: RebalanceProtocol,
    /// A JoinGroup or SyncGroup in flight.
    request: Option<u32>,
    heartbeat_in_flight: Option<u32>,
    next_heartbeat: Instant,
    /// When the last poll returned records (for `max.poll.interval.ms`).
    last_poll: Instant,
    next_auto_commit: Instant,
    commit_in_flight: Option<InFlightCommit>,
    /// A synchronous commit to send when the coordinator is known again.
    commit_retry: Option<Vec<(TopicPartition, Offset)>>,
    offset_fetch_in_flight: Option<u32>,
    /// `onJoinPrepare` ran for the coming JoinGroup (auto-commit before revoking).
    prepared: bool,
    /// A cooperative member's `onJoinPrepare` auto-commit that the JoinGroup waits for.
    join_prepare: Option<JoinPrepareCommit>,
    /// SyncGroup's answer, which `onJoinComplete` applies inside the next `poll()`.
    pending_assignment: Option<Vec<TopicPartition>>,
    /// The last assignment, which the eager sticky assignor remembers (its `userData`).
    last_assignment: Vec<TopicPartition>,
    /// Since when the member owns nothing because of a rebalance.
    paused_since: Option<Instant>,
}

impl Membership {
    /// Whether the member's last SyncGroup answer took effect: `onJoinComplete` runs in the
    /// application's next `poll()`, and until then it consumes what it owned before.
    pub fn assignment_applied(&self) -> bool {
        self.pending_assignment.is_none()
    }

    /// Who this member is, for Heartbeat and LeaveGroup (the correlation id is set on sending).
    fn member_ref(&self) -> MemberRef {
        MemberRef {
            correlation_id: 0,
            group_id: self.group.clone(),
            generation: self.generation,
            member_id: self.member_id.clone(),
        }
    }
}

/// An OffsetCommit waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InFlightCommit {
    correlation_id: u32,
    offsets: Vec<(TopicPartition, Offset)>,
    /// `commitSync`: the application waits for it (and it is retried).
    sync: bool,
    /// Sent by a cooperative member's `onJoinPrepare`; its JoinGroup waits for the answer.
    join_prepare: bool,
}

/// Kafka 4.0's `ConsumerCoordinator.onJoinPrepare` commits all consumed positions
/// asynchronously and sends JoinGroup only once the commit is answered (retrying a retriable
/// failure after `retry.backoff.ms`), or once `rebalance.timeout.ms` (`max.poll.interval.ms`)
/// has passed. A cooperative member's `poll()` goes on returning records meanwhile (it runs
/// the join with a zero timer); an eager member's partitions are pending revocation, which
/// kplay models as a synchronous commit (`AppState::Committing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct JoinPrepareCommit {
    until: Instant,
    retry_at: Instant,
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
    metadata: Option<Arc<ClusterMetadata>>,
    metadata_in_flight: bool,
    metadata_retry_at: Option<Instant>,
    pub positions: BTreeMap<TopicPartition, PartitionPosition>,
    /// Partitions with buffered data, in the order their data arrived.
    ready: VecDeque<TopicPartition>,
    /// Fetch in flight per broker: correlation id.
    fetches: BTreeMap<u32, u32>,
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
    /// Processing throws at this record of the current poll (see `failure_ppm`).
    failing_at: Option<u32>,
    /// Topics it wanted that were missing, already said so.
    reported_missing: BTreeSet<String>,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted: crate::planted::Planted,
}

impl Consumer {
    pub fn new(
        index: u32,
        spec: ConsumerSpec,
        brokers: Vec<u32>,
        rng: Prng,
    ) -> Result<Consumer, ConfigError> {
        let config = ConsumerConfig::from_configs(&spec.configs)?;
        let audience: Arc<str> = match &config.group_id {
            Some(g) => Arc::from(format!("group:{g}")),
            None => Arc::from(format!("consumer:{}", spec.name)),
        };
        Ok(Consumer {
            index,
            spec,
            audience,
            connections: Connections::new(brokers, index as usize),
            metadata: None,
            metadata_in_flight: false,
            metadata_retry_at: None,
            positions: BTreeMap::new(),
            ready: VecDeque::new(),
            fetches: BTreeMap::new(),
            state: AppState::Polling,
            scheduled_wake: None,
            rng,
            stats: ConsumerStats::default(),
            membership: config.group_id.as_ref().map(|g| Membership {
                group: Arc::from(g.as_str()),
                coordinator: None,
                find_in_flight: None,
                coordinator_retry_at: None,
                state: MemberState::Unjoined,
                member_id: Arc::from(""),
                generation: -1,
                leader: false,
                protocol: rebalance_protocol(&config.strategies),
                request: None,
                heartbeat_in_flight: None,
                next_heartbeat: Instant::ZERO,
                last_poll: Instant::ZERO,
                next_auto_commit: Instant::ZERO,
                commit_in_flight: None,
                commit_retry: None,
                offset_fetch_in_flight: None,
                prepared: false,
                join_prepare: None,
                pending_assignment: None,
                last_assignment: Vec::new(),
                paused_since: None,
            }),
            config,
            processing: Vec::new(),
            processing_started: Instant::ZERO,
            failing_at: None,
            reported_missing: BTreeSet::new(),
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        })
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
        if self.config.enable_auto_commit {
            self.commit(now, false, out);
        }
        self.leave_group("closed", out);
        self.state = AppState::Stopped;
    }

    /// The process dies: the records of the current poll processed so far count as processed,
    /// the rest not; nothing is committed and the group is not told.
    pub fn crash(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let per = self.spec.processing_per_record.as_micros();
        let elapsed = now.0.saturating_sub(self.processing_started.0);
        let mut done = elapsed.checked_div(per).unwrap_or(u64::MAX);
        let total: u64 = self
            .processing
            .iter()
            .map(|p| u64::from(p.to - p.from))
            .sum();
        let processed = done.min(total);
        for p in std::mem::take(&mut self.processing) {
            let n = u64::from(p.to - p.from).min(done) as u32;
            done -= u64::from(n);
            if n > 0 {
                self.deliver(
                    Polled {
                        to: p.from + n,
                        ..p
                    },
                    out,
                );
            }
        }
        self.state = AppState::Crashed;
        out.push(Effect::Trace(TraceKind::ConsumerCrashed {
            consumer: self.index,
            processed: processed as u32,
            unprocessed: (total - processed) as u32,
        }));
    }

    /// Processing threw at record `k` of the poll: the records before it count as processed,
    /// nothing is committed, nobody is told; a new process starts after a while.
    fn die_and_restart(&mut self, now: Instant, k: u32, out: &mut Vec<Effect>) {
        let total: u32 = self.processing.iter().map(|p| p.to - p.from).sum();
        let mut left = k;
        for p in std::mem::take(&mut self.processing) {
            let n = (p.to - p.from).min(left);
            left -= n;
            if n > 0 {
                self.deliver(
                    Polled {
                        to: p.from + n,
                        ..p
                    },
                    out,
                );
            }
        }
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
            ..fresh
        };
        self.connections.continue_requests_from(sent);
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
            Input::Message { from, msg } => match msg {
                Message::MetadataResponse { metadata, .. } => self.on_metadata(now, metadata, out),
                Message::FetchResponse(r) => self.on_fetch_response(now, from, r),
                Message::ListOffsetsResponse(r) => self.on_list_offsets(now, r, out),
                Message::OffsetsForLeaderEpochResponse(r) => self.on_epoch_end_offsets(now, r, out),
                Message::FindCoordinatorResponse {
                    correlation_id,
                    error,
                    coordinator,
                } => self.on_find_coordinator(now, correlation_id, error, coordinator),
                Message::JoinGroupResponse(r) => self.on_join_response(now, r, out),
                Message::SyncGroupResponse(r) => self.on_sync_response(now, r, out),
                Message::HeartbeatResponse {
                    correlation_id,
                    error,
                } => self.on_heartbeat_response(correlation_id, error, out),
                Message::OffsetCommitResponse {
                    correlation_id,
                    error,
                } => self.on_commit_response(now, correlation_id, error, out),
                Message::OffsetFetchResponse {
                    correlation_id,
                    error,
                    offsets,
                } => self.on_offset_fetch(correlation_id, error, offsets),
                Message::LeaveGroupResponse { .. } => {}
                other => unreachable!("consumer got {}", other.kind()),
            },
            Input::Disconnected {
                peer: NodeId::Broker(b),
            } => {
                self.connections.refused(now, b, &mut self.rng);
                self.fetches.remove(&b);
                self.metadata_in_flight = false;
                self.coordinator_lost(b, out);
                for p in self.positions.values_mut() {
                    p.reset_in_flight = false;
                    if matches!(p.validation, Validation::InFlight { .. }) {
                        p.validation = Validation::Awaiting;
                    }
                }
                self.refresh_metadata_by(now + self.config.retry_backoff);
            }
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

    fn on_metadata(&mut self, now: Instant, metadata: Arc<ClusterMetadata>, out: &mut Vec<Effect>) {
        self.metadata_in_flight = false;
        let metadata = ClusterMetadata::newer_of(self.metadata.as_ref(), metadata);
        if self.membership.is_some() {
            // Subscribed: the group assigns partitions. Topics not there yet: look again soon.
            let changed = self.metadata.as_ref().is_none_or(|old| {
                self.spec.topics.iter().any(|t| {
                    old.topics.get(t.as_str()).map(|x| x.partitions.len())
                        != metadata.topics.get(t.as_str()).map(|x| x.partitions.len())
                })
            });
            if changed && self.metadata.is_some() {
                // The leader would assign differently: ask for a rebalance (Kafka's leader
                // watches the subscribed topics' metadata).
                if let Some(m) = &mut self.membership {
                    if m.leader && m.state == MemberState::Stable {
                        m.state = MemberState::Unjoined;
                    }
                }
            }
            self.positions
                .retain(|tp, _| metadata.topics.contains_key(&tp.topic));
            self.metadata_refresh(now, &metadata, out);
            self.positions_meet_new_leaders(&metadata);
            self.metadata = Some(metadata);
            return;
        }
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
        self.positions
            .retain(|tp, _| metadata.topics.contains_key(&tp.topic));
        self.metadata_refresh(now, &metadata, out);
        self.positions_meet_new_leaders(&metadata);
        self.metadata = Some(metadata);
    }

    /// When to ask for metadata next: soon while a topic it wants is missing (traced once,
    /// so a consumer waiting for a topic that never comes says so), else after
    /// `metadata.max.age.ms`.
    fn metadata_refresh(
        &mut self,
        now: Instant,
        metadata: &ClusterMetadata,
        out: &mut Vec<Effect>,
    ) {
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
        self.metadata_retry_at = Some(now + wait);
    }

    /// Asks for a metadata refresh no later than `at`. An earlier pending refresh is kept:
    /// pushing it back on every error would postpone it forever.
    fn refresh_metadata_by(&mut self, at: Instant) {
        self.metadata_retry_at = Some(self.metadata_retry_at.map_or(at, |t| t.min(at)));
    }

    fn next_correlation(&mut self) -> u32 {
        self.connections.next_correlation()
    }

    fn request_metadata(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if self.metadata_in_flight {
            return;
        }
        let Some(broker) = self.connections.least_loaded_node(now) else {
            return; // Every broker refused us lately: the first backoff to end wakes us.
        };
        self.metadata_in_flight = true;
        let correlation_id = self.next_correlation();
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: Message::MetadataRequest {
                correlation_id,
                topics: self
                    .spec
                    .topics
                    .iter()
                    .map(|t| Arc::from(t.as_str()))
                    .collect(),
                allow_auto_create: self.config.allow_auto_create,
            },
        });
    }

    fn leader_of(&self, tp: &TopicPartition) -> Option<u32> {
        self.metadata.as_ref()?.leader(&tp.topic, tp.partition)
    }

    /// The leader of `tp`, unless it refused a connection and its backoff is running.
    fn reachable_leader_of(&self, now: Instant, tp: &TopicPartition) -> Option<u32> {
        let leader = self.leader_of(tp)?;
        self.connections.connectable(now, leader).then_some(leader)
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
        if self.metadata_retry_at.is_some_and(|at| at <= now) {
            self.metadata_retry_at = None;
            self.request_metadata(now, out);
        }
        if self.metadata.is_none() {
            self.request_metadata(now, out);
        }
        if self.membership.is_some() {
            // A poll begins with the coordinator's work (`ConsumerCoordinator.poll`): the join
            // completes before the new partitions' committed offsets are fetched (and before
            // `poll()` below, which only `wake` calls).
            if self.state == AppState::Polling {
                self.complete_join(now, out);
            }
            self.group_tick(now, out);
        }
        self.validate_positions(now, out);
        self.reset_positions(now, out);
        self.send_fetches(now, out);
        self.poll(now, out);
        self.schedule_wake(now, out);
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
                self.ready.retain(|t| t != tp);
            }
        }
    }

    /// Positions awaiting validation: ask their leaders where the epoch of the last record
    /// read ends (OffsetsForLeaderEpoch, one request per leader).
    fn validate_positions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let waiting: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| {
                p.validation == Validation::Awaiting && p.retry_at.is_none_or(|at| at <= now)
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        let mut requests: BTreeMap<u32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in waiting {
            if self.leader_of(&tp).is_none() {
                // No leader known: ask for metadata, no faster than the backoff (Kafka's
                // validation requests a metadata update for a partition without a leader).
                self.refresh_metadata_by(now + self.config.retry_backoff);
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
    fn on_epoch_end_offsets(
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
                    self.refresh_metadata_by(now + self.config.retry_backoff);
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
    fn reset_positions(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut requests: BTreeMap<u32, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
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
                self.refresh_metadata_by(now + self.config.retry_backoff);
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
                correlation_id,
                partitions,
            });
            out.push(Effect::Send {
                to: NodeId::Broker(broker),
                msg,
            });
        }
    }

    fn on_list_offsets(
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
                self.refresh_metadata_by(now + self.config.retry_backoff);
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
    fn send_fetches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let mut no_leader = false;
        let mut by_broker: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
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
            self.refresh_metadata_by(now + self.config.retry_backoff);
        }
        for (broker, partitions) in by_broker {
            let correlation_id = self.next_correlation();
            let request = FetchRequest {
                correlation_id,
                replica_id: None,
                max_wait_ms: self.config.fetch_max_wait.as_millis() as u32,
                min_bytes: self.config.fetch_min_bytes,
                max_bytes: self.config.fetch_max_bytes,
                partitions,
            };
            self.fetches.insert(broker, correlation_id);
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

    fn on_fetch_response(&mut self, now: Instant, from: NodeId, response: FetchResponse) {
        let NodeId::Broker(broker) = from else {
            unreachable!("fetch responses come from brokers")
        };
        if self.fetches.get(&broker) != Some(&response.correlation_id) {
            return; // A response to a fetch we gave up on.
        }
        self.fetches.remove(&broker);
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
                    continue;
                }
                error => {
                    p.retry_at = Some(now + self.config.retry_backoff);
                    if error.invalidates_metadata() {
                        self.refresh_metadata_by(now + self.config.retry_backoff);
                    }
                    continue;
                }
            }
            p.high_watermark = Some(fetched.high_watermark);
            p.log_start = fetched.log_start;
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

    /// `poll()`: up to `max.poll.records`, draining one partition's fetched data before the next.
    /// A group member first auto-commits when due and rejoins when a rebalance asks for it.
    fn poll(&mut self, now: Instant, out: &mut Vec<Effect>) {
        while self.state == AppState::Polling {
            if self.membership.is_some() {
                self.maybe_auto_commit(now, out);
                self.rejoin_if_needed(now, out);
                if self.state != AppState::Polling {
                    return;
                }
            }
            let mut budget = self.config.max_poll_records;
            let mut taken = 0u64;
            while budget > 0 {
                let Some(tp) = self.ready.front().cloned() else {
                    break;
                };
                let n = self.take_records(&tp, budget, out);
                budget -= n;
                taken += u64::from(n);
                let p = &self.positions[&tp];
                if p.buffered.is_empty() {
                    self.ready.pop_front();
                }
            }
            if taken == 0 {
                return;
            }
            self.stats.polls += 1;
            self.stats.consumed += taken;
            if let Some(m) = &mut self.membership {
                m.last_poll = now;
            }
            let busy = Duration(
                self.spec
                    .processing_per_record
                    .as_micros()
                    .saturating_mul(taken),
            );
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

    fn start_processing(&mut self, now: Instant, mut busy: Duration, out: &mut Vec<Effect>) {
        self.processing_started = now;
        if self.spec.failure_ppm > 0 {
            let n: u32 = self.processing.iter().map(|p| p.to - p.from).sum();
            let ppm = u64::from(self.spec.failure_ppm);
            self.failing_at = (0..n).find(|_| self.rng.chance(ppm, 1_000_000));
            if let Some(k) = self.failing_at {
                // It throws at the end of record k's processing.
                let per = self.spec.processing_per_record.as_micros();
                busy = Duration(per.saturating_mul(u64::from(k) + 1));
            }
        }
        if busy > Duration::ZERO {
            self.state = AppState::Processing { until: now + busy };
        } else {
            self.finish_processing(now, out);
        }
    }

    /// The application processed the poll's records; with commit-after-processing it commits.
    fn finish_processing(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if let Some(k) = self.failing_at.take() {
            return self.die_and_restart(now, k, out);
        }
        let had = !self.processing.is_empty();
        for p in std::mem::take(&mut self.processing) {
            self.deliver(p, out);
        }
        if matches!(self.state, AppState::Processing { .. }) {
            self.state = AppState::Polling;
        }
        if let CommitStrategy::AfterProcessing { sync } = self.spec.commit {
            if had && self.membership.is_some() && self.commit(now, sync, out) && sync {
                self.state = AppState::Committing { then: None };
            }
        }
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
        }));
    }

    /// Returns up to `max` records of `tp` to the application, advancing its position.
    fn take_records(&mut self, tp: &TopicPartition, max: u32, out: &mut Vec<Effect>) -> u32 {
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
            let from = position.0.saturating_sub(batch.base_offset.0) as u32;
            let available = batch.record_count() - from.min(batch.record_count());
            let n = available.min(max - taken);
            if n > 0 {
                first.get_or_insert(Offset(batch.base_offset.0 + u64::from(from)));
                self.processing.push(Polled {
                    tp: tp.clone(),
                    base_offset: batch.base_offset,
                    records: batch.records.clone(),
                    from,
                    to: from + n,
                });
                p.position = Some(Offset(batch.base_offset.0 + u64::from(from + n)));
                p.offset_epoch = u32::try_from(batch.partition_leader_epoch).ok();
                taken += n;
            }
            if from + n >= batch.record_count() {
                p.buffered.pop_front();
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
        let retries = self.positions.values().filter_map(|p| p.retry_at);
        let next = processing
            .into_iter()
            .chain(self.metadata_retry_at)
            .chain(self.group_wakes().into_iter().flatten())
            .chain(backoffs)
            .chain(retries)
            .filter(|&at| at > now)
            .min();
        let Some(next) = next else {
            return;
        };
        if self.scheduled_wake.is_none_or(|s| next < s) {
            self.scheduled_wake = Some(next);
            out.push(Effect::SetTimer {
                at: next,
                timer: Timer::Wake,
            });
        }
    }
}

/// The member side of the classic group protocol (reference §4.2, §4.3, §4.6).
impl Consumer {
    fn send_to_coordinator(
        &mut self,
        msg: impl FnOnce(u32) -> Message,
        out: &mut Vec<Effect>,
    ) -> Option<u32> {
        let coordinator = self.membership.as_ref()?.coordinator?;
        let correlation_id = self.next_correlation();
        out.push(Effect::Send {
            to: NodeId::Broker(coordinator),
            msg: msg(correlation_id),
        });
        Some(correlation_id)
    }

    /// What the heartbeat thread and the coordinator lookup do, whatever the application is doing.
    fn group_tick(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let m = self.membership.as_mut().expect("group mode");
        if m.coordinator.is_none() {
            let due = m.coordinator_retry_at.is_none_or(|at| at <= now);
            if m.find_in_flight.is_none() && due {
                let Some(broker) = self.connections.least_loaded_node(now) else {
                    return;
                };
                let correlation_id = self.connections.next_correlation();
                let m = self.membership.as_mut().expect("group mode");
                m.find_in_flight = Some(correlation_id);
                out.push(Effect::Send {
                    to: NodeId::Broker(broker),
                    msg: Message::FindCoordinator {
                        correlation_id,
                        group_id: m.group.clone(),
                    },
                });
            }
            return;
        }
        // A synchronous commit waiting for the coordinator.
        if m.commit_in_flight.is_none() {
            if let Some(offsets) = m.commit_retry.take() {
                self.send_commit(offsets, true, out);
            }
        }
        let m = self.membership.as_mut().expect("group mode");
        // The committed offsets of newly assigned partitions.
        if m.offset_fetch_in_flight.is_none() && m.state == MemberState::Stable {
            let wanted: Vec<TopicPartition> = self
                .positions
                .iter()
                .filter(|(_, p)| p.committed == Committed::Unknown)
                .map(|(tp, _)| tp.clone())
                .collect();
            if !wanted.is_empty() {
                for tp in &wanted {
                    self.positions.get_mut(tp).expect("present").committed = Committed::Fetching;
                }
                let group_id = self.membership.as_ref().expect("group mode").group.clone();
                let c = self.send_to_coordinator(
                    |correlation_id| Message::OffsetFetch {
                        correlation_id,
                        group_id,
                        partitions: wanted,
                    },
                    out,
                );
                self.membership
                    .as_mut()
                    .expect("group mode")
                    .offset_fetch_in_flight = c;
            }
        }
        let m = self.membership.as_mut().expect("group mode");
        // The heartbeat thread.
        if m.state == MemberState::Stable
            && m.heartbeat_in_flight.is_none()
            && now >= m.next_heartbeat
        {
            m.next_heartbeat = now + self.config.heartbeat_interval;
            let r = m.member_ref();
            let c = self.send_to_coordinator(
                |correlation_id| {
                    Message::Heartbeat(MemberRef {
                        correlation_id,
                        ..r
                    })
                },
                out,
            );
            self.membership
                .as_mut()
                .expect("group mode")
                .heartbeat_in_flight = c;
        }
        // `max.poll.interval.ms`: the application has not polled for too long.
        let m = self.membership.as_ref().expect("group mode");
        let busy = matches!(
            self.state,
            AppState::Processing { .. } | AppState::Committing { .. }
        );
        if busy && m.generation >= 0 && now >= m.last_poll + self.config.max_poll_interval {
            let why = format!(
                "poll() not called within max.poll.interval.ms ({} ms)",
                self.config.max_poll_interval.as_millis()
            );
            self.leave_group(&why, out);
        }
    }

    /// Leaves the group: a dynamic member sends LeaveGroup and forgets its id; a static member
    /// sends nothing (KIP-345) and waits for its session to expire or its return.
    fn leave_group(&mut self, why: &str, out: &mut Vec<Effect>) {
        let Some(m) = &self.membership else { return };
        if m.generation < 0 && m.state == MemberState::Unjoined {
            return;
        }
        if self.config.instance_id.is_none() && !m.member_id.is_empty() {
            let r = m.member_ref();
            self.send_to_coordinator(
                |correlation_id| {
                    Message::LeaveGroup(MemberRef {
                        correlation_id,
                        ..r
                    })
                },
                out,
            );
        }
        out.push(Effect::Trace(TraceKind::MemberLeaving {
            consumer: self.index,
            why: why.to_string(),
        }));
        let is_static = self.config.instance_id.is_some();
        let m = self.membership.as_mut().expect("checked");
        if !is_static {
            m.member_id = Arc::from("");
        }
        m.generation = -1;
        m.state = MemberState::Unjoined;
        m.request = None;
        m.heartbeat_in_flight = None;
        m.pending_assignment = None;
        m.join_prepare = None;
    }

    fn maybe_auto_commit(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let m = self.membership.as_mut().expect("group mode");
        if !self.config.enable_auto_commit
            || m.state != MemberState::Stable
            || now < m.next_auto_commit
        {
            return;
        }
        m.next_auto_commit = now + self.config.auto_commit_interval;
        self.commit(now, false, out);
    }

    /// Commits the current positions. Returns whether the commit is under way (a synchronous
    /// caller then waits for it).
    fn commit(&mut self, _now: Instant, sync: bool, out: &mut Vec<Effect>) -> bool {
        let offsets: Vec<(TopicPartition, Offset)> = self
            .positions
            .iter()
            .filter_map(|(tp, p)| Some((tp.clone(), p.position?)))
            .collect();
        let Some(m) = self.membership.as_mut() else {
            return false;
        };
        if offsets.is_empty() {
            return false;
        }
        if m.generation < 0 {
            // Kafka's CommitFailedException: this consumer is no longer in the group.
            self.stats.failed_commits += 1;
            out.push(Effect::Trace(TraceKind::OffsetsCommitted {
                consumer: self.index,
                offsets: offsets.len() as u32,
                error: ErrorCode::UnknownMemberId,
            }));
            return false;
        }
        if m.commit_in_flight.is_some() || m.coordinator.is_none() {
            if sync {
                m.commit_retry = Some(offsets);
                return true;
            }
            return false;
        }
        self.send_commit(offsets, sync, out)
    }

    fn send_commit(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        sync: bool,
        out: &mut Vec<Effect>,
    ) -> bool {
        let m = self.membership.as_ref().expect("group mode");
        let request = OffsetCommitRequest {
            correlation_id: 0,
            group_id: m.group.clone(),
            generation: m.generation,
            member_id: m.member_id.clone(),
            offsets: offsets.clone(),
        };
        let c = self.send_to_coordinator(
            |correlation_id| {
                Message::OffsetCommit(OffsetCommitRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        let m = self.membership.as_mut().expect("group mode");
        match c {
            Some(c) => {
                m.commit_in_flight = Some(InFlightCommit {
                    correlation_id: c,
                    offsets,
                    sync,
                    join_prepare: false,
                });
                true
            }
            None => false,
        }
    }

    /// In `poll()`: run `onJoinPrepare` and send JoinGroup when the member must (re)join.
    fn rejoin_if_needed(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let m = self.membership.as_ref().expect("group mode");
        if m.state != MemberState::Unjoined
            || m.request.is_some()
            || m.coordinator.is_none()
            || self.metadata.is_none()
        {
            return;
        }
        if !m.prepared {
            let (joined, protocol) = (m.generation >= 0, m.protocol);
            let m = self.membership.as_mut().expect("group mode");
            m.prepared = true;
            // This runs inside `poll()`, so the poll timer restarts here: an idle member (no
            // records for longer than `max.poll.interval.ms`) that commits synchronously in
            // `onJoinPrepare` has not stopped polling (Kafka's `Heartbeat.poll`, called from
            // `ConsumerCoordinator.poll`).
            m.last_poll = now;
            if self.config.enable_auto_commit && joined {
                match protocol {
                    // Auto-commit before giving every partition up.
                    RebalanceProtocol::Eager => {
                        if self.commit(now, true, out) {
                            self.state = AppState::Committing { then: None };
                            return;
                        }
                    }
                    RebalanceProtocol::Cooperative => {
                        m.join_prepare = Some(JoinPrepareCommit {
                            until: now + self.config.max_poll_interval,
                            retry_at: now,
                        });
                    }
                }
            }
        }
        if !self.join_prepare_done(now, out) {
            return;
        }
        let m = self.membership.as_ref().expect("group mode");
        let owned: Vec<TopicPartition> = self.positions.keys().cloned().collect();
        if !owned.is_empty() && (m.generation < 0 || m.protocol == RebalanceProtocol::Eager) {
            let lost = m.generation < 0;
            self.revoke(now, owned, lost, out);
        }
        self.send_join(out);
    }

    /// Whether a cooperative member's `onJoinPrepare` commit lets the JoinGroup go: answered
    /// (but for a retriable failure, retried after `retry.backoff.ms`), nothing to commit, or
    /// the rebalance timeout passed. Sends it when no other commit is out (one at a time).
    fn join_prepare_done(&mut self, now: Instant, out: &mut Vec<Effect>) -> bool {
        let m = self.membership.as_ref().expect("group mode");
        let Some(jp) = m.join_prepare else {
            return true;
        };
        if now < jp.until {
            // Ours in flight, or another one (ours goes after it), or a retry not yet due.
            if m.commit_in_flight.is_some() || now < jp.retry_at {
                return false;
            }
            if self.commit(now, false, out) {
                let m = self.membership.as_mut().expect("group mode");
                if let Some(c) = &mut m.commit_in_flight {
                    c.join_prepare = true;
                }
                return false;
            }
        }
        self.membership.as_mut().expect("group mode").join_prepare = None;
        true
    }

    /// Kafka's `onJoinComplete`, which runs inside `poll()` (`joinGroupIfNeeded`), never
    /// while the application processes a poll's records: SyncGroup's answer waits for the
    /// next poll. A cooperative member gives up what moved there, with no commit (Kafka's
    /// `onJoinComplete` only calls `onPartitionsRevoked`; the offsets were committed by this
    /// round's `onJoinPrepare`), and rejoins, through `onJoinPrepare` again (swarm seed
    /// 46031: revoking and auto-committing on SyncGroup's arrival committed the records the
    /// application was still processing, and its crash lost them).
    fn complete_join(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let Some(assigned) = self
            .membership
            .as_mut()
            .and_then(|m| m.pending_assignment.take())
        else {
            return;
        };
        let revoked: Vec<TopicPartition> = self
            .positions
            .keys()
            .filter(|tp| !assigned.contains(tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = assigned
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp))
            .cloned()
            .collect();
        let second_round = !revoked.is_empty();
        if second_round {
            // KIP-429: give up what moves, then rejoin so that the partitions can be assigned
            // to their new owners.
            self.revoke(now, revoked, false, out);
        }
        for tp in &added {
            self.positions.insert(
                tp.clone(),
                PartitionPosition {
                    committed: Committed::Unknown,
                    ..PartitionPosition::default()
                },
            );
        }
        let m = self.membership.as_mut().expect("group mode");
        m.last_assignment = assigned.clone();
        if second_round {
            m.state = MemberState::Unjoined;
            m.prepared = false;
        }
        // "Reschedule the auto commit starting from now" (`onJoinComplete`).
        m.next_auto_commit = now + self.config.auto_commit_interval;
        if m.state == MemberState::Stable {
            if let Some(since) = m.paused_since.take() {
                self.stats.paused = Duration(self.stats.paused.0 + (now.0 - since.0));
            }
        }
        self.stats.rebalances += 1;
        out.push(Effect::Trace(TraceKind::PartitionsAssigned {
            consumer: self.index,
            generation: m.generation,
            added,
            owned: assigned.len() as u32,
        }));
    }

    fn revoke(
        &mut self,
        now: Instant,
        tps: Vec<TopicPartition>,
        lost: bool,
        out: &mut Vec<Effect>,
    ) {
        for tp in &tps {
            self.positions.remove(tp);
        }
        self.ready.retain(|t| !tps.contains(t));
        let m = self.membership.as_mut().expect("group mode");
        if self.positions.is_empty() && m.paused_since.is_none() {
            m.paused_since = Some(now);
        }
        out.push(Effect::Trace(TraceKind::PartitionsRevoked {
            consumer: self.index,
            tps,
            lost,
        }));
    }

    fn send_join(&mut self, out: &mut Vec<Effect>) {
        let m = self.membership.as_ref().expect("group mode");
        let owned = match m.protocol {
            RebalanceProtocol::Cooperative => self.positions.keys().cloned().collect(),
            RebalanceProtocol::Eager => m.last_assignment.clone(),
        };
        let request = JoinGroupRequest {
            correlation_id: 0,
            group_id: m.group.clone(),
            client_id: self
                .config
                .client_id
                .clone()
                .unwrap_or_else(|| Arc::from(self.spec.name.as_str())),
            member_id: m.member_id.clone(),
            instance_id: self.config.instance_id.clone(),
            session_timeout_ms: self.config.session_timeout.as_millis() as u32,
            rebalance_timeout_ms: self.config.max_poll_interval.as_millis() as u32,
            protocols: self
                .config
                .strategies
                .iter()
                .map(|&s| crate::group::coordinator::strategy_name(s).to_string())
                .collect(),
            subscription: Subscription {
                topics: self.spec.topics.clone(),
                owned,
                generation: m.generation,
            },
        };
        let c = self.send_to_coordinator(
            |correlation_id| {
                Message::JoinGroup(JoinGroupRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        let m = self.membership.as_mut().expect("group mode");
        if c.is_some() {
            m.request = c;
            m.state = MemberState::Joining;
            m.prepared = false;
        }
    }

    fn fail(&mut self, error: ErrorCode, out: &mut Vec<Effect>) {
        self.state = AppState::Failed(error);
        out.push(Effect::Trace(TraceKind::MemberLeaving {
            consumer: self.index,
            why: format!("fatal error {error}"),
        }));
    }

    /// UNKNOWN_MEMBER_ID forgets the member id; both it and ILLEGAL_GENERATION forget the
    /// generation, so the partitions count as lost at the next rejoin.
    fn reset_member(&mut self, error: ErrorCode) {
        let m = self.membership.as_mut().expect("group mode");
        if error == ErrorCode::UnknownMemberId {
            m.member_id = Arc::from("");
        }
        m.generation = -1;
        m.state = MemberState::Unjoined;
        m.request = None;
        // Kafka's `joinGroupIfNeeded` runs `onJoinComplete` only if the generation survived.
        m.pending_assignment = None;
    }

    /// The coordinator went away (disconnect or NOT_COORDINATOR): find it again.
    fn coordinator_gone(&mut self) {
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        m.coordinator = None;
        m.heartbeat_in_flight = None;
        if m.request.take().is_some() {
            m.state = MemberState::Unjoined;
            m.prepared = true;
        }
        if let Some(InFlightCommit { offsets, sync, .. }) = m.commit_in_flight.take() {
            if sync {
                m.commit_retry = Some(offsets);
            }
            // A join-prepare commit lost this way is sent again once the coordinator is found.
        }
        if m.offset_fetch_in_flight.take().is_some() {
            for p in self.positions.values_mut() {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Unknown;
                }
            }
        }
    }

    fn coordinator_lost(&mut self, broker: u32, _out: &mut Vec<Effect>) {
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        m.find_in_flight = None;
        if m.coordinator == Some(broker) {
            self.coordinator_gone();
        }
    }

    fn on_find_coordinator(
        &mut self,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        coordinator: Option<u32>,
    ) {
        let retry = self.config.retry_backoff;
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        if m.find_in_flight != Some(correlation_id) {
            return;
        }
        m.find_in_flight = None;
        match (error, coordinator) {
            (ErrorCode::None, Some(b)) => m.coordinator = Some(b),
            _ => m.coordinator_retry_at = Some(now + retry),
        }
    }

    /// Takes the answer to the JoinGroup or SyncGroup in flight (false for a stale one); the
    /// member is unjoined until the answer says otherwise.
    fn take_group_request(&mut self, correlation_id: u32) -> bool {
        let Some(m) = self.membership.as_mut() else {
            return false;
        };
        if m.request != Some(correlation_id) {
            return false;
        }
        m.request = None;
        m.state = MemberState::Unjoined;
        true
    }

    /// What a JoinGroup or SyncGroup error means for the member: rejoin (after finding the
    /// coordinator again, or as a new member), or give up for good.
    fn on_group_error(&mut self, error: ErrorCode, out: &mut Vec<Effect>) {
        let m = self.membership.as_mut().expect("group mode");
        match error {
            ErrorCode::RebalanceInProgress => m.prepared = true,
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => self.reset_member(error),
            ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress => {
                m.prepared = true;
                self.coordinator_gone();
            }
            error => self.fail(error, out),
        }
    }

    fn on_join_response(&mut self, now: Instant, r: JoinGroupResponse, out: &mut Vec<Effect>) {
        if !self.take_group_request(r.correlation_id) {
            return;
        }
        let m = self.membership.as_mut().expect("group mode");
        match r.error {
            ErrorCode::None => {}
            ErrorCode::MemberIdRequired => {
                m.member_id = r.member_id;
                return self.send_join(out);
            }
            error => return self.on_group_error(error, out),
        }
        m.member_id = r.member_id.clone();
        m.generation = r.generation;
        m.leader = r.leader == r.member_id;
        out.push(Effect::Trace(TraceKind::MemberJoined {
            consumer: self.index,
            group: m.group.clone(),
            member: r.member_id.clone(),
            generation: r.generation,
            leader: m.leader,
        }));
        let assignments = if m.leader {
            self.leader_assign(&r)
        } else {
            Vec::new()
        };
        let m = self.membership.as_ref().expect("group mode");
        let request = SyncGroupRequest {
            correlation_id: 0,
            group_id: m.group.clone(),
            generation: m.generation,
            member_id: m.member_id.clone(),
            assignments,
        };
        let c = self.send_to_coordinator(
            |correlation_id| {
                Message::SyncGroup(SyncGroupRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        let m = self.membership.as_mut().expect("group mode");
        m.request = c;
        m.state = if c.is_some() {
            MemberState::Syncing
        } else {
            MemberState::Unjoined
        };
        let _ = now;
    }

    /// The group leader runs the chosen assignor over every member's subscription.
    fn leader_assign(&self, r: &JoinGroupResponse) -> Vec<(Arc<str>, Vec<TopicPartition>)> {
        let strategy = r
            .protocol
            .as_deref()
            .and_then(Strategy::parse)
            .unwrap_or(Strategy::Range);
        let strategy = match strategy {
            Strategy::CooperativeSticky if planted!(self, CooperativeDoubleOwner) => {
                Strategy::Sticky
            }
            s => s,
        };
        let mut counts = BTreeMap::new();
        if let Some(md) = &self.metadata {
            for jm in &r.members {
                for t in &jm.subscription.topics {
                    if let Some(topic) = md.topics.get(t.as_str()) {
                        counts.insert(t.clone(), topic.partitions.len() as u32);
                    }
                }
            }
        }
        let members: Vec<assignor::Member> = r
            .members
            .iter()
            .map(|jm| assignor::Member {
                id: jm.member_id.to_string(),
                instance_id: jm.instance_id.as_ref().map(|s| s.to_string()),
                topics: jm.subscription.topics.clone(),
                owned: jm
                    .subscription
                    .owned
                    .iter()
                    .map(|tp| (tp.topic.to_string(), tp.partition))
                    .collect(),
                generation: (jm.subscription.generation >= 0).then_some(jm.subscription.generation),
            })
            .collect();
        assignor::assign(strategy, &counts, &members)
            .into_iter()
            .map(|(id, tps)| {
                let tps = tps
                    .into_iter()
                    .map(|(t, p)| TopicPartition::new(&t, p))
                    .collect();
                (Arc::from(id.as_str()), tps)
            })
            .collect()
    }

    fn on_sync_response(&mut self, now: Instant, r: SyncGroupResponse, out: &mut Vec<Effect>) {
        if !self.take_group_request(r.correlation_id) {
            return;
        }
        if r.error != ErrorCode::None {
            return self.on_group_error(r.error, out);
        }
        // The member is in the generation now (Kafka's SyncGroup handler: STABLE, heartbeats
        // on); its assignment takes effect in `poll()` (`complete_join`).
        let m = self.membership.as_mut().expect("group mode");
        m.state = MemberState::Stable;
        m.next_heartbeat = now + self.config.heartbeat_interval;
        m.pending_assignment = Some(r.assignment);
    }

    fn on_heartbeat_response(
        &mut self,
        correlation_id: u32,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        if m.heartbeat_in_flight != Some(correlation_id) {
            return;
        }
        m.heartbeat_in_flight = None;
        match error {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress if m.state == MemberState::Stable => {
                m.state = MemberState::Unjoined;
            }
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => self.reset_member(error),
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                self.coordinator_gone()
            }
            ErrorCode::FencedInstanceId => self.fail(error, out),
            _ => {}
        }
    }

    fn on_commit_response(
        &mut self,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        if m.commit_in_flight
            .as_ref()
            .is_none_or(|c| c.correlation_id != correlation_id)
        {
            return;
        }
        let InFlightCommit {
            offsets,
            sync,
            join_prepare,
            ..
        } = m.commit_in_flight.take().expect("checked");
        let count = offsets.len() as u32;
        let retriable = matches!(
            error,
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
                | ErrorCode::RequestTimedOut
        );
        if join_prepare {
            // Answered: the JoinGroup may go, unless a retriable failure asks for another try.
            m.join_prepare = match m.join_prepare {
                Some(jp) if retriable => Some(JoinPrepareCommit {
                    retry_at: now + self.config.retry_backoff,
                    ..jp
                }),
                _ => None,
            };
        }
        if retriable && sync {
            // commitSync retries until it succeeds or fails for good.
            m.commit_retry = Some(offsets);
            if error != ErrorCode::RequestTimedOut {
                self.coordinator_gone();
            }
            return;
        }
        if error == ErrorCode::None {
            self.stats.commits += 1;
        } else {
            self.stats.failed_commits += 1;
            if matches!(
                error,
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration
            ) {
                self.reset_member(error);
            }
            if matches!(
                error,
                ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
            ) {
                self.coordinator_gone();
            }
        }
        out.push(Effect::Trace(TraceKind::OffsetsCommitted {
            consumer: self.index,
            offsets: count,
            error,
        }));
        if sync {
            if let AppState::Committing { then } = self.state {
                self.state = AppState::Polling;
                if let Some(busy) = then {
                    self.start_processing(now, busy, out);
                }
            }
        }
    }

    fn on_offset_fetch(
        &mut self,
        correlation_id: u32,
        error: ErrorCode,
        offsets: Vec<(TopicPartition, Option<Offset>)>,
    ) {
        let Some(m) = self.membership.as_mut() else {
            return;
        };
        if m.offset_fetch_in_flight != Some(correlation_id) {
            return;
        }
        m.offset_fetch_in_flight = None;
        if error != ErrorCode::None {
            for p in self.positions.values_mut() {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Unknown;
                }
            }
            if matches!(
                error,
                ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
            ) {
                self.coordinator_gone();
            }
            return;
        }
        for (tp, offset) in offsets {
            if let Some(p) = self.positions.get_mut(&tp) {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Known;
                    if offset.is_some() {
                        p.position = offset;
                        // Kafka restores the committed leader epoch too and validates it;
                        // kplay commits offsets without one (see ARCHITECTURE.md).
                        p.offset_epoch = None;
                    }
                }
            }
        }
    }

    /// When this member needs to act on its own: a coordinator lookup retry, a heartbeat, an
    /// auto-commit, a poll timeout (each may already be past).
    fn group_wakes(&self) -> [Option<Instant>; 5] {
        let Some(m) = self.membership.as_ref() else {
            return [None; 5];
        };
        let stable = m.state == MemberState::Stable;
        let busy = matches!(
            self.state,
            AppState::Processing { .. } | AppState::Committing { .. }
        );
        let auto_commit = self.config.enable_auto_commit && self.state == AppState::Polling;
        [
            m.coordinator_retry_at.filter(|_| m.coordinator.is_none()),
            stable.then_some(m.next_heartbeat),
            (stable && auto_commit).then_some(m.next_auto_commit),
            (m.generation >= 0 && busy).then(|| m.last_poll + self.config.max_poll_interval),
            // The JoinGroup waiting for `onJoinPrepare`'s commit: its retry, or its deadline.
            m.join_prepare.map(|jp| {
                let ours_in_flight = m.commit_in_flight.as_ref().is_some_and(|c| c.join_prepare);
                match ours_in_flight {
                    true => jp.until,
                    false => jp.retry_at.min(jp.until),
                }
            }),
        ]
    }
}

/// Sends `msg` to `broker` and sets the timer that gives up on its answer at `timeout_at`.
fn send_request(
    out: &mut Vec<Effect>,
    broker: u32,
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
