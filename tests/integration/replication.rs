//! Replication stories, each run with every invariant checked after every step.

use kplay_tests::{run_checked, scenario_text, trace_lines};

#[test]
fn leader_crashes_with_acks_all_lose_nothing() {
    let name = "scenarios/leader-crash-acks-all.toml";
    let (sim, r) = run_checked(name, &scenario_text("leader-crash-acks-all.toml"), None);
    assert_eq!(
        (r.acked, r.failed, r.lost_acked),
        (25_000, 0, 0),
        "replay: kplay run {name} --seed {}",
        r.seed
    );
    assert_eq!(r.consumed, 25_000);
    assert!(
        !trace_lines(&sim, "elected leader").is_empty(),
        "leadership moved"
    );
    assert!(
        r.partitions.iter().all(|p| p.isr.len() == 3),
        "everyone back in sync: {:?}",
        r.partitions
    );
    kplay_engine::check::Checker::no_acknowledged_record_lost(&sim).expect("safety");
}

#[test]
fn an_isolated_acks_1_leader_loses_what_it_acknowledged_and_the_report_says_which() {
    let name = "scenarios/acks1-isolated-leader.toml";
    let (sim, r) = run_checked(name, &scenario_text("acks1-isolated-leader.toml"), None);
    assert!(
        r.lost_acked > 500,
        "lost {}; replay: kplay run {name} --seed {}",
        r.lost_acked,
        r.seed
    );
    assert!(!r.lost.is_empty() && r.lost.iter().all(|l| l.offset.is_some()));
    let truncations = trace_lines(&sim, "truncated");
    assert!(
        truncations.iter().any(|l| l.contains("broker 0")),
        "{truncations:?}"
    );
    // Every lost record was written while broker 0 was cut off (10 s to 25 s).
    let outcomes = sim.ledger().outcomes(0);
    for l in &r.lost {
        assert!(matches!(
            outcomes[l.id.seq as usize],
            kplay_engine::ledger::Outcome::Acked { .. }
        ));
    }
}

#[test]
fn min_insync_replicas_refuses_writes_once_the_isr_is_too_small() {
    let name = "scenarios/min-insync-rejects.toml";
    let (sim, r) = run_checked(name, &scenario_text("min-insync-rejects.toml"), None);
    assert_eq!(r.lost_acked, 0);
    assert!(r.failed > 1_000, "failed {}", r.failed);
    assert!(
        !trace_lines(&sim, "NOT_ENOUGH_REPLICAS").is_empty(),
        "the broker said why"
    );
    // Once broker 1 is back (45 s) and in the ISR, writes succeed again.
    let late_acks = sim
        .trace()
        .recent()
        .filter(|e| e.at.as_millis() > 47_000 && e.kind.to_string().contains("acked"))
        .count();
    assert!(late_acks > 0, "writes resume after the ISR grows");
}

#[test]
fn unclean_election_brings_the_partition_back_and_loses_data() {
    let name = "scenarios/unclean-election.toml";
    let (sim, r) = run_checked(name, &scenario_text("unclean-election.toml"), None);
    assert!(!trace_lines(&sim, "UNCLEAN").is_empty());
    assert!(r.lost_acked >= 2_000, "lost {}", r.lost_acked);
    assert!(trace_lines(&sim, "truncated")
        .iter()
        .any(|l| l.contains("broker 0")));
}

#[test]
fn without_unclean_election_the_partition_waits_for_its_last_in_sync_replica() {
    let text = scenario_text("unclean-election.toml").replace(
        "\"unclean.leader.election.enable\" = true",
        "\"unclean.leader.election.enable\" = false",
    );
    let (sim, r) = run_checked("unclean-election (clean)", &text, None);
    assert_eq!(
        r.lost_acked, 0,
        "nothing lost, at the price of an offline partition"
    );
    assert!(!trace_lines(&sim, "offline").is_empty());
    assert!(trace_lines(&sim, "UNCLEAN").is_empty());
}

#[test]
fn leadership_moves_back_to_the_preferred_replica_after_it_returns() {
    // auto.leader.rebalance.enable (default true), checked every 10 s here instead of 300 s.
    let text = r#"
seed = 4
duration_ms = 45000
[cluster]
brokers = 3
config = { "leader.imbalance.check.interval.seconds" = 10 }
[[topic]]
name = "t"
partitions = 3
replication_factor = 3
[[producer]]
id = "p"
topic = "t"
rate_per_sec = 100
[[event]]
at_ms = 2000
action = "crash_broker"
broker = 0
[[event]]
at_ms = 15000
action = "restart_broker"
broker = 0
"#;
    let (sim, r) = run_checked("preferred-leader", text, None);
    let metadata = sim.metadata();
    let topic = &metadata.topics["t"];
    for (p, pm) in topic.partitions.iter().enumerate() {
        assert_eq!(
            pm.leader,
            Some(pm.replicas[0]),
            "t-{p} is led by its preferred replica again: {pm:?}"
        );
    }
    // Broker 0 led something before the crash, lost it, and got it back.
    let moves = trace_lines(&sim, "elected leader");
    assert!(
        moves.iter().any(|l| l.contains("broker 0 elected")),
        "{moves:?}"
    );
    assert_eq!(r.lost_acked, 0);
}
