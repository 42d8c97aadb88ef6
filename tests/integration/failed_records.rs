//! Failed records (issue #15): `on_failure` with retry topics, blocking retries and a dead
//! letter topic, skipping, and crashing on a poison record; each copy's headers and due time;
//! and the price of each choice (order against throughput), over 200 seeds under every
//! invariant (`FailedRecordNeverLost` among them).

use std::collections::BTreeSet;

use kplay_engine::consumer::failure::{self, due};
use kplay_engine::record::{Offset, Record, TopicPartition};
use kplay_engine::snapshot::{FailedRecords, GroupView, Report};
use kplay_engine::Sim;
use kplay_tests::{at_ms, par_map, run_checked, scenario_text, sweep_seeds, trace_lines};

const EXAMPLE: &str = "scenarios/retry-and-dlq.toml";

fn group<'a>(r: &'a Report, name: &str) -> &'a GroupView {
    let g = r.groups.iter().find(|g| g.group == name);
    g.unwrap_or_else(|| panic!("no group {name}"))
}

fn failed(r: &Report, group: &str) -> FailedRecords {
    let name = format!("group:{group}");
    let a = r.audiences.iter().find(|a| a.audience == name);
    a.map(|a| a.failed).unwrap_or_default()
}

fn header<'a>(r: &'a Record, key: &str) -> &'a str {
    let h = r.headers.iter().find(|h| &*h.key == key);
    let v = h.and_then(|h| h.value.as_deref());
    v.map_or("", |v| std::str::from_utf8(v).expect("text"))
}

/// Every record of `topic` (all its partitions), with its partition and offset.
fn records(sim: &Sim, topic: &str) -> Vec<(u32, Offset, Record)> {
    let partitions = sim.metadata().topics[topic].partitions.len() as u32;
    (0..partitions)
        .flat_map(|p| {
            let tp = TopicPartition::new(topic, p);
            sim.records_of(&tp).into_iter().map(move |(o, r)| (p, o, r))
        })
        .collect()
}

/// The orders of the poison customer: (partition, offset).
fn poison_orders(sim: &Sim) -> BTreeSet<(u32, u64)> {
    let poison = |r: &Record| r.key.as_deref() == Some(&b"key-7"[..]);
    let orders = records(sim, "orders").into_iter();
    orders
        .filter(|(_, _, r)| poison(r))
        .map(|(p, o, _)| (p, o.0))
        .collect()
}

/// The origins (partition, offset in `orders`) of the copies producer `by` wrote to `topic`.
fn origins(sim: &Sim, topic: &str, by: &str) -> BTreeSet<(u32, u64)> {
    let index = sim
        .producers()
        .find(|p| p.spec.name == by)
        .expect("producer")
        .index;
    let copies = records(sim, topic)
        .into_iter()
        .filter(|(_, _, r)| r.id.producer == index);
    copies
        .map(|(_, _, r)| {
            let p = header(&r, failure::ORIGINAL_PARTITION)
                .parse()
                .expect("partition");
            let o = header(&r, failure::ORIGINAL_OFFSET)
                .parse()
                .expect("offset");
            (p, o)
        })
        .collect()
}

/// The example's claims: retry topics keep up and reorder; blocking retries keep order and
/// fall behind; both dead-letter exactly the poison orders they reached; nothing is lost.
fn example_claims(sim: &Sim, r: &Report) -> Result<(), String> {
    let poison = poison_orders(sim);
    let (billing, ledger) = (failed(r, "billing"), failed(r, "ledger"));
    // Every poison order, and rarely an order whose three attempts all failed by chance.
    let in_dlt = origins(sim, "orders-dlt", "billing/orders-dlt");
    if !in_dlt.is_superset(&poison) || billing.dead_lettered != in_dlt.len() as u64 {
        return Err(format!(
            "billing dead-lettered {} ({} origins) of {} poison orders",
            billing.dead_lettered,
            in_dlt.len(),
            poison.len()
        ));
    }
    if group(r, "billing").lag != 0 || billing.reordered == 0 || billing.retried == 0 {
        return Err(format!(
            "billing: lag {}, {billing:?}",
            group(r, "billing").lag
        ));
    }
    let ledger_dlt = origins(sim, "orders-dlt", "ledger/orders-dlt");
    if ledger.reordered != 0
        || ledger.retried != 0
        || ledger_dlt.len() as u64 != ledger.dead_lettered
    {
        return Err(format!("ledger: {ledger:?}, dead letters {ledger_dlt:?}"));
    }
    if ledger.dead_lettered == 0 || group(r, "ledger").lag < 1_000 {
        return Err(format!(
            "ledger: lag {}, {ledger:?}",
            group(r, "ledger").lag
        ));
    }
    for g in ["billing", "ledger"] {
        if group(r, g).lost != Some(0) || group(r, g).duplicates != 0 {
            return Err(format!("{g}: lost {:?}", group(r, g).lost));
        }
    }
    Ok(())
}

#[test]
fn retry_topics_keep_up_and_reorder_while_blocking_retries_keep_order_and_fall_behind() {
    let text = scenario_text("retry-and-dlq.toml");
    let failures: Vec<String> = par_map(&sweep_seeds(200), |seed| {
        let (sim, r) = run_checked(EXAMPLE, &text, Some(seed));
        example_claims(&sim, &r)
            .err()
            .map(|why| format!("seed {seed}: {why}; replay: kplay run {EXAMPLE} --seed {seed}"))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_copy_names_its_origin_and_is_processed_no_earlier_than_its_due_time() {
    let (sim, _) = run_checked(EXAMPLE, &scenario_text("retry-and-dlq.toml"), Some(1));
    let orders = records(&sim, "orders");
    let original = |p: u32, o: u64| {
        let found = orders.iter().find(|(q, at, _)| *q == p && at.0 == o);
        found.map(|(_, _, r)| r).expect("the origin is in orders")
    };
    let copies = records(&sim, "orders-retry-0");
    assert!(!copies.is_empty(), "nothing was retried");
    for (partition, offset, copy) in &copies {
        assert_eq!(header(copy, failure::ORIGINAL_TOPIC), "orders");
        let p: u32 = header(copy, failure::ORIGINAL_PARTITION).parse().unwrap();
        let o: u64 = header(copy, failure::ORIGINAL_OFFSET).parse().unwrap();
        // Spring's default: the original's partition, so a key's copies stay together.
        assert_eq!(p, *partition);
        let origin = original(p, o);
        assert_eq!((&copy.key, &copy.value), (&origin.key, &origin.value));
        assert_eq!(header(copy, failure::ATTEMPTS), "2");
        let error = header(copy, failure::EXCEPTION_MESSAGE);
        let poison = origin.key.as_deref() == Some(&b"key-7"[..]);
        assert_eq!(error == failure::POISON_MESSAGE, poison, "{error}");
        // Written when its first attempt failed; due 1 s (the first backoff) after that.
        let due_ms = due(copy).expect("a due time").as_millis();
        let written = copy.timestamp_ms as u64;
        assert!(
            written < due_ms && due_ms <= written + 1_001,
            "{written} {due_ms}"
        );
        // Whoever polled it did so once it was due.
        let polled = trace_lines(&sim, &format!("polled orders-retry-0-{partition} "));
        let when = polled.iter().find(|l| {
            let (first, last) = polled_range(l);
            first <= offset.0 && offset.0 <= last
        });
        let when = when.unwrap_or_else(|| panic!("copy {partition}:{offset} never polled"));
        assert!(at_ms(when) >= due_ms, "{when} before its due time {due_ms}");
    }
    // The second retry is due 5 s after its failure.
    for (_, _, copy) in records(&sim, "orders-retry-1") {
        assert_eq!(header(&copy, failure::ATTEMPTS), "3");
        let due_ms = due(&copy).expect("a due time").as_millis();
        assert!(due_ms <= copy.timestamp_ms as u64 + 5_001);
        assert!(due_ms > copy.timestamp_ms as u64 + 4_000);
    }
}

/// The offsets a `polled` trace line names: "offset 7" or "offsets 7 to 9".
fn polled_range(line: &str) -> (u64, u64) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = words.len();
    let last: u64 = words[n - 1].parse().expect("last");
    let first = if words[n - 2] == "to" {
        words[n - 3].parse().expect("first")
    } else {
        last
    };
    (first, last)
}

/// The example's cluster, topic and orders, with one group `billing` handling failures as
/// `handling` says, for `duration_ms`.
fn billing_alone(handling: &str, duration_ms: u64, seed: u64) -> (Sim, Report) {
    let text = scenario_text("retry-and-dlq.toml");
    let head = &text[..text.find("[[consumer]]").expect("consumers")];
    let text = format!(
        "{head}[[consumer]]
id = \"billing\"
topics = [\"orders\"]
processing_ms_per_record = 2
commit = \"sync-after\"
poison_keys = [\"key-7\"]
{handling}
config = {{ \"group.id\" = \"billing\", \"auto.offset.reset\" = \"earliest\", \
  \"session.timeout.ms\" = 6000, \"heartbeat.interval.ms\" = 2000 }}
"
    )
    .replace(
        "duration_ms = 60000",
        &format!("duration_ms = {duration_ms}"),
    );
    run_checked(EXAMPLE, &text, Some(seed))
}

#[test]
fn skip_drops_each_poison_record_after_its_retries_and_publishes_nothing() {
    let handling = "on_failure = \"skip\"\nretry.attempts = 2\nretry.backoff_ms = 10";
    let (sim, r) = billing_alone(handling, 60_000, 2);
    let f = failed(&r, "billing");
    let poison = poison_orders(&sim);
    assert_eq!(f.skipped, poison.len() as u64, "{f:?}");
    assert_eq!((f.retried, f.dead_lettered, f.reordered), (0, 0, 0));
    assert_eq!(group(&r, "billing").lag, 0);
    assert!(sim
        .producers()
        .all(|p| !p.spec.name.starts_with("billing/")));
    assert!(!sim.metadata().topics.contains_key("orders-retry-0"));
    assert!(!sim.metadata().topics.contains_key("orders-dlt"));
}

#[test]
fn crashing_on_a_poison_record_stalls_its_partition_for_ever() {
    // The default: the exception kills the process; its supervisor starts it again, it
    // rejoins, reads from the committed offset, and meets the same record.
    let (sim, r) = billing_alone("", 120_000, 3);
    let crashes = trace_lines(&sim, "crashed (").len();
    assert!(
        crashes >= 5,
        "the consumer crashed {crashes} times, not again and again"
    );
    // The committed offset of the poison's partition never passes its first poison order.
    let first = poison_orders(&sim)
        .into_iter()
        .next()
        .expect("a poison order");
    let g = group(&r, "billing");
    let p = g
        .partitions
        .iter()
        .find(|p| p.partition == first.0 && p.topic == "orders");
    let committed = p.and_then(|p| p.committed).unwrap_or(0);
    assert!(
        committed <= first.1,
        "committed {committed} past poison {first:?}"
    );
    assert!(g.lag > 100, "lag {}", g.lag);
    assert!(!sim.metadata().topics.contains_key("orders-dlt"));
}

#[test]
fn a_copy_that_cannot_be_written_makes_the_consumer_throw_and_nothing_is_committed_past_it() {
    // orders-dlt needs all 3 replicas in sync, and broker 2 is down from 1 s to 170 s: every
    // copy is refused (NOT_ENOUGH_REPLICAS) until its delivery.timeout.ms (120 s) passes.
    // The recoverer's send fails, so the consumer throws without committing, and processes
    // those orders again once it is back; after the broker's return the copies land.
    let text = r#"
seed = 1
duration_ms = 240000
[cluster]
brokers = 3
[[topic]]
name = "orders"
partitions = 3
replication_factor = 3
[[topic]]
name = "orders-dlt"
partitions = 3
replication_factor = 3
config = { "min.insync.replicas" = 3 }
[[producer]]
id = "shop"
topic = "orders"
rate_per_sec = 50
records = 500
keys = "pool:50"
[[consumer]]
id = "billing"
topics = ["orders"]
processing_ms_per_record = 2
commit = "sync-after"
poison_keys = ["key-7"]
on_failure = "dlq"
retry.attempts = 1
config = { "group.id" = "billing", "auto.offset.reset" = "earliest" }
[[event]]
at_ms = 1000
action = "crash_broker"
broker = 2
[[event]]
at_ms = 170000
action = "restart_broker"
broker = 2
"#;
    let (sim, r) = run_checked("dlt-unwritable", text, Some(1));
    let crashes = trace_lines(&sim, "crashed (");
    assert!(!crashes.is_empty(), "the consumer never threw");
    assert!(at_ms(&crashes[0]) >= 120_000, "{}", crashes[0]);
    let g = group(&r, "billing");
    assert!(g.duplicates > 0, "the poll is processed again");
    assert_eq!((g.lag, g.lost), (0, Some(0)));
    let poison = poison_orders(&sim);
    assert_eq!(origins(&sim, "orders-dlt", "billing/orders-dlt"), poison);
    assert_eq!(
        failed(&r, "billing").reordered,
        0,
        "processed again is not reordered"
    );
}

#[test]
fn an_at_least_once_processor_sets_failed_inputs_aside_and_writes_every_other_output() {
    // A processor with retry topics: every input but the dead-lettered ones has its output (a
    // transient failure is retried through the retry topics); each poison input is in the
    // dead letter topic, and has no output.
    let text = scenario_text("retry-and-dlq.toml");
    let head = &text[..text.find("[[consumer]]").expect("consumers")];
    let text = format!(
        "{head}[[topic]]
name = \"orders-enriched\"
partitions = 3
replication_factor = 3
[[processor]]
id = \"enricher\"
inputs = [\"orders\"]
output = \"orders-enriched\"
processing_ms_per_record = 2
failure_rate = 0.02
poison_keys = [\"key-7\"]
on_failure = \"retry-topics\"
retry.backoff_ms = [500, 2000]
consumer_config = {{ \"auto.offset.reset\" = \"earliest\" }}
"
    );
    let (sim, r) = run_checked(EXAMPLE, &text, Some(4));
    let poison = poison_orders(&sim);
    let dead = origins(&sim, "orders-dlt", "enricher/orders-dlt");
    assert!(
        poison.is_subset(&dead),
        "every poison order is dead-lettered"
    );
    // Besides, a transient failure may fail all three attempts (2% each): such an order went
    // through both retry topics first.
    let last_retry = origins(&sim, "orders-retry-1", "enricher/orders-retry-1");
    let unlucky: BTreeSet<_> = dead.difference(&poison).copied().collect();
    assert!(
        unlucky.is_subset(&last_retry),
        "{unlucky:?} skipped a retry"
    );
    let outputs = records(&sim, "orders-enriched");
    let sources: BTreeSet<(u32, u64)> = outputs
        .iter()
        .map(|(_, _, out)| sim.ledger().source(out.id).expect("an output has an input"))
        .map(|(tp, offset)| {
            let origin = (tp.topic.as_ref() == "orders").then_some((tp.partition, offset.0));
            // An output of a retry topic's copy: its input named its origin.
            origin.unwrap_or_else(|| {
                let copy = records(&sim, &tp.topic).into_iter();
                let copy = copy
                    .filter(|(p, o, _)| *p == tp.partition && o == offset)
                    .last();
                let (_, _, c) = copy.expect("the copy is in its retry topic");
                let p = header(&c, failure::ORIGINAL_PARTITION).parse().unwrap();
                (p, header(&c, failure::ORIGINAL_OFFSET).parse().unwrap())
            })
        })
        .collect();
    let orders: BTreeSet<(u32, u64)> = records(&sim, "orders")
        .iter()
        .map(|(p, o, _)| (*p, o.0))
        .collect();
    let wanted: BTreeSet<_> = orders.difference(&dead).copied().collect();
    assert_eq!(
        sources, wanted,
        "every input but the dead-lettered ones has an output"
    );
    assert!(failed(&r, "enricher").retried > 0);
    assert_eq!(group(&r, "enricher").lag, 0);
}

#[test]
fn a_hand_made_record_in_a_retry_topic_with_bad_headers_is_routed_by_where_it_was_read() {
    // Anyone may write to a retry topic: headers claiming attempt 0 and an origin that does
    // not exist must neither panic nor strand the consumer; its copies follow the topic it
    // was read from.
    let text = r#"
seed = 1
duration_ms = 20000
[cluster]
brokers = 3
[[topic]]
name = "orders"
partitions = 1
[[topic]]
name = "orders-retry-0"
partitions = 1
[[producer]]
id = "intruder"
topic = "orders-retry-0"
rate_per_sec = 0
[[consumer]]
id = "billing"
topics = ["orders"]
commit = "sync-after"
poison_keys = ["key-7"]
on_failure = "retry-topics"
config = { "group.id" = "billing", "auto.offset.reset" = "earliest" }
[[event]]
at_ms = 5000
action = "produce"
producer = "intruder"
key = "key-7"
[event.headers]
"retry_topic-attempts" = "0"
"kafka_dlt-original-topic" = "nowhere"
"kafka_dlt-original-partition" = "9"
"#;
    let (sim, r) = run_checked("hand-made-copy", text, Some(1));
    assert_eq!(group(&r, "billing").lag, 0, "the consumer is not stranded");
    // Attempt 0 counts as the first: it goes on to orders-retry-1, then orders-dlt.
    assert_eq!(records(&sim, "orders-retry-1").len(), 1);
    assert_eq!(records(&sim, "orders-dlt").len(), 1);
    assert_eq!(failed(&r, "billing").dead_lettered, 1);
}
