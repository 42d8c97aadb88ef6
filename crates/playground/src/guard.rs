//! The invariants, checked in the page as in `kplay run --check` and the swarm: after every
//! step the run takes for the first time (`Checker::check`), so the guarantees the page shows
//! (no acknowledged record lost with acks=all and min.insync.replicas=2, idempotence, group
//! safety) are proven as the learner watches, not assumed.
//!
//! A step replayed after a seek back was checked when the run first took it, and the run is
//! deterministic, so only new steps are checked. When the learner changes the past (an edit
//! after a seek back), the run takes a new future: the checker is taken back to the same
//! moment from the checkpoint before it (each checkpoint keeps the checker of its moment) and
//! checks again from there. A violation is kplay's bug, never the learner's: the run pauses,
//! the timeline marks it, and the page says how to replay it.
//!
//! The page's checker remembers only the newest promised batches of each partition (see
//! [`PROMISED_WINDOW`]); `kplay run --check` and the swarm remember them all.

use kplay_engine::check::{Checker, Violation};
use kplay_engine::Sim;

/// Promised batches the page's checker remembers per partition (`Checker::windowed`): a
/// checker is kept beside every checkpoint, and the full one holds a few dozen bytes per
/// acknowledged batch for the whole run (96 MB at the 1.2 M records of the memory test).
pub(crate) const PROMISED_WINDOW: usize = 128;

/// The checker of one run and how far it has checked.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    /// `None` after a violation: the checker's state is then not worth trusting further.
    checker: Option<Checker>,
    /// Steps up to this many events of the run were checked.
    checked: u64,
}

impl Guard {
    /// The checker of a run at its start (checked there once, as `run_checked` does).
    pub(crate) fn new(sim: &Sim) -> (Guard, Option<Violation>) {
        let mut checker = Checker::windowed(PROMISED_WINDOW);
        let violation = checker.check(sim).err();
        let guard = Guard {
            checker: violation.is_none().then_some(checker),
            checked: sim.events_processed(),
        };
        (guard, violation)
    }

    /// The checker, to keep beside a checkpoint of the run at the moment it has checked.
    pub(crate) fn checker_at(&self, sim: &Sim) -> Option<Checker> {
        if sim.events_processed() == self.checked {
            self.checker.clone()
        } else {
            None
        }
    }

    /// After a step of `sim`: checks it if the run takes it for the first time.
    pub(crate) fn after_step(&mut self, sim: &Sim) -> Option<Violation> {
        let checker = self.checker.as_mut()?;
        if sim.events_processed() <= self.checked {
            return None;
        }
        self.checked = sim.events_processed();
        let violation = checker.check(sim).err();
        if violation.is_some() {
            self.checker = None;
        }
        violation
    }

    /// The run's future was replaced while it stood at `sim`: the checker of the newest
    /// checkpoint at or before it (`base`, with the checker kept beside it), brought to the
    /// same step by checking a replay of the steps between.
    pub(crate) fn rewind(
        &mut self,
        sim: &Sim,
        base: Option<(&Sim, &Checker)>,
    ) -> Option<Violation> {
        let Some((base, checker)) = base else {
            // A checkpoint without a checker: checking had stopped there (a violation).
            self.checker = None;
            return None;
        };
        let mut replay = base.clone();
        self.checker = Some(checker.clone());
        self.checked = replay.events_processed();
        while replay.events_processed() < sim.events_processed() && replay.step() {
            if let Some(v) = self.after_step(&replay) {
                return Some(v);
            }
        }
        None
    }
}
