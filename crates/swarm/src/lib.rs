//! The swarm: simulation testing in the manner of FoundationDB's simulator and TigerBeetle's
//! VOPR. Each seed draws a cluster, a workload, timeouts and a fault profile (`plan`); a run
//! checks every invariant after every step, then heals everything and requires the cluster to
//! settle (`run`); a failing plan is shrunk to the fewest faults that still fail (`shrink`).
//!
//! `cargo xtask swarm --seeds N [--from S]` runs it at length; the test suite runs a thousand
//! seeds, and, with the `planted-bugs` feature, proves that each deliberate bug is caught.

pub mod plan;
pub mod run;
pub mod shrink;

pub use plan::{generate, Fault, FaultKind, Plan};
pub use run::{run, Failure, Outcome};
pub use shrink::shrink;

/// A failing seed written out for replay: the plan's scenario, and the shrunk one.
#[derive(Clone, Debug)]
pub struct Report {
    pub seed: u64,
    pub failure: Failure,
    pub faults: usize,
    pub shrunk: Option<(Plan, Failure)>,
}

impl Report {
    /// Writes `seed-N.toml` (and `seed-N-shrunk.toml`) into `dir`; returns the text that says
    /// what failed and how to replay it.
    pub fn write(&self, plan: &Plan, dir: &std::path::Path) -> String {
        let _ = std::fs::create_dir_all(dir);
        let mut text = format!("seed {}: {}\n", self.seed, self.failure);
        let file = dir.join(format!("seed-{}.toml", self.seed));
        let _ = std::fs::write(&file, scenario_file(plan, &self.failure));
        text += &format!(
            "  plan ({} faults, {}): {}\n",
            self.faults,
            plan.profile.name(),
            file.display()
        );
        text += &format!("  replay: {}\n", replay_line(&file, &self.failure));
        if let Some((small, failure)) = &self.shrunk {
            let file = dir.join(format!("seed-{}-shrunk.toml", self.seed));
            let _ = std::fs::write(&file, scenario_file(small, failure));
            text += &format!(
                "  shrunk to {} faults: {}\n  replay: {}\n",
                small.faults.len(),
                file.display(),
                replay_line(&file, failure)
            );
        }
        text += &format!("  again: cargo xtask swarm --seed {}\n", self.seed);
        text
    }
}

/// The replay command: `--check` stops at an invariant; a liveness failure shows in the report.
fn replay_line(file: &std::path::Path, failure: &Failure) -> String {
    match failure {
        Failure::Safety(_) => format!("kplay run {} --check", file.display()),
        _ => format!("kplay run {}", file.display()),
    }
}

/// A plan's scenario file, headed by what failed.
pub fn scenario_file(plan: &Plan, failure: &Failure) -> String {
    let mut header = String::new();
    for line in failure.to_string().lines() {
        header += &format!("# {line}\n");
    }
    header += &format!(
        "# swarm seed {}: everything healed and producers stopped at {} ms; the run must settle by {} ms\n",
        plan.seed, plan.heal_ms, plan.end_ms
    );
    header + &plan.scenario().to_toml()
}
