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

/// A swarm-test scenario for `seed`: three brokers, a replicated topic, a producer with the given
/// `acks`, a consumer, and a random plan of faults in the first 30 s. From 30 s every fault is
/// healed (the liveness phase) and the run ends at 60 s.
pub fn swarm_scenario(seed: u64, acks: &str) -> Scenario {
    use kplay_engine::rng::{Prng, Stream};
    use kplay_scenario::{Action, ConsumerDef, EventDef, ProducerDef, TopicDef};
    let mut rng = Prng::stream(seed, Stream::Consumer(u32::MAX));
    let mut s = Scenario::empty(3);
    s.seed = seed;
    s.duration_ms = 60_000;
    let cfg = |k: &str, v: kplay_engine::config::ConfigValue| (k.to_string(), v);
    use kplay_engine::config::ConfigValue::{Int, Str};
    s.topics.push(TopicDef {
        name: "t".into(),
        partitions: 3,
        replication_factor: 3,
        config: vec![cfg("min.insync.replicas", Int(2))],
        start_ms: 0,
        line: 0,
    });
    s.producers.push(ProducerDef {
        id: "p".into(),
        topic: "t".into(),
        rate_per_sec: 100,
        records: Some(3_000),
        keys: kplay_engine::producer::KeyMode::Unique,
        value_bytes: 50,
        start_ms: 0,
        // A retried batch may keep failing until `delivery.timeout.ms` (Kafka retries an
        // out-of-order sequence that is not the next one): short enough to end in the
        // liveness phase.
        config: if acks == "all" {
            vec![
                cfg("acks", Str(acks.into())),
                cfg("delivery.timeout.ms", Int(20_000)),
                cfg("request.timeout.ms", Int(10_000)),
            ]
        } else {
            vec![cfg("acks", Str(acks.into()))]
        },
        line: 0,
    });
    s.consumers.push(ConsumerDef {
        id: "c".into(),
        topics: vec!["t".into()],
        processing_us_per_record: 0,
        commit: kplay_engine::consumer::CommitStrategy::Auto,
        failure_ppm: 0,
        start_ms: 0,
        config: vec![cfg("auto.offset.reset", Str("earliest".into()))],
        line: 0,
    });
    let mut events = Vec::new();
    // Crash and pause intervals per broker: they never overlap on one broker (a down broker
    // cannot be paused, a paused one is not crashed in this generator).
    let mut down: [Vec<(u64, u64)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let faults = 2 + rng.below(4);
    for _ in 0..faults {
        let at = 2_000 + rng.below(25_000);
        let broker = rng.below(3) as u32;
        let lasts = 1_000 + rng.below(12_000);
        let end = (at + lasts).min(29_000);
        let overlaps = down[broker as usize]
            .iter()
            .any(|&(a, b)| at <= b && a <= at + lasts);
        match rng.below(4) {
            0 | 2 if overlaps => {}
            0 => {
                down[broker as usize].push((at, end));
                events.push(EventDef {
                    at_ms: at,
                    action: Action::CrashBroker { broker },
                    line: 0,
                });
                events.push(EventDef {
                    at_ms: end,
                    action: Action::RestartBroker { broker },
                    line: 0,
                });
            }
            1 => {
                events.push(EventDef {
                    at_ms: at,
                    action: Action::PartitionNetwork {
                        brokers: vec![broker],
                    },
                    line: 0,
                });
                events.push(EventDef {
                    at_ms: end,
                    action: Action::HealNetwork,
                    line: 0,
                });
            }
            2 => {
                down[broker as usize].push((at, at + lasts));
                events.push(EventDef {
                    at_ms: at,
                    action: Action::PauseBroker {
                        broker,
                        duration_ms: lasts,
                    },
                    line: 0,
                });
            }
            _ => {
                let peer = (broker + 1 + rng.below(2) as u32) % 3;
                events.push(EventDef {
                    at_ms: at,
                    action: Action::SlowLink {
                        broker,
                        peer,
                        extra_ms: 50 + rng.below(500),
                    },
                    line: 0,
                });
            }
        }
    }
    // Liveness phase: everything healed from 30 s on.
    events.push(EventDef {
        at_ms: 30_000,
        action: Action::HealNetwork,
        line: 0,
    });
    events.sort_by_key(|e| e.at_ms);
    s.events = events;
    s
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

/// A group swarm scenario for `seed`: three brokers, a replicated topic, four consumers in one
/// group with a random assignor and commit strategy, and a random plan of consumer faults
/// (crash, restart, close, slow down) plus an occasional broker crash, in the first 30 s.
pub fn group_swarm_scenario(seed: u64) -> Scenario {
    use kplay_engine::config::ConfigValue::{Bool, Int, List, Str};
    use kplay_engine::consumer::CommitStrategy;
    use kplay_scenario::{Action, ConsumerDef, EventDef, ProducerDef, TopicDef};
    let mut rng = kplay_engine::rng::Prng::new(seed ^ 0x6772_6f75_7073);
    let cfg = |k: &str, v| (k.to_string(), v);
    let mut s = Scenario::empty(3);
    s.seed = seed;
    s.duration_ms = 60_000;
    s.topics.push(TopicDef {
        name: "t".into(),
        partitions: 6,
        replication_factor: 3,
        config: vec![cfg("min.insync.replicas", Int(2))],
        start_ms: 0,
        line: 0,
    });
    s.producers.push(ProducerDef {
        id: "p".into(),
        topic: "t".into(),
        rate_per_sec: 200,
        records: None,
        keys: kplay_engine::producer::KeyMode::Unique,
        value_bytes: 50,
        start_ms: 0,
        config: vec![],
        line: 0,
    });
    let strategies = ["range", "roundrobin", "sticky", "cooperative-sticky"];
    let strategy = strategies[rng.below(4) as usize];
    let commits = ["auto", "sync-after", "async-after"];
    let names = ["c0", "c1", "c2", "c3"];
    for (i, name) in names.iter().enumerate() {
        let commit = commits[rng.below(3) as usize];
        let mut config = vec![
            cfg("group.id", Str("g".into())),
            cfg("auto.offset.reset", Str("earliest".into())),
            cfg("session.timeout.ms", Int(8_000)),
            cfg("max.poll.interval.ms", Int(6_000)),
            cfg("partition.assignment.strategy", List(vec![strategy.into()])),
            cfg("enable.auto.commit", Bool(commit == "auto")),
        ];
        if rng.below(3) == 0 {
            config.push(cfg("group.instance.id", Str(format!("{name}-host"))));
        }
        s.consumers.push(ConsumerDef {
            id: (*name).into(),
            topics: vec!["t".into()],
            processing_us_per_record: 1_000,
            commit: CommitStrategy::parse(commit).expect("a name"),
            failure_ppm: 0,
            start_ms: if i == 3 { 5_000 + rng.below(10_000) } else { 0 },
            config,
            line: 0,
        });
    }
    // One fault per consumer at most (commands on a consumer in the wrong state are refused
    // by the dry run), and at most one broker crash.
    let mut events = Vec::new();
    for name in &names[..3] {
        let at = 6_000 + rng.below(20_000);
        let consumer = name.to_string();
        let back = at + 1_000 + rng.below(12_000);
        match rng.below(4) {
            0 => {
                events.push((
                    at,
                    Action::CrashConsumer {
                        consumer: consumer.clone(),
                    },
                ));
                events.push((back, Action::RestartConsumer { consumer }));
            }
            1 => {
                events.push((
                    at,
                    Action::StopConsumer {
                        consumer: consumer.clone(),
                    },
                ));
                events.push((back, Action::RestartConsumer { consumer }));
            }
            2 => {
                let slow = 20_000 + rng.below(60_000);
                events.push((
                    at,
                    Action::SlowConsumer {
                        consumer: consumer.clone(),
                        processing_us_per_record: slow,
                    },
                ));
                events.push((
                    back,
                    Action::SlowConsumer {
                        consumer,
                        processing_us_per_record: 1_000,
                    },
                ));
            }
            _ => {}
        }
    }
    if rng.below(2) == 0 {
        let broker = rng.below(3) as u32;
        let at = 6_000 + rng.below(20_000);
        events.push((at, Action::CrashBroker { broker }));
        events.push((
            at + 1_000 + rng.below(10_000),
            Action::RestartBroker { broker },
        ));
    }
    events.sort_by_key(|e| e.0);
    s.events = events
        .into_iter()
        .map(|(at_ms, action)| EventDef {
            at_ms,
            action,
            line: 0,
        })
        .collect();
    s
}
