//! The glossary: Kafka's terms as the page uses them, reachable from every place a term is
//! shown (`term`), on touch screens too, where the hover titles it replaces never appear.

use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

/// A term, its long name and what it means here. Sources: `kafka-semantics.md` §3.1–3.5, §4.2,
/// §4.6 and §5 (the reference the engine follows).
pub const TERMS: &[(&str, &str, &str)] = &[
    (
        "offset",
        "Offset",
        "A record's position in its partition: 0, 1, 2, ... Offsets never change and are \
         never reused; a consumer's position and a committed offset both name the next \
         offset to read.",
    ),
    (
        "leo",
        "LEO: log end offset",
        "The offset the next record appended to this replica's log will get, one past its \
         last record. Followers' LEOs trail the leader's until they fetch.",
    ),
    (
        "hw",
        "HW: high watermark",
        "The offset below which every in-sync replica has the records. The leader moves it \
         to the smallest LEO in the ISR; consumers read only below it, and acks=all \
         acknowledges a write once the HW passes it.",
    ),
    (
        "isr",
        "ISR: in-sync replicas",
        "The replicas caught up with the leader. A follower that has not caught up for \
         replica.lag.time.max.ms (30 s) leaves it; a crashed broker leaves it when the \
         controller fences it after broker.session.timeout.ms (9 s). With acks=all a write \
         waits for every ISR member, and min.insync.replicas is the smallest ISR with which \
         the leader takes acks=all writes at all (NOT_ENOUGH_REPLICAS below it).",
    ),
    (
        "epoch",
        "Leader epoch",
        "A number the controller increases every time a partition gets a new leader. Batches \
         carry it; a follower uses it to cut off records a former leader wrote that the new \
         one never had (KIP-101, KIP-279), and clients use it to ignore stale metadata \
         (KIP-320).",
    ),
    (
        "lso",
        "LSO: last stable offset",
        "The first offset of the oldest transaction still open on a partition, or the HW \
         when none is open. read_committed consumers read only below it. kplay has no \
         transactions yet, so here the LSO is the HW.",
    ),
    (
        "generation",
        "Generation",
        "The consumer group's epoch: the coordinator increases it at every rebalance. A \
         commit carries the member's generation, and one from an older generation is refused \
         (ILLEGAL_GENERATION), so a member that was replaced cannot overwrite offsets.",
    ),
    (
        "lag",
        "Lag",
        "How far a consumer is behind: the HW minus its position (the consumer's own metric), \
         or the HW minus the committed offset (kafka-consumer-groups.sh --describe, whose \
         LOG-END-OFFSET column is the HW).",
    ),
    (
        "rebalance",
        "Rebalance",
        "The group agreeing on who owns which partition, after a member joins, leaves or \
         misses session.timeout.ms. Eager: every member gives up everything first. \
         Cooperative (KIP-429): only the partitions that move stop, over two rounds.",
    ),
];

/// A term in the text, as a button that opens the glossary at its entry.
pub fn term(id: &'static str, shown: &str) -> Html {
    let open = Callback::from(move |_: MouseEvent| open_at(id));
    html! {
        <button type="button" class="term" onclick={open} data-testid={format!("term-{id}")}
            aria-label={format!("{shown}: what is this?")}>{ shown.to_string() }</button>
    }
}

/// Opens the glossary and brings the entry `id` into view, with the focus on it.
fn open_at(id: &str) {
    let document = gloo::utils::document();
    if let Some(glossary) = document.get_element_by_id("glossary") {
        let _ = glossary.set_attribute("open", "");
    }
    if let Some(entry) = document.get_element_by_id(&format!("glossary-{id}")) {
        entry.scroll_into_view();
        if let Ok(entry) = entry.dyn_into::<HtmlElement>() {
            let _ = entry.focus();
        }
    }
}

/// The glossary itself: a closed `<details>` at the foot of the page.
#[function_component]
pub fn Glossary() -> Html {
    html! {
        <details id="glossary" class="panel glossary" data-testid="glossary">
            <summary><h2>{ "Glossary" }</h2></summary>
            <dl>
                { for TERMS.iter().map(|(id, name, meaning)| html! {
                    <>
                        <dt id={format!("glossary-{id}")} tabindex="-1">{ *name }</dt>
                        <dd>{ *meaning }</dd>
                    </>
                }) }
            </dl>
        </details>
    }
}
