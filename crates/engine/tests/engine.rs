//! Engine-level scenario tests: whole runs driven through `Sim` commands.

use kplay_engine::config::{ConfigValue, Configs, Scope};
use kplay_engine::consumer::ConsumerSpec;
use kplay_engine::net::NetworkConfig;
use kplay_engine::producer::{KeyMode, ProducerSpec};
use kplay_engine::trace::BrokerId;
use kplay_engine::{ClusterSetup, Command, Duration, Instant, Sim};

/// The one helper for this boundary: a cluster with one topic, one producer, one consumer.
struct Run {
    sim: Sim,
}

fn configs(scope: Scope, pairs: &[(&str, ConfigValue)]) -> Configs {
    let pairs: Vec<(String, ConfigValue)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Configs::parse(scope, &pairs).expect("valid test configs")
}

impl Run {
    fn new(seed: u64, brokers: u32, partitions: u32) -> Run {
        let setup = ClusterSetup {
            brokers,
            configs: Configs::new(Scope::Broker),
            network: NetworkConfig::lan(),
            hardware: kplay_engine::hardware::Hardware::ideal(),
            trace_capacity: 1_000_000,
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

    fn producer(
        &mut self,
        name: &str,
        rate: u64,
        records: u64,
        keys: KeyMode,
        cfg: &[(&str, ConfigValue)],
    ) {
        let spec = ProducerSpec {
            processor: None,
            name: name.into(),
            topic: "orders".into(),
            rate_per_sec: rate,
            max_records: Some(records),
            keys,
            value_bytes: 100,
            values: Default::default(),
            records_per_transaction: 100,
            abort_ppm: 0,
            configs: configs(Scope::Producer, cfg),
        };
        self.sim
            .apply(Command::AddProducer(spec))
            .expect("producer");
    }

    fn consumer(&mut self, name: &str, per_record_us: u64, cfg: &[(&str, ConfigValue)]) {
        let spec = ConsumerSpec {
            processor: None,
            name: name.into(),
            topics: vec!["orders".into()],
            processing_per_record: Duration(per_record_us),
            commit: Default::default(),
            failures: Default::default(),
            configs: configs(Scope::Consumer, cfg),
        };
        self.sim
            .apply(Command::AddConsumer(spec))
            .expect("consumer");
    }

    fn run_ms(&mut self, ms: u64) {
        self.sim.run_until(Instant::from_millis(ms));
    }

    /// `orders` again, with `partitions` partitions and topic setting `max.message.bytes`.
    fn recreate_with_max_message_bytes(&mut self, partitions: u32, max: i64) {
        let topic = configs(Scope::Topic, &[("max.message.bytes", i(max))]);
        self.sim
            .apply(Command::DeleteTopic {
                name: "orders".into(),
            })
            .expect("delete");
        self.sim
            .apply(Command::CreateTopic {
                name: "orders".into(),
                partitions,
                replication_factor: 1,
                configs: topic,
            })
            .expect("topic with small messages");
    }

    /// A GC pause of `broker` from `at_ms`, for `duration_ms`.
    fn pause_at(&mut self, at_ms: u64, broker: u32, duration_ms: u64) {
        let pause = Command::PauseBroker {
            broker,
            duration_ms,
        };
        self.sim.schedule(Instant::from_millis(at_ms), pause);
    }

    /// Records the producer gave up on with this error.
    fn failed_with(&self, error: &str) -> u64 {
        let r = self.sim.report();
        r.failures
            .iter()
            .find(|(e, _)| e.name() == error)
            .map_or(0, |(_, n)| *n)
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

fn s(v: &str) -> ConfigValue {
    ConfigValue::Str(v.into())
}
fn i(v: i64) -> ConfigValue {
    ConfigValue::Int(v)
}

#[test]
fn acks_0_counts_records_as_sent_without_offsets() {
    let mut run = Run::new(2, 3, 3);
    run.producer("p", 1000, 2000, KeyMode::Pool(20), &[("acks", s("0"))]);
    run.run_ms(5_000);
    let r = run.sim.report();
    assert_eq!(r.acked, 2000);
    let outcome = run.sim.ledger().outcomes(0).get(0);
    assert!(
        matches!(
            outcome,
            kplay_engine::ledger::Outcome::Acked { offset: None, .. }
        ),
        "{outcome:?}"
    );
    let snapshot = run.sim.snapshot(0, 0);
    assert!(
        !snapshot.producers[0].idempotent,
        "acks=0 silently disables default idempotence"
    );
}

#[test]
fn keyed_records_land_on_the_murmur2_partition() {
    let mut run = Run::new(3, 3, 6);
    run.producer("p", 0, 0, KeyMode::Null, &[]);
    let record = |key: &str| kplay_engine::producer::ManualRecord {
        source: None,
        key: Some(std::sync::Arc::from(key.as_bytes())),
        value: None,
        headers: vec![],
        partition: None,
    };
    for key in ["user-42", "hello", "key-1"] {
        run.sim
            .apply(Command::ProduceOne {
                producer: "p".into(),
                record: record(key),
            })
            .expect("produce");
    }
    run.run_ms(1_000);
    let snapshot = run.sim.snapshot(10, 0);
    let where_is = |key: &str| {
        let topic = &snapshot.topics[0];
        topic
            .partitions
            .iter()
            .find(|p| p.latest.iter().any(|r| r.key.as_deref() == Some(key)))
            .map(|p| p.partition)
    };
    // toPositive(murmur2(key)) % 6, from the reference table.
    assert_eq!(where_is("user-42"), Some(4));
    assert_eq!(where_is("hello"), Some(3));
    assert_eq!(where_is("key-1"), Some(0));
}

#[test]
fn null_keys_fill_one_partition_at_a_time_and_spread_over_all() {
    let mut run = Run::new(4, 3, 6);
    // 100-byte values: a 16 KiB batch holds about 130 records before the sticky partition moves.
    run.producer("p", 5000, 20_000, KeyMode::Null, &[]);
    run.run_ms(6_000);
    let r = run.sim.report();
    assert_eq!(r.acked, 20_000);
    for p in &r.partitions {
        assert!(
            p.log_end > 1_000,
            "every partition gets a share: {:?}",
            r.partitions
        );
    }
    // Sticky: consecutive batches go to the same partition until about batch.size bytes were
    // produced there, so the partition changes far less often than once per batch.
    let partitions: Vec<u32> = run
        .sim
        .trace()
        .recent()
        .filter_map(|e| match &e.kind {
            kplay_engine::trace::TraceKind::BatchAppended { tp, .. } => Some(tp.partition),
            _ => None,
        })
        .collect();
    let switches = partitions.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches * 3 < partitions.len(),
        "{switches} switches over {} batches",
        partitions.len()
    );
}

#[test]
fn linger_ms_trades_latency_for_fewer_requests() {
    let requests = |linger: i64| {
        let mut run = Run::new(5, 3, 3);
        run.producer(
            "p",
            2000,
            4000,
            KeyMode::Pool(30),
            &[("linger.ms", i(linger))],
        );
        run.run_ms(4_000);
        assert_eq!(run.sim.report().acked, 4000);
        run.sim.snapshot(0, 0).producers[0].batches as usize
    };
    let (eager, patient) = (requests(0), requests(50));
    assert!(
        patient * 3 < eager,
        "linger 0: {eager} batches, linger 50: {patient}"
    );
}

#[test]
fn a_broker_down_past_delivery_timeout_fails_records_with_the_timeout() {
    let mut run = Run::new(6, 3, 3);
    let cfg = [
        ("delivery.timeout.ms", i(3_000)),
        ("request.timeout.ms", i(1_000)),
        ("linger.ms", i(0)),
    ];
    run.producer("p", 100, 2_000, KeyMode::Pool(30), &cfg);
    run.sim
        .apply(Command::CrashBroker { broker: 1 })
        .expect("crash");
    run.run_ms(10_000);
    let r = run.sim.report();
    assert!(run.failed_with("DELIVERY_TIMEOUT") > 0, "{:?}", r.failures);
    assert_eq!(
        r.acked + r.failed + pending(&run),
        r.produced,
        "every record is accounted for"
    );
    // Partitions on live brokers kept working.
    assert!(r.acked > 0);
}

fn pending(run: &Run) -> u64 {
    let p = &run.sim.snapshot(0, 0).producers[0];
    p.produced - p.acked - p.failed
}

#[test]
fn auto_offset_reset_latest_skips_old_records_and_none_fails() {
    let mut run = Run::new(7, 1, 2);
    run.producer("p", 1000, 1000, KeyMode::Pool(10), &[]);
    run.run_ms(2_000);
    run.consumer("late", 0, &[("auto.offset.reset", s("latest"))]);
    run.consumer("strict", 0, &[("auto.offset.reset", s("none"))]);
    run.run_ms(2_100);
    // The first producer is done; a second one sends 100 more after the consumers joined.
    run.producer("q", 100, 100, KeyMode::Pool(10), &[]);
    run.run_ms(4_000);
    let snapshot = run.sim.snapshot(0, 0);
    let late = snapshot
        .consumers
        .iter()
        .find(|c| c.name == "late")
        .expect("late");
    // Only the 100 records produced after it joined, none of the first 1000.
    assert_eq!(late.consumed, 100, "latest starts at the end");
    let strict = snapshot
        .consumers
        .iter()
        .find(|c| c.name == "strict")
        .expect("strict");
    assert_eq!(strict.state, "failed: NO_OFFSET_FOR_PARTITION");
}

#[test]
fn seeking_back_redelivers_and_duplicates_are_counted() {
    let mut run = Run::new(8, 3, 1);
    run.producer("p", 1000, 500, KeyMode::Pool(10), &[]);
    run.consumer("c", 0, &[earliest()]);
    run.run_ms(2_000);
    assert_eq!(run.sim.report().consumed, 500);
    let seek = Command::Seek {
        consumer: "c".into(),
        topic: "orders".into(),
        partition: 0,
        offset: 100,
    };
    run.sim.apply(seek).expect("seek");
    run.run_ms(3_000);
    let r = run.sim.report();
    assert_eq!(r.consumed, 900);
    assert_eq!(r.duplicates, 400);
    assert_eq!(
        r.out_of_order, 0,
        "redelivery is duplication, not reordering"
    );
}

#[test]
fn processing_time_limits_a_consumer_and_lag_grows() {
    let mut run = Run::new(9, 3, 3);
    run.producer("p", 1000, 100_000, KeyMode::Pool(10), &[]);
    // 2 ms per record: at most 500 records/s.
    run.consumer("slow", 2_000, &[earliest(), ("max.poll.records", i(50))]);
    // Records written and not yet read (the consumer's own lag counts from the high
    // watermark its last fetch saw, which is as old as its last fetch).
    let behind = |run: &Run| {
        let r = run.sim.report();
        r.acked - r.consumed
    };
    run.run_ms(4_000);
    let lag_early = behind(&run);
    run.run_ms(8_000);
    let lag = behind(&run);
    let c = &run.sim.snapshot(0, 0).consumers[0];
    assert!(lag > lag_early + 1_500, "lag {lag_early} → {lag}");
    assert!(
        c.consumed <= 8_000 * 500 / 1000 + 50,
        "consumed {}",
        c.consumed
    );
}

#[test]
fn fetch_min_bytes_holds_fetches_until_max_wait() {
    // A trickle of records and a large fetch.min.bytes: each fetch waits fetch.max.wait.ms.
    let fetches = |min_bytes: i64| {
        let mut run = Run::new(10, 1, 1);
        run.producer("p", 20, 40, KeyMode::Pool(3), &[("linger.ms", i(0))]);
        let cfg = [
            earliest(),
            ("fetch.min.bytes", i(min_bytes)),
            ("fetch.max.wait.ms", i(500)),
        ];
        run.consumer("c", 0, &cfg);
        run.run_ms(3_000);
        (
            run.sim.snapshot(0, 0).consumers[0].consumed,
            run.sim
                .trace()
                .recent()
                .filter(|e| matches!(e.kind, kplay_engine::trace::TraceKind::RecordsPolled { .. }))
                .count(),
        )
    };
    let (consumed_eager, polls_eager) = fetches(1);
    let (consumed_batched, polls_batched) = fetches(1_000_000);
    assert_eq!(consumed_eager, 40);
    assert_eq!(consumed_batched, 40, "max wait releases the data anyway");
    assert!(
        polls_batched * 4 < polls_eager,
        "polls: eager {polls_eager}, batched {polls_batched}"
    );
}

#[test]
fn buffer_memory_blocks_send_while_the_leader_is_away() {
    let mut run = Run::new(11, 1, 1);
    let cfg = [("buffer.memory", i(64 * 1024))];
    run.producer("p", 5_000, 1_000_000, KeyMode::Pool(10), &cfg);
    run.sim
        .apply(Command::CrashBroker { broker: 0 })
        .expect("crash");
    run.run_ms(3_000);
    let p = &run.sim.snapshot(0, 0).producers[0];
    // 64 KiB holds about 500 records of ~130 bytes; without the bound it would be 15,000.
    assert!(p.produced < 700, "send() kept accepting: {}", p.produced);
    run.sim
        .apply(Command::RestartBroker { broker: 0 })
        .expect("restart");
    run.run_ms(6_000);
    let p = &run.sim.snapshot(0, 0).producers[0];
    assert!(p.acked > 5_000, "the producer resumes: {}", p.acked);
}

#[test]
fn retention_deletes_old_segments_and_moves_the_log_start() {
    let setup = ClusterSetup {
        brokers: 1,
        configs: configs(
            Scope::Broker,
            &[("log.retention.check.interval.ms", i(1_000))],
        ),
        network: NetworkConfig::lan(),
        hardware: kplay_engine::hardware::Hardware::ideal(),
        trace_capacity: 100,
    };
    let mut sim = Sim::new(setup, 12).expect("setup");
    let topic_cfg = configs(
        Scope::Topic,
        &[("segment.bytes", i(1_048_576)), ("retention.ms", i(2_000))],
    );
    sim.apply(Command::CreateTopic {
        name: "orders".into(),
        partitions: 1,
        replication_factor: 1,
        configs: topic_cfg,
    })
    .expect("topic");
    let spec = ProducerSpec {
        processor: None,
        name: "p".into(),
        topic: "orders".into(),
        rate_per_sec: 20_000,
        max_records: Some(60_000),
        keys: KeyMode::Pool(10),
        value_bytes: 100,
        values: Default::default(),
        records_per_transaction: 100,
        abort_ppm: 0,
        configs: Configs::new(Scope::Producer),
    };
    sim.apply(Command::AddProducer(spec)).expect("producer");
    sim.run_until(Instant::from_millis(8_000));
    let r = sim.report();
    let p = &r.partitions[0];
    assert_eq!(p.log_end, 60_000);
    assert!(p.log_start > 0, "old segments deleted: {p:?}");
    assert_eq!(r.lost_acked, 0, "retention is not loss");
    assert_eq!(
        r.expired, p.log_start,
        "every record below the log start counts as expired"
    );
}

/// Partitions of the records in the log, in offset order per partition, by key.
fn partition_of_keys(run: &Run) -> Vec<(String, u32)> {
    let snapshot = run.sim.snapshot(1000, 0);
    let mut out: Vec<(u64, u32, String)> = Vec::new();
    for p in &snapshot.topics[0].partitions {
        for r in &p.latest {
            out.push((r.id.seq, p.partition, r.key.clone().unwrap_or_default()));
        }
    }
    out.sort();
    out.into_iter().map(|(_, p, k)| (k, p)).collect()
}

fn manual(key: Option<&str>, partition: Option<u32>) -> Command {
    Command::ProduceOne {
        producer: "p".into(),
        record: kplay_engine::producer::ManualRecord {
            source: None,
            key: key.map(|k| std::sync::Arc::from(k.as_bytes())),
            value: None,
            headers: vec![],
            partition,
        },
    }
}

#[test]
fn partition_precedence_explicit_then_key_then_sticky() {
    let mut run = Run::new(13, 3, 6);
    run.producer("p", 0, 0, KeyMode::Null, &[]);
    run.sim
        .apply(manual(Some("user-42"), Some(1)))
        .expect("explicit");
    run.sim.apply(manual(Some("user-42"), None)).expect("keyed");
    run.sim.apply(manual(None, None)).expect("null key");
    run.sim.apply(manual(None, None)).expect("null key");
    run.run_ms(500);
    let placed = partition_of_keys(&run);
    assert_eq!(
        placed[0],
        ("user-42".into(), 1),
        "an explicit partition wins over the key"
    );
    assert_eq!(placed[1], ("user-42".into(), 4), "else murmur2 of the key");
    assert_eq!(
        placed[2].1, placed[3].1,
        "null keys stick to one partition within a batch"
    );
}

#[test]
fn ignore_keys_sends_keyed_records_down_the_sticky_path() {
    let mut run = Run::new(14, 3, 6);
    run.producer(
        "p",
        0,
        0,
        KeyMode::Null,
        &[("partitioner.ignore.keys", ConfigValue::Bool(true))],
    );
    for key in ["user-42", "hello", "key-1", "kafka"] {
        run.sim.apply(manual(Some(key), None)).expect("keyed");
    }
    run.run_ms(500);
    let placed = partition_of_keys(&run);
    let first = placed[0].1;
    assert!(
        placed.iter().all(|(_, p)| *p == first),
        "one sticky partition, not the key hashes: {placed:?}"
    );
}

#[test]
fn round_robin_partitioner_cycles_through_partitions() {
    let mut run = Run::new(15, 3, 3);
    let class = (
        "partitioner.class",
        s("org.apache.kafka.clients.producer.RoundRobinPartitioner"),
    );
    run.producer("p", 0, 0, KeyMode::Null, &[class]);
    for key in ["a", "a", "a", "a", "a", "a"] {
        run.sim.apply(manual(Some(key), None)).expect("keyed");
    }
    run.run_ms(500);
    let parts: Vec<u32> = partition_of_keys(&run)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        parts,
        vec![0, 1, 2, 0, 1, 2],
        "keys are ignored; the counter walks the partitions"
    );
}

#[test]
fn a_restarted_broker_serves_nothing_until_it_has_the_controllers_metadata() {
    // Its leadership and ISR knowledge died with the process: a KRaft broker catches up with
    // the metadata log before it opens its listeners, so it never acts on what it knew before
    // the crash (a zombie leader could acknowledge writes another leader then truncates).
    let mut run = Run::new(5, 3, 3);
    run.producer("p", 200, 100_000, KeyMode::Unique, &[]);
    run.run_ms(5_000);
    run.sim
        .apply(Command::CrashBroker { broker: 1 })
        .expect("crash");
    run.run_ms(15_000);
    run.sim
        .apply(Command::RestartBroker { broker: 1 })
        .expect("restart");
    let (broker, up) = run.sim.broker(BrokerId(1)).expect("broker 1");
    assert!(up && !broker.is_serving(), "up, but not listening yet");
    assert!(
        broker.replicas().values().all(|r| r.leader.is_none()),
        "it knows no leader"
    );
    // One round trip to the controller (0.5 ms each way) later, it serves again.
    run.run_ms(15_002);
    let (broker, _) = run.sim.broker(BrokerId(1)).expect("broker 1");
    assert!(broker.is_serving());
    let md = run.sim.metadata();
    for (tp, r) in broker.replicas() {
        let pm = md.partition(&tp.topic, tp.partition).expect("partition");
        assert_eq!(r.leader, pm.leader, "{tp}: the controller's leader");
    }
}

/// Runs to `ms` with every invariant checked after every step (IdempotentOnceInOrder among
/// them); panics with the violation.
fn run_checked_to(run: &mut Run, ms: u64) {
    let mut checker = kplay_engine::check::Checker::new();
    let until = Instant::from_millis(ms);
    if let Err(v) = kplay_engine::check::run_checked(&mut run.sim, until, &mut checker) {
        panic!("{v}");
    }
}

#[test]
fn a_pause_past_the_request_timeout_neither_duplicates_nor_reorders_with_idempotence() {
    // Issue #12's first case: a 12 s pause of the only broker, request.timeout.ms 3 s,
    // delivery.timeout.ms 10 s. Requests time out and are retried with their sequences; some
    // batches expire. Before, every failed batch bumped the epoch and renumbered every
    // partition, so retries of batches the broker had appended were appended again (84
    // duplicates, 137 out of order).
    let mut run = Run::new(1, 1, 3);
    let timeouts = [
        ("request.timeout.ms", i(3_000)),
        ("delivery.timeout.ms", i(10_000)),
    ];
    run.producer("p", 200, 6_000, KeyMode::Unique, &timeouts);
    run.consumer("c", 0, &[earliest()]);
    run.pause_at(10_000, 0, 12_000);
    run_checked_to(&mut run, 60_000);
    let r = run.sim.report();
    assert!(r.failed > 0, "some batches expired during the pause");
    assert_eq!(pending(&run), 0);
    assert_eq!((r.duplicates, r.out_of_order), (0, 0));
}

#[test]
fn a_batch_refused_on_one_partition_renumbers_only_that_partition() {
    // Issue #12: a MESSAGE_TOO_LARGE on orders-0 while the leader of orders-1 is paused used
    // to bump the epoch and renumber every partition, so orders-1's retried batches got new
    // sequences and were appended a second time. Kafka rewrites only the failed partition's
    // sequences (`TransactionManager.bumpIdempotentProducerEpoch`).
    let mut run = Run::new(4, 2, 2);
    run.recreate_with_max_message_bytes(2, 4_000);
    let timeouts = [("request.timeout.ms", i(2_000)), ("linger.ms", i(0))];
    run.producer("p", 100, 3_000, KeyMode::Unique, &timeouts);
    run.consumer("c", 0, &[earliest()]);
    run.run_ms(5_000);
    let leader_1 = run.sim.metadata().leader("orders", 1).expect("a leader");
    run.sim
        .apply(Command::PauseBroker {
            broker: leader_1.0,
            duration_ms: 6_000,
        })
        .expect("pause");
    run.run_ms(7_000);
    let big = kplay_engine::producer::ManualRecord {
        source: None,
        key: None,
        value: Some(std::sync::Arc::from(vec![b'x'; 5_000])),
        headers: vec![],
        partition: Some(0),
    };
    run.sim
        .apply(Command::ProduceOne {
            producer: "p".into(),
            record: big,
        })
        .expect("produce");
    run_checked_to(&mut run, 40_000);
    let r = run.sim.report();
    let refused = run.failed_with("MESSAGE_TOO_LARGE") > 0;
    assert!(refused, "the big batch was refused: {:?}", r.failures);
    assert_eq!((r.duplicates, r.out_of_order), (0, 0));
}

#[test]
fn a_batch_in_flight_fails_at_the_delivery_timeout_not_a_request_timeout_later() {
    // Issue #12 item 7: Kafka also expires batches whose request is still out
    // (`Sender.getExpiredInflightBatches`). The only broker pauses at 5 s for 30 s: the first
    // batch it holds is sent at about 5 s, times out at 8 s, is retried, and is still out when
    // its delivery timeout (10 s after creation) passes. It must fail then, not when the
    // retry's request times out (about 17 s); before, the first failure was the batch behind
    // it, which expired queued 10 ms later.
    let mut run = Run::new(3, 1, 1);
    let timeouts = [
        ("request.timeout.ms", i(3_000)),
        ("delivery.timeout.ms", i(10_000)),
        ("linger.ms", i(0)),
    ];
    run.producer("p", 100, 3_000, KeyMode::Unique, &timeouts);
    run.pause_at(5_000, 0, 30_000);
    run.run_ms(40_000);
    let mut created = None;
    let mut failed = None;
    for e in run.sim.trace().recent() {
        use kplay_engine::trace::TraceKind as K;
        match &e.kind {
            K::BatchSent { attempt: 0, .. } if e.at >= Instant::from_millis(5_000) => {
                created.get_or_insert(e.at);
            }
            K::BatchFailed { error, .. } => {
                failed.get_or_insert((e.at, error.name()));
            }
            _ => {}
        }
    }
    let created = created.expect("a batch sent into the pause");
    let (at, error) = failed.expect("a batch failed");
    assert_eq!(error, "DELIVERY_TIMEOUT");
    assert_eq!(
        at,
        created + kplay_engine::time::Duration::from_millis(10_000),
        "the first batch sent into the pause fails 10 s after it was created"
    );
    run.run_ms(60_000);
    let r = run.sim.report();
    assert_eq!((r.duplicates, r.out_of_order, r.lost_acked), (0, 0, 0));
    assert_eq!(pending(&run), 0, "every record acknowledged or failed");
}

#[test]
fn a_sticky_run_ends_at_the_first_batch_boundary_past_batch_size_when_batches_leave_by_linger() {
    // Issue #12 item 3, `BuiltInPartitioner.updatePartitionInfo` via
    // `RecordAccumulator.partitionChanged`: once the sticky partition's batch has left by
    // `linger.ms` and `batch.size` bytes went there, the next record starts a run on another
    // partition. 100-byte values at 200/s with linger.ms 20 make batches of 4 records (about
    // 500 bytes); with batch.size 1,000 a run is 2 or 3 batches (1,000 to 1,500 bytes), not
    // up to the forced switch at twice batch.size.
    let mut run = Run::new(8, 1, 6);
    let cfg = [("batch.size", i(1_000)), ("linger.ms", i(20))];
    run.producer("p", 200, 2_000, KeyMode::Null, &cfg);
    run.run_ms(12_000);
    assert_eq!(run.sim.report().acked, 2_000);
    let batches: Vec<(u32, u32)> = run
        .sim
        .trace()
        .recent()
        // From the second second: before, records wait for the producer id (InitProducerId)
        // and their batches leave together when it comes.
        .filter(|e| e.at >= kplay_engine::Instant::from_millis(1_000))
        .filter_map(|e| match &e.kind {
            kplay_engine::trace::TraceKind::BatchAppended { tp, records, .. } => {
                Some((tp.partition, *records))
            }
            _ => None,
        })
        .collect();
    let mut runs: Vec<u32> = Vec::new(); // records per run
    for w in batches.chunk_by(|a, b| a.0 == b.0) {
        runs.push(w.iter().map(|b| b.1).sum());
    }
    runs.pop(); // The last run was cut short by the end of the records.
                // A record here is about 108 bytes in its batch, a batch's header 61. The next partition
                // is drawn at random and may be the same one (1 in 6), which joins two runs.
    assert!(
        runs.iter().all(|&r| r >= 8),
        "a run holds at least batch.size bytes: {runs:?}"
    );
    let one_batch_size = runs.iter().filter(|&&r| r <= 13).count();
    assert!(
        one_batch_size * 4 >= runs.len() * 3,
        "and most end at the first batch boundary past it (before: 17 records, twice \
         batch.size): {runs:?}"
    );
}

#[test]
fn a_ready_broker_takes_the_head_batch_of_every_partition_it_leads_in_one_request() {
    // Issue #12 item 2, `RecordAccumulator.drainBatchesForOneNode`: once one partition's batch
    // is ready, the request to its leader carries the head batch of every partition that
    // broker leads, lingering or not. Keyed records over 6 partitions of one broker, linger.ms
    // 10: a request carries batches of several partitions, so far fewer requests than
    // batches go out (before, one request per partition's batch: about as many).
    let mut run = Run::new(2, 1, 6);
    run.producer(
        "p",
        1_000,
        5_000,
        KeyMode::Pool(60),
        &[("linger.ms", i(10))],
    );
    run.run_ms(8_000);
    let p = &run.sim.snapshot(0, 0).producers[0];
    assert_eq!(p.acked, 5_000);
    assert!(
        p.batches >= 3 * p.requests,
        "{} batches in {} requests",
        p.batches,
        p.requests
    );
}

#[test]
fn a_batch_too_large_for_the_topic_is_split_and_sent_again_until_its_delivery_timeout() {
    // Issue #12 item 6, Kafka 4.0's `Sender.completeBatch` → `splitAndReenqueue`: a batch of
    // several records refused with MESSAGE_TOO_LARGE goes again split into batches of at most
    // batch.size, without counting a retry. Here the topic takes 4,000 bytes and batch.size is
    // 16,384, so the split gives back the same batch and it goes again and again until
    // delivery.timeout.ms (KAFKA-8202): the application hears a timeout 10 s after each batch
    // was created, not MESSAGE_TOO_LARGE at once as before.
    let mut run = Run::new(5, 1, 1);
    run.recreate_with_max_message_bytes(1, 4_000);
    let cfg = [
        ("linger.ms", i(100)),
        ("request.timeout.ms", i(3_000)),
        ("delivery.timeout.ms", i(10_000)),
    ];
    run.producer("p", 1_000, 2_000, KeyMode::Unique, &cfg);
    run.run_ms(20_000);
    let r = run.sim.report();
    assert_eq!(r.acked, 0, "no batch fits the topic");
    assert_eq!(r.failed, 2_000);
    let errors: Vec<&str> = r.failures.iter().map(|(e, _)| e.name()).collect();
    assert_eq!(errors, vec!["DELIVERY_TIMEOUT"], "{:?}", r.failures);
    let splits = run
        .sim
        .trace()
        .recent()
        .filter(|e| matches!(e.kind, kplay_engine::trace::TraceKind::BatchSplit { .. }))
        .count();
    let p = &run.sim.snapshot(0, 0).producers[0];
    assert!(splits > 100, "{splits} splits");
    assert_eq!(p.retries, 0, "a split is not a retry");
}

#[test]
fn batches_hold_their_buffer_memory_until_they_complete_and_send_fails_after_max_block() {
    // Issue #12 item 10, Kafka's `BufferPool`: a new batch takes max(batch.size, its record)
    // from buffer.memory and gives it back when it completes, not when it is sent; a send()
    // that needs a new batch when the pool is empty blocks, and after max.block.ms its record
    // fails with BufferExhaustedException. Here the pool holds three batches and the only
    // broker pauses: requests go out and stay unanswered, so the three batches they carry
    // keep the pool full (before, a sent batch gave its memory back and up to five requests
    // plus a full queue went out).
    let mut run = Run::new(9, 1, 1);
    let cfg = [
        ("batch.size", i(1_000)),
        ("buffer.memory", i(3_000)),
        ("max.block.ms", i(2_000)),
        ("linger.ms", i(0)),
    ];
    run.producer("p", 1_000, 20_000, KeyMode::Unique, &cfg);
    run.pause_at(1_000, 0, 8_000);
    run.run_ms(6_000);
    let p = &run.sim.snapshot(0, 0).producers[0];
    assert!(
        p.queued_batches + p.in_flight_batches <= 3,
        "the pool holds three batches: {} queued, {} in flight",
        p.queued_batches,
        p.in_flight_batches
    );
    let r = run.sim.report();
    let exhausted = run.failed_with("BUFFER_EXHAUSTED");
    // Blocked from about 1 s, the application loses one record per max.block.ms.
    assert!((2..=3).contains(&exhausted), "{:?}", r.failures);
    run.run_ms(20_000);
    let r = run.sim.report();
    assert!(r.acked > 5_000, "the producer resumes: {}", r.acked);
    assert_eq!((r.duplicates, r.out_of_order), (0, 0));
}
