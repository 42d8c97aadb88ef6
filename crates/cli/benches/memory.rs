//! Memory per record held: a producer at 5,000 records/s (keys from a pool of 200, acks=all)
//! into a 6-partition topic at replication factor 3 with a group reading it, run to 1 M and to
//! 10 M records, with the heap counted by `kplay`'s allocator. Prints live and peak heap and
//! bytes per acknowledged record; the 10 M run must stay under `kplay run`'s default budget.
//! Run with `cargo bench -p kplay-cli --bench memory`.
#![allow(clippy::disallowed_methods)] // Wall-clock timing is reported, never decided on.

use std::time::Instant as WallClock;

use kplay_cli::memory::{live_bytes, peak_bytes, Counting};
use kplay_cli::DEFAULT_MEMORY_BUDGET_MB;
use kplay_engine::time::Duration;
use kplay_scenario::Scenario;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The shared 1 M-record run, made `records` long (5,000 records a second).
fn scenario(records: u64) -> String {
    const RUN: &str = include_str!("../../../tests/memory/one-million-records.toml");
    assert!(
        RUN.contains("duration_ms = 200000"),
        "the shared run changed its length"
    );
    RUN.replace(
        "duration_ms = 200000",
        &format!("duration_ms = {}", records / 5),
    )
}

fn main() {
    println!("memory per record held (6 partitions, RF 3, acks=all, one group reading)");
    for records in [1_000_000u64, 10_000_000] {
        let text = scenario(records);
        let before = live_bytes();
        let started = WallClock::now();
        let scenario = Scenario::parse(&text).expect("valid");
        let mut sim = scenario.build(None).expect("valid");
        let mut peak = 0;
        // A second of virtual time at a time, as `kplay run` looks at its budget.
        while sim.now() < scenario.end() {
            sim.run_until((sim.now() + Duration(1_000_000)).min(scenario.end()));
            peak = peak.max(live_bytes() - before);
        }
        let acked = sim.report().acked;
        let live = live_bytes() - before;
        let budget = DEFAULT_MEMORY_BUDGET_MB << 20;
        println!(
            "  {acked:>10} records: {:>6} MB held, {:>4} bytes per record, peak {:>6} MB \
             (process peak {} MB), {:.1} s; {} the default budget of {DEFAULT_MEMORY_BUDGET_MB} MB",
            live >> 20,
            live / acked.max(1),
            peak >> 20,
            peak_bytes() >> 20,
            started.elapsed().as_secs_f64(),
            if peak <= budget { "under" } else { "OVER" },
        );
        assert!(
            acked * 100 >= records * 99,
            "the run is wrong: {acked} acked"
        );
        drop(sim);
    }
}
