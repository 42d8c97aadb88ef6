//! Producers (start, stop, rate, and "produce one record with key K": where it lands and why)
//! and consumers (position and lag per partition).

use kplay_engine::partitioner::explain_key;
use kplay_engine::producer::KeyMode;
use kplay_engine::snapshot::{ProducerView, Snapshot};
use kplay_playground::{Action, Edit, TimelineAction as Live};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::colour::key_colour;
use crate::glossary::term;
use crate::input::use_text_field;
use crate::journey::JourneyView;
use crate::topics::quoted_key;
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
        let shown = quoted_key(key);
        html! {
            <span data-testid="produce-explanation" data-partition={p.to_string()}>
                { format!("murmur2({shown}) = {} → toPositive = {} → {} % {partitions} = ",
                    e.murmur2, e.positive, e.positive) }
                <strong style={format!("border-bottom: 3px solid {}", key_colour(Some(key)))}>{ format!("partition {p}") }</strong>
            </span>
        }
    }
}

const FOLLOW_TITLE: &str =
    "Trace the record you sent: its batch, request, append, replication, acknowledgement, readers";

/// The producer the form sends with (the one chosen, else the first): its name, its topic and
/// the topic's partition count (0 if it does not exist yet).
fn chosen_producer(
    snapshot: &kplay_engine::snapshot::Snapshot,
    chosen: &str,
) -> Option<(String, String, u32)> {
    let first = snapshot.producers.first()?;
    let p = snapshot
        .producers
        .iter()
        .find(|p| p.name == chosen)
        .unwrap_or(first);
    let partitions = snapshot
        .topics
        .iter()
        .find(|t| t.name == p.topic)
        .map_or(0, |t| t.partitions.len() as u32);
    Some((p.name.clone(), p.topic.clone(), partitions))
}

/// "Follow this record" for the record the form sent last, and its journey once asked.
#[function_component]
fn FollowSent() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let following = use_state(|| false);
    let follow = {
        let (d, following) = (ctx.dispatch.clone(), following.clone());
        Callback::from(move |_: MouseEvent| {
            following.set(true);
            d.emit(Action::FollowProduced);
        })
    };
    let journey = ctx
        .journey
        .clone()
        .filter(|_| *following && ctx.journey_of_produced);
    html! {
        <>
            <button type="button" class="small" data-testid="follow-produced"
                    onclick={follow.clone()} title={FOLLOW_TITLE}>{ "Follow this record" }</button>
            if let Some(j) = journey { <JourneyView journey={j} on_refresh={follow} /> }
        </>
    }
}

#[function_component]
fn ProduceForm() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let key = use_text_field(String::new);
    let value = use_text_field(|| "hello".to_string());
    let chosen = use_state(String::new);
    // Records sent from this form: the latest can be followed.
    let sends = use_state(|| 0u32);
    let Some((name, topic, partitions)) = chosen_producer(&ctx.snapshot, &chosen) else {
        return html! {};
    };
    let explanation = explanation(&key.value(), &topic, partitions);
    let submit = {
        let (d, key, value, name) = (
            ctx.dispatch.clone(),
            key.clone(),
            value.clone(),
            name.clone(),
        );
        let sends = sends.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            sends.set(*sends + 1);
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
            // Keyed by the number of sends: a new record starts unfollowed.
            if *sends > 0 { <FollowSent key={*sends} /> }
        </form>
    }
}

/// A key pool smaller than the topic's partition count leaves partitions empty: say so, or a
/// user who made a 100-partition topic wonders why 90 of them stay at offset 0.
fn few_keys(p: &ProducerView, snapshot: &Snapshot) -> Html {
    let KeyMode::Pool(keys) = p.keys else {
        return html! {};
    };
    let partitions = snapshot
        .topics
        .iter()
        .find(|t| t.name == p.topic)
        .map_or(0, |t| t.partitions.len() as u32);
    if keys >= partitions {
        return html! {};
    }
    html! {
        <div class="note" data-testid={format!("producer-few-keys-{}", p.name)}>
            { format!("keys pool:{keys}: {keys} distinct keys reach at most {keys} of {}'s {partitions} partitions (a key always goes to the same one); choose more keys or unique to fill them all.", p.topic) }
        </div>
    }
}

#[function_component]
pub fn Producers() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    html! {
        <div class="panel">
            <div class="panel-head"><h2>{ "Producers" }</h2></div>
            if ctx.snapshot.producers.is_empty() { <p class="empty">{ "No producers: add one below." }</p> }
            { for ctx.snapshot.producers.iter().enumerate().map(|(i, p)| {
                // A redeploy (`reconfigure_producer`) closes the old instance and starts a new
                // one under the same name: the old one is listed as such, without controls.
                let newer = ctx.snapshot.producers[i + 1..].iter().any(|q| q.name == p.name);
                if newer {
                    return previous_instance(i, p);
                }
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
                // As typed: the playground says what is wrong with it.
                let rate = d.reform(move |e: Event| Action::Edit(Edit::SetRate {
                    producer: producer.clone(),
                    rate_per_sec: e.target_unchecked_into::<HtmlInputElement>().value(),
                }));
                html! {
                    <div class="client" key={p.name.clone()} data-testid={format!("producer-{}", p.name)}>
                        <div class="client-head">
                            <strong>{ &p.name }</strong>
                            <span class="meta">{ format!("→ {} · acks={}{}", p.topic, p.acks, if p.idempotent { " · idempotent" } else { "" }) }</span>
                            <button class="small" onclick={toggle} aria-label={format!("{} producer {}", if p.running { "Stop" } else { "Start" }, p.name)}>{ if p.running { "Stop" } else { "Start" } }</button>
                            <button class="small" onclick={remove} title="Close the producer" aria-label={format!("Remove producer {}", p.name)}>{ "Remove" }</button>
                            <label class="inline small-label">{ "keys " }
                                <select onchange={keys} aria-label={format!("{} key mode", p.name)} title="Changing the key mode restarts the run">
                                    { for ["none", "pool:10", "pool:100", "unique"].iter().map(|k| html! { <option value={*k}>{ *k }</option> }) }
                                    <option value="" selected=true disabled=true>{ "change…" }</option>
                                </select>
                            </label>
                        </div>
                        <div class="client-stats">
                            <label class="inline">{ "rate/s " }<input class="num" type={rate_input_type(p.rate_per_sec)} value={rate_text(p.rate_per_sec)} onchange={rate} aria-label={format!("{} rate", p.name)} title="records a second, or max (as fast as send() goes: needs a hardware profile)" /></label>
                            { format!(" sent {} · acked {} · failed {} · retries {} · batches {} in flight, {} queued",
                                p.produced, p.acked, p.failed, p.retries, p.in_flight_batches, p.queued_batches) }
                        </div>
                        { transaction_line(p) }
                        { few_keys(p, &ctx.snapshot) }
                    </div>
                }
            }) }
            <ProduceForm />
        </div>
    }
}

/// A transactional producer's own state: its transactional id, where it is in its loop,
/// transactions committed and aborted; "fenced" stands out.
fn transaction_line(p: &kplay_engine::snapshot::ProducerView) -> Html {
    let Some(t) = &p.transaction else {
        return html! {};
    };
    let fenced = t.state == "fenced";
    html! {
        <div class={classes!("client-stats", fenced.then_some("fenced"))} data-txn-state={t.state}>
            { format!("transactional.id {} · {} · {} committed, {} aborted",
                t.transactional_id, t.state, t.committed, t.aborted) }
        </div>
    }
}

/// A producer instance a redeploy closed (`reconfigure_producer`): what it did, and no
/// controls (actions by name go to the newest instance).
fn previous_instance(i: usize, p: &kplay_engine::snapshot::ProducerView) -> Html {
    let state = if p.running { "closing" } else { "closed" };
    html! {
        <div class="client previous" key={format!("{}#{i}", p.name)}
            data-testid={format!("producer-{}-instance-{i}", p.name)}>
            <div class="client-head">
                <strong>{ &p.name }</strong>
                <span class="meta">{ format!("previous instance, {state} by a redeploy") }</span>
            </div>
            <div class="client-stats">
                { format!("sent {} · acked {} · failed {} · {} in flight, {} queued",
                    p.produced, p.acked, p.failed, p.in_flight_batches, p.queued_batches) }
            </div>
        </div>
    }
}

/// Microseconds as the milliseconds a user types (`2`, `0.5`).
fn millis(us: u64) -> String {
    match us % 1000 {
        0 => (us / 1000).to_string(),
        frac => format!("{}.{frac:03}", us / 1000)
            .trim_end_matches('0')
            .to_string(),
    }
}

/// A position or high watermark the consumer may not know yet.
fn known(offset: Option<u64>) -> String {
    offset.map_or("not known yet".to_string(), |o| o.to_string())
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
                let processing = |consumer: String| ctx.dispatch.reform(move |e: Event| {
                    Action::Edit(Edit::SetProcessing {
                        consumer: consumer.clone(),
                        processing_ms: e.target_unchecked_into::<HtmlInputElement>().value(),
                    })
                });
                let down = c.state == "crashed" || c.state == "stopped";
                let slower = (c.processing_us_per_record / 1000).max(1) * 10;
                let max_lag = c.partitions.iter().filter_map(|p| p.lag).max().unwrap_or(0).max(1);
                // A member outside any generation (joining, or out of the group) shows none.
                let generation = c.generation.map_or("-".to_string(), |g| g.to_string());
                html! {
                    <div class="client" key={c.name.clone()} data-testid={format!("consumer-{}", c.name)} data-lag={c.lag.to_string()}>
                        <div class="client-head">
                            <strong>{ &c.name }</strong>
                            <span class="meta">{ format!("{} · fetched {} · processed {} · ", c.state, c.consumed, c.processed) }{ term("lag", "lag") }{ format!(" {}", c.lag) }</span>
                            if let (Some(g), Some(m)) = (&c.group, &c.member_id) {
                                <span class="meta">{ format!(" · {g} as {} (", if m.is_empty() { "-" } else { m }) }{ term("generation", "gen") }
                                    { format!(" {}, {}) · commit {} · {} commits, {} failed · paused {} ms", generation,
                                    c.member_state.as_deref().unwrap_or(""), c.commit, c.commits, c.failed_commits, c.paused_ms) }</span>
                            }
                            if down {
                                <button class="small" data-testid={format!("consumer-restart-{}", c.name)} onclick={live(Live::RestartConsumer { consumer: c.name.clone() })} aria-label={format!("Restart consumer {}", c.name)}>{ "Restart" }</button>
                            } else {
                                <button class="small" data-testid={format!("consumer-stop-{}", c.name)} onclick={live(Live::StopConsumer { consumer: c.name.clone() })} title="close(): commit, leave the group" aria-label={format!("Stop consumer {}", c.name)}>{ "Stop" }</button>
                                <button class="small" data-testid={format!("consumer-crash-{}", c.name)} onclick={live(Live::CrashConsumer { consumer: c.name.clone() })} title="The process dies: no commit, no LeaveGroup" aria-label={format!("Crash consumer {}", c.name)}>{ "Crash" }</button>
                                <button class="small" data-testid={format!("consumer-slow-{}", c.name)} onclick={live(Live::SlowConsumer { consumer: c.name.clone(), processing_us_per_record: slower.saturating_mul(1000) })} title={format!("Make {} ten times slower: {slower} ms per record", c.name)}>{ format!("Slow ×10 ({slower} ms/rec)") }</button>
                                <label class="inline small-label">{ "ms/record " }
                                    <input class="num" type="number" min="0" step="0.1" data-testid={format!("consumer-processing-{}", c.name)}
                                        value={millis(c.processing_us_per_record)} onchange={processing(c.name.clone())}
                                        aria-label={format!("{} processing time per record, milliseconds", c.name)} title="Any value, 0 included: this is also how to undo Slow" />
                                </label>
                            }

                        </div>
                        <div class="lags">
                            { for c.partitions.iter().map(|p| {
                                let lag = p.lag.unwrap_or(0);
                                html! {
                                    <div class="lag" key={format!("{}-{}", p.topic, p.partition)} title={format!("{}-{}: position {}, high watermark {}", p.topic, p.partition, known(p.position), known(p.high_watermark))}>
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

/// A number field for a rate, a text field for "max" (which a number field cannot show).
fn rate_input_type(rate: u64) -> &'static str {
    match rate {
        kplay_engine::producer::RATE_MAX => "text",
        _ => "number",
    }
}

/// A producer's rate as its field shows it: records a second, or "max" for a closed loop.
fn rate_text(rate: u64) -> String {
    match rate {
        kplay_engine::producer::RATE_MAX => "max".to_string(),
        n => n.to_string(),
    }
}
