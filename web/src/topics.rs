//! Topics and partitions: each partition as a row of its newest offsets, with the log start,
//! high watermark and log end marked, each replica's progress, and where consumers are.

use std::collections::BTreeMap;
use std::rc::Rc;

use kplay_engine::snapshot::{PartitionView, RecordView, Snapshot};
use kplay_playground::{Action, TimelineAction as Live};
use yew::prelude::*;

use crate::cluster::held_back;
use crate::colour::{key_class, member_colour};
use crate::onscreen::OnScreen;
use crate::Ctx;

fn record_title(r: &RecordView) -> String {
    let key = r
        .key
        .as_deref()
        .map_or("null".to_string(), |k| format!("{k:?}"));
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

/// A cell's hover and focus text; the click panel has everything.
fn short_title(r: &RecordView) -> String {
    match r.key.as_deref() {
        Some(k) => format!("offset {} · key {k:?} · click for details", r.offset),
        None => format!("offset {} · null key · click for details", r.offset),
    }
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

#[derive(Properties, PartialEq)]
struct PartitionProps {
    /// The partition, the consumers reading it (name, position) and the members owning it.
    row: Rc<Row>,
    selected: Option<(String, u32, u64)>,
    on_select: Callback<(String, u32, u64)>,
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
    let caught_up: Vec<&str> = readers
        .iter()
        .filter(|(_, pos)| *pos >= p.log_end)
        .map(|(n, _)| n.as_str())
        .collect();
    html! {
        <div ref={node} class={classes!("partition", offline.then_some("offline"))} data-testid={testid}
             data-leo={p.log_end.to_string()} data-log-start={p.log_start.to_string()} data-hw={p.high_watermark.to_string()}>
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
                <span class="meta offsets">{ format!("start {} · HW {} · LEO {}", p.log_start, p.high_watermark, p.log_end) }</span>
            </div>
            <div class="log" role="list" aria-label={format!("{} partition {} newest records", p.topic, p.partition)}
                 onmousemove={on_hover} onfocusin={on_focus} onmouseout={on_leave} onfocusout={on_blur}>
                if p.latest.first().is_some_and(|r| r.offset > p.log_start) {
                    <span class="ellipsis" title="older records">{ "…" }</span>
                } else if p.log_start > 0 {
                    <span class="marker start" title="log start offset (older records were deleted)">{ format!("{} →", p.log_start) }</span>
                }
                { for p.latest.iter().map(|r| {
                    let uncommitted = r.offset >= p.high_watermark;
                    let is_selected = props.selected == Some((p.topic.clone(), p.partition, r.offset));
                    let on_select = {
                        let cb = props.on_select.clone();
                        let key = (p.topic.clone(), p.partition, r.offset);
                        Callback::from(move |_| cb.emit(key.clone()))
                    };
                    let here: Vec<&str> = readers.iter().filter(|(_, pos)| *pos == r.offset).map(|(n, _)| n.as_str()).collect();
                    // Unkeyed on purpose: as the window slides, the same buttons show newer
                    // records (new text, title and class) instead of being destroyed and made
                    // again, which was most of a frame's DOM work at thousands of records/s.
                    html! {
                        <button role="listitem" onclick={on_select}
                            class={classes!("cell", key_class(r.key.as_deref()), uncommitted.then_some("uncommitted"), is_selected.then_some("selected"))}>
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
            if p.replica_states.len() > 1 {
                <div class="replicas">
                    { for p.replica_states.iter().map(|r| {
                        let scale = p.log_end.max(r.log_end).max(1);
                        let width = if p.log_end == 0 { 100 } else { (r.log_end * 100 / scale).min(100) };
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
        </div>
    }
}

#[function_component]
pub fn Topics() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let selected = use_state(|| None::<(String, u32, u64)>);
    // The rows as last shown: a row's props change only on its turn (the partitions whose
    // records this snapshot carries, see `crate::TURNS`), so Yew skips the others.
    let shown = use_mut_ref(BTreeMap::<(String, u32), Rc<Row>>::new);
    let on_screen = use_memo((), |_| OnScreen::new());
    // The same callback from frame to frame (a new one would make every row render again).
    let on_select = use_callback(selected.clone(), |key: (String, u32, u64), selected| {
        let same = selected.as_ref() == Some(&key);
        selected.set(if same { None } else { Some(key) });
    });
    // Rows of deleted topics (or partitions) go: the record detail reads the rows as shown.
    shown.borrow_mut().retain(|(topic, partition), _| {
        ctx.snapshot
            .topics
            .iter()
            .any(|t| t.name == *topic && (*partition as usize) < t.partitions.len())
    });
    // `__consumer_offsets` (50 partitions by default) is internal: the group panel shows
    // its coordinator partition; Kafka's tools hide internal topics too.
    let topic_list: Html = ctx.snapshot.topics.iter().filter(|t| !t.internal).map(|t| {
        let topic = t.name.clone();
        let delete = ctx
            .dispatch
            .reform(move |_| Action::Live(Live::DeleteTopic { topic: topic.clone() }));
        html! {
            <div class="topic" key={t.name.clone()} data-testid={format!("topic-{}", t.name)} data-replication-factor={t.replication_factor.to_string()}>
                <div class="topic-head">
                    <h3>{ &t.name }</h3>
                    <span class="meta">{ format!("{} partitions · replication factor {}", t.partitions.len(), t.replication_factor) }</span>
                    { for t.configs.iter().map(|(k, v)| html! { <span class="tag" key={k.clone()}>{ format!("{k}={v}") }</span> }) }
                    <button class="small" onclick={delete} title="Delete the topic">{ "Delete" }</button>
                </div>
                { for t.partitions.iter().map(|p| {
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
                        selected={(*selected).clone()} on_select={on_select.clone()} on_screen={on_screen.clone()} />
                    }
                }) }
            </div>
        }
    }).collect();
    // From the row as shown: a snapshot between the row's turns has no records for it.
    let detail = selected.as_ref().and_then(|(t, p, o)| {
        let rows = shown.borrow();
        let row = rows.get(&(t.clone(), *p))?;
        row.partition
            .latest
            .iter()
            .find(|r| r.offset == *o)
            .map(|r| (t.clone(), *p, r.clone()))
    });
    html! {
        <div class="panel">
            <div class="panel-head"><h2>{ "Topics" }</h2>
                <span class="hint">{ "Each square is a record at its offset, coloured by key; faded ones are above the high watermark, not yet readable." }</span>
            </div>
            if ctx.snapshot.topics.is_empty() {
                <p class="empty">{ "No topics yet: add one below." }</p>
            }
            { topic_list }
            if let Some((t, p, r)) = detail {
                <div class="record-detail" data-testid="record-detail">
                    <h3>{ format!("{t}-{p} offset {}", r.offset) }</h3>
                    <pre>{ record_title(&r) }</pre>
                </div>
            }
        </div>
    }
}
