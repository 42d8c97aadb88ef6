//! One record's journey (`Sim::watch_record`): following a record changes nothing in the run,
//! and the journey tells the steps a Kafka reader expects, in order, for the example scenarios
//! that show each ending (acknowledged and read, written twice, lost in a failover).

use kplay_engine::record::RecordId;
use kplay_engine::sim::{EndKind, Journey, StepKind};
use kplay_engine::Sim;
use kplay_scenario::Scenario;
use kplay_tests::scenario_text;

/// The journey of the first record sent with `key` in the scenario `name`: a first run finds
/// it, a replay follows it. Also checks that following it left the digest as it was.
fn journey_of_key(name: &str, key: &str) -> Journey {
    journey_of(name, |sim| {
        sim.watch_key(key.as_bytes());
        Box::new(|sim: &Sim| sim.found_key().expect("the key was sent"))
    })
}

/// The journey of the record at `offset` of a partition at the end of the run.
fn journey_at(name: &str, topic: &str, partition: u32, offset: u64) -> Journey {
    let topic = topic.to_string();
    journey_of(name, move |_| {
        let topic = topic.clone();
        Box::new(move |sim: &Sim| {
            sim.record_at(&topic, partition, offset)
                .expect("in the log")
        })
    })
}

type Find = Box<dyn Fn(&Sim) -> RecordId>;

fn journey_of(name: &str, prepare: impl Fn(&mut Sim) -> Find) -> Journey {
    let scenario = Scenario::parse(&scenario_text(name)).expect("parses");
    let mut first = scenario.build(None).expect("builds");
    let find = prepare(&mut first);
    first.run_until(scenario.end());
    let id = find(&first);
    let mut plain = scenario.build(None).expect("builds");
    plain.run_until(scenario.end());
    let mut followed = scenario.build(None).expect("builds");
    followed.watch_record(id);
    followed.run_until(scenario.end());
    assert_eq!(
        first.digest(),
        plain.digest(),
        "{name}: the key search changed the run"
    );
    assert_eq!(
        followed.digest(),
        plain.digest(),
        "{name}: following changed the run"
    );
    assert_eq!(followed.report(), plain.report(), "{name}");
    followed.journey().expect("followed")
}

fn kinds(j: &Journey) -> Vec<StepKind> {
    j.steps.iter().map(|s| s.kind).collect()
}

fn position(j: &Journey, kind: StepKind) -> usize {
    let at = j.steps.iter().position(|s| s.kind == kind);
    at.unwrap_or_else(|| panic!("no {kind:?} step in {:#?}", j.steps))
}

#[test]
fn an_acknowledged_record_goes_from_send_to_the_application_in_order() {
    let j = journey_of_key("quickstart.toml", "key-7");
    assert_eq!(j.key.as_deref(), Some("key-7"));
    assert_eq!(j.end, EndKind::Acknowledged, "{}", j.end_text);
    // Past the high watermark the acknowledgement and the consumer's fetch race (either may
    // reach its client first, in Kafka too); each chain is in order.
    let to_hw = [
        StepKind::Send,
        StepKind::BatchClosed,
        StepKind::Request,
        StepKind::Appended,
        StepKind::HighWatermark,
    ];
    for chain in [
        &[&to_hw[..], &[StepKind::Acknowledged]].concat(),
        &[
            &to_hw[..],
            &[StepKind::Fetched, StepKind::Polled, StepKind::Processed],
        ]
        .concat(),
    ] {
        let at: Vec<usize> = chain.iter().map(|&k| position(&j, k)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{:?}", kinds(&j));
    }
    assert!(
        j.steps.windows(2).all(|w| w[0].at <= w[1].at),
        "time never goes back"
    );
    // quickstart.toml: linger.ms = 5 and a trickle of records, so linger closes the batch.
    let closed = &j.steps[position(&j, StepKind::BatchClosed)];
    assert!(
        closed.why.starts_with("linger.ms = 5 expired"),
        "{}",
        closed.why
    );
    let send = &j.steps[position(&j, StepKind::Send)];
    assert!(send.why.contains("murmur2(key)"), "{}", send.why);
    let offset = j.offset.expect("appended");
    let appended = &j.steps[position(&j, StepKind::Appended)];
    assert!(
        appended.what.ends_with(&format!("at offset {offset}")),
        "{}",
        appended.what
    );
    let ack = &j.steps[position(&j, StepKind::Acknowledged)];
    assert!(ack.what.contains(" ms (acks=all)"), "{}", ack.what);
}

#[test]
fn a_record_waits_for_every_follower_before_the_high_watermark_passes_it() {
    // Replication factor 3: two followers fetch it, then the high watermark passes it.
    let j = journey_of_key("group-rebalance-eager.toml", "key-749");
    let appended = &j.steps[position(&j, StepKind::Appended)];
    assert!(
        appended.why.contains("waiting for the high watermark"),
        "{}",
        appended.why
    );
    let replicated = j
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Replicated)
        .count();
    assert_eq!(replicated, 2, "{:?}", kinds(&j));
    assert!(position(&j, StepKind::Replicated) < position(&j, StepKind::HighWatermark));
    assert!(position(&j, StepKind::Processed) < position(&j, StepKind::Committed));
}

#[test]
fn a_retry_without_idempotence_writes_the_record_again() {
    // Broker 0 pauses for 8 s; requests time out and are retried, and it appends them all.
    // The record at offset 706 was sent just after the pause began.
    let j = journey_at("retries-without-idempotence.toml", "payments", 0, 706);
    let again = j
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::AppendedAgain)
        .count();
    let retries = j.steps.iter().filter(|s| s.kind == StepKind::Retry).count();
    assert!(retries >= 1, "{:?}", kinds(&j));
    assert_eq!(
        again,
        retries,
        "each retry appended it once more: {:?}",
        kinds(&j)
    );
    let duplicate = j
        .steps
        .iter()
        .find(|s| s.what.contains("processed it again"));
    assert!(duplicate.is_some(), "{:?}", kinds(&j));
}

#[test]
fn an_acks_1_record_acknowledged_by_a_cut_off_leader_is_lost_in_the_failover() {
    let j = journey_of_key("acks1-isolated-leader.toml", "key-3004");
    assert_eq!(j.end, EndKind::Lost, "{}", j.end_text);
    assert!(position(&j, StepKind::Acknowledged) < position(&j, StepKind::LeaderElected));
    assert!(position(&j, StepKind::Lost) < position(&j, StepKind::Truncated));
    assert!(
        !kinds(&j).contains(&StepKind::Polled),
        "another record took its offset"
    );
}

#[test]
fn the_record_at_an_offset_is_the_one_followed() {
    let scenario = Scenario::parse(&scenario_text("quickstart.toml")).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.run_until(scenario.end());
    let id = sim.record_at("orders", 2, 100).expect("in the log");
    assert!(sim.record_at("orders", 2, 1 << 40).is_err());
    assert!(sim
        .record_at("orders", 99, 0)
        .unwrap_err()
        .contains("no partition 99"));
    assert!(sim.record_at("nope", 0, 0).unwrap_err().contains("nope"));
    let mut replay = scenario.build(None).expect("builds");
    replay.watch_record(id);
    replay.run_until(scenario.end());
    let j = replay.journey().expect("followed");
    assert_eq!((j.partition, j.offset), (Some(2), Some(100)));
    let nobody = RecordId {
        producer: 0,
        seq: u64::MAX,
    };
    replay.watch_record(nobody);
    assert_eq!(replay.journey().map(|j| j.end), Some(EndKind::NotSent));
}
