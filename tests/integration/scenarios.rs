//! Every example scenario runs and tells the story its comments promise.

use kplay_tests::{run_checked, run_scenario, scenario_names, scenario_text};

/// Examples that exist to show acknowledged records being lost.
const LOSSY: &[&str] = &["acks1-isolated-leader.toml", "unclean-election.toml"];
/// Examples that exist to show records written twice.
const DUPLICATING: &[&str] = &[
    "retries-without-idempotence.toml",
    // Consumer groups: a crash or a kicked member makes a group process records again.
    "at-most-once-vs-at-least-once.toml",
    "slow-consumer-kicked.toml",
    "static-membership.toml",
    // The moved partition's records read after the rejoin commit are read again (see its header).
    "group-rebalance-cooperative.toml",
    // The processor's group reads its aborted poll's inputs again, as exactly-once does; its
    // committed outputs hold each once (tests/integration/transactions.rs).
    "eos-pipeline.toml",
];

#[test]
fn every_example_runs_with_all_invariants_and_only_the_lossy_ones_lose_data() {
    let names = scenario_names();
    assert!(names.len() >= 6, "examples: {names:?}");
    for name in names {
        let (_, r) = run_checked(&format!("scenarios/{name}"), &scenario_text(&name), None);
        let replay = format!("replay: kplay run scenarios/{name} --seed {}", r.seed);
        assert!(r.produced > 0, "{name} produced nothing; {replay}");
        if DUPLICATING.contains(&name.as_str()) {
            assert!(r.duplicates > 0, "{name} should show duplicates; {replay}");
        } else {
            assert_eq!(r.duplicates, 0, "{name} duplicated records; {replay}");
        }
        if LOSSY.contains(&name.as_str()) {
            assert!(r.lost_acked > 0, "{name} should show loss; {replay}");
        } else {
            assert_eq!(r.lost_acked, 0, "{name} lost acked records; {replay}");
        }
    }
}

#[test]
fn quickstart_delivers_every_record_and_the_named_key_lands_on_partition_4() {
    let r = run_scenario(&scenario_text("quickstart.toml"), None);
    assert_eq!((r.produced, r.acked, r.consumed), (10_001, 10_001, 10_001));
    let total: u64 = r.partitions.iter().map(|p| p.log_end).sum();
    assert_eq!(total, 10_001);
}

#[test]
fn a_crashed_single_replica_broker_delays_but_loses_nothing() {
    let r = run_scenario(&scenario_text("broker-crash.toml"), None);
    assert_eq!(r.acked, 25_000, "every record is eventually acknowledged");
    assert_eq!(r.consumed, 25_000);
    assert_eq!((r.lost_acked, r.duplicates, r.out_of_order), (0, 0, 0));
}

#[test]
fn a_slow_consumer_falls_behind() {
    // 5 ms per record caps the consumer at 200 records/s against 400 produced per second.
    let r = run_scenario(&scenario_text("slow-consumer.toml"), None);
    assert!(r.acked > 7_900, "acked {}", r.acked);
    assert!(
        r.consumed < 4_200 && r.consumed > 3_800,
        "consumed {}",
        r.consumed
    );
}

#[test]
fn idempotence_removes_the_duplicates_of_retried_requests() {
    let text = scenario_text("retries-without-idempotence.toml");
    let plain = run_scenario(&text, None);
    assert!(plain.duplicates >= 5, "duplicates {}", plain.duplicates);
    assert_eq!(plain.lost_acked, 0);
    let safe = text.replace(
        "\"enable.idempotence\" = false, acks = \"1\"",
        "\"enable.idempotence\" = true, acks = \"all\"",
    );
    assert_ne!(safe, text, "the replacement applied");
    let r = run_scenario(&safe, None);
    assert_eq!((r.duplicates, r.out_of_order, r.lost_acked), (0, 0, 0));
    assert_eq!(r.consumed, r.acked);
}

fn group<'a>(
    r: &'a kplay_engine::snapshot::Report,
    name: &str,
) -> &'a kplay_engine::snapshot::GroupView {
    r.groups.iter().find(|g| g.group == name).expect("group")
}

#[test]
fn eager_rebalancing_stops_the_group_and_cooperative_does_not() {
    let eager = run_scenario(&scenario_text("group-rebalance-eager.toml"), None);
    let coop = run_scenario(&scenario_text("group-rebalance-cooperative.toml"), None);
    let (e, c) = (group(&eager, "billing"), group(&coop, "billing"));
    assert_eq!(
        (e.rebalances, c.rebalances),
        (2, 3),
        "cooperative takes two rounds"
    );
    assert!(
        e.paused_ms >= 100,
        "eager members paused {} ms",
        e.paused_ms
    );
    assert_eq!(c.paused_ms, 0);
    assert_eq!((e.duplicates, e.lost, c.lost), (0, Some(0), Some(0)));
    // Kafka's cooperative member commits at the rejoin and revokes later, without a commit:
    // what it read of the moved partition in between is read again by the newcomer.
    assert!(c.duplicates > 0, "cooperative with auto-commit: {c:?}");
}

#[test]
fn commit_before_processing_loses_and_commit_after_duplicates() {
    let r = run_scenario(&scenario_text("at-most-once-vs-at-least-once.toml"), None);
    let (amo, alo) = (group(&r, "audit"), group(&r, "billing"));
    assert!(
        amo.lost.unwrap() > 0 && amo.duplicates == 0,
        "audit: {amo:?}"
    );
    assert!(
        alo.duplicates > 0 && alo.lost == Some(0),
        "billing: {alo:?}"
    );
}

#[test]
fn a_slow_member_is_kicked_out_and_its_records_processed_again() {
    let r = run_scenario(&scenario_text("slow-consumer-kicked.toml"), None);
    let g = group(&r, "analytics");
    assert!(
        g.rebalances >= 3,
        "kicked out, then back: {} rebalances",
        g.rebalances
    );
    assert!(g.duplicates > 0);
    assert_eq!(g.lost, Some(0));
}

#[test]
fn a_static_member_comes_back_without_a_rebalance() {
    let r = run_scenario(&scenario_text("static-membership.toml"), None);
    let g = group(&r, "billing");
    assert_eq!((g.rebalances, g.generation), (1, 1));
    assert_eq!(g.members.len(), 3);
}
