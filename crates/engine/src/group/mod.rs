//! Consumer groups: the client-side assignors and the broker-side group coordinator of the
//! classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch).
//! The member side lives in `consumer`.

pub mod assignor;
pub mod coordinator;
