//! What Kafka's tools would print for the cluster now: `kafka-topics.sh --describe` and
//! `kafka-consumer-groups.sh --describe`, exactly the text `kplay describe` prints (both come
//! from `kplay_scenario::kafka_tools`), and the `kafka-topics.sh --create` of every topic.

use kplay_scenario::kafka_tools;
use yew::prelude::*;

use crate::Ctx;

#[function_component]
pub fn Describe() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let shown = use_state(|| false);
    let toggle = {
        let shown = shown.clone();
        Callback::from(move |_| shown.set(!*shown))
    };
    let body = if *shown {
        let s = &ctx.snapshot;
        let creates: Vec<Html> = s
            .topics
            .iter()
            .filter(|t| !t.internal)
            .map(|t| {
                let cmd = kafka_tools::create_topic_view(t);
                let key = t.name.clone();
                html! {
                    <pre class="kafka" tabindex="0" data-testid="kafka-command" key={key}>
                        { cmd }
                    </pre>
                }
            })
            .collect();
        let topics = kafka_tools::describe_topics(s, true);
        let groups = kafka_tools::describe_groups(s);
        let bootstrap = kafka_tools::BOOTSTRAP;
        let scenario = ctx.kafka_commands.iter().enumerate().map(|(i, c)| {
            html! {
                <pre class="kafka" tabindex="0" data-testid="scenario-command" key={i}>
                    { c.clone() }
                </pre>
            }
        });
        html! {
            <>
                <h3>{ "The topics, as created" }</h3>
                { for creates }
                <h3>{ "The setup and your actions, as a Kafka user would do them" }</h3>
                { for scenario }
                <h3><code>
                    { format!("kafka-topics.sh --bootstrap-server {bootstrap} --describe") }
                    { " --exclude-internal" }
                </code></h3>
                <pre class="kafka" tabindex="0" data-testid="describe-topics">{ topics }</pre>
                <h3><code>
                    { format!("kafka-consumer-groups.sh --bootstrap-server {bootstrap}") }
                    { " --describe --all-groups" }
                </code></h3>
                <pre class="kafka" tabindex="0" data-testid="describe-groups">{ groups }</pre>
            </>
        }
    } else {
        Html::default()
    };
    html! {
        <div class="panel">
            <div class="panel-head">
                <h2>{ "Kafka's tools" }</h2>
                <button onclick={toggle} data-testid="describe-toggle">
                    { if *shown { "Hide" } else { "Show" } }
                </button>
            </div>
            { body }
        </div>
    }
}
