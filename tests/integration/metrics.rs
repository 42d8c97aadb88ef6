//! Kafka's metrics from a run (`Sim::keep_metric_points`, `kplay run --metrics`): by Kafka's
//! names, and moving as the run does; and alerts on them.

use kplay_engine::sim::{MetricPoint, METRICS};
use kplay_engine::trace::TraceKind;
use kplay_engine::Duration;
use kplay_scenario::Scenario;
use kplay_tests::{kplay, root, scenario_text};

/// Every sample of a scenario's run, one a second.
fn sampled(name: &str) -> Vec<MetricPoint> {
    let scenario = kplay_scenario::Scenario::parse(&scenario_text(name)).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.keep_metric_points(Duration::from_millis(1_000));
    sim.run_until(scenario.end());
    sim.take_metric_points()
}

/// `(time_ms, value in thousandths)` of one metric of one scope.
fn series(points: &[MetricPoint], scope: &str, name: &str) -> Vec<(u64, i64)> {
    let of = points.iter().filter(|p| p.scope == scope && p.name == name);
    of.map(|p| (p.at_ms, p.milli)).collect()
}

fn value_at(series: &[(u64, i64)], ms: u64) -> i64 {
    series.iter().find(|(at, _)| *at == ms).expect("sampled").1
}

#[test]
fn a_crashed_single_replica_broker_takes_its_partitions_offline_until_it_returns() {
    // scenarios/broker-crash.toml: broker 1 crashes at 10 s and returns at 20 s; its
    // partitions have one replica. The controller fences it after broker.session.timeout.ms
    // (9 s): offline from 19 s, back once it has restarted and registered.
    let points = sampled("broker-crash.toml");
    let offline = series(&points, "cluster", "OfflinePartitionsCount");
    assert_eq!(value_at(&offline, 10_000), 0);
    assert_eq!(value_at(&offline, 20_000), 2_000, "{offline:?}");
    assert_eq!(value_at(&offline, 30_000), 0, "{offline:?}");
    // The producer's rate, as it sends it (1,000 a second), before the crash.
    let sent = series(&points, "producer:api", "record-send-rate");
    assert!(
        (900_000..=1_100_000).contains(&value_at(&sent, 5_000)),
        "{sent:?}"
    );
    for p in &points {
        assert!(
            METRICS.iter().any(|(_, name, _)| *name == p.name),
            "{}",
            p.name
        );
    }
}

#[test]
fn a_slow_consumer_s_lag_grows() {
    let points = sampled("slow-consumer.toml");
    // Kafka's lag is measured as a fetch's records are returned (its high watermark less the
    // position): a partition still holding fetched records shows the lag of its last fetch.
    // So the samples jump; over the run's first and last thirds the lag has grown.
    let lag = series(&points, "consumer:analytics", "records-lag-max");
    let mean = |from: u64, to: u64| {
        let v: Vec<i64> = lag
            .iter()
            .filter(|(at, _)| (from..=to).contains(at))
            .map(|(_, v)| *v)
            .collect();
        v.iter().sum::<i64>() / v.len().max(1) as i64
    };
    let (early, late) = (mean(1_000, 7_000), mean(14_000, 20_000));
    assert!(late > early * 2 && early > 0, "{lag:?}");
    let rate = series(&points, "consumer:analytics", "records-consumed-rate");
    assert!(value_at(&rate, 10_000) > 0, "{rate:?}");
}

#[test]
fn a_saturated_producer_waits_for_buffer_memory_and_its_batches_queue() {
    // One producer as fast as it can, acks=all: its requests hold their connections while the
    // followers fetch, so batches wait in the accumulator and buffer.memory fills.
    let points = sampled("perf/kreps-1-producer-rf3-acks-all.toml");
    let scope = "producer:perf";
    let queue = series(&points, scope, "record-queue-time-avg");
    assert!(value_at(&queue, 2_000) > 100_000, "over 100 ms: {queue:?}");
    let buffer = series(&points, scope, "buffer-available-bytes");
    assert!(value_at(&buffer, 2_000) < 67_108_864_000 / 10, "{buffer:?}");
    let waited = series(&points, scope, "bufferpool-wait-time-ns-total");
    assert!(
        value_at(&waited, 3_000) > value_at(&waited, 1_000),
        "{waited:?}"
    );
    let latency = series(&points, scope, "request-latency-avg");
    assert!(
        value_at(&latency, 2_000) >= 1_000,
        "at least a follower round: {latency:?}"
    );
    let idle = series(&points, "broker:0", "RequestHandlerAvgIdlePercent");
    assert!((1..1_000).contains(&value_at(&idle, 2_000)), "{idle:?}");
    let records = series(&points, scope, "records-per-request-avg");
    assert!(value_at(&records, 2_000) > 100_000, "{records:?}");
}

#[test]
fn kplay_run_writes_metrics_as_csv_and_json() {
    let dir = std::env::temp_dir().join(format!("kplay-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = root().join("scenarios/broker-crash.toml");
    let file = file.to_string_lossy();
    let csv = dir.join("m.csv").to_string_lossy().into_owned();
    let out = kplay(
        &[
            "run",
            &file,
            "--metrics",
            &csv,
            "--metrics-interval-ms",
            "5000",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&csv).expect("written");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time_ms,scope,metric,value"));
    assert!(
        text.contains("\n20000,cluster,OfflinePartitionsCount,2\n"),
        "{text}"
    );
    assert!(
        text.lines().last().is_some_and(|l| l.starts_with("40000,")),
        "to the end"
    );
    let json = dir.join("m.json").to_string_lossy().into_owned();
    let out = kplay(&["run", &file, "--metrics-json", &json], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("written")).expect("json");
    assert!(v.as_array().is_some_and(|a| a.len() > 100));
    let bad = kplay(
        &[
            "run",
            &file,
            "--metrics-interval-ms",
            "5",
            "--metrics",
            &csv,
        ],
        "",
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--metrics-interval-ms"),
        "{}",
        bad.stderr
    );
}

/// `(at_ms, scope, fired)` of every alert change of a rule.
fn alert_changes(r: &kplay_engine::snapshot::Report, rule: &str) -> Vec<(u64, String, bool)> {
    let of = r.alerts.iter().filter(|a| a.rule == rule);
    of.map(|a| (a.at_ms, a.scope.clone(), a.fired)).collect()
}

#[test]
fn alerts_fire_when_their_condition_has_held_and_resolve_when_it_stops() {
    // scenarios/alerts.toml: broker 2 crashes at 10 s and returns at 25 s; the consumer is
    // half as fast as the producer.
    let r = kplay_tests::run_scenario(&scenario_text("alerts.toml"), None);
    let urp = alert_changes(&r, "UnderReplicatedPartitions > 0");
    let fired: Vec<_> = urp.iter().filter(|c| c.2).collect();
    let resolved: Vec<_> = urp.iter().filter(|c| !c.2).collect();
    // The leaders of the partitions broker 2 followed, once the controller fenced it (9 s).
    let scopes: Vec<&str> = fired.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(scopes, ["broker:0", "broker:1"], "{urp:?}");
    assert!(
        fired.iter().all(|c| (17_000..=20_000).contains(&c.0)),
        "{urp:?}"
    );
    assert_eq!(resolved.len(), 2, "{urp:?}");
    assert!(
        resolved.iter().all(|c| (25_000..=30_000).contains(&c.0)),
        "{urp:?}"
    );
    assert!(alert_changes(&r, "OfflinePartitionsCount > 0").is_empty());
    // Lag: it fires only once it held for 5 s, so never in the first 5 s of the run.
    let lag = alert_changes(&r, "records-lag-max > 1000 for 5 s");
    assert!(lag.first().is_some_and(|c| c.2 && c.0 >= 10_000), "{lag:?}");
    assert!(lag.iter().all(|c| c.1 == "consumer:billing"), "{lag:?}");
    assert!(
        lag.last().is_some_and(|c| !c.2),
        "resolved at the end: {lag:?}"
    );
}

#[test]
fn alerts_read_the_run_and_change_nothing_else_in_it() {
    let with = Scenario::parse(&scenario_text("alerts.toml")).expect("parses");
    let without = Scenario {
        alerts: Vec::new(),
        ..with.clone()
    };
    let trace = |s: &Scenario, keep: bool| {
        let mut sim = s.build_traced(None, 1_000_000).expect("builds");
        if keep {
            sim.keep_metric_points(Duration::from_millis(250));
        }
        sim.run_until(s.end());
        let kinds = sim.trace().recent().map(|e| (e.at, e.kind.clone()));
        let others = kinds.filter(|(_, k)| !matches!(k, TraceKind::Alert { .. }));
        (others.collect::<Vec<_>>(), sim.events_processed())
    };
    let base = trace(&without, false);
    assert_eq!(trace(&with, false), base);
    assert_eq!(trace(&without, true), base);
}

#[test]
fn alert_rules_round_trip_and_a_bad_one_names_its_field_and_line() {
    let s = Scenario::parse(&scenario_text("alerts.toml")).expect("parses");
    assert_eq!(s.alerts.len(), 3);
    let again = Scenario::parse(&s.to_toml()).expect("reads back");
    assert_eq!(again.alerts, s.alerts);
    let bad = "seed = 1\n\n[[alert]]\nwhen = \"lag > 1000\"\n";
    let e = Scenario::parse(bad).unwrap_err().to_string();
    assert!(
        e.starts_with("line 4: `alert.when`: unknown metric \"lag\""),
        "{e}"
    );
    let bad = "[metrics]\ninterval_ms = 1\n";
    let e = Scenario::parse(bad).unwrap_err().to_string();
    assert!(e.contains("`metrics.interval_ms`"), "{e}");
    let out = kplay(
        &[
            "run",
            &root().join("scenarios/alerts.toml").to_string_lossy(),
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("alert fired at 18000 ms: UnderReplicatedPartitions > 0 (broker:0 is"),
        "{}",
        out.stdout
    );
}

#[test]
fn compression_rate_avg_is_compressed_over_uncompressed_and_values_are_checked() {
    let text = scenario_text("perf/compression.toml");
    let scenario = Scenario::parse(&text).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.keep_metric_points(Duration::from_millis(1_000));
    sim.run_until(scenario.end());
    let points = sim.take_metric_points();
    let rate = series(&points, "producer:app", "compression-rate-avg");
    // lz4 on JSON: about 0.35 on large batches.
    assert!(
        rate.iter().skip(1).all(|(_, v)| (330..=380).contains(v)),
        "{rate:?}"
    );
    let bad = text.replace(r#"values = "json""#, r#"values = "xml""#);
    let e = Scenario::parse(&bad).unwrap_err().to_string();
    assert!(
        e.contains("`producer.values`: expected \"random\" or \"json\", got \"xml\""),
        "{e}"
    );
    let bad = text.replace(
        r#""compression.type" = "lz4""#,
        r#""compression.type" = "brotli""#,
    );
    let e = Scenario::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("compression.type"), "{e}");
}

/// Every sample of a scenario given as text, one a second.
fn sampled_text(text: &str) -> Vec<MetricPoint> {
    let scenario = Scenario::parse(text).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.keep_metric_points(Duration::from_millis(1_000));
    sim.run_until(scenario.end());
    sim.take_metric_points()
}

/// One producer with `acks` and a committing consumer on 3 brokers 5 ms apart (no cost model,
/// so the network is all there is to wait for).
fn request_times(acks: &str) -> Vec<MetricPoint> {
    sampled_text(&format!(
        r#"
seed = 3
duration_ms = 10000
[cluster]
brokers = 3
[network]
latency_us = 5000
[[topic]]
name = "t"
partitions = 1
replication_factor = 3
[[producer]]
id = "p"
topic = "t"
rate_per_sec = 20
value_bytes = 100
config = {{ acks = "{acks}", "linger.ms" = 0 }}
[[consumer]]
id = "c"
topics = ["t"]
config = {{ "group.id" = "g", "auto.offset.reset" = "earliest", "fetch.max.wait.ms" = 100 }}
"#
    ))
}

/// The mean of a metric over the samples from 3 s to the end, in thousandths.
fn settled(points: &[MetricPoint], scope: &str, name: &str) -> i64 {
    let s: Vec<i64> = series(points, scope, name)
        .into_iter()
        .filter(|(at, _)| *at >= 3_000)
        .map(|(_, v)| v)
        .collect();
    assert!(!s.is_empty(), "{name} on {scope} never sampled");
    s.iter().sum::<i64>() / s.len() as i64
}

#[test]
fn request_metrics_split_a_produce_request_s_time_at_the_broker_into_replication_and_the_rest() {
    // The leader is the one broker the producer writes to; find it by its traffic.
    let all = request_times("all");
    let one = request_times("1");
    let leader = (0..3)
        .map(|b| format!("broker:{b}"))
        .find(|s| settled(&all, s, "MessagesInPerSec") > 0)
        .expect("a leader takes the records");
    // acks=all: the request waits in purgatory until both followers have fetched the records
    // and the leader has learnt it from their next fetch. At 20 records a second the followers
    // are long-polling, so a fetch is already waiting: the records reach them 5 ms later and
    // their next fetch 5 ms after that. 10 ms, all of it remote time.
    let remote_all = settled(&all, &leader, "RemoteTimeMs.Produce");
    let total_all = settled(&all, &leader, "TotalTimeMs.Produce");
    assert!(
        (9_500..=10_500).contains(&remote_all),
        "remote {remote_all}"
    );
    assert!(total_all >= remote_all, "{total_all} < {remote_all}");
    // acks=1 is answered as soon as the leader has appended: nothing remote.
    assert_eq!(settled(&one, &leader, "RemoteTimeMs.Produce"), 0);
    assert_eq!(settled(&one, &leader, "TotalTimeMs.Produce"), 0);
    // Without a cost model nothing queues for a handler thread.
    assert_eq!(settled(&all, &leader, "RequestQueueTimeMs.Produce"), 0);
    // A consumer's fetch at the tail waits for records (remote time) up to fetch.max.wait.ms.
    let fetch = settled(&one, &leader, "RemoteTimeMs.FetchConsumer");
    assert!((1..=100_000).contains(&fetch), "{fetch}");
    // Followers' fetches are timed apart from consumers'.
    let follower = settled(&one, &leader, "TotalTimeMs.FetchFollower");
    assert!(follower > 0, "{follower}");
    // The producer sees the broker's time plus a round trip (10 ms).
    let seen = settled(&all, "producer:p", "request-latency-avg");
    assert!(
        (total_all + 9_000..=total_all + 12_000).contains(&seen),
        "producer {seen}, broker {total_all}"
    );
}

#[test]
fn commit_latency_avg_is_an_offset_commit_s_round_trip_to_the_coordinator() {
    // Auto-commit every 5 s (auto.commit.interval.ms's default), 5 ms each way. The
    // coordinator answers once the commit is replicated in __consumer_offsets (three replicas
    // here, offsets.topic.replication.factor's 3; Kafka's GroupMetadataManager appends with
    // acks=all), which is a follower round trip more: 20 ms.
    let points = request_times("1");
    let commit = series(&points, "consumer:c", "commit-latency-avg");
    // Only the intervals with a commit have a value (Kafka's is NaN without one).
    assert!((1..=3).contains(&commit.len()), "{commit:?}");
    for (_, v) in &commit {
        assert!((19_500..=21_000).contains(v), "{commit:?}");
    }
}

#[test]
fn produce_requests_wait_for_a_handler_thread_when_connections_outnumber_threads() {
    // Three producers as fast as they can, each with one connection per broker, and the
    // followers' fetches: more requests at once than one handler thread (num.io.threads = 1)
    // takes, but not than eight. (A connection sends one request at a time, so a lone
    // producer never queues: its wait is the muted connection, in request-latency-avg.)
    let text = scenario_text("perf/kreps-3-producers-rf3-acks1.toml");
    let queued = |threads: u32| {
        let config =
            format!("hardware = \"kreps-2014\"\nconfig = {{ \"num.io.threads\" = {threads} }}");
        let points = sampled_text(&text.replace("hardware = \"kreps-2014\"", &config));
        (0..3)
            .map(|b| {
                settled(
                    &points,
                    &format!("broker:{b}"),
                    "RequestQueueTimeMs.Produce",
                )
            })
            .max()
            .expect("three brokers")
    };
    let (one, eight) = (queued(1), queued(8));
    assert!(
        one > 0 && one > eight,
        "1 thread: {one}, 8 threads: {eight}"
    );
}
