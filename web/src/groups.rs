//! Consumer groups: state, generation, members and what each owns, committed offsets and lag
//! per partition, lag over time with the time to drain, and the rebalance timeline.

use kplay_engine::snapshot::GroupView;
use kplay_engine::trace::TraceKind;
use yew::prelude::*;

use kplay_playground::{Action, Edit};

use crate::colour::member_colour;
use crate::Ctx;

fn lag_chart(g: &GroupView) -> Html {
    let points = &g.lag_history;
    if points.len() < 2 {
        return html! { <p class="empty">{ "Lag over time appears after a second of running." }</p> };
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0.max(points[0].0 + 1));
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let (w, h) = (300u64, 60u64);
    let path: Vec<String> = points
        .iter()
        .map(|&(t, lag)| format!("{},{}", (t - t0) * w / (t1 - t0), h - lag * h / max))
        .collect();
    html! {
        <svg class="lagchart" viewBox={format!("0 0 {w} {h}")} role="img"
             aria-label={format!("lag of group {} over the last {} s, up to {max}", g.group, (t1 - t0) / 1000)}>
            <polyline fill="none" stroke="#D55E00" stroke-width="1.5" points={path.join(" ")} />
        </svg>
    }
}

#[function_component]
pub fn Groups() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let s = &ctx.snapshot;
    if s.groups.is_empty() {
        return html! {};
    }
    html! {
        <div class="panel" data-testid="groups">
            <div class="panel-head"><h2>{ "Consumer groups" }</h2></div>
            { for s.groups.iter().map(|g| {
                // "Add a member": a new consumer with the group's subscription.
                let add = {
                    let d = ctx.dispatch.clone();
                    let mut topics: Vec<String> = g.partitions.iter().map(|p| p.topic.clone()).collect();
                    topics.dedup();
                    let taken: Vec<&str> = s.consumers.iter().map(|c| c.name.as_str()).collect();
                    let id = (1..).map(|i| format!("{}-{i}", g.group)).find(|n| !taken.contains(&n.as_str())).unwrap_or_default();
                    let group = g.group.clone();
                    Callback::from(move |_| d.emit(Action::Edit(Edit::AddConsumer {
                        id: id.clone(),
                        topics: topics.join(","),
                        processing_ms: "1".into(),
                        offset_reset: "earliest".into(),
                        group: group.clone(),
                        commit: "auto".into(),
                    })))
                };
                let max_lag = g.partitions.iter().map(|p| p.lag).max().unwrap_or(0).max(1);
                let drain = drain_text(g);
                html! {
                    <div class="group" key={g.group.clone()} data-testid={format!("group-{}", g.group)}
                         data-state={g.state.clone()} data-generation={g.generation.to_string()} data-lag={g.lag.to_string()}>
                        <div class="client-head">
                            <strong>{ &g.group }</strong>
                            <span class="meta">{ format!("{} · generation {} · {} · coordinator broker {} (__consumer_offsets-{})",
                                g.state, g.generation, g.protocol.as_deref().unwrap_or("no assignor yet"),
                                g.coordinator.map_or("none".to_string(), |c| c.to_string()), g.offsets_partition) }</span>
                            <button class="small" data-testid={format!("group-add-{}", g.group)} onclick={add} title="A new consumer joins this group">{ "Add a member" }</button>
                        </div>
                        <div class="client-stats">{ format!("lag {} ({drain}) · {} rebalances · members paused {} ms in total · processed {} · processed twice {}",
                            g.lag, g.rebalances, g.paused_ms, g.processed, g.duplicates) }</div>
                        { failed_records(g) }
                        <ul class="members">
                            { for g.members.iter().map(|m| {
                                let tps: Vec<String> = m.assignment.iter().map(|(t, p)| format!("{t}-{p}")).collect();
                                let leader = g.leader.as_deref() == Some(m.member_id.as_str());
                                html! {
                                    <li key={m.member_id.clone()}>
                                        <span class="swatch" style={format!("background:{}", member_colour(g, m.consumer.as_deref()))}></span>
                                        { format!("{} {}{}{}: ", m.consumer.as_deref().unwrap_or("(gone)"), m.member_id,
                                            if leader { " (leader)" } else { "" },
                                            m.instance_id.as_deref().map(|i| format!(" static {i}")).unwrap_or_default()) }
                                        if tps.is_empty() { <em>{ "idle: no partition" }</em> } else { { tps.join(", ") } }
                                    </li>
                                }
                            }) }
                        </ul>
                        <div class="lags">
                            { for g.partitions.iter().map(|p| html! {
                                <div class="lag" key={format!("{}-{}", p.topic, p.partition)}
                                     title={format!("{}-{}: committed {}, high watermark {}, owner {}", p.topic, p.partition, p.committed.map_or("none".into(), |o| o.to_string()), p.high_watermark, p.owner.as_deref().unwrap_or("none"))}>
                                    <span class="swatch" style={format!("background:{}", member_colour(g, p.owner.as_deref()))}></span>
                                    <span class="lname">{ format!("{}-{}", p.topic, p.partition) }</span>
                                    <span class="bar"><span class="fill lagfill" style={format!("width:{}%", p.lag * 100 / max_lag)}></span></span>
                                    <span class="lval">{ p.lag }</span>
                                </div>
                            }) }
                        </div>
                        { lag_chart(g) }
                    </div>
                }
            }) }
            <h3>{ "Rebalance timeline" }</h3>
            <ol class="timeline" data-testid="rebalance-timeline" reversed=true>
                { for s.group_events.iter().rev().take(40).map(|e| {
                    let class = match &e.kind {
                        TraceKind::PartitionsRevoked { .. } => "revoked",
                        TraceKind::PartitionsAssigned { .. } => "assigned",
                        TraceKind::RebalanceStarted { .. } | TraceKind::GenerationStarted { .. } | TraceKind::JoinPhaseExtended { .. } => "rebalance",
                        TraceKind::ConsumerCrashed { .. } | TraceKind::MemberRemoved { .. } | TraceKind::MemberLeaving { .. } => "left",
                        _ => "",
                    };
                    html! { <li class={class}><span class="at">{ format!("{}", e.at) }</span>{ " " }{ e.kind.explained(&s.names).to_string() }</li> }
                }) }
            </ol>
        </div>
    }
}

/// What a group handling failed records (`on_failure`) made of them; nothing otherwise.
fn failed_records(g: &GroupView) -> Html {
    let f = g.failed;
    if !f.routed {
        return Html::default();
    }
    let text = format!(
        "failed records: {} retried · {} in a dead letter topic · {} skipped · \
         {} processed after a later record of their key",
        f.retried, f.dead_lettered, f.skipped, f.reordered
    );
    html! {
        <div class="client-stats" data-testid={format!("failed-{}", g.group)}
            data-retried={f.retried.to_string()} data-dlq={f.dead_lettered.to_string()}
            data-reordered={f.reordered.to_string()}>{ text }</div>
    }
}

/// When the group's lag will be gone, at the rate it falls.
fn drain_text(g: &GroupView) -> String {
    match g.drain_ms {
        Some(ms) => format!("drains in ~{} s at the current rate", ms / 1000),
        None if g.lag == 0 => "caught up".to_string(),
        None => "lag not falling".to_string(),
    }
}
