//! Producers (start, stop, rate, and "produce one record with key K": where it lands and why)
//! and consumers (position and lag per partition).

use kplay_engine::partitioner::explain_key;
use kplay_playground::{Action, Edit, TimelineAction as Live};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::colour::key_colour;
use crate::input::use_text_field;
use crate::Ctx;

/// Where a record with `key` lands in `topic`, and why.
fn explanation(key: &str, topic: &str, partitions: u32) -> Html {
    if key.is_empty() {
        html! { <span>{ "No key: the sticky partitioner picks the partition of the current batch." }</span> }
    } else if partitions == 0 {
        html! { <span>{ format!("Topic {topic} does not exist yet.") }</span> }
    } else {
        let e = explain_key(key.as_bytes(), partitions);
        let p = e.partition;
        html! {
            <span data-testid="produce-explanation" data-partition={p.to_string()}>
                { format!("murmur2({key:?}) = {} → toPositive = {} → {} % {partitions} = ", e.murmur2, e.positive, e.positive) }
                <strong style={format!("border-bottom: 3px solid {}", key_colour(Some(key)))}>{ format!("partition {p}") }</strong>
            </span>
        }
    }
}

#[function_component]
fn ProduceForm() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let key = use_text_field(String::new);
    let value = use_text_field(|| "hello".to_string());
    let chosen = use_state(String::new);
    let Some(producer) = ctx
        .snapshot
        .producers
        .first()
        .map(|p| (p.name.clone(), p.topic.clone()))
    else {
        return html! {};
    };
    let (name, topic) = ctx
        .snapshot
        .producers
        .iter()
        .find(|p| p.name == *chosen)
        .map(|p| (p.name.clone(), p.topic.clone()))
        .unwrap_or(producer);
    let partitions = ctx
        .snapshot
        .topics
        .iter()
        .find(|t| t.name == topic)
        .map_or(0, |t| t.partitions.len() as u32);
    let explanation = explanation(&key.value(), &topic, partitions);
    let submit = {
        let (d, key, value, name) = (
            ctx.dispatch.clone(),
            key.clone(),
            value.clone(),
            name.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let k = Some(key.value()).filter(|k| !k.is_empty());
            d.emit(Action::Live(Live::Produce {
                producer: name.clone(),
                key: k,
                value: Some(value.value()),
                partition: None,
                headers: Vec::new(),
            }));
        })
    };
    let pick = {
        let chosen = chosen.clone();
        Callback::from(move |e: Event| {
            chosen.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    html! {
        <form class="produce" onsubmit={submit}>
            <h3>{ "Produce one record" }</h3>
            <div class="row">
                <label>{ "Producer " }
                    <select onchange={pick} aria-label="Producer">
                        { for ctx.snapshot.producers.iter().map(|p| html! {
                            <option key={p.name.clone()} value={p.name.clone()} selected={p.name == name}>{ &p.name }</option>
                        }) }
                    </select>
                </label>
                <label>{ "Key " }<input data-testid="produce-key" value={key.value()} oninput={key.oninput.clone()} placeholder="user-42" aria-label="Key" /></label>
                <label>{ "Value " }<input data-testid="produce-value" value={value.value()} oninput={value.oninput.clone()} aria-label="Value" /></label>
                <button type="submit" data-testid="produce-submit" class="primary">{ "Send" }</button>
            </div>
            <div class="explain">{ explanation }</div>
        </form>
    }
}

#[function_component]
pub fn Producers() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    html! {
        <div class="panel">
            <div class="panel-head"><h2>{ "Producers" }</h2></div>
            if ctx.snapshot.producers.is_empty() { <p class="empty">{ "No producers: add one below." }</p> }
            { for ctx.snapshot.producers.iter().map(|p| {
                let (d, running) = (&ctx.dispatch, p.running);
                let producer = p.name.clone();
                let toggle = d.reform(move |_| Action::Live(match running {
                    true => Live::StopProducer { producer: producer.clone() },
                    false => Live::StartProducer { producer: producer.clone() },
                }));
                let producer = p.name.clone();
                let remove = d.reform(move |_| Action::Live(Live::RemoveProducer { producer: producer.clone() }));
                let producer = p.name.clone();
                let keys = d.reform(move |e: Event| Action::Edit(Edit::SetProducerKeys {
                    producer: producer.clone(),
                    keys: e.target_unchecked_into::<HtmlInputElement>().value(),
                }));
                let producer = p.name.clone();
                // Unparsable rates become out-of-range ones, which the engine refuses by name.
                let rate = d.reform(move |e: Event| Action::Live(Live::SetRate {
                    producer: producer.clone(),
                    rate_per_sec: e.target_unchecked_into::<HtmlInputElement>().value().trim().parse().unwrap_or(u64::MAX),
                }));
                html! {
                    <div class="client" key={p.name.clone()} data-testid={format!("producer-{}", p.name)}>
                        <div class="client-head">
                            <strong>{ &p.name }</strong>
                            <span class="meta">{ format!("→ {} · acks={}{}", p.topic, p.acks, if p.idempotent { " · idempotent" } else { "" }) }</span>
                            <button class="small" onclick={toggle}>{ if p.running { "Stop" } else { "Start" } }</button>
                            <button class="small" onclick={remove} title="Close the producer">{ "Remove" }</button>
                            <label class="inline small-label">{ "keys " }
                                <select onchange={keys} aria-label={format!("{} key mode", p.name)} title="Changing the key mode restarts the run">
                                    { for ["none", "pool:10", "pool:100", "unique"].iter().map(|k| html! { <option value={*k}>{ *k }</option> }) }
                                    <option value="" selected=true disabled=true>{ "change…" }</option>
                                </select>
                            </label>
                        </div>
                        <div class="client-stats">
                            <label class="inline">{ "rate/s " }<input class="num" type="number" min="0" value={p.rate_per_sec.to_string()} onchange={rate} aria-label={format!("{} rate", p.name)} /></label>
                            { format!(" sent {} · acked {} · failed {} · retries {} · batches {} in flight, {} queued",
                                p.produced, p.acked, p.failed, p.retries, p.in_flight_batches, p.queued_batches) }
                        </div>
                    </div>
                }
            }) }
            <ProduceForm />
        </div>
    }
}

#[function_component]
pub fn Consumers() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    html! {
        <div class="panel">
            <div class="panel-head"><h2>{ "Consumers" }</h2></div>
            if ctx.snapshot.consumers.is_empty() { <p class="empty">{ "No consumers: add one below." }</p> }
            { for ctx.snapshot.consumers.iter().map(|c| {
                let live = |l: Live| ctx.dispatch.reform(move |_| Action::Live(l.clone()));
                let down = c.state == "crashed" || c.state == "stopped";
                let slower = (c.processing_us_per_record / 1000).max(1) * 10;
                let max_lag = c.partitions.iter().filter_map(|p| p.lag).max().unwrap_or(0).max(1);
                // A member outside any generation (joining, or out of the group) shows none.
                let generation = c.generation.map_or("-".to_string(), |g| g.to_string());
                html! {
                    <div class="client" key={c.name.clone()} data-testid={format!("consumer-{}", c.name)} data-lag={c.lag.to_string()}>
                        <div class="client-head">
                            <strong>{ &c.name }</strong>
                            <span class="meta">{ format!("{} · consumed {} · processed {} · lag {}", c.state, c.consumed, c.processed, c.lag) }</span>
                            if let (Some(g), Some(m)) = (&c.group, &c.member_id) {
                                <span class="meta">{ format!(" · {g} as {} (gen {}, {}) · commit {} · {} commits, {} failed · paused {} ms",
                                    if m.is_empty() { "-" } else { m }, generation, c.member_state.as_deref().unwrap_or(""),
                                    c.commit, c.commits, c.failed_commits, c.paused_ms) }</span>
                            }
                            if down {
                                <button class="small" data-testid={format!("consumer-restart-{}", c.name)} onclick={live(Live::RestartConsumer { consumer: c.name.clone() })}>{ "Restart" }</button>
                            } else {
                                <button class="small" data-testid={format!("consumer-stop-{}", c.name)} onclick={live(Live::StopConsumer { consumer: c.name.clone() })} title="close(): commit, leave the group">{ "Stop" }</button>
                                <button class="small" data-testid={format!("consumer-crash-{}", c.name)} onclick={live(Live::CrashConsumer { consumer: c.name.clone() })} title="The process dies: no commit, no LeaveGroup">{ "Crash" }</button>
                                <button class="small" data-testid={format!("consumer-slow-{}", c.name)} onclick={live(Live::SlowConsumer { consumer: c.name.clone(), processing_us_per_record: slower.saturating_mul(1000) })} title="Ten times slower processing">{ format!("Slow ({slower} ms/rec)") }</button>
                            }

                        </div>
                        <div class="lags">
                            { for c.partitions.iter().map(|p| {
                                let lag = p.lag.unwrap_or(0);
                                html! {
                                    <div class="lag" key={format!("{}-{}", p.topic, p.partition)} title={format!("{}-{}: position {}, high watermark {}", p.topic, p.partition, p.position.map_or("none yet".into(), |o| o.to_string()), p.high_watermark.map_or("unknown".into(), |o| o.to_string()))}>
                                        <span class="lname">{ format!("{}-{}", p.topic, p.partition) }</span>
                                        <span class="bar"><span class="fill lagfill" style={format!("width:{}%", lag * 100 / max_lag)}></span></span>
                                        <span class="lval">{ lag }</span>
                                    </div>
                                }
                            }) }
                        </div>
                    </div>
                }
            }) }
        </div>
    }
}
