//! The `kplay` command line: outputs, exit codes, and messages on bad input.

use kplay_tests::{kplay, root};

fn scenario(name: &str) -> String {
    root()
        .join("scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn run_json_has_every_documented_field() {
    let out = kplay(&["run", &scenario("quickstart.toml"), "--json"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    for field in [
        "seed",
        "digest",
        "produced",
        "acked",
        "consumed",
        "lost_acked",
        "duplicates",
        "out_of_order",
        "partitions",
        "groups",
        "refused",
        "refused_count",
        "waiting_for_topics",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["seed"], 42);
    assert_eq!(v["partitions"].as_array().map(Vec::len), Some(6));
    let p = &v["partitions"][0];
    for field in [
        "topic",
        "partition",
        "leader",
        "isr",
        "log_start",
        "hw",
        "leo",
    ] {
        assert!(p.get(field).is_some(), "partition missing {field}");
    }
}

#[test]
fn seed_flag_overrides_the_file_and_is_reported() {
    let a = kplay(
        &["run", &scenario("quickstart.toml"), "--json", "--seed", "5"],
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&a.stdout).expect("json");
    assert_eq!(v["seed"], 5);
    let b = kplay(
        &["run", &scenario("quickstart.toml"), "--json", "--seed", "5"],
        "",
    );
    assert_eq!(a.stdout, b.stdout, "same seed, same report");
}

#[test]
fn summary_names_the_replay_command() {
    let out = kplay(
        &["run", &scenario("slow-consumer.toml"), "--trace", "5"],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("--seed 3"), "{}", out.stdout);
    assert!(out.stdout.contains("last 5 of"), "{}", out.stdout);
}

#[test]
fn partition_json_matches_kafka() {
    let out = kplay(
        &[
            "partition",
            "--partitions",
            "6",
            "--json",
            "user-42",
            "kafka",
            "a",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let expected = serde_json::json!([
        {"key": "user-42", "murmur2": 1459644460, "partition": 4},
        {"key": "kafka", "murmur2": -798503068, "partition": 4},
        {"key": "a", "murmur2": -1563381124, "partition": 4},
    ]);
    assert_eq!(v, expected);
}

#[test]
fn partition_reads_keys_from_stdin() {
    let out = kplay(
        &["partition", "--partitions", "10", "--json"],
        "hello\nkey-2\n\n",
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let parts: Vec<i64> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["partition"].as_i64().expect("n"))
        .collect();
    // "hello" → 9, "key-2" → 2, "" (empty key, hashed) → 1, per the reference's table.
    assert_eq!(parts, vec![9, 2, 1]);
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let cases: &[(&[&str], &str)] = &[
        (&["run"], "needs a scenario FILE"),
        (&["run", "/no/such/file.toml"], "cannot read"),
        (&["run", "x.toml", "--seed", "-1"], "--seed"),
        (&["run", "x.toml", "--bogus"], "unknown option"),
        (&["partition", "k"], "--partitions"),
        (&["partition", "--partitions", "0", "k"], "at least 1"),
        (&["partition", "--partitions", "many", "k"], "--partitions"),
        (&["frobnicate"], "unknown command"),
    ];
    for (args, needle) in cases {
        let out = kplay(args, "");
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn an_impossible_scenario_file_exits_2_naming_field_and_line() {
    let dir = std::env::temp_dir().join(format!("kplay-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[cluster]\nbrokers = 3\n\n[[topic]]\nname = \"t\"\npartitions = 3\nreplication_factor = 4\n")
        .expect("write");
    let out = kplay(&["run", path.to_str().expect("utf8")], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("line 4"), "{}", out.stderr);
    assert!(out.stderr.contains("replication_factor"), "{}", out.stderr);
}

#[test]
fn check_runs_every_invariant_and_says_what_it_verified() {
    let out = kplay(
        &["run", &scenario("leader-crash-acks-all.toml"), "--check"],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("invariants: all held after every one of"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("no acknowledged record was lost"),
        "safe settings promise no loss: {}",
        out.stdout
    );
    // acks=1 makes no such promise: its loss is reported, not a violation.
    let out = kplay(
        &["run", &scenario("acks1-isolated-leader.toml"), "--check"],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("no acknowledged record was lost"));
}

#[test]
fn assign_prints_what_each_assignor_gives() {
    let group = |strategy: &str| {
        format!(
            r#"{{"strategy": "{strategy}", "topics": {{"t0": 3, "t1": 3}}, "members": [
                {{"id": "C0", "topics": ["t0", "t1"], "owned": [], "generation": 1, "instance_id": null}},
                {{"id": "C1", "topics": ["t0", "t1"]}}]}}"#
        )
    };
    let range = kplay(&["assign"], &group("range"));
    assert_eq!(range.code, 0, "{}", range.stderr);
    let v: serde_json::Value = serde_json::from_str(&range.stdout).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"C0": [["t0", 0], ["t0", 1], ["t1", 0], ["t1", 1]], "C1": [["t0", 2], ["t1", 2]]})
    );
    let rr = kplay(&["assign"], &group("roundrobin"));
    let v: serde_json::Value = serde_json::from_str(&rr.stdout).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"C0": [["t0", 0], ["t0", 2], ["t1", 1]], "C1": [["t0", 1], ["t1", 0], ["t1", 2]]})
    );
}

#[test]
fn assign_refuses_bad_input_with_exit_2() {
    let cases = [
        ("{not json", "invalid JSON"),
        (
            r#"{"strategy": "fastest", "topics": {}, "members": []}"#,
            "unknown assignor",
        ),
        (
            r#"{"strategy": "range", "topics": {"t": 0}, "members": []}"#,
            "topics.t",
        ),
        (
            r#"{"strategy": "range", "topics": {"t": 1}, "members": [{"id": "a", "topics": ["t"], "owned": [["t"]]}]}"#,
            "owned",
        ),
        (
            r#"{"strategy": "range", "topics": {"t": 1}, "members": [{"id": "a", "topics": ["t"]}, {"id": "a", "topics": ["t"]}]}"#,
            "twice",
        ),
    ];
    for (input, needle) in cases {
        let out = kplay(&["assign"], input);
        assert_eq!(out.code, 2, "{input}");
        assert!(out.stderr.contains(needle), "{input}: {}", out.stderr);
    }
}

#[test]
fn run_json_reports_groups_rebalances_duplicates_and_losses() {
    let out = kplay(
        &[
            "run",
            &scenario("at-most-once-vs-at-least-once.toml"),
            "--json",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let groups = v["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    for g in groups {
        for field in [
            "group",
            "state",
            "generation",
            "members",
            "assignment",
            "committed",
            "lag",
            "rebalances",
            "paused_ms",
            "duplicates",
            "lost",
        ] {
            assert!(g.get(field).is_some(), "group missing {field}");
        }
        assert_eq!(g["state"], "Stable");
        assert_eq!(g["committed"].as_array().map(Vec::len), Some(4));
    }
    let audit = groups
        .iter()
        .find(|g| g["group"] == "audit")
        .expect("audit");
    let billing = groups
        .iter()
        .find(|g| g["group"] == "billing")
        .expect("billing");
    assert!(
        audit["lost"].as_u64() > Some(0),
        "at-most-once loses: {audit}"
    );
    assert!(
        billing["duplicates"].as_u64() > Some(0),
        "at-least-once repeats: {billing}"
    );
    assert!(v["rebalances"]["count"].as_u64() >= Some(4));
    // The internal topic stays out of the partition list.
    assert_eq!(v["partitions"].as_array().map(Vec::len), Some(4));
}

/// Runs `kplay` in-process with a heap probe that reports `live` bytes once the run has
/// looked `after` times (the binary's probe counts its allocations).
fn kplay_with_memory(args: &[&str], after: u32, live: u64) -> (u8, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let looks = std::cell::Cell::new(0u32);
    let probe = || {
        looks.set(looks.get() + 1);
        Some((if looks.get() > after { live } else { 0 }, live))
    };
    let code = kplay_cli::main_with_memory(&args, &mut &b""[..], &mut out, &mut err, &probe);
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf8");
    (code, text(out), text(err))
}

#[test]
fn a_run_over_its_memory_budget_stops_reports_and_exits_3() {
    let file = scenario("quickstart.toml");
    // Over 64 MB from the sixth look, at 6 s of virtual time (one look per second).
    let (code, out, err) =
        kplay_with_memory(&["run", &file, "--memory-budget-mb", "64"], 5, 65 << 20);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("stopped at 6.000s of 30.000s"), "{err}");
    assert!(err.contains("memory budget of 64 MB"), "{err}");
    assert!(
        out.contains("records: produced"),
        "the report of what ran: {out}"
    );
    assert!(out.contains("memory: 65 MB held"), "{out}");
    // Under the budget (the default, 2048 MB) the run goes to its end.
    let (code, _, err) = kplay_with_memory(&["run", &file], 5, 65 << 20);
    assert_eq!(code, 0, "{err}");
    let out = kplay(&["run", &file, "--memory-budget-mb", "0"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--memory-budget-mb"), "{}", out.stderr);
}

#[test]
fn fork_at_runs_the_original_and_the_fork_and_prints_the_difference() {
    // Goal: `--fork-at MS --set KEY=VALUE` runs both and says how they differ. Method: in
    // min-insync-rejects (two of three brokers crash at 5 s, min.insync.replicas 2), lowering
    // min.insync.replicas to 1 at 1 s lets acks=all writes succeed on the one in-sync replica:
    // the fork acknowledges what the original failed, and the fork's digest is not the
    // original's while the original's is the plain run's.
    let file = scenario("min-insync-rejects.toml");
    let plain = kplay(&["run", &file, "--json"], "");
    let plain: serde_json::Value = serde_json::from_str(&plain.stdout).expect("json");
    let set = "topic.transfers.min.insync.replicas=1";
    let out = kplay(
        &["run", &file, "--json", "--fork-at", "1000", "--set", set],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["original"]["digest"], plain["digest"]);
    assert_ne!(v["fork"]["digest"], plain["digest"]);
    assert!(
        v["original"]["failed"].as_u64() > Some(1000),
        "{}",
        v["original"]
    );
    assert_eq!(v["fork"]["failed"], 0);
    let acked = |r: &serde_json::Value| r["acked"].as_i64().expect("acked");
    assert_eq!(
        v["difference"]["acked"].as_i64(),
        Some(acked(&v["fork"]) - acked(&v["original"]))
    );
    assert_eq!(v["fork_at_ms"], 1000);
    // acks=all still waits for every ISR member: until the dead ones leave the ISR, the
    // fork's records wait, so its slowest acknowledgements take seconds.
    let p99 = |run: &str| v["produce_latency_ms"][run]["p99"].as_u64().expect("p99");
    assert!(p99("fork") > 1000, "{}", v["produce_latency_ms"]);
    assert!(p99("original") > p99("fork"), "{}", v["produce_latency_ms"]);
    let text = kplay(&["run", &file, "--fork-at", "1000", "--set", set], "");
    assert_eq!(text.code, 0, "{}", text.stderr);
    for line in [
        "== original ==",
        "== fork at 1000 ms: topic.transfers.min.insync.replicas=1 ==",
        "--fork-at 1000 --set topic.transfers.min.insync.replicas=1",
        "== fork − original ==",
        "(produce latency p50 / p99)",
    ] {
        assert!(
            text.stdout.contains(line),
            "missing {line:?} in\n{}",
            text.stdout
        );
    }
}

#[test]
fn fork_flags_are_checked_and_errors_name_the_flag_or_path() {
    let file = scenario("broker-crash.toml");
    for (args, says) in [
        (
            vec!["--fork-at", "1000"],
            "--fork-at: say what the fork changes",
        ),
        (vec!["--set", "producer.api.acks=all"], "--set: say when"),
        (
            vec!["--fork-at", "1000", "--set", "acks"],
            "--set: expected KEY=VALUE",
        ),
        (
            vec!["--fork-at", "99000", "--set", "producer.api.acks=1"],
            "--fork-at: 99000",
        ),
        (
            vec!["--fork-at", "1000", "--set", "cluster.brokers=5"],
            "`cluster.brokers`",
        ),
        (
            vec!["--fork-at", "1000", "--set", "producer.api.acks=most"],
            "`producer.api.acks`",
        ),
        (
            vec!["--fork-at", "1000", "--set", "producer.nope.acks=1"],
            "producers are api",
        ),
    ] {
        let mut all = vec!["run", file.as_str()];
        all.extend(args.iter().copied());
        let out = kplay(&all, "");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn trace_record_prints_a_records_journey_by_key_and_by_offset() {
    let file = scenario("quickstart.toml");
    let by_key = kplay(&["trace-record", &file, "--key", "key-7"], "");
    assert_eq!(by_key.code, 0, "{}", by_key.stderr);
    for line in [
        "send(): to orders-",
        "linger.ms = 5 expired",
        "appended it at offset",
        "acknowledged",
    ] {
        assert!(
            by_key.stdout.contains(line),
            "missing {line:?} in\n{}",
            by_key.stdout
        );
    }
    assert!(
        by_key.stdout.contains("replay: kplay trace-record"),
        "{}",
        by_key.stdout
    );
    let by_offset = kplay(
        &[
            "trace-record",
            &file,
            "--offset",
            "orders:2:100",
            "--seed",
            "42",
        ],
        "",
    );
    assert_eq!(by_offset.code, 0, "{}", by_offset.stderr);
    assert!(
        by_offset.stdout.contains("orders-2 offset 100"),
        "{}",
        by_offset.stdout
    );
    assert!(
        by_offset.stdout.contains("appended it at offset 100"),
        "{}",
        by_offset.stdout
    );
}

#[test]
fn trace_record_errors_name_the_flag() {
    let file = scenario("quickstart.toml");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--key", "no-such-key"],
            "--key: no record with key \"no-such-key\"",
        ),
        (
            &["--offset", "orders:2"],
            "--offset: expected TOPIC:PARTITION:OFFSET",
        ),
        (
            &["--offset", "orders:x:1"],
            "--offset: expected TOPIC:PARTITION:OFFSET",
        ),
        (
            &["--offset", "orders:2:99999999"],
            "--offset: orders-2 holds offsets 0 to",
        ),
        (
            &["--offset", "orders:9:0"],
            "--offset: orders has 6 partitions",
        ),
        (&[], "trace-record needs --key K or --offset"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["trace-record", file.as_str()];
        args.extend_from_slice(flags);
        let out = kplay(&args, "");
        assert_eq!(out.code, 2, "{flags:?}: {}", out.stdout);
        assert!(out.stderr.contains(message), "{flags:?}: {}", out.stderr);
    }
    let both = kplay(
        &[
            "trace-record",
            &file,
            "--key",
            "a",
            "--offset",
            "orders:0:0",
        ],
        "",
    );
    assert!(
        both.stderr.contains("one of --key and --offset"),
        "{}",
        both.stderr
    );
}

/// A small cluster for `kplay describe`: a topic of three partitions at RF 3, a producer, a
/// group of two consumers (one with its own `client.id`), and broker 1 crashing at 3 s.
const DESCRIBED: &str = r#"seed = 7
duration_ms = 20000

[cluster]
brokers = 3

[[topic]]
name = "orders"
partitions = 3
replication_factor = 3
config = { "min.insync.replicas" = 2 }

[[producer]]
id = "checkout"
topic = "orders"
rate_per_sec = 10
keys = "pool:5"

[[consumer]]
id = "ledger"
topics = ["orders"]
processing_ms_per_record = 5
config = { "group.id" = "billing", "auto.offset.reset" = "earliest" }

[[consumer]]
id = "audit"
topics = ["orders"]
processing_ms_per_record = 5
config = { "group.id" = "billing", "auto.offset.reset" = "earliest", "client.id" = "audit-app" }

[[event]]
at_ms = 3000
action = "crash_broker"
broker = 1
"#;

fn described_file() -> String {
    let dir = std::env::temp_dir().join(format!("kplay-describe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("described.toml");
    std::fs::write(&path, DESCRIBED).expect("write");
    path.to_string_lossy().into_owned()
}

/// `kafka-topics.sh --describe`'s line for one partition of `orders`, as `TopicCommand`'s
/// `PartitionDescription.printDescription` writes it.
fn partition_line(partition: u32, leader: u32, replicas: &str, isr: &str) -> String {
    format!(
        "\tTopic: orders\tPartition: {partition}\tLeader: {leader}\tReplicas: {replicas}\
         \tIsr: {isr}\tElr: \tLastKnownElr: \n"
    )
}

/// Goal: `kplay describe topics` prints `kafka-topics.sh --describe`'s layout exactly (tabs,
/// field names, comma lists, `Elr`/`LastKnownElr` as Kafka 4.0 prints them with eligible
/// leader replicas off), and `--at` shows the cluster at that moment: before the crash every
/// replica is in sync; after broker 1 is fenced (9 s later) it left every ISR and the
/// partition it led has a new leader, while Replicas keeps the assignment.
#[test]
fn describe_topics_prints_kafka_topics_layout_at_a_time() {
    let file = described_file();
    let topic = "Topic: orders\tPartitionCount: 3\tReplicationFactor: 3\t\
                 Configs: min.insync.replicas=2\n";
    let describe = |at: &str| {
        let out = kplay(
            &[
                "describe",
                "topics",
                &file,
                "--exclude-internal",
                "--at",
                at,
            ],
            "",
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let before = [
        partition_line(0, 1, "1,0,2", "1,0,2"),
        partition_line(1, 2, "2,1,0", "2,1,0"),
        partition_line(2, 0, "0,2,1", "0,2,1"),
    ];
    assert_eq!(describe("2000"), format!("{topic}{}", before.concat()));
    let after = [
        partition_line(0, 0, "1,0,2", "0,2"),
        partition_line(1, 2, "2,1,0", "2,0"),
        partition_line(2, 0, "0,2,1", "0,2"),
    ];
    assert_eq!(describe("15000"), format!("{topic}{}", after.concat()));
    let all = kplay(&["describe", "topics", &file, "--at", "2000"], "");
    assert!(
        all.stdout
            .starts_with("Topic: __consumer_offsets\tPartitionCount: 50\t"),
        "internal topics are listed, sorted by name, unless excluded: {}",
        all.stdout
    );
}

/// Goal: `kplay describe groups` prints `kafka-consumer-groups.sh --describe`'s table: the
/// member with most partitions first, CURRENT-OFFSET the committed offset, LOG-END-OFFSET the
/// high watermark (what ListOffsets answers a read_uncommitted client), LAG their difference,
/// CONSUMER-ID the member id, CLIENT-ID the consumer's `client.id`; and a group still in its
/// first rebalance says so as Kafka does, with no rows.
#[test]
fn describe_groups_prints_kafka_consumer_groups_layout() {
    let file = described_file();
    let out = kplay(&["describe", "groups", &file, "--at", "19500"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // `printOffsetFormat`: GROUP, TOPIC, CONSUMER-ID and HOST 15 wide at least, PARTITION 10,
    // the offsets and LAG 15, one space between.
    let row = |[g, t, p]: [&str; 3], [c, e, l]: [&str; 3], [id, host, client]: [&str; 3]| {
        format!("{g:15} {t:15} {p:10} {c:15} {e:15} {l:15} {id:15} {host:15} {client}")
    };
    const HOST: &str = "/127.0.0.1";
    let (audit, ledger) = (
        ["audit-app-2", HOST, "audit-app"],
        ["ledger-1", HOST, "ledger"],
    );
    let head = ["CONSUMER-ID", "HOST", "CLIENT-ID"];
    let lines = [
        row(
            ["GROUP", "TOPIC", "PARTITION"],
            ["CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"],
            head,
        ),
        row(["billing", "orders", "0"], ["59", "67", "8"], audit),
        row(["billing", "orders", "1"], ["39", "45", "6"], audit),
        row(["billing", "orders", "2"], ["72", "83", "11"], ledger),
    ];
    assert_eq!(out.stdout, format!("\n{}\n", lines.join("\n")));
    let early = kplay(&["describe", "groups", &file, "--at", "1000"], "");
    assert_eq!(
        early.stdout,
        "\nWarning: Consumer group 'billing' is rebalancing.\n"
    );
}

/// Goal: bad `describe` input exits 2 naming what is wrong.
#[test]
fn describe_refuses_bad_input_naming_the_flag() {
    let file = described_file();
    let cases: &[(&[&str], &str)] = &[
        (&["describe"], "`topics` or `groups`"),
        (&["describe", "partitions", &file], "`topics` or `groups`"),
        (&["describe", "topics"], "needs a scenario FILE"),
        (&["describe", "topics", &file, "--at", "soon"], "--at"),
        (&["describe", "groups", &file, "--at"], "--at needs a value"),
        (&["describe", "groups", &file, "--seed", "x"], "--seed"),
        (
            &["describe", "groups", &file, "--members"],
            "unknown option",
        ),
    ];
    for (args, needle) in cases {
        let out = kplay(args, "");
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}
