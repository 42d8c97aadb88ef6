//! Consumer groups of the classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch): the client-side assignors ([`assignor`]), a group and its
//! members with the join and sync phases ([`classic`]), the broker-side coordinator that
//! answers the requests and persists the groups ([`coordinator`]), and the records it keeps
//! in `__consumer_offsets` (`records`). The member side lives in `consumer::member`.

pub mod assignor;
pub mod classic;
pub mod coordinator;
mod records;
