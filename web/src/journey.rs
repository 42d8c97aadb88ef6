//! A record's journey as the page shows it: one row per step with its virtual time, what
//! happened and why it waited, and where it ended. Computed by the playground (a replay of the
//! run so far with an observer on the record), shown beside the record that was clicked and
//! under the produce form.

use std::rc::Rc;

use kplay_engine::sim::{EndKind, Journey};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct JourneyProps {
    pub journey: Rc<Journey>,
    /// Trace it again up to now.
    pub on_refresh: Callback<MouseEvent>,
}

fn end_class(end: EndKind) -> &'static str {
    match end {
        EndKind::Acknowledged => "end ok",
        EndKind::NotSent | EndKind::InProgress => "end waiting",
        EndKind::Failed | EndKind::Lost | EndKind::Expired => "end bad",
    }
}

#[function_component]
pub fn JourneyView(props: &JourneyProps) -> Html {
    let j = &props.journey;
    let end = format!("{:?}", j.end).to_lowercase();
    let title = format!(
        "Journey of record #{} of producer #{}",
        j.record.seq, j.record.producer
    );
    html! {
        <div class="journey" data-testid="record-journey" data-end={end}
             data-offset={j.offset.map(|o| o.to_string())}>
            <div class="journey-head">
                <h4>{ title }</h4>
                <button class="small" onclick={props.on_refresh.clone()}
                        data-testid="journey-refresh"
                        title="Trace it again up to the current time">{ "Refresh" }</button>
            </div>
            if j.steps.is_empty() {
                <p class="empty">{ "Not sent yet: play or step, then refresh." }</p>
            }
            <ol class="steps">
                { for j.steps.iter().map(|s| html! {
                    <li data-testid="journey-step" data-kind={format!("{:?}", s.kind)}>
                        <span class="at">{ s.at.to_string() }</span>
                        <span class="what">{ &s.what }</span>
                        <span class="why">{ &s.why }</span>
                    </li>
                }) }
            </ol>
            if j.steps_dropped > 0 {
                <p class="hint">{ format!("{} more steps not kept", j.steps_dropped) }</p>
            }
            <p class={end_class(j.end)} data-testid="journey-end">{ &j.end_text }</p>
        </div>
    }
}
