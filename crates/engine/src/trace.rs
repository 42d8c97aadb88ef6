//! Typed trace events for every significant change, and the run digest: a hash over every
//! event, the same natively and in wasm because it hashes fixed-width integers only.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::group::Generation;
use crate::protocol::ErrorCode;
use crate::record::{LeaderEpoch, Offset, RecordId, TopicPartition};
use crate::time::Instant;

/// A broker's id (Kafka's `broker.id`, `node.id` in KRaft). Printed as the bare number, so the
/// trace reads as it did when ids were plain `u32`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrokerId(pub u32);

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The number's own Display, so that width and fill in a format string apply as before.
        fmt::Display::fmt(&self.0, f)
    }
}

/// Broker ids as the numbers they print as: a list of them reads `[0, 2]` in the trace, where
/// the derived `Debug` of `BrokerId`s would read `[BrokerId(0), BrokerId(2)]`.
pub(crate) fn numbers(ids: &[BrokerId]) -> Vec<u32> {
    ids.iter().map(|b| b.0).collect()
}

/// Broker ids from numbers, for tests.
#[cfg(test)]
pub(crate) fn ids(numbers: &[u32]) -> Vec<BrokerId> {
    numbers.iter().copied().map(BrokerId).collect()
}

/// A node of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeId {
    /// The KRaft controller quorum, modelled as one always-available node.
    Controller,
    Broker(BrokerId),
    Producer(u32),
    Consumer(u32),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Controller => write!(f, "controller"),
            NodeId::Broker(i) => write!(f, "broker {i}"),
            NodeId::Producer(i) => write!(f, "producer #{i}"),
            NodeId::Consumer(i) => write!(f, "consumer #{i}"),
        }
    }
}

/// The names the panels use for producers and consumers, by the index their events carry, so
/// the event log says "producer checkout" where the trace holds `producer: 0`. An index
/// without a name reads `producer #0`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeNames {
    pub producers: Vec<String>,
    pub consumers: Vec<String>,
}

impl NodeNames {
    /// No names: every client reads by its index.
    pub const NONE: NodeNames = NodeNames {
        producers: Vec::new(),
        consumers: Vec::new(),
    };

    pub fn producer(&self, index: u32) -> String {
        match self.producers.get(index as usize) {
            Some(name) => format!("producer {name}"),
            None => format!("producer #{index}"),
        }
    }

    pub fn consumer(&self, index: u32) -> String {
        match self.consumers.get(index as usize) {
            Some(name) => format!("consumer {name}"),
            None => format!("consumer #{index}"),
        }
    }

    fn node(&self, node: NodeId) -> String {
        match node {
            NodeId::Producer(i) => self.producer(i),
            NodeId::Consumer(i) => self.consumer(i),
            other => other.to_string(),
        }
    }
}

/// Why the controller fenced a broker. It explains the event and is not hashed: the digest
/// already covers what caused it (the heartbeats, the restart), and explaining better must
/// not change any run's digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FenceCause {
    /// No heartbeat for `broker.session.timeout.ms`.
    SessionExpired { session_timeout_ms: u64 },
    /// It heartbeated as a new process before its session expired (an unclean restart): the
    /// controller fences it first, so it comes back as a follower (KIP-966).
    RestartedWithinSession,
}

/// Why the controller changed a partition's leader or ISR. Explains the event and, like
/// [`FenceCause`], is not hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionChangeCause {
    /// This broker was fenced: it leaves every ISR, and the partitions it led elect another.
    Fenced(BrokerId),
    /// This broker came back: offline partitions it can lead get it as leader.
    Unfenced(BrokerId),
    /// The leader asked (AlterPartition): it removes followers that have not caught up for
    /// `replica.lag.time.max.ms`, and adds ones that reached its high watermark.
    AlterPartition {
        leader: BrokerId,
        replica_lag_time_max_ms: u64,
    },
    /// `auto.leader.rebalance.enable`: leadership goes back to the preferred (first) replica.
    PreferredLeader,
}

/// The records a follower's truncation removed, for the event log's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TruncatedRecords {
    /// As the broker removed them, with their offsets; the simulator, which keeps the ledger,
    /// turns them into [`TruncatedRecords::Acknowledged`] before recording the event.
    Removed(Vec<(Offset, RecordId)>),
    /// Per producer (index, records, its `acks`): the removed records its application had
    /// heard acknowledged, which the leader that now leads does not have: lost.
    Acknowledged(Vec<(u32, u64, String)>),
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    BrokerStarted {
        broker: BrokerId,
    },
    BrokerCrashed {
        broker: BrokerId,
    },
    BrokerRestarted {
        broker: BrokerId,
    },
    TopicCreated {
        topic: String,
        partitions: u32,
        replication_factor: u32,
    },
    TopicDeleted {
        topic: String,
    },
    /// Topic configs altered (`kafka-configs.sh --alter`); `keys` names them.
    TopicConfigAltered {
        topic: String,
        keys: String,
    },
    /// The controller created a topic a client asked for (`auto.create.topics.enable`).
    TopicAutoCreated {
        topic: String,
        partitions: u32,
        replication_factor: u32,
        /// The broker that asked.
        broker: BrokerId,
    },
    /// A producer's `send()` gave up after `max.block.ms` (no metadata for its topic, or no
    /// room in `buffer.memory`): the record failed before it was batched.
    SendTimedOut {
        producer: u32,
        topic: String,
        error: ErrorCode,
    },
    /// A consumer wants a topic the cluster does not have (it waits for it).
    TopicNotPresent {
        consumer: u32,
        topic: String,
    },
    ProducerAdded {
        producer: u32,
    },
    ProducerRemoved {
        producer: u32,
    },
    ConsumerAdded {
        consumer: u32,
    },
    ConsumerRemoved {
        consumer: u32,
    },
    /// A producer sent a batch (first attempt or a retry).
    BatchSent {
        producer: u32,
        broker: BrokerId,
        tp: TopicPartition,
        records: u32,
        attempt: u32,
    },
    /// A leader appended a batch.
    BatchAppended {
        broker: BrokerId,
        tp: TopicPartition,
        base_offset: Offset,
        records: u32,
    },
    /// A leader recognised a retried idempotent batch and did not append it again.
    DuplicateBatch {
        broker: BrokerId,
        tp: TopicPartition,
        base_offset: Offset,
    },
    BatchAcked {
        producer: u32,
        tp: TopicPartition,
        base_offset: Option<Offset>,
        records: u32,
    },
    BatchRetrying {
        producer: u32,
        tp: TopicPartition,
        error: ErrorCode,
        attempt: u32,
    },
    /// A batch the broker found too large went back to the queue split in `batches`.
    BatchSplit {
        producer: u32,
        tp: TopicPartition,
        records: u32,
        batches: u32,
    },
    BatchFailed {
        producer: u32,
        tp: TopicPartition,
        records: u32,
        error: ErrorCode,
    },
    /// `poll()` handed records of one partition to the application.
    RecordsPolled {
        consumer: u32,
        tp: TopicPartition,
        first: Offset,
        last: Offset,
    },
    OffsetReset {
        consumer: u32,
        tp: TopicPartition,
        offset: Offset,
        earliest: bool,
    },
    Seek {
        consumer: u32,
        tp: TopicPartition,
        offset: Offset,
    },
    ConsumerFailed {
        consumer: u32,
        tp: TopicPartition,
        error: ErrorCode,
    },
    ConnectionClosed {
        from: NodeId,
        to: NodeId,
    },
    SegmentRolled {
        broker: BrokerId,
        tp: TopicPartition,
        base_offset: Offset,
    },
    SegmentsDeleted {
        broker: BrokerId,
        tp: TopicPartition,
        log_start: Offset,
    },
    /// A scheduled command could not be applied; the run goes on.
    CommandRejected {
        reason: String,
    },
    BrokerFenced {
        broker: BrokerId,
        /// Not hashed (see [`FenceCause`]).
        cause: FenceCause,
    },
    BrokerUnfenced {
        broker: BrokerId,
    },
    /// The controller chose a leader (`unclean`: from outside the ISR, data may be lost).
    LeaderElected {
        tp: TopicPartition,
        leader: BrokerId,
        leader_epoch: LeaderEpoch,
        unclean: bool,
        /// The leader before; not hashed (the previous events say it).
        previous: Option<BrokerId>,
        /// Not hashed (see [`PartitionChangeCause`]).
        cause: PartitionChangeCause,
    },
    /// No replica may lead: the partition is offline.
    PartitionOffline {
        tp: TopicPartition,
    },
    IsrChanged {
        tp: TopicPartition,
        isr: Vec<BrokerId>,
        /// The ISR before; not hashed (the previous events say it).
        previous: Vec<BrokerId>,
        /// Not hashed (see [`PartitionChangeCause`]).
        cause: PartitionChangeCause,
    },
    /// A follower removed records its leader does not have.
    FollowerTruncated {
        broker: BrokerId,
        tp: TopicPartition,
        from: Offset,
        to: Offset,
        /// Which of them had been acknowledged. Not hashed: it follows from the run.
        records: TruncatedRecords,
    },
    NetworkPartitioned {
        isolated: Vec<BrokerId>,
    },
    NetworkHealed,
    BrokerPaused {
        broker: BrokerId,
    },
    BrokerResumed {
        broker: BrokerId,
    },
    LinkDelayed {
        from: BrokerId,
        to: BrokerId,
        extra_ms: u64,
    },
    /// A consumer's position was past where the new leader's log diverged from what it read
    /// (KIP-320): it resumes at the first offset known to diverge, or resets (`None`).
    TruncationDetected {
        consumer: u32,
        tp: TopicPartition,
        position: Offset,
        resume: Option<Offset>,
    },
    /// A coordinator moved a group to PreparingRebalance.
    RebalanceStarted {
        broker: BrokerId,
        group: Arc<str>,
        reason: String,
        /// Every member rebalances cooperatively (keeps what stays its own) rather than
        /// eagerly (stops and gives up everything). Not hashed: it follows from the members'
        /// `partition.assignment.strategy`, and only explains.
        cooperative: bool,
    },
    /// A coordinator completed a join phase: a new generation with these members.
    GenerationStarted {
        broker: BrokerId,
        group: Arc<str>,
        generation: Generation,
        protocol: String,
        leader: Arc<str>,
        members: Vec<Arc<str>>,
    },
    /// The leader's assignment arrived: the group is Stable.
    GroupStable {
        broker: BrokerId,
        group: Arc<str>,
        generation: Generation,
    },
    /// A join phase reached its deadline with no member rejoined, only static members that
    /// keep their place: it waits another rebalance timeout.
    JoinPhaseExtended {
        broker: BrokerId,
        group: Arc<str>,
        until_ms: u64,
    },
    /// A coordinator removed a member (left, session expired, rebalance timeout).
    MemberRemoved {
        broker: BrokerId,
        group: Arc<str>,
        member: Arc<str>,
        reason: String,
    },
    /// A broker became coordinator for a `__consumer_offsets` partition and read it.
    OffsetsLoaded {
        broker: BrokerId,
        partition: u32,
        offsets: u32,
    },
    /// A consumer's JoinGroup succeeded.
    MemberJoined {
        consumer: u32,
        group: Arc<str>,
        member: Arc<str>,
        generation: Generation,
        leader: bool,
    },
    /// A consumer gave up partitions (`onPartitionsRevoked`, or lost with the membership).
    PartitionsRevoked {
        consumer: u32,
        tps: Vec<TopicPartition>,
        lost: bool,
    },
    /// A consumer received partitions in a generation (`onPartitionsAssigned`: the new ones).
    PartitionsAssigned {
        consumer: u32,
        generation: Generation,
        added: Vec<TopicPartition>,
        owned: u32,
    },
    /// A consumer's offset commit completed (or failed with `error`).
    OffsetsCommitted {
        consumer: u32,
        offsets: u32,
        error: ErrorCode,
    },
    /// A consumer left its group (`why`: closed, or `max.poll.interval.ms` passed).
    MemberLeaving {
        consumer: u32,
        why: String,
    },
    ConsumerCrashed {
        consumer: u32,
        /// Records of the current poll that were processed before the crash.
        processed: u32,
        unprocessed: u32,
    },
    ConsumerRestarted {
        consumer: u32,
    },
    ProcessingTimeChanged {
        consumer: u32,
        per_record_us: u64,
    },
    /// A transaction coordinator persisted CompleteCommit or CompleteAbort: every marker of
    /// the transaction is written.
    TransactionCompleted {
        broker: BrokerId,
        transactional_id: String,
        producer_id: i64,
        committed: bool,
        /// Aborted by the coordinator because `transaction.timeout.ms` passed.
        timed_out: bool,
        partitions: u32,
    },
    /// A coordinator aborts an open transaction older than its `transaction.timeout.ms`,
    /// fencing its producer.
    TransactionTimedOut {
        broker: BrokerId,
        transactional_id: String,
        timeout_ms: u32,
    },
    /// A transactional producer learned it was fenced: a newer instance with its
    /// `transactional.id` started, or its coordinator aborted its transaction (fatal: it
    /// must be closed).
    ProducerFenced {
        producer: u32,
        error: ErrorCode,
    },
    /// An alert rule on Kafka's metrics fired (its condition held for its duration) or
    /// resolved, on one scope (`consumer:c1`, `broker:0`), with the value sampled then.
    Alert {
        rule: String,
        scope: String,
        fired: bool,
        value_milli: i64,
    },
}

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub at: Instant,
    pub kind: TraceKind,
}

/// FNV-1a, 64-bit: tiny, stable, and identical on every target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Digest {
    pub fn new() -> Digest {
        Digest(0xcbf2_9ce4_8422_2325)
    }
    pub fn value(&self) -> u64 {
        self.0
    }
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
    fn tp(&mut self, tp: &TopicPartition) {
        self.str(&tp.topic);
        self.u64(u64::from(tp.partition));
    }
    fn node(&mut self, n: NodeId) {
        let (tag, i) = match n {
            NodeId::Controller => (3, 0),
            NodeId::Broker(BrokerId(i)) => (0, i),
            NodeId::Producer(i) => (1, i),
            NodeId::Consumer(i) => (2, i),
        };
        self.u64(tag);
        self.u64(u64::from(i));
    }
    fn opt_offset(&mut self, o: Option<Offset>) {
        self.u64(o.map_or(u64::MAX, |o| o.0));
    }

    /// Folds one event in. Every field that records behaviour is hashed, so any change of
    /// behaviour changes the digest; the fields that only explain an event (its cause, the
    /// state before it) follow from what was hashed before and are left out, so better
    /// explanations never change a digest.
    pub fn add(&mut self, event: &TraceEvent) {
        use TraceKind as K;
        self.u64(event.at.0);
        match &event.kind {
            K::BrokerStarted { broker } => self.ints(1, &[broker.0 as u64]),
            K::BrokerCrashed { broker } => self.ints(2, &[broker.0 as u64]),
            K::BrokerRestarted { broker } => self.ints(3, &[broker.0 as u64]),
            K::TopicCreated {
                topic,
                partitions,
                replication_factor,
            } => {
                self.ints(4, &[*partitions as u64, *replication_factor as u64]);
                self.str(topic);
            }
            K::TopicDeleted { topic } => {
                self.u64(5);
                self.str(topic);
            }
            K::TopicConfigAltered { topic, keys } => {
                self.u64(54);
                self.str(topic);
                self.str(keys);
            }
            K::ProducerAdded { producer } => self.ints(6, &[*producer as u64]),
            K::ProducerRemoved { producer } => self.ints(7, &[*producer as u64]),
            K::ConsumerAdded { consumer } => self.ints(8, &[*consumer as u64]),
            K::ConsumerRemoved { consumer } => self.ints(9, &[*consumer as u64]),
            K::BatchSent {
                producer,
                broker,
                tp,
                records,
                attempt,
            } => {
                let ints = [
                    *producer as u64,
                    broker.0 as u64,
                    *records as u64,
                    *attempt as u64,
                ];
                self.ints(10, &ints);
                self.tp(tp);
            }
            K::BatchAppended {
                broker,
                tp,
                base_offset,
                records,
            } => {
                self.ints(11, &[broker.0 as u64, base_offset.0, *records as u64]);
                self.tp(tp);
            }
            K::DuplicateBatch {
                broker,
                tp,
                base_offset,
            } => {
                self.ints(12, &[broker.0 as u64, base_offset.0]);
                self.tp(tp);
            }
            K::BatchAcked {
                producer,
                tp,
                base_offset,
                records,
            } => {
                self.ints(13, &[*producer as u64, *records as u64]);
                self.opt_offset(*base_offset);
                self.tp(tp);
            }
            K::BatchSplit {
                producer,
                tp,
                records,
                batches,
            } => {
                self.ints(52, &[*producer as u64, *records as u64, *batches as u64]);
                self.tp(tp);
            }
            K::BatchRetrying {
                producer,
                tp,
                error,
                attempt,
            } => {
                let ints = [*producer as u64, error.code() as u64, *attempt as u64];
                self.ints(14, &ints);
                self.str(error.name());
                self.tp(tp);
            }
            K::BatchFailed {
                producer,
                tp,
                records,
                error,
            } => {
                self.ints(15, &[*producer as u64, *records as u64]);
                self.str(error.name());
                self.tp(tp);
            }
            K::RecordsPolled {
                consumer,
                tp,
                first,
                last,
            } => {
                self.ints(16, &[*consumer as u64, first.0, last.0]);
                self.tp(tp);
            }
            K::OffsetReset {
                consumer,
                tp,
                offset,
                earliest,
            } => {
                self.ints(17, &[*consumer as u64, offset.0, *earliest as u64]);
                self.tp(tp);
            }
            K::Seek {
                consumer,
                tp,
                offset,
            } => {
                self.ints(18, &[*consumer as u64, offset.0]);
                self.tp(tp);
            }
            K::ConsumerFailed {
                consumer,
                tp,
                error,
            } => {
                self.ints(19, &[*consumer as u64]);
                self.str(error.name());
                self.tp(tp);
            }
            K::ConnectionClosed { from, to } => {
                self.u64(20);
                self.node(*from);
                self.node(*to);
            }
            K::SegmentRolled {
                broker,
                tp,
                base_offset,
            } => {
                self.ints(21, &[broker.0 as u64, base_offset.0]);
                self.tp(tp);
            }
            K::SegmentsDeleted {
                broker,
                tp,
                log_start,
            } => {
                self.ints(22, &[broker.0 as u64, log_start.0]);
                self.tp(tp);
            }
            K::CommandRejected { reason } => {
                self.u64(23);
                self.str(reason);
            }
            K::BrokerFenced { broker, .. } => self.ints(24, &[broker.0 as u64]),
            K::BrokerUnfenced { broker } => self.ints(25, &[broker.0 as u64]),
            K::LeaderElected {
                tp,
                leader,
                leader_epoch: LeaderEpoch(epoch),
                unclean,
                ..
            } => {
                self.ints(26, &[leader.0 as u64, *epoch as u64, *unclean as u64]);
                self.tp(tp);
            }
            K::PartitionOffline { tp } => {
                self.u64(27);
                self.tp(tp);
            }
            K::IsrChanged { tp, isr, .. } => {
                self.u64(28);
                self.tp(tp);
                let isr: Vec<u64> = isr.iter().map(|b| b.0 as u64).collect();
                self.ints(isr.len() as u64, &isr);
            }
            K::FollowerTruncated {
                broker,
                tp,
                from,
                to,
                ..
            } => {
                self.ints(29, &[broker.0 as u64, from.0, to.0]);
                self.tp(tp);
            }
            K::NetworkPartitioned { isolated } => {
                let isolated: Vec<u64> = isolated.iter().map(|b| b.0 as u64).collect();
                self.ints(30, &isolated);
            }
            K::NetworkHealed => self.u64(31),
            K::BrokerPaused { broker } => self.ints(32, &[broker.0 as u64]),
            K::BrokerResumed { broker } => self.ints(33, &[broker.0 as u64]),
            K::LinkDelayed { from, to, extra_ms } => {
                self.ints(34, &[from.0 as u64, to.0 as u64, *extra_ms])
            }
            K::TruncationDetected {
                consumer,
                tp,
                position,
                resume,
            } => {
                self.ints(53, &[*consumer as u64, position.0]);
                self.opt_offset(*resume);
                self.tp(tp);
            }
            K::RebalanceStarted {
                broker,
                group,
                reason,
                ..
            } => {
                self.ints(35, &[broker.0 as u64]);
                self.str(group);
                self.str(reason);
            }
            K::GenerationStarted {
                broker,
                group,
                generation,
                protocol,
                leader,
                members,
            } => {
                self.ints(36, &[broker.0 as u64, generation.0 as u64]);
                self.str(group);
                self.str(protocol);
                self.str(leader);
                self.u64(members.len() as u64);
                for m in members {
                    self.str(m);
                }
            }
            K::GroupStable {
                broker,
                group,
                generation,
            } => {
                self.ints(37, &[broker.0 as u64, generation.0 as u64]);
                self.str(group);
            }
            K::JoinPhaseExtended {
                broker,
                group,
                until_ms,
            } => {
                self.ints(51, &[broker.0 as u64, *until_ms]);
                self.str(group);
            }
            K::MemberRemoved {
                broker,
                group,
                member,
                reason,
            } => {
                self.ints(38, &[broker.0 as u64]);
                self.str(group);
                self.str(member);
                self.str(reason);
            }
            K::OffsetsLoaded {
                broker,
                partition,
                offsets,
            } => self.ints(39, &[broker.0 as u64, *partition as u64, *offsets as u64]),
            K::MemberJoined {
                consumer,
                group,
                member,
                generation,
                leader,
            } => {
                self.ints(40, &[*consumer as u64, generation.0 as u64, *leader as u64]);
                self.str(group);
                self.str(member);
            }
            K::PartitionsRevoked {
                consumer,
                tps,
                lost,
            } => {
                self.ints(41, &[*consumer as u64, *lost as u64, tps.len() as u64]);
                for tp in tps {
                    self.tp(tp);
                }
            }
            K::PartitionsAssigned {
                consumer,
                generation,
                added,
                owned,
            } => {
                self.ints(
                    42,
                    &[
                        *consumer as u64,
                        generation.0 as u64,
                        *owned as u64,
                        added.len() as u64,
                    ],
                );
                for tp in added {
                    self.tp(tp);
                }
            }
            K::OffsetsCommitted {
                consumer,
                offsets,
                error,
            } => {
                self.ints(43, &[*consumer as u64, *offsets as u64]);
                self.str(error.name());
            }
            K::MemberLeaving { consumer, why } => {
                self.ints(44, &[*consumer as u64]);
                self.str(why);
            }
            K::ConsumerCrashed {
                consumer,
                processed,
                unprocessed,
            } => self.ints(
                45,
                &[*consumer as u64, *processed as u64, *unprocessed as u64],
            ),
            K::ConsumerRestarted { consumer } => self.ints(46, &[*consumer as u64]),
            K::ProcessingTimeChanged {
                consumer,
                per_record_us,
            } => self.ints(47, &[*consumer as u64, *per_record_us]),
            K::TransactionCompleted {
                broker,
                transactional_id,
                producer_id,
                committed,
                timed_out,
                partitions,
            } => {
                let flags = u64::from(*committed) | u64::from(*timed_out) << 1;
                let ints = [
                    broker.0 as u64,
                    *producer_id as u64,
                    flags,
                    *partitions as u64,
                ];
                self.ints(54, &ints);
                self.str(transactional_id);
            }
            K::TransactionTimedOut {
                broker,
                transactional_id,
                timeout_ms,
            } => {
                self.ints(55, &[broker.0 as u64, *timeout_ms as u64]);
                self.str(transactional_id);
            }
            K::ProducerFenced { producer, error } => {
                self.ints(56, &[*producer as u64]);
                self.str(error.name());
            }
            K::Alert {
                rule,
                scope,
                fired,
                value_milli,
            } => {
                self.ints(57, &[u64::from(*fired), *value_milli as u64]);
                self.str(rule);
                self.str(scope);
            }
            K::TopicAutoCreated {
                topic,
                partitions,
                replication_factor,
                broker,
            } => {
                let ints = [
                    *partitions as u64,
                    *replication_factor as u64,
                    broker.0 as u64,
                ];
                self.ints(48, &ints);
                self.str(topic);
            }
            K::SendTimedOut {
                producer,
                topic,
                error,
            } => {
                self.ints(49, &[*producer as u64]);
                self.str(topic);
                self.str(error.name());
            }
            K::TopicNotPresent { consumer, topic } => {
                self.ints(50, &[*consumer as u64]);
                self.str(topic);
            }
        }
    }

    fn ints(&mut self, tag: u64, values: &[u64]) {
        self.u64(tag);
        for &v in values {
            self.u64(v);
        }
    }
}

impl Default for Digest {
    fn default() -> Self {
        Digest::new()
    }
}

/// The trace: a bounded window of recent events plus a digest over all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    recent: VecDeque<TraceEvent>,
    capacity: usize,
    digest: Digest,
    total: u64,
}

impl Trace {
    pub fn new(capacity: usize) -> Trace {
        Trace {
            recent: VecDeque::new(),
            capacity,
            digest: Digest::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, event: TraceEvent) {
        self.digest.add(&event);
        self.total += 1;
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// The most recent events, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &TraceEvent> + ExactSizeIterator {
        self.recent.iter()
    }

    pub fn digest(&self) -> u64 {
        self.digest.value()
    }

    /// How many events were ever recorded.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// An event's sentence with the clients named as the panels name them (see
/// [`TraceKind::explained`]).
#[derive(Clone, Copy, Debug)]
pub struct Explained<'a> {
    kind: &'a TraceKind,
    names: &'a NodeNames,
}

impl TraceKind {
    /// The event in words, naming producers and consumers from `names`, and saying why where
    /// the event knows (a config and its value, the broker at fault).
    pub fn explained<'a>(&'a self, names: &'a NodeNames) -> Explained<'a> {
        Explained { kind: self, names }
    }
}

impl fmt::Display for TraceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.explained(&NodeNames::NONE).fmt(f)
    }
}

/// Broker ids as Kafka's tools list them: `[0, 2]`.
fn list(ids: &[BrokerId]) -> String {
    let ids: Vec<String> = ids.iter().map(|b| b.0.to_string()).collect();
    format!("[{}]", ids.join(", "))
}

/// Offsets `first` to `last` as words: `offset 7`, or `offsets 273 to 277`.
fn offsets(first: Offset, last: Offset) -> String {
    if first == last {
        format!("offset {first}")
    } else {
        format!("offsets {first} to {last}")
    }
}

fn fenced(f: &mut fmt::Formatter<'_>, broker: BrokerId, cause: &FenceCause) -> fmt::Result {
    match cause {
        FenceCause::SessionExpired { session_timeout_ms } => write!(
            f,
            "controller fenced broker {broker}: no heartbeat for \
             broker.session.timeout.ms = {session_timeout_ms}; it leaves every ISR and \
             the partitions it led elect new leaders"
        ),
        FenceCause::RestartedWithinSession => write!(
            f,
            "controller fenced broker {broker}: it restarted before its session expired, \
             so it rejoins as a follower"
        ),
    }
}

/// `ISR of orders-3 shrank to [0, 1]: broker 2 did not catch up for ...`: the replicas that
/// left or joined, and why, from the cause the controller recorded.
fn isr_changed(
    f: &mut fmt::Formatter<'_>,
    tp: &TopicPartition,
    isr: &[BrokerId],
    previous: &[BrokerId],
    cause: &PartitionChangeCause,
) -> fmt::Result {
    let left: Vec<BrokerId> = previous
        .iter()
        .filter(|b| !isr.contains(b))
        .copied()
        .collect();
    let joined: Vec<BrokerId> = isr
        .iter()
        .filter(|b| !previous.contains(b))
        .copied()
        .collect();
    let how = match (left.is_empty(), joined.is_empty()) {
        (false, true) => "shrank to",
        (true, false) => "grew to",
        _ => "is now",
    };
    write!(f, "ISR of {tp} {how} {}", list(isr))?;
    let who = |ids: &[BrokerId]| match ids {
        [one] => format!("broker {one}"),
        many => format!("brokers {}", list(many)),
    };
    match cause {
        PartitionChangeCause::AlterPartition {
            replica_lag_time_max_ms,
            ..
        } if !left.is_empty() => write!(
            f,
            ": {} did not catch up for replica.lag.time.max.ms = {replica_lag_time_max_ms}",
            who(&left)
        ),
        PartitionChangeCause::AlterPartition { .. } if !joined.is_empty() => write!(
            f,
            ": {} caught up with the leader's high watermark",
            who(&joined)
        ),
        PartitionChangeCause::Fenced(b) if !left.is_empty() => write!(
            f,
            ": broker {b} was fenced, and a fenced broker leaves every ISR"
        ),
        PartitionChangeCause::Fenced(_) | PartitionChangeCause::Unfenced(_) if isr.len() == 1 => {
            write!(f, ": an unclean election keeps only its new leader")
        }
        _ => Ok(()),
    }
}

fn leader_elected(
    f: &mut fmt::Formatter<'_>,
    tp: &TopicPartition,
    (leader, epoch, unclean): (BrokerId, LeaderEpoch, bool),
    previous: Option<BrokerId>,
    cause: &PartitionChangeCause,
) -> fmt::Result {
    let how = if unclean {
        " UNCLEAN (from outside the ISR: unclean.leader.election.enable = true)"
    } else {
        ""
    };
    write!(
        f,
        "{tp}: broker {leader} elected leader{how}, epoch {epoch}"
    )?;
    match (cause, previous) {
        (PartitionChangeCause::Fenced(b), Some(p)) if *b == p => write!(
            f,
            ": leader {p} was fenced; broker {leader} is the first replica in the assignment \
             that is in the ISR and not fenced"
        ),
        (PartitionChangeCause::Unfenced(b), _) => {
            write!(
                f,
                ": the partition had no leader until broker {b} came back"
            )
        }
        (PartitionChangeCause::PreferredLeader, _) => write!(
            f,
            ": back to its preferred replica (auto.leader.rebalance.enable = true)"
        ),
        _ => Ok(()),
    }
}

fn rebalance_started(
    f: &mut fmt::Formatter<'_>,
    (broker, group, reason): (BrokerId, &str, &str),
    cooperative: bool,
) -> fmt::Result {
    write!(
        f,
        "rebalance of group {group} (coordinator {broker}): {reason}; "
    )?;
    if cooperative {
        write!(
            f,
            "cooperative protocol: members keep the partitions that stay theirs"
        )
    } else {
        write!(
            f,
            "eager protocol: every member stops and gives up its partitions"
        )
    }
}

fn truncated(
    f: &mut fmt::Formatter<'_>,
    (broker, tp, from, to): (BrokerId, &TopicPartition, Offset, Offset),
    records: &TruncatedRecords,
    names: &NodeNames,
) -> fmt::Result {
    write!(
        f,
        "broker {broker} truncated {tp} from offset {from} to {to}: its leader's log diverges there"
    )?;
    let TruncatedRecords::Acknowledged(lost) = records else {
        return Ok(());
    };
    for (producer, n, acks) in lost {
        let what = if *n == 1 { "record" } else { "records" };
        write!(
            f,
            "; {what} lost: {n} acknowledged to {} with acks={acks}, which the new leader \
             never had",
            names.producer(*producer)
        )?;
    }
    Ok(())
}

fn send_timed_out(f: &mut fmt::Formatter<'_>, p: &str, topic: &str, e: ErrorCode) -> fmt::Result {
    match e {
        ErrorCode::MetadataTimeout => write!(
            f,
            "{p}: send() failed: topic {topic} not present in metadata after max.block.ms"
        ),
        _ => write!(
            f,
            "{p}: send() failed: buffer.memory had no room for a new batch within \
             max.block.ms ({})",
            e.name()
        ),
    }
}

fn truncation_detected(
    f: &mut fmt::Formatter<'_>,
    c: &str,
    tp: &TopicPartition,
    position: Offset,
    resume: Option<Offset>,
) -> fmt::Result {
    write!(f, "{c}: truncation detected in {tp} at offset {position}: ")?;
    match resume {
        Some(resume) => write!(
            f,
            "the new leader's log diverges at {resume}; resuming there (KIP-320)"
        ),
        None => write!(
            f,
            "the new leader knows no such epoch; resetting as auto.offset.reset says (KIP-320)"
        ),
    }
}

impl fmt::Display for Explained<'_> {
    // A table, one sentence per event: rustfmt would spread every arm's pattern over a line per
    // field and double its length without making it clearer.
    #[rustfmt::skip]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TraceKind as K;
        let n = self.names;
        let pr = |i: &u32| n.producer(*i);
        let co = |i: &u32| n.consumer(*i);
        match self.kind {
            K::BrokerStarted { broker } => write!(f, "broker {broker} started"),
            K::BrokerCrashed { broker } => write!(f, "broker {broker} crashed"),
            K::BrokerRestarted { broker } => write!(f, "broker {broker} restarted"),
            K::TopicCreated { topic, partitions, replication_factor: rf } => {
                write!(f, "topic {topic} created: {partitions} partitions, replication factor {rf}")
            }
            K::TopicDeleted { topic } => write!(f, "topic {topic} deleted"),
            K::TopicConfigAltered { topic, keys } => {
                write!(f, "topic {topic}: configs altered ({keys})")
            }
            K::TopicAutoCreated { topic, partitions, replication_factor: rf, broker } => write!(
                f,
                "topic {topic} auto-created (asked by broker {broker}, \
                 auto.create.topics.enable = true): {partitions} partitions (num.partitions), \
                 replication factor {rf} (default.replication.factor)"
            ),
            K::SendTimedOut { producer, topic, error } => send_timed_out(f, &pr(producer), topic, *error),
            K::TopicNotPresent { consumer, topic } => {
                let c = co(consumer);
                write!(f, "{c}: topic {topic} not present in metadata (waiting for it)")
            }
            K::ProducerAdded { producer } => write!(f, "{} added", pr(producer)),
            K::ProducerRemoved { producer } => write!(f, "{} removed", pr(producer)),
            K::ConsumerAdded { consumer } => write!(f, "{} added", co(consumer)),
            K::ConsumerRemoved { consumer } => write!(f, "{} removed", co(consumer)),
            K::BatchSent { producer, broker, tp, records, attempt } => {
                write!(f, "{} sent {records} records of {tp} to broker {broker}", pr(producer))?;
                if *attempt > 0 {
                    write!(f, " (retry {attempt})")?;
                }
                Ok(())
            }
            K::BatchAppended { broker, tp, base_offset, records } => {
                let at = base_offset;
                write!(f, "broker {broker} appended {records} records to {tp} at offset {at}")
            }
            K::DuplicateBatch { broker, tp, base_offset } => write!(
                f,
                "broker {broker} ignored a duplicate batch of {tp} \
                 (already at offset {base_offset}; enable.idempotence)"
            ),
            K::BatchAcked { producer, tp, base_offset: Some(o), records } => {
                write!(f, "{}: {records} records of {tp} acked at offset {o}", pr(producer))
            }
            K::BatchAcked { producer, tp, base_offset: None, records } => {
                write!(f, "{}: {records} records of {tp} sent with acks=0", pr(producer))
            }
            K::BatchSplit { producer, tp, records, batches } => write!(
                f,
                "{}: batch of {tp} too large (MESSAGE_TOO_LARGE): its {records} records go again \
                 in {batches} batches of at most batch.size",
                pr(producer)
            ),
            K::BatchRetrying { producer, tp, error, attempt } => {
                write!(f, "{}: batch of {tp} failed with {error}, retry {attempt}", pr(producer))
            }
            K::BatchFailed { producer, tp, records, error } => {
                write!(f, "{}: {records} records of {tp} failed: {error}", pr(producer))
            }
            K::RecordsPolled { consumer, tp, first, last } => {
                write!(f, "{} polled {tp} {}", co(consumer), offsets(*first, *last))
            }
            K::OffsetReset { consumer, tp, offset, earliest } => {
                let to = if *earliest { "earliest" } else { "latest" };
                let c = co(consumer);
                write!(f, "{c} reset {tp} to the {to} offset, {offset} (auto.offset.reset = {to})")
            }
            K::Seek { consumer, tp, offset } => write!(f, "{} seeked {tp} to {offset}", co(consumer)),
            K::ConsumerFailed { consumer, tp, error } => {
                write!(f, "{} failed on {tp}: {error}", co(consumer))
            }
            K::ConnectionClosed { from, to } => {
                write!(f, "connection {} → {} closed", n.node(*from), n.node(*to))
            }
            K::SegmentRolled { broker, tp, base_offset } => {
                write!(f, "broker {broker} rolled a segment of {tp} at offset {base_offset}")
            }
            K::SegmentsDeleted { broker, tp, log_start } => {
                write!(f, "broker {broker} deleted old segments of {tp}; log start now {log_start}")
            }
            K::CommandRejected { reason } => write!(f, "command rejected: {reason}"),
            K::BrokerFenced { broker, cause } => fenced(f, *broker, cause),
            K::BrokerUnfenced { broker } => {
                write!(f, "controller unfenced broker {broker}: it heartbeats again")
            }
            K::LeaderElected { tp, leader, leader_epoch, unclean, previous, cause } => {
                leader_elected(f, tp, (*leader, *leader_epoch, *unclean), *previous, cause)
            }
            K::PartitionOffline { tp } => write!(f, "{tp} is offline: no in-sync replica can lead"),
            K::IsrChanged { tp, isr, previous, cause } => isr_changed(f, tp, isr, previous, cause),
            K::FollowerTruncated { broker, tp, from, to, records } => {
                truncated(f, (*broker, tp, *from, *to), records, n)
            }
            K::NetworkPartitioned { isolated } => {
                write!(f, "network partition: brokers {} cut off", list(isolated))
            }
            K::NetworkHealed => write!(f, "network healed"),
            K::BrokerPaused { broker } => write!(f, "broker {broker} paused (a long GC stop)"),
            K::BrokerResumed { broker } => write!(f, "broker {broker} resumed"),
            K::LinkDelayed { from, to, extra_ms } => {
                write!(f, "link broker {from} ↔ broker {to} slowed by {extra_ms} ms")
            }
            K::TruncationDetected { consumer, tp, position, resume } => {
                truncation_detected(f, &co(consumer), tp, *position, *resume)
            }
            K::RebalanceStarted { broker, group, reason, cooperative } => {
                rebalance_started(f, (*broker, group, reason), *cooperative)
            }
            K::GenerationStarted { broker, group, generation, protocol, leader, members } => {
                let members: Vec<&str> = members.iter().map(|m| &**m).collect();
                write!(
                    f,
                    "coordinator {broker}: group {group} generation {generation} ({protocol}), \
                     leader {leader}, members [{}]",
                    members.join(", ")
                )
            }
            K::GroupStable { broker, group, generation } => {
                write!(f, "coordinator {broker}: group {group} stable in generation {generation}")
            }
            K::JoinPhaseExtended { broker, group, until_ms } => write!(
                f,
                "coordinator {broker}: group {group}: no member rejoined, only static members \
                 kept; the join phase waits until {}",
                Instant(*until_ms * 1000)
            ),
            K::MemberRemoved { broker, group, member, reason } => {
                write!(f, "coordinator {broker}: removed {member} from {group} ({reason})")
            }
            K::OffsetsLoaded { broker, partition, offsets } => write!(
                f,
                "broker {broker} became coordinator for __consumer_offsets-{partition}: \
                 {offsets} committed offsets loaded"
            ),
            K::MemberJoined { consumer, group, member, generation, leader } => {
                let role = if *leader { "leader" } else { "follower" };
                let c = co(consumer);
                write!(f, "{c} joined {group} as {member} ({role}), generation {generation}")
            }
            K::PartitionsRevoked { consumer, tps, lost } => {
                let tps: Vec<String> = tps.iter().map(|t| t.to_string()).collect();
                let how = if *lost { "lost" } else { "revoked" };
                write!(f, "{} {how} {}", co(consumer), tps.join(", "))
            }
            K::PartitionsAssigned { consumer, generation, added, owned } => {
                let tps: Vec<String> = added.iter().map(|t| t.to_string()).collect();
                let (c, tps) = (co(consumer), tps.join(", "));
                write!(f, "{c} assigned [{tps}] in generation {generation}, owns {owned}")
            }
            K::OffsetsCommitted { consumer, offsets, error: ErrorCode::None } => {
                write!(f, "{} committed {offsets} offsets", co(consumer))
            }
            K::OffsetsCommitted { consumer, offsets, error } => {
                write!(f, "{}: commit of {offsets} offsets failed: {error}", co(consumer))
            }
            K::MemberLeaving { consumer, why } => write!(f, "{} leaves its group: {why}", co(consumer)),
            K::ConsumerCrashed { consumer, processed, unprocessed } => write!(
                f,
                "{} crashed ({processed} records of its poll processed, {unprocessed} not)",
                co(consumer)
            ),
            K::ConsumerRestarted { consumer } => write!(f, "{} restarted", co(consumer)),
            K::ProcessingTimeChanged { consumer, per_record_us: us } => {
                write!(f, "{} now needs {us} µs per record", co(consumer))
            }
            K::TransactionCompleted {
                broker, transactional_id: id, committed, timed_out, partitions, ..
            } => {
                let what = match (committed, timed_out) {
                    (true, _) => "committed",
                    (false, true) => "aborted (timed out)",
                    (false, false) => "aborted",
                };
                let n = partitions;
                let by = format!("(coordinator {broker})");
                write!(f, "transaction of {id} {what}: markers in {n} partitions {by}")
            }
            K::TransactionTimedOut { transactional_id: id, timeout_ms, broker } => write!(
                f,
                "coordinator {broker} aborts the transaction of {id}: open longer than \
                 transaction.timeout.ms = {timeout_ms}; its producer is fenced"
            ),
            K::ProducerFenced { producer, error } => write!(
                f,
                "{} is fenced ({error}): a newer instance or its coordinator took over",
                pr(producer)
            ),
            K::Alert { rule, scope, fired, value_milli } => {
                let value = crate::sim::decimal(*value_milli);
                let what = if *fired { "fired" } else { "resolved" };
                write!(f, "alert {what}: {rule} ({scope} is {value})")
            }
        }
    }
}
