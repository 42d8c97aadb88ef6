//! A group of the classic protocol and its members (Kafka's `ClassicGroup` and
//! `ClassicGroupMember`), with the join and sync phases as the coordinator drives them: who
//! may join and how (static members replaced, new dynamic members named first, known members
//! rejoining), the rebalance, its join phase and its end (`completeClassicGroupJoin`).
//! Persisting and answering is the coordinator's; the group only changes its own state and
//! says what to send.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::assignor::{choose_strategy, rebalance_protocol, RebalanceProtocol, Strategy};
use super::coordinator::{strategy_name, CoordinatorConfig};
use super::Generation;
use crate::node::{Effect, Timer};
use crate::protocol::{
    ErrorCode, JoinGroupRequest, JoinGroupResponse, JoinedMember, Message, Subscription,
    SyncGroupResponse,
};
use crate::record::{Offset, TopicPartition};
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, NodeId, TraceKind};

/// Classic group states (reference §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    /// This broker no longer coordinates the group (its offsets partition moved away).
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: Arc<str>,
    pub instance_id: Option<Arc<str>>,
    pub(super) client: NodeId,
    pub(super) session_timeout: Duration,
    pub(super) rebalance_timeout: Duration,
    pub(super) protocols: Vec<String>,
    pub(super) subscription: Subscription,
    pub assignment: Vec<TopicPartition>,
    pub(super) session_deadline: Instant,
    /// A JoinGroup waiting for the join phase to complete (its correlation id).
    pub(super) awaiting_join: Option<u32>,
    /// A SyncGroup waiting for the leader's assignment.
    pub(super) awaiting_sync: Option<u32>,
    /// Order of arrival: the first member to join leads.
    pub(super) joined: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: Arc<str>,
    pub(super) index: u32,
    pub state: GroupState,
    pub generation: Generation,
    pub protocol: Option<String>,
    pub leader: Option<Arc<str>>,
    pub members: BTreeMap<Arc<str>, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, and until when they may come back.
    pub(super) pending: BTreeMap<Arc<str>, Instant>,
    /// The join phase ends at this instant at the latest.
    pub(super) join_deadline: Option<Instant>,
    /// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`, and
    /// again while new members keep coming (`InitialDelay`).
    pub(super) initial_delay: Option<InitialDelay>,
    pub offsets: BTreeMap<TopicPartition, Offset>,
    /// The membership changed in a way Kafka persists (a new assignment, or Empty).
    pub(super) dirty: bool,
    /// The leader's assignment of this generation is being written; SyncGroup answers wait.
    pub(super) storing: bool,
    /// Members of this generation that have not sent SyncGroup yet, and until when they may
    /// (Kafka's `pendingSyncMembers` and `schedulePendingSync`: the rebalance timeout).
    pub(super) pending_sync: BTreeSet<Arc<str>>,
    pub(super) sync_deadline: Option<Instant>,
}

impl Group {
    pub(super) fn new(id: Arc<str>, index: u32) -> Group {
        Group {
            id,
            index,
            state: GroupState::Empty,
            generation: Generation(0),
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            join_deadline: None,
            initial_delay: None,
            offsets: BTreeMap::new(),
            dirty: false,
            storing: false,
            pending_sync: BTreeSet::new(),
            sync_deadline: None,
        }
    }

    /// Whether every member rebalances cooperatively (KIP-429: each consumer's protocol is the
    /// highest its assignors all support), so members keep what stays theirs.
    fn cooperative(&self) -> bool {
        !self.members.is_empty()
            && self.members.values().all(|m| {
                let strategies: Vec<Strategy> = m
                    .protocols
                    .iter()
                    .filter_map(|s| Strategy::parse(s))
                    .collect();
                rebalance_protocol(&strategies) == RebalanceProtocol::Cooperative
            })
    }

    /// Whether the group's members and the joiner still share an assignor.
    pub(super) fn supports_protocols(&self, req: &JoinGroupRequest) -> bool {
        let parse = |p: &[String]| -> Vec<Strategy> {
            p.iter().filter_map(|s| Strategy::parse(s)).collect()
        };
        let mut all: Vec<Vec<Strategy>> = self
            .members
            .values()
            .filter(|m| *m.id != *req.member_id)
            .map(|m| parse(&m.protocols))
            .collect();
        all.push(parse(&req.protocols));
        choose_strategy(&all).is_some()
    }

    /// KIP-345: a static member's instance joined without a member id. If the instance is
    /// known, its new id replaces the old one (fencing the old process's waiting requests).
    /// Returns whether that settled the join: a Stable group whose member came back with the
    /// same subscription and protocols keeps its generation, and the member syncs for its
    /// old assignment (Kafka's `updateStaticMemberThenRebalanceOrCompleteJoin`).
    pub(super) fn replace_static_member(
        &mut self,
        now: Instant,
        from: NodeId,
        req: &JoinGroupRequest,
        new_id: &Arc<str>,
        out: &mut Vec<Effect>,
    ) -> bool {
        let old = self
            .members
            .values()
            .find(|m| m.instance_id == req.instance_id)
            .map(|m| m.id.clone());
        let Some(old) = old else {
            return false;
        };
        let session = Duration::from_millis(u64::from(req.session_timeout_ms));
        let mut m = self.members.remove(&old).expect("present");
        if let Some(oc) = m.awaiting_join.take() {
            let msg = join_error(oc, ErrorCode::FencedInstanceId, old.clone());
            respond(out, m.client, msg);
        }
        if let Some(oc) = m.awaiting_sync.take() {
            let msg = sync_response(oc, ErrorCode::FencedInstanceId, vec![]);
            respond(out, m.client, msg);
        }
        m.id = new_id.clone();
        m.client = from;
        m.session_deadline = now + session;
        if self.leader.as_ref() == Some(&old) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(&old) {
            self.pending_sync.insert(new_id.clone());
        }
        let unchanged =
            m.subscription.topics == req.subscription.topics && m.protocols == req.protocols;
        self.members.insert(new_id.clone(), m);
        if self.state != GroupState::Stable || !unchanged {
            return false;
        }
        let msg = Message::JoinGroupResponse(JoinGroupResponse {
            correlation_id: req.correlation_id,
            error: ErrorCode::None,
            generation: Some(self.generation),
            protocol: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_else(|| Arc::from("")),
            member_id: new_id.clone(),
            members: Vec::new(),
        });
        respond(out, from, msg);
        self.wake_at(out, now + session);
        true
    }

    /// KIP-394: a new dynamic member is named first, and must come back with its id within
    /// its session timeout.
    pub(super) fn require_member_id(
        &mut self,
        now: Instant,
        from: NodeId,
        req: &JoinGroupRequest,
        new_id: Arc<str>,
        out: &mut Vec<Effect>,
    ) {
        let deadline = now + Duration::from_millis(u64::from(req.session_timeout_ms));
        self.pending.insert(new_id.clone(), deadline);
        self.wake_at(out, deadline);
        let msg = join_error(req.correlation_id, ErrorCode::MemberIdRequired, new_id);
        respond(out, from, msg);
    }

    /// Whether `member_id` is a member, or a named one coming back (no longer pending).
    pub(super) fn knows(&mut self, member_id: &Arc<str>) -> bool {
        self.members.contains_key(member_id) || self.pending.remove(member_id).is_some()
    }

    /// The member's JoinGroup waits for the join phase; its session, timeouts, protocols and
    /// subscription are the request's. Returns whether it is new to the group.
    pub(super) fn add_or_update_member(
        &mut self,
        now: Instant,
        from: NodeId,
        req: &JoinGroupRequest,
        member_id: &Arc<str>,
        joined: u64,
    ) -> bool {
        let is_new = !self.members.contains_key(member_id);
        let m = self
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                instance_id: req.instance_id.clone(),
                client: from,
                session_timeout: Duration::ZERO,
                rebalance_timeout: Duration::ZERO,
                protocols: Vec::new(),
                subscription: req.subscription.clone(),
                assignment: Vec::new(),
                session_deadline: now,
                awaiting_join: None,
                awaiting_sync: None,
                joined,
            });
        m.client = from;
        m.session_timeout = Duration::from_millis(u64::from(req.session_timeout_ms));
        m.rebalance_timeout = Duration::from_millis(u64::from(req.rebalance_timeout_ms));
        m.protocols = req.protocols.clone();
        m.subscription = req.subscription.clone();
        m.session_deadline = now + m.session_timeout;
        m.awaiting_join = Some(req.correlation_id);
        is_new
    }

    pub(super) fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub(super) fn wake_at(&self, out: &mut Vec<Effect>, at: Instant) {
        out.push(Effect::SetTimer {
            at,
            timer: Timer::GroupDeadline { group: self.index },
        });
    }

    pub(super) fn prepare_rebalance(
        &mut self,
        broker: BrokerId,
        config: &CoordinatorConfig,
        now: Instant,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        // An assignment being written no longer counts: the answers go out now.
        self.storing = false;
        self.pending_sync.clear();
        self.sync_deadline = None;
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                if let Some(c) = m.awaiting_sync.take() {
                    let msg = sync_response(c, ErrorCode::RebalanceInProgress, vec![]);
                    respond(out, m.client, msg);
                }
            }
        }
        let deadline = if self.state == GroupState::Empty {
            // The first window is the full delay, whatever the rebalance timeout.
            let window = config.initial_rebalance_delay;
            self.initial_delay = Some(InitialDelay {
                window,
                remaining: self.max_rebalance_timeout().saturating_sub(window),
                new_member_added: false,
            });
            now + window
        } else {
            self.initial_delay = None;
            now + self.max_rebalance_timeout()
        };
        self.state = GroupState::PreparingRebalance;
        self.join_deadline = Some(deadline);
        self.wake_at(out, deadline);
        out.push(Effect::Trace(TraceKind::RebalanceStarted {
            broker,
            group: self.id.clone(),
            reason,
            cooperative: self.cooperative(),
        }));
    }

    pub(super) fn maybe_complete_join(
        &mut self,
        broker: BrokerId,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let deadline = self.join_deadline.unwrap_or(now);
        if self.initial_delay.is_some() {
            return; // Only its timer ends the first join phase (`maybeCompleteJoinPhase`).
        }
        let all_joined =
            self.members.values().all(|m| m.awaiting_join.is_some()) && self.pending.is_empty();
        if all_joined || now >= deadline {
            self.complete_join(broker, now, out);
        }
    }

    /// Kafka 4.0's `GroupMetadataManager.completeClassicGroupJoin`: the dynamic members that
    /// did not rejoin are removed; a static member that did not rejoin keeps its place (with
    /// its last subscription) until its session expires or it fails to sync in time. The
    /// leader must be a member that rejoined (`ClassicGroup.maybeElectNewJoinedLeader`); if
    /// none did, the join phase waits another rebalance timeout instead of ending.
    pub(super) fn complete_join(&mut self, broker: BrokerId, now: Instant, out: &mut Vec<Effect>) {
        self.remove_members_that_did_not_rejoin(broker, out);
        if !self.maybe_elect_new_joined_leader(broker, now, out) {
            return;
        }
        self.pending.clear();
        self.join_deadline = None;
        self.initial_delay = None;
        self.generation = self.generation.next();
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            self.dirty = true;
            return;
        }
        self.start_generation(broker, now, out);
    }

    /// The dynamic members that did not rejoin leave; static ones keep their place.
    fn remove_members_that_did_not_rejoin(&mut self, broker: BrokerId, out: &mut Vec<Effect>) {
        let late: Vec<Arc<str>> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in late {
            self.members.remove(&id);
            out.push(Effect::Trace(TraceKind::MemberRemoved {
                broker,
                group: self.id.clone(),
                member: id,
                reason: "did not rejoin within the rebalance timeout".to_string(),
            }));
        }
    }

    /// The leader must be a member that rejoined (`ClassicGroup.maybeElectNewJoinedLeader`):
    /// the one that joined first. Returns false when only static members remain and none came
    /// back: the join phase then waits another rebalance timeout.
    fn maybe_elect_new_joined_leader(
        &mut self,
        broker: BrokerId,
        now: Instant,
        out: &mut Vec<Effect>,
    ) -> bool {
        let leader_rejoined = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if !leader_rejoined {
            let rejoined = self
                .members
                .values()
                .filter(|m| m.awaiting_join.is_some())
                .min_by_key(|m| m.joined)
                .map(|m| m.id.clone());
            match rejoined {
                Some(id) => self.leader = Some(id),
                None if !self.members.is_empty() => {
                    // Only static members remain, and none came back: wait for them (or for
                    // their sessions to end) another rebalance timeout.
                    let until = now + self.max_rebalance_timeout();
                    self.join_deadline = Some(until);
                    self.initial_delay = None;
                    self.wake_at(out, until);
                    out.push(Effect::Trace(TraceKind::JoinPhaseExtended {
                        broker,
                        group: self.id.clone(),
                        until_ms: until.as_millis(),
                    }));
                    return false;
                }
                None => self.leader = None,
            }
        }
        true
    }

    /// A new generation: the protocol every member supports, the leader gets the members'
    /// subscriptions, every member that rejoined its answer, and each has until the rebalance
    /// timeout to send SyncGroup.
    fn start_generation(&mut self, broker: BrokerId, now: Instant, out: &mut Vec<Effect>) {
        let votes: Vec<Vec<Strategy>> = self
            .members
            .values()
            .map(|m| {
                m.protocols
                    .iter()
                    .filter_map(|s| Strategy::parse(s))
                    .collect()
            })
            .collect();
        let protocol = choose_strategy(&votes).map(strategy_name);
        let leader = self.leader.clone().expect("a member rejoined");
        self.protocol = protocol.map(str::to_string);
        self.state = GroupState::CompletingRebalance;
        out.push(Effect::Trace(TraceKind::GenerationStarted {
            broker,
            group: self.id.clone(),
            generation: self.generation,
            protocol: self.protocol.clone().unwrap_or_default(),
            leader: leader.clone(),
            members: self.members.keys().cloned().collect(),
        }));
        let all: Vec<JoinedMember> = self
            .members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                subscription: m.subscription.clone(),
            })
            .collect();
        let mut earliest = Instant::MAX;
        self.pending_sync = crate::sort::set(self.members.keys().cloned());
        let sync_deadline = now + self.max_rebalance_timeout();
        self.sync_deadline = Some(sync_deadline);
        self.wake_at(out, sync_deadline);
        for m in self.members.values_mut() {
            m.session_deadline = now + m.session_timeout;
            earliest = earliest.min(m.session_deadline);
            // A static member that did not rejoin gets no answer: it learns the generation
            // when it comes back.
            let Some(c) = m.awaiting_join.take() else {
                continue;
            };
            let msg = Message::JoinGroupResponse(JoinGroupResponse {
                correlation_id: c,
                error: ErrorCode::None,
                generation: Some(self.generation),
                protocol: self.protocol.clone(),
                leader: leader.clone(),
                member_id: m.id.clone(),
                members: if m.id == leader {
                    all.clone()
                } else {
                    Vec::new()
                },
            });
            respond(out, m.client, msg);
        }
        self.wake_at(out, earliest);
    }

    pub(super) fn member_gone(
        &mut self,
        broker: BrokerId,
        config: &CoordinatorConfig,
        now: Instant,
        reason: String,
        out: &mut Vec<Effect>,
    ) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(broker, config, now, reason, out);
                self.maybe_complete_join(broker, now, out);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(broker, now, out),
            GroupState::Empty | GroupState::Dead => {}
        }
    }
}

/// The timer chain of a new group's first join phase, as Kafka 4.0's `GroupMetadataManager`
/// keeps it (`prepareRebalance` → `tryCompleteInitialRebalanceElseSchedule`): a first window
/// of the full delay; at each window's end, if a new member joined during it and time remains
/// of the rebalance timeout, another window of `min(delay, remaining)`, else the join phase
/// ends. Only the timer ends it: not even every member having joined does. So consumers
/// starting together form generation 1 after two windows (6 s by default), not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct InitialDelay {
    /// The window now running.
    pub(super) window: Duration,
    /// What is left of the rebalance timeout after it (`remainingMs`).
    pub(super) remaining: Duration,
    /// A new member joined during this window (`newMemberAdded`).
    pub(super) new_member_added: bool,
}

pub(super) fn respond(out: &mut Vec<Effect>, to: NodeId, msg: Message) {
    out.push(Effect::Send { to, msg });
}

/// The NOT_COORDINATOR answer to a group request.
pub(super) fn not_coordinator(msg: Message) -> Message {
    let error = ErrorCode::NotCoordinator;
    match msg {
        Message::JoinGroup(r) => join_error(r.correlation_id, error, r.member_id),
        Message::SyncGroup(r) => sync_response(r.correlation_id, error, Vec::new()),
        Message::Heartbeat(r) => Message::HeartbeatResponse {
            correlation_id: r.correlation_id,
            error,
        },
        Message::LeaveGroup(r) => Message::LeaveGroupResponse {
            correlation_id: r.correlation_id,
            error,
        },
        Message::OffsetFetch { correlation_id, .. } => Message::OffsetFetchResponse {
            correlation_id,
            error,
            offsets: Vec::new(),
        },
        other => unreachable!("not a group request: {}", other.kind()),
    }
}

pub(super) fn join_error(correlation_id: u32, error: ErrorCode, member_id: Arc<str>) -> Message {
    Message::JoinGroupResponse(JoinGroupResponse {
        correlation_id,
        error,
        generation: None,
        protocol: None,
        leader: Arc::from(""),
        member_id,
        members: Vec::new(),
    })
}

pub(super) fn sync_response(
    correlation_id: u32,
    error: ErrorCode,
    assignment: Vec<TopicPartition>,
) -> Message {
    Message::SyncGroupResponse(SyncGroupResponse {
        correlation_id,
        error,
        assignment,
    })
}
