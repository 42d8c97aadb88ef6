//! Property tests: the parser never panics, whatever it is given, and writing a scenario then
//! reading it back gives the same scenario.

use kplay_engine::compression::Values;
use kplay_engine::config::ConfigValue;
use kplay_engine::producer::KeyMode;
use kplay_scenario::*;
use proptest::prelude::*;

const VALID: &str = include_str!("../../../scenarios/quickstart.toml");

fn clear_lines(mut s: Scenario) -> Scenario {
    s.topics.iter_mut().for_each(|t| t.line = 0);
    s.producers.iter_mut().for_each(|p| p.line = 0);
    s.consumers.iter_mut().for_each(|c| c.line = 0);
    s.processors.iter_mut().for_each(|p| p.line = 0);
    s.events.iter_mut().for_each(|e| e.line = 0);
    s
}

/// Fragments that make mutated files interesting: valid keys, wrong types, extreme numbers.
const FRAGMENTS: &[&str] = &[
    "[cluster]",
    "[[topic]]",
    "[[producer]]",
    "[[consumer]]",
    "[[event]]",
    "brokers = ",
    "partitions = ",
    "replication_factor = ",
    "= -1",
    "= 0",
    "= 9223372036854775807",
    "= -9223372036854775808",
    "= 1e308",
    "= \"\"",
    "= []",
    "= {}",
    "action = \"crash_broker\"",
    "broker = 99",
    "config = { acks = 2 }",
    "\"linger.ms\" = -5",
    "at_ms = 1",
    "keys = \"pool:4294967296\"",
    "\u{0}",
    "\"",
    "[",
    "]]",
    "\n",
    "=",
    "processing_ms_per_record = 1e400",
    "processing_ms_per_record = nan",
    "topics = [1]",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = Scenario::parse(&text);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        cuts in proptest::collection::vec((0usize..2000, 0usize..FRAGMENTS.len(), 0usize..40), 1..6)
    ) {
        let mut text = VALID.to_string();
        for (at, fragment, delete) in cuts {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + delete).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, FRAGMENTS[fragment]);
        }
        if let Ok(s) = Scenario::parse(&text) {
            // Whatever parses must also run a little without panicking.
            let mut sim = s.build(None).expect("a parsed scenario builds");
            sim.run_until(kplay_engine::Instant::from_millis(200));
        }
    }

    #[test]
    fn write_then_read_gives_the_same_scenario(s in scenario()) {
        let text = s.to_toml();
        let back = Scenario::parse_unchecked(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(clear_lines(back), clear_lines(s));
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{0,12}"
}

fn config() -> impl Strategy<Value = ConfigPairs> {
    let value = prop_oneof![
        any::<i64>().prop_map(ConfigValue::Int),
        any::<bool>().prop_map(ConfigValue::Bool),
        ".{0,10}".prop_map(ConfigValue::Str),
        proptest::collection::vec("[a-z\"\\\\ ]{0,6}", 0..3).prop_map(ConfigValue::List),
    ];
    proptest::collection::btree_map("[a-z.]{1,16}", value, 0..3)
        .prop_map(|m| m.into_iter().collect())
}

/// A consumer or a processor crashed or restarted.
fn crash_or_restart() -> impl Strategy<Value = Action> {
    prop_oneof![
        name().prop_map(|consumer| Action::CrashConsumer { consumer }),
        name().prop_map(|consumer| Action::RestartConsumer { consumer }),
        name().prop_map(|processor| Action::CrashProcessor { processor }),
        name().prop_map(|processor| Action::RestartProcessor { processor }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        any::<u32>().prop_map(|broker| Action::CrashBroker { broker }),
        any::<u32>().prop_map(|broker| Action::RestartBroker { broker }),
        proptest::collection::vec(0u32..10, 1..3)
            .prop_map(|brokers| Action::PartitionNetwork { brokers }),
        Just(Action::HealNetwork),
        (any::<u32>(), any::<u32>(), 0u64..600_000).prop_map(|(broker, peer, extra_ms)| {
            Action::SlowLink {
                broker,
                peer,
                extra_ms,
            }
        }),
        (any::<u32>(), 1u64..3_600_000).prop_map(|(broker, duration_ms)| Action::PauseBroker {
            broker,
            duration_ms
        }),
        name().prop_map(|producer| Action::RemoveProducer { producer }),
        crash_or_restart(),
        (
            name(),
            proptest::collection::vec(name(), 1..3),
            proptest::option::of(name()),
            0u64..3_600_000_000,
            proptest::sample::select(kplay_engine::consumer::CommitStrategy::NAMES),
        )
            .prop_map(
                |(consumer, topics, group, processing_us_per_record, commit)| {
                    Action::AddConsumer {
                        consumer,
                        topics,
                        group,
                        processing_us_per_record,
                        commit: kplay_engine::consumer::CommitStrategy::parse(commit)
                            .expect("a name"),
                    }
                }
            ),
        (name(), 0u64..3_600_000_000).prop_map(|(consumer, processing_us_per_record)| {
            Action::SlowConsumer {
                consumer,
                processing_us_per_record,
            }
        }),
        name().prop_map(|producer| Action::StopProducer { producer }),
        (name(), 0u64..10_000_000).prop_map(|(producer, rate_per_sec)| Action::SetRate {
            producer,
            rate_per_sec
        }),
        (
            name(),
            proptest::option::of(".{0,8}"),
            proptest::option::of(".{0,8}"),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(producer, key, value, partition)| Action::Produce {
                producer,
                key,
                value,
                partition,
                headers: vec![]
            }),
        (name(), name(), any::<u32>(), 0u64..i64::MAX as u64).prop_map(
            |(consumer, topic, partition, offset)| Action::Seek {
                consumer,
                topic,
                partition,
                offset
            }
        ),
        (name(), 1u32..1000, 1u32..5).prop_map(|(topic, partitions, replication_factor)| {
            Action::CreateTopic {
                topic,
                partitions,
                replication_factor,
            }
        }),
    ]
}

/// Any handling of failed records the format can hold (retries only where it retries).
fn failures() -> impl Strategy<Value = kplay_scenario::FailurePolicy> {
    use kplay_scenario::{FailurePolicy, OnFailure};
    (
        proptest::sample::select(OnFailure::NAMES),
        1u32..=10,
        proptest::collection::vec(0u64..=3_600_000, 1..3),
        proptest::collection::vec(name(), 0..3),
    )
        .prop_map(|(on_failure, attempts, backoff, keys)| {
            let on_failure = OnFailure::parse(on_failure).expect("a name");
            let retries = on_failure.routes();
            FailurePolicy {
                failure_ppm: 0,
                on_failure,
                attempts: if retries { attempts } else { 3 },
                backoff: match retries {
                    true => backoff
                        .into_iter()
                        .map(|ms| kplay_engine::Duration(ms * 1_000))
                        .collect(),
                    false => FailurePolicy::default().backoff,
                },
                poison_keys: keys.into_iter().map(|k| k.into_bytes().into()).collect(),
            }
        })
}

/// Any consumer the format can hold.
fn consumer() -> impl Strategy<Value = ConsumerDef> {
    (
        name(),
        proptest::collection::vec(name(), 1..3),
        0u64..3_600_000_000,
        0u64..10_000,
        config(),
        proptest::sample::select(kplay_engine::consumer::CommitStrategy::NAMES),
        failures(),
    )
        .prop_map(
            |(id, topics, processing_us_per_record, start_ms, config, commit, failures)| {
                ConsumerDef {
                    id,
                    topics,
                    processing_us_per_record,
                    commit: kplay_engine::consumer::CommitStrategy::parse(commit).expect("a name"),
                    failures: FailurePolicy {
                        failure_ppm: commit.len() as u32 * 1000,
                        ..failures
                    },
                    start_ms,
                    config,
                    line: 0,
                }
            },
        )
}

/// Any processor the format can hold.
fn processor() -> impl Strategy<Value = ProcessorDef> {
    (
        (
            name(),
            proptest::collection::vec(name(), 1..3),
            name(),
            name(),
        ),
        proptest::sample::select(kplay_engine::processor::Transform::NAMES),
        proptest::sample::select(kplay_engine::processor::Guarantee::NAMES),
        (0u64..3_600_000_000, 0u64..10_000, config(), config()),
        failures(),
    )
        .prop_map(
            |(
                (id, inputs, output, group),
                transform,
                guarantee,
                (us, start_ms, cc, pc),
                failures,
            )| {
                ProcessorDef {
                    id,
                    inputs,
                    output,
                    group,
                    transform: kplay_engine::processor::Transform::parse(transform)
                        .expect("a name"),
                    guarantee: kplay_engine::processor::Guarantee::parse(guarantee)
                        .expect("a name"),
                    processing_us_per_record: us,
                    failures: FailurePolicy {
                        on_failure: match guarantee {
                            "at-least-once" => failures.on_failure,
                            _ => kplay_scenario::OnFailure::Skip,
                        },
                        ..failures
                    },
                    start_ms,
                    consumer_config: cc,
                    producer_config: pc,
                    line: 0,
                }
            },
        )
}

/// Any producer the format can hold.
fn producer() -> impl Strategy<Value = ProducerDef> {
    let keys = prop_oneof![
        Just(KeyMode::Null),
        Just(KeyMode::Unique),
        (1u32..1000).prop_map(KeyMode::Pool)
    ];
    (
        name(),
        name(),
        0u64..1_000_000,
        proptest::option::of(0u64..1_000_000),
        keys,
        0u32..10_000,
        0u64..10_000,
        config(),
        (1u64..=1_000_000, 0u32..=1_000_000),
    )
        .prop_map(
            |(id, topic, rate_per_sec, records, keys, value_bytes, start_ms, config, txn)| {
                ProducerDef {
                    id,
                    topic,
                    rate_per_sec,
                    records,
                    keys,
                    value_bytes,
                    values: if value_bytes % 2 == 0 {
                        Values::Json
                    } else {
                        Values::Random
                    },
                    records_per_transaction: txn.0,
                    abort_ppm: txn.1,
                    start_ms,
                    config,
                    line: 0,
                }
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let topic = (name(), 1u32..100, 1u32..4, config(), 0u64..10_000).prop_map(
        |(name, partitions, replication_factor, config, start_ms)| TopicDef {
            name,
            partitions,
            replication_factor,
            config,
            start_ms,
            line: 0,
        },
    );
    let producer = producer();
    let event = (0u64..86_400_000, action()).prop_map(|(at_ms, action)| EventDef {
        at_ms,
        action,
        line: 0,
    });
    (
        0u64..i64::MAX as u64,
        1u64..86_400_000,
        1u32..10,
        0u64..1_000_000,
        proptest::collection::vec(topic, 0..3),
        proptest::collection::vec(producer, 0..3),
        proptest::collection::vec(consumer(), 0..3),
        proptest::collection::vec(processor(), 0..2),
        proptest::collection::vec(event, 0..4),
    )
        .prop_map(
            |(
                seed,
                duration_ms,
                brokers,
                latency_us,
                topics,
                producers,
                consumers,
                processors,
                events,
            )| {
                Scenario {
                    seed,
                    duration_ms,
                    cluster: ClusterDef {
                        brokers,
                        config: Vec::new(),
                        latency_us,
                        jitter_us: 0,
                        // Written back and read again whatever the profile: one with an
                        // override rides along when the seed is odd.
                        hardware: match seed % 2 {
                            0 => kplay_engine::hardware::Hardware::ideal(),
                            _ => {
                                let mut hw = kplay_engine::hardware::Hardware::named("kreps-2014")
                                    .expect("a profile");
                                hw.disk_bytes_per_sec = latency_us + 1;
                                hw
                            }
                        },
                    },
                    topics,
                    producers,
                    consumers,
                    processors,
                    events,
                    metrics_interval_ms: 10 + seed % 3 * 495,
                    alerts: alerts(seed),
                }
            },
        )
}

/// Rules ride along on some seeds (with the interval), written back and read.
fn alerts(seed: u64) -> Vec<kplay_engine::sim::AlertRule> {
    [
        "records-lag-max > 1000 for 30 s",
        "UnderReplicatedPartitions on broker:1 >= 0.5",
        "RequestHandlerAvgIdlePercent < 0.25 for 1500 ms",
    ]
    .iter()
    .take((seed % 4) as usize)
    .map(|r| kplay_engine::sim::AlertRule::parse(r).expect("a rule"))
    .collect()
}
