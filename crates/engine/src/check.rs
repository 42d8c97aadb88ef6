//! Invariant checkers: properties that must hold after every step of any run, whatever the
//! faults (reference §9, the TLA+ model's `LeaderInIsr` and `StrongIsr`, plus ours).
//! A violation names the invariant, the time and what was seen; the caller adds the seed and
//! the command that replays it.

use std::collections::BTreeMap;
use std::fmt;

use std::sync::Arc;

use crate::consumer::{AppState, MemberState};
use crate::group::coordinator::{GroupState, OFFSETS_TOPIC};
use crate::record::{Offset, TopicPartition};
use crate::sim::Sim;
use crate::time::Instant;

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

/// Remembers what it needs across steps (leaders seen per epoch, what was already verified).
#[derive(Clone, Debug, Default)]
pub struct Checker {
    leaders_by_epoch: BTreeMap<(TopicPartition, u32), u32>,
    latest_epoch: BTreeMap<TopicPartition, u32>,
    /// Per (partition, ISR member): offsets below this were already compared with the leader.
    verified: BTreeMap<(TopicPartition, u32), Offset>,
    /// Per (group, partition): the committed offset last seen.
    committed: BTreeMap<(Arc<str>, TopicPartition), Offset>,
    /// Per partition: the highest high watermark any replica has exposed so far.
    max_hw: BTreeMap<TopicPartition, Offset>,
    /// `Sim::rewinds()` when last checked: seeks and resets may move commits back.
    rewinds: u64,
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Checks every invariant against the simulation's current state.
    pub fn check(&mut self, sim: &Sim) -> Result<(), Violation> {
        let at = sim.now();
        let fail = |invariant, detail: String| violated(invariant, at, detail);
        let metadata = sim.metadata();
        let brokers: Vec<_> = sim.brokers().collect();
        for topic in metadata.topics.values() {
            for (p, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: p as u32,
                };
                // LeaderInIsr: the controller's leader is a member of the controller's ISR.
                if let Some(l) = pm.leader {
                    if !pm.isr.contains(&l) {
                        return fail(
                            "LeaderInIsr",
                            format!("{tp}: leader {l} is not in ISR {:?}", pm.isr),
                        );
                    }
                }
                // Leader epochs only grow.
                let last = self
                    .latest_epoch
                    .entry(tp.clone())
                    .or_insert(pm.leader_epoch);
                if pm.leader_epoch < *last {
                    return fail(
                        "EpochMonotonic",
                        format!("{tp}: leader epoch went from {last} to {}", pm.leader_epoch),
                    );
                }
                *last = pm.leader_epoch;
                // At most one leader per partition per epoch, among brokers that think they lead.
                for (b, up) in &brokers {
                    let Some(r) = b.replica(&tp).filter(|r| *up && r.is_leader(b.id)) else {
                        continue;
                    };
                    let claimed = self
                        .leaders_by_epoch
                        .entry((tp.clone(), r.leader_epoch))
                        .or_insert(b.id);
                    if *claimed != b.id {
                        return fail(
                            "OneLeaderPerEpoch",
                            format!(
                                "{tp}: brokers {claimed} and {} both led epoch {}",
                                b.id, r.leader_epoch
                            ),
                        );
                    }
                }
                let Some(leader) = pm.leader else { continue };
                let Some((lb, true)) = brokers
                    .iter()
                    .find(|(b, _)| b.id == leader)
                    .map(|(b, up)| (*b, *up))
                else {
                    continue;
                };
                let Some(lr) = lb.replica(&tp) else { continue };
                if !lr.is_leader(leader) || lr.leader_epoch != pm.leader_epoch {
                    continue; // The new leader has not heard yet.
                }
                let hw = lr.high_watermark;
                for &member in &pm.isr {
                    let Some((mb, _)) = brokers.iter().find(|(b, _)| b.id == member) else {
                        continue;
                    };
                    let Some(mr) = mb.replica(&tp) else { continue };
                    // HighWatermark ≤ LEO of every ISR member.
                    if hw > mr.log.log_end() {
                        return fail(
                            "HighWatermarkBelowIsrLeo",
                            format!("{tp}: HW {hw} on leader {leader} above LEO {} of ISR member {member}", mr.log.log_end()),
                        );
                    }
                    if member == leader {
                        continue;
                    }
                    // StrongIsr: below the HW, every ISR member holds exactly the leader's records.
                    let from = self
                        .verified
                        .get(&(tp.clone(), member))
                        .copied()
                        .unwrap_or(Offset(0));
                    let start = from.max(lr.log.log_start()).max(mr.log.log_start());
                    for o in start.0..hw.0 {
                        let a = lr.log.record_at(Offset(o)).map(|r| r.id);
                        let b = mr.log.record_at(Offset(o)).map(|r| r.id);
                        if a != b {
                            return fail(
                                "StrongIsr",
                                format!("{tp} offset {o}: leader {leader} has {a:?}, ISR member {member} has {b:?}"),
                            );
                        }
                    }
                    self.verified.insert((tp.clone(), member), hw.max(from));
                }
            }
        }
        self.check_groups(sim)?;
        // A member that left and rejoined the ISR is compared again from the start.
        self.verified.retain(|(tp, m), _| {
            metadata
                .partition(&tp.topic, tp.partition)
                .is_some_and(|pm| pm.isr.contains(m))
        });
        Ok(())
    }

    /// Consumer group invariants (issue #5): one owner per partition among the members the
    /// coordinator knows; full coverage once everyone is stable; committed offsets within the
    /// high watermark and never moving back without a seek or reset.
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
        groups.sort();
        groups.dedup();
        let metadata = sim.metadata();
        let safe = self.rewinds == sim.rewinds();
        let no_loss = !groups.is_empty() && promises_no_loss(sim);
        if no_loss {
            for (b, _) in sim.brokers() {
                for (tp, r) in b.replicas() {
                    if &*tp.topic != OFFSETS_TOPIC {
                        let seen = self.max_hw.entry(tp.clone()).or_default();
                        *seen = (*seen).max(r.high_watermark);
                    }
                }
            }
        }
        self.rewinds = sim.rewinds();
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
            // OneOwner: no partition owned by two members the coordinator knows.
            let mut owners: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
            for c in &members {
                for tp in c.positions.keys() {
                    if let Some(other) = owners.insert(tp, &c.spec.name) {
                        return fail(
                            "GroupOneOwner",
                            format!("group {g}: {tp} owned by both {other} and {}", c.spec.name),
                        );
                    }
                }
            }
            // StableCoverage: a stable group whose every member is stable in its generation
            // owns every subscribed partition.
            let settled = state.state == GroupState::Stable
                && members.len() == state.members.len()
                && live
                    .iter()
                    .filter(|c| c.membership.as_ref().is_some_and(|m| m.group == g))
                    .count()
                    == members.len()
                && members.iter().all(|c| {
                    let m = c.membership.as_ref().expect("member");
                    m.state == MemberState::Stable && m.generation == state.generation
                });
            if settled {
                for c in &members {
                    for topic in &c.spec.topics {
                        let Some(t) = metadata.topics.get(topic.as_str()) else {
                            continue;
                        };
                        for p in 0..t.partitions.len() as u32 {
                            let tp = TopicPartition {
                                topic: t.name.clone(),
                                partition: p,
                            };
                            if !owners.contains_key(&tp) {
                                return fail(
                                    "GroupStableCoverage",
                                    format!(
                                        "group {g} is stable in generation {} but nobody owns {tp}",
                                        state.generation
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            for (tp, &offset) in &state.offsets {
                // CommittedWithinHighWatermark: committed offsets point at written records.
                if no_loss {
                    // Against the highest high watermark ever exposed: a new leader's may
                    // briefly trail its predecessor's, in Kafka too.
                    let hw = self.max_hw.get(tp).copied().unwrap_or_default();
                    if offset > hw {
                        return fail(
                            "CommittedWithinHighWatermark",
                            format!("group {g}: {tp} committed at {offset}, above every high watermark ({hw})"),
                        );
                    }
                }
                // CommittedMonotonic.
                let key = (g.clone(), tp.clone());
                if let Some(&before) = self.committed.get(&key) {
                    if offset < before && safe {
                        return fail(
                            "CommittedMonotonic",
                            format!("group {g}: {tp} committed offset went back from {before} to {offset}"),
                        );
                    }
                }
                self.committed.insert(key, offset);
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

/// Whether the run's settings promise that no acknowledged record is lost: every producer uses
/// acks=all, and every topic has `min.insync.replicas` ≥ 2 and no unclean leader election.
pub fn promises_no_loss(sim: &Sim) -> bool {
    let producers_safe = sim
        .producers()
        .all(|p| p.config().acks == crate::protocol::Acks::All);
    let topics_safe = sim
        .metadata()
        .topics
        .values()
        .filter(|t| &*t.name != OFFSETS_TOPIC)
        .all(|t| {
            t.config.min_insync_replicas >= 2
                && !t.config.unclean_leader_election
                && t.partitions.iter().all(|p| p.replicas.len() >= 2)
        });
    producers_safe && topics_safe
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
