//! The consumer as a member of its group, classic protocol (Kafka's `ConsumerCoordinator`
//! and `AbstractCoordinator`; reference §4.2, §4.3, §4.6). A [`Membership`] step gets the
//! rest of its [`Consumer`] beside it (`Consumer::member`), so the member is reached without
//! an `Option` to unwrap.

use super::*;
/// Where a group member is in the classic protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Not in the group (new, left, or must rejoin).
    Unjoined,
    Joining,
    Syncing,
    Stable,
}

/// A consumer's membership of its group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub group: Arc<str>,
    pub coordinator: Option<BrokerId>,
    find_in_flight: Option<u32>,
    coordinator_retry_at: Option<Instant>,
    pub state: MemberState,
    pub member_id: Arc<str>,
    /// The generation it is in, if any.
    pub generation: Option<Generation>,
    pub leader: bool,
    pub protocol: RebalanceProtocol,
    /// A JoinGroup or SyncGroup in flight.
    request: Option<u32>,
    heartbeat_in_flight: Option<u32>,
    next_heartbeat: Instant,
    /// When the last poll returned records (for `max.poll.interval.ms`).
    pub(super) last_poll: Instant,
    next_auto_commit: Instant,
    commit_in_flight: Option<InFlightCommit>,
    /// A synchronous commit to send when the coordinator is known again.
    commit_retry: Option<Vec<(TopicPartition, Offset)>>,
    offset_fetch_in_flight: Option<u32>,
    /// After UNSTABLE_OFFSET_COMMIT: the next OffsetFetch waits for `retry.backoff.ms`.
    offset_fetch_retry_at: Option<Instant>,
    /// `onJoinPrepare` ran for the coming JoinGroup (auto-commit before revoking).
    prepared: bool,
    /// A cooperative member's `onJoinPrepare` auto-commit that the JoinGroup waits for.
    join_prepare: Option<JoinPrepareCommit>,
    /// SyncGroup's answer, which `onJoinComplete` applies inside the next `poll()`.
    pending_assignment: Option<Vec<TopicPartition>>,
    /// The last assignment, which the eager sticky assignor remembers (its `userData`).
    last_assignment: Vec<TopicPartition>,
    /// Since when the member owns nothing because of a rebalance.
    paused_since: Option<Instant>,
}

impl Membership {
    /// A consumer with `group.id` starts unjoined, with no member id and no generation.
    pub(super) fn new(group: &str, protocol: RebalanceProtocol) -> Membership {
        Membership {
            group: Arc::from(group),
            coordinator: None,
            find_in_flight: None,
            coordinator_retry_at: None,
            state: MemberState::Unjoined,
            member_id: Arc::from(""),
            generation: None,
            leader: false,
            protocol,
            request: None,
            heartbeat_in_flight: None,
            next_heartbeat: Instant::ZERO,
            last_poll: Instant::ZERO,
            next_auto_commit: Instant::ZERO,
            commit_in_flight: None,
            commit_retry: None,
            offset_fetch_in_flight: None,
            offset_fetch_retry_at: None,
            prepared: false,
            join_prepare: None,
            pending_assignment: None,
            last_assignment: Vec::new(),
            paused_since: None,
        }
    }

    /// Whether the member's last SyncGroup answer took effect: `onJoinComplete` runs in the
    /// application's next `poll()`, and until then it consumes what it owned before.
    pub fn assignment_applied(&self) -> bool {
        self.pending_assignment.is_none()
    }

    /// Who this member is, for Heartbeat and LeaveGroup (the correlation id is set on sending).
    fn member_ref(&self) -> MemberRef {
        MemberRef {
            correlation_id: 0,
            group_id: self.group.clone(),
            generation: self.generation,
            member_id: self.member_id.clone(),
        }
    }
}

/// An OffsetCommit waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InFlightCommit {
    correlation_id: u32,
    /// For `commit-latency-avg`.
    sent_at: Instant,
    offsets: Vec<(TopicPartition, Offset)>,
    /// `commitSync`: the application waits for it (and it is retried).
    sync: bool,
    /// Sent by a cooperative member's `onJoinPrepare`; its JoinGroup waits for the answer.
    join_prepare: bool,
}

/// Kafka 4.0's `ConsumerCoordinator.onJoinPrepare` commits all consumed positions
/// asynchronously and sends JoinGroup only once the commit is answered (retrying a retriable
/// failure after `retry.backoff.ms`), or once `rebalance.timeout.ms` (`max.poll.interval.ms`)
/// has passed. A cooperative member's `poll()` goes on returning records meanwhile (it runs
/// the join with a zero timer); an eager member's partitions are pending revocation, which
/// kplay models as a synchronous commit (`AppState::Committing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct JoinPrepareCommit {
    until: Instant,
    retry_at: Instant,
}

/// The member side of the classic group protocol (reference §4.2, §4.3, §4.6).
impl Membership {
    fn send_to_coordinator(
        &mut self,
        c: &mut Consumer,
        msg: impl FnOnce(u32) -> Message,
        out: &mut Vec<Effect>,
    ) -> Option<u32> {
        let coordinator = self.coordinator?;
        let correlation_id = c.next_correlation();
        out.push(Effect::Send {
            to: NodeId::Broker(coordinator),
            msg: msg(correlation_id),
        });
        Some(correlation_id)
    }

    /// What the heartbeat thread and the coordinator lookup do, whatever the application is doing.
    pub(super) fn group_tick(&mut self, c: &mut Consumer, now: Instant, out: &mut Vec<Effect>) {
        if self.coordinator.is_none() {
            let due = self.coordinator_retry_at.is_none_or(|at| at <= now);
            if self.find_in_flight.is_none() && due {
                let Some(broker) = c.connections.least_loaded_node(now) else {
                    return;
                };
                let correlation_id = c.connections.next_correlation();
                self.find_in_flight = Some(correlation_id);
                out.push(Effect::Send {
                    to: NodeId::Broker(broker),
                    msg: find_group_coordinator(correlation_id, &self.group),
                });
            }
            return;
        }
        // A synchronous commit waiting for the coordinator.
        if self.commit_in_flight.is_none() {
            if let Some(offsets) = self.commit_retry.take() {
                self.send_commit(c, now, offsets, true, out);
            }
        }
        self.fetch_committed(c, now, out);
        // The heartbeat thread.
        if self.state == MemberState::Stable
            && self.heartbeat_in_flight.is_none()
            && now >= self.next_heartbeat
        {
            self.next_heartbeat = now + c.config.heartbeat_interval;
            let r = self.member_ref();
            let sent = self.send_to_coordinator(
                c,
                |correlation_id| {
                    Message::Heartbeat(MemberRef {
                        correlation_id,
                        ..r
                    })
                },
                out,
            );
            self.heartbeat_in_flight = sent;
        }
        // `max.poll.interval.ms`: the application has not polled for too long.
        let busy = matches!(
            c.state,
            AppState::Processing { .. } | AppState::Committing { .. } | AppState::AwaitingOutput
        );
        if busy && self.generation.is_some() && now >= self.last_poll + c.config.max_poll_interval {
            let why = format!(
                "poll() not called within max.poll.interval.ms ({} ms)",
                c.config.max_poll_interval.as_millis()
            );
            self.leave_group(c, &why, out);
        }
    }

    /// Asks the coordinator for the committed offsets of newly assigned partitions (after
    /// UNSTABLE_OFFSET_COMMIT, once the backoff passed).
    fn fetch_committed(&mut self, c: &mut Consumer, now: Instant, out: &mut Vec<Effect>) {
        let fetch_due = self.offset_fetch_retry_at.is_none_or(|at| at <= now);
        if self.offset_fetch_in_flight.is_none() && self.state == MemberState::Stable && fetch_due {
            self.offset_fetch_retry_at = None;
            let wanted: Vec<TopicPartition> = c
                .positions
                .iter()
                .filter(|(_, p)| p.committed == Committed::Unknown)
                .map(|(tp, _)| tp.clone())
                .collect();
            if !wanted.is_empty() {
                for tp in &wanted {
                    c.positions.get_mut(tp).expect("present").committed = Committed::Fetching;
                }
                let group_id = self.group.clone();
                let require_stable =
                    c.config.isolation == crate::protocol::Isolation::ReadCommitted;
                let sent = self.send_to_coordinator(
                    c,
                    |correlation_id| Message::OffsetFetch {
                        correlation_id,
                        group_id,
                        partitions: wanted,
                        require_stable,
                    },
                    out,
                );
                self.offset_fetch_in_flight = sent;
            }
        }
    }

    /// Leaves the group: a dynamic member sends LeaveGroup and forgets its id; a static member
    /// sends nothing (KIP-345) and waits for its session to expire or its return.
    pub(super) fn leave_group(&mut self, c: &mut Consumer, why: &str, out: &mut Vec<Effect>) {
        if self.generation.is_none() && self.state == MemberState::Unjoined {
            return;
        }
        if c.config.instance_id.is_none() && !self.member_id.is_empty() {
            let r = self.member_ref();
            self.send_to_coordinator(
                c,
                |correlation_id| {
                    Message::LeaveGroup(MemberRef {
                        correlation_id,
                        ..r
                    })
                },
                out,
            );
        }
        out.push(Effect::Trace(TraceKind::MemberLeaving {
            consumer: c.index,
            why: why.to_string(),
        }));
        let is_static = c.config.instance_id.is_some();
        if !is_static {
            self.member_id = Arc::from("");
        }
        self.generation = None;
        self.state = MemberState::Unjoined;
        self.request = None;
        self.heartbeat_in_flight = None;
        self.pending_assignment = None;
        self.join_prepare = None;
    }

    pub(super) fn maybe_auto_commit(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        if !c.config.enable_auto_commit
            || self.state != MemberState::Stable
            || now < self.next_auto_commit
        {
            return;
        }
        self.next_auto_commit = now + c.config.auto_commit_interval;
        self.commit(c, now, false, out);
    }

    /// Commits the current positions. Returns whether the commit is under way (a synchronous
    /// caller then waits for it).
    pub(super) fn commit(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        sync: bool,
        out: &mut Vec<Effect>,
    ) -> bool {
        let offsets: Vec<(TopicPartition, Offset)> = c
            .positions
            .iter()
            .filter_map(|(tp, p)| Some((tp.clone(), p.position?)))
            .collect();
        if offsets.is_empty() {
            return false;
        }
        if self.generation.is_none() {
            // Kafka's CommitFailedException: this consumer is no longer in the group.
            c.stats.failed_commits += 1;
            out.push(Effect::Trace(TraceKind::OffsetsCommitted {
                consumer: c.index,
                offsets: offsets.len() as u32,
                error: ErrorCode::UnknownMemberId,
            }));
            return false;
        }
        if self.commit_in_flight.is_some() || self.coordinator.is_none() {
            if sync {
                self.commit_retry = Some(offsets);
                return true;
            }
            return false;
        }
        self.send_commit(c, now, offsets, sync, out)
    }

    fn send_commit(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        offsets: Vec<(TopicPartition, Offset)>,
        sync: bool,
        out: &mut Vec<Effect>,
    ) -> bool {
        let request = OffsetCommitRequest {
            correlation_id: 0,
            group_id: self.group.clone(),
            generation: self.generation,
            member_id: self.member_id.clone(),
            offsets: offsets.clone(),
        };
        let sent = self.send_to_coordinator(
            c,
            |correlation_id| {
                Message::OffsetCommit(OffsetCommitRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        match sent {
            Some(correlation_id) => {
                self.commit_in_flight = Some(InFlightCommit {
                    correlation_id,
                    sent_at: now,
                    offsets,
                    sync,
                    join_prepare: false,
                });
                true
            }
            None => false,
        }
    }

    /// In `poll()`: run `onJoinPrepare` and send JoinGroup when the member must (re)join.
    pub(super) fn rejoin_if_needed(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        if self.state != MemberState::Unjoined
            || self.request.is_some()
            || self.coordinator.is_none()
            || c.metadata.cluster.is_none()
        {
            return;
        }
        if !self.prepared {
            let (joined, protocol) = (self.generation.is_some(), self.protocol);
            self.prepared = true;
            // This runs inside `poll()`, so the poll timer restarts here: an idle member (no
            // records for longer than `max.poll.interval.ms`) that commits synchronously in
            // `onJoinPrepare` has not stopped polling (Kafka's `Heartbeat.poll`, called from
            // `ConsumerCoordinator.poll`).
            self.last_poll = now;
            if c.config.enable_auto_commit && joined {
                match protocol {
                    // Auto-commit before giving every partition up.
                    RebalanceProtocol::Eager => {
                        if self.commit(c, now, true, out) {
                            c.state = AppState::Committing { then: None };
                            return;
                        }
                    }
                    RebalanceProtocol::Cooperative => {
                        self.join_prepare = Some(JoinPrepareCommit {
                            until: now + c.config.max_poll_interval,
                            retry_at: now,
                        });
                    }
                }
            }
        }
        if !self.join_prepare_done(c, now, out) {
            return;
        }
        let owned: Vec<TopicPartition> = c.positions.keys().cloned().collect();
        if !owned.is_empty()
            && (self.generation.is_none() || self.protocol == RebalanceProtocol::Eager)
        {
            let lost = self.generation.is_none();
            self.revoke(c, now, owned, lost, out);
        }
        self.send_join(c, out);
    }

    /// Whether a cooperative member's `onJoinPrepare` commit lets the JoinGroup go: answered
    /// (but for a retriable failure, retried after `retry.backoff.ms`), nothing to commit, or
    /// the rebalance timeout passed. Sends it when no other commit is out (one at a time).
    fn join_prepare_done(&mut self, c: &mut Consumer, now: Instant, out: &mut Vec<Effect>) -> bool {
        let Some(jp) = self.join_prepare else {
            return true;
        };
        if now < jp.until {
            // Ours in flight, or another one (ours goes after it), or a retry not yet due.
            if self.commit_in_flight.is_some() || now < jp.retry_at {
                return false;
            }
            if self.commit(c, now, false, out) {
                if let Some(commit) = &mut self.commit_in_flight {
                    commit.join_prepare = true;
                }
                return false;
            }
        }
        self.join_prepare = None;
        true
    }

    /// Kafka's `onJoinComplete`, which runs inside `poll()` (`joinGroupIfNeeded`), never
    /// while the application processes a poll's records: SyncGroup's answer waits for the
    /// next poll. A cooperative member gives up what moved there, with no commit (Kafka's
    /// `onJoinComplete` only calls `onPartitionsRevoked`; the offsets were committed by this
    /// round's `onJoinPrepare`), and rejoins, through `onJoinPrepare` again (swarm seed
    /// 46031: revoking and auto-committing on SyncGroup's arrival committed the records the
    /// application was still processing, and its crash lost them).
    pub(super) fn complete_join(&mut self, c: &mut Consumer, now: Instant, out: &mut Vec<Effect>) {
        let Some(assigned) = self.pending_assignment.take() else {
            return;
        };
        let revoked: Vec<TopicPartition> = c
            .positions
            .keys()
            .filter(|tp| !assigned.contains(tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = assigned
            .iter()
            .filter(|tp| !c.positions.contains_key(*tp))
            .cloned()
            .collect();
        let second_round = !revoked.is_empty();
        if second_round {
            // KIP-429: give up what moves, then rejoin so that the partitions can be assigned
            // to their new owners.
            self.revoke(c, now, revoked, false, out);
        }
        for tp in &added {
            c.positions.insert(
                tp.clone(),
                PartitionPosition {
                    committed: Committed::Unknown,
                    ..PartitionPosition::default()
                },
            );
        }
        self.last_assignment = assigned.clone();
        if second_round {
            self.state = MemberState::Unjoined;
            self.prepared = false;
        }
        // "Reschedule the auto commit starting from now" (`onJoinComplete`).
        self.next_auto_commit = now + c.config.auto_commit_interval;
        if self.state == MemberState::Stable {
            if let Some(since) = self.paused_since.take() {
                c.stats.paused = Duration(c.stats.paused.0 + (now.0 - since.0));
            }
        }
        c.stats.rebalances += 1;
        out.push(Effect::Trace(TraceKind::PartitionsAssigned {
            consumer: c.index,
            generation: self
                .generation
                .expect("an assignment comes from a generation"),
            added,
            owned: assigned.len() as u32,
        }));
    }

    fn revoke(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        tps: Vec<TopicPartition>,
        lost: bool,
        out: &mut Vec<Effect>,
    ) {
        for tp in &tps {
            c.positions.remove(tp);
        }
        c.ready.retain(|t| !tps.contains(t));
        if c.positions.is_empty() && self.paused_since.is_none() {
            self.paused_since = Some(now);
        }
        out.push(Effect::Trace(TraceKind::PartitionsRevoked {
            consumer: c.index,
            tps,
            lost,
        }));
    }

    fn send_join(&mut self, c: &mut Consumer, out: &mut Vec<Effect>) {
        // Kafka's ConsumerCoordinator: an eager member revoked everything in onJoinPrepare, so
        // its `ownedPartitions` are empty; only the sticky assignor's user data remembers.
        let owned = match self.protocol {
            RebalanceProtocol::Cooperative => c.positions.keys().cloned().collect(),
            RebalanceProtocol::Eager => Vec::new(),
        };
        let request = JoinGroupRequest {
            correlation_id: 0,
            group_id: self.group.clone(),
            client_id: c
                .config
                .client_id
                .clone()
                .unwrap_or_else(|| Arc::from(c.spec.name.as_str())),
            member_id: self.member_id.clone(),
            instance_id: c.config.instance_id.clone(),
            session_timeout_ms: c.config.session_timeout.as_millis() as u32,
            rebalance_timeout_ms: c.config.max_poll_interval.as_millis() as u32,
            protocols: c
                .config
                .strategies
                .iter()
                .map(|&s| crate::group::coordinator::strategy_name(s).to_string())
                .collect(),
            subscription: Subscription {
                topics: c.spec.topics.clone(),
                owned,
                previous: self.last_assignment.clone(),
                generation: self.generation,
            },
        };
        let sent = self.send_to_coordinator(
            c,
            |correlation_id| {
                Message::JoinGroup(JoinGroupRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        if sent.is_some() {
            self.request = sent;
            self.state = MemberState::Joining;
            self.prepared = false;
        }
    }

    fn fail(&mut self, c: &mut Consumer, error: ErrorCode, out: &mut Vec<Effect>) {
        c.state = AppState::Failed(error);
        out.push(Effect::Trace(TraceKind::MemberLeaving {
            consumer: c.index,
            why: format!("fatal error {error}"),
        }));
    }

    /// UNKNOWN_MEMBER_ID forgets the member id; both it and ILLEGAL_GENERATION forget the
    /// generation, so the partitions count as lost at the next rejoin.
    fn reset_member(&mut self, error: ErrorCode) {
        if error == ErrorCode::UnknownMemberId {
            self.member_id = Arc::from("");
        }
        self.generation = None;
        self.state = MemberState::Unjoined;
        self.request = None;
        // Kafka's `joinGroupIfNeeded` runs `onJoinComplete` only if the generation survived.
        self.pending_assignment = None;
    }

    /// The coordinator went away (disconnect or NOT_COORDINATOR): find it again.
    fn coordinator_gone(&mut self, c: &mut Consumer) {
        self.coordinator = None;
        self.heartbeat_in_flight = None;
        if self.request.take().is_some() {
            self.state = MemberState::Unjoined;
            self.prepared = true;
        }
        if let Some(InFlightCommit { offsets, sync, .. }) = self.commit_in_flight.take() {
            if sync {
                self.commit_retry = Some(offsets);
            }
            // A join-prepare commit lost this way is sent again once the coordinator is found.
        }
        if self.offset_fetch_in_flight.take().is_some() {
            for p in c.positions.values_mut() {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Unknown;
                }
            }
        }
    }

    pub(super) fn coordinator_lost(&mut self, c: &mut Consumer, broker: BrokerId) {
        self.find_in_flight = None;
        if self.coordinator == Some(broker) {
            self.coordinator_gone(c);
        }
    }

    /// An answer from the coordinator (or a broker asked for it). Returns the processing a
    /// `commitSync` before processing held back, for the consumer to start.
    pub(super) fn on_response(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        msg: Message,
        out: &mut Vec<Effect>,
    ) -> Option<Duration> {
        match msg {
            Message::FindCoordinatorResponse {
                correlation_id,
                error,
                coordinator,
            } => self.on_find_coordinator(c, now, correlation_id, error, coordinator),
            Message::JoinGroupResponse(r) => self.on_join_response(c, r, out),
            Message::SyncGroupResponse(r) => self.on_sync_response(c, now, r, out),
            Message::HeartbeatResponse {
                correlation_id,
                error,
            } => self.on_heartbeat_response(c, correlation_id, error, out),
            Message::OffsetCommitResponse {
                correlation_id,
                error,
            } => return self.on_commit_response(c, now, correlation_id, error, out),
            Message::OffsetFetchResponse {
                correlation_id,
                error,
                offsets,
            } => self.on_offset_fetch(c, now, correlation_id, error, offsets),
            Message::LeaveGroupResponse { .. } => {}
            other => unreachable!("consumer got {}", other.kind()),
        }
        None
    }

    fn on_find_coordinator(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        coordinator: Option<BrokerId>,
    ) {
        let retry = c.config.retry_backoff;
        if self.find_in_flight != Some(correlation_id) {
            return;
        }
        self.find_in_flight = None;
        match (error, coordinator) {
            (ErrorCode::None, Some(b)) => self.coordinator = Some(b),
            _ => self.coordinator_retry_at = Some(now + retry),
        }
    }

    /// Takes the answer to the JoinGroup or SyncGroup in flight (false for a stale one); the
    /// member is unjoined until the answer says otherwise.
    fn take_group_request(&mut self, correlation_id: u32) -> bool {
        if self.request != Some(correlation_id) {
            return false;
        }
        self.request = None;
        self.state = MemberState::Unjoined;
        true
    }

    /// What a JoinGroup or SyncGroup error means for the member: rejoin (after finding the
    /// coordinator again, or as a new member), or give up for good.
    fn on_group_error(&mut self, c: &mut Consumer, error: ErrorCode, out: &mut Vec<Effect>) {
        match error {
            ErrorCode::RebalanceInProgress => self.prepared = true,
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => self.reset_member(error),
            ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress => {
                self.prepared = true;
                self.coordinator_gone(c);
            }
            error => self.fail(c, error, out),
        }
    }

    fn on_join_response(&mut self, c: &mut Consumer, r: JoinGroupResponse, out: &mut Vec<Effect>) {
        if !self.take_group_request(r.correlation_id) {
            return;
        }
        match r.error {
            ErrorCode::None => {}
            ErrorCode::MemberIdRequired => {
                self.member_id = r.member_id;
                return self.send_join(c, out);
            }
            error => return self.on_group_error(c, error, out),
        }
        self.member_id = r.member_id.clone();
        self.generation = r.generation;
        self.leader = r.leader == r.member_id;
        out.push(Effect::Trace(TraceKind::MemberJoined {
            consumer: c.index,
            group: self.group.clone(),
            member: r.member_id.clone(),
            generation: r
                .generation
                .expect("a JoinGroup answered without error names one"),
            leader: self.leader,
        }));
        let assignments = if self.leader {
            self.leader_assign(c, &r)
        } else {
            Vec::new()
        };
        let request = SyncGroupRequest {
            correlation_id: 0,
            group_id: self.group.clone(),
            generation: self.generation,
            member_id: self.member_id.clone(),
            assignments,
        };
        let sent = self.send_to_coordinator(
            c,
            |correlation_id| {
                Message::SyncGroup(SyncGroupRequest {
                    correlation_id,
                    ..request
                })
            },
            out,
        );
        self.request = sent;
        self.state = if sent.is_some() {
            MemberState::Syncing
        } else {
            MemberState::Unjoined
        };
    }

    /// The group leader runs the chosen assignor over every member's subscription.
    fn leader_assign(
        &self,
        c: &Consumer,
        r: &JoinGroupResponse,
    ) -> Vec<(Arc<str>, Vec<TopicPartition>)> {
        let strategy = r
            .protocol
            .as_deref()
            .and_then(Strategy::parse)
            .unwrap_or(Strategy::Range);
        let strategy = match strategy {
            Strategy::CooperativeSticky if planted!(c, CooperativeDoubleOwner) => Strategy::Sticky,
            s => s,
        };
        let mut counts = BTreeMap::new();
        if let Some(md) = &c.metadata.cluster {
            for jm in &r.members {
                for t in &jm.subscription.topics {
                    if let Some(topic) = md.topics.get(t.as_str()) {
                        counts.insert(t.clone(), topic.partitions.len() as u32);
                    }
                }
            }
        }
        let members: Vec<assignor::Member> = r
            .members
            .iter()
            .map(|jm| assignor::Member {
                id: jm.member_id.to_string(),
                instance_id: jm.instance_id.as_ref().map(|s| s.to_string()),
                topics: jm.subscription.topics.clone(),
                // The eager sticky assignor reads the member's last assignment from its user
                // data; the cooperative one reads `ownedPartitions` (AbstractStickyAssignor).
                owned: match strategy {
                    Strategy::Sticky => &jm.subscription.previous,
                    _ => &jm.subscription.owned,
                }
                .iter()
                .map(|tp| (tp.topic.to_string(), tp.partition))
                .collect(),
                generation: jm.subscription.generation.map(|g| g.0 as i32),
            })
            .collect();
        assignor::assign(strategy, &counts, &members)
            .into_iter()
            .map(|(id, tps)| {
                let tps = tps
                    .into_iter()
                    .map(|(t, p)| TopicPartition::new(&t, p))
                    .collect();
                (Arc::from(id.as_str()), tps)
            })
            .collect()
    }

    fn on_sync_response(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        r: SyncGroupResponse,
        out: &mut Vec<Effect>,
    ) {
        if !self.take_group_request(r.correlation_id) {
            return;
        }
        if r.error != ErrorCode::None {
            return self.on_group_error(c, r.error, out);
        }
        // The member is in the generation now (Kafka's SyncGroup handler: STABLE, heartbeats
        // on); its assignment takes effect in `poll()` (`complete_join`).
        self.state = MemberState::Stable;
        self.next_heartbeat = now + c.config.heartbeat_interval;
        self.pending_assignment = Some(r.assignment);
    }

    fn on_heartbeat_response(
        &mut self,
        c: &mut Consumer,
        correlation_id: u32,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) {
        if self.heartbeat_in_flight != Some(correlation_id) {
            return;
        }
        self.heartbeat_in_flight = None;
        match error {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress if self.state == MemberState::Stable => {
                self.state = MemberState::Unjoined;
            }
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => self.reset_member(error),
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                self.coordinator_gone(c)
            }
            ErrorCode::FencedInstanceId => self.fail(c, error, out),
            _ => {}
        }
    }

    /// Returns the processing a `commitSync` before processing held back, for the consumer to
    /// start: it may finish at once and restart the process, which replaces the membership.
    fn on_commit_response(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        out: &mut Vec<Effect>,
    ) -> Option<Duration> {
        if self
            .commit_in_flight
            .as_ref()
            .is_none_or(|commit| commit.correlation_id != correlation_id)
        {
            return None;
        }
        let InFlightCommit {
            offsets,
            sync,
            join_prepare,
            sent_at,
            ..
        } = self.commit_in_flight.take().expect("checked");
        c.stats.commit_answered(sent_at, now);
        let count = offsets.len() as u32;
        let retriable = matches!(
            error,
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
                | ErrorCode::RequestTimedOut
        );
        if join_prepare {
            // Answered: the JoinGroup may go, unless a retriable failure asks for another try.
            self.join_prepare = match self.join_prepare {
                Some(jp) if retriable => Some(JoinPrepareCommit {
                    retry_at: now + c.config.retry_backoff,
                    ..jp
                }),
                _ => None,
            };
        }
        if retriable && sync {
            // commitSync retries until it succeeds or fails for good.
            self.commit_retry = Some(offsets);
            if error != ErrorCode::RequestTimedOut {
                self.coordinator_gone(c);
            }
            return None;
        }
        if error == ErrorCode::None {
            c.stats.commits += 1;
        } else {
            c.stats.failed_commits += 1;
            if matches!(
                error,
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration
            ) {
                self.reset_member(error);
            }
            if matches!(
                error,
                ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
            ) {
                self.coordinator_gone(c);
            }
        }
        out.push(Effect::Trace(TraceKind::OffsetsCommitted {
            consumer: c.index,
            offsets: count,
            error,
        }));
        if !sync {
            return None;
        }
        let AppState::Committing { then } = c.state else {
            return None;
        };
        c.state = AppState::Polling;
        then
    }

    fn on_offset_fetch(
        &mut self,
        c: &mut Consumer,
        now: Instant,
        correlation_id: u32,
        error: ErrorCode,
        offsets: Vec<(TopicPartition, Option<Offset>)>,
    ) {
        if self.offset_fetch_in_flight != Some(correlation_id) {
            return;
        }
        self.offset_fetch_in_flight = None;
        if error != ErrorCode::None {
            for p in c.positions.values_mut() {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Unknown;
                }
            }
            if matches!(
                error,
                ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable
            ) {
                self.coordinator_gone(c);
            }
            if error == ErrorCode::UnstableOffsetCommit {
                // A transaction holds offsets for these partitions: ask again after the
                // backoff, until its marker settles them (KIP-447).
                self.offset_fetch_retry_at = Some(now + c.config.retry_backoff);
            }
            return;
        }
        for (tp, offset) in offsets {
            if let Some(p) = c.positions.get_mut(&tp) {
                if p.committed == Committed::Fetching {
                    p.committed = Committed::Known;
                    if offset.is_some() {
                        p.position = offset;
                        // Kafka restores the committed leader epoch too and validates it;
                        // kplay commits offsets without one (see ARCHITECTURE.md).
                        p.offset_epoch = None;
                    }
                }
            }
        }
    }

    /// When this member needs to act on its own: a coordinator lookup retry, a heartbeat, an
    /// auto-commit, a poll timeout (each may already be past).
    pub(super) fn group_wakes(&self, c: &Consumer) -> [Option<Instant>; 6] {
        let stable = self.state == MemberState::Stable;
        let busy = matches!(
            c.state,
            AppState::Processing { .. } | AppState::Committing { .. } | AppState::AwaitingOutput
        );
        let auto_commit = c.config.enable_auto_commit && c.state == AppState::Polling;
        [
            self.coordinator_retry_at
                .filter(|_| self.coordinator.is_none()),
            self.offset_fetch_retry_at,
            stable.then_some(self.next_heartbeat),
            (stable && auto_commit).then_some(self.next_auto_commit),
            (self.generation.is_some() && busy)
                .then(|| self.last_poll + c.config.max_poll_interval),
            // The JoinGroup waiting for `onJoinPrepare`'s commit: its retry, or its deadline.
            self.join_prepare.map(|jp| {
                let ours_in_flight = self
                    .commit_in_flight
                    .as_ref()
                    .is_some_and(|commit| commit.join_prepare);
                match ours_in_flight {
                    true => jp.until,
                    false => jp.retry_at.min(jp.until),
                }
            }),
        ]
    }
}

/// FindCoordinator for a group.
fn find_group_coordinator(correlation_id: u32, group: &Arc<str>) -> Message {
    Message::FindCoordinator {
        correlation_id,
        key: group.clone(),
        key_type: crate::protocol::CoordinatorType::Group,
    }
}
