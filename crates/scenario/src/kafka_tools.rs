//! What a Kafka user would type or read: the scenario's definitions and actions as Kafka's own
//! commands (`kafka-topics.sh --create`, `kafka-console-producer.sh`, a client's
//! `.properties`), and a snapshot in the layout of `kafka-topics.sh --describe` and
//! `kafka-consumer-groups.sh --describe`. One place for the CLI and the web app, so both show
//! the same text. Plain string building: nothing here changes a run.

use std::fmt::Write as _;

use kplay_engine::config::ConfigValue;
use kplay_engine::snapshot::{GroupView, Snapshot, TopicView};

use crate::{Action, ConsumerDef, ProducerDef, Scenario, TopicDef};

/// The address every command names: the simulated cluster stands for one on this machine.
pub const BOOTSTRAP: &str = "localhost:9092";

/// What `kafka-consumer-groups.sh` prints as a member's HOST: the address the broker saw the
/// client connect from, with Java's leading slash. Every simulated client runs on one host.
pub const CLIENT_HOST: &str = "/127.0.0.1";

/// `kafka-consumer-groups.sh` prints this where a column has no value
/// (`ConsumerGroupCommand.MISSING_COLUMN_VALUE`).
const MISSING: &str = "-";

/// `kafka-topics.sh --create` for a topic of the scenario, its configs as `--config` flags.
pub fn create_topic(topic: &TopicDef) -> String {
    let mut s = format!(
        "kafka-topics.sh --bootstrap-server {BOOTSTRAP} --create --topic {} \
         --partitions {} --replication-factor {}",
        topic.name, topic.partitions, topic.replication_factor
    );
    for (key, value) in &topic.config {
        let _ = write!(s, " --config {key}={}", value.kafka_text());
    }
    s
}

/// `kafka-topics.sh --create` for a topic as the cluster has it (the web app shows it for
/// every topic, created in the setup or by an action).
pub fn create_topic_view(topic: &TopicView) -> String {
    let mut s = format!(
        "kafka-topics.sh --bootstrap-server {BOOTSTRAP} --create --topic {} \
         --partitions {} --replication-factor {}",
        topic.name,
        topic.partitions.len(),
        topic.replication_factor
    );
    for (key, value) in &topic.configs {
        let _ = write!(s, " --config {key}={value}");
    }
    s
}

/// `kafka-configs.sh --alter` for one topic config.
pub fn alter_topic_config(topic: &str, key: &str, value: &str) -> String {
    format!(
        "kafka-configs.sh --bootstrap-server {BOOTSTRAP} --alter --entity-type topics \
         --entity-name {topic} --add-config {key}={value}"
    )
}

/// A setting changed in the setup, as a Kafka user would change it: `kafka-configs.sh` for a
/// topic, a line of the client's `.properties` (the client restarts with it), a line of every
/// broker's `server.properties`. `section` is `topic`, `producer`, `consumer` or `cluster`.
pub fn setting_command(section: &str, name: &str, key: &str, value: &str) -> String {
    match section {
        "topic" => alter_topic_config(name, key, value),
        "producer" | "consumer" => {
            format!("# {name}.properties ({section} {name} restarts with it)\n{key}={value}")
        }
        _ => broker_setting(key, value),
    }
}

/// A cluster setting: a line of every broker's `server.properties`. The scenario starts its
/// brokers with it, as a changed static setting needs a restart; many can also be changed on a
/// running cluster with `kafka-configs.sh --entity-type brokers --entity-default`.
pub fn broker_setting(key: &str, value: &str) -> String {
    format!("# server.properties of every broker\n{key}={value}")
}

/// A producer's `.properties` file, as `--producer.config` or `new KafkaProducer<>(props)`
/// reads it: the settings the scenario gives, after the address.
pub fn producer_properties(p: &ProducerDef) -> String {
    let mut s = format!(
        "# {}.properties (producer {}, topic {})\nbootstrap.servers={BOOTSTRAP}\n",
        p.id, p.id, p.topic
    );
    properties(&mut s, &p.config);
    s
}

/// A consumer's `.properties` file: `group.id` and the other settings the scenario gives.
pub fn consumer_properties(c: &ConsumerDef) -> String {
    let mut s = format!(
        "# {}.properties (consumer {}, subscribes to {})\nbootstrap.servers={BOOTSTRAP}\n",
        c.id,
        c.id,
        c.topics.join(", ")
    );
    properties(&mut s, &c.config);
    s
}

fn properties(s: &mut String, config: &[(String, ConfigValue)]) {
    for (key, value) in config {
        let _ = writeln!(s, "{key}={}", value.kafka_text());
    }
}

/// Every definition of the scenario as Kafka commands and client properties, in file order.
pub fn setup_commands(scenario: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = scenario
        .cluster
        .config
        .iter()
        .map(|(k, v)| broker_setting(k, &v.kafka_text()))
        .collect();
    out.extend(scenario.topics.iter().map(create_topic));
    out.extend(scenario.producers.iter().map(producer_properties));
    out.extend(scenario.consumers.iter().map(consumer_properties));
    out
}

/// What a Kafka user would do for a timeline action: the admin command where Kafka has one,
/// the client call where the application does it, and plainly the operating-system step for
/// a fault (Kafka has no command to crash a broker).
pub fn action_command(action: &Action, scenario: &Scenario) -> String {
    match action {
        Action::CrashBroker { broker } => {
            format!("kill -9 <pid of broker {broker}>   # no Kafka command: the process dies")
        }
        Action::RestartBroker { broker } => format!(
            "kafka-server-start.sh config/server.properties   # broker {broker}, node.id={broker}"
        ),
        Action::PauseBroker {
            broker,
            duration_ms,
        } => format!(
            "kill -STOP <pid of broker {broker}>; sleep {}; kill -CONT <pid of broker {broker}>   \
             # a stop-the-world pause, as a long GC",
            seconds(*duration_ms)
        ),
        Action::PartitionNetwork { brokers } => format!(
            "iptables -A INPUT -j DROP   # on brokers {brokers:?}: cut off from the others \
             and the controller"
        ),
        Action::HealNetwork => "iptables -F   # on every broker: the network heals".to_string(),
        Action::SlowLink {
            broker,
            peer,
            extra_ms,
        } => format!(
            "tc qdisc add dev eth0 root netem delay {extra_ms}ms   # between broker {broker} \
             and broker {peer}"
        ),
        Action::CreateTopic {
            topic,
            partitions,
            replication_factor,
        } => format!(
            "kafka-topics.sh --bootstrap-server {BOOTSTRAP} --create --topic {topic} \
             --partitions {partitions} --replication-factor {replication_factor}"
        ),
        Action::DeleteTopic { topic } => {
            format!("kafka-topics.sh --bootstrap-server {BOOTSTRAP} --delete --topic {topic}")
        }
        Action::Produce { .. } => produce_command(action, scenario),
        other => client_command(other),
    }
}

/// A number of thousandths as a decimal: 1500 ms is `1.5` s, 250 µs is `0.25` ms.
fn seconds(thousandths: u64) -> String {
    let (whole, frac) = (thousandths / 1000, thousandths % 1000);
    if frac == 0 {
        format!("{whole}")
    } else {
        let frac = format!("{frac:03}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
}

/// One record by hand: `kafka-console-producer.sh` reading `key:value` (and headers) from its
/// standard input (`LineMessageReader`'s `parse.key`, `key.separator`, `parse.headers`,
/// `null.marker`). It cannot pick a partition; the application's `send()` can.
fn produce_command(action: &Action, scenario: &Scenario) -> String {
    let Action::Produce {
        producer,
        key,
        value,
        partition,
        headers,
    } = action
    else {
        return String::new();
    };
    let topic = scenario
        .producers
        .iter()
        .find(|p| p.id == *producer)
        .map_or("TOPIC", |p| p.topic.as_str());
    let mut cmd =
        format!("kafka-console-producer.sh --bootstrap-server {BOOTSTRAP} --topic {topic}");
    let mut line = String::new();
    if !headers.is_empty() {
        cmd.push_str(" --property parse.headers=true");
        let hs: Vec<String> = headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let _ = write!(line, "{}\t", hs.join(","));
    }
    if let Some(k) = key {
        cmd.push_str(" --property parse.key=true --property key.separator=:");
        let _ = write!(line, "{k}:");
    }
    match value {
        Some(v) => line.push_str(v),
        None => {
            cmd.push_str(" --property null.marker=NULL");
            line.push_str("NULL");
        }
    }
    let mut s = format!("{cmd}\n> {line}");
    if let Some(p) = partition {
        let k = key
            .as_deref()
            .map_or("null".to_string(), |k| format!("\"{k}\""));
        let _ = write!(
            s,
            "\n# the console producer cannot choose a partition; the application can:\n\
             # producer.send(new ProducerRecord<>(\"{topic}\", {p}, {k}, value));"
        );
    }
    s
}

/// Actions the application does through its client.
fn client_command(action: &Action) -> String {
    match action {
        Action::StartProducer { producer } => format!("# {producer}: the application sends again"),
        Action::StopProducer { producer } => format!("# {producer}: the application stops sending"),
        Action::SetRate {
            producer,
            rate_per_sec,
        } => format!("# {producer}: the application sends {rate_per_sec} records a second"),
        Action::RemoveProducer { producer } => format!("producer.close();   // {producer}"),
        Action::StopConsumer { consumer } => {
            format!("consumer.close();   // {consumer}: commits, leaves its group")
        }
        Action::CrashConsumer { consumer } => {
            format!("kill -9 <pid of {consumer}>   # no commit, no LeaveGroup")
        }
        Action::RestartConsumer { consumer } => format!("# start {consumer}'s application again"),
        Action::SlowConsumer {
            consumer,
            processing_us_per_record,
        } => format!(
            "# {consumer}: the application now needs {} ms per record",
            seconds(*processing_us_per_record)
        ),
        Action::AddConsumer {
            consumer,
            topics,
            group,
            ..
        } => {
            let group = group
                .as_deref()
                .map_or(String::new(), |g| format!(" --group {g}"));
            format!(
                "kafka-console-consumer.sh --bootstrap-server {BOOTSTRAP} --topic {}{group} \
                 --consumer-property client.id={consumer}",
                topics.join(",")
            )
        }
        Action::Seek {
            consumer,
            topic,
            partition,
            offset,
        } => format!(
            "consumer.seek(new TopicPartition(\"{topic}\", {partition}), {offset});   \
             // {consumer}"
        ),
        other => format!("# {}", other.name()),
    }
}

/// `kafka-topics.sh --describe` (`TopicCommand.describeTopic`): per topic, sorted by name,
/// `Topic: T\tPartitionCount: N\tReplicationFactor: R\tConfigs: k=v,...` then a line per
/// partition `\tTopic: T\tPartition: P\tLeader: L\tReplicas: a,b\tIsr: a,b\tElr: \tLastKnownElr: `.
///
/// Differences from Kafka's output, said here rather than faked: there is no `TopicId` (the
/// simulation gives topics none, and Kafka prints the field only for a non-zero id); `Elr` and
/// `LastKnownElr` are empty, as in Kafka 4.0 where eligible leader replicas are off by default;
/// `Configs` lists the topic's own settings, then those the brokers' configuration sets for it
/// (`server.properties`, Kafka's `STATIC_BROKER_CONFIG`), which Kafka lists too (the order of
/// Kafka's own list may differ).
pub fn describe_topics(snapshot: &Snapshot, exclude_internal: bool) -> String {
    let mut topics: Vec<&TopicView> = snapshot
        .topics
        .iter()
        .filter(|t| !(exclude_internal && t.internal))
        .collect();
    kplay_engine::sort::sort_by(&mut topics, |a, b| a.name.cmp(&b.name));
    let mut s = String::new();
    for t in topics {
        let configs: Vec<String> = t
            .configs
            .iter()
            .chain(&t.broker_overrides)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            s,
            "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
            t.name,
            t.partitions.len(),
            t.replication_factor,
            configs.join(",")
        );
        for p in &t.partitions {
            let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
            let _ = writeln!(
                s,
                "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\t\
                 Elr: \tLastKnownElr: ",
                t.name,
                p.partition,
                joined(&p.replicas),
                joined(&p.isr)
            );
        }
    }
    s
}

fn joined(ids: &[u32]) -> String {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    ids.join(",")
}

/// One row of `kafka-consumer-groups.sh --describe`.
struct GroupRow {
    topic: String,
    partition: u32,
    current: Option<u64>,
    log_end: Option<u64>,
    consumer_id: String,
    host: String,
    client_id: String,
}

/// `kafka-consumer-groups.sh --describe --all-groups` (`ConsumerGroupCommand.printOffsets`),
/// groups sorted by name. Per group: the members that own partitions, most partitions first,
/// each partition a row sorted by topic and partition; then the partitions with a committed
/// offset that no member owns, with `-` for the member. CURRENT-OFFSET is the committed
/// offset; LOG-END-OFFSET is what `ListOffsets(latest)` answers a `read_uncommitted` client,
/// which is the partition's high watermark, not its leader's log end; LAG is their difference.
/// `-` where there is no value (no commit, or no leader to ask). Kafka prints the group's
/// state notes ("has no active members", "is rebalancing") on standard error; they are lines
/// here.
pub fn describe_groups(snapshot: &Snapshot) -> String {
    let mut groups: Vec<&GroupView> = snapshot.groups.iter().collect();
    kplay_engine::sort::sort_by(&mut groups, |a, b| a.group.cmp(&b.group));
    let mut s = String::new();
    for g in groups {
        let rows = group_rows(snapshot, g);
        match g.state.as_str() {
            "Empty" => {
                let _ = writeln!(s, "\nConsumer group '{}' has no active members.", g.group);
            }
            "PreparingRebalance" | "CompletingRebalance" => {
                let _ = writeln!(s, "\nWarning: Consumer group '{}' is rebalancing.", g.group);
            }
            _ => {}
        }
        if rows.is_empty() {
            continue;
        }
        s.push_str(&group_table(&g.group, &rows));
    }
    s
}

fn group_rows(snapshot: &Snapshot, g: &GroupView) -> Vec<GroupRow> {
    let partition = |topic: &str, p: u32| {
        g.partitions
            .iter()
            .find(|gp| gp.topic == topic && gp.partition == p)
    };
    let has_leader = |topic: &str, p: u32| {
        snapshot
            .topics
            .iter()
            .find(|t| t.name == topic)
            .and_then(|t| t.partitions.get(p as usize))
            .is_some_and(|pv| pv.leader.is_some())
    };
    let row = |topic: &str, p: u32, member: Option<(&str, &str)>| {
        let gp = partition(topic, p);
        GroupRow {
            topic: topic.to_string(),
            partition: p,
            current: gp.and_then(|gp| gp.committed),
            log_end: gp
                .filter(|_| has_leader(topic, p))
                .map(|gp| gp.high_watermark),
            consumer_id: member.map_or(MISSING, |m| m.0).to_string(),
            host: member.map_or(MISSING, |_| CLIENT_HOST).to_string(),
            client_id: member.map_or(MISSING, |m| m.1).to_string(),
        }
    };
    let mut members: Vec<_> = g
        .members
        .iter()
        .filter(|m| !m.assignment.is_empty())
        .collect();
    // Stable: members with as many partitions keep the coordinator's order.
    kplay_engine::sort::sort_by_key(&mut members, |m| std::cmp::Reverse(m.assignment.len()));
    let mut rows = Vec::new();
    for m in members {
        let mut owned = m.assignment.clone();
        kplay_engine::sort::sort(&mut owned);
        for (topic, p) in owned {
            rows.push(row(&topic, p, Some((&m.member_id, &m.client_id))));
        }
    }
    let assigned = |topic: &str, p: u32| {
        g.members
            .iter()
            .any(|m| m.assignment.iter().any(|(t, q)| t == topic && *q == p))
    };
    let mut unowned: Vec<_> = g
        .partitions
        .iter()
        .filter(|gp| gp.committed.is_some() && !assigned(&gp.topic, gp.partition))
        .collect();
    kplay_engine::sort::sort_by(&mut unowned, |a, b| {
        (&a.topic, a.partition).cmp(&(&b.topic, b.partition))
    });
    for gp in unowned {
        rows.push(row(&gp.topic, gp.partition, None));
    }
    rows
}

/// The table as `printOffsetFormat` lays it out: GROUP, TOPIC, CONSUMER-ID and HOST at least
/// 15 wide (wider for longer values), the numbers 10 and 15 wide, a space between columns, a
/// blank line before the header.
fn group_table(group: &str, rows: &[GroupRow]) -> String {
    let width = |f: &dyn Fn(&GroupRow) -> usize| rows.iter().map(f).max().unwrap_or(0).max(15);
    let gw = group.len().max(15);
    let tw = width(&|r| r.topic.len());
    let cw = width(&|r| r.consumer_id.len());
    let hw = width(&|r| r.host.len());
    let opt = |v: Option<u64>| v.map_or(MISSING.to_string(), |v| v.to_string());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:gw$} {:tw$} {:10} {:15} {:15} {:15} {:cw$} {:hw$} CLIENT-ID",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
    );
    for r in rows {
        let lag = match (r.current, r.log_end) {
            (Some(c), Some(e)) => Some(e.saturating_sub(c)),
            _ => None,
        };
        let _ = writeln!(
            s,
            "{:gw$} {:tw$} {:10} {:15} {:15} {:15} {:cw$} {:hw$} {}",
            group,
            r.topic,
            r.partition.to_string(),
            opt(r.current),
            opt(r.log_end),
            opt(lag),
            r.consumer_id,
            r.host,
            r.client_id
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a topic's create command carries its configs as Kafka's `--config` flags, bare
    /// values, so it can be pasted into a shell. Method: parse a small scenario.
    #[test]
    fn create_topic_names_every_config() {
        let scenario = Scenario::parse(
            "[cluster]\nbrokers = 3\n[[topic]]\nname = \"orders\"\npartitions = 6\n\
             replication_factor = 3\nconfig = { \"min.insync.replicas\" = 2, \
             \"cleanup.policy\" = \"compact\" }\n",
        )
        .expect("parses");
        assert_eq!(
            create_topic(&scenario.topics[0]),
            "kafka-topics.sh --bootstrap-server localhost:9092 --create --topic orders \
             --partitions 6 --replication-factor 3 --config cleanup.policy=compact \
             --config min.insync.replicas=2"
        );
    }

    /// Goal: a record produced by hand reads as the console producer's input with the
    /// properties it needs to parse the key, and says where the tool cannot follow.
    #[test]
    fn produce_is_the_console_producer_with_parse_key() {
        let scenario = Scenario::parse(
            "[[topic]]\nname = \"orders\"\n[[producer]]\nid = \"checkout\"\ntopic = \"orders\"\n",
        )
        .expect("parses");
        let produce = |key: Option<&str>, partition| Action::Produce {
            producer: "checkout".into(),
            key: key.map(str::to_string),
            value: Some("42".into()),
            partition,
            headers: Vec::new(),
        };
        assert_eq!(
            action_command(&produce(Some("k1"), None), &scenario),
            "kafka-console-producer.sh --bootstrap-server localhost:9092 --topic orders \
             --property parse.key=true --property key.separator=:\n> k1:42"
        );
        let chosen = action_command(&produce(None, Some(2)), &scenario);
        assert!(chosen.starts_with(
            "kafka-console-producer.sh --bootstrap-server localhost:9092 --topic orders\n> 42\n"
        ));
        assert!(chosen.contains("new ProducerRecord<>(\"orders\", 2, null, value)"));
    }

    /// Goal: a setting reads as the tool or file a Kafka user would change it in: a topic's
    /// through `kafka-configs.sh`, a client's in its `.properties`, the cluster's in
    /// `server.properties`.
    #[test]
    fn a_setting_is_changed_where_kafka_users_change_it() {
        assert_eq!(
            setting_command("topic", "orders", "retention.ms", "60000"),
            "kafka-configs.sh --bootstrap-server localhost:9092 --alter --entity-type topics \
             --entity-name orders --add-config retention.ms=60000"
        );
        assert_eq!(
            setting_command("producer", "checkout", "linger.ms", "20"),
            "# checkout.properties (producer checkout restarts with it)\nlinger.ms=20"
        );
        assert_eq!(
            setting_command("cluster", "", "min.insync.replicas", "2"),
            "# server.properties of every broker\nmin.insync.replicas=2"
        );
    }

    /// Goal: `Configs` lists the topic's own settings and, as Kafka does, those the brokers'
    /// `server.properties` sets for it (by the topic config's name), but not one the topic
    /// overrides itself. Method: describe a built scenario at time zero.
    #[test]
    fn describe_lists_broker_settings_the_topic_does_not_override() {
        let scenario = Scenario::parse(
            "[cluster]\nbrokers = 3\nconfig = { \"min.insync.replicas\" = 2, \
             \"log.retention.hours\" = 1 }\n[[topic]]\nname = \"orders\"\npartitions = 1\n\
             replication_factor = 3\nconfig = { \"retention.ms\" = 60000 }\n",
        )
        .expect("parses");
        let sim = scenario.build(None).expect("builds");
        let text = describe_topics(&sim.snapshot(0, 0), true);
        let first = text.lines().next().expect("a line");
        assert_eq!(
            first,
            "Topic: orders\tPartitionCount: 1\tReplicationFactor: 3\t\
             Configs: retention.ms=60000,min.insync.replicas=2"
        );
    }
}
