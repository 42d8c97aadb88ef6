//! Memory per record held, measured by counting the heap (its own test binary, so that no other
//! test allocates while it measures). A run keeps every record for its whole length, so these
//! bytes are what bounds a run in the browser and on the command line.

use kplay_cli::memory::{live_bytes, Counting};
use kplay_engine::time::Duration;
use kplay_scenario::Scenario;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// 1,000,000 records at replication factor 3, read by one group.
const RUN: &str = include_str!("one-million-records.toml");

/// Resident memory of this process in bytes (Linux), to see the allocator's holes too.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_record_held_at_replication_factor_3_costs_under_250_bytes() {
    let before = live_bytes();
    let resident_before = resident_bytes();
    let scenario = Scenario::parse(RUN).expect("valid");
    let mut sim = scenario.build(None).expect("valid");
    let mut peak = 0;
    while sim.now() < scenario.end() {
        sim.run_until((sim.now() + Duration(1_000_000)).min(scenario.end()));
        peak = peak.max(live_bytes().saturating_sub(before));
    }
    let acked = sim.report().acked;
    // The heap the allocator really holds stays near what is live: a batch shrunk in place
    // left a hole just too small for the next one, and the process held 5 times its live heap.
    if let (Some(a), Some(b)) = (resident_before, resident_bytes()) {
        let resident = b.saturating_sub(a);
        assert!(
            resident < peak + peak / 2,
            "resident {} MB for {} MB live",
            resident >> 20,
            peak >> 20
        );
    }
    assert!(acked >= 999_000, "acked {acked}");
    eprintln!("{} bytes per record held at peak", peak / acked);
    // Measured 184 bytes per record here (the fixed part, the event queue and the trace window,
    // weighs more in a short run; 124 at 10 M records); 2,159 before batches gave back the room
    // they reserved.
    let per_record = peak / acked;
    assert!(
        per_record < 250,
        "{per_record} bytes per record held (peak {} MB for {acked} records)",
        peak >> 20
    );
}
