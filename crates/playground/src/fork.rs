//! Forks: from any moment, a second run with one change (a setting, or a fault), side by side
//! with the original, and the difference between them.
//!
//! A fork is the same scenario with the change on its timeline at the fork's millisecond
//! (`Scenario::fork`), so it exports and replays like any scenario; its run starts as a clone
//! of the original's `Sim` at that moment, which determinism makes equal to replaying its
//! prefix. A setting changes as it would in a running Kafka cluster
//! (`Scenario::live_setting`): a topic config is altered live, a client is redeployed with its
//! new configuration; what a running cluster cannot change is refused.

use kplay_engine::{Instant, Sim};
use kplay_scenario::Scenario;

use crate::travel::Checkpoints;
use crate::{err, Playground, TimelineAction, FRAME_EVENT_BUDGET};

/// The change a fork makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForkChange {
    /// A setting by its path (`topic.orders.min.insync.replicas`, `producer.checkout.acks`) and
    /// its new value as typed.
    Setting { path: String, value: String },
    /// Something done to the cluster: a fault, a client stopped, ...
    Live(TimelineAction),
}

/// The second run.
#[derive(Clone, Debug)]
pub(crate) struct Fork {
    pub(crate) scenario: Scenario,
    pub(crate) sim: Sim,
    checkpoints: Checkpoints,
    /// Where the fork's run starts (the original's clock when it forked).
    at: Instant,
    /// The millisecond the change runs at.
    at_ms: u64,
    /// What changed, in words.
    change: String,
}

impl Fork {
    /// Brings the fork to `now` (the original's clock), never before its own start.
    pub(crate) fn follow(&mut self, now: Instant) {
        let now = now.max(self.at);
        if now >= self.sim.now() {
            self.sim.run_until_bounded(now, FRAME_EVENT_BUDGET);
        } else {
            self.checkpoints.at_time(&mut self.sim, now);
        }
        self.checkpoints.observe(&self.sim, None);
    }
}

/// What a run did so far, in the figures a fork is compared by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFigures {
    pub now_ms: u64,
    pub produced: u64,
    pub acked: u64,
    pub failed: u64,
    /// Acknowledged records no longer in their partition's log.
    pub lost: u64,
    pub duplicates: u64,
    /// Every group's lag (high watermark − committed), summed.
    pub lag: u64,
    /// Produce latency in ms (median, 99th percentile), once a record was acknowledged.
    pub latency_ms: Option<(u64, u64)>,
    pub digest: u64,
}

impl RunFigures {
    pub fn of(sim: &Sim) -> RunFigures {
        let r = sim.report();
        RunFigures {
            now_ms: r.now.as_millis(),
            produced: r.produced,
            acked: r.acked,
            failed: r.failed,
            lost: r.lost_acked,
            duplicates: r.duplicates,
            lag: r.groups.iter().map(|g| g.lag).sum(),
            latency_ms: sim.produce_latency_ms(),
            digest: r.digest,
        }
    }
}

/// The original and the fork, side by side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkView {
    pub at_ms: u64,
    pub change: String,
    pub original: RunFigures,
    pub fork: RunFigures,
}

impl Playground {
    /// Forks the run at the next whole millisecond with `change`.
    pub(crate) fn fork_with(&mut self, change: ForkChange) -> Result<(), String> {
        let at_ms = self.next_ms();
        let (action, words) = match change {
            ForkChange::Setting { path, value } => {
                let path = path.trim();
                let action = self.scenario.live_setting(path, &value).map_err(err)?;
                (action, format!("{path} = {}", value.trim()))
            }
            ForkChange::Live(action) => {
                let words = action.name().replace('_', " ");
                (action, words)
            }
        };
        let command = action.command();
        self.sim.validate(&command).map_err(|e| e.to_string())?;
        let scenario = self.scenario.fork(at_ms, vec![action]);
        scenario.check_timeline().map_err(err)?;
        let mut sim = self.sim.clone();
        let at = Instant::from_millis(at_ms);
        // Both runs stand at the fork's millisecond; the change runs first in it.
        sim.schedule(at, command);
        self.fork = Some(Box::new(Fork {
            scenario,
            checkpoints: Checkpoints::new(&sim, None),
            sim,
            at: self.sim.now(),
            at_ms,
            change: words,
        }));
        Ok(())
    }

    /// The fork and the original compared, if there is a fork. It reads every record of both
    /// runs (the loss audit), so the page asks for it when paused or about once a second.
    pub fn fork_view(&self) -> Option<ForkView> {
        let fork = self.fork.as_ref()?;
        Some(ForkView {
            at_ms: fork.at_ms,
            change: fork.change.clone(),
            original: RunFigures::of(&self.sim),
            fork: RunFigures::of(&fork.sim),
        })
    }

    /// The fork's scenario, to export or replay.
    pub fn fork_scenario(&self) -> Option<&Scenario> {
        self.fork.as_ref().map(|f| &f.scenario)
    }

    /// The fork's run, for a page showing its state.
    pub fn fork_sim(&self) -> Option<&Sim> {
        self.fork.as_ref().map(|f| &f.sim)
    }
}
