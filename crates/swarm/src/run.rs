//! Running a plan: a safety phase with every invariant checked after every step, then a healed
//! liveness phase after which everything must have settled: no record still pending, every
//! acknowledged record read by every at-least-once reader of its topic, every group stable,
//! every partition led with its whole ISR back.

use std::fmt;

use kplay_engine::check::{promises_no_loss, Checker, Violation};
use kplay_engine::consumer::MemberState;
use kplay_engine::ledger::Outcome as RecordOutcome;
use kplay_engine::{Instant, Sim};

use crate::plan::Plan;

/// Why a seed failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The plan does not build: a bug of the generator.
    Build(String),
    /// An invariant broke during the run.
    Safety(Violation),
    /// The healed run did not settle.
    Liveness { what: &'static str, detail: String },
    /// The engine panicked: an assertion about our own code failed.
    Panic(String),
}

impl Failure {
    /// What kind of failure this is: the invariant, or the liveness property. Shrinking keeps
    /// a fault removal only when the failure stays of the same kind.
    pub fn kind(&self) -> &str {
        match self {
            Failure::Build(_) => "Build",
            Failure::Panic(_) => "Panic",
            Failure::Safety(v) => v.invariant,
            Failure::Liveness { what, .. } => what,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Build(e) => write!(f, "the plan does not build: {e}"),
            Failure::Safety(v) => write!(f, "{v}"),
            Failure::Liveness { what, detail } => {
                write!(f, "liveness {what} failed after the heal: {detail}")
            }
            Failure::Panic(message) => write!(f, "the engine panicked: {message}"),
        }
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    pub events: u64,
    pub failure: Option<Failure>,
}

/// Runs a plan, checked, to its end, then checks that it settled. A panic of the engine is
/// a failure of the seed, not of the swarm.
pub fn run(plan: &Plan) -> Outcome {
    catching_panics(plan, || run_with(plan, |_| {}))
}

fn catching_panics(plan: &Plan, f: impl FnOnce() -> Outcome) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        Outcome {
            seed: plan.seed,
            events: 0,
            failure: Some(Failure::Panic(message)),
        }
    })
}

/// Runs a plan with a deliberate bug planted in the engine (tests of the checker's teeth).
#[cfg(feature = "planted-bugs")]
pub fn run_planted(plan: &Plan, bug: kplay_engine::planted::Bug) -> Outcome {
    catching_panics(plan, || {
        run_with(plan, |sim| {
            sim.plant(kplay_engine::planted::Planted::one(bug))
        })
    })
}

fn run_with(plan: &Plan, prepare: impl FnOnce(&mut Sim)) -> Outcome {
    let mut outcome = Outcome {
        seed: plan.seed,
        events: 0,
        failure: None,
    };
    let scenario = plan.scenario();
    let mut sim = match scenario.build(None) {
        Ok(sim) => sim,
        Err(e) => {
            outcome.failure = Some(Failure::Build(e.to_string()));
            return outcome;
        }
    };
    prepare(&mut sim);
    let mut checker = Checker::new();
    let end = Instant::from_millis(plan.end_ms);
    // A storm of events (a retry loop without backoff) is a bug too, and must not hang the
    // swarm: a seed's events are bounded by a generous rate per virtual second.
    let budget = 1_000_000 + 20_000 * plan.end_ms / 1_000;
    let mut checked = checker.check(&sim);
    while checked.is_ok() && sim.next_event_at().is_some_and(|at| at <= end) {
        if sim.events_processed() >= budget {
            outcome.events = sim.events_processed();
            outcome.failure = Some(Failure::Liveness {
                what: "NoEventStorm",
                detail: format!("more than {budget} events by {}", sim.now()),
            });
            return outcome;
        }
        sim.step();
        checked = checker.check(&sim);
    }
    sim.run_until(end);
    outcome.events = sim.events_processed();
    outcome.failure = match checked {
        Err(v) => Some(Failure::Safety(v)),
        Ok(()) => settled(plan, &sim).err(),
    };
    outcome
}

/// The liveness properties, at the end of the healed phase.
fn settled(plan: &Plan, sim: &Sim) -> Result<(), Failure> {
    let fail = |what, detail| Err(Failure::Liveness { what, detail });
    let report = sim.report();
    let pending = report.produced - report.acked - report.failed - report.abandoned;
    if pending > 0 {
        return fail(
            "NothingPending",
            format!("{pending} records neither acknowledged nor failed"),
        );
    }
    if promises_no_loss(sim) {
        Checker::no_acknowledged_record_lost(sim).map_err(Failure::Safety)?;
    }
    let metadata = sim.metadata();
    for t in metadata.topics.values() {
        for (p, pm) in t.partitions.iter().enumerate() {
            if pm.leader.is_none() || pm.isr.len() != pm.replicas.len() {
                let detail = format!(
                    "{}-{p}: leader {:?}, ISR {:?} of replicas {:?}",
                    t.name, pm.leader, pm.isr, pm.replicas
                );
                return fail("IsrConverges", detail);
            }
        }
    }
    for g in &report.groups {
        let live: Vec<_> = sim
            .consumers()
            .filter_map(|c| c.membership.as_ref())
            .filter(|m| *m.group == *g.group)
            .collect();
        let stable = g.state == "Stable"
            && g.members.len() == live.len()
            && live.iter().all(|m| {
                m.state == MemberState::Stable
                    && m.generation.map(|m| i64::from(m.0)) == Some(i64::from(g.generation))
            });
        if !stable {
            let detail = format!(
                "group {}: {} in generation {}, {} members known, members {:?}",
                g.group,
                g.state,
                g.generation,
                g.members.len(),
                live.iter()
                    .map(|m| (m.member_id.to_string(), m.state, m.generation))
                    .collect::<Vec<_>>()
            );
            return fail("GroupsSettle", detail);
        }
        let audience = format!("group:{}", g.group);
        let after = plan.at_least_once.iter().any(|r| r.audience == audience);
        if after && g.lost != Some(0) {
            let detail = format!("group {} lost {:?} records", g.group, g.lost);
            return fail("CommitsAfterProcessingLoseNothing", detail);
        }
    }
    every_record_read(plan, sim)?;
    every_input_has_output(plan, sim)
}

/// Every acknowledged (and not aborted) record of a processor's inputs has its output among
/// the committed records of its output topic: exactly-once or at-least-once, none is lost.
fn every_input_has_output(plan: &Plan, sim: &Sim) -> Result<(), Failure> {
    let aborted = sim.aborted_records();
    for proc in &plan.base.processors {
        let mut made = std::collections::BTreeSet::new();
        for tp in sim.partitions_of(&proc.output) {
            let end = kplay_engine::record::Offset(u64::MAX);
            let (records, _) = sim.committed_records(&tp, kplay_engine::record::Offset(0), end);
            for (_, output) in records {
                made.extend(sim.ledger().source(output).cloned());
            }
        }
        for p in sim
            .producers()
            .filter(|p| proc.inputs.contains(&p.spec.topic))
        {
            let outcomes = sim.ledger().outcomes(p.index);
            let topic = &p.spec.topic;
            let missing = outcomes.iter().enumerate().filter(|(seq, o)| {
                let id = kplay_engine::record::RecordId {
                    producer: p.index,
                    seq: *seq as u64,
                };
                let RecordOutcome::Acked {
                    partition,
                    offset: Some(offset),
                } = o
                else {
                    return false;
                };
                let at = (
                    kplay_engine::record::TopicPartition::new(topic, *partition),
                    *offset,
                );
                !aborted.contains(&id) && !made.contains(&at)
            });
            let count = missing.clone().count();
            if count > 0 {
                let first = missing.map(|(seq, _)| seq).next();
                let (who, of) = (&proc.id, &p.spec.name);
                let detail = format!(
                    "processor {who}: no committed output for {count} acknowledged records \
                     of {of} (first #{first:?})"
                );
                return Err(Failure::Liveness {
                    what: "EveryInputHasOutput",
                    detail,
                });
            }
        }
    }
    Ok(())
}

/// Partitions of `topic` a settled cooperative group's generation hands to nobody: withheld by
/// the first of two rounds whose second never ran (see `GroupStableCoverage` in the engine's
/// checker). Kafka leaves them unread until the next rebalance, and so does kplay: swarm seed
/// 67850 (a static rejoiner closed while the coordinator running its second round failed over).
fn withheld(sim: &Sim, audience: &str, topic: &str) -> Vec<u32> {
    let Some(group) = audience.strip_prefix("group:") else {
        return Vec::new();
    };
    let (_, _, Some(state)) = sim.coordinator_of(group) else {
        return Vec::new();
    };
    if state.protocol.as_deref() != Some("cooperative-sticky") {
        return Vec::new();
    }
    let partitions = sim
        .metadata()
        .topics
        .get(topic)
        .map_or(0, |t| t.partitions.len() as u32);
    (0..partitions)
        .filter(|&p| {
            !state.members.values().any(|m| {
                m.assignment
                    .iter()
                    .any(|tp| &*tp.topic == topic && tp.partition == p)
            })
        })
        .collect()
}

/// Every acknowledged record reached every at-least-once reader of its topic (but those of
/// partitions a cooperative generation withheld: see [`withheld`]).
fn every_record_read(plan: &Plan, sim: &Sim) -> Result<(), Failure> {
    // Records of aborted transactions were acknowledged to their producer but never
    // committed: a read_committed reader never sees them.
    let aborted = sim.aborted_records();
    for reader in &plan.at_least_once {
        let audience = &reader.audience;
        let delivered = sim.ledger().audiences().get(audience.as_str());
        for p in sim.producers() {
            if !reader.topics.contains(&p.spec.topic) {
                continue;
            }
            let excused = withheld(sim, audience, &p.spec.topic);
            let outcomes = sim.ledger().outcomes(p.index);
            let unread = outcomes.iter().enumerate().filter(|(seq, o)| {
                let id = kplay_engine::record::RecordId {
                    producer: p.index,
                    seq: *seq as u64,
                };
                matches!(o, RecordOutcome::Acked { partition, .. } if !excused.contains(partition))
                    && !delivered.is_some_and(|a| a.was_delivered(id))
                    && !aborted.contains(&id)
            });
            let count = unread.clone().count();
            if count > 0 {
                let first = unread.map(|(seq, _)| seq).next();
                let detail = format!(
                    "{audience} never read {count} acknowledged records of {} (first #{first:?})",
                    p.spec.name
                );
                return Err(Failure::Liveness {
                    what: "EveryRecordRead",
                    detail,
                });
            }
        }
    }
    Ok(())
}
