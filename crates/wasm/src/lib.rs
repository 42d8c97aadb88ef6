//! A thin wasm-bindgen facade over the engine for JavaScript hosts.
//! The Yew app links the engine directly; this crate is for everyone else.
//! Errors come back as JavaScript exceptions carrying the scenario error text; nothing panics
//! on user input.

use kplay_engine::partitioner;
use kplay_scenario::{report_json, Scenario};
use wasm_bindgen::prelude::*;

/// The engine version, so a host can check what it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Runs a scenario file to its end and returns the report as a JSON string (the same JSON as
/// `kplay run --json`). `seed` overrides the file's seed.
#[wasm_bindgen(js_name = runScenario)]
pub fn run_scenario(toml: &str, seed: Option<u64>) -> Result<String, JsError> {
    run_scenario_json(toml, seed).map_err(|e| JsError::new(&e))
}

/// The same as [`run_scenario`], callable from native code and tests.
pub fn run_scenario_json(toml: &str, seed: Option<u64>) -> Result<String, String> {
    let scenario = Scenario::parse(toml).map_err(|e| e.to_string())?;
    let mut sim = scenario.build(seed).map_err(|e| e.to_string())?;
    sim.run_until(scenario.end());
    Ok(report_json(&sim.report()).to_string())
}

/// Where Kafka's default partitioner sends `key` among `partitions`:
/// `{ "murmur2": <signed 32-bit>, "partition": <n> }`.
#[wasm_bindgen]
pub fn partition(key: &str, partitions: u32) -> Result<JsValue, JsError> {
    if partitions == 0 {
        return Err(JsError::new("partitions must be at least 1"));
    }
    let value = serde_json::json!({
        "murmur2": partitioner::murmur2(key.as_bytes()),
        "partition": partitioner::partition_for_key(key.as_bytes(), partitions),
    });
    serde_wasm_bindgen::to_value(&value).map_err(|e| JsError::new(&e.to_string()))
}

/// A running simulation a JavaScript host can step and inspect.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Simulation {
    sim: kplay_engine::Sim,
    end: kplay_engine::Instant,
}

#[wasm_bindgen]
impl Simulation {
    #[wasm_bindgen(constructor)]
    pub fn new(toml: &str, seed: Option<u64>) -> Result<Simulation, JsError> {
        let scenario = Scenario::parse(toml).map_err(|e| JsError::new(&e.to_string()))?;
        let sim = scenario
            .build(seed)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Simulation {
            sim,
            end: scenario.end(),
        })
    }

    /// Advances virtual time to `ms` milliseconds (never past the scenario's end).
    #[wasm_bindgen(js_name = runUntilMs)]
    pub fn run_until_ms(&mut self, ms: f64) {
        let target = if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        };
        let until = kplay_engine::Instant::from_millis(target).min(self.end);
        self.sim.run_until(until);
    }

    /// Virtual time now, in milliseconds.
    #[wasm_bindgen(js_name = nowMs)]
    pub fn now_ms(&self) -> f64 {
        self.sim.now().as_millis() as f64
    }

    /// The run digest as 16 hex digits.
    pub fn digest(&self) -> String {
        format!("{:016x}", self.sim.digest())
    }

    /// The report so far, as a JSON string.
    pub fn report(&self) -> String {
        report_json(&self.sim.report()).to_string()
    }
}
