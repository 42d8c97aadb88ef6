//! The machine-readable run report (`kplay run --json`), the same for the CLI and the wasm
//! facade.

use kplay_engine::snapshot::{GroupView, Report};
use serde_json::{json, Value};

/// The report as JSON. `digest` is a 16-digit hex string so JavaScript reads it exactly.
pub fn report_json(r: &Report) -> Value {
    // Internal topics (`__consumer_offsets`, `__transaction_state`) are not the user's data.
    let users = r.partitions.iter().filter(|p| !p.topic.starts_with("__"));
    let partitions: Vec<Value> = users.map(partition_json).collect();
    let lost: Vec<Value> = r
        .lost
        .iter()
        .map(|l| {
            json!({
                "producer": l.producer,
                "record": l.id.seq,
                "topic": l.topic,
                "partition": l.partition,
                "offset": l.offset,
            })
        })
        .collect();
    let failures = object(
        r.failures
            .iter()
            .map(|(e, n)| (e.name().to_string(), json!(n))),
    );
    let audiences: Vec<Value> = r.audiences.iter().map(audience_json).collect();
    let groups: Vec<Value> = r.groups.iter().map(|g| group_with_audience(r, g)).collect();
    json!({
        "seed": r.seed,
        "digest": format!("{:016x}", r.digest),
        "end_ms": r.now.as_millis(),
        "events": r.events,
        "produced": r.produced,
        "acked": r.acked,
        "failed": r.failed,
        "abandoned": r.abandoned,
        "failures": failures,
        "consumed": r.consumed,
        "lost_acked": r.lost_acked,
        "lost": lost,
        "expired": r.expired,
        "duplicates": r.duplicates,
        "out_of_order": r.out_of_order,
        "partitions": partitions,
        "consumers": audiences,
        "groups": groups,
        "rebalances": {
            "count": r.groups.iter().map(|g| g.rebalances).sum::<u64>(),
            "paused_ms": r.groups.iter().map(|g| g.paused_ms).sum::<u64>(),
        },
        "refused": r.refused.iter().map(|(at, why)| json!({
            "at_ms": at.as_millis(),
            "reason": why,
        })).collect::<Vec<_>>(),
        "refused_count": r.refused_count,
        "transactions": transactions_json(&r.transactions),
        "processors": processors_json(r),
        "producers": r.producers.iter().map(producer_json).collect::<Vec<_>>(),
        "alerts": r.alerts.iter().map(|a| json!({
            "at_ms": a.at_ms,
            "rule": a.rule,
            "scope": a.scope,
            "state": if a.fired { "fired" } else { "resolved" },
            "value": a.value_milli as f64 / 1_000.0,
        })).collect::<Vec<_>>(),
        "waiting_for_topics": r.waiting_for_topics.iter().map(|(c, t)| json!({
            "consumer": c,
            "topic": t,
        })).collect::<Vec<_>>(),
    })
}

/// A JSON object of `pairs`, by insertion rather than `collect` (which sorts through its own copy
/// of the standard sort: see `kplay_engine::sort`).
fn object(pairs: impl Iterator<Item = (String, Value)>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    map
}

fn partition_json(p: &kplay_engine::snapshot::PartitionReport) -> Value {
    json!({
        "topic": p.topic,
        "partition": p.partition,
        "leader": p.leader,
        "isr": p.isr,
        "log_start": p.log_start,
        "hw": p.high_watermark,
        "lso": p.last_stable_offset,
        "leo": p.log_end,
    })
}

fn audience_json(a: &kplay_engine::snapshot::AudienceReport) -> Value {
    json!({
        "audience": a.audience,
        "consumed": a.consumed,
        "duplicates": a.duplicates,
        "out_of_order": a.out_of_order,
        "read_aborted": a.read_aborted,
        "retried": a.failed.retried,
        "dlq": a.failed.dead_lettered,
        "skipped": a.failed.skipped,
        "reordered": a.failed.reordered,
    })
}

/// A group with what its audience read of aborted transactions.
fn group_with_audience(r: &Report, g: &GroupView) -> Value {
    let name = format!("group:{}", g.group);
    let a = r.audiences.iter().find(|a| a.audience == name);
    let mut v = group_json(g);
    v["read_aborted"] = json!(a.map_or(0, |a| a.read_aborted));
    let failed = a.map(|a| a.failed).unwrap_or_default();
    v["retried"] = json!(failed.retried);
    v["dlq"] = json!(failed.dead_lettered);
    v["skipped"] = json!(failed.skipped);
    v["reordered"] = json!(failed.reordered);
    v
}

fn processors_json(r: &Report) -> Vec<Value> {
    (r.processors.iter())
        .map(|p| {
            json!({
                "name": p.name,
                "guarantee": p.guarantee,
                "inputs_processed": p.inputs_processed,
                "outputs_committed": p.outputs_committed,
                "duplicates_in_output": p.duplicates_in_output,
            })
        })
        .collect()
}

fn transactions_json(t: &kplay_engine::snapshot::TransactionsReport) -> Value {
    json!({
        "committed": t.committed,
        "aborted": t.aborted,
        "fenced": t.fenced,
        "timed_out": t.timed_out,
    })
}

/// One group of the report: its state, members, committed offsets and what it did.
fn group_json(g: &GroupView) -> Value {
    let assignment = object(
        g.members
            .iter()
            .map(|m| (m.member_id.clone(), json!(m.assignment))),
    );
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "consumer": m.consumer,
                "instance_id": m.instance_id,
            })
        })
        .collect();
    let committed: Vec<Value> = g
        .partitions
        .iter()
        .map(|p| {
            json!({
                "topic": p.topic,
                "partition": p.partition,
                "committed": p.committed,
                "hw": p.high_watermark,
                "lag": p.lag,
                "owner": p.owner,
            })
        })
        .collect();
    json!({
        "group": g.group,
        "coordinator": g.coordinator,
        "state": g.state,
        "generation": g.generation,
        "protocol": g.protocol,
        "leader": g.leader,
        "members": members,
        "assignment": assignment,
        "committed": committed,
        "lag": g.lag,
        // The highest lag sampled so far (the lag history is sampled, at least every
        // half second): how far behind the group fell, for lessons on backpressure.
        "max_lag": g.lag_history.iter().map(|(_, lag)| *lag).max().unwrap_or(0).max(g.lag),
        // Members the assignor gave nothing: more members than partitions.
        "idle_members": g.members.iter().filter(|m| m.assignment.is_empty()).count(),
        "rebalances": g.rebalances,
        "paused_ms": g.paused_ms,
        "processed": g.processed,
        "duplicates": g.duplicates,
        "lost": g.lost,
        "end_to_end_ms": percentiles_json(g.end_to_end),
    })
}

/// Latency percentiles in ms (`null` before the first sample).
fn percentiles_json(p: Option<kplay_engine::histogram::Percentiles>) -> Value {
    p.map_or(
        Value::Null,
        |p| json!({ "p50": p.p50, "p99": p.p99, "p99_9": p.p999, "count": p.count }),
    )
}

fn producer_json(p: &kplay_engine::snapshot::ProducerView) -> Value {
    json!({
        "producer": p.name,
        "topic": p.topic,
        "acks": p.acks,
        "produced": p.produced,
        "acked": p.acked,
        "failed": p.failed,
        "retries": p.retries,
        "requests": p.requests,
        "batches": p.batches,
        "produce_latency_ms": percentiles_json(p.produce_latency),
    })
}
