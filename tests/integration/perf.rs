//! The cost model (`[cluster] hardware`): calibrated against Kreps 2014 (`kplay bench-table`),
//! and showing what the settings do to throughput, as Kafka does.

use kplay_tests::run_checked;

/// The post's figures and ratios hold within the issue's tolerances. Virtual time, so this is
/// a property of the model, not of the machine running the test.
#[test]
fn the_kreps_2014_table_holds() {
    let (rows, ratios) = kplay_cli::bench_table::measure().expect("the setups run");
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert!(
            r.holds(),
            "{} simulated {} against {}",
            r.label,
            r.simulated,
            r.published
        );
    }
    for r in &ratios {
        assert!(
            r.holds(),
            "{}: {} against {}",
            r.label,
            r.simulated_milli,
            r.published_milli
        );
    }
}

/// One producer as fast as it can, acks=all at RF 3, with `batch.size` set: its acknowledged
/// records a second, measured after a second of warm-up.
fn acks_all_throughput(batch_size: u32) -> u64 {
    let text = format!(
        r#"
seed = 3
duration_ms = 2000
[cluster]
brokers = 3
hardware = "kreps-2014"
[[topic]]
name = "t"
partitions = 6
replication_factor = 3
[[producer]]
id = "p"
topic = "t"
rate_per_sec = "max"
keys = "none"
value_bytes = 100
config = {{ acks = "all", "batch.size" = {batch_size}, "linger.ms" = 0 }}
"#
    );
    let (sim, report) = run_checked("batch-size", &text, None);
    assert_eq!(report.lost_acked, 0);
    assert_eq!(report.duplicates, 0);
    let acked: u64 = sim.producers().map(|p| p.stats.acked).sum();
    acked / 2
}

/// A broker handles one request per connection at a time and an acks=all request holds its
/// connection until the followers have it: what a request carries decides the throughput,
/// so it grows with `batch.size`, until the producer's own `send()` is the limit.
#[test]
fn acks_all_throughput_grows_with_batch_size_then_levels_off() {
    let small = acks_all_throughput(1_024);
    let default = acks_all_throughput(16_384);
    let large = acks_all_throughput(262_144);
    assert!(small * 4 < default, "1 KB {small}, 16 KB {default}");
    // The producer's send() takes 1.2 µs: about 833,000 records a second at most.
    assert!(
        large <= 840_000 && large * 10 >= 833_000 * 9,
        "256 KB {large}"
    );
    assert!(default < large, "16 KB {default}, 256 KB {large}");
}

/// Without a hardware profile a message costs only latency, and a closed loop has nothing to
/// pace it: it is refused, naming the field and what it needs.
#[test]
fn a_closed_loop_needs_a_hardware_profile() {
    let text =
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = \"max\"";
    let err = kplay_scenario::Scenario::parse(text)
        .and_then(|s| s.validate())
        .expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("rate_per_sec") && message.contains("hardware"),
        "{message}"
    );
}

/// A scenario with a profile and overrides is written back as it was read.
#[test]
fn hardware_round_trips_through_toml() {
    let text = concat!(
        "[cluster]\nbrokers = 3\nhardware = \"kreps-2014\"\n",
        "[hardware]\ndisk_bytes_per_sec = 5000000\n",
        "[[topic]]\nname = \"t\"\n",
        "[[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = \"max\"",
    );
    let s = kplay_scenario::Scenario::parse(text).expect("parses");
    assert_eq!(s.cluster.hardware.profile, "kreps-2014");
    assert_eq!(s.cluster.hardware.disk_bytes_per_sec, 5_000_000);
    let again = kplay_scenario::Scenario::parse(&s.to_toml()).expect("reads back");
    assert_eq!(again.cluster.hardware, s.cluster.hardware);
    assert_eq!(
        again.producers[0].rate_per_sec,
        kplay_engine::producer::RATE_MAX
    );
}

/// The report gives each producer's produce latency and each group's end-to-end latency, as
/// percentiles: at low load on the calibrated profile, a few milliseconds.
#[test]
fn the_report_has_latency_percentiles_per_producer_and_group() {
    let text = kplay_tests::scenario_text("perf/kreps-end-to-end-latency.toml");
    let (_, report) = run_checked("kreps-end-to-end-latency.toml", &text, None);
    let json = kplay_scenario::report_json(&report);
    let produce = &json["producers"][0]["produce_latency_ms"];
    assert_eq!(produce["count"], json["acked"], "{produce}");
    assert!(
        produce["p50"].as_u64().is_some_and(|ms| ms <= 2),
        "{produce}"
    );
    let e2e = &json["groups"][0]["end_to_end_ms"];
    // The backlog of the group's first rebalance (3 s) is in it: the median is not.
    assert!(e2e["p50"].as_u64().is_some_and(|ms| ms <= 3), "{e2e}");
    assert!(e2e["p99_9"].as_u64().is_some_and(|ms| ms >= 1_000), "{e2e}");
}

/// The group's lag (as `kafka-consumer-groups.sh` computes it, from committed offsets) at
/// `ms`, from its sampled history.
fn lag_at(history: &[(u64, u64)], ms: u64) -> i64 {
    let at = history.iter().rfind(|(t, _)| *t <= ms);
    at.expect("sampled").1 as i64
}

/// scenarios/perf/slow-consumer-backpressure.toml: the lag grows at the producer's rate less
/// the consumer's (1,000 - 667 a second) and drains at the consumer's once the producer stops.
#[test]
fn a_slow_consumer_s_lag_grows_and_drains_at_predictable_rates() {
    let name = "perf/slow-consumer-backpressure.toml";
    let (_, r) = run_checked(name, &kplay_tests::scenario_text(name), None);
    let g = r
        .groups
        .iter()
        .find(|g| g.group == "billing")
        .expect("group");
    let h = &g.lag_history;
    let growth = (lag_at(h, 18_000) - lag_at(h, 8_000)) / 10;
    assert!((250..=420).contains(&growth), "grew {growth}/s: {h:?}");
    // Committed offsets move in steps (a commit a second, a poll of 500 every 0.75 s): over
    // 9.5 s the steps average out.
    let drain = (lag_at(h, 20_500) - lag_at(h, 30_000)) * 2 / 19;
    assert!((550..=780).contains(&drain), "drained {drain}/s: {h:?}");
    assert_eq!((g.lag, g.processed), (0, 20_000));
}

/// scenarios/perf/producer-buffer-full.toml: records wait seconds in buffer.memory, and those
/// that find no room within max.block.ms fail unsent; nothing acknowledged is lost.
#[test]
fn a_producer_faster_than_its_cluster_fills_its_buffer_and_send_gives_up() {
    let name = "perf/producer-buffer-full.toml";
    let (_, r) = run_checked(name, &kplay_tests::scenario_text(name), None);
    let exhausted = r
        .failures
        .iter()
        .find(|(e, _)| e.name() == "BUFFER_EXHAUSTED");
    assert!(exhausted.is_some_and(|(_, n)| *n > 0), "{:?}", r.failures);
    let latency = r.producers[0]
        .produce_latency
        .expect("acknowledged records");
    assert!(latency.p50 > 1_000, "queued in the buffer: {latency:?}");
    assert_eq!(r.lost_acked, 0);
}

/// scenarios/perf/request-timeout-too-low.toml: a loaded broker answers after the producers'
/// request.timeout.ms; they send the requests again, the broker works through every copy, and
/// far fewer records are acknowledged than with Kafka's default timeout. Nothing is lost or
/// written twice (idempotence).
#[test]
fn a_request_timeout_below_the_broker_s_answer_time_makes_a_retry_storm() {
    let name = "perf/request-timeout-too-low.toml";
    let text = kplay_tests::scenario_text(name);
    let (low, r_low) = run_checked(name, &text, None);
    let default_timeout = text.replace(r#""request.timeout.ms" = 1000, "#, "");
    let (default, r_default) = run_checked(name, &default_timeout, None);
    let retried =
        |sim: &kplay_engine::Sim| -> u64 { sim.producers().map(|p| p.stats.records_retried).sum() };
    assert!(retried(&low) > 20_000, "retries {}", retried(&low));
    assert_eq!(retried(&default), 0);
    assert!(
        r_low.acked * 3 < r_default.acked,
        "acknowledged: {} with 1 s, {} with 30 s",
        r_low.acked,
        r_default.acked
    );
    for r in [&r_low, &r_default] {
        assert_eq!((r.lost_acked, r.duplicates), (0, 0));
    }
}

/// `kplay bench-table --curves`: throughput rises with batch.size then levels off at the
/// producer's own send() rate; linger.ms at a moderate load makes fewer, fuller requests;
/// latency is flat while the brokers keep up and climbs once the offered load passes what
/// they take; compression trades the producer's CPU for the network.
#[test]
fn the_curves_rise_then_level_off_and_latency_climbs_past_saturation() {
    let curves = kplay_cli::bench_table::curves().expect("the curves run");
    let [batch, linger, load, codecs] = &curves[..] else {
        panic!("four curves, got {}", curves.len());
    };
    let rate: Vec<u64> = batch.points.iter().map(|p| p.records_per_sec).collect();
    assert!(
        rate.windows(2).take(4).all(|w| w[0] * 3 < w[1] * 2),
        "{rate:?}"
    );
    let (last, before) = (rate[rate.len() - 1], rate[rate.len() - 2]);
    assert!(
        last.abs_diff(before) * 50 < before,
        "flat at the end: {rate:?}"
    );
    let (l0, l5) = (&linger.points[0], &linger.points[3]);
    assert_eq!(l5.value, 5);
    assert!(
        l5.requests_per_sec * 4 < l0.requests_per_sec,
        "{l0:?} {l5:?}"
    );
    assert!(l5.batch_bytes > l0.batch_bytes * 4, "{l0:?} {l5:?}");
    let (light, heavy) = (&load.points[0], &load.points[load.points.len() - 1]);
    assert!(light.p99_ms <= 10, "{light:?}");
    assert!(heavy.p99_ms > light.p99_ms * 20, "{light:?} {heavy:?}");
    assert!(heavy.records_per_sec < heavy.value, "saturated: {heavy:?}");
    // Compression: network-bound without it; lz4 sends a third of the bytes and goes faster
    // and sooner; gzip's CPU makes the producer itself the limit.
    let codec = |name: &str| {
        let p = codecs.points.iter().find(|p| p.label == name);
        p.cloned().expect("measured")
    };
    let (none, lz4, gzip) = (codec("none"), codec("lz4"), codec("gzip"));
    assert!(
        lz4.records_per_sec * 2 > none.records_per_sec * 3,
        "{none:?} {lz4:?}"
    );
    assert!(lz4.p99_ms * 10 < none.p99_ms, "{none:?} {lz4:?}");
    assert!(
        gzip.records_per_sec * 4 < none.records_per_sec,
        "{none:?} {gzip:?}"
    );
}

/// The bytes every replica of a topic holds.
fn topic_bytes(sim: &kplay_engine::Sim, topic: &str) -> u64 {
    let s = sim.snapshot(0, 0);
    let t = s
        .topics
        .iter()
        .find(|t| t.name == topic)
        .expect("the topic");
    t.partitions.iter().map(|p| p.size_bytes).sum()
}

/// JSON values compress: a producer's zstd batches take about a third of the log an
/// uncompressed producer's take, and a topic with compression.type = zstd stores an
/// uncompressed producer's batches compressed too (the broker recompresses them, and its
/// request handlers work longer for it; its batches, closed at batch.size uncompressed,
/// shrink a little less); random values do not shrink.
#[test]
fn compressed_batches_are_smaller_on_disk_whoever_compresses_them() {
    let run = |values: &str, producer_codec: &str, topic_codec: &str| {
        let text = format!(
            r#"
seed = 5
duration_ms = 3000
[cluster]
brokers = 1
hardware = "kreps-2014"
[[topic]]
name = "t"
partitions = 2
config = {{ "compression.type" = "{topic_codec}" }}
[[producer]]
id = "p"
topic = "t"
rate_per_sec = 20000
records = 40000
keys = "none"
value_bytes = 500
values = "{values}"
config = {{ "compression.type" = "{producer_codec}", "linger.ms" = 20 }}
"#
        );
        let scenario = kplay_scenario::Scenario::parse(&text).expect("parses");
        let mut sim = scenario.build(None).expect("builds");
        sim.keep_metric_points(kplay_engine::Duration::from_millis(500));
        sim.run_until(scenario.end());
        let report = sim.report();
        assert_eq!((report.acked, report.lost_acked), (40_000, 0));
        // The handler threads' busy share, summed over the run's samples.
        let points = sim.take_metric_points();
        let idle = points
            .iter()
            .filter(|p| p.name == "RequestHandlerAvgIdlePercent");
        let busy: i64 = idle.map(|p| 1_000 - p.milli).sum();
        (topic_bytes(&sim, "t"), busy)
    };
    let (plain, plain_busy) = run("json", "none", "producer");
    let (by_producer, _) = run("json", "zstd", "producer");
    let (by_broker, broker_busy) = run("json", "none", "zstd");
    let (random, _) = run("random", "zstd", "producer");
    assert!(
        by_producer * 100 < plain * 35,
        "{by_producer} against {plain}"
    );
    // The broker gets batches closed at batch.size uncompressed, which compress a little
    // worse than the producer's, closed at batch.size compressed.
    assert!(by_broker * 100 < plain * 40, "{by_broker} against {plain}");
    assert!(by_broker > by_producer, "{by_broker} against {by_producer}");
    assert!(
        broker_busy > plain_busy * 2,
        "recompressing: {broker_busy} against {plain_busy}"
    );
    assert!(random * 100 > plain * 99, "{random} against {plain}");
}

/// scenarios/perf/too-many-partitions.toml: the same records over 1,000 partitions instead of
/// 10 make smaller batches and requests naming hundreds of partitions, each of which costs a
/// broker CPU: produce latency climbs several times over.
#[test]
fn the_same_records_over_a_thousand_partitions_are_slower_than_over_ten() {
    let name = "perf/too-many-partitions.toml";
    let many = kplay_tests::scenario_text(name);
    let few = many.replace("partitions = 1000", "partitions = 10");
    let run = |text: &str| {
        let (sim, report) = run_checked(name, text, None);
        assert_eq!(report.lost_acked, 0);
        let p = sim.producers().next().expect("the producer");
        let bytes_per_batch = p.stats.bytes_sent / p.stats.batches.max(1);
        let p50 = report.producers[0]
            .produce_latency
            .expect("acknowledged")
            .p50;
        (p50, bytes_per_batch)
    };
    let ((p50_many, batch_many), (p50_few, batch_few)) = (run(&many), run(&few));
    assert!(
        p50_many > p50_few * 5,
        "p50 {p50_many} ms against {p50_few} ms"
    );
    assert!(
        batch_many * 4 < batch_few,
        "{batch_many} bytes a batch against {batch_few}"
    );
}

/// scenarios/perf/too-many-partitions-failover.toml: a ZooKeeper-era controller electing
/// leaders one after another (5 ms each) leaves a crashed broker's partitions leaderless for
/// longer the more it led; KRaft's (no cost per election) does not.
#[test]
fn a_slow_controller_takes_longer_to_fail_over_a_thousand_partitions_than_ten() {
    let name = "perf/too-many-partitions-failover.toml";
    let zk_era = kplay_tests::scenario_text(name);
    let kraft = zk_era.replace("controller_ns_per_election = 5000000", "");
    assert_ne!(zk_era, kraft, "the scenario sets the election cost");
    let tail = |text: &str| {
        let (_, report) = run_checked(name, text, None);
        assert_eq!(report.lost_acked, 0);
        let latency = report.producers[0].produce_latency.expect("acknowledged");
        latency.p999
    };
    let few = |text: &str| text.replace("partitions = 1000", "partitions = 10");
    // About 333 elections at 5 ms: 1.7 s, seen by the last records waiting for a leader.
    let (slow, fast) = (tail(&zk_era), tail(&kraft));
    assert!(slow >= fast + 800, "p99.9 {slow} ms against {fast} ms");
    // With 10 partitions, 3 or 4 elections: 20 ms.
    let (slow, fast) = (tail(&few(&zk_era)), tail(&few(&kraft)));
    assert!(slow <= fast + 100, "p99.9 {slow} ms against {fast} ms");
}

/// Three producers as fast as they can on the kreps-2014 machines, with `[cluster]` set to
/// `cluster` and `[hardware]` to `hardware`: records acknowledged, and the request queue's
/// largest sampled size over the brokers.
fn three_producers(cluster: &str, hardware: &str) -> (u64, i64) {
    let name = "perf/kreps-3-producers-rf3-acks1.toml";
    let text = kplay_tests::scenario_text(name).replace(
        "hardware = \"kreps-2014\"",
        &format!("hardware = \"kreps-2014\"\n{cluster}\n[hardware]\n{hardware}"),
    );
    let scenario = kplay_scenario::Scenario::parse(&text).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.keep_metric_points(kplay_engine::Duration::from_millis(10));
    sim.run_until(scenario.end());
    let points = sim.take_metric_points();
    let queue = points.iter().filter(|p| p.name == "RequestQueueSize");
    let largest = queue.map(|p| p.milli / 1_000).max().expect("sampled");
    let acked = sim.producers().map(|p| p.stats.acked).sum();
    (acked, largest)
}

#[test]
fn a_full_request_queue_stops_the_network_threads_and_never_grows_past_queued_max_requests() {
    // One handler thread for three producers and two followers: requests queue for it.
    let one = "config = { \"num.io.threads\" = 1 }";
    let capped = "config = { \"num.io.threads\" = 1, \"queued.max.requests\" = 1 }";
    let (_, open) = three_producers(one, "");
    let (_, held) = three_producers(capped, "");
    assert!(open > 1, "the queue grows past one without the cap: {open}");
    assert!(held <= 1, "queued.max.requests = 1 holds it to one: {held}");
}

#[test]
fn network_threads_read_requests_and_write_responses_one_at_a_time() {
    // 200 µs of a network thread per request and per response: one thread per broker carries
    // at most 2,500 requests a second, three carry more.
    let cost = "network_cpu_ns = 200000";
    let threads = |n: u32| format!("config = {{ \"num.network.threads\" = {n} }}");
    let (one, _) = three_producers(&threads(1), cost);
    let (two, _) = three_producers(&threads(2), cost);
    let (three, _) = three_producers(&threads(3), cost);
    // Connections are dealt to the threads in turn, so a second thread relieves the first.
    assert!(
        two * 4 > one * 5,
        "2 threads: {two} records, 1 thread: {one}"
    );
    assert!(
        three * 2 > one * 3,
        "3 threads: {three} records, 1 thread: {one}"
    );
}

#[test]
fn a_consumer_s_poll_pays_for_its_records_and_that_bounds_its_rate() {
    // 1 ms of poll() per record (consumer_ns_per_record), no processing time: the consumer
    // returns at most 1,000 records a second, behind a producer sending 3,000.
    let text = |per_record_ns: u64| {
        format!(
            r#"
seed = 2
duration_ms = 6000
[cluster]
brokers = 1
config = {{ "offsets.topic.replication.factor" = 1 }}
[hardware]
consumer_ns_per_record = {per_record_ns}
[[topic]]
name = "t"
partitions = 1
[[producer]]
id = "p"
topic = "t"
rate_per_sec = 3000
[[consumer]]
id = "c"
topics = ["t"]
config = {{ "group.id" = "g", "auto.offset.reset" = "earliest" }}
"#
        )
    };
    let consumed = |per_record_ns: u64| {
        run_checked("poll-cost", &text(per_record_ns), None)
            .1
            .consumed
    };
    let (paying, free) = (consumed(1_000_000), consumed(1));
    // The group forms after group.initial.rebalance.delay.ms (3 s): about 3 s of reading.
    assert!(
        (2_500..=3_100).contains(&paying),
        "{paying} records at 1 ms each"
    );
    assert!(free > 15_000, "{free} records nearly free");
}
