//! The timeline under the controls: virtual time from 0 to the furthest moment the run
//! reached, the notable moments as marks (faults, elections, ISR changes, rebalances, lesson
//! steps, invariant violations), dragging to land anywhere, stepping back one event, and the
//! fork: a second run from this moment with one change, side by side with the difference.
//!
//! It takes props, not the context: it re-renders every frame while playing (the clock
//! moves), so it is kept small, and the marks (`Marks`) re-render only when the list changes
//! (compared by pointer).

use std::rc::Rc;

use kplay_engine::Instant;
use kplay_playground::{
    Action, ForkChange, ForkView, Marker, MarkerKind, Timeline, TimelineAction,
};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use kplay_playground::Playground;

use crate::input::use_text_field;

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub travel: Rc<Travel>,
    pub dispatch: Callback<Action>,
}

/// What the timeline shows: where the run is, the fork's comparison and what a fork may
/// change. `keep` is the last one, whose fork figures and suggestions stand between refreshes.
#[derive(Clone, Debug, PartialEq)]
pub struct Travel {
    pub timeline: Timeline,
    pub fork: Option<Rc<ForkView>>,
    pub suggestions: Rc<Vec<String>>,
    pub brokers: u32,
}

pub fn travel_of(p: &Playground, keep: Option<&Travel>) -> Rc<Travel> {
    let timeline = p.timeline();
    if let Some(k) = keep {
        return Rc::new(Travel {
            timeline,
            ..k.clone()
        });
    }
    let s = p.scenario();
    let mut suggestions = Vec::new();
    for t in &s.topics {
        for key in [
            "min.insync.replicas",
            "unclean.leader.election.enable",
            "retention.ms",
        ] {
            suggestions.push(format!("topic.{}.{key}", t.name));
        }
    }
    for pr in &s.producers {
        for key in ["acks", "enable.idempotence", "linger.ms", "rate_per_sec"] {
            suggestions.push(format!("producer.{}.{key}", pr.id));
        }
    }
    for c in &s.consumers {
        for key in [
            "processing_ms_per_record",
            "max.poll.records",
            "enable.auto.commit",
        ] {
            suggestions.push(format!("consumer.{}.{key}", c.id));
        }
    }
    Rc::new(Travel {
        timeline,
        fork: p.fork_view().map(Rc::new),
        suggestions: Rc::new(suggestions),
        brokers: s.cluster.brokers,
    })
}

/// Seconds with one decimal, as the scale shows them.
fn seconds(ms: u64) -> String {
    format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
}

#[function_component]
pub fn TimelineBar(props: &TimelineProps) -> Html {
    let t = &props.travel.timeline;
    let d = &props.dispatch;
    let seek = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            let value = e.target_unchecked_into::<HtmlInputElement>().value();
            if let Ok(at_ms) = value.parse::<u64>() {
                d.emit(Action::Seek { at_ms });
            }
        })
    };
    let step_back = d.reform(|_| Action::StepBack);
    let forking = use_state(|| false);
    let toggle = {
        let forking = forking.clone();
        Callback::from(move |_| forking.set(!*forking))
    };
    let max = t.furthest_ms.max(1);
    html! {
        <section class="travel" aria-label="Timeline">
            <div class="travel-row">
                <button data-testid="step-back" onclick={step_back} title="Go back one event">
                    { "◀ Step back" }
                </button>
                <span class="travel-scale">{ "0 s" }</span>
                <div class="travel-track">
                    <input type="range" data-testid="timeline"
                        aria-label="Virtual time in milliseconds" min="0" max={max.to_string()}
                        step="1" value={t.now_ms.to_string()} oninput={seek} />
                    <Marks markers={SharedMarkers(t.markers.clone())} max_ms={max} />
                </div>
                <span class="travel-scale" data-testid="timeline-end">
                    { seconds(t.furthest_ms) }
                </span>
                <button data-testid="fork" onclick={toggle} aria-expanded={forking.to_string()}
                    title="From this moment, a second run with one change, side by side">
                    { "Fork…" }
                </button>
            </div>
            if t.rewound {
                <p class="travel-note" data-testid="rewound-note">
                    { format!("Back at {}. Play continues the same run; an action done now \
                        replaces everything after this moment.", seconds(t.now_ms)) }
                </p>
            }
            <Legend />
            if *forking {
                <ForkForm suggestions={props.travel.suggestions.clone()}
                    brokers={props.travel.brokers} dispatch={d.clone()} />
            }
            if let Some(view) = props.travel.fork.clone() {
                <ForkTable view={view} dispatch={d.clone()} />
            }
        </section>
    }
}

/// The markers, compared by pointer: the playground replaces the list only when it grows.
#[derive(Clone, Debug)]
pub struct SharedMarkers(pub Rc<Vec<Marker>>);

impl PartialEq for SharedMarkers {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Properties, PartialEq)]
struct MarksProps {
    markers: SharedMarkers,
    max_ms: u64,
}

#[function_component]
fn Marks(props: &MarksProps) -> Html {
    let max = props.max_ms.max(1);
    html! {
        <div class="travel-marks" aria-hidden="true">
            { for props.markers.0.iter().map(|m| {
                // Per ten thousand, in integers: the position is drawing, not a decision.
                let at = m.at_ms.min(max) * 10_000 / max;
                let style = format!("left: {}.{:02}%", at / 100, at % 100);
                html! {
                    <span class={classes!("mark", m.kind.name())} style={style}
                        data-kind={m.kind.name()}
                        title={format!("{} {}", seconds(m.at_ms), m.label)}></span>
                }
            }) }
        </div>
    }
}

#[function_component]
fn Legend() -> Html {
    let kinds = [
        (MarkerKind::Fault, "fault"),
        (MarkerKind::Election, "leader election"),
        (MarkerKind::IsrChange, "ISR change"),
        (MarkerKind::Rebalance, "rebalance"),
        (MarkerKind::Lesson, "lesson step"),
        (MarkerKind::Violation, "invariant violated"),
        (MarkerKind::Alert, "alert"),
    ];
    html! {
        <ul class="travel-legend">
            { for kinds.iter().map(|(k, text)| html! {
                <li><span class={classes!("mark", k.name())}></span>{ *text }</li>
            }) }
        </ul>
    }
}

#[derive(Properties, PartialEq)]
struct ForkFormProps {
    suggestions: Rc<Vec<String>>,
    brokers: u32,
    dispatch: Callback<Action>,
}

/// Choose the change: a setting by its path and a value, or a broker crash.
#[function_component]
fn ForkForm(props: &ForkFormProps) -> Html {
    let path = use_text_field(|| props.suggestions.first().cloned().unwrap_or_default());
    let value = use_text_field(String::new);
    let fault = use_state(String::new);
    let on_fault = {
        let fault = fault.clone();
        Callback::from(move |e: Event| {
            fault.set(e.target_unchecked_into::<HtmlSelectElement>().value());
        })
    };
    let submit = {
        let d = props.dispatch.clone();
        let (path, value, fault) = (path.clone(), value.clone(), fault.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let change = match fault.parse::<u32>() {
                Ok(broker) => ForkChange::Live(TimelineAction::CrashBroker { broker }),
                Err(_) => ForkChange::Setting {
                    path: path.value(),
                    value: value.value(),
                },
            };
            d.emit(Action::Fork(change));
        })
    };
    html! {
        <form class="fork-form" onsubmit={submit} data-testid="fork-form">
            <label>{ "Setting " }
                <input data-testid="fork-path" list="fork-paths" value={path.value()}
                    oninput={path.oninput.clone()}
                    placeholder="topic.NAME.min.insync.replicas" />
            </label>
            <datalist id="fork-paths">
                { for props.suggestions.iter().map(|s| html! { <option value={s.clone()} /> }) }
            </datalist>
            <label>{ "= " }
                <input data-testid="fork-value" class="fork-value" value={value.value()}
                    oninput={value.oninput.clone()} placeholder="value" />
            </label>
            <label>{ "or " }
                <select data-testid="fork-fault" onchange={on_fault}>
                    <option value="" selected={fault.is_empty()}>{ "no fault" }</option>
                    { for (0..props.brokers).map(|b| html! {
                        <option value={b.to_string()}>{ format!("crash broker {b}") }</option>
                    }) }
                </select>
            </label>
            <button type="submit" class="primary" data-testid="fork-apply">{ "Fork here" }</button>
            <span class="hint">
                { "A topic config is altered live; a producer or consumer is redeployed with \
                   the new config." }
            </span>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct ForkTableProps {
    view: Rc<ForkView>,
    dispatch: Callback<Action>,
}

/// A median and 99th percentile in ms, or a dash before any acknowledgement.
fn latency(p: Option<(u64, u64)>) -> String {
    p.map_or("–".to_string(), |(p50, p99)| format!("{p50} / {p99} ms"))
}

/// The original and the fork side by side, with the difference.
#[function_component]
fn ForkTable(props: &ForkTableProps) -> Html {
    let v = &props.view;
    let close = props.dispatch.reform(|_| Action::CloseFork);
    let rows = [
        ("produced", v.original.produced, v.fork.produced),
        ("acknowledged", v.original.acked, v.fork.acked),
        ("failed", v.original.failed, v.fork.failed),
        ("lost (acknowledged)", v.original.lost, v.fork.lost),
        ("duplicated", v.original.duplicates, v.fork.duplicates),
        ("lag", v.original.lag, v.fork.lag),
    ];
    html! {
        <div class="fork-view" data-testid="fork-view">
            <p>
                { format!("Fork at {} with {}; both at {}.", seconds(v.at_ms), v.change,
                    Instant::from_millis(v.fork.now_ms)) }
                <button class="small" data-testid="fork-close" onclick={close}>
                    { "Close fork" }
                </button>
            </p>
            <table>
                <thead>
                    <tr>
                        <th></th><th>{ "original" }</th><th>{ "fork" }</th>
                        <th>{ "difference" }</th>
                    </tr>
                </thead>
                <tbody>
                    { for rows.iter().map(|(name, a, b)| {
                        let diff = *b as i64 - *a as i64;
                        html! {
                            <tr data-row={*name}>
                                <th scope="row">{ *name }</th>
                                <td data-testid="fork-original">{ a }</td>
                                <td data-testid="fork-fork">{ b }</td>
                                <td class={classes!((diff != 0).then_some("changed"))}>
                                    { format!("{diff:+}") }
                                </td>
                            </tr>
                        }
                    }) }
                    <tr data-row="latency">
                        <th scope="row">{ "produce latency p50 / p99" }</th>
                        <td>{ latency(v.original.latency_ms) }</td>
                        <td>{ latency(v.fork.latency_ms) }</td>
                        <td></td>
                    </tr>
                </tbody>
            </table>
        </div>
    }
}
