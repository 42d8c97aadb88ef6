//! What a browser frame costs the playground natively: advancing 1/60 s of the frame-time
//! scenario (`tests/browser/frame-scenario.toml`, the one of `tests/browser/frame-time.mjs`)
//! against building the snapshot the page renders, whole and with one turn of rows' records.
//! Machines are shared and noisy, so compare the ratios within one run.
//! Run with `cargo bench -p kplay-playground`.
#![allow(clippy::disallowed_methods)] // Wall-clock timing is the point of a benchmark.

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use kplay_engine::snapshot::RecordsOf;
use kplay_playground::{Action, Playground};
use kplay_scenario::Scenario;

/// What the page asks for (`RECORD_WINDOW`, `TRACE_WINDOW`, `TURNS` in `web/`).
const RECORDS: usize = 16;
const TRACE: usize = 200;
const TURNS: u32 = 12;
/// 30 s of play at 60 frames per second.
const FRAMES: u32 = 1800;
const FRAME_MS: u32 = 16;

/// The same cluster as the browser's frame-time benchmarks.
const SCENARIO: &str = include_str!("../../../tests/browser/frame-scenario.toml");

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let scenario = Scenario::parse(SCENARIO).expect("the frame-time scenario parses");
    let mut p = Playground::new(scenario).expect("and builds");
    p.dispatch(Action::Play).expect("plays");
    let (mut whole, mut turn) = (Duration::ZERO, Duration::ZERO);
    let mut steps = Vec::with_capacity(FRAMES as usize);
    for frame in 0..FRAMES {
        let t = WallClock::now();
        p.dispatch(Action::Frame {
            elapsed_ms: FRAME_MS,
        })
        .expect("a frame");
        steps.push(t.elapsed());
        let t = WallClock::now();
        black_box(p.snapshot(RECORDS, TRACE));
        whole += t.elapsed();
        let t = WallClock::now();
        let records_of = RecordsOf::Turn {
            every: TURNS,
            turn: frame % TURNS,
        };
        black_box(p.snapshot_of(RECORDS, records_of, TRACE));
        turn += t.elapsed();
    }
    let step: Duration = steps.iter().sum();
    steps.sort();
    let at = |q: usize| micros(steps[(steps.len() * q / 100).min(steps.len() - 1)]);
    let per = |d: Duration| micros(d) / f64::from(FRAMES);
    println!(
        "{FRAMES} frames of {FRAME_MS} ms virtual, {} events",
        p.sim().events_processed()
    );
    println!(
        "engine step per frame: mean {:.0} µs, p50 {:.0}, p95 {:.0}, max {:.0}",
        per(step),
        at(50),
        at(95),
        at(100)
    );
    println!(
        "snapshot per frame: whole {:.0} µs ({:.2} of the step), one turn of rows' records {:.0} µs ({:.2})",
        per(whole),
        micros(whole) / micros(step),
        per(turn),
        micros(turn) / micros(step)
    );
}
