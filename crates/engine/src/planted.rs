//! Deliberate bugs, to prove that the invariants catch real mistakes (the checker has teeth).
//! Compiled only with the `planted-bugs` feature; a test switches one on for a simulation
//! with `Sim::plant`. Nothing a scenario file, the CLI or the playground says can reach them.
//!
//! Each names the invariant that must catch it; `tests/integration/swarm.rs` runs the swarm
//! with each in turn and reports how many seeds it took.

/// A deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// The leader's high watermark counts only the committed ISR: neither a replica being
    /// added nor a caught-up follower about to join holds it back.
    HwOverCommittedIsrOnly,
    /// A follower joins the ISR as soon as it fetches, before reaching the high watermark.
    ExpandBeforeCaughtUp,
    /// The controller elects an out-of-sync replica although unclean election is off.
    UncleanElection,
    /// A leader never tells a follower its log diverged, so the follower never truncates.
    NoTruncation,
    /// A leader appends a retried idempotent batch again instead of recognising it.
    DuplicateAppend,
    /// A leader accepts an idempotent batch whose sequence is out of order.
    OutOfOrderAccepted,
    /// acks=all is answered as soon as the leader appended, before the high watermark passes.
    AckBeforeHighWatermark,
    /// The coordinator stores one more than the committed offset.
    CommitAboveHighWatermark,
    /// The cooperative-sticky leader hands moving partitions to their new owner at once,
    /// before the old owner revoked them.
    CooperativeDoubleOwner,
    /// A leader lets consumers fetch up to its log end instead of its high watermark.
    ReadPastHighWatermark,
    /// The controller elects a new leader without bumping the leader epoch.
    EpochNotBumped,
    /// The controller's ISR shrink takes the leader out as well.
    ShrinkRemovesLeader,
    /// A consumer that commits after processing commits before it too.
    CommitBeforeProcessing,
    /// A leader lets read_committed consumers fetch up to its high watermark, past the last
    /// stable offset (open transactions' records).
    ReadCommittedPastLso,
    /// A leader leaves out the aborted transactions of a read_committed fetch.
    NoAbortedTransactions,
    /// A leader accepts a transactional write at an epoch older than one it has seen.
    FencedWriteAccepted,
    /// An exactly-once processor commits its input offsets with a plain OffsetCommit after
    /// its transaction commits, instead of inside it (`sendOffsetsToTransaction`).
    OffsetsOutsideTransaction,
    /// A consumer that publishes failed records to retry or dead letter topics commits
    /// without waiting for their copies to be acknowledged.
    CommitBeforeForwarded,
}

impl Bug {
    pub const ALL: [Bug; 18] = [
        Bug::HwOverCommittedIsrOnly,
        Bug::ExpandBeforeCaughtUp,
        Bug::UncleanElection,
        Bug::NoTruncation,
        Bug::DuplicateAppend,
        Bug::OutOfOrderAccepted,
        Bug::AckBeforeHighWatermark,
        Bug::CommitAboveHighWatermark,
        Bug::CooperativeDoubleOwner,
        Bug::ReadPastHighWatermark,
        Bug::EpochNotBumped,
        Bug::ShrinkRemovesLeader,
        Bug::CommitBeforeProcessing,
        Bug::ReadCommittedPastLso,
        Bug::NoAbortedTransactions,
        Bug::FencedWriteAccepted,
        Bug::OffsetsOutsideTransaction,
        Bug::CommitBeforeForwarded,
    ];

    /// The bug named as in the source (`--plant` of `kplay-swarm`).
    pub fn named(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| format!("{b:?}") == name)
    }

    /// The invariants (or liveness properties) that catch it.
    pub fn caught_by(self) -> &'static [&'static str] {
        match self {
            Bug::HwOverCommittedIsrOnly | Bug::ExpandBeforeCaughtUp => {
                &["HighWatermarkBelowIsrLeo", "StrongIsr"]
            }
            // Whichever acknowledged write the out-of-sync leader lacks: a record, a read record
            // or an offset commit in `__consumer_offsets`.
            Bug::UncleanElection => &[
                "NoAcknowledgedRecordLost",
                "NoConsumedRecordLost",
                "NoAcknowledgedCommitLost",
                "ExactlyOnceOutput",
            ],
            Bug::NoTruncation => &["StrongIsr"],
            Bug::DuplicateAppend | Bug::OutOfOrderAccepted => &["IdempotentOnceInOrder"],
            Bug::AckBeforeHighWatermark => &["NoAcknowledgedRecordLost"],
            Bug::CommitAboveHighWatermark => &["CommittedWithinHighWatermark"],
            Bug::CooperativeDoubleOwner => &["GroupOneOwner"],
            Bug::ReadPastHighWatermark => &["NoConsumedRecordLost", "CommittedWithinHighWatermark"],
            Bug::EpochNotBumped => &["OneLeaderPerEpoch"],
            Bug::ShrinkRemovesLeader => &["LeaderInIsr"],
            Bug::CommitBeforeProcessing => &["CommitsAfterProcessingLoseNothing"],
            Bug::ReadCommittedPastLso | Bug::NoAbortedTransactions => {
                &["ReadCommittedSeesOnlyCommitted"]
            }
            Bug::FencedWriteAccepted => &["FencedProducerNeverWrites"],
            Bug::OffsetsOutsideTransaction => &["ExactlyOnceOutput"],
            Bug::CommitBeforeForwarded => &["FailedRecordNeverLost"],
        }
    }
}

/// The bugs planted in a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Planted(u32);

impl Planted {
    pub fn one(bug: Bug) -> Planted {
        Planted(1 << bug as u32)
    }

    pub fn has(self, bug: Bug) -> bool {
        self.0 & (1 << bug as u32) != 0
    }
}
