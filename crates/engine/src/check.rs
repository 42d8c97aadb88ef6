//! Invariant checkers: properties that must hold after every step of any run, whatever the
//! faults (reference §9, the TLA+ model's `LeaderInIsr` and `StrongIsr`, plus ours).
//! A violation names the invariant, the time and what was seen; the caller adds the seed and
//! the command that replays it.

use std::collections::BTreeMap;
use std::fmt;

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
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Checks every invariant against the simulation's current state.
    pub fn check(&mut self, sim: &Sim) -> Result<(), Violation> {
        let at = sim.now();
        let fail = |invariant, detail: String| {
            Err(Violation {
                invariant,
                at,
                detail,
            })
        };
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
        // A member that left and rejoined the ISR is compared again from the start.
        self.verified.retain(|(tp, m), _| {
            metadata
                .partition(&tp.topic, tp.partition)
                .is_some_and(|pm| pm.isr.contains(m))
        });
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
    let snapshot = sim.snapshot(0, 0);
    let producers_safe = snapshot.producers.iter().all(|p| p.acks == "all");
    let topics_safe = sim.metadata().topics.values().all(|t| {
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
