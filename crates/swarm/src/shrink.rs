//! Shrinking a failing plan: faults are taken out one at a time, and a removal is kept while
//! the plan still fails the same way, until no single fault can go. What is left is the
//! smallest plan (by faults) this search finds, written as a scenario file.

use crate::plan::Plan;
use crate::run::Failure;

/// The smallest plan that still fails like `failure`, and that failure. `run` runs a plan.
pub fn shrink(
    plan: &Plan,
    failure: &Failure,
    run: impl Fn(&Plan) -> Option<Failure>,
) -> (Plan, Failure) {
    let mut smallest = plan.clone();
    let mut failing = failure.clone();
    loop {
        let mut removed = false;
        // From the last fault back: later faults are removed without shifting the earlier.
        for i in (0..smallest.faults.len()).rev() {
            let candidate = smallest.without(i);
            if let Some(f) = run(&candidate).filter(|f| f.kind() == failure.kind()) {
                smallest = candidate;
                failing = f;
                removed = true;
            }
        }
        if !removed {
            return (smallest, failing);
        }
    }
}
