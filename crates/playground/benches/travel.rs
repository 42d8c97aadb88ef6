//! What time travel costs: a ten-minute run of the welcome scenario (as it is, 20 records per
//! second, and at 2,000, the load of ten minutes at 100x), then landing at random moments of it
//! (`Action::Seek`) and stepping back; prints the time to land (mean, worst), the checkpoints
//! kept and the heap they hold. The browser's figure is measured by
//! `tests/browser/travel.test.mjs`.
//! Run with `cargo bench -p kplay-playground --bench travel`.
#![allow(clippy::disallowed_methods)] // Wall-clock timing is the point of a benchmark.

use std::time::Instant as WallClock;

use kplay_cli::memory::{live_bytes, Counting};
use kplay_playground::{Action, Playground, WELCOME};
use kplay_scenario::Scenario;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RUN_MS: u64 = 600_000;
const SEEKS: u64 = 40;

fn main() {
    // As the welcome scenario is (20 records/s), then at the load of the browser's memory
    // test (ten minutes at 100x: 2,000 records/s of virtual time).
    for rate in [20, 2000] {
        measure(rate);
    }
}

fn measure(rate: u64) {
    let welcome = Scenario::parse(WELCOME).expect("the welcome scenario parses");
    let scenario = welcome
        .with_setting("producer.checkout.rate_per_sec", &rate.to_string())
        .expect("a rate");
    let before = live_bytes();
    let mut p = Playground::new(scenario).expect("builds");
    p.dispatch(Action::SetSpeed(10_000)).expect("100x");
    p.dispatch(Action::Play).expect("plays");
    let t = WallClock::now();
    while p.now().as_millis() < RUN_MS {
        p.dispatch(Action::Frame { elapsed_ms: 16 })
            .expect("a frame");
    }
    p.dispatch(Action::Pause).expect("pause");
    let played = t.elapsed();
    let held = live_bytes() - before;
    let records = p.sim().report().acked;
    let one = {
        let at = live_bytes();
        let copy = p.sim().clone();
        let bytes = live_bytes() - at;
        drop(copy);
        bytes
    };
    println!(
        "\n10 min at {rate} records/s: {records} records acknowledged, played in {:.1} s",
        played.as_secs_f64()
    );
    let (count, estimated, spacing_us) = p.checkpoint_stats();
    println!(
        "heap {} MB with {count} checkpoints {} s apart (estimated {} MB); a clone of the final \
         run costs {} MB ({} bytes per record)",
        held >> 20,
        spacing_us / 1_000_000,
        estimated >> 20,
        one >> 20,
        one / records.max(1)
    );
    // A fixed sequence of moments (a linear congruential generator: reproducible).
    let mut x: u64 = 12345;
    let mut times = Vec::new();
    for _ in 0..SEEKS {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at_ms = (x >> 33) % RUN_MS;
        let t = WallClock::now();
        p.dispatch(Action::Seek { at_ms }).expect("seek");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let worst = times.iter().cloned().fold(0.0, f64::max);
    println!("seek to {SEEKS} random moments: mean {mean:.1} ms, worst {worst:.1} ms");
    let t = WallClock::now();
    for _ in 0..10 {
        p.dispatch(Action::StepBack).expect("step back");
    }
    println!(
        "step back: {:.1} ms each",
        t.elapsed().as_secs_f64() * 100.0
    );
}
