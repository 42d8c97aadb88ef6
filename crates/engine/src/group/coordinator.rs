//! The group coordinator of the classic protocol (reference §4.2), as it runs inside the
//! broker that leads a group's `__consumer_offsets` partition (§1.5).
//!
//! It owns membership (member ids, generations, the join and sync barriers, sessions) and the
//! committed offsets of the groups it coordinates. It never touches a log: the broker appends
//! commits to `__consumer_offsets` and answers once they are replicated. Committed offsets
//! follow the log, as in Kafka 4.0's group coordinator (a state machine over its partition):
//! the broker hands over every commit record the high watermark passes
//! ([`Coordinator::apply_commits`]), whether or not its request timed out meanwhile. A broker
//! that becomes leader of an offsets partition calls [`Coordinator::load`] with the
//! partition's records, so committed offsets survive failover.
//!
//! Group metadata (generation, protocol, leader, members and their assignments) is written to
//! the same partition when the leader hands in a generation's assignment and when the group
//! empties, as Kafka's `storeGroup` does, so a new coordinator knows the members and no
//! rebalance follows a failover. As in Kafka, the generation becomes Stable and the members
//! get their assignments only once that record is replicated
//! ([`Coordinator::generation_stored`]): a coordinator cut off from its followers cannot hand
//! out partitions its successor does not know of.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::assignor::Strategy;
use super::classic::{join_error, not_coordinator, respond, sync_response, InitialDelay};
pub use super::classic::{Group, GroupState, Member};
use super::records::{commit_key, encode_group, parse_commit, parse_group};
use super::Generation;
use crate::node::Effect;
use crate::partitioner::coordinator_partition;
use crate::protocol::{
    ErrorCode, JoinGroupRequest, MemberRef, Message, OffsetCommitRequest, SyncGroupRequest,
};
use crate::record::{
    ControlType, Offset, ProducerId, Record, RecordBatch, RecordId, TopicPartition,
};
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId, TraceKind};

/// The internal topic holding committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The record id of records the coordinator writes (not a producer's: the ledger skips them).
pub const INTERNAL_RECORD: RecordId = RecordId {
    producer: u32::MAX,
    seq: 0,
};

/// Broker settings the coordinator acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorConfig {
    pub initial_rebalance_delay: Duration,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    pub offsets_partitions: u32,
}

/// A group record the broker must append to `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupWrite {
    pub partition: u32,
    pub record: Record,
    pub group: Arc<str>,
    /// The generation whose SyncGroup answers wait for this record, if any.
    pub generation: Option<Generation>,
}

/// A validated commit the broker must append before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPlan {
    pub partition: u32,
    pub records: Vec<Record>,
}

/// One offset commit: group, partition, offset.
type Commit = (Arc<str>, TopicPartition, Offset);

/// The coordinator of one broker: every group whose offsets partition this broker leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    broker: BrokerId,
    config: CoordinatorConfig,
    groups: BTreeMap<Arc<str>, Group>,
    /// Timer index → group id (timers carry no strings).
    indices: BTreeMap<u32, Arc<str>>,
    next_index: u32,
    /// The offsets partitions this broker leads and has loaded, with the offset below which
    /// their commits are applied (their high watermark, as last handed over).
    loaded: BTreeMap<u32, Offset>,
    /// Offsets committed inside transactions (TxnOffsetCommit) below the high watermark, by
    /// offsets partition and producer id, waiting for their marker: COMMIT applies them, ABORT
    /// drops them (`GroupMetadata.pendingTransactionalOffsetCommits`).
    txn_offsets: BTreeMap<(u32, ProducerId), Vec<Commit>>,
    next_member: u64,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted: crate::planted::Planted,
}

impl Coordinator {
    pub fn new(broker: BrokerId, config: CoordinatorConfig) -> Coordinator {
        Coordinator {
            broker,
            config,
            groups: BTreeMap::new(),
            indices: BTreeMap::new(),
            next_index: 0,
            loaded: BTreeMap::new(),
            txn_offsets: BTreeMap::new(),
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
            next_member: 0,
        }
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn partition_of(&self, group: &str) -> u32 {
        coordinator_partition(group, self.config.offsets_partitions)
    }

    /// Whether this broker coordinates `group` now.
    pub fn coordinates(&self, group: &str) -> bool {
        self.loaded.contains_key(&self.partition_of(group))
    }

    /// The process died: everything in memory is gone.
    pub fn crash(&mut self) {
        self.groups.clear();
        self.indices.clear();
        self.loaded.clear();
        self.txn_offsets.clear();
    }

    /// This broker became leader of `__consumer_offsets-{partition}`: read its records, the
    /// later ones winning (commits below the high watermark `hw` only; the rest come with
    /// `apply_commits` as it moves). Restored members get a full session from now.
    pub fn load<'a>(
        &mut self,
        now: Instant,
        partition: u32,
        batches: impl Iterator<Item = &'a RecordBatch> + Clone,
        hw: Offset,
        out: &mut Vec<Effect>,
    ) {
        self.loaded.insert(partition, hw);
        self.txn_offsets.retain(|(p, _), _| *p != partition);
        // Groups left Dead by an earlier unload start over from the log.
        let dead: Vec<Arc<str>> = self
            .groups
            .values()
            .filter(|g| g.state == GroupState::Dead && self.partition_of(&g.id) == partition)
            .map(|g| g.id.clone())
            .collect();
        for id in dead {
            let g = self.groups.remove(&id).expect("present");
            self.indices.remove(&g.index);
        }
        let mut count = 0;
        let mut any = false;
        let mut restored = BTreeSet::new();
        for batch in batches.clone() {
            any = true;
            count += self.fold_commits(partition, batch, Offset(0), hw);
        }
        let records = batches.flat_map(|b| b.records.iter());
        for record in records {
            if let Some(stored) = parse_group(record) {
                if self.partition_of(&stored.id) != partition {
                    continue;
                }
                for m in stored.members.keys() {
                    // Ids handed out later must not repeat a restored one.
                    let n = m
                        .rsplit('-')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    self.next_member = self.next_member.max(n);
                }
                restored.insert(stored.id.clone());
                let g = self.group_mut(&stored.id);
                g.generation = stored.generation;
                g.protocol = stored.protocol;
                g.leader = stored.leader;
                g.members = stored.members;
                g.state = if g.members.is_empty() {
                    GroupState::Empty
                } else {
                    GroupState::Stable
                };
            }
        }
        for id in restored {
            let g = self.groups.get_mut(&id).expect("restored");
            let mut earliest = Instant::MAX;
            for m in g.members.values_mut() {
                m.session_deadline = now + m.session_timeout;
                earliest = earliest.min(m.session_deadline);
            }
            if earliest < Instant::MAX {
                g.wake_at(out, earliest);
            }
        }
        if !any {
            return; // A new, empty partition: nothing to tell.
        }
        out.push(Effect::Trace(TraceKind::OffsetsLoaded {
            broker: self.broker,
            partition,
            offsets: count,
        }));
    }

    /// This broker no longer leads `__consumer_offsets-{partition}`: its groups move away.
    /// Waiting members learn NOT_COORDINATOR and look for the new coordinator.
    pub fn unload(&mut self, partition: u32, out: &mut Vec<Effect>) {
        if self.loaded.remove(&partition).is_none() {
            return;
        }
        self.txn_offsets.retain(|(p, _), _| *p != partition);
        let gone: Vec<Arc<str>> = self
            .groups
            .keys()
            .filter(|g| self.partition_of(g) == partition)
            .cloned()
            .collect();
        for id in gone {
            let group = self.groups.get_mut(&id).expect("present");
            group.state = GroupState::Dead;
            group.pending.clear();
            group.join_deadline = None;
            group.dirty = false;
            for m in std::mem::take(&mut group.members).values() {
                if let Some(c) = m.awaiting_join {
                    let msg = join_error(c, ErrorCode::NotCoordinator, m.id.clone());
                    respond(out, m.client, msg);
                }
                if let Some(c) = m.awaiting_sync {
                    respond(
                        out,
                        m.client,
                        sync_response(c, ErrorCode::NotCoordinator, vec![]),
                    );
                }
            }
        }
    }

    fn group_mut(&mut self, id: &Arc<str>) -> &mut Group {
        if !self.groups.contains_key(id) {
            let index = self.next_index;
            self.next_index += 1;
            self.indices.insert(index, id.clone());
            self.groups
                .insert(id.clone(), Group::new(id.clone(), index));
        }
        self.groups.get_mut(id).expect("just inserted")
    }

    fn new_member_id(&mut self, prefix: &str) -> Arc<str> {
        // Kafka appends a random UUID; a counter keeps runs reproducible and ids readable.
        self.next_member += 1;
        Arc::from(format!("{prefix}-{}", self.next_member))
    }

    /// A group request (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch): answered
    /// here, or with NOT_COORDINATOR when this broker does not coordinate the group.
    pub fn handle(&mut self, now: Instant, from: NodeId, msg: Message, out: &mut Vec<Effect>) {
        let group = match &msg {
            Message::JoinGroup(r) => &r.group_id,
            Message::SyncGroup(r) => &r.group_id,
            Message::Heartbeat(r) | Message::LeaveGroup(r) => &r.group_id,
            Message::OffsetFetch { group_id, .. } => group_id,
            other => unreachable!("the coordinator got {}", other.kind()),
        };
        if !self.coordinates(group) {
            respond(out, from, not_coordinator(msg));
            return;
        }
        match msg {
            Message::JoinGroup(r) => self.on_join(now, from, r, out),
            Message::SyncGroup(r) => self.on_sync(now, from, r, out),
            Message::Heartbeat(r) => self.on_heartbeat(now, from, r, out),
            Message::LeaveGroup(r) => self.on_leave(now, from, r, out),
            Message::OffsetFetch {
                correlation_id,
                group_id,
                partitions,
                ..
            } => {
                let offsets = self.fetch_offsets(&group_id, &partitions);
                let msg = Message::OffsetFetchResponse {
                    correlation_id,
                    error: ErrorCode::None,
                    offsets,
                };
                respond(out, from, msg);
            }
            _ => unreachable!("matched above"),
        }
    }

    /// JoinGroup (Kafka's `GroupMetadataManager.classicGroupJoin`), by case: a static member
    /// (re)joining without a member id, a new dynamic member (named first, KIP-394), or a
    /// known member rejoining.
    fn on_join(
        &mut self,
        now: Instant,
        from: NodeId,
        req: JoinGroupRequest,
        out: &mut Vec<Effect>,
    ) {
        let c = req.correlation_id;
        let timeout = req.session_timeout_ms;
        if timeout < self.config.min_session_timeout_ms
            || timeout > self.config.max_session_timeout_ms
        {
            let msg = join_error(c, ErrorCode::InvalidSessionTimeout, req.member_id);
            return respond(out, from, msg);
        }
        // A member must share an assignor with the others (INCONSISTENT_GROUP_PROTOCOL).
        if !self.group_mut(&req.group_id).supports_protocols(&req) {
            let msg = join_error(c, ErrorCode::InconsistentGroupProtocol, req.member_id);
            return respond(out, from, msg);
        }
        let member_id = match (req.member_id.is_empty(), &req.instance_id) {
            (true, Some(instance)) => {
                let new_id = self.new_member_id(instance);
                let group = self.group_mut(&req.group_id);
                if group.replace_static_member(now, from, &req, &new_id, out) {
                    return; // Back in its generation, no rebalance.
                }
                new_id
            }
            (true, None) => {
                let new_id = self.new_member_id(&req.client_id);
                let group = self.group_mut(&req.group_id);
                return group.require_member_id(now, from, &req, new_id, out);
            }
            (false, _) => {
                let group = self.group_mut(&req.group_id);
                if !group.knows(&req.member_id) {
                    let msg = join_error(c, ErrorCode::UnknownMemberId, req.member_id);
                    return respond(out, from, msg);
                }
                req.member_id.clone()
            }
        };
        self.next_member += 1;
        let joined = self.next_member;
        let (broker, config) = (self.broker, &self.config);
        let group = self.groups.get_mut(&req.group_id).expect("created above");
        let is_new = group.add_or_update_member(now, from, &req, &member_id, joined);
        let reason = match is_new {
            true => format!("{member_id} joined"),
            false => format!("{member_id} rejoined"),
        };
        match group.state {
            GroupState::PreparingRebalance => {
                // Kafka's `addMemberAndRebalance`: a new member asks for another window.
                if let (true, Some(initial)) = (is_new, &mut group.initial_delay) {
                    initial.new_member_added = true;
                }
            }
            _ => group.prepare_rebalance(broker, config, now, reason, out),
        }
        group.maybe_complete_join(broker, now, out);
    }

    fn on_sync(
        &mut self,
        now: Instant,
        from: NodeId,
        req: SyncGroupRequest,
        out: &mut Vec<Effect>,
    ) {
        let c = req.correlation_id;
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            respond(
                out,
                from,
                sync_response(c, ErrorCode::UnknownMemberId, vec![]),
            );
            return;
        };
        let Some(m) = group.members.get_mut(&req.member_id) else {
            respond(
                out,
                from,
                sync_response(c, ErrorCode::UnknownMemberId, vec![]),
            );
            return;
        };
        if req.generation != Some(group.generation) {
            respond(
                out,
                from,
                sync_response(c, ErrorCode::IllegalGeneration, vec![]),
            );
            return;
        }
        m.session_deadline = now + m.session_timeout;
        if matches!(
            group.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) {
            group.pending_sync.remove(&req.member_id);
        }
        match group.state {
            GroupState::Empty => respond(
                out,
                from,
                sync_response(c, ErrorCode::UnknownMemberId, vec![]),
            ),
            GroupState::Dead => respond(
                out,
                from,
                sync_response(c, ErrorCode::NotCoordinator, vec![]),
            ),
            GroupState::PreparingRebalance => respond(
                out,
                from,
                sync_response(c, ErrorCode::RebalanceInProgress, vec![]),
            ),
            GroupState::Stable => {
                let assignment = m.assignment.clone();
                respond(out, from, sync_response(c, ErrorCode::None, assignment));
            }
            GroupState::CompletingRebalance => {
                m.awaiting_sync = Some(c);
                m.client = from;
                if group.leader.as_ref() != Some(&req.member_id) {
                    return;
                }
                if group.storing {
                    return; // The same assignment is being written already.
                }
                let mut given: BTreeMap<Arc<str>, Vec<TopicPartition>> =
                    crate::sort::map(req.assignments);
                for m in group.members.values_mut() {
                    m.assignment = given.remove(&m.id).unwrap_or_default();
                }
                // Written first; the group is Stable once the record is replicated.
                group.storing = true;
                group.dirty = true;
            }
        }
    }

    fn on_heartbeat(&mut self, now: Instant, from: NodeId, req: MemberRef, out: &mut Vec<Effect>) {
        let error = match self.groups.get_mut(&req.group_id) {
            None => ErrorCode::UnknownMemberId,
            Some(group) => match group.members.get_mut(&req.member_id) {
                None => ErrorCode::UnknownMemberId,
                Some(_) if req.generation != Some(group.generation) => ErrorCode::IllegalGeneration,
                Some(m) => {
                    m.session_deadline = now + m.session_timeout;
                    let at = m.session_deadline;
                    group.wake_at(out, at);
                    match group.state {
                        GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
                        _ => ErrorCode::None,
                    }
                }
            },
        };
        let msg = Message::HeartbeatResponse {
            correlation_id: req.correlation_id,
            error,
        };
        respond(out, from, msg);
    }

    fn on_leave(&mut self, now: Instant, from: NodeId, req: MemberRef, out: &mut Vec<Effect>) {
        let broker = self.broker;
        let config = self.config.clone();
        let mut error = ErrorCode::UnknownMemberId;
        if let Some(group) = self.groups.get_mut(&req.group_id) {
            if let Some(m) = group.members.remove(&req.member_id) {
                error = ErrorCode::None;
                if let Some(c) = m.awaiting_join {
                    respond(
                        out,
                        m.client,
                        join_error(c, ErrorCode::UnknownMemberId, m.id.clone()),
                    );
                }
                out.push(Effect::Trace(TraceKind::MemberRemoved {
                    broker,
                    group: group.id.clone(),
                    member: m.id.clone(),
                    reason: "left the group".to_string(),
                }));
                let reason = format!("{} left", m.id);
                group.member_gone(broker, &config, now, reason, out);
            } else if group.pending.remove(&req.member_id).is_some() {
                error = ErrorCode::None;
            }
        }
        let msg = Message::LeaveGroupResponse {
            correlation_id: req.correlation_id,
            error,
        };
        respond(out, from, msg);
    }

    /// A group's deadline passed: expire sessions and pending ids, end a join phase.
    pub fn on_deadline(&mut self, now: Instant, index: u32, out: &mut Vec<Effect>) {
        let broker = self.broker;
        let config = self.config.clone();
        let Some(id) = self.indices.get(&index).cloned() else {
            return;
        };
        let Some(group) = self.groups.get_mut(&id) else {
            return;
        };
        group.pending.retain(|_, &mut deadline| deadline > now);
        let expired: Vec<Arc<str>> = group
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.session_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for member in expired {
            // Removing one may end a join phase that removes the others first.
            let Some(m) = group.members.remove(&member) else {
                continue;
            };
            if let Some(c) = m.awaiting_sync {
                let msg = sync_response(c, ErrorCode::UnknownMemberId, vec![]);
                respond(out, m.client, msg);
            }
            out.push(Effect::Trace(TraceKind::MemberRemoved {
                broker,
                group: group.id.clone(),
                member: member.clone(),
                reason: format!("session timeout ({} ms)", m.session_timeout.as_millis()),
            }));
            let reason = format!("{member}'s session expired");
            group.member_gone(broker, &config, now, reason, out);
        }
        // Kafka's `expirePendingSync`: members of this generation that never sent SyncGroup
        // within the rebalance timeout are removed, and the group rebalances without them.
        if group.sync_deadline.is_some_and(|d| d <= now) {
            group.sync_deadline = None;
            let unsynced: Vec<Arc<str>> = std::mem::take(&mut group.pending_sync)
                .into_iter()
                .filter(|id| group.members.contains_key(id))
                .collect();
            if !unsynced.is_empty() {
                for id in &unsynced {
                    group.members.remove(id);
                    out.push(Effect::Trace(TraceKind::MemberRemoved {
                        broker,
                        group: group.id.clone(),
                        member: id.clone(),
                        reason: "sent no SyncGroup within the rebalance timeout".to_string(),
                    }));
                }
                let names: Vec<&str> = unsynced.iter().map(|id| &**id).collect();
                let reason = format!("{} sent no SyncGroup in time", names.join(", "));
                group.member_gone(broker, &config, now, reason, out);
            }
        }
        if group.state == GroupState::PreparingRebalance
            && group.join_deadline.is_some_and(|d| d <= now)
        {
            match group.initial_delay {
                // `tryCompleteInitialRebalanceElseSchedule`: another window, or the end.
                Some(initial) if initial.new_member_added && initial.remaining > Duration::ZERO => {
                    let window = config.initial_rebalance_delay.min(initial.remaining);
                    group.initial_delay = Some(InitialDelay {
                        window,
                        remaining: initial.remaining.saturating_sub(initial.window),
                        new_member_added: false,
                    });
                    group.join_deadline = Some(now + window);
                    group.wake_at(out, now + window);
                }
                _ => group.complete_join(broker, now, out),
            }
        } else {
            group.maybe_complete_join(broker, now, out);
        }
    }

    /// Checks a commit and says what to append (reference §4.2: current generation only;
    /// during CompletingRebalance, REBALANCE_IN_PROGRESS). Generation -1 and no member id is a
    /// standalone consumer's commit, accepted while the group has no members.
    pub fn plan_commit(
        &mut self,
        now: Instant,
        req: &OffsetCommitRequest,
    ) -> Result<CommitPlan, ErrorCode> {
        let partition = self.partition_of(&req.group_id);
        let group = self.group_mut(&req.group_id);
        let standalone = req.generation.is_none() && req.member_id.is_empty();
        if standalone {
            if !group.members.is_empty() {
                return Err(ErrorCode::UnknownMemberId);
            }
        } else {
            let Some(m) = group.members.get_mut(&req.member_id) else {
                return Err(ErrorCode::UnknownMemberId);
            };
            if req.generation != Some(group.generation) {
                return Err(ErrorCode::IllegalGeneration);
            }
            if group.state == GroupState::CompletingRebalance {
                return Err(ErrorCode::RebalanceInProgress);
            }
            // A commit counts as a sign of life, as in Kafka.
            m.session_deadline = m.session_deadline.max(now + m.session_timeout);
        }
        let records = req
            .offsets
            .iter()
            .map(|(tp, offset)| Record {
                timestamp_ms: (now.0 / 1000) as i64,
                key: Some(Arc::from(commit_key(&req.group_id, tp))),
                value: Some(Arc::from(offset.0.to_string().into_bytes())),
                headers: crate::record::Headers::default(),
                id: INTERNAL_RECORD,
            })
            .collect();
        Ok(CommitPlan { partition, records })
    }

    /// Group metadata records to append to `__consumer_offsets`, for every group whose
    /// persisted membership changed since the last call.
    pub fn take_appends(&mut self, now: Instant) -> Vec<GroupWrite> {
        let mut appends = Vec::new();
        for g in self.groups.values_mut().filter(|g| g.dirty) {
            g.dirty = false;
            appends.push(GroupWrite {
                partition: coordinator_partition(&g.id, self.config.offsets_partitions),
                record: encode_group(g, now),
                group: g.id.clone(),
                generation: g.storing.then_some(g.generation),
            });
        }
        appends
    }

    /// The record of a generation's assignment was replicated (`error` NONE), or could not be
    /// (`storeGroup`'s callback): the group becomes Stable and its members get their
    /// assignments, or they get the error and the group rebalances.
    pub fn generation_stored(
        &mut self,
        now: Instant,
        group_id: &Arc<str>,
        generation: Generation,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        let broker = self.broker;
        let config = self.config.clone();
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        let current = group.state == GroupState::CompletingRebalance
            && group.generation == generation
            && group.storing;
        if !current {
            return; // Another rebalance started meanwhile.
        }
        group.storing = false;
        if error == ErrorCode::None {
            group.state = GroupState::Stable;
            out.push(Effect::Trace(TraceKind::GroupStable {
                broker,
                group: group.id.clone(),
                generation: group.generation,
            }));
        }
        for m in group.members.values_mut() {
            if error != ErrorCode::None {
                m.assignment.clear();
            }
            if let Some(c) = m.awaiting_sync.take() {
                let assignment = m.assignment.clone();
                respond(out, m.client, sync_response(c, error, assignment));
            }
        }
        if error != ErrorCode::None {
            let reason = format!("the assignment could not be stored ({})", error.name());
            group.prepare_rebalance(broker, &config, now, reason, out);
        }
    }

    /// Where commits of an offsets partition this broker leads are applied up to.
    pub fn applied(&self, partition: u32) -> Option<Offset> {
        self.loaded.get(&partition).copied()
    }

    /// The high watermark of a loaded offsets partition passed `records` (below `hw`): their
    /// commits are committed.
    pub fn apply_commits<'a>(
        &mut self,
        partition: u32,
        batches: impl Iterator<Item = &'a RecordBatch>,
        hw: Offset,
    ) {
        let Some(applied) = self.loaded.get_mut(&partition) else {
            return;
        };
        let from = std::mem::replace(applied, hw);
        for batch in batches {
            self.fold_commits(partition, batch, from, hw);
        }
    }

    /// Applies the commits of `batch` at offsets in `[from, to)`, in log order: a plain
    /// commit at once, a transactional one (TxnOffsetCommit) when its producer's COMMIT
    /// marker comes, never if ABORT does (`GroupMetadataManager`'s load and replay). Returns
    /// how many were applied.
    fn fold_commits(
        &mut self,
        partition: u32,
        batch: &RecordBatch,
        from: Offset,
        to: Offset,
    ) -> u32 {
        let in_range = |i: usize| (from.0..to.0).contains(&(batch.base_offset.0 + i as u64));
        if let (Some(p), Some(marker)) = (batch.producer, batch.control_type()) {
            if !in_range(0) {
                return 0;
            }
            let pending = self.txn_offsets.remove(&(partition, p.producer_id));
            let pending = pending.filter(|_| marker == ControlType::Commit);
            let mut n = 0;
            for (group, tp, offset) in pending.into_iter().flatten() {
                n += 1;
                self.commit(&group, tp, offset);
            }
            return n;
        }
        let txn = batch
            .producer
            .filter(|_| batch.is_transactional)
            .map(|p| p.producer_id);
        let mut n = 0;
        for (i, record) in batch.records.iter().enumerate() {
            let Some((group, tp, offset)) = parse_commit(record).filter(|_| in_range(i)) else {
                continue;
            };
            if self.partition_of(&group) != partition {
                continue;
            }
            match txn {
                Some(pid) => {
                    let pending = self.txn_offsets.entry((partition, pid)).or_default();
                    pending.push((group, tp, offset));
                }
                None => {
                    n += 1;
                    self.commit(&group, tp, offset);
                }
            }
        }
        n
    }

    /// Whether an OffsetFetch requiring stable offsets must wait (UNSTABLE_OFFSET_COMMIT): a
    /// transaction holds offsets for one of `partitions` of `group`, below the high watermark
    /// or in `tail`, the batches above it
    /// (`GroupMetadata.hasPendingOffsetCommitsForTopicPartition`).
    pub fn offsets_unstable<'a>(
        &self,
        group: &str,
        partitions: &[TopicPartition],
        mut tail: impl Iterator<Item = &'a RecordBatch>,
    ) -> bool {
        let ours = |(g, tp, _): &Commit| &**g == group && partitions.contains(tp);
        let partition = self.partition_of(group);
        let pending = self
            .txn_offsets
            .range((partition, ProducerId(i64::MIN))..=(partition, ProducerId(i64::MAX)))
            .any(|(_, commits)| commits.iter().any(ours));
        pending
            || tail.any(|b| {
                b.is_transactional
                    && !b.is_control
                    && b.records.iter().filter_map(parse_commit).any(|c| ours(&c))
            })
    }

    /// TxnOffsetCommit's validation (as OffsetCommit's: the member and its generation, which
    /// fence a zombie that lost its partitions, KIP-447) and its records.
    pub fn plan_txn_commit(
        &mut self,
        now: Instant,
        req: &crate::protocol::TxnOffsetCommitRequest,
    ) -> Result<CommitPlan, ErrorCode> {
        let as_commit = OffsetCommitRequest {
            correlation_id: req.correlation_id,
            group_id: req.group_id.clone(),
            generation: req.generation,
            member_id: req.member_id.clone(),
            offsets: req.offsets.clone(),
        };
        self.plan_commit(now, &as_commit)
    }

    fn commit(&mut self, group: &Arc<str>, tp: TopicPartition, offset: Offset) {
        #[cfg(feature = "planted-bugs")]
        let offset = match self
            .planted
            .has(crate::planted::Bug::CommitAboveHighWatermark)
        {
            true => Offset(offset.0 + 1),
            false => offset,
        };
        self.group_mut(group).offsets.insert(tp, offset);
    }

    pub fn fetch_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Vec<(TopicPartition, Option<Offset>)> {
        let g = self.groups.get(group);
        partitions
            .iter()
            .map(|tp| (tp.clone(), g.and_then(|g| g.offsets.get(tp).copied())))
            .collect()
    }
}

pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Range => "range",
        Strategy::RoundRobin => "roundrobin",
        Strategy::Sticky => "sticky",
        Strategy::CooperativeSticky => "cooperative-sticky",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Timer;
    use crate::protocol::{JoinGroupResponse, Subscription};

    const G1: Generation = Generation(1);

    fn join(member_id: &str, c: u32) -> JoinGroupRequest {
        JoinGroupRequest {
            correlation_id: c,
            group_id: Arc::from("g"),
            client_id: Arc::from("c"),
            member_id: Arc::from(member_id),
            instance_id: None,
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 300_000,
            protocols: vec!["range".into()],
            subscription: Subscription {
                topics: vec!["t".into()],
                owned: vec![],
                previous: vec![],
                generation: None,
            },
        }
    }

    /// A coordinator of `g`'s partition, loaded empty, with this initial rebalance delay.
    fn loaded(initial_delay_ms: u64) -> (Coordinator, CoordinatorConfig) {
        let config = CoordinatorConfig {
            initial_rebalance_delay: Duration::from_millis(initial_delay_ms),
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            offsets_partitions: 50,
        };
        let mut c = Coordinator::new(BrokerId(0), config.clone());
        let p = c.partition_of("g");
        c.load(
            Instant::ZERO,
            p,
            std::iter::empty(),
            Offset(0),
            &mut Vec::new(),
        );
        (c, config)
    }

    fn responses(out: &[Effect]) -> Vec<(NodeId, &Message)> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Send { to, msg } => Some((*to, msg)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_member_is_named_then_joins_and_its_group_survives_a_reload() {
        let (mut c, config) = loaded(3_000);
        let p = c.partition_of("g");
        let client = NodeId::Consumer(3);
        let mut out = Vec::new();
        c.handle(
            Instant::ZERO,
            client,
            Message::JoinGroup(join("", 1)),
            &mut out,
        );
        let Message::JoinGroupResponse(r) = responses(&out)[0].1 else {
            panic!("a join response")
        };
        assert_eq!(r.error, ErrorCode::MemberIdRequired, "KIP-394");
        let id = r.member_id.clone();
        out.clear();
        c.handle(
            Instant::ZERO,
            client,
            Message::JoinGroup(join(&id, 2)),
            &mut out,
        );
        assert!(
            responses(&out).is_empty(),
            "the initial delay holds the join"
        );
        c.on_deadline(Instant(3_000_000), 0, &mut out);
        let Message::JoinGroupResponse(r) = responses(&out)[0].1 else {
            panic!("a join response")
        };
        assert_eq!(
            (r.error, r.generation, r.members.len()),
            (ErrorCode::None, Some(G1), 1)
        );
        out.clear();
        let sync = SyncGroupRequest {
            correlation_id: 3,
            group_id: Arc::from("g"),
            generation: Some(G1),
            member_id: id.clone(),
            assignments: vec![(id.clone(), vec![TopicPartition::new("t", 0)])],
        };
        c.handle(
            Instant(3_000_000),
            client,
            Message::SyncGroup(sync),
            &mut out,
        );
        assert!(
            responses(&out).is_empty(),
            "the assignment waits until its record is replicated"
        );
        let appends = c.take_appends(Instant(3_000_000));
        assert_eq!(appends.len(), 1, "the group metadata is written");
        assert_eq!(
            appends[0].generation,
            Some(G1),
            "and generation 1 waits for it"
        );
        let g = Arc::from("g");
        c.generation_stored(Instant(3_001_000), &g, G1, ErrorCode::None, &mut out);
        let Message::SyncGroupResponse(r) = responses(&out)[0].1 else {
            panic!("a sync response")
        };
        assert_eq!(r.assignment, vec![TopicPartition::new("t", 0)]);
        // Another broker reads the record and knows the member and its assignment.
        let mut other = Coordinator::new(BrokerId(1), config);
        let records = appends.iter().map(|w| w.record.clone());
        load_records(&mut other, p, records, Offset(1));
        let g = other.groups().next().expect("restored");
        assert_eq!((g.state, g.generation), (GroupState::Stable, G1));
        assert_eq!(g.members[&id].assignment, vec![TopicPartition::new("t", 0)]);
        assert_eq!(g.members[&id].client, client);
    }

    /// Loads `records` as the log of offsets partition `p` (each its own batch).
    fn load_records(
        c: &mut Coordinator,
        p: u32,
        records: impl Iterator<Item = Record>,
        hw: Offset,
    ) {
        let batches: Vec<RecordBatch> = records
            .map(|r| crate::broker::internal_batch(vec![r]))
            .collect();
        c.load(Instant(9_000_000), p, batches.iter(), hw, &mut Vec::new());
    }

    /// A coordinator whose group deadlines fire as the clock moves (Kafka's `MockTimer`), for
    /// the join-phase tests ported from Kafka's `GroupCoordinatorTest`.
    struct Clocked {
        c: Coordinator,
        now: Instant,
        timers: Vec<Instant>,
        out: Vec<Effect>,
        next_correlation: u32,
    }

    const D: u64 = 50; // GroupInitialRebalanceDelay in Kafka's tests, ms.

    impl Clocked {
        fn new() -> Clocked {
            let (c, _) = loaded(D);
            Clocked {
                c,
                now: Instant::ZERO,
                timers: Vec::new(),
                out: Vec::new(),
                next_correlation: 0,
            }
        }

        fn handle(&mut self, from: NodeId, msg: Message) {
            let mut out = Vec::new();
            self.c.handle(self.now, from, msg, &mut out);
            self.keep(out);
        }

        fn keep(&mut self, out: Vec<Effect>) {
            for e in out {
                match e {
                    Effect::SetTimer {
                        at,
                        timer: Timer::GroupDeadline { .. },
                    } => self.timers.push(at),
                    e => self.out.push(e),
                }
            }
        }

        /// A new member joins as a client does (KIP-394: named, then joins with the name).
        fn join_new(&mut self, client: u32, rebalance_timeout_ms: u32) {
            let from = NodeId::Consumer(client);
            let request = |c, id: &str| {
                Message::JoinGroup(JoinGroupRequest {
                    rebalance_timeout_ms,
                    ..join(id, c)
                })
            };
            self.next_correlation += 1;
            self.handle(from, request(self.next_correlation, ""));
            let id = self
                .answer(client)
                .expect("MEMBER_ID_REQUIRED")
                .member_id
                .clone();
            self.out.clear();
            self.next_correlation += 1;
            self.handle(from, request(self.next_correlation, &id));
        }

        fn answer(&self, client: u32) -> Option<&JoinGroupResponse> {
            self.out.iter().rev().find_map(|e| match e {
                Effect::Send {
                    to,
                    msg: Message::JoinGroupResponse(r),
                } if *to == NodeId::Consumer(client) => Some(r),
                _ => None,
            })
        }

        /// Whether the join phase answered `client` (generation 1 formed).
        fn joined(&self, client: u32) -> bool {
            self.answer(client)
                .is_some_and(|r| r.error == ErrorCode::None)
        }

        fn advance_ms(&mut self, ms: u64) {
            let to = self.now + Duration::from_millis(ms);
            loop {
                self.timers.sort();
                let Some(pos) = self.timers.iter().position(|&t| t <= to) else {
                    break;
                };
                let at = self.timers.remove(pos);
                self.now = self.now.max(at);
                let mut out = Vec::new();
                self.c.on_deadline(self.now, 0, &mut out);
                self.keep(out);
            }
            self.now = to;
        }
    }

    // Kafka's tests use a `MockTimer` that fires a window when the clock is advanced past its
    // end, so a chained window starts at the advance, a millisecond late; kplay's timers fire
    // at the instant, so the same cases end a millisecond or two earlier. The windows and the
    // rule are the same.

    /// GroupCoordinatorTest.shouldDelayInitialRebalanceByGroupInitialRebalanceDelayOnEmptyGroup
    #[test]
    fn should_delay_initial_rebalance_by_group_initial_rebalance_delay_on_empty_group() {
        let mut g = Clocked::new();
        g.join_new(1, 300_000);
        g.advance_ms(D / 2);
        assert!(!g.joined(1), "held for the initial delay");
        g.advance_ms(D / 2 + 1);
        assert!(g.joined(1));
    }

    /// GroupCoordinatorTest.shouldResetRebalanceDelayWhenNewMemberJoinsGroupInInitialRebalance
    #[test]
    fn should_reset_rebalance_delay_when_new_member_joins_group_in_initial_rebalance() {
        let mut g = Clocked::new();
        let rebalance_timeout = (3 * D) as u32;
        g.join_new(1, rebalance_timeout);
        g.advance_ms(D - 1);
        g.join_new(2, rebalance_timeout);
        g.advance_ms(2);
        // Past the first window: a member joined during it, so another window runs.
        g.advance_ms(D / 2 + 1);
        assert!(!g.joined(1) && !g.joined(2));
        g.advance_ms(D / 2);
        assert!(g.joined(1) && g.joined(2));
    }

    /// GroupCoordinatorTest.shouldDelayRebalanceUptoRebalanceTimeout
    #[test]
    fn should_delay_rebalance_upto_rebalance_timeout() {
        let mut g = Clocked::new();
        let rebalance_timeout = (2 * D) as u32;
        g.join_new(1, rebalance_timeout);
        g.join_new(2, rebalance_timeout);
        g.advance_ms(D + 1);
        g.join_new(3, rebalance_timeout);
        // Kafka advances D here, to 2D + 1, its second window's end with the timer's lag.
        g.advance_ms(D - 2);
        assert!(!g.joined(1) && !g.joined(2) && !g.joined(3));
        // The second window used up the rebalance timeout: the third member's join does not
        // buy a third window.
        g.advance_ms(1);
        assert!(g.joined(1) && g.joined(2) && g.joined(3));
    }

    impl Clocked {
        /// A static member's first join (no MEMBER_ID_REQUIRED round for static members).
        fn join_static(&mut self, client: u32, instance: &str, rebalance_timeout_ms: u32) {
            self.next_correlation += 1;
            let req = JoinGroupRequest {
                instance_id: Some(Arc::from(instance)),
                rebalance_timeout_ms,
                ..join("", self.next_correlation)
            };
            self.handle(NodeId::Consumer(client), Message::JoinGroup(req));
        }

        fn group(&self) -> &Group {
            self.c.groups().next().expect("g")
        }

        fn traces(&self) -> Vec<String> {
            self.out
                .iter()
                .filter_map(|e| match e {
                    Effect::Trace(t) => Some(t.to_string()),
                    _ => None,
                })
                .collect()
        }
    }

    /// A static member s1 (client 1) forms generation 1 alone; then a dynamic member (client
    /// 2) joins, which starts a rebalance that s1 does not rejoin.
    fn static_leader_then_a_dynamic_joiner(rebalance_timeout_ms: u32) -> Clocked {
        let mut g = Clocked::new();
        g.join_static(1, "i1", rebalance_timeout_ms);
        g.advance_ms(D);
        assert!(g.joined(1));
        assert_eq!(g.group().generation, Generation(1));
        g.join_new(2, rebalance_timeout_ms);
        assert_eq!(g.group().state, GroupState::PreparingRebalance);
        g
    }

    /// ClassicGroupTest.testMaybeElectNewJoinedLeader, seen from the join phase's end
    /// (`completeClassicGroupJoin`): the static leader did not rejoin, so it stays a member but
    /// a member that did rejoin leads, and receives the kept member in its member list.
    #[test]
    fn maybe_elect_new_joined_leader() {
        let mut g = static_leader_then_a_dynamic_joiner(1_000);
        g.advance_ms(1_000);
        let group = g.group();
        assert_eq!(
            (group.state, group.generation),
            (GroupState::CompletingRebalance, Generation(2))
        );
        assert_eq!(group.members.len(), 2, "the static member keeps its place");
        let r = g.answer(2).expect("the rejoined member is answered");
        assert_eq!(r.leader, r.member_id, "and leads");
        assert_eq!(r.members.len(), 2, "assigning to both members");
    }

    /// `completeClassicGroupJoin`: "If all members are not rejoining, we will postpone the
    /// completion of rebalance preparing stage": with only a static member left and not
    /// rejoined, the join phase waits another rebalance timeout, and ends when it returns.
    #[test]
    fn a_join_phase_that_no_member_rejoined_waits_another_rebalance_timeout() {
        let mut g = static_leader_then_a_dynamic_joiner(1_000);
        let id = g
            .group()
            .members
            .values()
            .find(|m| m.instance_id.is_none())
            .expect("the dynamic member")
            .id
            .clone();
        g.next_correlation += 1;
        let leave = MemberRef {
            correlation_id: g.next_correlation,
            group_id: Arc::from("g"),
            member_id: id,
            generation: None,
        };
        g.handle(NodeId::Consumer(2), Message::LeaveGroup(leave));
        g.advance_ms(1_000);
        assert_eq!(
            (g.group().state, g.group().generation),
            (GroupState::PreparingRebalance, Generation(1)),
            "no generation without a rejoined member"
        );
        assert!(
            g.traces().iter().any(|t| t.contains("no member rejoined")),
            "{:?}",
            g.traces()
        );
        let s1 = g
            .group()
            .members
            .keys()
            .next()
            .expect("s1 kept")
            .to_string();
        g.next_correlation += 1;
        let rejoin = JoinGroupRequest {
            instance_id: Some(Arc::from("i1")),
            rebalance_timeout_ms: 1_000,
            ..join(&s1, g.next_correlation)
        };
        g.handle(NodeId::Consumer(1), Message::JoinGroup(rejoin));
        assert_eq!(
            g.group().generation,
            Generation(2),
            "s1's return completes the join phase"
        );
    }

    /// `expirePendingSync`: the kept static member sends no SyncGroup within the rebalance
    /// timeout after generation 2 formed; it is removed and the group rebalances without it.
    #[test]
    fn a_member_that_sends_no_sync_group_is_removed_after_the_rebalance_timeout() {
        let mut g = static_leader_then_a_dynamic_joiner(1_000);
        g.advance_ms(1_000);
        let leader = g.answer(2).expect("generation 2").member_id.clone();
        g.next_correlation += 1;
        let sync = SyncGroupRequest {
            correlation_id: g.next_correlation,
            group_id: Arc::from("g"),
            generation: Some(Generation(2)),
            member_id: leader.clone(),
            assignments: vec![],
        };
        g.handle(NodeId::Consumer(2), Message::SyncGroup(sync));
        g.advance_ms(999);
        assert_eq!(g.group().members.len(), 2, "within the rebalance timeout");
        g.advance_ms(1);
        assert_eq!(g.group().members.len(), 1, "{:?}", g.traces());
        assert!(g.group().members.contains_key(&leader));
        assert_eq!(g.group().state, GroupState::PreparingRebalance);
    }
}
