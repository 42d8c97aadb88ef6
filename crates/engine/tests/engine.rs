//! Engine-level scenario tests: whole runs driven through `Sim` commands.

use kplay_engine::config::{ConfigValue, Configs, Scope};
use kplay_engine::consumer::ConsumerSpec;
use kplay_engine::net::NetworkConfig;
use kplay_engine::producer::{KeyMode, ProducerSpec};
use kplay_engine::{ClusterSetup, Command, Duration, Instant, Sim};

/// The one helper for this boundary: a cluster with one topic, one producer, one consumer.
struct Run {
    sim: Sim,
}

fn configs(scope: Scope, pairs: &[(&str, ConfigValue)]) -> Configs {
    let pairs: Vec<(String, ConfigValue)> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Configs::parse(scope, &pairs).expect("valid test configs")
}

impl Run {
    fn new(seed: u64, brokers: u32, partitions: u32) -> Run {
        let setup = ClusterSetup {
            brokers,
            configs: Configs::new(Scope::Broker),
            network: NetworkConfig::lan(),
            trace_capacity: 1000,
        };
        let mut sim = Sim::new(setup, seed).expect("valid setup");
        sim.apply(Command::CreateTopic {
            name: "orders".into(),
            partitions,
            replication_factor: 1,
            configs: Configs::new(Scope::Topic),
        })
        .expect("topic");
        Run { sim }
    }

    fn producer(&mut self, name: &str, rate: u64, records: u64, keys: KeyMode, cfg: &[(&str, ConfigValue)]) {
        let spec = ProducerSpec {
            name: name.into(),
            topic: "orders".into(),
            rate_per_sec: rate,
            max_records: Some(records),
            keys,
            value_bytes: 100,
            configs: configs(Scope::Producer, cfg),
        };
        self.sim.apply(Command::AddProducer(spec)).expect("producer");
    }

    fn consumer(&mut self, name: &str, per_record_us: u64, cfg: &[(&str, ConfigValue)]) {
        let spec = ConsumerSpec {
            name: name.into(),
            topics: vec!["orders".into()],
            processing_per_record: Duration(per_record_us),
            configs: configs(Scope::Consumer, cfg),
        };
        self.sim.apply(Command::AddConsumer(spec)).expect("consumer");
    }

    fn run_ms(&mut self, ms: u64) {
        self.sim.run_until(Instant::from_millis(ms));
    }
}

fn earliest() -> (&'static str, ConfigValue) {
    ("auto.offset.reset", ConfigValue::Str("earliest".into()))
}

#[test]
fn every_record_is_acked_and_consumed_once() {
    let mut run = Run::new(1, 3, 6);
    run.producer("p", 1000, 5000, KeyMode::Pool(50), &[]);
    run.consumer("c", 0, &[earliest()]);
    run.run_ms(10_000);
    let r = run.sim.report();
    assert_eq!((r.produced, r.acked, r.failed), (5000, 5000, 0));
    assert_eq!(r.consumed, 5000);
    assert_eq!((r.duplicates, r.out_of_order, r.lost_acked), (0, 0, 0));
    let total: u64 = r.partitions.iter().map(|p| p.log_end).sum();
    assert_eq!(total, 5000);
    assert!(r.partitions.iter().all(|p| p.high_watermark == p.log_end));
}
