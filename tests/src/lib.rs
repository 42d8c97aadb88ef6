//! Shared helpers for the cross-crate tests: one helper per boundary.

use std::path::PathBuf;

use kplay_engine::snapshot::Report;
use kplay_scenario::Scenario;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The text of a file under `scenarios/`.
pub fn scenario_text(name: &str) -> String {
    let path = root().join("scenarios").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The text of a file under `tests/regressions/` (schedules that once broke an invariant).
pub fn regression_text(name: &str) -> String {
    let path = root().join("tests/regressions").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every example scenario file name.
pub fn scenario_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

/// Runs a scenario text to its end. On a failed expectation the caller prints the replay line.
pub fn run_scenario(text: &str, seed: Option<u64>) -> Report {
    let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("scenario does not parse: {e}"));
    let mut sim = scenario
        .build(seed)
        .unwrap_or_else(|e| panic!("scenario does not build: {e}"));
    sim.run_until(scenario.end());
    sim.report()
}

/// The result of one `kplay` invocation.
#[derive(Debug)]
pub struct CliOutput {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `kplay` CLI in-process with `args` and `stdin`.
pub fn kplay(args: &[&str], stdin: &str) -> CliOutput {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = kplay_cli::main_with(&args, &mut stdin.as_bytes(), &mut out, &mut err);
    CliOutput {
        code,
        stdout: String::from_utf8(out).expect("utf8"),
        stderr: String::from_utf8(err).expect("utf8"),
    }
}

/// Golden digests, `name seed digest` per line, shared with the wasm tests.
pub fn golden_digests() -> Vec<(String, u64, String)> {
    let text =
        std::fs::read_to_string(root().join("tests/golden/digests.txt")).expect("golden file");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (
                parts[0].to_string(),
                parts[1].parse().expect("seed"),
                parts[2].to_string(),
            )
        })
        .collect()
}

/// Runs a scenario to its end with every invariant checked after every step.
/// On a violation, panics with the invariant, the seed and the command that replays it.
pub fn run_checked(name: &str, text: &str, seed: Option<u64>) -> (kplay_engine::Sim, Report) {
    use kplay_engine::check::{run_checked, Checker};
    let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    let mut sim = scenario
        .build(seed)
        .unwrap_or_else(|e| panic!("{name} does not build: {e}"));
    let mut checker = Checker::new();
    if let Err(v) = run_checked(&mut sim, scenario.end(), &mut checker) {
        panic!(
            "{v}\nseed {}\nreplay: kplay run {name} --seed {} --check",
            sim.seed(),
            sim.seed()
        );
    }
    let report = sim.report();
    (sim, report)
}

/// Trace events of one kind, as text, for assertions about what happened.
pub fn trace_lines(sim: &kplay_engine::Sim, needle: &str) -> Vec<String> {
    sim.trace()
        .recent()
        .map(|e| format!("{} {}", e.at, e.kind))
        .filter(|l| l.contains(needle))
        .collect()
}

/// The time, in ms, at the head of a `trace_lines` line ("12.830s ...").
pub fn at_ms(line: &str) -> u64 {
    let secs = line.split_whitespace().next().expect("a time");
    let secs: f64 = secs.trim_end_matches('s').parse().expect("seconds");
    (secs * 1000.0).round() as u64
}

/// Seeds for a sweep: `SIM_SEED=n` runs one, `SIM_SEEDS=n` overrides the count.
pub fn sweep_seeds(default_count: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_count);
    (1..=count).collect()
}

/// Runs `f` over `seeds` on every core; returns the results in seed order.
pub fn par_map<T: Send>(seeds: &[u64], f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = seeds.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|c| scope.spawn(|| c.iter().map(|&s| f(s)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sweep thread"))
            .collect()
    })
}
