//! Consumer groups. For now the client-side assignors; the coordinator and the classic
//! protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) come next.

pub mod assignor;
