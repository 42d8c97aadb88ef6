//! The event log: the simulation's trace in words, newest first, filterable by text, kind,
//! topic and partition; the important events (crash, fence, election, ISR change, rebalance,
//! truncation, and an invariant the run broke) pinned in a list of their own that does not
//! scroll away (the playground keeps it, `Playground::pins`), and optionally a pause when one
//! happens.

use kplay_engine::trace::{TraceEvent, TraceKind};
use kplay_playground::{important, Action, Pin};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::Ctx;

/// Rows shown at most, so the list stays small however busy the run.
const ROWS: usize = 60;

/// The kinds the log filters by, as the select offers them.
const KINDS: &[&str] = &[
    "all",
    "important",
    "broker",
    "partition",
    "producer",
    "consumer",
    "group",
];

/// The kind an event is filed under.
fn kind_of(kind: &TraceKind) -> &'static str {
    use TraceKind as K;
    match kind {
        K::BrokerStarted { .. }
        | K::BrokerCrashed { .. }
        | K::BrokerRestarted { .. }
        | K::BrokerFenced { .. }
        | K::BrokerUnfenced { .. }
        | K::BrokerPaused { .. }
        | K::BrokerResumed { .. }
        | K::NetworkPartitioned { .. }
        | K::NetworkHealed
        | K::LinkDelayed { .. }
        | K::ConnectionClosed { .. }
        | K::CommandRejected { .. } => "broker",
        K::TopicCreated { .. }
        | K::TopicDeleted { .. }
        | K::TopicAutoCreated { .. }
        | K::BatchAppended { .. }
        | K::DuplicateBatch { .. }
        | K::SegmentRolled { .. }
        | K::SegmentsDeleted { .. }
        | K::LeaderElected { .. }
        | K::PartitionOffline { .. }
        | K::IsrChanged { .. }
        | K::FollowerTruncated { .. } => "partition",
        K::SendTimedOut { .. }
        | K::ProducerAdded { .. }
        | K::ProducerRemoved { .. }
        | K::BatchSent { .. }
        | K::BatchAcked { .. }
        | K::BatchRetrying { .. }
        | K::BatchSplit { .. }
        | K::BatchFailed { .. } => "producer",
        K::RebalanceStarted { .. }
        | K::GenerationStarted { .. }
        | K::GroupStable { .. }
        | K::JoinPhaseExtended { .. }
        | K::MemberRemoved { .. }
        | K::OffsetsLoaded { .. }
        | K::MemberJoined { .. }
        | K::PartitionsRevoked { .. }
        | K::PartitionsAssigned { .. }
        | K::MemberLeaving { .. } => "group",
        _ => "consumer",
    }
}

/// The topic and partition an event is about, if one.
fn partition_of(kind: &TraceKind) -> Option<(&str, Option<u32>)> {
    use TraceKind as K;
    match kind {
        K::TopicCreated { topic, .. }
        | K::TopicDeleted { topic }
        | K::TopicAutoCreated { topic, .. }
        | K::SendTimedOut { topic, .. }
        | K::TopicNotPresent { topic, .. } => Some((topic, None)),
        K::BatchSent { tp, .. }
        | K::BatchAppended { tp, .. }
        | K::DuplicateBatch { tp, .. }
        | K::BatchAcked { tp, .. }
        | K::BatchRetrying { tp, .. }
        | K::BatchSplit { tp, .. }
        | K::BatchFailed { tp, .. }
        | K::RecordsPolled { tp, .. }
        | K::OffsetReset { tp, .. }
        | K::Seek { tp, .. }
        | K::ConsumerFailed { tp, .. }
        | K::SegmentRolled { tp, .. }
        | K::SegmentsDeleted { tp, .. }
        | K::LeaderElected { tp, .. }
        | K::PartitionOffline { tp }
        | K::IsrChanged { tp, .. }
        | K::FollowerTruncated { tp, .. }
        | K::TruncationDetected { tp, .. } => Some((&tp.topic, Some(tp.partition))),
        _ => None,
    }
}

/// What the filters ask for.
#[derive(Clone, Debug, Default, PartialEq)]
struct Filter {
    text: String,
    kind: String,
    topic: String,
    partition: String,
}

impl Filter {
    fn keeps(&self, e: &TraceEvent, text: &str) -> bool {
        let needle = self.text.to_lowercase();
        if !needle.is_empty() && !text.to_lowercase().contains(&needle) {
            return false;
        }
        match self.kind.as_str() {
            "" | "all" => {}
            "important" if important(&e.kind) => {}
            k if k == kind_of(&e.kind) => {}
            _ => return false,
        }
        let (topic, partition) = (self.topic.trim(), self.partition.trim());
        if topic.is_empty() && partition.is_empty() {
            return true;
        }
        let Some((t, p)) = partition_of(&e.kind) else {
            return false;
        };
        (topic.is_empty() || t == topic)
            && (partition.is_empty() || p.is_some_and(|p| p.to_string() == partition))
    }
}

/// Where the announcer is in the important events: the index of the newest one it counted.
#[derive(Default)]
struct Pinned {
    newest: Option<u64>,
}

impl Pinned {
    /// How many of `pins` are new since the last call. A run that started again (its newest
    /// is older than the one counted) starts counting again.
    fn take(&mut self, pins: &[Pin]) -> usize {
        let newest = pins.last().map(|p| p.index);
        if newest < self.newest {
            self.newest = None;
        }
        let new = pins.iter().filter(|p| Some(p.index) > self.newest).count();
        self.newest = newest.max(self.newest);
        new
    }
}

fn input_value(e: InputEvent) -> String {
    e.target_unchecked_into::<HtmlInputElement>().value()
}

#[function_component]
pub fn EventLog() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let filter = use_state(Filter::default);
    let pinned = use_mut_ref(Pinned::default);
    let pause_on = use_state(|| false);
    let new = pinned.borrow_mut().take(&ctx.pins);
    let announcer = use_mut_ref(Announcer::default);
    let announced = announcer.borrow_mut().after(new, &ctx.pins);
    {
        // Pausing is the playground's decision, asked through its one way in.
        let (dispatch, playing, pause) = (ctx.dispatch.clone(), ctx.playing, *pause_on);
        use_effect_with(ctx.pins.last().map(|p| p.index), move |_| {
            if pause && playing && new > 0 {
                dispatch.emit(Action::Pause);
            }
        });
    }
    let s = &ctx.snapshot;
    let rows: Vec<Html> = s
        .trace
        .iter()
        .rev()
        .map(|e| (e, e.kind.explained(&s.names).to_string()))
        .filter(|(e, text)| filter.keeps(e, text))
        .take(ROWS)
        // Unkeyed on purpose: while playing, every row is new at each refresh, and rows that
        // change their text cost far less than rows destroyed and made again.
        .map(|(e, text)| html! { <li><span class="at">{ e.at.to_string() }</span>{ text }</li> })
        .collect();
    let pinned_rows = pinned_list(&ctx.pins);
    let on_pause = {
        let pause_on = pause_on.clone();
        Callback::from(move |e: Event| {
            pause_on.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    html! {
        <>
        <div class="panel">
            <div class="panel-head">
                <h2>{ "Events" }</h2>
                <label class="check">
                    <input type="checkbox" checked={*pause_on} onchange={on_pause}
                        data-testid="pause-on-important" />
                    { "pause when an important event happens" }
                </label>
            </div>
            <h3>{ "Important (crash, fence, election, ISR, rebalance, truncation, invariant)" }</h3>
            <div class="sr-only" role="status" aria-live="polite" data-testid="announcer">
                { announced }
            </div>
            <ol class="events pinned" data-testid="pinned-events" reversed=true>
                { violation_row(&ctx) }
                { for pinned_rows }
            </ol>
            { filters(&filter) }
            // Focusable, so the list scrolls from the keyboard too.
            <ol class="events" data-testid="event-log" reversed=true tabindex="0"
                aria-label="Event log, newest first">
                { for rows.into_iter() }
            </ol>
        </div>
        <crate::describe::Describe />
        </>
    }
}

/// The filter inputs: text, kind, topic and partition.
fn filters(filter: &UseStateHandle<Filter>) -> Html {
    let set = |f: fn(&mut Filter, String)| {
        let filter = filter.clone();
        Callback::from(move |v: String| {
            let mut next = (*filter).clone();
            f(&mut next, v);
            filter.set(next);
        })
    };
    let on_text = set(|f, v| f.text = v).reform(input_value);
    let on_topic = set(|f, v| f.topic = v).reform(input_value);
    let on_partition = set(|f, v| f.partition = v).reform(input_value);
    let on_kind = set(|f, v| f.kind = v)
        .reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let kinds = KINDS
        .iter()
        .map(|k| html! { <option value={*k} selected={filter.kind == *k}>{ *k }</option> });
    html! {
        <div class="panel-head event-filters">
            <input class="filter" placeholder="filter: leader, truncated, broker 1…"
                value={filter.text.clone()} oninput={on_text} aria-label="Filter events"
                data-testid="event-filter-text" />
            <select onchange={on_kind} aria-label="Kind" data-testid="event-filter-kind">
                { for kinds }
            </select>
            <input class="short" placeholder="topic" value={filter.topic.clone()}
                oninput={on_topic} aria-label="Topic" data-testid="event-filter-topic" />
            <input class="short" placeholder="partition" value={filter.partition.clone()}
                oninput={on_partition} aria-label="Partition"
                data-testid="event-filter-partition" />
        </div>
    }
}

/// What a screen reader is told of the important events: the newest, at most every
/// `ANNOUNCE_EVERY_MS` of wall time (a broker crash brings a fence, elections and ISR changes
/// within a few frames, and a polite region that changes every frame says nothing useful).
#[derive(Default)]
struct Announcer {
    /// Wall time (ms since the epoch, from the browser) of the last announcement.
    last_ms: f64,
    /// Important events not announced yet.
    waiting: usize,
    text: String,
}

const ANNOUNCE_EVERY_MS: f64 = 5_000.0;

impl Announcer {
    /// After `new` important events were pinned: the text the live region holds now.
    fn after(&mut self, new: usize, pins: &[Pin]) -> String {
        self.waiting += new;
        let now = js_sys::Date::now();
        if self.waiting > 0 && now - self.last_ms >= ANNOUNCE_EVERY_MS {
            if let Some(Pin { at, text, .. }) = pins.last() {
                self.text = match self.waiting {
                    1 => format!("{at}: {text}"),
                    n => format!("{at}: {text} (and {} more important events)", n - 1),
                };
            }
            self.waiting = 0;
            self.last_ms = now;
        }
        self.text.clone()
    }
}

/// The invariant the run broke, first among the pinned events: kplay's bug, said as such.
fn violation_row(ctx: &Ctx) -> Html {
    let Some(v) = &ctx.violation else {
        return Html::default();
    };
    let text = format!(
        "invariant {} violated: {} (a bug in kplay)",
        v.invariant, v.detail
    );
    html! {
        <li class="violation" data-testid="pinned-violation">
            <span class="at">{ v.at.to_string() }</span>{ text }
        </li>
    }
}

fn pinned_list(pins: &[Pin]) -> Vec<Html> {
    pins.iter()
        .rev()
        .map(|p| {
            let at = p.at.to_string();
            html! { <li key={p.index}><span class="at">{ at }</span>{ p.text.clone() }</li> }
        })
        .collect()
}
