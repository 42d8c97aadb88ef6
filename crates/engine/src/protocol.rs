//! The messages nodes exchange and the error codes inside them, named as in Kafka's protocol.
//! Protocol outcomes are data (an [`ErrorCode`] in a reply), never panics.

use std::fmt;
use std::sync::Arc;

use crate::group::Generation;
use crate::metadata::ClusterMetadata;
use crate::record::{LeaderEpoch, Offset, ProducerId, RecordBatch, TopicPartition};
use crate::trace::BrokerId;

/// Kafka error codes (reference §7), plus the client-side exceptions the simulation reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    None,
    OffsetOutOfRange,
    UnknownTopicOrPartition,
    LeaderNotAvailable,
    NotLeaderOrFollower,
    RequestTimedOut,
    MessageTooLarge,
    NetworkException,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    OutOfOrderSequenceNumber,
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    /// Controller: the AlterPartition came from a stale leader or partition epoch.
    InvalidUpdateVersion,
    /// Controller: the proposed ISR adds a broker that may not join (fenced), KIP-903.
    IneligibleReplica,
    /// The request itself is malformed (an ISR without its leader, or with a non-replica).
    InvalidRequest,
    /// More replicas asked for than there are brokers to hold them.
    InvalidReplicationFactor,
    /// Client side: `send()` waited `max.block.ms` for its topic to appear in the metadata
    /// (Java's `TimeoutException`: "Topic … not present in metadata").
    MetadataTimeout,
    /// Client side: `send()` waited `max.block.ms` for `buffer.memory` to give a new batch its
    /// buffer (Java's `BufferExhaustedException`, a `TimeoutException`).
    BufferExhausted,
    /// Client side: `delivery.timeout.ms` expired (Java's `TimeoutException`).
    DeliveryTimeout,
    /// Client side: no committed offset and `auto.offset.reset=none`.
    NoOffsetForPartition,
    /// Client side: the consumer's position is past where the leader's log diverged from what
    /// it read, and `auto.offset.reset=none` (Java's `LogTruncationException`, KIP-320).
    LogTruncation,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    NotCoordinator,
    IllegalGeneration,
    UnknownMemberId,
    InvalidSessionTimeout,
    RebalanceInProgress,
    MemberIdRequired,
    FencedInstanceId,
    InconsistentGroupProtocol,
    /// A transactional request in a state that does not allow it (a write outside the
    /// transaction, an EndTxn with nothing begun).
    InvalidTxnState,
    /// The transaction coordinator has no such producer id for the transactional id.
    InvalidProducerIdMapping,
    /// `transaction.timeout.ms` above the broker's `transaction.max.timeout.ms`.
    InvalidTransactionTimeout,
    /// The coordinator is completing the previous transaction: retry.
    ConcurrentTransactions,
    /// A newer instance with the same `transactional.id` took over (KIP-588).
    ProducerFenced,
    /// A marker from a transaction coordinator older than one this partition has heard from
    /// (its `__transaction_state` partition moved since).
    TransactionCoordinatorFenced,
    /// Client side: the application aborted the transaction these records were in, or the
    /// producer was fenced before they could be sent (Java's `TransactionAbortedException`
    /// and `ProducerFencedException`).
    TransactionAborted,
    /// An OffsetFetch that requires stable offsets asked for a partition with offsets pending
    /// in an open transaction (KIP-447); the consumer retries.
    UnstableOffsetCommit,
}

impl ErrorCode {
    /// Every code, in declaration order (`code as usize` indexes it): the ledger stores an
    /// outcome's error as that index.
    pub const ALL: [ErrorCode; 42] = [
        ErrorCode::None,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::RequestTimedOut,
        ErrorCode::MessageTooLarge,
        ErrorCode::NetworkException,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::NotEnoughReplicasAfterAppend,
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::DuplicateSequenceNumber,
        ErrorCode::InvalidProducerEpoch,
        ErrorCode::FencedLeaderEpoch,
        ErrorCode::UnknownLeaderEpoch,
        ErrorCode::InvalidUpdateVersion,
        ErrorCode::IneligibleReplica,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidReplicationFactor,
        ErrorCode::MetadataTimeout,
        ErrorCode::BufferExhausted,
        ErrorCode::DeliveryTimeout,
        ErrorCode::NoOffsetForPartition,
        ErrorCode::LogTruncation,
        ErrorCode::CoordinatorLoadInProgress,
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotCoordinator,
        ErrorCode::IllegalGeneration,
        ErrorCode::UnknownMemberId,
        ErrorCode::InvalidSessionTimeout,
        ErrorCode::RebalanceInProgress,
        ErrorCode::MemberIdRequired,
        ErrorCode::FencedInstanceId,
        ErrorCode::InconsistentGroupProtocol,
        ErrorCode::InvalidTxnState,
        ErrorCode::InvalidProducerIdMapping,
        ErrorCode::InvalidTransactionTimeout,
        ErrorCode::ConcurrentTransactions,
        ErrorCode::ProducerFenced,
        ErrorCode::TransactionCoordinatorFenced,
        ErrorCode::TransactionAborted,
        ErrorCode::UnstableOffsetCommit,
    ];

    /// The wire code; client-side exceptions have none and return -1.
    pub fn code(self) -> i16 {
        match self {
            ErrorCode::None => 0,
            ErrorCode::OffsetOutOfRange => 1,
            ErrorCode::UnknownTopicOrPartition => 3,
            ErrorCode::LeaderNotAvailable => 5,
            ErrorCode::NotLeaderOrFollower => 6,
            ErrorCode::RequestTimedOut => 7,
            ErrorCode::MessageTooLarge => 10,
            ErrorCode::NetworkException => 13,
            ErrorCode::NotEnoughReplicas => 19,
            ErrorCode::NotEnoughReplicasAfterAppend => 20,
            ErrorCode::OutOfOrderSequenceNumber => 45,
            ErrorCode::DuplicateSequenceNumber => 46,
            ErrorCode::InvalidProducerEpoch => 47,
            ErrorCode::FencedLeaderEpoch => 74,
            ErrorCode::UnknownLeaderEpoch => 75,
            ErrorCode::InvalidUpdateVersion => 108,
            ErrorCode::IneligibleReplica => 107,
            ErrorCode::InvalidRequest => 42,
            ErrorCode::InvalidReplicationFactor => 38,
            ErrorCode::MetadataTimeout | ErrorCode::BufferExhausted => -1,
            ErrorCode::CoordinatorLoadInProgress => 14,
            ErrorCode::CoordinatorNotAvailable => 15,
            ErrorCode::NotCoordinator => 16,
            ErrorCode::IllegalGeneration => 22,
            ErrorCode::InconsistentGroupProtocol => 23,
            ErrorCode::UnknownMemberId => 25,
            ErrorCode::InvalidSessionTimeout => 26,
            ErrorCode::RebalanceInProgress => 27,
            ErrorCode::MemberIdRequired => 79,
            ErrorCode::FencedInstanceId => 82,
            ErrorCode::InvalidTxnState => 48,
            ErrorCode::InvalidProducerIdMapping => 49,
            ErrorCode::InvalidTransactionTimeout => 50,
            ErrorCode::ConcurrentTransactions => 51,
            ErrorCode::ProducerFenced => 90,
            ErrorCode::TransactionCoordinatorFenced => 52,
            ErrorCode::UnstableOffsetCommit => 88,
            ErrorCode::TransactionAborted
            | ErrorCode::DeliveryTimeout
            | ErrorCode::NoOffsetForPartition
            | ErrorCode::LogTruncation => -1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::NetworkException => "NETWORK_EXCEPTION",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::IneligibleReplica => "INELIGIBLE_REPLICA",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            ErrorCode::MetadataTimeout => "METADATA_TIMEOUT",
            ErrorCode::BufferExhausted => "BUFFER_EXHAUSTED",
            ErrorCode::DeliveryTimeout => "DELIVERY_TIMEOUT",
            ErrorCode::NoOffsetForPartition => "NO_OFFSET_FOR_PARTITION",
            ErrorCode::LogTruncation => "LOG_TRUNCATION",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            ErrorCode::TransactionAborted => "TRANSACTION_ABORTED",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
        }
    }

    /// Whether a producer may retry after this error (Kafka's `RetriableException`s).
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::UnknownTopicOrPartition
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::NotLeaderOrFollower
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
                | ErrorCode::NotEnoughReplicas
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
        )
    }

    /// Errors after which the client should refresh its metadata.
    pub fn invalidates_metadata(self) -> bool {
        matches!(
            self,
            ErrorCode::UnknownTopicOrPartition
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::NotLeaderOrFollower
                | ErrorCode::NetworkException
                | ErrorCode::RequestTimedOut
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The producer's `acks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Acks {
    Zero,
    One,
    All,
}

impl Acks {
    pub fn name(self) -> &'static str {
        match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceRequest {
    pub correlation_id: u32,
    pub acks: Acks,
    pub timeout_ms: u32,
    pub partitions: Vec<(TopicPartition, RecordBatch)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionProduceResult {
    pub tp: TopicPartition,
    pub error: ErrorCode,
    /// Offset of the batch's first record when appended (or when found to be a duplicate).
    pub base_offset: Option<Offset>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceResponse {
    pub correlation_id: u32,
    pub results: Vec<PartitionProduceResult>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPartition {
    pub tp: TopicPartition,
    pub fetch_offset: Offset,
    pub partition_max_bytes: u32,
    /// The leader epoch the fetcher believes current (KIP-320); checked by the leader.
    pub current_leader_epoch: Option<LeaderEpoch>,
    /// A follower's epoch of its last fetched batch, for divergence detection (Fetch v12+).
    pub last_fetched_epoch: Option<LeaderEpoch>,
}

/// A consumer's `isolation.level`: how far a fetch may read (reference §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Up to the high watermark, aborted and open transactions included.
    #[default]
    ReadUncommitted,
    /// Up to the last stable offset, with the aborted transactions to drop.
    ReadCommitted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub correlation_id: u32,
    pub isolation: Isolation,
    /// The fetching follower's broker id; `None` for a consumer.
    pub replica_id: Option<BrokerId>,
    pub max_wait_ms: u32,
    pub min_bytes: u32,
    pub max_bytes: u32,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPartition {
    pub tp: TopicPartition,
    pub error: ErrorCode,
    pub high_watermark: Offset,
    pub log_start: Offset,
    pub batches: Vec<RecordBatch>,
    /// The last stable offset (read_committed reads below it).
    pub last_stable_offset: Offset,
    /// read_committed: the aborted transactions overlapping the batches returned, as
    /// (producer id, first offset) (Kafka's `FetchResponse.abortedTransactions`).
    pub aborted: Vec<(ProducerId, Offset)>,
    /// The follower's log diverges from the leader's: truncate to this (epoch, end offset).
    pub diverging: Option<(LeaderEpoch, Offset)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchResponse {
    pub correlation_id: u32,
    pub partitions: Vec<FetchedPartition>,
}

/// Which offset `ListOffsets` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    pub correlation_id: u32,
    /// "Latest" is the last stable offset for read_committed, the high watermark otherwise.
    pub isolation: Isolation,
    pub partitions: Vec<(TopicPartition, OffsetSpec)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    pub correlation_id: u32,
    pub partitions: Vec<(TopicPartition, ErrorCode, Offset)>,
}

/// A consumer validating its position after a leader change (KIP-320): where does epoch
/// `leader_epoch` (of the last batch it read) end in the leader's log?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochQuery {
    pub tp: TopicPartition,
    pub current_leader_epoch: LeaderEpoch,
    pub leader_epoch: LeaderEpoch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetsForLeaderEpochRequest {
    pub correlation_id: u32,
    pub partitions: Vec<EpochQuery>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub tp: TopicPartition,
    pub error: ErrorCode,
    /// The largest epoch ≤ the one asked for that the leader knows, and where it ends; `None`
    /// is Kafka's UNDEFINED_EPOCH_OFFSET (the leader knows no such epoch).
    pub end: Option<(LeaderEpoch, Offset)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetsForLeaderEpochResponse {
    pub correlation_id: u32,
    pub partitions: Vec<EpochEndOffset>,
}

/// A leader asks the controller to change a partition's ISR (KIP-497).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionRequest {
    pub tp: TopicPartition,
    pub leader: BrokerId,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: u32,
    pub new_isr: Vec<BrokerId>,
    /// Which of the leader's proposals this is; the answer names it again, so a late answer
    /// to an older proposal is not taken for the newest one's.
    pub proposal: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionResponse {
    pub tp: TopicPartition,
    pub proposal: u64,
    pub error: ErrorCode,
    pub isr: Vec<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: u32,
}

/// What a member tells the coordinator about itself in JoinGroup, per assignor it supports
/// (the classic protocol's subscription metadata, KIP-429's `ownedPartitions` included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub topics: Vec<String>,
    /// `ownedPartitions`: what the member still owns as it joins. Empty for an eager member,
    /// which revoked everything in `onJoinPrepare` before `ConsumerCoordinator.metadata()`
    /// built this (so a cooperative-sticky assignment under the eager protocol, chosen when
    /// `range` is also listed, withholds nothing).
    pub owned: Vec<TopicPartition>,
    /// The eager `StickyAssignor`'s user data: the member's last assignment
    /// (`memberAssignment`), which that assignor reads instead of `owned`
    /// (`StickyAssignor.memberData`).
    pub previous: Vec<TopicPartition>,
    /// The generation in which `owned` was assigned, if any.
    pub generation: Option<Generation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGroupRequest {
    pub correlation_id: u32,
    pub group_id: Arc<str>,
    /// `client.id`: the prefix of the member id the coordinator hands out.
    pub client_id: Arc<str>,
    /// Empty for a member the coordinator has not named yet (KIP-394).
    pub member_id: Arc<str>,
    pub instance_id: Option<Arc<str>>,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    /// Assignor names in order of preference.
    pub protocols: Vec<String>,
    pub subscription: Subscription,
}

/// One member as the group leader sees it in its JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: Arc<str>,
    pub instance_id: Option<Arc<str>>,
    pub subscription: Subscription,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinGroupResponse {
    pub correlation_id: u32,
    pub error: ErrorCode,
    /// None with an error.
    pub generation: Option<Generation>,
    pub protocol: Option<String>,
    pub leader: Arc<str>,
    pub member_id: Arc<str>,
    /// Every member's subscription, for the leader only.
    pub members: Vec<JoinedMember>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupRequest {
    pub correlation_id: u32,
    pub group_id: Arc<str>,
    pub generation: Option<Generation>,
    pub member_id: Arc<str>,
    /// The leader's assignment for every member; empty from followers.
    pub assignments: Vec<(Arc<str>, Vec<TopicPartition>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupResponse {
    pub correlation_id: u32,
    pub error: ErrorCode,
    pub assignment: Vec<TopicPartition>,
}

/// A member in a generation: Heartbeat and LeaveGroup carry this much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub correlation_id: u32,
    pub group_id: Arc<str>,
    pub generation: Option<Generation>,
    pub member_id: Arc<str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    pub correlation_id: u32,
    pub group_id: Arc<str>,
    pub generation: Option<Generation>,
    pub member_id: Arc<str>,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

/// TxnOffsetCommit (`sendOffsetsToTransaction`): a transactional producer commits a group's
/// offsets inside its transaction; they apply only if it commits. The group's generation and
/// member id fence a member that lost its partitions (KIP-447).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    pub correlation_id: u32,
    pub transactional_id: Arc<str>,
    pub producer: ProducerIdAndEpoch,
    pub group_id: Arc<str>,
    pub generation: Option<Generation>,
    pub member_id: Arc<str>,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

/// Which coordinator `FindCoordinator` looks for (its `keyType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorType {
    Group,
    Transaction,
}

/// A producer id and epoch, as transactional requests carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProducerIdAndEpoch {
    pub producer_id: ProducerId,
    pub epoch: i16,
}

/// One transaction's markers for the partitions one leader holds (`WriteTxnMarkersRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer: ProducerIdAndEpoch,
    pub commit: bool,
    pub coordinator_epoch: u32,
    pub partitions: Vec<TopicPartition>,
}

/// Every message of the simulation. A closed set: `match` exhaustiveness is the checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Every client names the topics it needs: a broker with `auto.create.topics.enable`
    /// asks the controller to create a missing one when the client allows it (producers
    /// always, consumers with `allow.auto.create.topics`).
    MetadataRequest {
        correlation_id: u32,
        topics: Vec<Arc<str>>,
        allow_auto_create: bool,
    },
    /// A broker asks the controller to create a topic a client needs
    /// (`AutoTopicCreationManager`), with `num.partitions` and `default.replication.factor`.
    CreateTopics {
        topic: Arc<str>,
    },
    CreateTopicsResponse {
        topic: Arc<str>,
        error: ErrorCode,
    },
    MetadataResponse {
        correlation_id: u32,
        metadata: Arc<ClusterMetadata>,
    },
    ProduceRequest(ProduceRequest),
    ProduceResponse(ProduceResponse),
    FetchRequest(FetchRequest),
    FetchResponse(FetchResponse),
    ListOffsetsRequest(ListOffsetsRequest),
    ListOffsetsResponse(ListOffsetsResponse),
    OffsetsForLeaderEpochRequest(OffsetsForLeaderEpochRequest),
    OffsetsForLeaderEpochResponse(OffsetsForLeaderEpochResponse),
    /// Broker → controller, every `broker.heartbeat.interval.ms`.
    /// Carries the broker's metadata version: brokers pull the metadata log in KRaft, so a
    /// broker that missed updates (a network partition) catches up on its next heartbeat.
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: u32,
        metadata_version: u64,
    },
    /// Controller → broker: a new version of the cluster metadata.
    MetadataUpdate {
        metadata: Arc<ClusterMetadata>,
    },
    AlterPartition(AlterPartitionRequest),
    AlterPartitionResponse(AlterPartitionResponse),
    FindCoordinator {
        correlation_id: u32,
        /// The group id, or the transactional id.
        key: Arc<str>,
        key_type: CoordinatorType,
    },
    FindCoordinatorResponse {
        correlation_id: u32,
        error: ErrorCode,
        coordinator: Option<BrokerId>,
    },
    JoinGroup(JoinGroupRequest),
    JoinGroupResponse(JoinGroupResponse),
    SyncGroup(SyncGroupRequest),
    SyncGroupResponse(SyncGroupResponse),
    Heartbeat(MemberRef),
    HeartbeatResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    LeaveGroup(MemberRef),
    LeaveGroupResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    OffsetCommit(OffsetCommitRequest),
    OffsetCommitResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    OffsetFetch {
        correlation_id: u32,
        group_id: Arc<str>,
        partitions: Vec<TopicPartition>,
        /// A read_committed consumer asks for stable offsets only (KIP-447 `requireStable`).
        require_stable: bool,
    },
    OffsetFetchResponse {
        correlation_id: u32,
        error: ErrorCode,
        /// The committed offset (the next to read) per partition, if any.
        offsets: Vec<(TopicPartition, Option<Offset>)>,
    },
    /// A producer asks for its id: a fresh one (idempotent, `transactional_id` none), or its
    /// transactional id's, with the epoch bumped to fence older instances (KIP-98, KIP-360).
    InitProducerId {
        correlation_id: u32,
        transactional_id: Option<Arc<str>>,
        timeout_ms: u32,
    },
    InitProducerIdResponse {
        correlation_id: u32,
        error: ErrorCode,
        producer: ProducerIdAndEpoch,
    },
    AddPartitionsToTxn {
        correlation_id: u32,
        transactional_id: Arc<str>,
        producer: ProducerIdAndEpoch,
        partitions: Vec<TopicPartition>,
    },
    AddPartitionsToTxnResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    /// `sendOffsetsToTransaction` step 1: the group's `__consumer_offsets` partition joins the
    /// transaction, so that it gets the markers.
    AddOffsetsToTxn {
        correlation_id: u32,
        transactional_id: Arc<str>,
        producer: ProducerIdAndEpoch,
        group_id: Arc<str>,
    },
    AddOffsetsToTxnResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    /// Step 2, to the group coordinator.
    TxnOffsetCommit(TxnOffsetCommitRequest),
    TxnOffsetCommitResponse {
        correlation_id: u32,
        error: ErrorCode,
    },
    EndTxn {
        correlation_id: u32,
        transactional_id: Arc<str>,
        producer: ProducerIdAndEpoch,
        commit: bool,
    },
    /// Transactions V2 (KIP-890): the answer carries the epoch the next transaction uses.
    EndTxnResponse {
        correlation_id: u32,
        error: ErrorCode,
        producer: ProducerIdAndEpoch,
    },
    /// Coordinator → partition leader: write the markers that end a transaction.
    WriteTxnMarkers {
        correlation_id: u32,
        marker: TxnMarker,
    },
    WriteTxnMarkersResponse {
        correlation_id: u32,
        results: Vec<(TopicPartition, ErrorCode)>,
    },
    /// Broker → controller: a block of producer ids (`AllocateProducerIds`, KIP-730).
    AllocateProducerIds {
        broker: BrokerId,
        incarnation: u32,
    },
    AllocateProducerIdsResponse {
        first: ProducerId,
        count: u32,
    },
}

impl Message {
    /// Its size on the wire, for the cost model: the record batches it carries (their v2
    /// size), plus a header and a few bytes per partition or topic named. Close enough for
    /// bandwidth, where batches dominate; exact sizes of the small requests do not matter.
    pub fn wire_bytes(&self) -> u64 {
        const HEADER: u64 = 40;
        const PER_PARTITION: u64 = 30;
        let batches = |b: &[RecordBatch]| b.iter().map(|b| u64::from(b.size_bytes)).sum::<u64>();
        HEADER
            + match self {
                Message::ProduceRequest(r) => r
                    .partitions
                    .iter()
                    .map(|(_, b)| PER_PARTITION + u64::from(b.size_bytes))
                    .sum(),
                Message::FetchResponse(r) => r
                    .partitions
                    .iter()
                    .map(|p| PER_PARTITION + batches(&p.batches))
                    .sum(),
                Message::ProduceResponse(r) => PER_PARTITION * r.results.len() as u64,
                Message::FetchRequest(r) => PER_PARTITION * r.partitions.len() as u64,
                Message::MetadataResponse { metadata, .. }
                | Message::MetadataUpdate { metadata } => metadata
                    .topics
                    .values()
                    .map(|t| PER_PARTITION * t.partitions.len() as u64)
                    .sum(),
                _ => 0,
            }
    }

    /// An answer to a request this node sent (every answer's kind ends so): at a broker, a
    /// follower's fetch result or a peer's answer, which no request handler thread takes.
    pub fn is_response(&self) -> bool {
        self.kind().ends_with("Response")
    }

    /// An answer of the group protocol, which a group member handles.
    pub fn is_group_answer(&self) -> bool {
        matches!(
            self,
            Message::FindCoordinatorResponse { .. }
                | Message::JoinGroupResponse(_)
                | Message::SyncGroupResponse(_)
                | Message::HeartbeatResponse { .. }
                | Message::OffsetCommitResponse { .. }
                | Message::OffsetFetchResponse { .. }
                | Message::LeaveGroupResponse { .. }
        )
    }

    /// Short name for traces and the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::MetadataRequest { .. } => "Metadata",
            Message::CreateTopics { .. } => "CreateTopics",
            Message::CreateTopicsResponse { .. } => "CreateTopicsResponse",
            Message::MetadataResponse { .. } => "MetadataResponse",
            Message::ProduceRequest(_) => "Produce",
            Message::ProduceResponse(_) => "ProduceResponse",
            Message::FetchRequest(_) => "Fetch",
            Message::FetchResponse(_) => "FetchResponse",
            Message::ListOffsetsRequest(_) => "ListOffsets",
            Message::ListOffsetsResponse(_) => "ListOffsetsResponse",
            Message::OffsetsForLeaderEpochRequest(_) => "OffsetsForLeaderEpoch",
            Message::OffsetsForLeaderEpochResponse(_) => "OffsetsForLeaderEpochResponse",
            Message::BrokerHeartbeat { .. } => "BrokerHeartbeat",
            Message::MetadataUpdate { .. } => "MetadataUpdate",
            Message::AlterPartition(_) => "AlterPartition",
            Message::AlterPartitionResponse(_) => "AlterPartitionResponse",
            Message::FindCoordinator { .. } => "FindCoordinator",
            Message::FindCoordinatorResponse { .. } => "FindCoordinatorResponse",
            Message::JoinGroup(_) => "JoinGroup",
            Message::JoinGroupResponse(_) => "JoinGroupResponse",
            Message::SyncGroup(_) => "SyncGroup",
            Message::SyncGroupResponse(_) => "SyncGroupResponse",
            Message::Heartbeat(_) => "Heartbeat",
            Message::HeartbeatResponse { .. } => "HeartbeatResponse",
            Message::LeaveGroup(_) => "LeaveGroup",
            Message::LeaveGroupResponse { .. } => "LeaveGroupResponse",
            Message::OffsetCommit(_) => "OffsetCommit",
            Message::OffsetCommitResponse { .. } => "OffsetCommitResponse",
            Message::OffsetFetch { .. } => "OffsetFetch",
            Message::OffsetFetchResponse { .. } => "OffsetFetchResponse",
            Message::InitProducerId { .. } => "InitProducerId",
            Message::InitProducerIdResponse { .. } => "InitProducerIdResponse",
            Message::AddPartitionsToTxn { .. } => "AddPartitionsToTxn",
            Message::AddPartitionsToTxnResponse { .. } => "AddPartitionsToTxnResponse",
            Message::AddOffsetsToTxn { .. } => "AddOffsetsToTxn",
            Message::AddOffsetsToTxnResponse { .. } => "AddOffsetsToTxnResponse",
            Message::TxnOffsetCommit(_) => "TxnOffsetCommit",
            Message::TxnOffsetCommitResponse { .. } => "TxnOffsetCommitResponse",
            Message::EndTxn { .. } => "EndTxn",
            Message::EndTxnResponse { .. } => "EndTxnResponse",
            Message::WriteTxnMarkers { .. } => "WriteTxnMarkers",
            Message::WriteTxnMarkersResponse { .. } => "WriteTxnMarkersResponse",
            Message::AllocateProducerIds { .. } => "AllocateProducerIds",
            Message::AllocateProducerIdsResponse { .. } => "AllocateProducerIdsResponse",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_at_its_declaration_index() {
        // The ledger stores an outcome's error as `code as usize`.
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code} listed out of order");
        }
    }
}
