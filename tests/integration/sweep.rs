//! Seed sweeps (swarm testing, after FoundationDB and TigerBeetle's VOPR): random crashes,
//! restarts, network partitions, pauses and slow links, every invariant checked after every step.
//! `SIM_SEED=n` replays one seed; `SIM_SEEDS=n` changes how many run. A failure writes the
//! scenario to `target/` and prints the command that replays it.

use kplay_engine::check::{run_checked, Checker};
use kplay_tests::{par_map, root, swarm_scenario, sweep_seeds};

fn replay_hint(seed: u64, acks: &str) -> String {
    scenario_hint(&format!("sweep-{acks}"), seed, &swarm_scenario(seed, acks))
}

/// Writes a failing seed's scenario to `target/{name}-{seed}.toml` and says how to replay it.
fn scenario_hint(name: &str, seed: u64, scenario: &kplay_scenario::Scenario) -> String {
    let dir = root().join("target");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}-{seed}.toml"));
    let _ = std::fs::write(&path, scenario.to_toml());
    format!(
        "seed {seed}; replay: kplay run {} --check (or SIM_SEED={seed} cargo test sweep)",
        path.display()
    )
}

/// Fails with every failing seed's message, after all seeds ran.
fn assert_all_seeds_passed(seeds: &[u64], failures: Vec<Option<String>>) {
    let failures: Vec<String> = failures.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n\n")
    );
}

#[test]
fn safe_settings_survive_every_fault_plan() {
    // acks=all, min.insync.replicas=2, no unclean election: zero violations, zero loss.
    let seeds = sweep_seeds(500);
    let failures = par_map(&seeds, |seed| {
        let scenario = swarm_scenario(seed, "all");
        let mut sim = scenario.build(None).expect("generated scenarios build");
        let mut checker = Checker::new();
        if let Err(v) = run_checked(&mut sim, scenario.end(), &mut checker) {
            return Some(format!("{v}\n{}", replay_hint(seed, "all")));
        }
        if let Err(v) = Checker::no_acknowledged_record_lost(&sim) {
            return Some(format!("{v}\n{}", replay_hint(seed, "all")));
        }
        // Liveness: after 30 s of healed network, nothing is stuck.
        let r = sim.report();
        if r.acked + r.failed != r.produced {
            return Some(format!(
                "{} records still pending at the end\n{}",
                r.produced - r.acked - r.failed,
                replay_hint(seed, "all")
            ));
        }
        // ... and the consumer has read every acknowledged record.
        let unique = r.consumed - r.duplicates;
        if unique < r.acked {
            return Some(format!(
                "consumer read {unique} of {} acknowledged records\n{}",
                r.acked,
                replay_hint(seed, "all")
            ));
        }
        None
    });
    assert_all_seeds_passed(&seeds, failures);
}

#[test]
fn acks_1_loses_data_under_the_same_faults_and_the_checker_sees_it() {
    // The same fault plans with acks=1: the loss audit must find lost records in most seeds,
    // which shows the checker has teeth.
    let seeds = sweep_seeds(200);
    let results = par_map(&seeds, |seed| {
        let scenario = swarm_scenario(seed, "1");
        let mut sim = scenario.build(None).expect("generated scenarios build");
        let mut checker = Checker::new();
        if let Err(v) = run_checked(&mut sim, scenario.end(), &mut checker) {
            panic!("{v}\n{}", replay_hint(seed, "1"));
        }
        Checker::no_acknowledged_record_lost(&sim).is_err()
    });
    let lossy = results.iter().filter(|&&l| l).count();
    println!("acks=1: loss detected in {lossy} of {} seeds", seeds.len());
    if seeds.len() >= 20 {
        assert!(
            lossy * 2 > seeds.len(),
            "loss detected in only {lossy} of {} seeds",
            seeds.len()
        );
    }
}

#[test]
fn consumer_groups_keep_their_invariants_under_random_consumer_faults() {
    // Crashes, restarts, closes and slow members (some static), with broker crashes now and
    // then: zero invariant violations, and a group that settles once the faults stop.
    let seeds = sweep_seeds(24);
    let failures = par_map(&seeds, |seed| {
        let scenario = kplay_tests::group_swarm_scenario(seed);
        let hint = || scenario_hint("sweep-groups", seed, &scenario);
        let mut sim = match scenario.build(None) {
            Ok(sim) => sim,
            Err(e) => return Some(format!("does not build: {e}\n{}", hint())),
        };
        let mut checker = Checker::new();
        if let Err(v) = run_checked(&mut sim, scenario.end(), &mut checker) {
            return Some(format!("{v}\n{}", hint()));
        }
        let r = sim.report();
        let g = r.groups.iter().find(|g| g.group == "g")?;
        if g.state != "Stable" {
            return Some(format!(
                "group ends {} instead of Stable\n{}",
                g.state,
                hint()
            ));
        }
        // Every commit here is made after processing (auto-commit commits what earlier polls
        // returned, which is processed by then): crashes may duplicate, never lose.
        if g.lost != Some(0) {
            return Some(format!("the group lost {:?} records\n{}", g.lost, hint()));
        }
        None
    });
    assert_all_seeds_passed(&seeds, failures);
}
