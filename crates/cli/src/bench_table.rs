//! `kplay bench-table`: the `kreps-2014` hardware profile against the post it is calibrated
//! to (Jay Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap
//! Machines)", 2014). Each setup is a scenario in `scenarios/perf/`, compiled in; the table
//! prints simulated against published, and the ratios between setups.

use std::io::Write;

use kplay_engine::{Duration, Instant, Sim};
use kplay_scenario::Scenario;

use crate::Failure;

/// Throughput counts the acknowledgements after this much warm-up (buffers filling,
/// metadata, producer ids), to the end of the run.
const WARM_UP: Duration = Duration(1_000_000);

/// Latency counts the records polled after this much of the run.
const LATENCY_WARM_UP: Duration = Duration(5_000_000);

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Measure {
    /// Acknowledged records a second, every producer together.
    Throughput { published: u64 },
    /// End-to-end latency percentiles of every consumer together, in ms.
    Latency { p50: u64, p99: u64 },
}

struct Setup {
    label: &'static str,
    file: &'static str,
    text: &'static str,
    measure: Measure,
}

const SETUPS: &[Setup] = &[
    Setup {
        label: "1 producer thread, no replication",
        file: "kreps-1-producer-no-replication.toml",
        text: include_str!("../../../scenarios/perf/kreps-1-producer-no-replication.toml"),
        measure: Measure::Throughput { published: 821_557 },
    },
    Setup {
        label: "1 producer, RF 3, acks=1",
        file: "kreps-1-producer-rf3-acks1.toml",
        text: include_str!("../../../scenarios/perf/kreps-1-producer-rf3-acks1.toml"),
        measure: Measure::Throughput { published: 786_980 },
    },
    Setup {
        label: "1 producer, RF 3, acks=all",
        file: "kreps-1-producer-rf3-acks-all.toml",
        text: include_str!("../../../scenarios/perf/kreps-1-producer-rf3-acks-all.toml"),
        measure: Measure::Throughput { published: 421_823 },
    },
    Setup {
        label: "3 producers, RF 3, acks=1",
        file: "kreps-3-producers-rf3-acks1.toml",
        text: include_str!("../../../scenarios/perf/kreps-3-producers-rf3-acks1.toml"),
        measure: Measure::Throughput {
            published: 2_024_032,
        },
    },
    Setup {
        label: "end-to-end latency, low load",
        file: "kreps-end-to-end-latency.toml",
        text: include_str!("../../../scenarios/perf/kreps-end-to-end-latency.toml"),
        measure: Measure::Latency { p50: 2, p99: 3 },
    },
];

/// Each figure within this many percent of the post's.
pub const FIGURE_TOLERANCE_PERCENT: u64 = 25;
/// Each ratio between setups within this many percent of the post's.
pub const RATIO_TOLERANCE_PERCENT: u64 = 15;

/// One measured row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub label: &'static str,
    pub file: &'static str,
    /// (simulated, published): records a second, or (p50, p99) pairs flattened as two rows.
    pub simulated: u64,
    pub published: u64,
    pub unit: &'static str,
}

impl Row {
    /// Simulated over published, in percent.
    pub fn percent(&self) -> u64 {
        self.simulated * 100 / self.published.max(1)
    }
    pub fn holds(&self) -> bool {
        within(self.simulated, self.published, FIGURE_TOLERANCE_PERCENT)
    }
}

/// A ratio between two setups, simulated and published, in thousandths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub label: &'static str,
    pub simulated_milli: u64,
    pub published_milli: u64,
}

impl Ratio {
    pub fn holds(&self) -> bool {
        within(
            self.simulated_milli,
            self.published_milli,
            RATIO_TOLERANCE_PERCENT,
        )
    }
}

fn within(simulated: u64, published: u64, percent: u64) -> bool {
    simulated * 100 >= published * (100 - percent) && simulated * 100 <= published * (100 + percent)
}

/// Runs every setup: the rows, then the ratios.
pub fn measure() -> Result<(Vec<Row>, Vec<Ratio>), String> {
    let mut rows = Vec::new();
    for setup in SETUPS {
        let scenario = Scenario::parse(setup.text).map_err(|e| format!("{}: {e}", setup.file))?;
        let mut sim = scenario
            .build(None)
            .map_err(|e| format!("{}: {e}", setup.file))?;
        let end = Instant::from_millis(scenario.duration_ms);
        match setup.measure {
            Measure::Throughput { published } => {
                sim.run_until(Instant::ZERO + WARM_UP);
                let before = acked(&sim);
                sim.run_until(end);
                let seconds_us = end.saturating_since(Instant::ZERO + WARM_UP).as_micros();
                let rate = (acked(&sim) - before) * 1_000_000 / seconds_us.max(1);
                rows.push(Row {
                    label: setup.label,
                    file: setup.file,
                    simulated: rate,
                    published,
                    unit: "records/s",
                });
            }
            Measure::Latency { p50, p99 } => {
                // After the group's first rebalance (`group.initial.rebalance.delay.ms`), whose
                // backlog is no measure of latency.
                sim.run_until(Instant::ZERO + LATENCY_WARM_UP);
                let before = end_to_end(&sim);
                sim.run_until(end);
                let s = end_to_end(&sim)
                    .since(&before)
                    .summary()
                    .ok_or_else(|| format!("{}: no record was consumed", setup.file))?;
                for (label, simulated, published) in [
                    ("end-to-end latency p50, low load", s.p50, p50),
                    ("end-to-end latency p99, low load", s.p99, p99),
                ] {
                    rows.push(Row {
                        label,
                        file: setup.file,
                        simulated,
                        published,
                        unit: "ms",
                    });
                }
            }
        }
    }
    let rate = |i: usize| (rows[i].simulated, rows[i].published);
    let ratio = |label, a: usize, b: usize| Ratio {
        label,
        simulated_milli: rate(a).0 * 1_000 / rate(b).0.max(1),
        published_milli: rate(a).1 * 1_000 / rate(b).1.max(1),
    };
    let ratios = vec![
        ratio("acks=all / acks=1 (RF 3, 1 producer)", 2, 1),
        ratio("3 producers / 1 producer (RF 3, acks=1)", 3, 1),
    ];
    Ok((rows, ratios))
}

/// Every consumer's end-to-end latencies together.
fn end_to_end(sim: &Sim) -> kplay_engine::histogram::Histogram {
    let mut all = kplay_engine::histogram::Histogram::default();
    for c in sim.consumers() {
        all.merge(&c.stats.end_to_end_ms);
    }
    all
}

fn acked(sim: &Sim) -> u64 {
    sim.producers().map(|p| p.stats.acked).sum()
}

pub(crate) fn bench_table(args: &[String], out: &mut dyn Write) -> Result<(), Failure> {
    let with_curves = match args {
        [] => false,
        [flag] if flag == "--curves" => true,
        _ => {
            return Err(Failure::BadInput(
                "`bench-table` takes only `--curves`".to_string(),
            ))
        }
    };
    let (rows, ratios) = measure().map_err(Failure::BadInput)?;
    let (figures, ratios_percent) = (FIGURE_TOLERANCE_PERCENT, RATIO_TOLERANCE_PERCENT);
    let _ = writeln!(
        out,
        "hardware \"kreps-2014\" against Kreps 2014 (figures within ±{figures}%, \
         ratios within ±{ratios_percent}%)\n"
    );
    let _ = writeln!(
        out,
        "{:<36} {:>12} {:>12} {:>6}  {:<4} scenario",
        "setup", "simulated", "published", "%", "ok"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<36} {:>12} {:>12} {:>5}%  {:<4} scenarios/perf/{}  ({})",
            r.label,
            thousands(r.simulated),
            thousands(r.published),
            r.percent(),
            if r.holds() { "yes" } else { "NO" },
            r.file,
            r.unit
        );
    }
    let _ = writeln!(out);
    for r in &ratios {
        let _ = writeln!(
            out,
            "{:<44} simulated {:>5.3}  published {:>5.3}  {}",
            r.label,
            r.simulated_milli as f64 / 1_000.0,
            r.published_milli as f64 / 1_000.0,
            if r.holds() { "yes" } else { "NO" }
        );
    }
    if with_curves {
        print_curves(out)?;
    }
    let failing =
        rows.iter().filter(|r| !r.holds()).count() + ratios.iter().filter(|r| !r.holds()).count();
    match failing {
        0 => Ok(()),
        n => Err(Failure::Violation(format!(
            "{n} figure(s) outside their tolerance"
        ))),
    }
}

/// 2024032 as 2,024,032.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One point of a curve: a setting's value, the acknowledged records a second after the
/// warm-up, and the produce latency's p50 and p99 over the same time (ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurvePoint {
    pub value: u64,
    /// The value as the table prints it.
    pub label: String,
    pub records_per_sec: u64,
    /// Produce requests a second, and bytes per batch sent.
    pub requests_per_sec: u64,
    pub batch_bytes: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

/// A curve: what varies, and its points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Curve {
    pub title: &'static str,
    pub setting: &'static str,
    pub points: Vec<CurvePoint>,
}

/// The acks=all setup of the table, with `edit` applied: one point.
fn curve_point(edit: &dyn Fn(&mut Scenario), value: u64) -> Result<CurvePoint, String> {
    let text = include_str!("../../../scenarios/perf/kreps-1-producer-rf3-acks-all.toml");
    point_of(text, edit, value, thousands(value))
}

/// `text` with `edit` applied, run: one point.
fn point_of(
    text: &str,
    edit: &dyn Fn(&mut Scenario),
    value: u64,
    label: String,
) -> Result<CurvePoint, String> {
    let mut scenario = Scenario::parse(text).map_err(|e| e.to_string())?;
    edit(&mut scenario);
    let mut sim = scenario.build(None).map_err(|e| e.to_string())?;
    let end = Instant::from_millis(scenario.duration_ms);
    sim.run_until(Instant::ZERO + WARM_UP);
    let (before, latency_before) = (acked(&sim), produce_latency(&sim));
    let sent = |sim: &Sim| {
        let stats = sim.producers().map(|p| &p.stats);
        stats.fold((0, 0, 0), |(r, b, n), s| {
            (r + s.requests, b + s.bytes_sent, n + s.batches)
        })
    };
    let sent_before = sent(&sim);
    sim.run_until(end);
    let seconds_us = end
        .saturating_since(Instant::ZERO + WARM_UP)
        .as_micros()
        .max(1);
    let latency = produce_latency(&sim).since(&latency_before).summary();
    let (requests, bytes, batches) = sent(&sim);
    let batches = batches - sent_before.2;
    Ok(CurvePoint {
        value,
        label,
        records_per_sec: (acked(&sim) - before) * 1_000_000 / seconds_us,
        requests_per_sec: (requests - sent_before.0) * 1_000_000 / seconds_us,
        batch_bytes: (bytes - sent_before.1) / batches.max(1),
        p50_ms: latency.map_or(0, |l| l.p50),
        p99_ms: latency.map_or(0, |l| l.p99),
    })
}

fn produce_latency(sim: &Sim) -> kplay_engine::histogram::Histogram {
    let mut all = kplay_engine::histogram::Histogram::default();
    for p in sim.producers() {
        all.merge(&p.stats.latency_ms);
    }
    all
}

/// Sets a producer config of the setup's one producer.
fn set_producer(s: &mut Scenario, key: &str, value: kplay_engine::config::ConfigValue) {
    let config = &mut s.producers[0].config;
    config.retain(|(k, _)| k != key);
    config.push((key.to_string(), value));
}

/// The curves a learner expects from the acks=all setup: throughput against `batch.size`
/// and `linger.ms` (rising, then flat), and latency against load (flat, then climbing as
/// the brokers' request handling saturates).
pub fn curves() -> Result<Vec<Curve>, String> {
    use kplay_engine::config::ConfigValue::Int;
    let mut out = Vec::new();
    let mut points = Vec::new();
    for kb in [1, 2, 4, 8, 16, 64, 256] {
        let edit = move |s: &mut Scenario| set_producer(s, "batch.size", Int(kb * 1_024));
        points.push(curve_point(&edit, kb as u64 * 1_024)?);
    }
    out.push(Curve {
        title: "throughput against batch.size (closed loop, linger.ms = 0)",
        setting: "batch.size",
        points: std::mem::take(&mut points),
    });
    // A producer as fast as it can fills every batch at once whatever linger.ms: it matters
    // below that, where it trades latency for fewer, fuller requests (less work per record
    // for the brokers; RecordAccumulator.ready() waits for it unless a batch is full).
    for ms in [0, 1, 2, 5, 10, 20, 50] {
        let edit = move |s: &mut Scenario| {
            s.producers[0].rate_per_sec = 100_000;
            set_producer(s, "batch.size", Int(65_536));
            set_producer(s, "linger.ms", Int(ms));
        };
        points.push(curve_point(&edit, ms as u64)?);
    }
    out.push(Curve {
        title: "linger.ms at 100,000 records/s (batch.size = 64 KB)",
        setting: "linger.ms",
        points: std::mem::take(&mut points),
    });
    for rate in [50_000, 100_000, 200_000, 300_000, 380_000, 420_000, 460_000] {
        let edit = move |s: &mut Scenario| s.producers[0].rate_per_sec = rate;
        points.push(curve_point(&edit, rate)?);
    }
    out.push(Curve {
        title: "produce latency against load (records/s offered)",
        setting: "rate_per_sec",
        points: std::mem::take(&mut points),
    });
    let text = include_str!("../../../scenarios/perf/compression.toml");
    for (i, codec) in ["none", "lz4", "snappy", "zstd", "gzip"]
        .into_iter()
        .enumerate()
    {
        let value = kplay_engine::config::ConfigValue::Str(codec.to_string());
        let edit = move |s: &mut Scenario| set_producer(s, "compression.type", value.clone());
        points.push(point_of(text, &edit, i as u64, codec.to_string())?);
    }
    out.push(Curve {
        title: "compression.type, 1 KB JSON values (scenarios/perf/compression.toml)",
        setting: "compression",
        points,
    });
    Ok(out)
}

fn print_curves(out: &mut dyn Write) -> Result<(), Failure> {
    for c in curves().map_err(Failure::BadInput)? {
        let _ = writeln!(out, "\n{}", c.title);
        let _ = writeln!(
            out,
            "{:>14} {:>12} {:>10} {:>12} {:>8} {:>8}",
            c.setting, "records/s", "requests/s", "batch bytes", "p50 ms", "p99 ms"
        );
        for p in &c.points {
            let _ = writeln!(
                out,
                "{:>14} {:>12} {:>10} {:>12} {:>8} {:>8}",
                p.label,
                thousands(p.records_per_sec),
                thousands(p.requests_per_sec),
                thousands(p.batch_bytes),
                p.p50_ms,
                p.p99_ms
            );
        }
    }
    Ok(())
}
