//! Kafka configuration by Kafka's own names, types and defaults (Kafka 4.0, reference §2–§7).
//!
//! Each scope (broker, topic, producer, consumer) is a table of [`ConfigDef`]s. Parsing checks
//! names, types and ranges and returns an error naming the key; typed views read the result.
//! Nothing here panics on user input.

use crate::group::assignor;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A configuration value as a user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Int(i64),
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Int(v) => write!(f, "{v}"),
            ConfigValue::Bool(v) => write!(f, "{v}"),
            ConfigValue::Str(v) => write!(f, "{v:?}"),
            ConfigValue::List(v) => write!(f, "{v:?}"),
        }
    }
}

/// A rejected configuration, naming the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl ConfigValue {
    /// The value as Kafka's tools and `.properties` files write it: text bare, a list joined
    /// with commas (where `Display` quotes text, as the scenario's TOML does).
    pub fn kafka_text(&self) -> String {
        match self {
            ConfigValue::Str(v) => v.clone(),
            ConfigValue::List(v) => v.join(","),
            other => other.to_string(),
        }
    }
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Which component a configuration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Broker,
    Topic,
    Producer,
    Consumer,
}

/// The type and allowed values of one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// One of these strings (integers are accepted and compared as text, as `acks = 1`).
    Choice(&'static [&'static str]),
    /// A list whose items are each one of these.
    List(&'static [&'static str]),
    /// Free text.
    Text,
}

/// A default value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    Int(i64),
    Bool(bool),
    Str(&'static str),
    List(&'static [&'static str]),
    /// No default (Kafka's `null`).
    Null,
}

/// One configuration: its Kafka name, type, default and what the simulation does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Default,
    /// False for settings accepted for compatibility but without effect in the simulation.
    pub simulated: bool,
    pub doc: &'static str,
}

const I32: i64 = i32::MAX as i64;

const fn int(name: &'static str, default: i64, min: i64, max: i64, doc: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Int { min, max },
        default: Default::Int(default),
        simulated: true,
        doc,
    }
}
const fn boolean(name: &'static str, default: bool, doc: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Bool,
        default: Default::Bool(default),
        simulated: true,
        doc,
    }
}
const fn choice(
    name: &'static str,
    default: &'static str,
    values: &'static [&'static str],
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Choice(values),
        default: Default::Str(default),
        simulated: true,
        doc,
    }
}
const fn text(name: &'static str, doc: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Text,
        default: Default::Null,
        simulated: true,
        doc,
    }
}
/// Accepted so real configs can be pasted in: plumbing whose only effect in Kafka is outside
/// what the simulation shows (addresses, serializers).
const fn inert(name: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Text,
        default: Default::Null,
        simulated: false,
        doc: "Accepted for compatibility; no effect in the simulation.",
    }
}

/// A setting whose effect Kafka has but the simulation does not model yet: only its default is
/// accepted, any other value is refused with `why`, so nothing is silently ignored.
const fn unmodelled(name: &'static str, default: &'static str, why: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind: Kind::Text,
        default: Default::Str(default),
        simulated: false,
        doc: why,
    }
}

pub const BROKER_CONFIGS: &[ConfigDef] = &[
    boolean(
        "unclean.leader.election.enable",
        false,
        "Allow an out-of-sync replica to become leader.",
    ),
    int(
        "min.insync.replicas",
        1,
        1,
        I32,
        "Replicas that must be in sync for acks=all writes.",
    ),
    int(
        "default.replication.factor",
        1,
        1,
        I32,
        "Replication factor of auto-created topics.",
    ),
    int(
        "num.partitions",
        1,
        1,
        I32,
        "Partition count of auto-created topics.",
    ),
    int(
        "replica.lag.time.max.ms",
        30_000,
        1,
        I32,
        "How long a follower may lag before leaving the ISR.",
    ),
    int(
        "replica.fetch.wait.max.ms",
        500,
        0,
        I32,
        "Longest wait of a follower fetch.",
    ),
    int(
        "replica.fetch.min.bytes",
        1,
        1,
        I32,
        "Least data a follower fetch waits for.",
    ),
    int(
        "replica.fetch.max.bytes",
        1_048_576,
        1,
        I32,
        "Most data per partition in a follower fetch.",
    ),
    int(
        "broker.session.timeout.ms",
        9_000,
        1,
        I32,
        "Broker heartbeat silence before it is fenced.",
    ),
    int(
        "broker.heartbeat.interval.ms",
        2_000,
        1,
        I32,
        "Broker heartbeat period.",
    ),
    boolean(
        "auto.leader.rebalance.enable",
        true,
        "Move leadership back to preferred replicas.",
    ),
    int(
        "leader.imbalance.check.interval.seconds",
        300,
        1,
        I32,
        "Preferred leader check period.",
    ),
    int(
        "log.retention.check.interval.ms",
        300_000,
        1,
        I32,
        "How often retention runs.",
    ),
    int(
        "log.retention.hours",
        168,
        -1,
        I32,
        "Default retention.ms, in hours.",
    ),
    int(
        "log.retention.bytes",
        -1,
        -1,
        i64::MAX,
        "Default retention.bytes.",
    ),
    int(
        "log.segment.bytes",
        1_073_741_824,
        1_048_576,
        I32,
        "Default segment.bytes.",
    ),
    int(
        "message.max.bytes",
        1_048_588,
        0,
        I32,
        "Largest record batch a broker accepts.",
    ),
    int(
        "group.initial.rebalance.delay.ms",
        3_000,
        0,
        I32,
        "Delay of a new group's first rebalance.",
    ),
    int(
        "group.min.session.timeout.ms",
        6_000,
        0,
        I32,
        "Smallest session.timeout.ms allowed.",
    ),
    int(
        "group.max.session.timeout.ms",
        1_800_000,
        0,
        I32,
        "Largest session.timeout.ms allowed.",
    ),
    int(
        "offsets.topic.num.partitions",
        50,
        1,
        1000,
        "Partitions of __consumer_offsets.",
    ),
    int(
        "offsets.topic.replication.factor",
        3,
        1,
        I32,
        "Replication factor of __consumer_offsets.",
    ),
    int(
        "offsets.commit.timeout.ms",
        5_000,
        1,
        I32,
        "How long a commit waits for __consumer_offsets replication.",
    ),
    boolean(
        "auto.create.topics.enable",
        true,
        "Create a topic a client asks for, with num.partitions and default.replication.factor.",
    ),
    int(
        "transaction.state.log.num.partitions",
        50,
        1,
        1000,
        "Partitions of __transaction_state.",
    ),
    int(
        "transaction.state.log.replication.factor",
        3,
        1,
        I32,
        "Replication factor of __transaction_state.",
    ),
    int(
        "transaction.state.log.min.isr",
        2,
        1,
        I32,
        "min.insync.replicas of __transaction_state.",
    ),
    int(
        "transaction.max.timeout.ms",
        900_000,
        1,
        I32,
        "Largest transaction.timeout.ms a producer may ask for.",
    ),
    int(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        10_000,
        1,
        I32,
        "How often the coordinator aborts transactions past their timeout.",
    ),
    int(
        "num.io.threads",
        8,
        1,
        256,
        "Request handler threads per broker (with a hardware profile, a request takes one).",
    ),
    unmodelled(
        "log.flush.interval.messages",
        "9223372036854775807",
        FLUSH_NOT_SIMULATED,
    ),
    int(
        "num.network.threads",
        3,
        1,
        256,
        "Network threads per broker: each reads its connections' requests and writes their \
         responses (with a hardware profile, network_cpu_ns each).",
    ),
    int(
        "queued.max.requests",
        500,
        1,
        I32,
        "Requests the queue to the handler threads holds; a network thread with one more \
         to queue stops, and its connections wait (with a hardware profile).",
    ),
];

/// Why flush settings keep their default (Kafka's default never forces a flush either).
const FLUSH_NOT_SIMULATED: &str = "flushes are not simulated: a broker here crashes as a \
     process, and a process crash keeps the page cache, which the OS writes out; only a \
     machine losing power loses unflushed writes, and replication is what covers that";

pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    unmodelled("flush.messages", "9223372036854775807", FLUSH_NOT_SIMULATED),
    unmodelled("flush.ms", "9223372036854775807", FLUSH_NOT_SIMULATED),
    int(
        "retention.ms",
        604_800_000,
        -1,
        i64::MAX,
        "How long records are kept; -1 keeps them forever.",
    ),
    int(
        "retention.bytes",
        -1,
        -1,
        i64::MAX,
        "Size a partition may reach; -1 is unlimited.",
    ),
    int(
        "segment.bytes",
        1_073_741_824,
        1_048_576,
        I32,
        "Segment size at which a new one is rolled.",
    ),
    int(
        "segment.ms",
        604_800_000,
        1,
        i64::MAX,
        "Segment age at which a new one is rolled.",
    ),
    ConfigDef {
        name: "cleanup.policy",
        kind: Kind::List(&["delete", "compact"]),
        default: Default::List(&["delete"]),
        simulated: true,
        doc: "delete (retention, simulated) or compact (keep the latest record per key: not simulated yet).",
    },
    int(
        "min.insync.replicas",
        1,
        1,
        I32,
        "Replicas that must be in sync for acks=all writes.",
    ),
    boolean(
        "unclean.leader.election.enable",
        false,
        "Allow an out-of-sync replica to lead.",
    ),
    int(
        "max.message.bytes",
        1_048_588,
        0,
        I32,
        "Largest record batch this topic accepts.",
    ),
    choice(
        "message.timestamp.type",
        "CreateTime",
        &["CreateTime", "LogAppendTime"],
        "Whose clock stamps records.",
    ),
    int(
        "delete.retention.ms",
        86_400_000,
        0,
        i64::MAX,
        "How long tombstones survive compaction.",
    ),
    int(
        "min.compaction.lag.ms",
        0,
        0,
        i64::MAX,
        "Youngest record compaction may touch.",
    ),
    choice(
        "compression.type",
        "producer",
        &["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"],
        "How the topic stores batches: as the producer compressed them, or recompressed by the \
         broker (CPU on every append).",
    ),
];

pub const PRODUCER_CONFIGS: &[ConfigDef] = &[
    choice(
        "acks",
        "all",
        &["all", "-1", "0", "1"],
        "Replicas that must acknowledge a write.",
    ),
    boolean(
        "enable.idempotence",
        true,
        "Producer ids and sequence numbers prevent duplicates.",
    ),
    int(
        "retries",
        I32,
        0,
        I32,
        "How many times a failed batch is resent.",
    ),
    int(
        "max.in.flight.requests.per.connection",
        5,
        1,
        I32,
        "Unacknowledged requests per broker.",
    ),
    int("batch.size", 16_384, 0, I32, "Bytes per partition batch."),
    int(
        "linger.ms",
        5,
        0,
        I32,
        "How long a batch waits for more records.",
    ),
    int(
        "delivery.timeout.ms",
        120_000,
        0,
        I32,
        "Upper bound on the time to report a send.",
    ),
    int(
        "request.timeout.ms",
        30_000,
        0,
        I32,
        "How long to wait for a response.",
    ),
    int(
        "retry.backoff.ms",
        100,
        0,
        I32,
        "Wait before the first retry.",
    ),
    int(
        "retry.backoff.max.ms",
        1_000,
        0,
        I32,
        "Largest retry wait (exponential backoff).",
    ),
    int(
        "buffer.memory",
        33_554_432,
        0,
        i64::MAX,
        "Bytes of unsent records before send() blocks.",
    ),
    int(
        "max.request.size",
        1_048_576,
        0,
        I32,
        "Largest produce request.",
    ),
    ConfigDef {
        name: "partitioner.class",
        kind: Kind::Choice(&[ROUND_ROBIN_PARTITIONER]),
        default: Default::Null,
        simulated: true,
        doc: "Null for the built-in partitioner, or org.apache.kafka.clients.producer.RoundRobinPartitioner.",
    },
    boolean(
        "partitioner.ignore.keys",
        false,
        "Use the sticky partitioner for keyed records too.",
    ),
    boolean(
        "partitioner.adaptive.partitioning.enable",
        true,
        "Send more to partitions with shorter queues.",
    ),
    text(
        "transactional.id",
        "Names the producer across restarts: transactions, and fencing of an older instance.",
    ),
    int(
        "transaction.timeout.ms",
        60_000,
        1,
        I32,
        "How long a transaction may stay open before its coordinator aborts it.",
    ),
    inert("client.id"),
    inert("bootstrap.servers"),
    inert("key.serializer"),
    inert("value.serializer"),
    choice(
        "compression.type",
        "none",
        &["none", "gzip", "snappy", "lz4", "zstd"],
        "How the producer compresses each batch: fewer bytes on the wire and on disk, more CPU.",
    ),
    int(
        "max.block.ms",
        60_000,
        0,
        I32,
        "How long send() blocks for metadata or buffer space before it throws.",
    ),
    int(
        "metadata.max.age.ms",
        300_000,
        0,
        I32,
        "Metadata is refreshed at least this often.",
    ),
];

pub const CONSUMER_CONFIGS: &[ConfigDef] = &[
    text(
        "group.id",
        "Consumer group: subscribe, rebalance and commit through its coordinator.",
    ),
    text("group.instance.id", "Static membership id."),
    int(
        "max.poll.records",
        500,
        1,
        I32,
        "Most records one poll() returns.",
    ),
    int(
        "fetch.min.bytes",
        1,
        0,
        I32,
        "Least data a fetch waits for.",
    ),
    int(
        "fetch.max.bytes",
        52_428_800,
        0,
        I32,
        "Most data in one fetch response.",
    ),
    int(
        "fetch.max.wait.ms",
        500,
        0,
        I32,
        "Longest a fetch waits for fetch.min.bytes.",
    ),
    int(
        "max.partition.fetch.bytes",
        1_048_576,
        1,
        I32,
        "Most data per partition in a fetch.",
    ),
    choice(
        "auto.offset.reset",
        "latest",
        &["latest", "earliest", "none"],
        "Where to start without a committed offset.",
    ),
    boolean(
        "enable.auto.commit",
        true,
        "Commit positions in the background.",
    ),
    int(
        "auto.commit.interval.ms",
        5_000,
        0,
        I32,
        "Period of automatic commits.",
    ),
    int(
        "session.timeout.ms",
        45_000,
        1,
        I32,
        "Heartbeat silence before the member is removed.",
    ),
    int("heartbeat.interval.ms", 3_000, 1, I32, "Heartbeat period."),
    int(
        "max.poll.interval.ms",
        300_000,
        1,
        I32,
        "Longest gap between polls before leaving.",
    ),
    ConfigDef {
        name: "partition.assignment.strategy",
        kind: Kind::List(&[
            assignor::RANGE_CLASS,
            assignor::ROUND_ROBIN_CLASS,
            assignor::STICKY_CLASS,
            assignor::COOPERATIVE_STICKY_CLASS,
        ]),
        default: Default::List(&[assignor::RANGE_CLASS, assignor::COOPERATIVE_STICKY_CLASS]),
        simulated: true,
        doc: "Assignor classes in order of preference (range, roundrobin, sticky and cooperative-sticky are accepted as short names).",
    },
    choice(
        "isolation.level",
        "read_uncommitted",
        &["read_uncommitted", "read_committed"],
        "Whether to read records of open transactions.",
    ),
    int(
        "request.timeout.ms",
        30_000,
        0,
        I32,
        "How long to wait for a response.",
    ),
    int(
        "retry.backoff.ms",
        100,
        0,
        I32,
        "Wait before retrying a failed request.",
    ),
    int("retry.backoff.max.ms", 1_000, 0, I32, "Largest retry wait."),
    choice(
        "group.protocol",
        "classic",
        &["classic", "consumer"],
        "Group protocol.",
    ),
    text(
        "client.id",
        "Names the client; a group member's id starts with it.",
    ),
    boolean(
        "allow.auto.create.topics",
        true,
        "Let a subscription create a missing topic (when the broker allows it).",
    ),
    int(
        "metadata.max.age.ms",
        300_000,
        0,
        I32,
        "Metadata is refreshed at least this often.",
    ),
    inert("bootstrap.servers"),
    inert("key.deserializer"),
    inert("value.deserializer"),
];

/// The table of one scope.
pub fn defs(scope: Scope) -> &'static [ConfigDef] {
    match scope {
        Scope::Broker => BROKER_CONFIGS,
        Scope::Topic => TOPIC_CONFIGS,
        Scope::Producer => PRODUCER_CONFIGS,
        Scope::Consumer => CONSUMER_CONFIGS,
    }
}

/// `partitioner.class`'s one simulated value besides the built-in partitioner.
pub const ROUND_ROBIN_PARTITIONER: &str = "org.apache.kafka.clients.producer.RoundRobinPartitioner";

/// A class setting is kept, shown and exported by its full class name, which is what a real
/// client wants; the short names (`cooperative-sticky`, `CooperativeStickyAssignor`,
/// `RoundRobinPartitioner`) are accepted on the way in.
fn canonical_class(item: &str) -> &str {
    match item {
        "range" | "RangeAssignor" => assignor::RANGE_CLASS,
        "roundrobin" | "RoundRobinAssignor" => assignor::ROUND_ROBIN_CLASS,
        "sticky" | "StickyAssignor" => assignor::STICKY_CLASS,
        "cooperative-sticky" | "CooperativeStickyAssignor" => assignor::COOPERATIVE_STICKY_CLASS,
        "RoundRobinPartitioner" => ROUND_ROBIN_PARTITIONER,
        other => other,
    }
}

/// A validated set of configurations of one scope: explicit values over defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configs {
    scope: Scope,
    explicit: BTreeMap<&'static str, ConfigValue>,
}

impl Configs {
    /// Defaults only.
    pub fn new(scope: Scope) -> Configs {
        Configs {
            scope,
            explicit: BTreeMap::new(),
        }
    }

    /// Checks every pair; the first bad one is reported by name.
    pub fn parse(scope: Scope, pairs: &[(String, ConfigValue)]) -> Result<Configs, ConfigError> {
        let mut configs = Configs::new(scope);
        let mut seen = BTreeSet::new();
        for (key, value) in pairs {
            if !seen.insert(key.as_str()) {
                return Err(err(key, "set twice"));
            }
            configs.set(key, value.clone())?;
        }
        Ok(configs)
    }

    /// Sets one value after checking it.
    pub fn set(&mut self, key: &str, value: ConfigValue) -> Result<(), ConfigError> {
        let def = defs(self.scope)
            .iter()
            .find(|d| d.name == key)
            .ok_or_else(|| {
                let scope = format!("{:?}", self.scope).to_lowercase();
                err(
                    key,
                    format!(
                        "unknown {scope} configuration{}",
                        suggestion(self.scope, key)
                    ),
                )
            })?;
        let value = check(def, value)?;
        self.explicit.insert(def.name, value);
        Ok(())
    }

    /// The explicitly set values, in name order (what an exported scenario writes).
    pub fn explicit(&self) -> impl Iterator<Item = (&'static str, &ConfigValue)> {
        self.explicit.iter().map(|(k, v)| (*k, v))
    }

    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.contains_key(key)
    }

    fn def(&self, key: &str) -> &'static ConfigDef {
        defs(self.scope)
            .iter()
            .find(|d| d.name == key)
            .unwrap_or_else(|| panic!("bug: no config {key} in {:?}", self.scope))
    }

    pub fn int(&self, key: &str) -> i64 {
        match self.explicit.get(key) {
            Some(ConfigValue::Int(v)) => *v,
            Some(other) => panic!("bug: {key} holds {other:?}"),
            None => match self.def(key).default {
                Default::Int(v) => v,
                other => panic!("bug: {key} default {other:?}"),
            },
        }
    }

    pub fn bool(&self, key: &str) -> bool {
        match self.explicit.get(key) {
            Some(ConfigValue::Bool(v)) => *v,
            Some(other) => panic!("bug: {key} holds {other:?}"),
            None => match self.def(key).default {
                Default::Bool(v) => v,
                other => panic!("bug: {key} default {other:?}"),
            },
        }
    }

    /// A text or choice value; `None` for an unset key without default.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.explicit.get(key) {
            Some(ConfigValue::Str(v)) => Some(v.clone()),
            Some(other) => panic!("bug: {key} holds {other:?}"),
            None => match self.def(key).default {
                Default::Str(v) => Some(v.to_string()),
                Default::Null => None,
                other => panic!("bug: {key} default {other:?}"),
            },
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        match self.explicit.get(key) {
            Some(ConfigValue::List(v)) => v.clone(),
            Some(other) => panic!("bug: {key} holds {other:?}"),
            None => match self.def(key).default {
                Default::List(v) => v.iter().map(|s| s.to_string()).collect(),
                other => panic!("bug: {key} default {other:?}"),
            },
        }
    }
}

/// A "did you mean" hint for a misspelt key: the known key sharing the longest prefix.
fn suggestion(scope: Scope, key: &str) -> String {
    let best = defs(scope)
        .iter()
        .map(|d| {
            (
                d.name
                    .chars()
                    .zip(key.chars())
                    .take_while(|(a, b)| a == b)
                    .count(),
                d.name,
            )
        })
        .max_by_key(|(n, _)| *n);
    match best {
        Some((n, name)) if n >= 4 => format!(" (did you mean `{name}`?)"),
        _ => String::new(),
    }
}

fn type_name(v: &ConfigValue) -> &'static str {
    match v {
        ConfigValue::Int(_) => "an integer",
        ConfigValue::Bool(_) => "a boolean",
        ConfigValue::Str(_) => "a string",
        ConfigValue::List(_) => "a list",
    }
}

/// Checks one value against its definition and returns it in canonical form.
fn check(def: &ConfigDef, value: ConfigValue) -> Result<ConfigValue, ConfigError> {
    let key = def.name;
    match (def.kind, value) {
        (Kind::Int { min, max }, ConfigValue::Int(v)) => {
            if v < min || v > max {
                Err(err(
                    key,
                    format!("must be between {min} and {max}, got {v}"),
                ))
            } else {
                Ok(ConfigValue::Int(v))
            }
        }
        // Kafka accepts numbers written as strings in properties files.
        (Kind::Int { .. }, ConfigValue::Str(s)) => match s.trim().parse::<i64>() {
            Ok(v) => check(def, ConfigValue::Int(v)),
            Err(_) => Err(err(key, format!("expected an integer, got {s:?}"))),
        },
        (Kind::Bool, ConfigValue::Bool(b)) => Ok(ConfigValue::Bool(b)),
        (Kind::Bool, ConfigValue::Str(s)) => match s.as_str() {
            "true" => Ok(ConfigValue::Bool(true)),
            "false" => Ok(ConfigValue::Bool(false)),
            _ => Err(err(key, format!("expected true or false, got {s:?}"))),
        },
        (Kind::Choice(values), v @ (ConfigValue::Str(_) | ConfigValue::Int(_))) => {
            let s = match v {
                ConfigValue::Str(s) => canonical_class(&s).to_string(),
                ConfigValue::Int(i) => i.to_string(),
                _ => unreachable!(),
            };
            if values.contains(&s.as_str()) {
                Ok(ConfigValue::Str(s))
            } else {
                Err(err(
                    key,
                    format!("must be one of {}, got {s:?}", values.join(", ")),
                ))
            }
        }
        (Kind::List(_), ConfigValue::Str(s)) => {
            let items = s.split(',').map(|x| x.trim().to_string()).collect();
            check(def, ConfigValue::List(items))
        }
        (Kind::List(values), ConfigValue::List(items)) => {
            if items.is_empty() {
                return Err(err(key, "must not be empty"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let item = canonical_class(&item).to_string();
                if !values.contains(&item.as_str()) {
                    let all = values.join(", ");
                    return Err(err(key, format!("items must be among {all}, got {item:?}")));
                }
                if out.contains(&item) {
                    return Err(err(key, format!("{item:?} is listed twice")));
                }
                out.push(item);
            }
            Ok(ConfigValue::List(out))
        }
        (Kind::Text, v @ (ConfigValue::Str(_) | ConfigValue::Int(_) | ConfigValue::Bool(_)))
            if !def.simulated =>
        {
            let text = match v {
                ConfigValue::Str(s) => s,
                other => other.to_string(),
            };
            match def.default {
                Default::Str(only) if text != only => Err(err(
                    key,
                    format!(
                        "{} (only {only:?}, the default, is accepted), got {text:?}",
                        def.doc
                    ),
                )),
                _ => Ok(ConfigValue::Str(text)),
            }
        }
        (Kind::Text, ConfigValue::Str(s)) => Ok(ConfigValue::Str(s)),
        (kind, v) => {
            let expected = match kind {
                Kind::Int { .. } => "an integer",
                Kind::Bool => "a boolean",
                Kind::Choice(_) | Kind::Text => "a string",
                Kind::List(_) => "a list of strings",
            };
            Err(err(
                key,
                format!("expected {expected}, got {}", type_name(&v)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, ConfigValue)]) -> Vec<(String, ConfigValue)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_are_kafka_4_0() {
        let p = Configs::new(Scope::Producer);
        assert_eq!(p.str("acks").as_deref(), Some("all"));
        assert_eq!(p.int("linger.ms"), 5);
        assert_eq!(p.int("batch.size"), 16_384);
        assert!(p.bool("enable.idempotence"));
        let c = Configs::new(Scope::Consumer);
        assert_eq!(c.str("auto.offset.reset").as_deref(), Some("latest"));
        assert_eq!(
            c.list("partition.assignment.strategy"),
            vec![
                "org.apache.kafka.clients.consumer.RangeAssignor",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            ],
            "Kafka 4.0's default, by class name"
        );
        assert_eq!(
            Configs::new(Scope::Broker).int("replica.lag.time.max.ms"),
            30_000
        );
    }

    #[test]
    fn errors_name_the_key() {
        let bad = pairs(&[("linger.ms", ConfigValue::Int(-5))]);
        let e = Configs::parse(Scope::Producer, &bad).unwrap_err();
        assert_eq!(e.key, "linger.ms");
        assert!(e.message.contains("-5"), "{e}");

        let typo = pairs(&[("linger.mss", ConfigValue::Int(5))]);
        let e = Configs::parse(Scope::Producer, &typo).unwrap_err();
        assert!(e.message.contains("did you mean `linger.ms`"), "{e}");

        let wrong_type = pairs(&[("enable.idempotence", ConfigValue::Int(1))]);
        let e = Configs::parse(Scope::Producer, &wrong_type).unwrap_err();
        assert!(e.message.contains("expected a boolean"), "{e}");
    }

    #[test]
    fn acks_accepts_numbers_and_strings() {
        let c = Configs::parse(Scope::Producer, &pairs(&[("acks", ConfigValue::Int(1))])).unwrap();
        assert_eq!(c.str("acks").as_deref(), Some("1"));
        let bad = pairs(&[("acks", ConfigValue::Int(2))]);
        assert!(Configs::parse(Scope::Producer, &bad).is_err());
    }

    #[test]
    fn class_settings_are_kept_by_class_name_and_short_names_are_accepted() {
        for short in ["roundrobin", "RoundRobinAssignor"] {
            let v = ConfigValue::List(vec![short.into(), "cooperative-sticky".into()]);
            let c = Configs::parse(
                Scope::Consumer,
                &pairs(&[("partition.assignment.strategy", v)]),
            );
            assert_eq!(
                c.unwrap().list("partition.assignment.strategy"),
                vec![
                    "org.apache.kafka.clients.consumer.RoundRobinAssignor",
                    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
                ]
            );
        }
        let v = ConfigValue::Str("RoundRobinPartitioner".into());
        let c = Configs::parse(Scope::Producer, &pairs(&[("partitioner.class", v)]));
        assert_eq!(
            c.unwrap().str("partitioner.class").as_deref(),
            Some("org.apache.kafka.clients.producer.RoundRobinPartitioner")
        );
    }
}
