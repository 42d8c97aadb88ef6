//! Nothing silently does nothing (issue #11, part 4): a client naming a topic the cluster does
//! not have gets what Kafka gives it (auto-creation, or a blocked `send()` that times out, or a
//! consumer that waits and says so), settings whose effect is not modelled are refused unless
//! they keep their default, and a timeline event refused when its time comes is reported.

use kplay_engine::snapshot::Report;
use kplay_engine::Sim;
use kplay_scenario::Scenario;
use kplay_tests::{run_checked, trace_lines};

/// Three brokers with the given broker config, no topics, and the given clients.
fn cluster(broker_config: &str, clients: &str, duration_ms: u64) -> String {
    format!(
        r#"seed = 3
duration_ms = {duration_ms}

[cluster]
brokers = 3
config = {{ {broker_config} }}
{clients}
"#
    )
}

const PRODUCER: &str = r#"
[[producer]]
id = "shop"
topic = "orders"
rate_per_sec = 100
"#;

fn consumer(config: &str) -> String {
    format!(
        r#"
[[consumer]]
id = "billing"
topics = ["orders"]
config = {{ "auto.offset.reset" = "earliest"{config} }}
"#
    )
}

fn run(text: &str) -> (Sim, Report) {
    run_checked("missing-topic.toml", text, None)
}

fn partitions_of<'a>(
    r: &'a Report,
    topic: &str,
) -> Vec<&'a kplay_engine::snapshot::PartitionReport> {
    r.partitions.iter().filter(|p| p.topic == topic).collect()
}

#[test]
fn a_producer_auto_creates_its_topic_with_the_broker_defaults() {
    let config = r#""num.partitions" = 3, "default.replication.factor" = 2"#;
    let (sim, r) = run(&cluster(
        config,
        &(PRODUCER.to_string() + &consumer("")),
        10_000,
    ));
    let created = trace_lines(&sim, "auto-created");
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        created[0].contains("3 partitions (num.partitions), replication factor 2"),
        "{created:?}"
    );
    let parts = partitions_of(&r, "orders");
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.isr.len() == 2), "{parts:?}");
    assert!(r.acked >= 950, "acked {} of {}", r.acked, r.produced);
    assert_eq!(r.failed, 0);
    assert_eq!(r.consumed, r.acked, "the consumer reads the created topic");
    assert!(r.waiting_for_topics.is_empty());
}

#[test]
fn without_auto_creation_send_blocks_for_max_block_ms_and_fails() {
    let text = cluster(
        r#""auto.create.topics.enable" = false"#,
        &(PRODUCER.to_string() + &consumer("")),
        130_000,
    );
    let (sim, r) = run(&text);
    assert!(trace_lines(&sim, "auto-created").is_empty());
    let timeouts = trace_lines(&sim, "not present in metadata after max.block.ms");
    // The application thread is blocked in send() for 60 s each time: two sends fail in 130 s.
    assert_eq!(timeouts.len(), 2, "{timeouts:?}");
    assert!(timeouts[0].starts_with("60."), "{timeouts:?}");
    assert_eq!(r.acked, 0);
    assert_eq!(r.failed, 2);
    assert!(
        r.failures
            .iter()
            .any(|(e, n)| e.name() == "METADATA_TIMEOUT" && *n == 2),
        "{:?}",
        r.failures
    );
    assert_eq!(
        r.waiting_for_topics,
        vec![("billing".to_string(), "orders".to_string())]
    );
    let said = trace_lines(
        &sim,
        "topic orders not present in metadata (waiting for it)",
    );
    assert_eq!(said.len(), 1, "said once, not on every refresh: {said:?}");
}

#[test]
fn max_block_ms_sets_how_long_send_blocks() {
    let producer = PRODUCER.to_string() + "config = { \"max.block.ms\" = 5000 }\n";
    let text = cluster(r#""auto.create.topics.enable" = false"#, &producer, 21_000);
    let (sim, r) = run(&text);
    let timeouts = trace_lines(&sim, "not present in metadata after max.block.ms");
    assert_eq!(timeouts.len(), 4, "{timeouts:?}");
    assert_eq!(r.failed, 4);
}

#[test]
fn a_consumer_creates_its_topic_unless_it_may_not() {
    let (sim, r) = run(&cluster("", &consumer(""), 5_000));
    assert_eq!(trace_lines(&sim, "auto-created").len(), 1);
    assert_eq!(
        partitions_of(&r, "orders").len(),
        1,
        "num.partitions is 1 by default"
    );
    assert!(r.waiting_for_topics.is_empty());

    let text = cluster(
        "",
        &consumer(r#", "allow.auto.create.topics" = false"#),
        5_000,
    );
    let (sim, r) = run(&text);
    assert!(trace_lines(&sim, "auto-created").is_empty());
    assert!(partitions_of(&r, "orders").is_empty());
    assert_eq!(r.waiting_for_topics.len(), 1);
}

#[test]
fn a_consumer_waiting_for_a_topic_reads_it_once_a_producer_creates_it() {
    let producer = PRODUCER.to_string() + "start_ms = 20000\n";
    let text = cluster(
        "",
        &(consumer(r#", "allow.auto.create.topics" = false"#) + &producer),
        30_000,
    );
    let (_, r) = run(&text);
    assert!(r.acked > 900, "acked {}", r.acked);
    assert_eq!(
        r.consumed, r.acked,
        "found by the periodic metadata refresh"
    );
}

#[test]
fn unmodelled_settings_are_refused_unless_they_keep_their_default() {
    let refused = [(
        "[cluster]\nconfig = { \"log.flush.interval.messages\" = 1 }",
        "log.flush.interval.messages",
    )];
    for (text, field) in refused {
        match Scenario::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => {
                let said = e.to_string();
                assert!(said.contains(field), "{said}");
                assert!(said.contains("not simulated"), "{said}");
            }
        }
    }
    // Compression and network threads are simulated since issue 16: any value is accepted.
    let defaults = [
        "[cluster]\nconfig = { \"num.io.threads\" = 8, \"num.network.threads\" = 6 }",
        "[cluster]\nconfig = { \"queued.max.requests\" = 10 }",
        "[cluster]\nconfig = { \"log.flush.interval.messages\" = 9223372036854775807 }",
        "[[topic]]\nname = \"t\"\nconfig = { \"compression.type\" = \"zstd\" }",
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nconfig = { \"compression.type\" = \"lz4\" }",
        "[[topic]]\nname = \"t\"\nconfig = { \"compression.type\" = \"producer\" }",
        "[[topic]]\nname = \"t\"\n[[producer]]\nid = \"p\"\ntopic = \"t\"\nconfig = { \"compression.type\" = \"none\" }",
    ];
    for text in defaults {
        if let Err(e) = Scenario::parse(text) {
            panic!("refused a default:\n{text}\n{e}");
        }
    }
}

#[test]
fn a_timeline_event_refused_when_its_time_comes_is_reported() {
    // The producer auto-creates `orders` at once; creating it again at 5 s cannot work, and
    // only the run can know that.
    let events = r#"
[[event]]
at_ms = 5000
action = "create_topic"
topic = "orders"
partitions = 6
"#;
    let text = cluster("", &(PRODUCER.to_string() + events), 8_000);
    let (_, r) = run(&text);
    assert_eq!(r.refused_count, 1);
    let (at, why) = &r.refused[0];
    assert_eq!(at.as_millis(), 5000);
    assert!(why.contains("already exists"), "{why}");
}

#[test]
fn client_id_names_the_group_member() {
    let text = cluster(
        "",
        &(PRODUCER.to_string() + &consumer(r#", "group.id" = "g", "client.id" = "invoicer""#)),
        8_000,
    );
    let (_, r) = run(&text);
    let g = r.groups.iter().find(|g| g.group == "g").expect("group g");
    assert_eq!(g.members.len(), 1);
    assert!(
        g.members[0].member_id.starts_with("invoicer-"),
        "{:?}",
        g.members[0].member_id
    );
}
