//! Consumer groups of the classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch): the client-side assignors ([`assignor`]), a group and its
//! members with the join and sync phases ([`classic`]), the broker-side coordinator that
//! answers the requests and persists the groups ([`coordinator`]), and the records it keeps
//! in `__consumer_offsets` (`records`). The member side lives in `consumer::member`.

pub mod assignor;
pub mod classic;
pub mod coordinator;
mod records;

/// A group's generation (Kafka's `generationId`): 0 for a new group, one more each time a
/// join phase completes. A member outside any generation has none (`Option`), where Kafka's
/// wire protocol says −1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation(pub u32);

impl Generation {
    pub fn next(self) -> Generation {
        Generation(self.0 + 1)
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
