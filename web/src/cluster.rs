//! The brokers: up, crashed, paused, cut off or fenced; the controller; fault buttons.

use kplay_engine::snapshot::{BrokerStatus, BrokerView, PartitionView};
use kplay_engine::Instant;
use kplay_playground::{Action, TimelineAction as Live};
use yew::prelude::*;

use crate::input::{use_text_field, TextField};
use crate::Ctx;

/// A broker's state as the panel says it, and its CSS class.
fn state_of(b: &BrokerView) -> (&'static str, &'static str) {
    match (b.status, b.paused, b.isolated) {
        (BrokerStatus::Crashed, _, _) => ("crashed", "down"),
        (_, true, _) => ("paused", "paused"),
        (_, _, true) => ("cut off", "isolated"),
        _ => ("up", "up"),
    }
}

/// Why a broker that stopped heartbeating still counts: the controller fences it only when its
/// session runs out (at its first session check after `broker.session.timeout.ms` without a
/// heartbeat). Until then it stays in every ISR, so acks=all writes wait for it, and the
/// partitions it led have no working leader.
fn fence_countdown(b: &BrokerView, now: Instant) -> Html {
    let silent = b.status == BrokerStatus::Crashed || b.paused || b.isolated;
    let Some(expires) = b.session_expires.filter(|_| silent && !b.fenced) else {
        return Html::default();
    };
    let left_ms = expires.saturating_since(now).as_millis();
    let when = if left_ms == 0 {
        "session expired: fenced at the controller's next check".to_string()
    } else {
        format!("fenced in {}.{} s", left_ms / 1000, left_ms % 1000 / 100)
    };
    let id = b.id;
    html! {
        <div class="fence-countdown" data-testid={format!("fence-countdown-{id}")}
            title="Until it is fenced, it stays in every ISR: acks=all writes wait for it">
            { format!("{when}: broker.session.timeout.ms = {}", b.session_timeout_ms) }
        </div>
    }
}

/// What holds a partition back, said after its leader in its row: a leader that is down but
/// not yet fenced (the metadata still names it), or in-sync followers that are down, behind the
/// leader: the high watermark waits for them (it is the lowest log end of the ISR) until the
/// controller fences them or the leader drops them after `replica.lag.time.max.ms`.
pub fn held_back(p: &PartitionView) -> String {
    let state = |b: u32| p.replica_states.iter().find(|r| r.broker == b);
    let Some(leader) = p.leader.and_then(state) else {
        return String::new();
    };
    if !leader.up {
        return " (down, not fenced yet)".to_string();
    }
    let behind: Vec<String> = p
        .isr
        .iter()
        .filter_map(|&b| state(b))
        // A follower a few milliseconds behind is replication at work; one that is down
        // holds the high watermark until the controller fences it.
        .filter(|r| r.broker != leader.broker && !r.up && r.log_end < leader.log_end)
        .map(|r| r.broker.to_string())
        .collect();
    match behind.as_slice() {
        _ if p.high_watermark >= leader.log_end => String::new(),
        [] => String::new(),
        [one] => format!(" · waiting for replica {one} (down, still in the ISR)"),
        many => format!(
            " · waiting for replicas {} (down, still in the ISR)",
            many.join(", ")
        ),
    }
}

#[derive(Properties, PartialEq)]
struct SlowLinkProps {
    dispatch: Callback<Action>,
}

/// Adds latency between two brokers (0 restores the link).
#[function_component]
fn SlowLink(props: &SlowLinkProps) -> Html {
    let (a, b, ms) = (
        use_text_field(|| "0".to_string()),
        use_text_field(|| "1".to_string()),
        use_text_field(|| "200".to_string()),
    );
    let submit = {
        let d = props.dispatch.clone();
        let (a, b, ms) = (a.clone(), b.clone(), ms.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // Unparsable numbers become out-of-range ones, which the engine refuses by name.
            let n = |f: &TextField| f.value().trim().parse::<u32>().unwrap_or(u32::MAX);
            let extra_ms = ms.value().trim().parse::<u64>().unwrap_or(u64::MAX);
            d.emit(Action::Live(Live::SlowLink {
                broker: n(&a),
                peer: n(&b),
                extra_ms,
            }));
        })
    };
    html! {
        <form class="slow-link" onsubmit={submit}>
            { "Slow link between broker" }
            <input value={a.value()} oninput={a.oninput.clone()} aria-label="first broker" />
            { "and" }
            <input value={b.value()} oninput={b.oninput.clone()} aria-label="second broker" />
            { "by" }
            <input value={ms.value()} oninput={ms.oninput.clone()}
                aria-label="extra latency in ms" />
            { "ms" }
            <button type="submit" data-testid="slow-link">{ "Apply" }</button>
        </form>
    }
}

#[function_component]
pub fn Brokers() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let live = |l: Live| ctx.dispatch.reform(move |_| Action::Live(l.clone()));
    let any_isolated = ctx.snapshot.brokers.iter().any(|b| b.isolated);
    // Which partitions each broker hosts, and whether it leads them.
    let mut hosted: std::collections::BTreeMap<u32, Vec<(String, bool)>> =
        std::collections::BTreeMap::new();
    for t in ctx.snapshot.topics.iter().filter(|t| !t.internal) {
        for p in &t.partitions {
            for &r in &p.replicas {
                hosted
                    .entry(r)
                    .or_default()
                    .push((format!("{}-{}", p.topic, p.partition), p.leader == Some(r)));
            }
        }
    }
    let t = &ctx.snapshot.totals;
    html! {
        <div class="panel">
            <div class="panel-head">
                <h2>{ "Brokers" }</h2>
                <span class="totals" data-testid="record-totals">
                    { format!("produced {} · acked {} · failed {} · consumed {}", t.produced, t.acked, t.failed, t.consumed) }
                    if t.duplicates > 0 { { format!(" · duplicates {}", t.duplicates) } }
                </span>
                <button class="small" data-testid="audit" title="Check every acknowledged record against the logs"
                    onclick={ctx.dispatch.reform(|_| Action::Audit)}>{ "Audit losses" }</button>
                if any_isolated {
                    <button onclick={live(Live::HealNetwork)} data-testid="heal-network">{ "Heal network" }</button>
                }
            </div>
            if let Some(a) = &ctx.audit {
                <div class={classes!("audit", (a.lost > 0).then_some("lossy"))} data-testid="audit-result" data-lost={a.lost.to_string()}>
                    { format!("At {}: {} acknowledged, {} lost (acknowledged, then gone from every log).", a.at, a.acked, a.lost) }
                    if !a.examples.is_empty() {
                        <ul>{ for a.examples.iter().map(|e| html! { <li>{ e }</li> }) }</ul>
                    }
                </div>
            }
            <div class="brokers">
                <div class="broker controller" data-testid="controller">
                    <div class="broker-name">{ "controller" }</div>
                    <div class="broker-state">{ "KRaft quorum" }</div>
                    <div class="broker-stats">{ "fences silent brokers, elects leaders" }</div>
                </div>
                { for ctx.snapshot.brokers.iter().map(|b| {
                    let (state, class) = state_of(b);
                    let id = b.id;
                    html! {
                        <div class={classes!("broker", class)} key={id} data-testid={format!("broker-{id}")} data-state={state}>
                            <div class="broker-name">
                                { format!("broker {id}") }
                            </div>
                            <div class="broker-state">{ state }
                                if b.fenced { <span class="tag warn" title="No heartbeat for broker.session.timeout.ms">{ "fenced" }</span> }
                            </div>
                            { fence_countdown(b, ctx.snapshot.now) }
                            <div class="broker-stats">{ format!("leads {} · hosts {}", b.leader_of, b.replicas) }</div>
                            <div class="hosted" title="partitions on this broker; ★ leads">
                                { for hosted.get(&id).into_iter().flatten().map(|(name, leads)| html! {
                                    <span class={classes!("hp", leads.then_some("leads"))}>{ if *leads { format!("★{name}") } else { name.clone() } }</span>
                                }) }
                            </div>
                            <div class="broker-actions">
                                if b.status == BrokerStatus::Crashed {
                                    <button onclick={live(Live::RestartBroker { broker: id })} data-testid={format!("restart-{id}")} aria-label={format!("Restart broker {id}")}>{ "Restart" }</button>
                                } else {
                                    <button onclick={live(Live::CrashBroker { broker: id })} data-testid={format!("crash-{id}")} aria-label={format!("Crash broker {id}")}>{ "Crash" }</button>
                                    <button onclick={live(Live::PauseBroker { broker: id, duration_ms: 15_000 })} title="A 15 s GC pause" aria-label={format!("Pause broker {id} for 15 s")}>{ "Pause" }</button>
                                    if !b.isolated {
                                        <button onclick={live(Live::PartitionNetwork { brokers: vec![id] })} title="Cut it off from the other brokers and the controller" aria-label={format!("Isolate broker {id}")}>{ "Isolate" }</button>
                                    }
                                }
                            </div>
                        </div>
                    }
                }) }
            </div>
            <SlowLink dispatch={ctx.dispatch.clone()} />
        </div>
    }
}
