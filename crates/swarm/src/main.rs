//! `kplay-swarm`: runs the swarm over a range of seeds on every core and prints seeds per
//! second, violations, and for each failing seed the files and lines that replay it (the plan,
//! and the plan shrunk to the fewest faults that still fail). `cargo xtask swarm` runs it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kplay_swarm::{generate, run, shrink, Outcome, Plan, Report};

const USAGE: &str = "usage: kplay-swarm [--seeds N] [--from S] [--seed S] [--jobs J] [--no-shrink] [--out DIR] [--plan]
  --seeds N    how many seeds (default 1000)
  --from S     the first seed (default 1)
  --seed S     one seed, with its plan printed
  --jobs J     threads (default: every core)
  --no-shrink  do not shrink failing plans
  --out DIR    where failing plans are written (default target/swarm)
  --plan       write each seed's plan as a scenario file into DIR without running it
  --plant BUG  run with a deliberate bug (built with --features planted-bugs)";

struct Args {
    from: u64,
    seeds: u64,
    jobs: usize,
    shrink: bool,
    out: PathBuf,
    verbose: bool,
    plan_only: bool,
    plant: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        from: 1,
        seeds: 1_000,
        jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        shrink: true,
        out: PathBuf::from("target/swarm"),
        verbose: false,
        plan_only: false,
        plant: None,
    };
    let mut i = 0;
    let number = |i: usize, flag: &str| -> Result<u64, String> {
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a whole number\n{USAGE}"))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--seeds" => a.seeds = number(i, "--seeds")?,
            "--from" => a.from = number(i, "--from")?,
            "--seed" => {
                a.from = number(i, "--seed")?;
                a.seeds = 1;
                a.verbose = true;
            }
            "--jobs" => a.jobs = number(i, "--jobs")?.max(1) as usize,
            "--out" => {
                a.out = PathBuf::from(args.get(i + 1).ok_or("--out needs a directory")?);
            }
            "--no-shrink" => {
                a.shrink = false;
                i += 1;
                continue;
            }
            "--plant" => {
                a.plant = Some(args.get(i + 1).ok_or("--plant needs a bug's name")?.clone());
            }
            "--plan" => {
                a.plan_only = true;
                i += 1;
                continue;
            }
            "-h" | "--help" | "help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
        i += 2;
    }
    Ok(a)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.plan_only {
        let _ = std::fs::create_dir_all(&args.out);
        for seed in args.from..args.from + args.seeds {
            let file = args.out.join(format!("seed-{seed}.toml"));
            let text = generate(seed).scenario().to_toml();
            if let Err(e) = std::fs::write(&file, text) {
                eprintln!("{}: {e}", file.display());
                std::process::exit(2);
            }
            println!("{}", file.display());
        }
        return;
    }
    if let Some(bug) = &args.plant {
        if !plantable(bug) {
            eprintln!("--plant {bug}: not a planted bug, or built without --features planted-bugs");
            std::process::exit(2);
        }
    }
    let failures = swarm(&args);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}

/// Runs the seeds; returns how many failed.
fn swarm(args: &Args) -> usize {
    let next = AtomicU64::new(args.from);
    let end = args.from + args.seeds;
    let done = AtomicU64::new(0);
    let events = AtomicU64::new(0);
    let failed: Mutex<Vec<(Plan, Outcome)>> = Mutex::new(Vec::new());
    // The seeds running now, with when they started: a seed that takes minutes is reported.
    let running: Mutex<Vec<(u64, Instant)>> = Mutex::new(Vec::new());
    let start = Instant::now();
    println!(
        "swarm: seeds {} to {} on {} threads",
        args.from,
        end - 1,
        args.jobs
    );
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    break;
                }
                let plan = generate(seed);
                if args.verbose {
                    describe(&plan);
                }
                running
                    .lock()
                    .expect("not poisoned")
                    .push((seed, Instant::now()));
                let outcome = run_seed(&plan, args.plant.as_deref());
                running
                    .lock()
                    .expect("not poisoned")
                    .retain(|(s, _)| *s != seed);
                events.fetch_add(outcome.events, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
                if let Some(f) = &outcome.failure {
                    println!("seed {seed}: {f}");
                    failed
                        .lock()
                        .expect("no panics while held")
                        .push((plan, outcome));
                }
            });
        }
        // Progress every ten seconds, for long runs.
        let mut last = Instant::now();
        while done.load(Ordering::Relaxed) < args.seeds {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() >= Duration::from_secs(10) {
                last = Instant::now();
                let n = done.load(Ordering::Relaxed);
                let errors = failed.lock().expect("not poisoned").len();
                println!(
                    "  {n} of {} seeds, {:.1} seeds/s, {errors} failing",
                    args.seeds,
                    n as f64 / start.elapsed().as_secs_f64()
                );
                for (seed, since) in running.lock().expect("not poisoned").iter() {
                    if since.elapsed() > Duration::from_secs(30) {
                        println!("  seed {seed} has run for {} s", since.elapsed().as_secs());
                    }
                }
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let mut failed = failed.into_inner().expect("not poisoned");
    failed.sort_by_key(|(p, _)| p.seed);
    for (plan, outcome) in &failed {
        let failure = outcome.failure.clone().expect("failed");
        let shrunk = args.shrink.then(|| {
            let bug = args.plant.as_deref();
            shrink(plan, &failure, |p: &Plan| run_seed(p, bug).failure)
        });
        let report = Report {
            seed: plan.seed,
            failure,
            faults: plan.faults.len(),
            shrunk,
        };
        print!("\n{}", report.write(plan, &args.out));
    }
    println!(
        "\nswarm: {} seeds in {secs:.1} s ({:.1} seeds/s, {:.1} M events), {} failing",
        args.seeds,
        args.seeds as f64 / secs,
        events.load(Ordering::Relaxed) as f64 / 1e6,
        failed.len()
    );
    failed.len()
}

/// Prints a plan's profile and faults (with `--seed`).
fn describe(plan: &Plan) {
    println!(
        "seed {}: {} brokers, profile {} {:?}, heal at {} ms, end at {} ms",
        plan.seed,
        plan.base.cluster.brokers,
        plan.profile.name(),
        plan.profile.kinds,
        plan.heal_ms,
        plan.end_ms
    );
    for f in &plan.faults {
        println!("  {:>6} ms  {:?}", f.at_ms, f.kind);
    }
}

/// Runs one plan, with the named bug planted if any.
fn run_seed(plan: &Plan, bug: Option<&str>) -> Outcome {
    #[cfg(feature = "planted-bugs")]
    if let Some(bug) = bug.and_then(kplay_engine::planted::Bug::named) {
        return kplay_swarm::run::run_planted(plan, bug);
    }
    let _ = bug;
    run(plan)
}

/// Whether `--plant NAME` names a bug this build can plant.
fn plantable(name: &str) -> bool {
    #[cfg(feature = "planted-bugs")]
    return kplay_engine::planted::Bug::named(name).is_some();
    #[cfg(not(feature = "planted-bugs"))]
    {
        let _ = name;
        false
    }
}
