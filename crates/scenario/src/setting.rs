//! One setting of a scenario named by a dotted path, as a learner, a lesson or `kplay run --set`
//! names it: `producer.api.acks`, `topic.payments.min.insync.replicas`, `consumer.ledger.commit`,
//! `cluster.brokers`, `seed`.
//!
//! A path is `SECTION.NAME.KEY` for the sections with names (`topic`, `producer`, `consumer`,
//! `processor` (its fields only);
//! the name is matched against the scenario's own names, so a topic called `a.b` works),
//! `cluster.KEY` and `network.KEY`, or a top-level key. A `KEY` that is a field of the section
//! in the file format (`partitions`, `rate_per_sec`, `processing_ms_per_record`, ...) sets that
//! field; any other `KEY` is a Kafka configuration and goes into the section's `config` table,
//! where the parser checks its name, type and range as it does for a file.
//!
//! A change goes through the file format: the scenario is written, the one value changed, and
//! the result parsed again. So a setting is exactly what the same line in a file would be, and
//! an impossible one is refused with the parser's own message.

use toml::{Table, Value};

use crate::model::{Action, ConfigPairs, EventDef};
use crate::{Scenario, ScenarioError};

/// The fields each section has in the file format; any other key is a configuration.
const TOP_FIELDS: &[&str] = &["seed", "duration_ms"];
const CLUSTER_FIELDS: &[&str] = &["brokers"];
const NETWORK_FIELDS: &[&str] = &["latency_us", "jitter_us"];
const TOPIC_FIELDS: &[&str] = &["partitions", "replication_factor", "start_ms"];
const PRODUCER_FIELDS: &[&str] = &[
    "topic",
    "rate_per_sec",
    "records",
    "keys",
    "value_bytes",
    "start_ms",
];
/// A processor's fields; its Kafka configurations are in two tables, `consumer_config` and
/// `producer_config`, which a setting path does not reach.
const PROCESSOR_FIELDS: &[&str] = &[
    "inputs",
    "output",
    "group",
    "transform",
    "guarantee",
    "processing_ms_per_record",
    "on_failure",
    "start_ms",
];
const CONSUMER_FIELDS: &[&str] = &[
    "topics",
    "processing_ms_per_record",
    "commit",
    "failure_rate",
    "on_failure",
    "poison_keys",
    "start_ms",
];

/// Where a setting lives in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingPath {
    /// `topic`, `producer`, `consumer`, `cluster`, `network`, or empty for a top-level key.
    pub section: &'static str,
    /// The topic's name or the client's id; empty for `cluster`, `network` and the top level.
    pub name: String,
    /// A field of the section, or a Kafka configuration name.
    pub key: String,
    /// Whether `key` is a Kafka configuration (in the section's `config` table).
    pub is_config: bool,
}

impl SettingPath {
    /// Reads `path` against `scenario`'s names. The error names the path.
    pub fn parse(scenario: &Scenario, path: &str) -> Result<SettingPath, ScenarioError> {
        let err = |m: String| ScenarioError::field(None, path, m);
        let (head, rest) = path.split_once('.').unwrap_or((path, ""));
        let (section, name, key, fields): (&'static str, String, &str, &[&str]) = match head {
            "topic" | "producer" | "consumer" | "processor" => {
                let (section, names, fields): (&'static str, Vec<&str>, &[&str]) = match head {
                    "topic" => (
                        "topic",
                        scenario.topics.iter().map(|t| t.name.as_str()).collect(),
                        TOPIC_FIELDS,
                    ),
                    "producer" => (
                        "producer",
                        scenario.producers.iter().map(|p| p.id.as_str()).collect(),
                        PRODUCER_FIELDS,
                    ),
                    "processor" => (
                        "processor",
                        scenario.processors.iter().map(|p| p.id.as_str()).collect(),
                        PROCESSOR_FIELDS,
                    ),
                    _ => (
                        "consumer",
                        scenario.consumers.iter().map(|c| c.id.as_str()).collect(),
                        CONSUMER_FIELDS,
                    ),
                };
                // The longest name followed by a dot: names may hold dots themselves.
                let found = names
                    .iter()
                    .filter(|n| rest.len() > n.len() + 1 && rest.starts_with(&format!("{n}.")))
                    .max_by_key(|n| n.len());
                let Some(name) = found else {
                    let known = if names.is_empty() {
                        format!("the scenario has no {head}")
                    } else {
                        format!("the scenario's {head}s are {}", names.join(", "))
                    };
                    return Err(err(format!(
                        "expected `{head}.NAME.KEY` naming one of its {head}s; {known}"
                    )));
                };
                let key = &rest[name.len() + 1..];
                (section, name.to_string(), key, fields)
            }
            "cluster" => ("cluster", String::new(), rest, CLUSTER_FIELDS),
            "network" => ("network", String::new(), rest, NETWORK_FIELDS),
            _ if TOP_FIELDS.contains(&path) => ("", String::new(), path, TOP_FIELDS),
            _ => {
                return Err(err(
                    "expected seed, duration_ms, cluster.KEY, network.KEY, topic.NAME.KEY, \
                     producer.ID.KEY, consumer.ID.KEY or processor.ID.KEY"
                        .to_string(),
                ))
            }
        };
        if key.is_empty() {
            return Err(err(format!("`{head}` needs a key after it")));
        }
        let is_config = !fields.contains(&key);
        if is_config && matches!(section, "" | "network" | "processor") {
            return Err(err(format!("expected one of {}", fields.join(", "))));
        }
        Ok(SettingPath {
            section,
            name,
            key: key.to_string(),
            is_config,
        })
    }
}

/// A value as typed after `=`: a TOML value (`3`, `true`, `"all"`, `["a", "b"]`), or else the
/// text itself as a string, so `acks=all` needs no quotes.
pub fn parse_value(text: &str) -> Value {
    let text = text.trim();
    match crate::read::table(&format!("v = {text}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(text.to_string())),
        Err(_) => Value::String(text.to_string()),
    }
}

impl Scenario {
    /// The scenario with the setting at `path` changed to `value` (see the module's comment).
    /// Refused, with the path or the parser's message, when the path names nothing or the value
    /// is impossible; `self` is never changed.
    pub fn with_setting(&self, path: &str, value: &str) -> Result<Scenario, ScenarioError> {
        let at = SettingPath::parse(self, path)?;
        let text = self.to_toml();
        let mut doc = crate::read::table(&text)
            .map_err(|e| ScenarioError::field(None, path, format!("internal: {e}")))?;
        let table = section_table(&mut doc, &at)
            .ok_or_else(|| ScenarioError::field(None, path, "no such section in the scenario"))?;
        let table = if at.is_config {
            let config = table
                .entry("config")
                .or_insert_with(|| Value::Table(Table::new()));
            match config {
                Value::Table(t) => t,
                _ => return Err(ScenarioError::field(None, path, "config is not a table")),
            }
        } else {
            table
        };
        table.insert(at.key.clone(), parse_value(value));
        let changed = crate::emit::table(&doc);
        let mut out = Scenario::parse(&changed).map_err(|e| ScenarioError {
            line: None,
            field: path.to_string(),
            message: e.message,
        })?;
        // The same items in the same order: keep the lines they came from in the user's file.
        for (o, s) in out.topics.iter_mut().zip(&self.topics) {
            o.line = s.line;
        }
        for (o, s) in out.producers.iter_mut().zip(&self.producers) {
            o.line = s.line;
        }
        for (o, s) in out.consumers.iter_mut().zip(&self.consumers) {
            o.line = s.line;
        }
        for (o, s) in out.processors.iter_mut().zip(&self.processors) {
            o.line = s.line;
        }
        for (o, s) in out.events.iter_mut().zip(&self.events) {
            o.line = s.line;
        }
        Ok(out)
    }

    /// The current value of the setting at `path` as it would be written in a file, or `None`
    /// where the file leaves it to its default.
    pub fn setting(&self, path: &str) -> Result<Option<String>, ScenarioError> {
        let at = SettingPath::parse(self, path)?;
        let mut doc = crate::read::table(&self.to_toml())
            .map_err(|e| ScenarioError::field(None, path, format!("internal: {e}")))?;
        let Some(table) = section_table(&mut doc, &at) else {
            return Ok(None);
        };
        let value = if at.is_config {
            table
                .get("config")
                .and_then(Value::as_table)
                .and_then(|c| c.get(&at.key))
        } else {
            table.get(&at.key)
        };
        Ok(value.map(|v| match v {
            Value::String(s) => s.clone(),
            v => crate::emit::value(v),
        }))
    }
}

impl Scenario {
    /// The timeline action that changes the setting at `path` to `value` in a run that is
    /// already playing, as it would change in a Kafka cluster: a topic config is altered live
    /// (`kafka-configs.sh --alter`); a producer's or consumer's config means a redeployed client
    /// (`reconfigure_producer`, `reconfigure_consumer`); a producer's rate and a consumer's
    /// processing time are the application's own (`set_rate`, `slow_consumer`). What a running
    /// cluster cannot change (its broker count, the seed, broker configs, a topic's partitions)
    /// is refused with the path. The value is checked as the same line in a file would be.
    pub fn live_setting(&self, path: &str, value: &str) -> Result<Action, ScenarioError> {
        let at = SettingPath::parse(self, path)?;
        refuse_offline(&at, path)?;
        let changed = self.with_setting(path, value)?;
        let config_of = |pairs: &ConfigPairs| -> ConfigPairs {
            pairs
                .iter()
                .filter(|(k, _)| *k == at.key)
                .cloned()
                .collect()
        };
        let name = at.name.clone();
        match (at.section, at.key.as_str(), at.is_config) {
            ("topic", _, true) => {
                let t = changed.topics.iter().find(|t| t.name == name);
                let config = t.map(|t| config_of(&t.config)).unwrap_or_default();
                Ok(Action::AlterTopicConfig {
                    topic: name,
                    config,
                })
            }
            ("producer", "rate_per_sec", false) => {
                let p = changed.producers.iter().find(|p| p.id == name);
                Ok(Action::SetRate {
                    producer: name,
                    rate_per_sec: p.map_or(0, |p| p.rate_per_sec),
                })
            }
            ("producer", _, true) => {
                let p = changed.producers.iter().find(|p| p.id == name);
                let config = p.map(|p| config_of(&p.config)).unwrap_or_default();
                Ok(Action::ReconfigureProducer {
                    producer: name,
                    config,
                })
            }
            ("consumer", "processing_ms_per_record", false) => {
                let c = changed.consumers.iter().find(|c| c.id == name);
                Ok(Action::SlowConsumer {
                    consumer: name,
                    processing_us_per_record: c.map_or(0, |c| c.processing_us_per_record),
                })
            }
            ("consumer", _, true) => {
                let c = changed.consumers.iter().find(|c| c.id == name);
                let config = c.map(|c| config_of(&c.config)).unwrap_or_default();
                Ok(Action::ReconfigureConsumer {
                    consumer: name,
                    config,
                })
            }
            _ => unreachable!("refused above"),
        }
    }

    /// The scenario forked at `at_ms`: the same setup and timeline, plus `actions` at `at_ms`
    /// (after anything already there), so its run is the original's up to that millisecond and
    /// a file of it replays the fork.
    pub fn fork(&self, at_ms: u64, actions: Vec<Action>) -> Scenario {
        let mut fork = self.clone();
        for action in actions {
            fork.events.push(EventDef {
                at_ms,
                action,
                line: 0,
            });
        }
        // Stable: the original's events at `at_ms` stay before the fork's.
        kplay_engine::sort::sort_by_key(&mut fork.events, |e| e.at_ms);
        fork
    }
}

/// Refuses, naming the path, a setting a running cluster cannot change: its broker count, the
/// seed, broker configs (read at the start here), a topic's partitions, a client's topic.
fn refuse_offline(at: &SettingPath, path: &str) -> Result<(), ScenarioError> {
    let refuse = |why: &str| Err(ScenarioError::field(None, path, why.to_string()));
    let live = matches!(
        (at.section, at.key.as_str(), at.is_config),
        ("topic" | "producer" | "consumer", _, true)
            | ("producer", "rate_per_sec", false)
            | ("consumer", "processing_ms_per_record", false)
    );
    if live {
        return Ok(());
    }
    match (at.section, at.key.as_str()) {
        ("cluster", "brokers") => {
            refuse("a running cluster keeps its brokers; crash or restart one instead")
        }
        ("cluster", _) => refuse(
            "broker configs are read when the cluster starts; change the setup instead \
                 (alter a topic config to change one topic live)",
        ),
        ("", "seed") => refuse("a fork keeps the seed, so the two runs differ only by the change"),
        _ => refuse("cannot change while the run plays; change the setup instead"),
    }
}

/// The table the setting lives in: the document itself, `[cluster]`, `[network]`, or the one
/// `[[topic]]`, `[[producer]]` or `[[consumer]]` with the name.
pub(crate) fn section_table<'a>(doc: &'a mut Table, at: &SettingPath) -> Option<&'a mut Table> {
    match at.section {
        "" => Some(doc),
        "cluster" | "network" => match doc
            .entry(at.section)
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => Some(t),
            _ => None,
        },
        section => {
            let id_key = if section == "topic" { "name" } else { "id" };
            doc.get_mut(section)?
                .as_array_mut()?
                .iter_mut()
                .filter_map(Value::as_table_mut)
                .find(|t| t.get(id_key).and_then(Value::as_str) == Some(at.name.as_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
seed = 7
duration_ms = 1000
[cluster]
brokers = 3
[[topic]]
name = "a.b"
partitions = 2
replication_factor = 3
[[topic]]
name = "a"
partitions = 1
[[producer]]
id = "api"
topic = "a.b"
rate_per_sec = 10
config = { acks = "1" }
[[consumer]]
id = "ledger"
topics = ["a.b"]
"#;

    fn scenario() -> Scenario {
        Scenario::parse(FILE).unwrap()
    }

    #[test]
    fn a_config_goes_into_the_config_table_and_a_field_into_the_section() {
        let s = scenario();
        let t = s
            .with_setting("topic.a.b.min.insync.replicas", "2")
            .unwrap();
        assert_eq!(
            t.setting("topic.a.b.min.insync.replicas")
                .unwrap()
                .as_deref(),
            Some("2")
        );
        assert_eq!(t.setting("topic.a.min.insync.replicas").unwrap(), None);
        let t = s.with_setting("topic.a.partitions", "6").unwrap();
        assert_eq!(t.topics[1].partitions, 6);
        assert_eq!(t.topics[0].partitions, 2);
        let p = s.with_setting("producer.api.acks", "all").unwrap();
        assert_eq!(
            p.setting("producer.api.acks").unwrap().as_deref(),
            Some("all")
        );
        let c = s
            .with_setting("consumer.ledger.processing_ms_per_record", "2")
            .unwrap();
        assert_eq!(c.consumers[0].processing_us_per_record, 2000);
        let c = s.with_setting("cluster.brokers", "5").unwrap();
        assert_eq!(c.cluster.brokers, 5);
        assert_eq!(s.with_setting("seed", "9").unwrap().seed, 9);
        // Nothing else moved.
        let back = p.with_setting("producer.api.acks", "\"1\"").unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn an_impossible_setting_is_refused_naming_the_path() {
        let s = scenario();
        for (path, value, says) in [
            ("topic.a.b.replication_factor", "4", "between"),
            ("producer.api.acks", "2", "must be one of"),
            ("producer.nobody.acks", "all", "producers are api"),
            (
                "topic.a.b.no.such.config",
                "1",
                "unknown topic configuration",
            ),
            ("consumer.ledger", "1", "consumer.NAME.KEY"),
            ("bogus", "1", "expected seed"),
            ("seed", "-1", "between"),
        ] {
            let e = s.with_setting(path, value).unwrap_err();
            assert_eq!(e.field, path, "{path}: {e}");
            assert!(e.message.contains(says), "{path}: {e}");
        }
    }

    #[test]
    fn a_live_setting_is_what_a_running_cluster_does_and_a_fork_round_trips() {
        // Goal: each kind of setting becomes the action Kafka's operators would take on a
        // running cluster, and a fork's file reads back to the same scenario.
        let s = scenario();
        let cases = [
            ("topic.a.b.min.insync.replicas", "2", "alter_topic_config"),
            ("producer.api.acks", "all", "reconfigure_producer"),
            ("producer.api.rate_per_sec", "50", "set_rate"),
            (
                "consumer.ledger.max.poll.records",
                "10",
                "reconfigure_consumer",
            ),
            (
                "consumer.ledger.processing_ms_per_record",
                "3",
                "slow_consumer",
            ),
        ];
        let mut actions = Vec::new();
        for (path, value, name) in cases {
            let action = s.live_setting(path, value).unwrap();
            assert_eq!(action.name(), name, "{path}");
            actions.push(action);
        }
        assert_eq!(
            actions[0],
            Action::AlterTopicConfig {
                topic: "a.b".into(),
                config: vec![(
                    "min.insync.replicas".into(),
                    kplay_engine::config::ConfigValue::Int(2)
                )],
            }
        );
        let fork = s.fork(500, actions);
        assert_eq!(fork.events.len(), 5);
        let mut back = Scenario::parse(&fork.to_toml()).unwrap();
        for e in &mut back.events {
            e.line = 0;
        }
        assert_eq!(back.events, fork.events);
        fork.validate().unwrap();
        for (path, says) in [
            ("cluster.brokers", "keeps its brokers"),
            ("seed", "keeps the seed"),
            ("topic.a.partitions", "cannot change while the run plays"),
            ("cluster.min.insync.replicas", "broker configs"),
        ] {
            let e = s.live_setting(path, "2").unwrap_err();
            assert_eq!(e.field, path);
            assert!(e.message.contains(says), "{path}: {e}");
        }
    }
}
