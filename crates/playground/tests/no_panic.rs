//! No panic on user input: random sequences of UI actions, with arbitrary text where users type,
//! never panic the playground, and a refused action changes nothing.

use kplay_engine::consumer::CommitStrategy;
use kplay_playground::{Action, Edit, LessonAction, Playground, Target, TimelineAction};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("orders".to_string()),
        Just("checkout".to_string()),
        Just("billing".to_string()),
        "-?[0-9]{1,12}",
        "pool:[0-9]{0,9}",
        ".{0,12}",
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Cluster),
        text().prop_map(Target::Topic),
        text().prop_map(Target::Producer),
        text().prop_map(Target::Consumer),
    ]
}

/// What the UI sends to the running cluster: the scenario's actions, every one of them.
fn live() -> impl Strategy<Value = TimelineAction> {
    prop_oneof![cluster_action(), client_action()]
}

/// Faults of brokers and the network, and topics.
fn cluster_action() -> impl Strategy<Value = TimelineAction> {
    prop_oneof![
        (0u32..5).prop_map(|broker| TimelineAction::CrashBroker { broker }),
        (0u32..5).prop_map(|broker| TimelineAction::RestartBroker { broker }),
        (0u32..5, 0u64..100_000).prop_map(|(broker, duration_ms)| TimelineAction::PauseBroker {
            broker,
            duration_ms
        }),
        proptest::collection::vec(0u32..5, 0..3)
            .prop_map(|brokers| TimelineAction::PartitionNetwork { brokers }),
        Just(TimelineAction::HealNetwork),
        (0u32..5, 0u32..5, 0u64..1_000_000).prop_map(|(broker, peer, extra_ms)| {
            TimelineAction::SlowLink {
                broker,
                peer,
                extra_ms,
            }
        }),
        (text(), 0u32..5, 0u32..5).prop_map(|(topic, partitions, replication_factor)| {
            TimelineAction::CreateTopic {
                topic,
                partitions,
                replication_factor,
            }
        }),
        text().prop_map(|topic| TimelineAction::DeleteTopic { topic }),
    ]
}

/// What producers and consumers are told.
fn client_action() -> impl Strategy<Value = TimelineAction> {
    prop_oneof![
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(0u32..10)
        )
            .prop_map(
                |(producer, key, value, partition)| TimelineAction::Produce {
                    producer,
                    key,
                    value,
                    partition,
                    headers: Vec::new(),
                }
            ),
        text().prop_map(|producer| TimelineAction::StartProducer { producer }),
        text().prop_map(|producer| TimelineAction::StopProducer { producer }),
        (text(), any::<u64>()).prop_map(|(producer, rate_per_sec)| TimelineAction::SetRate {
            producer,
            rate_per_sec
        }),
        text().prop_map(|consumer| TimelineAction::StopConsumer { consumer }),
        text().prop_map(|consumer| TimelineAction::CrashConsumer { consumer }),
        text().prop_map(|consumer| TimelineAction::RestartConsumer { consumer }),
        (text(), any::<u64>()).prop_map(|(consumer, processing_us_per_record)| {
            TimelineAction::SlowConsumer {
                consumer,
                processing_us_per_record,
            }
        }),
        (text(), text(), proptest::option::of(text()), 0u64..10_000).prop_map(
            |(consumer, topic, group, processing_us_per_record)| TimelineAction::AddConsumer {
                consumer,
                topics: vec![topic],
                group,
                processing_us_per_record,
                commit: CommitStrategy::Auto,
            }
        ),
        (text(), text(), 0u32..10, 0u64..1_000).prop_map(|(consumer, topic, partition, offset)| {
            TimelineAction::Seek {
                consumer,
                topic,
                partition,
                offset,
            }
        }),
        text().prop_map(|producer| TimelineAction::RemoveProducer { producer }),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (text(), text(), text(), text()).prop_map(
            |(name, partitions, replication_factor, min_insync)| Edit::AddTopic {
                name,
                partitions,
                replication_factor,
                min_insync
            }
        ),
        (text(), text(), text(), text(), text()).prop_map(
            |(id, topic, rate_per_sec, keys, acks)| Edit::AddProducer {
                id,
                topic,
                rate_per_sec,
                keys,
                acks
            }
        ),
        (text(), text(), text(), text(), text(), text()).prop_map(
            |(id, topics, processing_ms, offset_reset, group, commit)| {
                Edit::AddConsumer {
                    id,
                    topics,
                    processing_ms,
                    offset_reset,
                    group,
                    commit,
                }
            }
        ),
        (target(), text(), text()).prop_map(|(target, key, value)| Edit::SetConfig {
            target,
            key,
            value
        }),
        (target(), text()).prop_map(|(target, key)| Edit::RemoveConfig { target, key }),
        text().prop_map(Edit::SetBrokers),
        (text(), text()).prop_map(|(producer, keys)| Edit::SetProducerKeys { producer, keys }),
        (text(), text()).prop_map(|(producer, rate_per_sec)| Edit::SetRate {
            producer,
            rate_per_sec
        }),
        (text(), text()).prop_map(|(consumer, processing_ms)| Edit::SetProcessing {
            consumer,
            processing_ms
        }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Play),
        Just(Action::Pause),
        Just(Action::Step),
        any::<u32>().prop_map(Action::SetSpeed),
        text().prop_map(Action::SetSeed),
        Just(Action::Reset),
        (0u32..400).prop_map(|elapsed_ms| Action::Frame { elapsed_ms }),
        live().prop_map(Action::Live),
        edit().prop_map(Action::Edit),
        text().prop_map(Action::Import),
        Just(Action::DismissNotice),
        // A link pasted into the address bar: anything, or something that looks like one.
        prop_oneof![text(), "#v1\\.[A-Za-z0-9_-]{0,40}"].prop_map(Action::OpenLink),
        Just(Action::RestoreSaved),
        Just(Action::ReplaceSaved),
        Just(Action::Share {
            page: "https://kplay.test/".into()
        }),
        Just(Action::DismissShare),
        Just(Action::Export),
        Just(Action::Audit),
        (0u64..20_000).prop_map(|at_ms| Action::Seek { at_ms }),
        Just(Action::StepBack),
        (text(), text()).prop_map(|(path, value)| Action::Fork(
            kplay_playground::ForkChange::Setting { path, value }
        )),
        prop_oneof![
            Just("topic.orders.min.insync.replicas"),
            Just("producer.checkout.acks"),
            Just("consumer.billing.max.poll.records"),
        ]
        .prop_flat_map(|path| text().prop_map(move |value| Action::Fork(
            kplay_playground::ForkChange::Setting {
                path: path.into(),
                value
            }
        ))),
        live().prop_map(|a| Action::Fork(kplay_playground::ForkChange::Live(a))),
        Just(Action::CloseFork),
        lesson().prop_map(Action::Lesson),
        (0u32..4, 0u64..5000).prop_map(|(producer, seq)| {
            Action::FollowRecord(kplay_engine::record::RecordId { producer, seq })
        }),
        Just(Action::FollowProduced),
        Just(Action::CloseJourney),
    ]
}

fn lesson() -> impl Strategy<Value = LessonAction> {
    prop_oneof![
        (0..kplay_scenario::builtin().len()).prop_map(|i| {
            let text = kplay_scenario::builtin()[i].1;
            LessonAction::Open(std::rc::Rc::new(
                kplay_scenario::Lesson::parse(text).expect("a built-in lesson parses"),
            ))
        }),
        (0usize..6).prop_map(LessonAction::Step),
        Just(LessonAction::Check),
        Just(LessonAction::ShowSolution),
        Just(LessonAction::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_sessions_never_panic_and_refusals_change_nothing(actions in proptest::collection::vec(action(), 1..25)) {
        // Opened from a broken link over a saved session, so restoring has something to do.
        let mut p = Playground::open(Some(kplay_playground::WELCOME), Some("#v1.broken"));
        for a in actions {
            let before = (p.scenario().clone(), p.sim().digest(), p.now());
            let frame = matches!(a, Action::Frame { .. } | Action::Play | Action::Pause | Action::Step | Action::DismissNotice);
            if p.dispatch(a.clone()).is_err() && !frame {
                prop_assert_eq!((p.scenario().clone(), p.sim().digest(), p.now()), before, "{:?} was refused but changed state", a);
            }
        }
        // Whatever happened, the session still exports and replays to the same digest.
        p.dispatch(Action::Export).expect("an export");
        let text = p.exported().expect("exported").to_string();
        let scenario = kplay_scenario::Scenario::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut sim = scenario.build(None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        sim.run_until(scenario.end());
        prop_assert_eq!(sim.digest(), p.sim().digest());
    }
}
