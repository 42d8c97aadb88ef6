//! The same scenario and seed give the same run, bit for bit; another seed gives another run.
//! Golden digests pin the behaviour, and the wasm tests check the same digests in wasm.

use kplay_scenario::{report_json, Scenario};
use kplay_tests::{golden_digests, root, run_scenario, scenario_text};

#[test]
fn same_seed_same_digest_and_report() {
    for name in ["quickstart.toml", "broker-crash.toml", "slow-consumer.toml"] {
        let text = scenario_text(name);
        let a = run_scenario(&text, None);
        let b = run_scenario(&text, None);
        assert_eq!(
            a.digest, b.digest,
            "{name}: replay with kplay run scenarios/{name} --seed {}",
            a.seed
        );
        assert_eq!(report_json(&a), report_json(&b), "{name}");
    }
}

#[test]
fn another_seed_changes_a_random_run() {
    // Key choice from a pool and sticky partitioning both draw from the seed.
    let text = scenario_text("quickstart.toml");
    let a = run_scenario(&text, Some(1));
    let b = run_scenario(&text, Some(2));
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.acked, b.acked, "the outcome counts stay the same");
}

#[test]
fn a_cloned_simulation_continues_identically() {
    // Checkpoints and "what if" forks rely on Clone giving an independent, identical copy.
    let scenario = Scenario::parse(&scenario_text("broker-crash.toml")).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.run_until(kplay_engine::Instant::from_millis(12_000));
    let mut fork = sim.clone();
    sim.run_until(scenario.end());
    fork.run_until(scenario.end());
    assert_eq!(sim.digest(), fork.digest());
    assert_eq!(sim.report(), fork.report());
}

#[test]
fn golden_digests_match() {
    // Any change of behaviour changes these. If the change is intended, rerun with
    // UPDATE_GOLDEN=1 to rewrite tests/golden/digests.txt (the wasm test reads the same file).
    let golden = golden_digests();
    assert!(!golden.is_empty());
    let mut lines = vec!["# scenario seed digest — shared by native and wasm tests".to_string()];
    let mut mismatches = Vec::new();
    for (name, seed, expected) in &golden {
        let r = run_scenario(&scenario_text(name), Some(*seed));
        let actual = format!("{:016x}", r.digest);
        if &actual != expected {
            mismatches.push(format!(
                "{name} seed {seed}: expected {expected}, got {actual}"
            ));
        }
        lines.push(format!("{name} {seed} {actual}"));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(
            root().join("tests/golden/digests.txt"),
            lines.join("\n") + "\n",
        )
        .expect("write golden");
        return;
    }
    assert!(
        mismatches.is_empty(),
        "digests changed (UPDATE_GOLDEN=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
