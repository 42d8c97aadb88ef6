//! Invariant checkers: properties that must hold after every step of any run, whatever the
//! faults (reference §9, the TLA+ model's `LeaderInIsr` and `StrongIsr`, plus ours).
//! A violation names the invariant, the time and what was seen; the caller adds the seed and
//! the command that replays it.
//!
//! The checker is incremental, so that a swarm can afford it after every step: a node changes
//! only its own state, so after a step it looks only at what the node that handled the event
//! holds (every partition after a command or a controller step), and at the batches the step
//! acknowledged.

use std::collections::BTreeMap;
use std::fmt;

use std::sync::Arc;

use crate::broker::Replica;
use crate::consumer::{AppState, Consumer, MemberState};
use crate::group::coordinator::{GroupState, OFFSETS_TOPIC};
use crate::metadata::{ClusterMetadata, PartitionMetadata};
use crate::protocol::Acks;
use crate::record::{LeaderEpoch, Offset, Record, TopicPartition};
use crate::sim::{Sim, Touched};
use crate::time::Instant;
use crate::trace::{numbers, BrokerId, NodeId};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub at: Instant,
    pub detail: String,
}

fn violated(invariant: &'static str, at: Instant, detail: String) -> Result<(), Violation> {
    Err(Violation {
        invariant,
        at,
        detail,
    })
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant {} violated at {}: {}",
            self.invariant, self.at, self.detail
        )
    }
}

/// What the checker remembers of one partition across steps.
#[derive(Clone, Debug, Default)]
struct Watch {
    latest_epoch: LeaderEpoch,
    /// Which broker claimed to lead each epoch, by epoch.
    leaders: BTreeMap<LeaderEpoch, BrokerId>,
    /// Per ISR member: offsets below this were already compared with the leader's log.
    verified: BTreeMap<BrokerId, Offset>,
    /// The highest high watermark any replica has exposed so far.
    max_hw: Offset,
    /// Records the settings promise never to lose: acknowledged batches and the slices
    /// applications read, as (offset of `records[0]`, records, first index, end index).
    promised: Vec<Promised>,
    /// One past the highest promised offset.
    promised_end: Offset,
    /// The leader and leader epoch `promised` was last verified against in full.
    verified_leader: Option<(BrokerId, LeaderEpoch)>,
    /// Idempotent producers' records below the high watermark were checked up to here.
    scanned: Offset,
    /// Per idempotent producer: the newest of its records seen in the log.
    newest: BTreeMap<u32, u64>,
    /// Batches below the high watermark were checked for fenced writes up to here.
    epochs_scanned: Offset,
    /// Per producer id: the newest epoch seen in the log (data or marker).
    epochs: BTreeMap<crate::record::ProducerId, i16>,
    /// An exactly-once processor's output partition: committed records were checked up to
    /// here.
    outputs_scanned: Offset,
}

impl Watch {
    /// Remembers `promised`, and only the newest `window` promises if there is one.
    fn promise(&mut self, promised: Promised, window: Option<usize>) {
        self.promised_end = self.promised_end.max(promised.end());
        self.promised.push(promised);
        if let Some(window) = window {
            let excess = self.promised.len().saturating_sub(window);
            self.promised.drain(..excess);
        }
    }
}

/// Records promised never to be lost, and why (acknowledged, or read by an application).
#[derive(Clone, Debug)]
struct Promised {
    base: Offset,
    records: Arc<Vec<Record>>,
    from: u32,
    to: u32,
    invariant: &'static str,
}

impl Promised {
    fn end(&self) -> Offset {
        Offset(self.base.0 + u64::from(self.to))
    }

    /// The first record the log no longer holds at its offset (records below the log start
    /// were removed by retention, not lost).
    fn missing_from(&self, log: &crate::log::PartitionLog) -> Option<String> {
        let records = &self.records[self.from as usize..self.to as usize];
        let first = Offset(self.base.0 + u64::from(self.from));
        missing(log, first, records)
    }
}

/// Remembers what it needs across steps (leaders seen per epoch, what was already verified).
#[derive(Clone, Debug, Default)]
pub struct Checker {
    partitions: BTreeMap<TopicPartition, Watch>,
    /// The brokers coordinating some group, as of the last controller step: another broker's
    /// step cannot change a group.
    coordinators: Vec<BrokerId>,
    /// The last acknowledgement or delivery taken from the simulation.
    observed: u64,
    /// Per broker: its replicas as last checked, in the order the broker keeps them, so a
    /// step of that broker rechecks only the partitions it changed.
    seen: Vec<Vec<(TopicPartition, Fingerprint)>>,
    /// At most this many promised batches remembered per partition (the newest), or all.
    window: Option<usize>,
    /// Exactly-once processors' output topics, with the producer writing each (as of the
    /// last command), and per producer the inputs whose output is committed.
    exactly_once: BTreeMap<Arc<str>, u32>,
    committed_inputs: BTreeMap<u32, std::collections::BTreeSet<(TopicPartition, Offset)>>,
    /// Groups that publish failed records: each partition's committed offset as last checked.
    routed_commits: BTreeMap<(Arc<str>, TopicPartition), Offset>,
}

/// What the invariants read of one replica; any change to it (or to the controller's state)
/// gets its partition checked again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    high_watermark: Offset,
    log_start: Offset,
    log_end: Offset,
    /// The newest record: a truncation and an append in one step still differ here.
    newest: Option<crate::record::RecordId>,
    leader: Option<BrokerId>,
    leader_epoch: LeaderEpoch,
}

impl Fingerprint {
    fn of(r: &Replica) -> Fingerprint {
        Fingerprint {
            high_watermark: r.high_watermark,
            log_start: r.log.log_start(),
            log_end: r.log.log_end(),
            newest: r
                .log
                .last_batch()
                .and_then(|b| b.records.last())
                .map(|rec| rec.id),
            leader: r.leader,
            leader_epoch: r.leader_epoch,
        }
    }
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    /// A checker that remembers only the newest `window` promised batches per partition, for
    /// a host whose memory is small and whose checker is cloned (the page keeps one beside
    /// each checkpoint). It still sees any truncation below a promised record (a log cut at an
    /// old offset loses the newest ones too) and any record missing from the newest batches
    /// after a leader change; an older record gone from the middle of a log, the rest kept,
    /// only the full checker (`kplay run --check`, the swarm) sees.
    pub fn windowed(window: usize) -> Checker {
        Checker {
            window: Some(window),
            ..Checker::default()
        }
    }

    /// The heap this checker holds, estimated (what a clone costs).
    pub fn bytes(&self) -> u64 {
        let promised: usize = self.partitions.values().map(|w| w.promised.len()).sum();
        let seen: usize = self.seen.iter().map(Vec::len).sum();
        (promised * std::mem::size_of::<Promised>()
            + seen * std::mem::size_of::<(TopicPartition, Fingerprint)>()
            + self.partitions.len() * 256) as u64
    }

    /// Checks every invariant against the simulation's current state. Call it after every step
    /// (it reads what the step touched, `Sim::touched`).
    pub fn check(&mut self, sim: &Sim) -> Result<(), Violation> {
        self.take_observations(sim)?;
        let metadata = sim.metadata();
        match sim.touched() {
            Touched::Everything | Touched::Node(NodeId::Controller) => {
                self.exactly_once = sim.exactly_once_outputs();
                self.partitions
                    .retain(|tp, _| metadata.topics.contains_key(&tp.topic));
                self.seen.clear();
                for topic in metadata.topics.values() {
                    for (p, pm) in topic.partitions.iter().enumerate() {
                        let tp = TopicPartition {
                            topic: topic.name.clone(),
                            partition: p as u32,
                        };
                        self.check_partition(sim, &tp, pm)?;
                        self.check_exactly_once(sim, &tp)?;
                    }
                }
            }
            Touched::Node(NodeId::Broker(b)) => {
                for tp in self.changed_replicas(sim, b) {
                    if let Some(pm) = metadata.partition(&tp.topic, tp.partition) {
                        self.check_partition(sim, &tp, pm)?;
                        self.check_exactly_once(sim, &tp)?;
                    }
                }
            }
            Touched::Node(_) | Touched::Nothing => {}
        }
        let groups_may_change = match sim.touched() {
            Touched::Everything | Touched::Node(NodeId::Controller) => {
                self.coordinators = coordinators(sim);
                true
            }
            Touched::Node(NodeId::Consumer(_)) => true,
            Touched::Node(NodeId::Broker(b)) => self.coordinators.contains(&b),
            Touched::Node(NodeId::Producer(_)) | Touched::Nothing => false,
        };
        if groups_may_change {
            self.check_groups(sim)?;
        }
        Ok(())
    }

    /// The partitions whose replica on broker `b` changed since the last check.
    fn changed_replicas(&mut self, sim: &Sim, b: BrokerId) -> Vec<TopicPartition> {
        let Some((broker, _)) = sim.broker(b) else {
            return Vec::new();
        };
        if self.seen.len() <= b.0 as usize {
            self.seen.resize(b.0 as usize + 1, Vec::new());
        }
        let seen = &mut self.seen[b.0 as usize];
        let aligned = seen.len() == broker.replicas().len();
        if !aligned {
            seen.clear();
        }
        let mut changed = Vec::new();
        for (i, (tp, r)) in broker.replicas().iter().enumerate() {
            let now = Fingerprint::of(r);
            match seen.get_mut(i) {
                Some((was_tp, was))
                    if Arc::ptr_eq(&was_tp.topic, &tp.topic)
                        && was_tp.partition == tp.partition =>
                {
                    if *was != now {
                        *was = now;
                        changed.push(tp.clone());
                    }
                }
                Some(slot) => {
                    *slot = (tp.clone(), now);
                    changed.push(tp.clone());
                }
                None => {
                    seen.push((tp.clone(), now));
                    changed.push(tp.clone());
                }
            }
        }
        changed
    }

    /// Takes the acknowledgements and deliveries since the last check. Those the settings
    /// promise never to lose are verified against the partition's log now and remembered:
    /// acknowledged records under acks=all, and any record an application read from a topic
    /// with `min.insync.replicas` ≥ 2 and no unclean election (it was below the high
    /// watermark, so replicated to the whole ISR).
    fn take_observations(&mut self, sim: &Sim) -> Result<(), Violation> {
        use crate::ledger::Observation as O;
        let seen = self.observed;
        for (n, observation) in sim.step_observations().iter().filter(|(n, _)| *n > seen) {
            self.observed = *n;
            committed_read(sim, observation)?;
            let (tp, promised) = match observation {
                O::Acked {
                    producer,
                    tp,
                    base_offset: Some(base),
                    records,
                } if promises_no_loss_for(sim, *producer, tp) => {
                    let promised = Promised {
                        base: *base,
                        records: records.clone(),
                        from: 0,
                        to: records.len() as u32,
                        invariant: "NoAcknowledgedRecordLost",
                    };
                    (tp, promised)
                }
                // Acknowledged only once the high watermark passed it: kept by any clean
                // election, whatever `min.insync.replicas` says; an unclean one may lose it,
                // in Kafka too (`__consumer_offsets` takes the cluster's
                // `unclean.leader.election.enable`).
                O::CommitAcked {
                    tp,
                    base_offset,
                    records,
                } if !unclean_election_allowed(sim, tp) => {
                    let promised = Promised {
                        base: *base_offset,
                        records: records.clone(),
                        from: 0,
                        to: records.len() as u32,
                        invariant: "NoAcknowledgedCommitLost",
                    };
                    (tp, promised)
                }
                O::Delivered {
                    tp,
                    base_offset,
                    records,
                    from,
                    to,
                    ..
                } if topic_is_safe(sim, tp) => {
                    let promised = Promised {
                        base: *base_offset,
                        records: records.clone(),
                        from: *from,
                        to: *to,
                        invariant: "NoConsumedRecordLost",
                    };
                    (tp, promised)
                }
                _ => continue,
            };
            let Some(pm) = sim.metadata().partition(&tp.topic, tp.partition) else {
                continue;
            };
            if let Some((leader, log)) = authoritative(sim, tp, pm) {
                if let Some(detail) = promised.missing_from(log) {
                    let what = match promised.invariant {
                        "NoConsumedRecordLost" => "read",
                        "NoAcknowledgedCommitLost" => "committed",
                        _ => "acknowledged",
                    };
                    return violated(
                        promised.invariant,
                        sim.now(),
                        format!("{tp}: {what} {detail} is not in leader {leader}'s log"),
                    );
                }
            }
            let watch = self.partitions.entry(tp.clone()).or_default();
            watch.promise(promised, self.window);
        }
        Ok(())
    }

    /// The replication invariants of one partition.
    fn check_partition(
        &mut self,
        sim: &Sim,
        tp: &TopicPartition,
        pm: &PartitionMetadata,
    ) -> Result<(), Violation> {
        let at = sim.now();
        let fail = |invariant, detail: String| violated(invariant, at, detail);
        let watch = self.partitions.entry(tp.clone()).or_default();
        // LeaderInIsr: the controller's leader is a member of the controller's ISR.
        if let Some(l) = pm.leader {
            if !pm.isr.contains(&l) {
                return fail(
                    "LeaderInIsr",
                    format!("{tp}: leader {l} is not in ISR {:?}", numbers(&pm.isr)),
                );
            }
        }
        // Leader epochs only grow.
        if pm.leader_epoch < watch.latest_epoch {
            return fail(
                "EpochMonotonic",
                format!(
                    "{tp}: leader epoch went from {} to {}",
                    watch.latest_epoch, pm.leader_epoch
                ),
            );
        }
        watch.latest_epoch = pm.leader_epoch;
        let replica_of = |b: BrokerId| -> Option<(bool, &Replica)> {
            let (broker, up) = sim.broker(b)?;
            broker.replica(tp).map(|r| (up, r))
        };
        for &b in &pm.replicas {
            let Some((up, r)) = replica_of(b) else {
                continue;
            };
            watch.max_hw = watch.max_hw.max(r.high_watermark);
            // At most one leader per partition per epoch, among brokers that think they lead.
            if !up || !r.is_leader(b) {
                continue;
            }
            let claimed = *watch.leaders.entry(r.leader_epoch).or_insert(b);
            if claimed != b {
                return fail(
                    "OneLeaderPerEpoch",
                    format!(
                        "{tp}: brokers {claimed} and {b} both led epoch {}",
                        r.leader_epoch
                    ),
                );
            }
        }
        // The member that left the ISR is compared again from the start if it comes back.
        watch.verified.retain(|m, _| pm.isr.contains(m));
        if let Some((invariant, detail)) = lost_promised(sim, tp, pm, watch) {
            return fail(invariant, detail);
        }
        let Some(leader) = pm.leader else {
            return Ok(());
        };
        let Some((true, lr)) = replica_of(leader) else {
            return Ok(());
        };
        if !lr.is_leader(leader) || lr.leader_epoch != pm.leader_epoch {
            return Ok(()); // The new leader has not heard yet.
        }
        let hw = lr.high_watermark;
        for &member in &pm.isr {
            let Some((_, mr)) = replica_of(member) else {
                continue;
            };
            // HighWatermark ≤ LEO of every ISR member.
            if hw > mr.log.log_end() {
                return fail(
                    "HighWatermarkBelowIsrLeo",
                    format!(
                        "{tp}: HW {hw} on leader {leader} above LEO {} of ISR member {member}",
                        mr.log.log_end()
                    ),
                );
            }
            if member == leader {
                continue;
            }
            // StrongIsr: below the HW, every ISR member holds exactly the leader's records.
            let from = watch.verified.get(&member).copied().unwrap_or(Offset(0));
            let start = from.max(lr.log.log_start()).max(mr.log.log_start());
            for o in start.0..hw.0 {
                let a = lr.log.record_at(Offset(o)).map(|r| r.id);
                let b = mr.log.record_at(Offset(o)).map(|r| r.id);
                if a != b {
                    return fail(
                        "StrongIsr",
                        format!(
                            "{tp} offset {o}: leader {leader} has {a:?}, ISR member {member} has {b:?}"
                        ),
                    );
                }
            }
            watch.verified.insert(member, hw.max(from));
        }
        match producers_broken(sim, lr, hw, watch) {
            Some((invariant, detail)) => fail(invariant, format!("{tp}: {detail}")),
            None => Ok(()),
        }
    }

    /// ExactlyOnceOutput: among an exactly-once processor's committed outputs (what a
    /// read_committed reader of the leader gets), at most one per input record.
    fn check_exactly_once(&mut self, sim: &Sim, tp: &TopicPartition) -> Result<(), Violation> {
        let Some(&producer) = self.exactly_once.get(&tp.topic) else {
            return Ok(());
        };
        let watch = self.partitions.entry(tp.clone()).or_default();
        let seen = self.committed_inputs.entry(producer).or_default();
        let (records, lso) = sim.committed_records(tp, watch.outputs_scanned, Offset(u64::MAX));
        for (offset, output) in records {
            let Some(input) = sim.ledger().source(output) else {
                continue;
            };
            if output.producer == producer && !seen.insert(input.clone()) {
                let (itp, ioffset) = input;
                let detail = format!(
                    "{tp} offset {offset}: a second committed output of {itp} offset {ioffset}"
                );
                return violated("ExactlyOnceOutput", sim.now(), detail);
            }
        }
        watch.outputs_scanned = watch.outputs_scanned.max(lso);
        Ok(())
    }

    /// Consumer group invariants (issue #5): one owner per partition among the members the
    /// coordinator knows; full coverage once everyone is stable; committed offsets within the
    /// high watermark. (Committed offsets may go back: a member that resumed from the last
    /// durable commit while a newer one was stuck behind a dead replica commits a lower one
    /// later, in Kafka too. What must hold is that an acknowledged commit is durable:
    /// `NoAcknowledgedCommitLost`.)
    fn check_groups(&mut self, sim: &Sim) -> Result<(), Violation> {
        let at = sim.now();
        let fail = |invariant, detail: String| violated(invariant, at, detail);
        let live: Vec<_> = sim
            .consumers()
            .filter(|c| !matches!(c.state, AppState::Crashed | AppState::Stopped))
            .filter(|c| c.membership.is_some())
            .collect();
        let mut groups: Vec<Arc<str>> = live
            .iter()
            .map(|c| c.membership.as_ref().expect("filtered").group.clone())
            .collect();
        crate::sort::sort(&mut groups);
        groups.dedup();
        let metadata = sim.metadata();
        let no_loss = !groups.is_empty() && promises_no_loss(sim);
        for g in groups {
            let (_, _, state) = sim.coordinator_of(&g);
            let Some(state) = state else { continue };
            let members: Vec<_> = live
                .iter()
                .filter(|c| {
                    c.membership
                        .as_ref()
                        .is_some_and(|m| m.group == g && state.members.contains_key(&m.member_id))
                })
                .collect();
            // OneOwner: no partition owned by two members of the coordinator's generation. A
            // member still in an older one is a zombie whose commits the coordinator refuses
            // (ILLEGAL_GENERATION), in Kafka too: a static member that missed the rejoin stays
            // in the group (`completeClassicGroupJoin`) while its process, busy in its last
            // poll, still holds the partitions of the generation before (swarm seed 6727).
            let mut owners: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
            let current = members.iter().filter(|c| {
                c.membership
                    .as_ref()
                    .is_some_and(|m| m.generation == Some(state.generation))
            });
            for c in current {
                for tp in c.positions.keys() {
                    if let Some(other) = owners.insert(tp, &c.spec.name) {
                        return fail(
                            "GroupOneOwner",
                            format!("group {g}: {tp} owned by both {other} and {}", c.spec.name),
                        );
                    }
                }
            }
            // StableCoverage: a stable group whose every member is stable in its generation,
            // with its assignment applied (in its next `poll()`), owns every subscribed partition.
            let settled = state.state == GroupState::Stable
                && members.len() == state.members.len()
                && live
                    .iter()
                    .filter(|c| c.membership.as_ref().is_some_and(|m| m.group == g))
                    .count()
                    == members.len()
                && members.iter().all(|c| {
                    let m = c.membership.as_ref().expect("member");
                    m.state == MemberState::Stable
                        && m.generation == Some(state.generation)
                        && m.assignment_applied()
                });
            if settled {
                // A cooperative generation may hand a partition to nobody: its first round
                // withholds what moves until the old owner revoked it, and the second round
                // assigns it (Kafka's `CooperativeStickyAssignor`). Should that round never run
                // (its one rejoiner closed, static, while the coordinator that was running it
                // failed over), Kafka leaves it so: the new coordinator loads the generation as
                // stored, and a static member rejoining a Stable group gets its stored
                // assignment without a rebalance (`GroupCoordinator.updateStaticMemberAndRebalance`).
                // What is never excused: a partition the generation assigned that its member
                // does not own, and an eager generation that leaves one out.
                let cooperative = cooperative_generation(state.protocol.as_deref(), &members);
                let withheld = |tp: &TopicPartition| {
                    cooperative && !state.members.values().any(|m| m.assignment.contains(tp))
                };
                if let Some(detail) = uncovered(metadata, &members, &owners, withheld) {
                    return fail(
                        "GroupStableCoverage",
                        format!(
                            "group {g} is stable in generation {} but nobody owns {detail}",
                            state.generation
                        ),
                    );
                }
            }
            self.check_failed_records(sim, &g, &state.offsets)?;
            if no_loss {
                self.check_committed_offsets(at, &g, &state.offsets)?;
            }
        }
        Ok(())
    }

    /// CommittedWithinHighWatermark: committed offsets point at written records; against the
    /// highest high watermark ever exposed, as a new leader's may briefly trail its
    /// predecessor's, in Kafka too.
    fn check_committed_offsets(
        &self,
        at: Instant,
        g: &Arc<str>,
        offsets: &BTreeMap<TopicPartition, Offset>,
    ) -> Result<(), Violation> {
        for (tp, &offset) in offsets {
            let hw = self.partitions.get(tp).map_or(Offset(0), |w| w.max_hw);
            if offset > hw {
                let detail = format!(
                    "group {g}: {tp} committed at {offset}, above every high watermark ({hw})"
                );
                return violated("CommittedWithinHighWatermark", at, detail);
            }
        }
        Ok(())
    }

    /// FailedRecordNeverLost: a group that publishes failed records (retry or dead letter
    /// topics) never commits an offset past a failed record whose copy is not acknowledged.
    /// Checked as its committed offsets advance: a zombie that fails a record the group has
    /// already committed past loses nothing (someone else processed it).
    fn check_failed_records(
        &mut self,
        sim: &Sim,
        group: &Arc<str>,
        offsets: &BTreeMap<TopicPartition, Offset>,
    ) -> Result<(), Violation> {
        let audience = format!("group:{group}");
        let Some(routing) =
            (sim.ledger().audiences().get(audience.as_str())).and_then(|a| a.routing.as_deref())
        else {
            return Ok(());
        };
        for (tp, &offset) in offsets {
            let key = (group.clone(), tp.clone());
            let before = self.routed_commits.insert(key, offset);
            let from = before.unwrap_or(Offset(0));
            if offset <= from {
                continue;
            }
            if let Some(failed) = routing.unforwarded_between(tp, from, offset) {
                return violated(
                    "FailedRecordNeverLost",
                    sim.now(),
                    format!(
                        "group {group} committed {tp} at {offset}, past its failed record at \
                         {failed} whose copy is not acknowledged"
                    ),
                );
            }
        }
        Ok(())
    }

    /// End-of-run safety: every acknowledged record is still readable. Only a guarantee under
    /// acks=all, min.insync.replicas ≥ 2 and no unclean election; call it only then.
    pub fn no_acknowledged_record_lost(sim: &Sim) -> Result<(), Violation> {
        let report = sim.report();
        if report.lost_acked == 0 {
            return Ok(());
        }
        let first = report.lost.first().map(|l| {
            format!(
                " (first: {} record #{} in {}-{})",
                l.producer, l.id.seq, l.topic, l.partition
            )
        });
        Err(Violation {
            invariant: "NoAcknowledgedRecordLost",
            at: sim.now(),
            detail: format!(
                "{} acknowledged records lost{}",
                report.lost_acked,
                first.unwrap_or_default()
            ),
        })
    }
}

/// The brokers that coordinate the groups of the run's consumers.
fn coordinators(sim: &Sim) -> Vec<BrokerId> {
    let mut groups: Vec<&Arc<str>> = sim
        .consumers()
        .filter_map(|c| c.membership.as_ref().map(|m| &m.group))
        .collect();
    crate::sort::sort(&mut groups);
    groups.dedup();
    let mut brokers: Vec<BrokerId> = groups
        .into_iter()
        .filter_map(|g| sim.coordinator_of(g).1)
        .collect();
    crate::sort::sort(&mut brokers);
    brokers.dedup();
    brokers
}

/// The first subscribed partition of a settled group that no member owns.
fn uncovered(
    metadata: &ClusterMetadata,
    members: &[&&crate::consumer::Consumer],
    owners: &BTreeMap<&TopicPartition, &str>,
    excused: impl Fn(&TopicPartition) -> bool,
) -> Option<TopicPartition> {
    let subscribed = members.iter().flat_map(|c| &c.spec.topics);
    for t in subscribed.filter_map(|topic| metadata.topics.get(topic.as_str())) {
        for p in 0..t.partitions.len() as u32 {
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p,
            };
            if !owners.contains_key(&tp) && !excused(&tp) {
                return Some(tp);
            }
        }
    }
    None
}

/// The partition's log of record: its leader's, as the controller says (even while down: the
/// log survives a crash), with the leader's id.
fn authoritative<'a>(
    sim: &'a Sim,
    tp: &TopicPartition,
    pm: &PartitionMetadata,
) -> Option<(BrokerId, &'a crate::log::PartitionLog)> {
    let leader = pm.leader?;
    let (broker, _) = sim.broker(leader)?;
    broker.replica(tp).map(|r| (leader, &r.log))
}

/// Which of `records`, acknowledged at `base`, the log no longer holds at their offsets
/// (records below the log start were removed by retention, not lost).
fn missing(log: &crate::log::PartitionLog, base: Offset, records: &[Record]) -> Option<String> {
    for (i, rec) in records.iter().enumerate() {
        let offset = Offset(base.0 + i as u64);
        if offset < log.log_start() {
            continue;
        }
        let found = log.record_at(offset).map(|r| r.id);
        if found != Some(rec.id) {
            return Some(format!(
                "record {:?} at offset {offset} (the log has {found:?})",
                rec.id
            ));
        }
    }
    None
}

/// NoAcknowledgedRecordLost and NoConsumedRecordLost for one partition: a new leader (or
/// leader epoch) must hold every promised record; the same leader must not have cut its log
/// below them.
fn lost_promised(
    sim: &Sim,
    tp: &TopicPartition,
    pm: &PartitionMetadata,
    watch: &mut Watch,
) -> Option<(&'static str, String)> {
    if watch.promised.is_empty() {
        return None;
    }
    let (leader, log) = authoritative(sim, tp, pm)?;
    if watch.verified_leader == Some((leader, pm.leader_epoch)) {
        if log.log_end() < watch.promised_end {
            let detail = format!(
                "{tp}: leader {leader}'s log ends at {}, below promised offset {}",
                log.log_end(),
                watch.promised_end.0 - 1
            );
            return Some(("NoAcknowledgedRecordLost", detail));
        }
        return None;
    }
    watch.verified_leader = Some((leader, pm.leader_epoch));
    // Records entirely below the log start expired; forget them.
    watch.promised.retain(|p| p.end() > log.log_start());
    watch.promised.iter().find_map(|p| {
        p.missing_from(log).map(|d| {
            let detail = format!(
                "{tp}: leader {leader} (epoch {}) lacks promised {d}",
                pm.leader_epoch
            );
            (p.invariant, detail)
        })
    })
}

/// IdempotentOnceInOrder: an idempotent producer's records appear in a partition's log once
/// each and in the order it sent them (gaps are failed sends), except records of batches an
/// epoch bump renumbered (`Producer::was_renumbered`), which Kafka does not protect either.
/// Checked below the leader's high watermark (where every ISR member agrees), each record once.
fn idempotence_broken(
    sim: &Sim,
    log: &crate::log::PartitionLog,
    hw: Offset,
    watch: &mut Watch,
) -> Option<String> {
    let from = watch.scanned.max(log.log_start());
    if from >= hw {
        return None;
    }
    watch.scanned = hw;
    for (offset, record) in log.records_between(from, hw) {
        let producer = record.id.producer;
        let Some(p) = sim.producer(producer).filter(|p| p.config().idempotent) else {
            continue;
        };
        match watch.newest.get_mut(&producer) {
            // Kafka's own exception: an epoch bump renumbers the partition's unfinished
            // batches, and one the broker had appended (its answer lost) lands again.
            Some(newest) if record.id.seq <= *newest && p.was_renumbered(record.id.seq) => {}
            Some(newest) if record.id.seq <= *newest => {
                let what = match record.id.seq == *newest {
                    true => "again",
                    false => "after its newer record",
                };
                return Some(format!(
                    "offset {offset}: producer {producer}'s record #{} {what} #{}",
                    record.id.seq, newest
                ));
            }
            Some(newest) => *newest = record.id.seq,
            None => {
                watch.newest.insert(producer, record.id.seq);
            }
        }
    }
    None
}

/// A delivery to a read_committed application: its records' transaction committed.
fn committed_read(sim: &Sim, observation: &crate::ledger::Observation) -> Result<(), Violation> {
    let crate::ledger::Observation::Delivered {
        audience,
        tp,
        base_offset,
        read_committed: true,
        ..
    } = observation
    else {
        return Ok(());
    };
    // Where a marker below the high watermark survives any failover.
    if !topic_is_safe(sim, tp) {
        return Ok(());
    }
    match uncommitted_read(sim, tp, *base_offset) {
        Some(detail) => violated(
            "ReadCommittedSeesOnlyCommitted",
            sim.now(),
            format!("{audience} (read_committed) read {tp} {detail}"),
        ),
        None => Ok(()),
    }
}

/// The producers' invariants of a leader's log: idempotence, no fenced write, an LSO within
/// the HW.
fn producers_broken(
    sim: &Sim,
    lr: &Replica,
    hw: Offset,
    watch: &mut Watch,
) -> Option<(&'static str, String)> {
    if let Some(detail) = idempotence_broken(sim, &lr.log, hw, watch) {
        return Some(("IdempotentOnceInOrder", detail));
    }
    if let Some(detail) = fenced_write(&lr.log, hw, watch) {
        return Some(("FencedProducerNeverWrites", detail));
    }
    // The last stable offset never passes the high watermark (reference §5).
    let lso = lr.last_stable_offset();
    (lso > hw).then(|| {
        let detail = format!("last stable offset {lso} above the high watermark {hw}");
        ("LsoWithinHighWatermark", detail)
    })
}

/// ReadCommittedSeesOnlyCommitted: the batch a read_committed application read at `base` is
/// not transactional, or its transaction's next marker in the leader's log is a COMMIT.
/// Read from the log itself, not from the replica's transaction index, which it checks.
fn uncommitted_read(sim: &Sim, tp: &TopicPartition, base: Offset) -> Option<String> {
    let pm = sim.metadata().partition(&tp.topic, tp.partition)?;
    let (_, log) = authoritative(sim, tp, pm)?;
    let batch = log.batch_at(base)?;
    let pid = batch
        .producer
        .filter(|_| batch.is_transactional)?
        .producer_id;
    let mut at = batch.next_offset();
    while at < log.log_end() {
        let Some(next) = log.batch_at(at) else {
            break;
        };
        at = next.next_offset();
        let marker = next
            .control_type()
            .filter(|_| next.producer.is_some_and(|p| p.producer_id == pid));
        match marker {
            Some(crate::record::ControlType::Commit) => return None,
            Some(crate::record::ControlType::Abort) => {
                return Some(format!(
                    "offset {base} of an aborted transaction (producer id {}, ABORT at {})",
                    pid.0, next.base_offset
                ))
            }
            None => {}
        }
    }
    Some(format!(
        "offset {base} of an open transaction (producer id {}, no marker yet)",
        pid.0
    ))
}

/// FencedProducerNeverWrites: along a partition's log, a producer id's epoch never goes
/// back. A batch at an older epoch after a newer one (a marker written at the epoch a new
/// instance or the coordinator's abort fenced it with) is a fenced producer's write accepted.
fn fenced_write(log: &crate::log::PartitionLog, hw: Offset, watch: &mut Watch) -> Option<String> {
    let mut at = watch.epochs_scanned.max(log.log_start());
    while at < hw {
        let batch = log.batch_at(at)?;
        at = batch.next_offset();
        watch.epochs_scanned = at;
        let Some(p) = batch.producer else { continue };
        let newest = watch
            .epochs
            .entry(p.producer_id)
            .or_insert(p.producer_epoch);
        if p.producer_epoch < *newest {
            return Some(format!(
                "offset {}: producer id {} wrote at epoch {} after epoch {}",
                batch.base_offset, p.producer_id.0, p.producer_epoch, newest
            ));
        }
        *newest = p.producer_epoch;
    }
    None
}

/// Whether a topic's settings keep every record below the high watermark through any clean
/// failover: `min.insync.replicas` ≥ 2, no unclean election, two replicas or more.
fn unclean_election_allowed(sim: &Sim, tp: &TopicPartition) -> bool {
    sim.metadata()
        .topics
        .get(&tp.topic)
        .is_some_and(|t| t.config.unclean_leader_election)
}

fn topic_is_safe(sim: &Sim, tp: &TopicPartition) -> bool {
    sim.metadata()
        .topics
        .get(&tp.topic)
        .is_some_and(|t| topic_promises_no_loss(&t.config, &t.partitions))
}

/// Whether the run's settings promise that no acknowledged record is lost: every producer uses
/// acks=all, and every topic has `min.insync.replicas` ≥ 2 and no unclean leader election.
pub fn promises_no_loss(sim: &Sim) -> bool {
    let producers_safe = sim.producers().all(|p| p.config().acks == Acks::All);
    let topics_safe = sim
        .metadata()
        .topics
        .values()
        .filter(|t| &*t.name != OFFSETS_TOPIC)
        .all(|t| topic_promises_no_loss(&t.config, &t.partitions));
    producers_safe && topics_safe
}

/// Whether one producer's acknowledged records in `tp` are promised never to be lost.
fn promises_no_loss_for(sim: &Sim, producer: u32, tp: &TopicPartition) -> bool {
    let acks_all = sim
        .producer(producer)
        .is_some_and(|p| p.config().acks == Acks::All);
    acks_all && topic_is_safe(sim, tp)
}

fn topic_promises_no_loss(
    config: &crate::metadata::TopicConfig,
    partitions: &[PartitionMetadata],
) -> bool {
    config.min_insync_replicas >= 2
        && !config.unclean_leader_election
        && partitions.iter().all(|p| p.replicas.len() >= 2)
}

/// Runs `sim` to `until`, checking every invariant after every step.
pub fn run_checked(sim: &mut Sim, until: Instant, checker: &mut Checker) -> Result<(), Violation> {
    checker.check(sim)?;
    while sim.next_event_at().is_some_and(|at| at <= until) {
        sim.step();
        checker.check(sim)?;
    }
    sim.run_until(until);
    Ok(())
}

/// Whether a generation with this assignor and these members is cooperative. The protocol is
/// the members', not the assignor's: with `range` also listed, cooperative-sticky runs under
/// the eager protocol, which has no second round to assign what it withheld.
fn cooperative_generation(assignor: Option<&str>, members: &[&&Consumer]) -> bool {
    assignor == Some("cooperative-sticky")
        && members.iter().all(|c| {
            c.membership.as_ref().is_some_and(|m| {
                m.protocol == crate::group::assignor::RebalanceProtocol::Cooperative
            })
        })
}
