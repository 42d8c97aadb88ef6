//! Kafka's metrics as an operator's dashboard: pick metrics by Kafka's names, each a line
//! chart over virtual time with one line per scope (a producer, a broker, a group), hover for
//! the values at a moment; a chart of produce and end-to-end latency percentiles; and alert
//! rules (`records-lag-max > 1000 for 30 s`) with where each fires now. Charts are SVG made
//! again only when the playground takes a sample (once a virtual second by default), never per
//! frame.

use std::rc::Rc;

use kplay_engine::sim::METRICS;
use kplay_playground::metrics::{MetricsView, Series};
use kplay_playground::{Action, Edit};
use yew::prelude::*;

use crate::input::use_text_field;

/// The charts a new page shows: traffic, lag, and replication health.
const DEFAULT_CHARTS: [&str; 3] = [
    "MessagesInPerSec",
    "records-lag-max",
    "UnderReplicatedPartitions",
];

/// Lines of a chart, in the Okabe–Ito order (the key palette's).
const LINE_COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// The colour of line `i`, as a legend's swatch.
fn swatch(i: usize) -> Html {
    let style = format!("background:{}", LINE_COLOURS[i % LINE_COLOURS.len()]);
    html! { <span class="swatch" {style}></span> }
}

/// The picker's groups, by scope.
const KINDS: [&str; 5] = ["producer", "consumer", "group", "broker", "cluster"];

const W: i64 = 560;
const H: i64 = 120;

/// A value in thousandths as Kafka prints it, with thousands separated.
fn shown(milli: i64) -> String {
    let whole = milli / 1_000;
    let frac = (milli % 1_000).abs();
    let digits = whole.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if milli < 0 { "-" } else { "" };
    match frac {
        0 => format!("{sign}{grouped}"),
        f if whole.abs() >= 100 => format!("{sign}{grouped}.{}", f / 100),
        f => format!(
            "{sign}{grouped}.{}",
            format!("{f:03}").trim_end_matches('0')
        ),
    }
}

fn seconds(ms: u64) -> String {
    match ms % 1_000 {
        0 => format!("{} s", ms / 1_000),
        r => format!(
            "{}.{} s",
            ms / 1_000,
            format!("{r:03}").trim_end_matches('0')
        ),
    }
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
struct Line {
    label: String,
    series: Series,
}

#[derive(Properties, PartialEq)]
struct ChartProps {
    title: String,
    /// What the chart's test id and remove button name it by.
    id: String,
    lines: Rc<Vec<Line>>,
    now_ms: u64,
    /// The sampling interval: samples further apart leave a gap in a line.
    interval_ms: u64,
    #[prop_or_default]
    on_remove: Option<Callback<()>>,
}

/// A line chart: time from the oldest sample shown to now across, values from 0 to the
/// largest (or from the smallest, when one is negative) up; hovering shows every line's value
/// at the nearest sample.
#[function_component]
fn Chart(props: &ChartProps) -> Html {
    let hover = use_state(|| None::<u64>);
    let lines = &props.lines;
    let all = lines.iter().flat_map(|l| l.series.points.iter());
    let t0 = all.clone().map(|p| p.0).min().unwrap_or(0);
    let t1 = props.now_ms.max(t0 + 1);
    let max = all.clone().map(|p| p.1).max().unwrap_or(0).max(1);
    let min = all.clone().map(|p| p.1).min().unwrap_or(0).min(0);
    let x = |t: u64| (t.saturating_sub(t0) as i64 * W / (t1 - t0) as i64).clamp(0, W);
    let y = |v: i64| H - (v - min) * H / (max - min).max(1);
    let polylines = polylines(lines, props.interval_ms, &x, &y);
    let onmousemove = hover_time(hover.clone(), t0, t1);
    let onmouseleave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    // The hovered moment: the nearest sample of any line.
    let at = hover.and_then(|t| {
        let samples = lines
            .iter()
            .flat_map(|l| l.series.points.iter().map(|p| p.0));
        samples.min_by_key(|s| s.abs_diff(t))
    });
    let (span, n) = (seconds(t1 - t0), lines.len());
    let label = format!(
        "{} over the last {span}: {n} lines, up to {}",
        props.title,
        shown(max)
    );
    html! {
        <figure class="chart" data-testid={format!("chart-{}", props.id)}>
            <figcaption>
                <span class="chart-title">{ &props.title }</span>
                <span class="chart-max">{ format!("max {}", shown(max)) }</span>
                if let Some(remove) = props.on_remove.clone() {
                    <button class="link" aria-label={format!("remove the chart of {}", props.title)}
                        onclick={Callback::from(move |_| remove.emit(()))}>{ "×" }</button>
                }
            </figcaption>
            if lines.iter().all(|l| l.series.points.is_empty()) {
                <p class="empty">{ "No samples yet: play the run for a second." }</p>
            } else {
                <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" role="img"
                    aria-label={label} {onmousemove} {onmouseleave}>
                    <line class="axis" x1="0" y1={y(0).to_string()} x2={W.to_string()}
                        y2={y(0).to_string()} />
                    { polylines }
                    if let Some(at) = at {
                        <line class="cursor" x1={x(at).to_string()} y1="0"
                            x2={x(at).to_string()} y2={H.to_string()} />
                    }
                </svg>
                <div class="chart-axis">
                    <span>{ seconds(t0) }</span><span>{ seconds(t1) }</span>
                </div>
                { readout(&props.id, lines, at) }
            }
        </figure>
    }
}

/// Each line as polylines: a line breaks where samples are missing (no latency recorded in
/// an interval), since drawn across it would show values nobody measured.
fn polylines(
    lines: &[Line],
    interval_ms: u64,
    x: &dyn Fn(u64) -> i64,
    y: &dyn Fn(i64) -> i64,
) -> Html {
    let runs = lines.iter().enumerate().flat_map(|(i, l)| {
        let colour = LINE_COLOURS[i % LINE_COLOURS.len()];
        let runs = l.series.points.chunk_by(|a, b| b.0 - a.0 <= interval_ms);
        runs.map(move |run| {
            let points: Vec<String> = run
                .iter()
                .map(|&(t, v)| format!("{},{}", x(t), y(v)))
                .collect();
            html! {
                <polyline fill="none" stroke={colour} stroke-width="1.5"
                    points={points.join(" ")} />
            }
        })
    });
    runs.collect()
}

/// The time under the pointer, from its share of the chart's width (the SVG scales to its box).
fn hover_time(hover: UseStateHandle<Option<u64>>, t0: u64, t1: u64) -> Callback<MouseEvent> {
    Callback::from(move |e: MouseEvent| {
        let Some(target) = e.current_target() else {
            return;
        };
        let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target) else {
            return;
        };
        let width = f64::from(el.client_width().max(1));
        let share = (f64::from(e.offset_x()) / width).clamp(0.0, 1.0);
        hover.set(Some(t0 + ((t1 - t0) as f64 * share) as u64));
    })
}

/// Every line's value at the hovered sample, or the legend when nothing is hovered.
fn readout(id: &str, lines: &[Line], at: Option<u64>) -> Html {
    let Some(at) = at else {
        return html! {
            <div class="readout legend">
                { for lines.iter().enumerate().map(|(i, l)| html! {
                    <span class="reading">{ swatch(i) }{ &l.label }</span>
                }) }
            </div>
        };
    };
    let values = lines.iter().enumerate().filter_map(|(i, l)| {
        let v = l.series.points.iter().find(|p| p.0 == at)?.1;
        Some(html! {
            <span class="reading">{ swatch(i) }{ format!("{} {}", l.label, shown(v)) }</span>
        })
    });
    html! {
        <div class="readout" data-testid={format!("readout-{id}")}>
            <strong>{ format!("at {}: ", seconds(at)) }</strong>
            { for values }
        </div>
    }
}

/// Every scope's line of one metric.
fn lines_of(view: &MetricsView, metric: &str) -> Vec<Line> {
    view.series
        .iter()
        .filter(|s| s.name == metric)
        .map(|s| Line {
            label: s.scope.clone(),
            series: s.clone(),
        })
        .collect()
}

/// Produce latency per producer and end-to-end latency per group, p50 to p99.9.
fn latency_lines(view: &MetricsView) -> Vec<Line> {
    let latency = |s: &&Series| {
        s.name.starts_with("produce-latency-") || s.name.starts_with("end-to-end-latency-")
    };
    view.series
        .iter()
        .filter(latency)
        .map(|s| {
            let (kind, pct) = s.name.rsplit_once('-').unwrap_or((s.name, ""));
            let kind = if kind.starts_with("produce") {
                "produce"
            } else {
                "end-to-end"
            };
            let name = s.scope.split_once(':').map_or(&*s.scope, |(_, n)| n);
            Line {
                label: format!("{kind} {pct} {name}"),
                series: s.clone(),
            }
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct MetricsPanelProps {
    pub view: Rc<MetricsView>,
    pub dispatch: Callback<Action>,
}

#[function_component]
pub fn MetricsPanel(props: &MetricsPanelProps) -> Html {
    let charts = use_state(|| DEFAULT_CHARTS.to_vec());
    let view = &props.view;
    let onchange = {
        let charts = charts.clone();
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() else {
                return;
            };
            let picked = select.value();
            select.set_value("");
            if let Some((_, name, _)) = METRICS.iter().find(|(_, n, _)| *n == picked) {
                let mut next = (*charts).clone();
                if !next.contains(name) {
                    next.push(name);
                    charts.set(next);
                }
            }
        })
    };
    let latency = Rc::new(latency_lines(view));
    html! {
        <section class="panel metrics" data-testid="metrics">
            <h2>{ "Metrics" }</h2>
            <p class="hint">{ format!(
                "Kafka's own metric names, sampled every {} of virtual time; rates are per second \
                 over that interval. Hover a chart for values.", seconds(view.interval_ms)) }</p>
            <label class="pick">{ "Add a chart: " }
                <select data-testid="metric-picker" {onchange} aria-label="add a chart of a metric">
                    <option value="" selected=true>{ "choose a metric…" }</option>
                    { for KINDS.iter().map(|kind| html! {
                        <optgroup label={*kind}>
                            { for METRICS.iter()
                                .filter(|(k, n, _)| k == kind && !charts.contains(n))
                                .map(|(_, n, what)| html! {
                                    <option value={*n} title={*what}>{ *n }</option>
                                }) }
                        </optgroup>
                    }) }
                </select>
            </label>
            <div class="charts">
                { for charts.iter().map(|name| {
                    let remove = {
                        let (charts, name) = (charts.clone(), *name);
                        Callback::from(move |()| {
                            charts.set(charts.iter().copied().filter(|n| *n != name).collect());
                        })
                    };
                    html! {
                        <Chart key={*name} title={name.to_string()} id={name.to_string()}
                            lines={Rc::new(lines_of(view, name))} now_ms={view.now_ms}
                            interval_ms={view.interval_ms}
                            on_remove={Some(remove)} />
                    }
                }) }
                if !latency.is_empty() {
                    <Chart title="latency percentiles (ms)" id="latency" lines={latency}
                        now_ms={view.now_ms} interval_ms={view.interval_ms} />
                }
            </div>
            <Alerts view={props.view.clone()} dispatch={props.dispatch.clone()} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct AlertsProps {
    view: Rc<MetricsView>,
    dispatch: Callback<Action>,
}

/// The alert rules, where each fires now, and a form for a new one.
#[function_component]
fn Alerts(props: &AlertsProps) -> Html {
    let rule = use_text_field(|| "records-lag-max > 1000 for 5 s".to_string());
    let onsubmit = {
        let (rule, dispatch) = (rule.clone(), props.dispatch.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            dispatch.emit(Action::Edit(Edit::AddAlert(rule.value())));
        })
    };
    html! {
        <div class="alerts" data-testid="alerts">
            <h3>{ "Alerts" }</h3>
            if props.view.alerts.is_empty() {
                <p class="empty">{ "No alert rules. An operator would start with \
                    UnderReplicatedPartitions > 0 and records-lag-max > 1000 for 30 s." }</p>
            }
            <ul>
                { for props.view.alerts.iter().enumerate().map(|(i, a)| {
                    let remove = {
                        let dispatch = props.dispatch.clone();
                        Callback::from(move |_| dispatch.emit(Action::Edit(Edit::RemoveAlert(i))))
                    };
                    let (state, class) = match (a.firing.is_empty(), a.pending.is_empty()) {
                        (false, _) => (format!("firing on {}", a.firing.join(", ")), "firing"),
                        (true, false) => {
                            (format!("pending on {}", a.pending.join(", ")), "pending")
                        }
                        (true, true) => ("ok".to_string(), "ok"),
                    };
                    html! {
                        <li class={classes!("alert-rule", class)} data-testid="alert-rule"
                            data-state={class}>
                            <code>{ &a.rule }</code>
                            <span class="alert-state">{ state }</span>
                            <button class="link" onclick={remove}
                                aria-label={format!("remove the alert {}", a.rule)}>
                                { "remove" }
                            </button>
                        </li>
                    }
                }) }
            </ul>
            <form {onsubmit} class="inline">
                <input type="text" value={rule.value()} oninput={rule.oninput.clone()}
                    aria-label="alert rule" data-testid="alert-input" size="40" />
                <button type="submit">{ "Add alert" }</button>
            </form>
            <p class="hint">{ "METRIC [on SCOPE] OP VALUE [for N s]: it fires once the condition \
                held that long, on each scope apart, and resolves when it stops; both show on the \
                timeline and in the event log." }</p>
        </div>
    }
}
