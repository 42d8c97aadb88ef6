//! Plain-data views of the simulation for any UI and for reports. The only engine types a
//! UI reads. Built by `Sim::snapshot` and `Sim::report`; nothing here points into the engine.

use crate::protocol::ErrorCode;
use crate::record::RecordId;
use crate::time::Instant;
use crate::trace::{NodeNames, TraceEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerStatus {
    Up,
    Crashed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerView {
    pub id: u32,
    pub status: BrokerStatus,
    /// The controller stopped counting on it (no heartbeat for `broker.session.timeout.ms`).
    pub fenced: bool,
    /// When its session runs out unless it heartbeats again (unfenced brokers only): the
    /// controller fences it at its next session check after that.
    pub session_expires: Option<Instant>,
    /// The controller's `broker.session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// In a long pause (GC).
    pub paused: bool,
    /// Cut off from the other brokers and the controller.
    pub isolated: bool,
    pub is_controller: bool,
    /// Partitions this broker leads.
    pub leader_of: u32,
    /// Replicas hosted.
    pub replicas: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView {
    /// A transaction marker (control record): `Some(true)` COMMIT, `Some(false)` ABORT.
    pub marker: Option<bool>,
    pub offset: u64,
    pub timestamp_ms: i64,
    /// The key as text (lossy UTF-8); `None` for a null key.
    pub key: Option<String>,
    /// The value as text, shortened; `None` for a null value (tombstone).
    pub value: Option<String>,
    pub value_bytes: u32,
    pub headers: Vec<(String, String)>,
    pub id: RecordId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaView {
    pub broker: u32,
    pub log_end: u64,
    pub high_watermark: u64,
    pub in_isr: bool,
    pub is_leader: bool,
    /// The broker process is running.
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionView {
    pub topic: String,
    pub partition: u32,
    pub replicas: Vec<u32>,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub isr: Vec<u32>,
    pub log_start: u64,
    pub high_watermark: u64,
    /// The last stable offset: read_committed consumers read below it (reference §5).
    pub last_stable_offset: u64,
    /// Transactions open on this partition (no marker yet).
    pub open_transactions: u32,
    pub log_end: u64,
    pub segments: u32,
    pub size_bytes: u64,
    /// Each replica's own view, in assignment order.
    pub replica_states: Vec<ReplicaView>,
    /// The newest records, oldest first.
    pub latest: Vec<RecordView>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicView {
    pub name: String,
    /// `__consumer_offsets`: UIs list it apart.
    pub internal: bool,
    /// A retry or dead letter topic (`<source>-retry-N`, `<source>-dlt`) whose source exists.
    pub retry_of: Option<RetryOf>,
    pub partitions: Vec<PartitionView>,
    pub replication_factor: u32,
    /// Explicit topic configs by Kafka name.
    pub configs: Vec<(String, String)>,
    /// Topic configs the cluster's broker configuration sets for this topic (it sets none of
    /// its own for them), by the topic config's name: `min.insync.replicas=2` from
    /// `server.properties`, `segment.bytes` from `log.segment.bytes`.
    pub broker_overrides: Vec<(String, String)>,
}

/// Where a retry or dead letter topic's records come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryOf {
    pub source: String,
    /// The attempt its records are for (2 for `-retry-0`); `None` for the dead letter topic.
    pub attempt: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerView {
    pub name: String,
    pub topic: String,
    pub running: bool,
    pub rate_per_sec: u64,
    pub acks: String,
    pub idempotent: bool,
    /// The workload's keys: `KeyMode::Pool(n)` writes to at most `n` partitions.
    pub keys: crate::producer::KeyMode,
    pub produced: u64,
    pub acked: u64,
    pub failed: u64,
    pub retries: u64,
    pub requests: u64,
    pub batches: u64,
    pub queued_batches: u32,
    pub in_flight_batches: u32,
    /// Produce latency (`send()` to acknowledgement) of its acknowledged records, in ms.
    pub produce_latency: Option<crate::histogram::Percentiles>,
    /// With a `transactional.id`: the client's side of its transactions.
    pub transaction: Option<ProducerTxnView>,
}

/// A transactional producer's own view (`TransactionManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerTxnView {
    pub transactional_id: String,
    /// initializing, ready, in transaction, committing, aborting, fenced.
    pub state: &'static str,
    pub committed: u64,
    pub aborted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerPartitionView {
    pub topic: String,
    pub partition: u32,
    pub position: Option<u64>,
    pub high_watermark: Option<u64>,
    pub lag: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerView {
    pub name: String,
    pub group: Option<String>,
    /// "polling", "processing", "committing", "stopped", "crashed" or "failed: ERROR".
    pub state: String,
    /// Group members: the member id, generation (none outside one) and where it is in the
    /// protocol.
    pub member_id: Option<String>,
    pub generation: Option<u32>,
    pub member_state: Option<String>,
    pub processing_us_per_record: u64,
    /// Its commit strategy, or for a processor's consumer "processor, GUARANTEE".
    pub commit: String,
    pub processed: u64,
    pub commits: u64,
    pub failed_commits: u64,
    pub paused_ms: u64,
    pub consumed: u64,
    pub lag: u64,
    pub partitions: Vec<ConsumerPartitionView>,
}

/// A group member as its coordinator knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMemberView {
    pub member_id: String,
    /// The consumer (by name) that holds this member id now, if any.
    pub consumer: Option<String>,
    /// The `client.id` the member joined with (its member id is `client.id` plus a number).
    pub client_id: String,
    pub instance_id: Option<String>,
    /// The partitions the coordinator assigned in this generation.
    pub assignment: Vec<(String, u32)>,
}

/// One subscribed partition from the group's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPartitionView {
    pub topic: String,
    pub partition: u32,
    /// The consumer (by name) that owns it now, if any.
    pub owner: Option<String>,
    pub committed: Option<u64>,
    pub high_watermark: u64,
    /// High watermark − committed offset (− where the group started, before any commit).
    pub lag: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    pub group: String,
    /// The broker leading the group's `__consumer_offsets` partition.
    pub coordinator: Option<u32>,
    pub offsets_partition: u32,
    pub state: String,
    pub generation: u32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<GroupMemberView>,
    pub partitions: Vec<GroupPartitionView>,
    pub lag: u64,
    /// (virtual ms, total lag), oldest first, at most a few hundred points.
    pub lag_history: Vec<(u64, u64)>,
    /// Time to drain the lag at the rate it fell over the recent samples, if it is falling.
    pub drain_ms: Option<u64>,
    /// Join phases completed (generations started).
    pub rebalances: u64,
    /// Time members spent owning nothing because of rebalances, summed.
    pub paused_ms: u64,
    pub processed: u64,
    pub duplicates: u64,
    /// With `on_failure`: what became of its failed records.
    pub failed: FailedRecords,
    /// End-to-end latency (`send()` to `poll()`) of the records its members polled, in ms.
    pub end_to_end: Option<crate::histogram::Percentiles>,
    /// Records below the committed offsets that the group never processed (report only).
    pub lost: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub produced: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
}

/// Which partitions' newest records a snapshot carries. The records are most of a snapshot's
/// cost, and a page that refreshes its partition rows in turns needs only one turn's worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordsOf {
    All,
    /// The partitions whose number is `turn` modulo `every`, of every topic.
    Turn {
        every: u32,
        turn: u32,
    },
}

impl RecordsOf {
    pub fn includes(self, partition: u32) -> bool {
        match self {
            RecordsOf::All => true,
            RecordsOf::Turn { every, turn } => partition % every.max(1) == turn,
        }
    }
}

/// One transactional id as its coordinator holds it (Kafka's `TransactionMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnView {
    pub transactional_id: String,
    /// The broker coordinating it: the leader of its `__transaction_state` partition.
    pub coordinator: u32,
    pub producer_id: i64,
    pub epoch: i16,
    /// Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead,
    /// PrepareEpochFence.
    pub state: &'static str,
    /// The partitions in the transaction, as `topic-partition`.
    pub partitions: Vec<String>,
    pub timeout_ms: u32,
    /// How long the open transaction has been open.
    pub open_ms: Option<u64>,
}

/// Everything a UI draws, at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Which partitions' `latest` records were filled in (the others' are empty).
    pub records_of: RecordsOf,
    pub now: Instant,
    pub seed: u64,
    pub events_processed: u64,
    pub brokers: Vec<BrokerView>,
    pub topics: Vec<TopicView>,
    pub producers: Vec<ProducerView>,
    pub consumers: Vec<ConsumerView>,
    pub groups: Vec<GroupView>,
    /// The latest group events (joins, generations, revocations, assignments, leaves,
    /// crashes), newest last: a rebalance timeline that outlives the busy trace window.
    pub group_events: Vec<TraceEvent>,
    pub totals: Totals,
    /// Every transactional id, as its coordinator holds it.
    pub transactions: Vec<TxnView>,
    /// The newest trace events, newest last.
    pub trace: Vec<TraceEvent>,
    /// The clients' names by the index their trace events carry (for
    /// [`crate::trace::TraceKind::explained`]).
    pub names: NodeNames,
    /// How many trace events the run has recorded in all (the last one is `trace_total - 1`).
    pub trace_total: u64,
    pub digest: u64,
}

/// A record that was acknowledged and can no longer be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostRecord {
    pub id: RecordId,
    pub producer: String,
    pub topic: String,
    pub partition: u32,
    pub offset: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionReport {
    pub topic: String,
    pub partition: u32,
    pub leader: Option<u32>,
    pub isr: Vec<u32>,
    pub log_start: u64,
    pub high_watermark: u64,
    pub last_stable_offset: u64,
    pub log_end: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudienceReport {
    /// `group:NAME` or `consumer:NAME`.
    pub audience: String,
    pub consumed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Records of aborted transactions it read (read_uncommitted sees them; read_committed
    /// never should).
    pub read_aborted: u64,
    /// With `on_failure` handling failed records: what became of them (all 0 otherwise).
    pub failed: FailedRecords,
}

/// What an application handling failed records (`on_failure`) made of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailedRecords {
    /// Whether it handles them (anything but `crash`).
    pub routed: bool,
    /// Copies published to a retry topic.
    pub retried: u64,
    /// Copies acknowledged in a dead letter topic.
    pub dead_lettered: u64,
    /// Records dropped after their last attempt.
    pub skipped: u64,
    /// Records processed after a later record of the same key and origin partition.
    pub reordered: u64,
}

/// Transactions over a run, counted as their coordinators completed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionsReport {
    pub committed: u64,
    pub aborted: u64,
    /// Producers that learned they were fenced.
    pub fenced: u64,
    /// Transactions their coordinator aborted after `transaction.timeout.ms`.
    pub timed_out: u64,
}

/// What a processor did: inputs it processed (again after an abort or a crash, too), and
/// its outputs in committed form (committed transactions, or acknowledged writes without
/// transactions) with how many inputs have more than one there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorReport {
    pub name: String,
    pub guarantee: &'static str,
    pub inputs_processed: u64,
    pub outputs_committed: u64,
    pub duplicates_in_output: u64,
}

/// The outcome of a run, as `kplay run` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub seed: u64,
    pub digest: u64,
    pub now: Instant,
    pub events: u64,
    pub produced: u64,
    pub acked: u64,
    pub failed: u64,
    /// Records a crashed processor's producer held unanswered: neither acknowledged nor
    /// failed, their fate is what the log holds (an aborted transaction's, mostly).
    pub abandoned: u64,
    pub failures: Vec<(ErrorCode, u64)>,
    pub consumed: u64,
    pub lost_acked: u64,
    /// The first lost records (at most 100), to show which.
    pub lost: Vec<LostRecord>,
    /// Acknowledged records since removed by retention (not lost: expired by design).
    pub expired: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub partitions: Vec<PartitionReport>,
    pub audiences: Vec<AudienceReport>,
    pub groups: Vec<GroupView>,
    /// Timeline commands refused when their time came (the first 100), with why, and how
    /// many there were: a refused event is said, never silently dropped.
    pub refused: Vec<(Instant, String)>,
    pub refused_count: u64,
    /// (consumer, topic): consumers still waiting for a topic the cluster does not have.
    pub waiting_for_topics: Vec<(String, String)>,
    pub transactions: TransactionsReport,
    pub processors: Vec<ProcessorReport>,
    pub producers: Vec<ProducerView>,
    /// Alerts that fired or resolved, in order (the first 1,000).
    pub alerts: Vec<AlertEvent>,
}

/// An alert that fired or resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub at_ms: u64,
    pub rule: String,
    pub scope: String,
    pub fired: bool,
    /// The metric's value then, in thousandths.
    pub value_milli: i64,
}
