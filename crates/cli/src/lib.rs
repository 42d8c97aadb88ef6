//! The `kplay` command-line tool as a library: [`main_with`] takes the arguments and the three
//! standard streams, so tests run it in-process. Exit codes: 0 success, 2 bad input (the reason
//! goes to stderr).

use std::io::{BufRead, Write};

use kplay_engine::partitioner;
use kplay_scenario::{kafka_tools, report_json, Scenario};

const USAGE: &str = r#"kplay: a deterministic Apache Kafka cluster simulator

USAGE:
    kplay run FILE [--seed N] [--json] [--trace N] [--check] [--memory-budget-mb N]
        Run a scenario file to its end and print what happened to every record.
        --seed N    override the file's seed (0 to 9223372036854775807)
        --json      print a JSON report instead of the summary
        --trace N   also print the last N trace events
        --check     check every invariant after every step; a violation stops the
                    run, prints the invariant, the time and the replay command,
                    and exits with code 1
        --memory-budget-mb N
                    stop the run, report what it did so far and exit with code 3
                    if it holds more than N MB (default 2048)
        --metrics FILE, --metrics-json FILE [--metrics-interval-ms N]
                    write Kafka's metrics by their names (record-send-rate,
                    request-latency-avg, records-lag-max, UnderReplicatedPartitions,
                    RequestQueueSize, ...) every N ms of virtual time (default:
                    the scenario's [metrics] interval_ms, 1000) as CSV
                    (time_ms,scope,metric,value) or as JSON. A scenario's
                    [[alert]] when = "records-lag-max > 1000 for 30 s" rules are
                    checked at each sample; the summary lists them firing
        --fork-at MS --set KEY=VALUE [--set KEY=VALUE ...]
                    also run a fork: the same scenario and seed, with each setting
                    changed at MS as a running cluster would change it (a topic
                    config altered live, a producer or consumer redeployed with the
                    new config); KEY is a setting path such as producer.ID.acks or
                    topic.NAME.min.insync.replicas. Prints both reports and the
                    differences
    kplay trace-record FILE (--key K | --offset TOPIC:PARTITION:OFFSET) [--seed N]
        Follow one record through the run: the first record sent with key K, or
        the record at that offset at the end of the run. Prints each step with its
        virtual time and the reason for each wait: send(), its batch and why it
        closed (batch.size, linger.ms), the request to the leader, the append,
        each follower's fetch, the high watermark, the acknowledgement, each
        group's poll, processing and commit; or where it ended (failed, lost,
        expired, written twice).
    kplay describe topics|groups FILE [--at MS] [--seed N] [--exclude-internal]
        Run a scenario file to MS milliseconds (default: its end) and print its
        topics as `kafka-topics.sh --describe` does, or its consumer groups as
        `kafka-consumer-groups.sh --describe --all-groups` does.
        --exclude-internal  leave __consumer_offsets out (topics)
    kplay partition --partitions N [--json] [KEY...]
        Print the partition Kafka's default partitioner picks for each key
        (keys from standard input, one per line, when none are given).
    kplay assign
        Read a group from standard input as JSON and print what an assignor gives:
        {"strategy": "range" | "roundrobin" | "sticky" | "cooperative-sticky",
         "topics": {"t0": 3}, "members": [{"id": "C0", "topics": ["t0"],
         "owned": [["t0", 0]], "generation": 1, "instance_id": null}]}
    kplay lesson list
        List the built-in lessons by level, and which have a challenge.
    kplay lesson show ID|FILE
        Print a lesson's steps and its challenge.
    kplay lesson check [ID|FILE]
        Run the lesson's setup, which must fail its challenge, and its reference
        solution, which must pass (every built-in lesson without an argument);
        print each goal with the values found. Exit code 1 when either is wrong.
    kplay bench-table [--curves]
        Run the setups of Jay Kreps' 2014 benchmark (scenarios/perf/) on the
        "kreps-2014" hardware profile and print simulated figures against the
        post's, with the ratios between setups. Exit code 1 when one is outside
        its tolerance (figures ±25%, ratios ±15%). --curves adds throughput
        against batch.size and linger.ms, and latency against load.
    kplay help
"#;

pub mod bench_table;
mod lesson;
pub mod memory;
mod trace_record;

/// The memory budget of `kplay run` unless `--memory-budget-mb` says otherwise: room for about
/// 15 million records at replication factor 3 (about 130 bytes per record held).
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 2048;

/// How much virtual time runs between two looks at the memory.
const MEMORY_CHECK_EVERY: kplay_engine::time::Duration = kplay_engine::time::Duration(1_000_000);

/// Why a command did not succeed: printed to stderr.
enum Failure {
    /// What the user gave us is wrong: exit code 2.
    BadInput(String),
    /// The run broke an invariant (`--check`): exit code 1.
    Violation(String),
    /// The run reached its memory budget and was stopped: exit code 3.
    OverBudget(String),
}

/// (live, peak) heap bytes of the process, when it counts them.
pub type MemoryProbe<'a> = &'a dyn Fn() -> Option<(u64, u64)>;

/// Runs `kplay` with `args` (without the program name). Returns the exit code.
pub fn main_with(
    args: &[String],
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    main_with_memory(args, stdin, out, err, &|| None)
}

/// [`main_with`], measuring the heap with `memory` (the binary counts its allocations).
pub fn main_with_memory(
    args: &[String],
    stdin: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    memory: MemoryProbe<'_>,
) -> u8 {
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..], out, memory),
        Some("describe") => describe(&args[1..], out),
        Some("partition") => partition(&args[1..], stdin, out),
        Some("trace-record") => trace_record::trace_record(&args[1..], out),
        Some("assign") => assign(stdin, out),
        Some("lesson") => lesson::lesson(&args[1..], out),
        Some("bench-table") => bench_table::bench_table(&args[1..], out),
        Some("help" | "--help" | "-h") => {
            let _ = write!(out, "{USAGE}");
            Ok(())
        }
        Some("--version" | "-V") => {
            let _ = writeln!(out, "kplay {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(other) => Err(Failure::BadInput(format!(
            "unknown command {other:?}\n\n{USAGE}"
        ))),
        None => Err(Failure::BadInput(USAGE.to_string())),
    };
    match result {
        Ok(()) => 0,
        Err(Failure::BadInput(message)) => {
            let _ = writeln!(err, "kplay: {}", message.trim_end());
            2
        }
        Err(Failure::Violation(message)) => {
            let _ = writeln!(err, "kplay: {}", message.trim_end());
            1
        }
        Err(Failure::OverBudget(message)) => {
            let _ = writeln!(err, "kplay: {}", message.trim_end());
            3
        }
    }
}

fn parse_u64(flag: &str, value: Option<&String>, max: u64) -> Result<u64, Failure> {
    let v = value.ok_or_else(|| Failure::BadInput(format!("{flag} needs a value")))?;
    match v.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(Failure::BadInput(format!(
            "{flag}: expected a whole number from 0 to {max}, got {v:?}"
        ))),
    }
}

/// `--fork-at` and `--set` come together.
fn fork_needs_both(fork_at: Option<u64>, set: &[(String, String)]) -> Result<(), Failure> {
    match (fork_at, set.is_empty()) {
        (Some(_), true) => Err(Failure::BadInput(
            "--fork-at: say what the fork changes with --set KEY=VALUE".into(),
        )),
        (None, false) => Err(Failure::BadInput(
            "--set: say when the fork changes it with --fork-at MS".into(),
        )),
        _ => Ok(()),
    }
}

/// A flag's FILE.
fn file_of(flag: &str, value: Option<&String>) -> Result<String, Failure> {
    let file = value.filter(|f| !f.starts_with("--"));
    file.cloned()
        .ok_or_else(|| Failure::BadInput(format!("{flag} needs a FILE")))
}

/// `--metrics-interval-ms`: at least 10 ms of virtual time.
fn metrics_interval(value: Option<&String>) -> Result<u64, Failure> {
    let max = kplay_scenario::MAX_DURATION_MS;
    match parse_u64("--metrics-interval-ms", value, max)? {
        ms if ms < 10 => Err(Failure::BadInput(
            "--metrics-interval-ms: expected at least 10".into(),
        )),
        ms => Ok(ms),
    }
}

/// What `kplay run` was asked for.
struct RunOptions {
    path: String,
    seed: Option<u64>,
    json: bool,
    check: bool,
    /// How many of the last trace events to print.
    trace: u64,
    budget_mb: u64,
    /// `--fork-at`: the millisecond the fork's changes happen at.
    fork_at: Option<u64>,
    /// `--set KEY=VALUE`, in order.
    set: Vec<(String, String)>,
    /// `--metrics FILE` or `--metrics-json FILE`: where Kafka's metrics go, and whether as JSON.
    metrics: Option<(String, bool)>,
    /// `--metrics-interval-ms`.
    metrics_interval_ms: Option<u64>,
}

impl RunOptions {
    fn parse(args: &[String]) -> Result<RunOptions, Failure> {
        let mut file = None;
        let (mut seed, mut json, mut trace, mut check) = (None, false, 0u64, false);
        let mut budget_mb = DEFAULT_MEMORY_BUDGET_MB;
        let (mut fork_at, mut set) = (None, Vec::new());
        let (mut metrics, mut metrics_interval_ms) = (None, None);
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--seed" => {
                    seed = Some(parse_u64("--seed", args.get(i + 1), i64::MAX as u64)?);
                    i += 1;
                }
                "--json" => json = true,
                "--check" => check = true,
                "--trace" => {
                    trace = parse_u64("--trace", args.get(i + 1), 1_000_000)?;
                    i += 1;
                }
                "--memory-budget-mb" => {
                    budget_mb = parse_u64("--memory-budget-mb", args.get(i + 1), 1 << 30)?;
                    if budget_mb == 0 {
                        return Err(Failure::BadInput(
                            "--memory-budget-mb: expected at least 1".into(),
                        ));
                    }
                    i += 1;
                }
                "--fork-at" => {
                    let max = kplay_scenario::MAX_DURATION_MS;
                    fork_at = Some(parse_u64("--fork-at", args.get(i + 1), max)?);
                    i += 1;
                }
                "--set" => {
                    set.push(parse_set(args.get(i + 1))?);
                    i += 1;
                }
                flag @ ("--metrics" | "--metrics-json") => {
                    metrics = Some((file_of(flag, args.get(i + 1))?, flag == "--metrics-json"));
                    i += 1;
                }
                "--metrics-interval-ms" => {
                    metrics_interval_ms = Some(metrics_interval(args.get(i + 1))?);
                    i += 1;
                }
                flag if flag.starts_with("--") => {
                    return Err(Failure::BadInput(format!("unknown option {flag:?}")))
                }
                path if file.is_none() => file = Some(path.to_string()),
                extra => return Err(Failure::BadInput(format!("unexpected argument {extra:?}"))),
            }
            i += 1;
        }
        let path = file.ok_or_else(|| Failure::BadInput("run needs a scenario FILE".into()))?;
        fork_needs_both(fork_at, &set)?;
        Ok(RunOptions {
            path,
            seed,
            json,
            check,
            trace,
            budget_mb,
            fork_at,
            metrics,
            metrics_interval_ms,
            set,
        })
    }
}

/// `--set KEY=VALUE`.
fn parse_set(value: Option<&String>) -> Result<(String, String), Failure> {
    let v = value.ok_or_else(|| Failure::BadInput("--set needs KEY=VALUE".into()))?;
    match v.split_once('=') {
        Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
        _ => Err(Failure::BadInput(format!(
            "--set: expected KEY=VALUE such as producer.api.acks=all, got {v:?}"
        ))),
    }
}

/// A scenario run to its end (or its memory budget).
struct Finished {
    sim: kplay_engine::Sim,
    report: kplay_engine::snapshot::Report,
    /// Why the run stopped before its end (its memory budget).
    stopped: Option<String>,
}

fn run(args: &[String], out: &mut dyn Write, memory: MemoryProbe<'_>) -> Result<(), Failure> {
    let opts = RunOptions::parse(args)?;
    let path = &opts.path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("cannot read {path}: {e}")))?;
    let scenario = Scenario::parse(&text).map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let fork = match opts.fork_at {
        Some(at_ms) => Some(fork_of(&scenario, at_ms, &opts.set)?),
        None => None,
    };
    let original = execute(&opts, &scenario, "", memory)?;
    let Some(fork) = fork else {
        if opts.json {
            let json = report_json(&original.report);
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json).expect("json")
            );
        } else {
            let _ = write!(out, "{}", summary(path, &original.report));
            print_run_details(out, &original.sim, &original.report, &opts, memory);
        }
        return original
            .stopped
            .map_or(Ok(()), |why| Err(Failure::OverBudget(why)));
    };
    let replay = fork_flags(&opts);
    let forked = execute(&opts, &fork, &replay, memory)?;
    print_fork(out, &opts, &original, &forked, memory);
    match original.stopped.or(forked.stopped) {
        Some(why) => Err(Failure::OverBudget(why)),
        None => Ok(()),
    }
}

/// The scenario with each `--set` changed at `at_ms` as a running cluster changes it.
fn fork_of(scenario: &Scenario, at_ms: u64, set: &[(String, String)]) -> Result<Scenario, Failure> {
    if at_ms >= scenario.duration_ms {
        return Err(Failure::BadInput(format!(
            "--fork-at: {at_ms} is not before the run's end (duration_ms = {})",
            scenario.duration_ms
        )));
    }
    let mut actions = Vec::new();
    for (path, value) in set {
        let action = scenario
            .live_setting(path, value)
            .map_err(|e| Failure::BadInput(format!("--set {e}")))?;
        actions.push(action);
    }
    let fork = scenario.fork(at_ms, actions);
    fork.validate()
        .map_err(|e| Failure::BadInput(format!("--fork-at {at_ms}: the fork cannot run: {e}")))?;
    Ok(fork)
}

/// `--fork-at MS --set K=V ...` as typed again in a replay line.
fn fork_flags(opts: &RunOptions) -> String {
    let mut flags = format!(" --fork-at {}", opts.fork_at.unwrap_or(0));
    for (k, v) in &opts.set {
        flags.push_str(&format!(" --set {k}={v}"));
    }
    flags
}

/// `--metrics-interval-ms` samples (and checks alerts) at its own interval.
fn with_metrics_interval(scenario: &Scenario, ms: Option<u64>) -> std::borrow::Cow<'_, Scenario> {
    match ms {
        Some(ms) => std::borrow::Cow::Owned(Scenario {
            metrics_interval_ms: ms,
            ..scenario.clone()
        }),
        None => std::borrow::Cow::Borrowed(scenario),
    }
}

/// Runs `scenario` as `opts` ask; `replay` is what a violation's replay line adds.
fn execute(
    opts: &RunOptions,
    scenario: &Scenario,
    replay: &str,
    memory: MemoryProbe<'_>,
) -> Result<Finished, Failure> {
    let path = &opts.path;
    let scenario = &with_metrics_interval(scenario, opts.metrics_interval_ms);
    let mut sim = scenario
        .build(opts.seed)
        .map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let end = scenario.end();
    let budget = opts.budget_mb.saturating_mul(1 << 20);
    let mut checker = opts.check.then(kplay_engine::check::Checker::new);
    let mut recorder = (opts.metrics.is_some() && replay.is_empty()).then(Vec::new);
    if recorder.is_some() {
        sim.keep_metric_points(scenario.metrics_interval());
    }
    let (checked, over_budget) = play(
        &mut sim,
        end,
        budget,
        checker.as_mut(),
        recorder.as_mut(),
        memory,
    );
    if let (Some((file, json)), Some(points)) = (&opts.metrics, &recorder) {
        write_metrics(file, *json, points)?;
    }
    if opts.check && over_budget.is_none() {
        let checked = checked.and_then(|()| {
            // Loss is only a violation where the settings promise none.
            if kplay_engine::check::promises_no_loss(&sim) {
                kplay_engine::check::Checker::no_acknowledged_record_lost(&sim)
            } else {
                Ok(())
            }
        });
        if let Err(v) = checked {
            let seed = sim.seed();
            return Err(Failure::Violation(format!(
                "{v}\nseed {seed}\nreplay: kplay run {path} --seed {seed}{replay} --check"
            )));
        }
    }
    let report = sim.report();
    let stopped = over_budget.map(|live| {
        format!(
            "stopped at {} of {end}: the run holds {} MB, over its memory budget of {} MB \
             ({} records held); raise --memory-budget-mb, or shorten the run",
            sim.now(),
            live >> 20,
            opts.budget_mb,
            report.acked
        )
    });
    Ok(Finished {
        sim,
        report,
        stopped,
    })
}

/// The figures a fork is compared by: (name, original, fork).
fn fork_differences(
    a: &kplay_engine::snapshot::Report,
    b: &kplay_engine::snapshot::Report,
) -> Vec<(&'static str, u64, u64)> {
    let lag = |r: &kplay_engine::snapshot::Report| r.groups.iter().map(|g| g.lag).sum::<u64>();
    vec![
        ("produced", a.produced, b.produced),
        ("acked", a.acked, b.acked),
        ("failed", a.failed, b.failed),
        ("lost_acked", a.lost_acked, b.lost_acked),
        ("duplicates", a.duplicates, b.duplicates),
        ("consumed", a.consumed, b.consumed),
        ("lag", lag(a), lag(b)),
    ]
}

/// `{p50, p99}` of the produce latency in ms, or null before any acknowledgement.
fn latency_json(sim: &kplay_engine::Sim) -> serde_json::Value {
    sim.produce_latency_ms().map_or(
        serde_json::Value::Null,
        |(p50, p99)| serde_json::json!({ "p50": p50, "p99": p99 }),
    )
}

/// Both reports and their differences, as JSON.
fn print_fork_json(
    out: &mut dyn Write,
    opts: &RunOptions,
    original: &Finished,
    fork: &Finished,
    diff: &[(&'static str, u64, u64)],
) {
    let at_ms = opts.fork_at.unwrap_or(0);
    let set: serde_json::Map<String, serde_json::Value> = opts
        .set
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let difference: serde_json::Map<String, serde_json::Value> = diff
        .iter()
        .map(|(name, a, b)| (name.to_string(), serde_json::json!(*b as i64 - *a as i64)))
        .collect();
    let json = serde_json::json!({
        "fork_at_ms": at_ms,
        "set": set,
        "original": report_json(&original.report),
        "fork": report_json(&fork.report),
        "difference": difference,
        "produce_latency_ms": {
            "original": latency_json(&original.sim),
            "fork": latency_json(&fork.sim),
        },
    });
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&json).expect("json")
    );
}

/// Both reports and their differences.
fn print_fork(
    out: &mut dyn Write,
    opts: &RunOptions,
    original: &Finished,
    fork: &Finished,
    memory: MemoryProbe<'_>,
) {
    let at_ms = opts.fork_at.unwrap_or(0);
    let diff = fork_differences(&original.report, &fork.report);
    if opts.json {
        print_fork_json(out, opts, original, fork, &diff);
        return;
    }
    let path = &opts.path;
    let _ = writeln!(out, "== original ==");
    let _ = write!(out, "{}", summary(path, &original.report));
    print_run_details(out, &original.sim, &original.report, opts, memory);
    let sets: Vec<String> = opts.set.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "\n== fork at {at_ms} ms: {} ==", sets.join(" "));
    // The summary's replay line would replay the original: the fork's has the flags.
    let text = summary(path, &fork.report);
    let text = text
        .rsplit_once("\nreplay:")
        .map_or(text.as_str(), |(s, _)| s);
    let _ = writeln!(out, "{text}");
    let _ = writeln!(
        out,
        "replay: kplay run {path} --seed {}{}",
        fork.report.seed,
        fork_flags(opts)
    );
    print_run_details(out, &fork.sim, &fork.report, opts, memory);
    let _ = writeln!(out, "\n== fork − original ==");
    let _ = writeln!(
        out,
        "{:<12} {:>12} {:>12} {:>12}",
        "", "original", "fork", "difference"
    );
    for (name, a, b) in &diff {
        let _ = writeln!(
            out,
            "{name:<12} {a:>12} {b:>12} {:>+12}",
            *b as i64 - *a as i64
        );
    }
    let latency = |sim: &kplay_engine::Sim| {
        sim.produce_latency_ms()
            .map_or("-".to_string(), |(p50, p99)| format!("{p50} / {p99} ms"))
    };
    let _ = writeln!(
        out,
        "{:<12} {:>12} {:>12}   (produce latency p50 / p99)",
        "latency",
        latency(&original.sim),
        latency(&fork.sim)
    );
}

/// The metric points sampled so far.
type Recorder = Vec<kplay_engine::sim::MetricPoint>;

/// Writes the sampled metrics: CSV (`time_ms,scope,metric,value`) or a JSON array.
fn write_metrics(
    file: &str,
    json: bool,
    points: &[kplay_engine::sim::MetricPoint],
) -> Result<(), Failure> {
    use std::fmt::Write as _;
    let mut text = String::new();
    if json {
        let all: Vec<serde_json::Value> = points
            .iter()
            .map(|p| {
                serde_json::json!({
                    "time_ms": p.at_ms,
                    "scope": p.scope,
                    "metric": p.name,
                    "value": p.milli as f64 / 1_000.0,
                })
            })
            .collect();
        text = serde_json::to_string_pretty(&all).expect("json");
        text.push('\n');
    } else {
        text.push_str("time_ms,scope,metric,value\n");
        for p in points {
            let _ = writeln!(text, "{},{},{},{}", p.at_ms, p.scope, p.name, p.value());
        }
    }
    std::fs::write(file, text).map_err(|e| Failure::BadInput(format!("cannot write {file}: {e}")))
}

/// Runs to `end` a second of virtual time at a time (the same run as one call: events are
/// handled in order whatever the chunks), checking invariants if asked and looking at the
/// heap in between. Returns what the checker found and the heap size that stopped the run.
fn play(
    sim: &mut kplay_engine::Sim,
    end: kplay_engine::Instant,
    budget: u64,
    mut checker: Option<&mut kplay_engine::check::Checker>,
    mut metrics: Option<&mut Recorder>,
    memory: MemoryProbe<'_>,
) -> (Result<(), kplay_engine::check::Violation>, Option<u64>) {
    let mut checked = Ok(());
    loop {
        let until = (sim.now() + MEMORY_CHECK_EVERY).min(end);
        match &mut checker {
            Some(c) => checked = kplay_engine::check::run_checked(sim, until, c),
            None => sim.run_until(until),
        }
        if let Some(points) = &mut metrics {
            points.extend(sim.take_metric_points());
        }
        if checked.is_err() {
            return (checked, None);
        }
        if let Some((live, _)) = memory() {
            if live > budget {
                return (checked, Some(live));
            }
        }
        if until >= end {
            return (checked, None);
        }
    }
}

/// The memory held, the invariants checked, and the last trace events, after the summary.
fn print_run_details(
    out: &mut dyn Write,
    sim: &kplay_engine::Sim,
    report: &kplay_engine::snapshot::Report,
    opts: &RunOptions,
    memory: MemoryProbe<'_>,
) {
    let (check, trace, budget_mb) = (opts.check, opts.trace, opts.budget_mb);
    if let Some((live, peak)) = memory() {
        let held = report.acked.max(1);
        let _ = writeln!(
            out,
            "memory: {} MB held at the end ({} bytes per acknowledged record), peak {} MB, budget {budget_mb} MB",
            live >> 20,
            live / held,
            peak >> 20
        );
    }
    if check {
        let promise = if kplay_engine::check::promises_no_loss(sim) {
            ", and no acknowledged record was lost"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "invariants: all held after every one of {} events{promise}",
            report.events
        );
    }
    if trace > 0 {
        let recent: Vec<_> = sim.trace().recent().collect();
        let skip = recent.len().saturating_sub(trace as usize);
        let _ = writeln!(
            out,
            "\nlast {} of {} trace events:",
            recent.len() - skip,
            sim.trace().total()
        );
        for e in &recent[skip..] {
            let text = e.kind.explained(sim.names());
            let _ = writeln!(out, "  {:>10}  {text}", e.at.to_string());
        }
    }
}

/// What `kplay describe` was asked for.
struct DescribeOptions {
    groups: bool,
    path: String,
    at_ms: Option<u64>,
    seed: Option<u64>,
    exclude_internal: bool,
}

impl DescribeOptions {
    fn parse(args: &[String]) -> Result<DescribeOptions, Failure> {
        let groups = match args.first().map(String::as_str) {
            Some("topics") => false,
            Some("groups") => true,
            other => {
                return Err(Failure::BadInput(format!(
                    "describe: expected `topics` or `groups`, got {other:?}"
                )))
            }
        };
        let (mut path, mut at_ms, mut seed, mut exclude_internal) = (None, None, None, false);
        let mut i = 1;
        while i < args.len() {
            match args[i].as_str() {
                "--at" => {
                    let max = kplay_scenario::MAX_DURATION_MS;
                    at_ms = Some(parse_u64("--at", args.get(i + 1), max)?);
                    i += 1;
                }
                "--seed" => {
                    seed = Some(parse_u64("--seed", args.get(i + 1), i64::MAX as u64)?);
                    i += 1;
                }
                "--exclude-internal" => exclude_internal = true,
                flag if flag.starts_with("--") => {
                    return Err(Failure::BadInput(format!("unknown option {flag:?}")))
                }
                file if path.is_none() => path = Some(file.to_string()),
                extra => return Err(Failure::BadInput(format!("unexpected argument {extra:?}"))),
            }
            i += 1;
        }
        let path =
            path.ok_or_else(|| Failure::BadInput("describe needs a scenario FILE".into()))?;
        Ok(DescribeOptions {
            groups,
            path,
            at_ms,
            seed,
            exclude_internal,
        })
    }
}

/// `kplay describe topics|groups FILE`: the run at `--at` (its end by default) as Kafka's
/// describe tools print it (`kplay_scenario::kafka_tools`).
fn describe(args: &[String], out: &mut dyn Write) -> Result<(), Failure> {
    let o = DescribeOptions::parse(args)?;
    let path = &o.path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("cannot read {path}: {e}")))?;
    let scenario = Scenario::parse(&text).map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let mut sim = scenario
        .build(o.seed)
        .map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let end = o
        .at_ms
        .map_or(scenario.end(), kplay_engine::Instant::from_millis);
    sim.run_until(end);
    let snapshot = sim.snapshot(0, 0);
    let text = if o.groups {
        kafka_tools::describe_groups(&snapshot)
    } else {
        kafka_tools::describe_topics(&snapshot, o.exclude_internal)
    };
    let _ = write!(out, "{text}");
    Ok(())
}

/// A group's line, what it made of failed records, and its members.
fn group_lines(s: &mut String, g: &kplay_engine::snapshot::GroupView) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "\ngroup {} on coordinator {}: {} generation {} ({}), {} rebalances, {} ms paused, lag {}, processed {}, duplicates {}, lost {}",
        g.group,
        g.coordinator.map_or("none".to_string(), |c| c.to_string()),
        g.state,
        g.generation,
        g.protocol.as_deref().unwrap_or("-"),
        g.rebalances,
        g.paused_ms,
        g.lag,
        g.processed,
        g.duplicates,
        g.lost.unwrap_or(0)
    );
    failed_records_line(s, g);
    if let Some(e) = g.end_to_end {
        let _ = writeln!(
            s,
            "  end-to-end latency (send() to poll()): {}",
            percentiles(&e)
        );
    }
    for m in &g.members {
        let tps: Vec<String> = m
            .assignment
            .iter()
            .map(|(t, p)| format!("{t}-{p}"))
            .collect();
        let who = m.consumer.as_deref().unwrap_or("(gone)");
        let _ = writeln!(s, "  {:<24} {:<12} [{}]", m.member_id, who, tps.join(", "));
    }
}

/// "p50 2 ms, p99 3 ms, p99.9 14 ms (N records)".
fn percentiles(p: &kplay_engine::histogram::Percentiles) -> String {
    format!(
        "p50 {} ms, p99 {} ms, p99.9 {} ms ({} records)",
        p.p50, p.p99, p.p999, p.count
    )
}

/// Why records failed, and each producer's produce latency (`send()` to acknowledgement).
fn producer_lines(s: &mut String, r: &kplay_engine::snapshot::Report) {
    use std::fmt::Write as _;
    for (error, n) in &r.failures {
        let _ = writeln!(s, "  failed with {error}: {n}");
    }
    for p in &r.producers {
        if let Some(l) = &p.produce_latency {
            let _ = writeln!(
                s,
                "producer {} (acks={}): produce latency {}",
                p.name,
                p.acks,
                percentiles(l)
            );
        }
    }
}

/// What a group handling failed records (`on_failure`) made of them.
fn failed_records_line(s: &mut String, g: &kplay_engine::snapshot::GroupView) {
    use std::fmt::Write as _;
    let f = g.failed;
    if f.routed {
        let _ = writeln!(
            s,
            "  failed records: {} retried, {} dead-lettered, {} skipped; \
             {} processed after a later record of their key",
            f.retried, f.dead_lettered, f.skipped, f.reordered
        );
    }
}

/// The alerts that fired and resolved, the first 20.
fn alert_lines(s: &mut String, r: &kplay_engine::snapshot::Report) {
    use std::fmt::Write as _;
    for a in r.alerts.iter().take(20) {
        let what = if a.fired { "fired" } else { "resolved" };
        let _ = writeln!(
            s,
            "alert {what} at {} ms: {} ({} is {})",
            a.at_ms,
            a.rule,
            a.scope,
            kplay_engine::sim::decimal(a.value_milli)
        );
    }
}

fn summary(path: &str, r: &kplay_engine::snapshot::Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{path}: seed {}, simulated {}, {} events, digest {:016x}",
        r.seed, r.now, r.events, r.digest
    );
    let _ = writeln!(
        s,
        "records: produced {}, acked {}, failed {}, consumed {}",
        r.produced, r.acked, r.failed, r.consumed
    );
    producer_lines(&mut s, r);
    let _ = writeln!(
        s,
        "lost (acked but unreadable): {}, duplicates: {}, out of order: {}, expired by retention: {}",
        r.lost_acked, r.duplicates, r.out_of_order, r.expired
    );
    if r.refused_count > 0 {
        let _ = writeln!(
            s,
            "refused when their time came: {} timeline events",
            r.refused_count
        );
        for (at, why) in r.refused.iter().take(10) {
            let _ = writeln!(s, "  {at}: {why}");
        }
    }
    alert_lines(&mut s, r);
    for (consumer, topic) in &r.waiting_for_topics {
        let _ = writeln!(
            s,
            "consumer {consumer} is still waiting for topic {topic}, which does not exist"
        );
    }
    for l in r.lost.iter().take(10) {
        let offset = l.offset.map_or("?".to_string(), |o| o.to_string());
        let _ = writeln!(
            s,
            "  lost: {} record #{} ({}-{} offset {offset})",
            l.producer, l.id.seq, l.topic, l.partition
        );
    }
    let _ = writeln!(
        s,
        "\n{:<20} {:>5} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "topic", "part", "leader", "isr", "log start", "hw", "leo"
    );
    for p in r
        .partitions
        .iter()
        .filter(|p| p.topic != "__consumer_offsets")
    {
        let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
        let isr = format!("{:?}", p.isr);
        let _ = writeln!(
            s,
            "{:<20} {:>5} {:>6} {:>10} {:>10} {:>10} {:>10}",
            p.topic, p.partition, leader, isr, p.log_start, p.high_watermark, p.log_end
        );
    }
    if !r.audiences.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<30} {:>10} {:>10} {:>12}",
            "consumer", "consumed", "duplicates", "out of order"
        );
        for a in &r.audiences {
            let _ = writeln!(
                s,
                "{:<30} {:>10} {:>10} {:>12}",
                a.audience, a.consumed, a.duplicates, a.out_of_order
            );
        }
    }
    for g in &r.groups {
        group_lines(&mut s, g);
    }
    let _ = writeln!(s, "\nreplay: kplay run {path} --seed {}", r.seed);
    s
}

fn partition(args: &[String], stdin: &mut dyn BufRead, out: &mut dyn Write) -> Result<(), Failure> {
    let (mut partitions, mut json, mut keys) = (None, false, Vec::new());
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--partitions" => {
                let n = parse_u64("--partitions", args.get(i + 1), i32::MAX as u64)?;
                if n == 0 {
                    return Err(Failure::BadInput("--partitions must be at least 1".into()));
                }
                partitions = Some(n as u32);
                i += 1;
            }
            "--json" => json = true,
            "--" => {
                keys.extend(args[i + 1..].iter().cloned());
                break;
            }
            flag if flag.starts_with("--") => {
                return Err(Failure::BadInput(format!("unknown option {flag:?}")))
            }
            key => keys.push(key.to_string()),
        }
        i += 1;
    }
    let n = partitions.ok_or_else(|| Failure::BadInput("partition needs --partitions N".into()))?;
    if keys.is_empty() {
        for line in stdin.lines() {
            let line =
                line.map_err(|e| Failure::BadInput(format!("cannot read standard input: {e}")))?;
            keys.push(line.strip_suffix('\r').unwrap_or(&line).to_string());
        }
    }
    if json {
        let rows: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                let e = partitioner::explain_key(k.as_bytes(), n);
                serde_json::json!({ "key": k, "murmur2": e.murmur2, "partition": e.partition })
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<24} {:>12} {:>12} {:>10}",
        "key", "murmur2", "toPositive", "partition"
    );
    for k in &keys {
        let e = partitioner::explain_key(k.as_bytes(), n);
        let _ = writeln!(
            out,
            "{:<24} {:>12} {:>12} {:>10}",
            format!("{k:?}"),
            e.murmur2,
            e.positive,
            format!("{} % {n} = {}", e.positive, e.partition)
        );
    }
    Ok(())
}

/// The largest partition count `kplay assign` accepts per topic.
const MAX_ASSIGN_PARTITIONS: u64 = 100_000;

fn assign(stdin: &mut dyn BufRead, out: &mut dyn Write) -> Result<(), Failure> {
    use kplay_engine::group::assignor::{self, Member, Strategy};
    use serde_json::Value;
    let bad = |m: String| Failure::BadInput(m);
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("cannot read standard input: {e}")))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let strategy_name = v
        .get("strategy")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`strategy`: missing or not a string".into()))?;
    let strategy = Strategy::parse(strategy_name).ok_or_else(|| {
        bad(format!("`strategy`: unknown assignor {strategy_name:?}; use range, roundrobin, sticky or cooperative-sticky"))
    })?;
    let mut topics = std::collections::BTreeMap::new();
    for (name, n) in v
        .get("topics")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("`topics`: missing or not an object".into()))?
    {
        let n = n
            .as_u64()
            .filter(|&n| (1..=MAX_ASSIGN_PARTITIONS).contains(&n))
            .ok_or_else(|| {
                bad(format!(
                    "`topics.{name}`: a partition count from 1 to {MAX_ASSIGN_PARTITIONS}"
                ))
            })?;
        topics.insert(name.clone(), n as u32);
    }
    let mut members = Vec::new();
    let list = v
        .get("members")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`members`: missing or not an array".into()))?;
    for (i, m) in list.iter().enumerate() {
        let field = |f: &str| format!("`members[{i}].{f}`");
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{}: missing or not a string", field("id"))))?;
        if members.iter().any(|x: &Member| x.id == id) {
            return Err(bad(format!("{}: {id:?} appears twice", field("id"))));
        }
        let subs = m
            .get("topics")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("{}: missing or not an array", field("topics"))))?;
        let subs: Option<Vec<String>> = subs
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect();
        let subs =
            subs.ok_or_else(|| bad(format!("{}: topic names are strings", field("topics"))))?;
        let mut owned = Vec::new();
        for o in m
            .get("owned")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let pair = o.as_array().filter(|p| p.len() == 2);
            let tp = pair.and_then(|p| {
                Some((
                    p[0].as_str()?.to_string(),
                    u32::try_from(p[1].as_u64()?).ok()?,
                ))
            });
            owned.push(tp.ok_or_else(|| {
                bad(format!(
                    "{}: each entry is [\"topic\", partition]",
                    field("owned")
                ))
            })?);
        }
        let generation = match m.get("generation") {
            None | Some(Value::Null) => None,
            Some(g) => Some(
                g.as_i64()
                    .and_then(|g| i32::try_from(g).ok())
                    .ok_or_else(|| bad(format!("{}: an integer", field("generation"))))?,
            ),
        };
        let instance_id = match m.get("instance_id") {
            None | Some(Value::Null) => None,
            Some(s) => Some(
                s.as_str()
                    .ok_or_else(|| bad(format!("{}: a string or null", field("instance_id"))))?
                    .to_string(),
            ),
        };
        members.push(Member {
            id: id.to_string(),
            instance_id,
            topics: subs,
            owned,
            generation,
        });
    }
    let assignment = assignor::assign(strategy, &topics, &members);
    let json: serde_json::Map<String, Value> = assignment
        .into_iter()
        .map(|(id, tps)| {
            (
                id,
                Value::Array(
                    tps.into_iter()
                        .map(|(t, p)| serde_json::json!([t, p]))
                        .collect(),
                ),
            )
        })
        .collect();
    let _ = writeln!(out, "{}", Value::Object(json));
    Ok(())
}
