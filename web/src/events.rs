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
    let rows: Vec<Html> = ctx
        .snapshot
        .trace
        .iter()
        .rev()
        .map(|e| (e.at, e.kind.to_string()))
        .filter(|(_, text)| needle.is_empty() || text.to_lowercase().contains(&needle))
        .take(ROWS)
        // Unkeyed on purpose: while playing, every row is new at each refresh, and rows that
        // change their text cost far less than rows destroyed and made again.
        .map(|(at, text)| html! { <li><span class="at">{ at.to_string() }</span>{ text }</li> })
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
