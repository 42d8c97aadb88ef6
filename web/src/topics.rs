//! Topics and partitions: each partition as a row of its newest offsets, with the log start,
//! high watermark and log end marked, each replica's progress, and where consumers are.

use std::collections::BTreeMap;
use std::rc::Rc;

use kplay_engine::partitioner::explain_key;
use kplay_engine::record::RecordId;
use kplay_engine::snapshot::{PartitionView, RecordView, Snapshot, TopicView};
use kplay_playground::{Action, TimelineAction as Live};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

use crate::cluster::held_back;
use crate::colour::{key_class, key_label, member_colour};
use crate::heatmap::{cells_of, HeatMap, COMPACT_OVER};
use crate::journey::JourneyView;
use crate::onscreen::OnScreen;
use crate::Ctx;

fn record_title(r: &RecordView) -> String {
    let key = r.key.as_deref().map_or("null".to_string(), quoted_key);
    let value = match &r.value {
        None => "null (tombstone)".to_string(),
        Some(v) if r.value_bytes > 24 => format!("{} bytes: {v:.24}…", r.value_bytes),
        Some(v) => format!("{v:?}"),
    };
    let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "offset {}\nkey {key}\nvalue {value}\nheaders {}\ntimestamp {} ms\nproducer #{} record #{}",
        r.offset,
        if headers.is_empty() {
            "none".to_string()
        } else {
            headers.join(", ")
        },
        r.timestamp_ms,
        r.id.producer,
        r.id.seq
    )
}

/// A key, quoted, as a line of text shows it: its first 40 characters, and how long it is if
/// longer (a 10,000-character key must not overflow its panel).
pub fn quoted_key(k: &str) -> String {
    match k.char_indices().nth(40) {
        None => format!("{k:?}"),
        Some((end, _)) => format!("{:?}… ({} characters)", &k[..end], k.chars().count()),
    }
}

/// A cell's hover and focus text; the click panel has everything.
fn short_title(r: &RecordView) -> String {
    match r.key.as_deref() {
        Some(k) => format!(
            "offset {} · key {} ({}) · click for details and journey",
            r.offset,
            quoted_key(k),
            key_label(Some(k))
        ),
        None => format!("offset {} · null key · click for details", r.offset),
    }
}

/// Readers behind the records shown ("billing: 23 behind" the high watermark), and readers
/// caught up with the log end.
fn reader_marks<'a>(
    p: &PartitionView,
    readers: &'a [(String, u64)],
) -> (Vec<String>, Vec<&'a str>) {
    let first_shown = p.latest.first().map_or(p.log_end, |r| r.offset);
    let behind = readers
        .iter()
        .filter(|(_, pos)| *pos < first_shown)
        .map(|(n, pos)| format!("{n}: {} behind", p.high_watermark.saturating_sub(*pos)))
        .collect();
    let caught_up = readers
        .iter()
        .filter(|(_, pos)| *pos >= p.log_end)
        .map(|(n, _)| n.as_str())
        .collect();
    (behind, caught_up)
}

/// A group member owning a partition: (group, consumer, colour).
type Owner = (String, String, &'static str);

/// What one partition row shows. Shared (`Rc`): an unchanged row costs a pointer comparison,
/// not a deep one, and no copy.
#[derive(PartialEq, Eq)]
struct Row {
    partition: PartitionView,
    readers: Vec<(String, u64)>,
    owners: Vec<Owner>,
}

impl Row {
    /// A partition's row, with who reads it and who owns it. Made only for the rows that
    /// refresh (a few per frame while playing), not for every row on every frame.
    fn of(snapshot: &Snapshot, p: &PartitionView) -> Row {
        let here = |topic: &str, partition: u32| topic == p.topic && partition == p.partition;
        let readers = snapshot
            .consumers
            .iter()
            .flat_map(|c| c.partitions.iter().map(move |cp| (c, cp)))
            .filter(|(_, cp)| here(&cp.topic, cp.partition))
            .filter_map(|(c, cp)| Some((c.name.clone(), cp.position?)))
            .collect();
        let owners = snapshot
            .groups
            .iter()
            .flat_map(|g| g.partitions.iter().map(move |gp| (g, gp)))
            .filter(|(_, gp)| here(&gp.topic, gp.partition))
            .filter_map(|(g, gp)| {
                let owner = gp.owner.as_ref()?;
                Some((
                    g.group.clone(),
                    owner.clone(),
                    member_colour(g, Some(owner)),
                ))
            })
            .collect();
        Row {
            partition: p.clone(),
            readers,
            owners,
        }
    }
}

/// The cell an event happened in (or in a child of), if any.
fn cell_of(e: &Event) -> Option<web_sys::Element> {
    use wasm_bindgen::JsCast;
    e.target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest(".cell")
        .ok()
        .flatten()
}

/// A record clicked: its partition and offset, its identity, and where its cell is in the
/// Topics panel (left, bottom, top in pixels), to show its detail beside it.
#[derive(Clone, Debug, PartialEq)]
struct Clicked {
    at: (String, u32, u64),
    id: RecordId,
    anchor: (i32, i32, i32),
}

/// Where the clicked cell is, relative to the Topics panel's wrapper the detail is drawn in.
fn anchor_of(e: &MouseEvent) -> (i32, i32, i32) {
    let Some(cell) = cell_of(e) else {
        return (0, 0, 0);
    };
    let rect = cell.get_bounding_client_rect();
    let panel = cell.closest(".topics-wrap").ok().flatten();
    let (left, top) = panel.map_or((0.0, 0.0), |p| {
        let r = p.get_bounding_client_rect();
        (r.left(), r.top())
    });
    (
        (rect.left() - left) as i32,
        (rect.bottom() - top) as i32,
        (rect.top() - top) as i32,
    )
}

/// A bar per replica: its log end against the partition's, the high watermark across it.
fn replica_bars(p: &PartitionView) -> Html {
    html! {
                <div class="replicas">
                { for p.replica_states.iter().map(|r| {
                    let scale = p.log_end.max(r.log_end).max(1);
                    // An empty log is an empty bar: every replica is at 0 of nothing yet.
                    let width = (r.log_end * 100 / scale).min(100);
                    // The high watermark as a line across every replica's bar.
                    let hw_at = (p.high_watermark * 100 / scale).min(100);
                    html! {
                        <div class={classes!("replica", r.is_leader.then_some("leader"), (!r.in_isr).then_some("out"), (!r.up).then_some("down"))}
                             key={r.broker} title={format!("broker {}: {}{}", r.broker, if r.in_isr { "in sync" } else { "out of sync" }, if r.up { "" } else { ", down" })}>
                            <span class="rname">{ format!("broker {}{}", r.broker, if r.is_leader { " ★" } else { "" }) }</span>
                            <span class="bar">
                                <span class="fill" style={format!("width:{width}%")}></span>
                                <span class="hw" style={format!("left:{hw_at}%")} title="high watermark"></span>
                            </span>
                            <span class="rleo">{ format!("LEO {}", r.log_end) }</span>
                        </div>
                    }
                }) }
            </div>
    }
}

#[derive(Properties, PartialEq)]
struct PartitionProps {
    /// The partition, the consumers reading it (name, position) and the members owning it.
    row: Rc<Row>,
    selected: Option<(String, u32, u64)>,
    on_select: Callback<Clicked>,
    on_screen: Rc<OnScreen>,
}

#[function_component]
fn PartitionRow(props: &PartitionProps) -> Html {
    let p = &props.row.partition;
    let readers = &props.row.readers;
    let testid = format!("partition-{}-{}", p.topic, p.partition);
    let leader = p.leader.map_or("none".into(), |l| l.to_string()) + &held_back(p);
    let offline = p.leader.is_none();
    let node = use_node_ref();
    {
        let node = node.clone();
        let on_screen = props.on_screen.clone();
        use_effect_with((), move |_| {
            let row = node.cast::<web_sys::Element>();
            if let Some(row) = &row {
                on_screen.observe(row);
            }
            move || {
                if let Some(row) = &row {
                    on_screen.unobserve(row);
                }
            }
        });
    }
    // A cell's title is written when the pointer or the focus reaches it: writing 16 titles on
    // every refresh of a row was a quarter of a playing frame's DOM writes.
    let describe = {
        let row = props.row.clone();
        move |e: &Event| {
            let Some(cell) = cell_of(e) else {
                return;
            };
            // Cells are the log's records in order, so a cell's place among them names its record.
            let mut index = 0;
            let mut before = cell.previous_element_sibling();
            while let Some(b) = before {
                index += usize::from(b.class_list().contains("cell"));
                before = b.previous_element_sibling();
            }
            if let Some(r) = row.partition.latest.get(index) {
                let _ = cell.set_attribute("title", &short_title(r));
            }
        }
    };
    let on_hover = {
        let describe = describe.clone();
        // On every move, not on entering: the cell under a resting pointer shows newer records.
        Callback::from(move |e: MouseEvent| describe(&e))
    };
    let on_focus = Callback::from(move |e: FocusEvent| describe(&e));
    // Unkeyed cells show newer records as the row refreshes: a title left behind would
    // describe a record the cell no longer shows.
    let forget = |e: &Event| {
        if let Some(cell) = cell_of(e) {
            let _ = cell.remove_attribute("title");
        }
    };
    let on_leave = Callback::from(move |e: MouseEvent| forget(&e));
    let on_blur = Callback::from(move |e: FocusEvent| forget(&e));
    let (behind, caught_up) = reader_marks(p, readers);
    html! {
        <div ref={node} class={classes!("partition", offline.then_some("offline"))} data-testid={testid}
             data-leo={p.log_end.to_string()} data-log-start={p.log_start.to_string()} data-hw={p.high_watermark.to_string()}
             data-lso={p.last_stable_offset.to_string()}>
            <div class="partition-head">
                <span class="pname">{ format!("p{}", p.partition) }</span>
                { for props.row.owners.iter().map(|(g, c, colour)| html! {
                    <span class="owner" title={format!("owned by {c} in group {g}")}>
                        <span class="swatch" style={format!("background:{colour}")}></span>{ c.as_str() }
                    </span>
                }) }
                <span class="meta" title="leader, epoch, in-sync replicas">
                    { format!("leader {leader} · epoch {} · ISR {:?}", p.leader_epoch, p.isr) }
                </span>
                <span class="meta offsets">{ offsets_text(p) }</span>
            </div>
            <div class="log" role="group" tabindex="0" aria-label={log_label(p)}
                 onkeydown={Callback::from(on_log_key)} onmousemove={on_hover} onfocusin={on_focus} onmouseout={on_leave} onfocusout={on_blur}>
                if p.latest.first().is_some_and(|r| r.offset > p.log_start) {
                    <span class="ellipsis" title="older records">{ "…" }
                        // Readers behind the records shown keep a marker, with how far behind
                        // the high watermark they are (hanging under the row, as the others).
                        if !behind.is_empty() {
                            <span class="reader behind" data-testid="readers-behind"
                                  title="consumers reading older records than these">
                                { format!("▲ {}", behind.join(", ")) }
                            </span>
                        }
                    </span>
                } else if p.log_start > 0 {
                    <span class="marker start" title="log start offset (older records were deleted)">{ format!("{} →", p.log_start) }</span>
                }
                { for p.latest.iter().map(|r| {
                    let is_selected = props.selected == Some((p.topic.clone(), p.partition, r.offset));
                    let on_select = {
                        let cb = props.on_select.clone();
                        let at = (p.topic.clone(), p.partition, r.offset);
                        let id = r.id;
                        Callback::from(move |e: MouseEvent| {
                            let anchor = anchor_of(&e);
                            cb.emit(Clicked { at: at.clone(), id, anchor })
                        })
                    };
                    let here: Vec<&str> = readers.iter().filter(|(_, pos)| *pos == r.offset).map(|(n, _)| n.as_str()).collect();
                    // Unkeyed on purpose: as the window slides, the same buttons show newer
                    // records (new text, title and class) instead of being destroyed and made
                    // again, which was most of a frame's DOM work at thousands of records/s.
                    html! {
                        <button onclick={on_select} tabindex="-1" aria-label={cell_label(r)}
                            class={classes!("cell", key_class(r.key.as_deref()), offset_class(p, r), is_selected.then_some("selected"))}>
                            { r.offset }
                            if !here.is_empty() { <span class="reader" title={format!("next for {}", here.join(", "))}>{ "▲" }</span> }
                        </button>
                    }
                }) }
                // Caught-up readers hang under the log end like the others hang under a cell:
                // a marker that took a line of its own came and went as a consumer caught up,
                // moving every row below it (a repaint of the whole view, the slowest frames).
                <span class="marker leo" title="log end offset: the next record goes here">
                    { format!("→ {}", p.log_end) }
                    if !caught_up.is_empty() {
                        <span class="reader caught-up" title={format!("{} caught up", caught_up.join(", "))}>{ format!("▲ {}", caught_up.join(", ")) }</span>
                    }
                </span>
            </div>
            if p.replica_states.len() > 1 { { replica_bars(p) } }
        </div>
    }
}

#[function_component]
pub fn Topics() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let (clicked, on_select, close) = use_clicked(&ctx.dispatch);
    let (opened, on_open) = use_opened();
    let selected = clicked.as_ref().map(|c| c.at.clone());
    // The rows as last shown: a row's props change only on its turn (the partitions whose
    // records this snapshot carries, see `crate::TURNS`), so Yew skips the others.
    let shown = use_mut_ref(BTreeMap::<(String, u32), Rc<Row>>::new);
    let on_screen = use_memo((), |_| OnScreen::new());
    forget_gone(&mut shown.borrow_mut(), &ctx.snapshot);
    // `__consumer_offsets` (50 partitions by default) is internal: the group panel shows
    // its coordinator partition; Kafka's tools hide internal topics too.
    let topic_list: Html = grouped_topics(&ctx.snapshot.topics).into_iter().map(|t| {
        let topic = t.name.clone();
        let delete = ctx
            .dispatch
            .reform(move |_| Action::Live(Live::DeleteTopic { topic: topic.clone() }));
        html! {
            <div class={classes!("topic", t.retry_of.is_some().then_some("derived"))} key={t.name.clone()} data-testid={format!("topic-{}", t.name)} data-replication-factor={t.replication_factor.to_string()}>
                <div class="topic-head">
                    <h3>{ &t.name }</h3>{ retry_badge(t) }
                    <span class="meta">{ format!("{} partitions · replication factor {}", t.partitions.len(), t.replication_factor) }</span>
                    { for t.configs.iter().map(|(k, v)| html! { <span class="tag" key={k.clone()}>{ format!("{k}={v}") }</span> }) }
                    <button class="small" onclick={delete} title="Delete the topic">{ "Delete" }</button>
                </div>
                { heat_map(&ctx.snapshot, t, &opened, &on_open) }
                { for t.partitions.iter().filter(|p| row_shown(t, p, &opened)).map(|p| {
                    let id = (p.topic.clone(), p.partition);
                    let mut cache = shown.borrow_mut();
                    // While playing, a row refreshes on its turn if it is on screen.
                    let fresh = !ctx.playing
                        || !cache.contains_key(&id)
                        || (ctx.snapshot.records_of.includes(p.partition) && on_screen.is_on_screen(&id));
                    if fresh {
                        cache.insert(id.clone(), Rc::new(Row::of(&ctx.snapshot, p)));
                    }
                    let row = cache[&id].clone();
                    html! {
                    <PartitionRow key={p.partition} row={row}
                        selected={selected.clone()} on_select={on_select.clone()}
                        on_screen={on_screen.clone()} />
                    }
                }) }
            </div>
        }
    }).collect();
    // From the row as shown: a snapshot between the row's turns has no records for it.
    let detail = clicked
        .as_ref()
        .and_then(|c| detail_of(c, &shown.borrow(), &ctx.snapshot));
    // The detail is beside the panel, not in it: the panel's paint containment would clip it,
    // and its layout containment would hold the small screens' sheet inside it.
    html! {
        <div class="topics-wrap">
        <div class="panel">
            <div class="panel-head"><h2>{ "Topics" }</h2>
                <span class="hint">{ "Each square is a record at its offset, coloured by key; faded ones are above the high watermark, not yet readable." }</span>
            </div>
            if ctx.snapshot.topics.is_empty() {
                <p class="empty">{ "No topics yet: add one below." }</p>
            }
            { topic_list }
        </div>
            if let (Some((t, p, r, partitions)), Some(c)) = (detail, clicked.as_ref()) {
                <RecordDetail topic={t} partition={p} record={r} partitions={partitions}
                    anchor={c.anchor} journey={ctx.journey.clone()} on_close={close}
                    dispatch={ctx.dispatch.clone()} />
            }
        </div>
    }
}

/// The topics users see (not `__consumer_offsets`), each source topic followed by its retry
/// topics in attempt order and its dead letter topic.
fn grouped_topics(topics: &[TopicView]) -> Vec<&TopicView> {
    let mut out = Vec::with_capacity(topics.len());
    for t in topics
        .iter()
        .filter(|t| !t.internal && t.retry_of.is_none())
    {
        out.push(t);
        let mut derived: Vec<&TopicView> = topics
            .iter()
            .filter(|d| d.retry_of.as_ref().is_some_and(|r| r.source == t.name))
            .collect();
        kplay_engine::sort::sort_by_key(&mut derived, |d| {
            d.retry_of
                .as_ref()
                .and_then(|r| r.attempt)
                .unwrap_or(u32::MAX)
        });
        out.extend(derived);
    }
    out
}

/// What a retry or dead letter topic is, and how many records it holds (readable ones).
fn retry_badge(t: &TopicView) -> Html {
    let Some(r) = &t.retry_of else {
        return Html::default();
    };
    let readable = |p: &PartitionView| p.high_watermark.saturating_sub(p.log_start);
    let count: u64 = t.partitions.iter().map(readable).sum();
    match r.attempt {
        Some(attempt) => html! {
            <span class="tag retry" title="Records that failed, waiting for their next attempt">
                { format!("retries of {} · attempt {attempt} · {count} records", r.source) }
            </span>
        },
        None => html! {
            <span class="tag dlq" data-testid={format!("dlq-{}", r.source)}
                data-count={count.to_string()}
                title="Records that failed every attempt, set aside with their error and origin">
                { format!("dead letters of {} · {count} records", r.source) }
            </span>
        },
    }
}

/// Partitions by topic and number.
type Opened = std::collections::BTreeSet<(String, u32)>;

/// The partitions opened from a topic's heat map, and the callback that opens or closes one.
#[hook]
fn use_opened() -> (UseStateHandle<Opened>, Callback<(String, u32)>) {
    let opened = use_state(Opened::new);
    let on_open = use_callback(opened.clone(), |id: (String, u32), opened| {
        let mut next = (**opened).clone();
        if !next.remove(&id) {
            next.insert(id);
        }
        opened.set(next);
    });
    (opened, on_open)
}

/// Rows of deleted topics (or partitions) go: the record detail reads the rows as shown.
fn forget_gone(shown: &mut BTreeMap<(String, u32), Rc<Row>>, snapshot: &Snapshot) {
    shown.retain(|(topic, partition), _| {
        (snapshot.topics.iter())
            .any(|t| t.name == *topic && (*partition as usize) < t.partitions.len())
    });
}

/// Whether a partition has its detailed row: always, unless its topic is a heat map and the
/// row was not opened from it.
fn row_shown(t: &kplay_engine::snapshot::TopicView, p: &PartitionView, opened: &Opened) -> bool {
    t.partitions.len() <= COMPACT_OVER || opened.contains(&(p.topic.clone(), p.partition))
}

/// A topic of many partitions as a heat map (see `crate::heatmap`); nothing for a few.
fn heat_map(
    snapshot: &Snapshot,
    t: &kplay_engine::snapshot::TopicView,
    opened: &Opened,
    on_open: &Callback<(String, u32)>,
) -> Html {
    if t.partitions.len() <= COMPACT_OVER {
        return Html::default();
    }
    let cells = cells_of(snapshot, t, |p| opened.contains(&(t.name.clone(), p)));
    let topic = t.name.clone();
    let on_open = on_open.reform(move |p: u32| (topic.clone(), p));
    html! { <HeatMap topic={t.name.clone()} cells={Rc::new(cells)} on_open={on_open} /> }
}

/// The clicked record, its selection callback (clicking a record shows it and traces its
/// journey; clicking it again closes both) and the close button's.
#[hook]
fn use_clicked(
    dispatch: &Callback<Action>,
) -> (
    UseStateHandle<Option<Clicked>>,
    Callback<Clicked>,
    Callback<MouseEvent>,
) {
    let clicked = use_state(|| None::<Clicked>);
    // The same callback from frame to frame (a new one would make every row render again).
    let on_select = use_callback(
        (clicked.clone(), dispatch.clone()),
        |c: Clicked, (clicked, dispatch)| {
            if clicked.as_ref().is_some_and(|old| old.at == c.at) {
                clicked.set(None);
                dispatch.emit(Action::CloseJourney);
            } else {
                dispatch.emit(Action::FollowRecord(c.id));
                clicked.set(Some(c));
            }
        },
    );
    let close = {
        let (clicked, dispatch) = (clicked.clone(), dispatch.clone());
        Callback::from(move |_: MouseEvent| {
            clicked.set(None);
            dispatch.emit(Action::CloseJourney);
        })
    };
    (clicked, on_select, close)
}

/// The clicked record as its row shows it (a snapshot between the row's turns has no records
/// for it), with its topic's partition count and where its cell is.
fn detail_of(
    c: &Clicked,
    shown: &BTreeMap<(String, u32), Rc<Row>>,
    snapshot: &Snapshot,
) -> Option<(String, u32, RecordView, u32)> {
    let (t, p, o) = &c.at;
    let row = shown.get(&(t.clone(), *p))?;
    let partitions = snapshot
        .topics
        .iter()
        .find(|x| &x.name == t)?
        .partitions
        .len();
    let r = row.partition.latest.iter().find(|r| r.offset == *o)?;
    Some((t.clone(), *p, r.clone(), partitions as u32))
}

#[derive(Properties, PartialEq)]
struct DetailProps {
    topic: String,
    partition: u32,
    record: RecordView,
    /// The topic's partition count, for the key's murmur2 line.
    partitions: u32,
    /// The clicked cell: left, bottom and top in the panel, in pixels.
    anchor: (i32, i32, i32),
    journey: Option<Rc<kplay_engine::sim::Journey>>,
    on_close: Callback<MouseEvent>,
    dispatch: Callback<Action>,
}

/// The clicked record beside its cell (a sheet at the bottom on small screens): its key and
/// where the key sends it, its fields, and its journey.
#[function_component]
fn RecordDetail(props: &DetailProps) -> Html {
    let r = &props.record;
    let (t, p) = (&props.topic, props.partition);
    let (left, bottom, _top) = props.anchor;
    let key_line = match r.key.as_deref() {
        None => "null key: the sticky partitioner chose the partition".to_string(),
        Some(k) => {
            let e = explain_key(k.as_bytes(), props.partitions);
            format!(
                "murmur2 = {} → toPositive = {} → {} % {} = partition {}",
                e.murmur2, e.positive, e.positive, props.partitions, e.partition
            )
        }
    };
    let id = r.id;
    let refresh = props.dispatch.reform(move |_| Action::FollowRecord(id));
    let journey = props.journey.clone().filter(|j| j.record == r.id);
    let label = key_label(r.key.as_deref());
    let key_text = r
        .key
        .as_deref()
        .map_or("null".to_string(), |k| format!("{k:?}"));
    html! {
        <div class="record-detail" data-testid="record-detail" role="dialog"
             aria-label={format!("{t}-{p} offset {}", r.offset)}
             style={format!("left:{}px;top:{}px", left.max(0), bottom + 6)}>
            <h3>{ format!("{t}-{p} offset {}", r.offset) }</h3>
            <div class="detail-key">
                <span class={classes!("chip", key_class(r.key.as_deref()))}>{ label }</span>
                <span class="key-text" title={r.key.clone()}>{ key_text }</span>
            </div>
            <p class="murmur" data-testid="record-murmur2">{ key_line }</p>
            <pre tabindex="0">{ record_title(r) }</pre>
            if let Some(j) = journey {
                <JourneyView journey={j} on_refresh={refresh} />
            } else {
                <p class="hint" data-testid="journey-pending">{ "Tracing its journey…" }</p>
            }
            <button class="small close" onclick={props.on_close.clone()} aria-label="Close"
                    data-testid="record-detail-close">{ "×" }</button>
        </div>
    }
}

/// What a screen reader says of a partition's records, and how to move between them.
fn log_label(p: &PartitionView) -> String {
    format!(
        "{} partition {} newest records (arrow keys move between them)",
        p.topic, p.partition
    )
}

/// What a screen reader says of a record: its offset (the text shown) and its key.
fn cell_label(r: &RecordView) -> String {
    format!(
        "offset {}, key {}",
        r.offset,
        r.key.as_deref().unwrap_or("none")
    )
}

/// Arrow keys (and Home, End) move the focus between a partition's records, so a partition is
/// one tab stop: records one stop each were 1,600 stops with a hundred partitions. Enter on a
/// record opens it, as a click does.
fn on_log_key(e: KeyboardEvent) {
    let Some(log) = e
        .current_target()
        .and_then(|t| t.dyn_into::<Element>().ok())
    else {
        return;
    };
    let Ok(cells) = log.query_selector_all("button.cell") else {
        return;
    };
    let n = cells.length();
    if n == 0 {
        return;
    }
    let active = gloo::utils::document().active_element();
    let at = (0..n).find(|&i| {
        cells
            .item(i)
            .is_some_and(|c| c.is_same_node(active.as_ref().map(|a| a.as_ref())))
    });
    let next = match e.key().as_str() {
        "ArrowRight" | "ArrowDown" => at.map_or(0, |i| (i + 1).min(n - 1)),
        "ArrowLeft" | "ArrowUp" => at.map_or(n - 1, |i| i.saturating_sub(1)),
        "Home" => 0,
        "End" => n - 1,
        _ => return,
    };
    e.prevent_default();
    if let Some(cell) = cells
        .item(next)
        .and_then(|c| c.dyn_into::<HtmlElement>().ok())
    {
        let _ = cell.focus();
    }
}

/// The partition's offsets line: the LSO beside the HW when a transaction holds it back.
fn offsets_text(p: &PartitionView) -> String {
    let (start, hw, leo) = (p.log_start, p.high_watermark, p.log_end);
    if p.last_stable_offset < hw {
        let lso = p.last_stable_offset;
        format!("start {start} · LSO {lso} · HW {hw} · LEO {leo}")
    } else {
        format!("start {start} · HW {hw} · LEO {leo}")
    }
}

/// A cell's class by where its record stands: above the high watermark (not yet replicated),
/// in a transaction still open (between the LSO and the HW), or a transaction marker.
fn offset_class(p: &PartitionView, r: &RecordView) -> Option<&'static str> {
    match r.marker {
        Some(true) => Some("marker commit"),
        Some(false) => Some("marker abort"),
        None if r.offset >= p.high_watermark => Some("uncommitted"),
        None if r.offset >= p.last_stable_offset => Some("open-txn"),
        None => None,
    }
}
