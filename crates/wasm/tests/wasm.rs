//! Tests that run inside a wasm runtime (node, through wasm-bindgen-test-runner), checking that
//! the engine behaves bit for bit as it does natively: the same golden digests.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

const GOLDEN: &str = include_str!("../../../tests/golden/digests.txt");

fn scenario(name: &str) -> &'static str {
    match name {
        "quickstart.toml" => include_str!("../../../scenarios/quickstart.toml"),
        "slow-consumer.toml" => include_str!("../../../scenarios/slow-consumer.toml"),
        "broker-crash.toml" => include_str!("../../../scenarios/broker-crash.toml"),
        "group-rebalance-cooperative.toml" => {
            include_str!("../../../scenarios/group-rebalance-cooperative.toml")
        }
        "at-most-once-vs-at-least-once.toml" => {
            include_str!("../../../scenarios/at-most-once-vs-at-least-once.toml")
        }
        other => panic!("add {other} to the wasm test's scenario list"),
    }
}

#[wasm_bindgen_test]
fn version_is_reported() {
    assert_eq!(kplay_wasm::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn wasm_digests_equal_the_native_golden_digests() {
    let mut checked = 0;
    for line in GOLDEN
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (name, seed, expected) = (parts[0], parts[1].parse::<u64>().expect("seed"), parts[2]);
        let json = kplay_wasm::run_scenario_json(scenario(name), Some(seed)).expect("runs");
        let report: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(
            report["digest"], expected,
            "{name} seed {seed} differs between wasm and native"
        );
        checked += 1;
    }
    assert!(checked >= 2);
}

#[wasm_bindgen_test]
fn simulation_steps_to_the_same_digest_as_a_full_run() {
    let text = scenario("quickstart.toml");
    let mut sim = kplay_wasm::Simulation::new(text, Some(42)).expect("builds");
    for ms in (0..=30_000).step_by(1_000) {
        sim.run_until_ms(ms as f64);
    }
    let full: serde_json::Value =
        serde_json::from_str(&kplay_wasm::run_scenario_json(text, Some(42)).expect("runs"))
            .expect("json");
    assert_eq!(full["digest"], sim.digest());
}

#[wasm_bindgen_test]
fn bad_scenarios_are_errors_not_panics() {
    let e = kplay_wasm::run_scenario_json("[cluster]\nbrokers = -1", None).unwrap_err();
    assert!(e.contains("cluster.brokers"), "{e}");
}
