//! `kplay trace-record`: one record's journey through a scenario's run, step by step with the
//! virtual time and the reason for each wait. The run is deterministic, so it is found by a
//! first run (the first record sent with a key, or the record at an offset at the end) and
//! followed in a replay, which the engine's observer watches without changing it.

use std::io::Write;

use kplay_engine::record::RecordId;
use kplay_engine::sim::Journey;
use kplay_engine::Sim;
use kplay_scenario::Scenario;

use super::{parse_u64, Failure};

/// Which record to follow.
enum Pick {
    Key(String),
    Offset {
        topic: String,
        partition: u32,
        offset: u64,
    },
}

struct Options {
    path: String,
    seed: Option<u64>,
    pick: Pick,
}

/// `TOPIC:PARTITION:OFFSET`, the topic possibly holding colons itself.
fn parse_offset(value: Option<&String>) -> Result<Pick, Failure> {
    let v =
        value.ok_or_else(|| Failure::BadInput("--offset needs TOPIC:PARTITION:OFFSET".into()))?;
    let bad = || {
        Failure::BadInput(format!(
            "--offset: expected TOPIC:PARTITION:OFFSET (for example orders:3:41), got {v:?}"
        ))
    };
    let mut parts = v.rsplitn(3, ':');
    let (offset, partition, topic) = (parts.next(), parts.next(), parts.next());
    let (Some(offset), Some(partition), Some(topic)) = (offset, partition, topic) else {
        return Err(bad());
    };
    if topic.is_empty() {
        return Err(bad());
    }
    Ok(Pick::Offset {
        topic: topic.to_string(),
        partition: partition.parse().map_err(|_| bad())?,
        offset: offset.parse().map_err(|_| bad())?,
    })
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, Failure> {
        let (mut path, mut seed, mut pick) = (None, None, None);
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--seed" => {
                    seed = Some(parse_u64("--seed", args.get(i + 1), i64::MAX as u64)?);
                    i += 1;
                }
                "--key" | "--offset" if pick.is_some() => {
                    return Err(Failure::BadInput(
                        "trace-record takes one of --key and --offset".into(),
                    ))
                }
                "--key" => {
                    let key = args.get(i + 1);
                    let key = key.ok_or_else(|| Failure::BadInput("--key needs a value".into()))?;
                    pick = Some(Pick::Key(key.clone()));
                    i += 1;
                }
                "--offset" => {
                    pick = Some(parse_offset(args.get(i + 1))?);
                    i += 1;
                }
                flag if flag.starts_with("--") => {
                    return Err(Failure::BadInput(format!("unknown option {flag:?}")))
                }
                p if path.is_none() => path = Some(p.to_string()),
                extra => return Err(Failure::BadInput(format!("unexpected argument {extra:?}"))),
            }
            i += 1;
        }
        let path =
            path.ok_or_else(|| Failure::BadInput("trace-record needs a scenario FILE".into()))?;
        let pick = pick.ok_or_else(|| {
            Failure::BadInput(
                "trace-record needs --key K or --offset TOPIC:PARTITION:OFFSET".into(),
            )
        })?;
        Ok(Options { path, seed, pick })
    }
}

pub(super) fn trace_record(args: &[String], out: &mut dyn Write) -> Result<(), Failure> {
    let Options { path, seed, pick } = Options::parse(args)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::BadInput(format!("cannot read {path}: {e}")))?;
    let scenario = Scenario::parse(&text).map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let build = || {
        scenario
            .build(seed)
            .map_err(|e| Failure::BadInput(format!("{path}: {e}")))
    };
    let end = scenario.end();
    let mut first = build()?;
    if let Pick::Key(key) = &pick {
        first.watch_key(key.as_bytes());
    }
    first.run_until(end);
    let id = find(&first, &pick)?;
    let mut replay = build()?;
    replay.watch_record(id);
    replay.run_until(end);
    let journey = replay.journey().expect("a record is followed");
    let _ = write!(out, "{}", render(&replay, &journey));
    let seed = replay.seed();
    let how = match &pick {
        Pick::Key(k) => format!("--key {k:?}"),
        Pick::Offset {
            topic,
            partition,
            offset,
        } => format!("--offset {topic}:{partition}:{offset}"),
    };
    let _ = writeln!(out, "replay: kplay trace-record {path} {how} --seed {seed}");
    Ok(())
}

/// The record the first run picks, or why there is none (naming the flag).
fn find(sim: &Sim, pick: &Pick) -> Result<RecordId, Failure> {
    match pick {
        Pick::Key(key) => sim.found_key().ok_or_else(|| {
            Failure::BadInput(format!(
                "--key: no record with key {key:?} was sent in this run (to {})",
                sim.now()
            ))
        }),
        Pick::Offset {
            topic,
            partition,
            offset,
        } => sim
            .record_at(topic, *partition, *offset)
            .map_err(|why| Failure::BadInput(format!("--offset: {why} at the end of the run"))),
    }
}

/// The journey as text: a header, one step per line with its reason under it, and the end.
fn render(sim: &Sim, j: &Journey) -> String {
    let producer = sim
        .producer(j.record.producer)
        .map_or(format!("#{}", j.record.producer), |p| p.spec.name.clone());
    let mut s = format!("record {} of producer {producer}", j.record.seq);
    if let Some(key) = &j.key {
        s += &format!(", key {key:?}");
    }
    if let (Some(t), Some(p)) = (&j.topic, j.partition) {
        s += &format!(", {t}-{p}");
    }
    if let Some(o) = j.offset {
        s += &format!(" offset {o}");
    }
    s.push('\n');
    for step in &j.steps {
        s += &format!(
            "{:>10}  {}\n{:>10}  why: {}\n",
            step.at.to_string(),
            step.what,
            "",
            step.why
        );
    }
    if j.steps_dropped > 0 {
        s += &format!("{:>10}  ({} more steps not kept)\n", "", j.steps_dropped);
    }
    s += &format!("end: {}\n", j.end_text);
    s
}
