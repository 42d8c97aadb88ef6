//! Editing the setup: add topics, producers and consumers, change configs by Kafka name, set the
//! number of brokers, and export or import the whole thing as a scenario file.

use std::rc::Rc;

use kplay_playground::{Action, Edit, Target};
use kplay_scenario::kafka_tools;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::input::{use_text_field, TextField};
use crate::Ctx;

fn field(label: &str, f: &TextField, testid: &str) -> Html {
    html! {
        <label>{ label }<input value={f.value()} oninput={f.oninput.clone()} data-testid={testid.to_string()} aria-label={label.to_string()} /></label>
    }
}

/// What the forms need: names, and the callbacks. Equal from frame to frame, so forms do not
/// re-render while the simulation runs.
#[derive(Properties, PartialEq)]
struct FormProps {
    dispatch: Callback<Action>,
    topics: Vec<String>,
    #[prop_or_default]
    targets: Vec<(String, String)>,
}

#[derive(Properties, PartialEq)]
struct FileProps {
    dispatch: Callback<Action>,
    exported: Option<Rc<str>>,
}

#[function_component]
fn AddTopic(props: &FormProps) -> Html {
    let (name, partitions, rf, min_isr) = (
        use_text_field(|| "events".to_string()),
        use_text_field(|| "3".to_string()),
        use_text_field(|| "3".to_string()),
        use_text_field(|| "2".to_string()),
    );
    let submit = {
        let d = props.dispatch.clone();
        let (name, partitions, rf, min_isr) = (
            name.clone(),
            partitions.clone(),
            rf.clone(),
            min_isr.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::Edit(Edit::AddTopic {
                name: name.value(),
                partitions: partitions.value(),
                replication_factor: rf.value(),
                min_insync: min_isr.value(),
            }));
        })
    };
    html! {
        <form class="edit" onsubmit={submit}>
            <h3>{ "Add a topic" }</h3>
            <div class="row">
                { field("name", &name, "topic-name") }
                { field("partitions", &partitions, "topic-partitions") }
                { field("replication.factor", &rf, "topic-rf") }
                { field("min.insync.replicas", &min_isr, "topic-min-isr") }
                <button type="submit" data-testid="topic-add">{ "Add" }</button>
            </div>
        </form>
    }
}

#[function_component]
fn AddProducer(props: &FormProps) -> Html {
    let first_topic = props.topics.first().cloned().unwrap_or_default();
    let (id, topic, rate, keys, acks) = (
        use_text_field(|| "producer-2".to_string()),
        use_text_field(move || first_topic),
        use_text_field(|| "50".to_string()),
        use_text_field(|| "pool:10".to_string()),
        use_text_field(|| "all".to_string()),
    );
    let submit = {
        let d = props.dispatch.clone();
        let (id, topic, rate, keys, acks) = (
            id.clone(),
            topic.clone(),
            rate.clone(),
            keys.clone(),
            acks.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::Edit(Edit::AddProducer {
                id: id.value(),
                topic: topic.value(),
                rate_per_sec: rate.value(),
                keys: keys.value(),
                acks: acks.value(),
            }));
        })
    };
    html! {
        <form class="edit" onsubmit={submit}>
            <h3>{ "Add a producer" }</h3>
            <div class="row">
                { field("id", &id, "producer-id") }
                { field("topic", &topic, "producer-topic") }
                { field("rate/s", &rate, "producer-rate") }
                { field("keys (none, unique, pool:N)", &keys, "producer-keys") }
                { field("acks", &acks, "producer-acks") }
                <button type="submit" data-testid="producer-add">{ "Add" }</button>
            </div>
        </form>
    }
}

#[function_component]
fn AddConsumer(props: &FormProps) -> Html {
    let first_topic = props.topics.first().cloned().unwrap_or_default();
    let (id, topics, ms, reset) = (
        use_text_field(|| "consumer-2".to_string()),
        use_text_field(move || first_topic),
        use_text_field(|| "5".to_string()),
        use_text_field(|| "earliest".to_string()),
    );
    let (group, commit) = (
        use_text_field(|| "analytics".to_string()),
        use_text_field(|| "auto".to_string()),
    );
    let submit = {
        let d = props.dispatch.clone();
        let (id, topics, ms, reset) = (id.clone(), topics.clone(), ms.clone(), reset.clone());
        let (group, commit) = (group.clone(), commit.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::Edit(Edit::AddConsumer {
                id: id.value(),
                topics: topics.value(),
                processing_ms: ms.value(),
                offset_reset: reset.value(),
                group: group.value(),
                commit: commit.value(),
            }));
        })
    };
    html! {
        <form class="edit" onsubmit={submit}>
            <h3>{ "Add a consumer" }</h3>
            <div class="row">
                { field("id", &id, "consumer-id") }
                { field("topics (comma separated)", &topics, "consumer-topics") }
                { field("ms per record", &ms, "consumer-ms") }
                { field("auto.offset.reset", &reset, "consumer-reset") }
                { field("group.id (empty: standalone)", &group, "consumer-group") }
                { field("commit (auto, sync-after, async-after, sync-before, async-before)", &commit, "consumer-commit") }
                <button type="submit" data-testid="consumer-add">{ "Add" }</button>
            </div>
        </form>
    }
}

/// Set any configuration by its Kafka name on the cluster, a topic, a producer or a consumer.
#[function_component]
fn ConfigEditor(props: &FormProps) -> Html {
    let target = use_state(|| "producer:checkout".to_string());
    let (key, value) = (
        use_text_field(|| "linger.ms".to_string()),
        use_text_field(|| "20".to_string()),
    );
    let targets = &props.targets;
    let parse_target = |t: &str| -> Target {
        match t.split_once(':') {
            Some(("topic", n)) => Target::Topic(n.to_string()),
            Some(("producer", n)) => Target::Producer(n.to_string()),
            Some(("consumer", n)) => Target::Consumer(n.to_string()),
            _ => Target::Cluster,
        }
    };
    let pick = {
        let target = target.clone();
        Callback::from(move |e: Event| {
            target.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let submit = {
        let d = props.dispatch.clone();
        let (target, key, value) = (target.clone(), key.clone(), value.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::Edit(Edit::SetConfig {
                target: parse_target(&target),
                key: key.value(),
                value: value.value(),
            }));
        })
    };
    let (section, name) = target.split_once(':').unwrap_or(("cluster", ""));
    let preview = kafka_tools::setting_command(section, name, &key.value(), &value.value());
    html! {
        <form class="edit" onsubmit={submit}>
            <h3>{ "Change a setting" }</h3>
            <div class="row">
                <label>{ "of " }
                    <select onchange={pick} aria-label="Setting of" data-testid="config-target">
                        { for targets.iter().map(|(v, label)| html! { <option key={v.clone()} value={v.clone()} selected={*v == *target}>{ label }</option> }) }
                    </select>
                </label>
                { field("Kafka name", &key, "config-key") }
                { field("value", &value, "config-value") }
                <button type="submit" data-testid="config-set">{ "Set" }</button>
            </div>
            <p class="hint">{ "Changing a setting restarts the run from 0 s, as restarting a Kafka client or broker would." }</p>
            <pre class="kafka" data-testid="setting-command" tabindex="0">{ preview }</pre>
        </form>
    }
}

#[function_component]
fn ScenarioFile(props: &FileProps) -> Html {
    let ctx = props;
    let text = use_text_field(String::new);
    {
        let text = text.text.clone();
        use_effect_with(ctx.exported.clone(), move |exported| {
            if let Some(e) = exported {
                text.set(e.to_string());
            }
        });
    }
    let export = ctx.dispatch.reform(|_| Action::Export);
    let import = {
        let text = text.clone();
        ctx.dispatch.reform(move |_| Action::Import(text.value()))
    };
    let download = ctx.exported.as_ref().map(|t| {
        format!(
            "data:text/plain;charset=utf-8,{}",
            String::from(js_sys::encode_uri_component(t))
        )
    });
    html! {
        <div class="edit">
            <h3>{ "Scenario file" }</h3>
            <p class="hint">{ "The whole setup and everything you did, as TOML. " }<code>{ "kplay run file.toml" }</code>{ " replays it exactly." }</p>
            <div class="row">
                <button onclick={export} data-testid="export">{ "Export" }</button>
                if let Some(href) = download {
                    <a href={href} download="kplay-scenario.toml" data-testid="download">{ "Download" }</a>
                }
                <button onclick={import} data-testid="import">{ "Import" }</button>
            </div>
            <textarea data-testid="scenario-text" rows="8" value={text.value()} oninput={text.oninput.clone()} aria-label="Scenario TOML" spellcheck="false" />
        </div>
    }
}

#[function_component]
pub fn Setup() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let brokers = use_text_field(|| ctx.snapshot.brokers.len().to_string());
    let topics: Vec<String> = ctx.snapshot.topics.iter().map(|t| t.name.clone()).collect();
    let mut targets = vec![("cluster".to_string(), "cluster (brokers)".to_string())];
    targets.extend(
        ctx.snapshot
            .topics
            .iter()
            .map(|t| (format!("topic:{}", t.name), format!("topic {}", t.name))),
    );
    targets.extend(ctx.snapshot.producers.iter().map(|p| {
        (
            format!("producer:{}", p.name),
            format!("producer {}", p.name),
        )
    }));
    targets.extend(ctx.snapshot.consumers.iter().map(|c| {
        (
            format!("consumer:{}", c.name),
            format!("consumer {}", c.name),
        )
    }));
    let d = ctx.dispatch.clone();
    let set_brokers = {
        let d = ctx.dispatch.clone();
        let brokers = brokers.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::Edit(Edit::SetBrokers(brokers.value())));
        })
    };
    html! {
        <details class="panel" open=true>
            <summary><h2>{ "Setup" }</h2></summary>
            <form class="edit" onsubmit={set_brokers}>
                <div class="row">
                    { field("brokers", &brokers, "brokers-count") }
                    <button type="submit">{ "Set" }</button>
                </div>
            </form>
            <AddTopic dispatch={d.clone()} topics={topics.clone()} />
            <AddProducer dispatch={d.clone()} topics={topics.clone()} />
            <AddConsumer dispatch={d.clone()} topics={topics.clone()} />
            <ConfigEditor dispatch={d.clone()} topics={topics} targets={targets} />
            <ScenarioFile dispatch={d} exported={ctx.exported.clone()} />
        </details>
    }
}
