//! Malformed and impossible scenarios are refused with the field (and line) at fault.

use kplay_scenario::Scenario;

/// (scenario text, field the error must name, line it must point at).
const CASES: &[(&str, &str, Option<usize>)] = &[
    ("seed = \"x\"", "", Some(1)),
    ("bogus = 1", "", Some(1)),
    ("duration_ms = 0", "duration_ms", Some(1)),
    ("duration_ms = -5", "duration_ms", Some(1)),
    ("[cluster]\nbrokers = 0", "cluster.brokers", Some(2)),
    ("[cluster]\nbrokers = 100000", "cluster.brokers", Some(2)),
    ("[cluster]\nbrokers = 3\nconfig = { \"min.insync.replicas\" = 0 }", "cluster.config.min.insync.replicas", None),
    ("[[topic]]\nname = \"t\"\npartitions = 0", "topic.partitions", Some(3)),
    ("[[topic]]\nname = \"t\"\npartitions = -1", "topic.partitions", Some(3)),
    ("[[topic]]\nname = \"bad name\"", "topic.name", Some(1)),
    ("[cluster]\nbrokers = 2\n[[topic]]\nname = \"t\"\nreplication_factor = 3", "topic.replication_factor", Some(3)),
    ("[[topic]]\nname = \"t\"\nconfig = { \"min.insync.replicas\" = 2 }", "topic.min.insync.replicas", Some(1)),
    ("[[topic]]\nname = \"t\"\nconfig = { \"retention.mss\" = 2 }", "topic.config.retention.mss", Some(1)),
    ("[[topic]]\nname = \"t\"\n[[topic]]\nname = \"t\"", "topic.name", Some(3)),
    ("[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = -3", "producer.rate_per_sec", Some(6)),
    ("[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nkeys = \"pool:0\"", "producer.keys", Some(6)),
    ("[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nkeys = \"some\"", "producer.keys", Some(6)),
    (
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nconfig = { acks = \"2\" }",
        "producer.config.acks",
        Some(3),
    ),
    (
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nconfig = { acks = \"1\", \"enable.idempotence\" = true }",
        "producer.enable.idempotence",
        Some(3),
    ),
    (
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nconfig = { \"linger.ms\" = 1.5 }",
        "producer.config.linger.ms",
        Some(6),
    ),
    ("[[consumer]]\nid = \"c\"\ntopics = []", "consumer.topics", Some(1)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\nprocessing_ms_per_record = -1", "consumer.processing_ms_per_record", Some(4)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"retry\"", "consumer.on_failure", Some(4)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\nretry.attempts = 3", "consumer.retry", Some(1)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"skip\"\nretry.attempts = 0", "consumer.retry.attempts", Some(5)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"skip\"\nretry.attempts = 11", "consumer.retry.attempts", Some(5)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"dlq\"\nretry.backoff_ms = [10, -1]", "consumer.retry.backoff_ms", Some(5)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"dlq\"\nretry.backoff_ms = []", "consumer.retry.backoff_ms", Some(1)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\non_failure = \"dlq\"\nretry.tries = 2", "consumer.retry", Some(5)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\npoison_keys = \"k\"", "consumer.poison_keys", Some(4)),
    ("[[topic]]\nname = \"t\"\n[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\ncommit = \"sync-before\"\non_failure = \"retry-topics\"", "on_failure", Some(3)),
    ("[[consumer]]\nid = \"c\"\ntopics = [\"ghost\"]\non_failure = \"dlq\"", "on_failure", Some(1)),
    ("[[topic]]\nname = \"t\"\n[[processor]]\nid = \"p\"\ninputs = [\"t\"]\noutput = \"o\"\nguarantee = \"exactly-once\"\non_failure = \"dlq\"", "on_failure", None),
    ("[[topic]]\nname = \"t-dlt\"\n[[consumer]]\nid = \"c\"\ntopics = [\"t-dlt\"]\non_failure = \"dlq\"", "on_failure", None),
    ("[cluster]\nhardware = \"fast\"", "cluster.hardware", Some(2)),
    ("[cluster]\nhardware = 3", "cluster.hardware", Some(2)),
    ("[hardware]\ndisk = 5", "hardware.disk", Some(2)),
    ("[hardware]\ndisk_bytes_per_sec = -1", "hardware.disk_bytes_per_sec", Some(2)),
    ("[hardware]\nrequest_cpu_ns = \"fast\"", "hardware.request_cpu_ns", Some(2)),
    ("[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = \"max\"", "rate_per_sec", None),
    ("[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = \"fast\"", "producer.rate_per_sec", Some(6)),
    ("[cluster]\nbrokers = 3\nconfig = { \"num.io.threads\" = 0 }", "cluster.config.num.io.threads", None),
    ("[[event]]\nat_ms = 5\naction = \"explode\"", "event.action", Some(3)),
    ("[[event]]\nat_ms = 5\naction = \"crash_broker\"", "event.broker", Some(1)),
    ("[[event]]\nat_ms = 5\naction = \"crash_broker\"\nbroker = 7", "event.broker", Some(1)),
    ("[[event]]\nat_ms = 5\naction = \"crash_broker\"\nbroker = 0\nproducer = \"x\"", "event.producer", Some(1)),
    ("[[event]]\nat_ms = 5\naction = \"restart_broker\"\nbroker = 0", "event.broker", Some(1)),
    ("[[event]]\nat_ms = 5\naction = \"stop_producer\"\nproducer = \"ghost\"", "event.producer", Some(1)),
    ("[[event]]\nat_ms = -1\naction = \"crash_broker\"\nbroker = 0", "event.at_ms", Some(2)),
];

#[test]
fn every_bad_case_names_its_field_and_line() {
    for (text, field, line) in CASES {
        let e = match Scenario::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        };
        assert!(
            e.field.contains(field),
            "{text:?}\nwanted field {field:?}, got {e}"
        );
        if field.is_empty() {
            assert!(!e.message.is_empty(), "{text:?}");
        }
        if let Some(line) = line {
            assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        }
    }
}

#[test]
fn unknown_keys_are_named() {
    let e = Scenario::parse("[cluster]\nbrokerz = 3").unwrap_err();
    assert!(e.message.contains("brokerz"), "{e}");
    assert_eq!(e.line, Some(2));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let text = "#".repeat(kplay_scenario::MAX_SCENARIO_BYTES + 1);
    let e = Scenario::parse(&text).unwrap_err();
    assert!(e.message.contains("limit"), "{e}");
}

#[test]
fn impossible_group_settings_are_refused_with_the_field() {
    use kplay_scenario::Scenario;
    let base = |consumer_config: &str, brokers: u32| {
        format!(
            "[cluster]\nbrokers = {brokers}\n\n[[topic]]\nname = \"t\"\npartitions = 2\n\n[[consumer]]\nid = \"c\"\ntopics = [\"t\"]\nconfig = {{ {consumer_config} }}\n"
        )
    };
    for (config, brokers, field) in [
        (r#""group.id" = """#, 3, "group.id"),
        (
            r#""group.id" = "g", "group.instance.id" = """#,
            3,
            "group.instance.id",
        ),
        (r#""group.instance.id" = "x""#, 3, "group.instance.id"),
        (
            r#""group.id" = "g", "heartbeat.interval.ms" = 50000"#,
            3,
            "heartbeat.interval.ms",
        ),
        (
            r#""group.id" = "g", "group.protocol" = "consumer""#,
            3,
            "group.protocol",
        ),
        (
            r#""group.id" = "g", "partition.assignment.strategy" = ["fancy"]"#,
            3,
            "partition.assignment.strategy",
        ),
        // Kafka cannot create __consumer_offsets with RF 3 on one broker.
        (r#""group.id" = "g""#, 1, "offsets.topic.replication.factor"),
    ] {
        let text = base(config, brokers);
        let err = Scenario::parse(&text)
            .and_then(|s| s.build(None).map(|_| ()))
            .expect_err(config);
        assert!(err.to_string().contains(field), "{config}: {err}");
    }
}
