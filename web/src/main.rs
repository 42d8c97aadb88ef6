//! The kplay playground in the browser: a Yew app that drives the engine directly.

use yew::prelude::*;

#[function_component]
fn App() -> Html {
    html! {
        <>
            <header><h1>{ "kplay — a Kafka playground" }</h1></header>
            <main data-testid="app-ready">{ "Loading the cluster…" }</main>
        </>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
