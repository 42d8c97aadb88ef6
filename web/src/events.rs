//! The event log: the simulation's trace, newest first, filterable.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::Ctx;

/// Rows shown at most, so the list stays small however busy the run.
const ROWS: usize = 60;

#[function_component]
pub fn EventLog() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let filter = use_state(String::new);
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            filter.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let needle = filter.to_lowercase();
    let total = ctx.snapshot.trace_total;
    let rows: Vec<Html> = ctx
        .snapshot
        .trace
        .iter()
        .rev()
        .enumerate()
        .map(|(i, e)| (total - i as u64, e.at, e.kind.to_string()))
        .filter(|(_, _, text)| needle.is_empty() || text.to_lowercase().contains(&needle))
        .take(ROWS)
        // Keyed by position in the whole trace: new events insert at the top, old rows stay.
        .map(|(n, at, text)| html! { <li key={n}><span class="at">{ at.to_string() }</span>{ text }</li> })
        .collect();
    html! {
        <div class="panel">
            <div class="panel-head">
                <h2>{ "Events" }</h2>
                <input class="filter" placeholder="filter: leader, truncated, broker 1…" value={(*filter).clone()} oninput={on_filter} aria-label="Filter events" />
            </div>
            <ol class="events" data-testid="event-log" reversed=true>
                { for rows.into_iter() }
            </ol>
        </div>
    }
}
