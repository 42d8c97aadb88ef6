//! End-to-end throughput: producer → log → consumer on 3 brokers and a 12-partition topic with
//! 100-byte records, against pushing the same records into a plain `Vec` in the same run.
//! The machine is shared and noisy, so the figure that matters is the ratio; each side takes
//! the best of several rounds. Run with `cargo bench -p kplay-engine`.
#![allow(clippy::disallowed_methods)] // Wall-clock timing is the point of a benchmark.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant as WallClock;

use kplay_engine::config::{ConfigValue, Configs, Scope};
use kplay_engine::consumer::ConsumerSpec;
use kplay_engine::net::NetworkConfig;
use kplay_engine::producer::{KeyMode, ProducerSpec};
use kplay_engine::record::{Record, RecordId};
use kplay_engine::{ClusterSetup, Command, Duration, Instant, Sim};

const RECORDS: u64 = 2_000_000;
const RATE: u64 = 1_000_000;
const ROUNDS: usize = 5;

fn configs(scope: Scope, pairs: &[(&str, ConfigValue)]) -> Configs {
    let pairs: Vec<(String, ConfigValue)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Configs::parse(scope, &pairs).expect("valid")
}

/// One full run; returns the records consumed (all of them, or the run is wrong).
fn simulate(acks: &str, replication_factor: u32) -> u64 {
    run(acks, replication_factor, false)
}

/// A transactional producer committing every 100 records, read by a read_committed consumer.
fn transactional() -> u64 {
    run("all", 3, true)
}

fn run(acks: &str, replication_factor: u32, transactional: bool) -> u64 {
    let setup = ClusterSetup {
        brokers: 3,
        configs: Configs::new(Scope::Broker),
        network: NetworkConfig::lan(),
        hardware: kplay_engine::hardware::Hardware::ideal(),
        trace_capacity: 0,
    };
    let mut sim = Sim::new(setup, 7).expect("setup");
    let topic = Command::CreateTopic {
        name: "bench".into(),
        partitions: 12,
        replication_factor,
        configs: configs(
            Scope::Topic,
            &[(
                "min.insync.replicas",
                ConfigValue::Int(replication_factor.min(2) as i64),
            )],
        ),
    };
    sim.apply(topic).expect("topic");
    let producer = ProducerSpec {
        processor: None,
        name: "p".into(),
        topic: "bench".into(),
        rate_per_sec: RATE,
        max_records: Some(RECORDS),
        keys: KeyMode::Pool(1000),
        value_bytes: 100,
        values: Default::default(),
        records_per_transaction: 100,
        abort_ppm: 0,
        configs: configs(Scope::Producer, &producer_configs(acks, transactional)),
    };
    sim.apply(Command::AddProducer(producer)).expect("producer");
    let consumer = ConsumerSpec {
        processor: None,
        name: "c".into(),
        topics: vec!["bench".into()],
        processing_per_record: Duration::ZERO,
        commit: Default::default(),
        failures: Default::default(),
        configs: configs(
            Scope::Consumer,
            &[
                ("auto.offset.reset", ConfigValue::Str("earliest".into())),
                (
                    "isolation.level",
                    ConfigValue::Str(isolation(transactional).into()),
                ),
            ],
        ),
    };
    sim.apply(Command::AddConsumer(consumer)).expect("consumer");
    let end = Instant::from_millis(RECORDS * 1000 / RATE + 2_000);
    sim.run_until(end);
    let report = sim.report();
    if !transactional {
        assert_eq!(report.acked, RECORDS, "every record acknowledged");
        assert_eq!(report.consumed, RECORDS, "every record consumed");
    }
    // A transactional producer blocks in commitTransaction() every 100 records: it sends
    // what the commits leave it time for (its throughput in virtual time is the point).
    report.consumed
}

fn producer_configs(acks: &str, transactional: bool) -> Vec<(&'static str, ConfigValue)> {
    let mut c = vec![("acks", ConfigValue::Str(acks.into()))];
    if transactional {
        c.push(("transactional.id", ConfigValue::Str("bench-tx".into())));
    }
    c
}

fn isolation(transactional: bool) -> &'static str {
    match transactional {
        true => "read_committed",
        false => "read_uncommitted",
    }
}

/// The baseline: the same records, built the same way, pushed into a `Vec`.
fn baseline() -> u64 {
    let value: Arc<[u8]> = (0..100u8).collect::<Vec<u8>>().into();
    let keys: Vec<Arc<[u8]>> = (0..1000)
        .map(|i| format!("key-{i}").into_bytes().into())
        .collect();
    let mut v = Vec::new();
    for seq in 0..RECORDS {
        v.push(Record {
            timestamp_ms: seq as i64,
            key: Some(keys[(seq % 1000) as usize].clone()),
            value: Some(value.clone()),
            headers: kplay_engine::record::Headers::default(),
            id: RecordId { producer: 0, seq },
        });
    }
    black_box(&v);
    v.len() as u64
}

fn best_rate(f: impl Fn() -> u64) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..ROUNDS {
        let start = WallClock::now();
        let n = black_box(f());
        let secs = start.elapsed().as_secs_f64();
        best = best.max(n as f64 / secs);
    }
    best
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("throughput: skipped (run `cargo bench -p kplay-engine`)");
        return;
    }
    let vec_rate = best_rate(baseline);
    let acks1 = best_rate(|| simulate("1", 1));
    let acks_all = best_rate(|| simulate("all", 1));
    let replicated = best_rate(|| simulate("all", 3));
    let txn = best_rate(transactional);
    println!("kplay end-to-end throughput, 3 brokers, 12 partitions, 100-byte values, {RECORDS} records, best of {ROUNDS}");
    println!("  Vec<Record> push baseline   {:>12.0} records/s", vec_rate);
    println!(
        "  simulated, acks=1, RF=1     {:>12.0} records/s  ({:.4} of baseline)",
        acks1,
        acks1 / vec_rate
    );
    println!(
        "  simulated, acks=all, RF=1   {:>12.0} records/s  ({:.4} of baseline)",
        acks_all,
        acks_all / vec_rate
    );
    println!(
        "  simulated, acks=all, RF=3   {:>12.0} records/s  ({:.4} of baseline)",
        replicated,
        replicated / vec_rate
    );
    println!(
        "  transactional (commit every 100), RF=3 {:>12.0} records/s  ({:.4} of baseline)",
        txn,
        txn / vec_rate
    );
    println!(
        "  acks=all RF=3 / acks=1 RF=1 = {:.2} (Kafka's own figure: 0.51; target at least 0.6)",
        replicated / acks1
    );
    println!(
        "  transactional / idempotent (both acks=all RF=3), wall-clock cost per record = {:.2}",
        txn / replicated
    );
    let window_ms = RECORDS * 1000 / RATE + 2_000;
    let delivered = transactional();
    println!(
        "  in the same {window_ms} ms of virtual time at {RATE} records/s offered: idempotent \
         delivers {RECORDS}, transactional (commit every 100) {delivered}: {:.4} of it",
        delivered as f64 / RECORDS as f64
    );
}
