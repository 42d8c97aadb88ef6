//! Commands: the changes a scenario's timeline, the UI or a test makes to a running
//! simulation, their validation (naming the field at fault) and their application.

use super::*;
use crate::txn::TRANSACTION_TOPIC;

/// Limits that keep a run inside a browser tab's memory. Bigger values are rejected, not clamped.
pub const MAX_BROKERS: u32 = 64;

pub const MAX_PARTITIONS_PER_TOPIC: u32 = 1_000;

pub const MAX_RATE_PER_SEC: u64 = 10_000_000;

pub const MAX_VALUE_BYTES: u32 = 1_048_576;

pub const MAX_KEY_POOL: u32 = 10_000_000;

/// A change to the running simulation: from a scenario's timeline, the UI, or a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    CreateTopic {
        name: String,
        partitions: u32,
        replication_factor: u32,
        configs: Configs,
    },
    DeleteTopic {
        name: String,
    },
    /// `kafka-configs.sh --alter --entity-type topics --add-config`: these topic configs change
    /// now, the others stay as they are (Kafka's `IncrementalAlterConfigs`).
    AlterTopicConfig {
        topic: String,
        set: Vec<(String, ConfigValue)>,
    },
    AddProducer(ProducerSpec),
    RemoveProducer {
        name: String,
    },
    SetProducerRunning {
        name: String,
        running: bool,
    },
    SetProducerRate {
        name: String,
        rate_per_sec: u64,
    },
    ProduceOne {
        producer: String,
        record: ManualRecord,
    },
    /// An operator redeploys the producer with these configs changed: the running instance is
    /// closed (`close()` sends what it holds: its workload stops, its batches still go) and a
    /// new instance with the new configuration takes over the application's workload. A Kafka
    /// client cannot change its configuration while it runs.
    ReconfigureProducer {
        name: String,
        set: Vec<(String, ConfigValue)>,
    },
    AddConsumer(ConsumerSpec),
    RemoveConsumer {
        name: String,
    },
    /// `close()`: commit (with auto-commit), leave the group, stop. The consumer stays listed.
    StopConsumer {
        name: String,
    },
    /// The consumer's process dies mid-poll: no commit, no LeaveGroup.
    CrashConsumer {
        name: String,
    },
    /// A stopped or crashed consumer starts again as a new process (same name and settings).
    RestartConsumer {
        name: String,
    },
    /// Change the application's processing time per record (a slow consumer).
    SetConsumerProcessing {
        name: String,
        per_record_us: u64,
    },
    Seek {
        consumer: String,
        topic: String,
        partition: u32,
        offset: u64,
    },
    /// An operator redeploys the consumer with these configs changed: a running consumer is
    /// closed (`close()`: commit, LeaveGroup) and starts again as a new process with the new
    /// configuration; a stopped or crashed one keeps it for its next start.
    ReconfigureConsumer {
        name: String,
        set: Vec<(String, ConfigValue)>,
    },
    /// A consume-transform-produce application: its consumer and producer, named after it.
    AddProcessor(crate::processor::ProcessorSpec),
    /// The processor's process dies: neither client says goodbye; its open transaction stays
    /// open until its timeout or its next instance's `initTransactions()`.
    CrashProcessor {
        name: String,
    },
    /// A crashed processor starts again: a new process with both clients new.
    RestartProcessor {
        name: String,
    },
    CrashBroker {
        broker: u32,
    },
    RestartBroker {
        broker: u32,
    },
    /// Cut these brokers off from the other brokers and the controller (clients still reach
    /// every broker).
    PartitionNetwork {
        isolated: Vec<u32>,
    },
    HealNetwork,
    /// Add latency between two brokers, both ways (0 restores the link).
    SlowLink {
        a: u32,
        b: u32,
        extra_ms: u64,
    },
    /// Stop a broker's process for a while, as a long garbage-collection pause does.
    PauseBroker {
        broker: u32,
        duration_ms: u64,
    },
    ResumeBroker {
        broker: u32,
    },
}

/// A command or setup the simulation refuses, naming the field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError {
            field: e.key,
            message: e.message,
        }
    }
}

pub(super) fn reject<T>(field: &str, message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError {
        field: field.to_string(),
        message: message.into(),
    })
}

/// Kafka's topic name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() || name.len() > 249 {
        return reject("name", "a topic name has 1 to 249 characters");
    }
    if name == "." || name == ".." {
        return reject("name", "a topic name cannot be \".\" or \"..\"");
    }
    legal_characters("name", name, "a topic name")
}

/// Topic names and client ids use Kafka's legal characters: letters, digits, '.', '_', '-'.
pub(super) fn legal_characters(field: &str, name: &str, what: &str) -> Result<(), CommandError> {
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => reject(
            field,
            format!("{c:?} is not allowed in {what} (use letters, digits, '.', '_', '-')"),
        ),
        None => Ok(()),
    }
}

/// A producer's `rate_per_sec`, as added or changed: `"max"` (a closed loop) needs a machine
/// whose `send()` costs something, or the loop would never end.
fn check_rate(rate_per_sec: u64, hardware: &crate::hardware::Hardware) -> Result<(), CommandError> {
    if rate_per_sec == crate::producer::RATE_MAX {
        return match hardware.producer_send_ns_per_record {
            0 => reject(
                "rate_per_sec",
                format!(
                    "\"max\" needs a hardware profile whose producer_send_ns_per_record is \
                     above 0 (hardware {:?} has none): set [cluster] hardware, e.g. \
                     \"kreps-2014\"",
                    hardware.profile
                ),
            ),
            _ => Ok(()),
        };
    }
    match rate_per_sec > MAX_RATE_PER_SEC {
        true => reject(
            "rate_per_sec",
            format!("must be at most {MAX_RATE_PER_SEC}, or \"max\""),
        ),
        false => Ok(()),
    }
}

pub(super) fn validate_client_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() || name.len() > 64 {
        return reject("id", "an id has 1 to 64 characters");
    }
    legal_characters("id", name, "an id")
}

/// What a command is about: `Sim::validate` and `Sim::apply` route a command to its family's
/// rules by it, so that a new command is named here once and written in its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Topic,
    Producer,
    Consumer,
    Processor,
    Fault,
}

impl Command {
    fn family(&self) -> Family {
        match self {
            Command::CreateTopic { .. }
            | Command::DeleteTopic { .. }
            | Command::AlterTopicConfig { .. } => Family::Topic,
            Command::AddProducer(_)
            | Command::RemoveProducer { .. }
            | Command::SetProducerRunning { .. }
            | Command::SetProducerRate { .. }
            | Command::ProduceOne { .. }
            | Command::ReconfigureProducer { .. } => Family::Producer,
            Command::AddConsumer(_)
            | Command::RemoveConsumer { .. }
            | Command::StopConsumer { .. }
            | Command::CrashConsumer { .. }
            | Command::RestartConsumer { .. }
            | Command::SetConsumerProcessing { .. }
            | Command::Seek { .. }
            | Command::ReconfigureConsumer { .. } => Family::Consumer,
            Command::AddProcessor(_)
            | Command::CrashProcessor { .. }
            | Command::RestartProcessor { .. } => Family::Processor,
            Command::CrashBroker { .. }
            | Command::RestartBroker { .. }
            | Command::PartitionNetwork { .. }
            | Command::HealNetwork
            | Command::SlowLink { .. }
            | Command::PauseBroker { .. }
            | Command::ResumeBroker { .. } => Family::Fault,
        }
    }
}

impl Sim {
    /// Checks a command against the current state without applying it.
    pub fn validate(&self, command: &Command) -> Result<(), CommandError> {
        match command.family() {
            Family::Topic => self.validate_topic(command),
            Family::Producer => self.validate_producer(command),
            Family::Consumer => self.validate_consumer(command),
            Family::Processor => self.validate_processor(command),
            Family::Fault => self.validate_fault(command),
        }
    }

    /// Topics created and deleted.
    fn validate_topic(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                replication_factor,
                configs,
            } => {
                validate_topic_name(name)?;
                if self
                    .controller
                    .metadata()
                    .topics
                    .contains_key(name.as_str())
                {
                    return reject("name", format!("topic {name:?} already exists"));
                }
                if *partitions == 0 || *partitions > MAX_PARTITIONS_PER_TOPIC {
                    let m = format!(
                        "must be between 1 and {MAX_PARTITIONS_PER_TOPIC}, got {partitions}"
                    );
                    return reject("partitions", m);
                }
                if *replication_factor == 0 || *replication_factor > self.setup.brokers {
                    let m = format!(
                        "must be between 1 and the number of brokers ({}), got {replication_factor}",
                        self.setup.brokers
                    );
                    return reject("replication_factor", m);
                }
                let resolved = TopicConfig::resolve(configs, &self.setup.configs);
                if resolved.min_insync_replicas > *replication_factor {
                    let m = format!(
                        "{} exceeds the replication factor {replication_factor}, so acks=all writes could never succeed",
                        resolved.min_insync_replicas
                    );
                    return reject("min.insync.replicas", m);
                }
                Ok(())
            }
            Command::DeleteTopic { name } if name == OFFSETS_TOPIC => reject(
                "name",
                "__consumer_offsets is internal; Kafka does not let you delete it",
            ),
            Command::DeleteTopic { name } => match self
                .controller
                .metadata()
                .topics
                .contains_key(name.as_str())
            {
                true => Ok(()),
                false => reject("name", format!("no topic {name:?}")),
            },
            Command::AlterTopicConfig { topic, set } => self.altered_topic(topic, set).map(|_| ()),
            _ => unreachable!("validate routes only topic commands here"),
        }
    }

    /// Producers added, removed, started, stopped, throttled, or asked to send one record.
    fn validate_producer(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::AddProducer(spec) => {
                validate_client_name(&spec.name)?;
                if self.producer_index(&spec.name).is_some() {
                    return reject("id", format!("a producer {:?} already exists", spec.name));
                }
                validate_topic_name(&spec.topic).map_err(|e| CommandError {
                    field: "topic".into(),
                    ..e
                })?;
                check_rate(spec.rate_per_sec, &self.setup.hardware)?;
                if spec.value_bytes > MAX_VALUE_BYTES {
                    return reject("value_bytes", format!("must be at most {MAX_VALUE_BYTES}"));
                }
                if let crate::producer::KeyMode::Pool(n) = spec.keys {
                    if n == 0 || n > MAX_KEY_POOL {
                        return reject(
                            "keys",
                            format!("pool size must be between 1 and {MAX_KEY_POOL}"),
                        );
                    }
                }
                crate::producer::ProducerConfig::from_configs(&spec.configs)?;
                if spec.configs.str("transactional.id").is_some() {
                    if spec.records_per_transaction == 0 || spec.records_per_transaction > 1_000_000
                    {
                        return reject("records_per_transaction", "between 1 and 1000000");
                    }
                    if spec.abort_ppm > 1_000_000 {
                        return reject("abort_rate", "between 0 and 1");
                    }
                    let timeout = spec.configs.int("transaction.timeout.ms");
                    let max = self.setup.configs.int("transaction.max.timeout.ms");
                    if timeout > max {
                        let m = format!(
                            "{timeout} exceeds the brokers' transaction.max.timeout.ms \
                             ({max}): InitProducerId fails with INVALID_TRANSACTION_TIMEOUT"
                        );
                        return reject("transaction.timeout.ms", m);
                    }
                    self.check_internal_topic(
                        "transaction.state.log.replication.factor",
                        TRANSACTION_TOPIC,
                    )?;
                }
                Ok(())
            }
            Command::ReconfigureProducer { name, set } => {
                self.refuse_processor_client(name, "producer")?;
                self.refuse_forwarder(name)?;
                self.reconfigured_producer(name, set).map(|_| ())
            }
            Command::RemoveProducer { name }
            | Command::SetProducerRunning { name, .. }
            | Command::SetProducerRate { name, .. }
            | Command::ProduceOne { producer: name, .. } => {
                if self.producer_index(name).is_none() {
                    return reject("producer", format!("no producer {name:?}"));
                }
                self.refuse_processor_client(name, "producer")?;
                self.refuse_forwarder(name)?;
                if let Command::SetProducerRate { rate_per_sec, .. } = command {
                    check_rate(*rate_per_sec, &self.setup.hardware)?;
                }
                Ok(())
            }
            _ => unreachable!("validate routes only producer commands here"),
        }
    }

    /// Consumers added, removed, stopped, crashed, restarted, slowed, or sought.
    fn validate_consumer(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::AddConsumer(spec) => {
                validate_client_name(&spec.name)?;
                if self.consumer_index(&spec.name).is_some() {
                    return reject("id", format!("a consumer {:?} already exists", spec.name));
                }
                if spec.topics.is_empty() {
                    return reject("topics", "list at least one topic");
                }
                self.validate_failures(spec)?;
                let config = crate::consumer::ConsumerConfig::from_configs(&spec.configs)?;
                if config.group_id.is_some() {
                    self.check_offsets_topic()?;
                }
                Ok(())
            }
            Command::StopConsumer { name }
            | Command::CrashConsumer { name }
            | Command::RestartConsumer { name }
            | Command::SetConsumerProcessing { name, .. } => {
                let Some(i) = self.consumer_index(name) else {
                    return reject("consumer", format!("no consumer {name:?}"));
                };
                if !matches!(command, Command::SetConsumerProcessing { .. }) {
                    self.refuse_processor_client(name, "consumer")?;
                }
                let state = self.consumers[i].as_ref().expect("indexed").state;
                let down = matches!(state, AppState::Stopped | AppState::Crashed);
                match command {
                    Command::StopConsumer { .. } | Command::CrashConsumer { .. } if down => {
                        reject("consumer", format!("consumer {name:?} is not running"))
                    }
                    Command::RestartConsumer { .. } if !down => reject(
                        "consumer",
                        format!("consumer {name:?} is running; stop or crash it first"),
                    ),
                    Command::SetConsumerProcessing { per_record_us, .. }
                        if *per_record_us > 3_600_000_000 =>
                    {
                        reject("processing_ms_per_record", "at most 3600000 (one hour)")
                    }
                    _ => Ok(()),
                }
            }
            Command::ReconfigureConsumer { name, set } => {
                self.refuse_processor_client(name, "consumer")?;
                self.reconfigured_consumer(name, set).map(|_| ())
            }
            Command::RemoveConsumer { name } | Command::Seek { consumer: name, .. } => {
                match self.consumer_index(name) {
                    Some(_) if matches!(command, Command::RemoveConsumer { .. }) => {
                        self.refuse_processor_client(name, "consumer")
                    }
                    Some(_) => Ok(()),
                    None => reject("consumer", format!("no consumer {name:?}")),
                }
            }
            _ => unreachable!("validate routes only consumer commands here"),
        }
    }

    /// Faults: brokers crashed, restarted and paused, the network partitioned, healed and slowed.
    fn validate_fault(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::CrashBroker { broker } | Command::RestartBroker { broker } => {
                let Some(slot) = self.brokers.get(*broker as usize) else {
                    let m = format!(
                        "no broker {broker}; brokers are 0 to {}",
                        self.setup.brokers - 1
                    );
                    return reject("broker", m);
                };
                match (command, slot.up) {
                    (Command::CrashBroker { .. }, false) => {
                        reject("broker", format!("broker {broker} is already down"))
                    }
                    (Command::RestartBroker { .. }, true) => {
                        reject("broker", format!("broker {broker} is already up"))
                    }
                    _ => Ok(()),
                }
            }
            Command::PartitionNetwork { isolated } => {
                if isolated.is_empty() || isolated.len() as u32 >= self.setup.brokers {
                    return reject(
                        "brokers",
                        "isolate at least one broker and leave at least one on the other side",
                    );
                }
                self.check_broker_ids("brokers", isolated)
            }
            Command::HealNetwork => Ok(()),
            Command::SlowLink { a, b, extra_ms } => {
                self.check_broker_ids("broker", &[*a, *b])?;
                if a == b {
                    return reject("broker", "a link joins two different brokers");
                }
                if *extra_ms > 600_000 {
                    return reject("extra_ms", "at most 600000 (ten minutes)");
                }
                Ok(())
            }
            Command::PauseBroker {
                broker,
                duration_ms,
            } => {
                self.check_broker_ids("broker", &[*broker])?;
                if !self.brokers[*broker as usize].up {
                    return reject("broker", format!("broker {broker} is down"));
                }
                if *duration_ms == 0 || *duration_ms > 3_600_000 {
                    return reject("duration_ms", "between 1 and 3600000 (one hour)");
                }
                Ok(())
            }
            Command::ResumeBroker { broker } => self.check_broker_ids("broker", &[*broker]),

            _ => unreachable!("validate routes only fault commands here"),
        }
    }

    /// `__consumer_offsets` exists or can be created (Kafka refuses while the cluster has fewer
    /// brokers than `offsets.topic.replication.factor`, and groups cannot work).
    pub(super) fn check_offsets_topic(&self) -> Result<(), CommandError> {
        self.check_internal_topic("offsets.topic.replication.factor", OFFSETS_TOPIC)
    }

    /// An internal topic exists or can be created with the replication factor `config` asks
    /// for (Kafka refuses while the cluster has fewer brokers).
    fn check_internal_topic(&self, config: &str, topic: &str) -> Result<(), CommandError> {
        if self.metadata().topics.contains_key(topic) {
            return Ok(());
        }
        let rf = self.setup.configs.int(config) as u32;
        if rf > self.setup.brokers {
            let what = match topic {
                OFFSETS_TOPIC => "consumer groups",
                _ => "transactions",
            };
            let m = format!(
                "{rf} exceeds the number of brokers ({}): Kafka cannot create {topic}, so {what} cannot work; set it to at most {} in the cluster configs",
                self.setup.brokers, self.setup.brokers
            );
            return reject(config, m);
        }
        Ok(())
    }

    /// Creates `__transaction_state` as Kafka does on the first transactional coordinator
    /// lookup: `transaction.state.log.*` partitions, replication factor and min ISR.
    fn ensure_transaction_topic(&mut self) -> Result<(), CommandError> {
        if self.metadata().topics.contains_key(TRANSACTION_TOPIC) {
            return Ok(());
        }
        let c = &self.setup.configs;
        let mut configs = Configs::new(crate::config::Scope::Topic);
        let min_isr = c.int("transaction.state.log.min.isr");
        let value = crate::config::ConfigValue::Int(min_isr);
        configs
            .set("min.insync.replicas", value)
            .map_err(|e| CommandError {
                field: "transaction.state.log.min.isr".into(),
                message: e.message,
            })?;
        self.apply(Command::CreateTopic {
            name: TRANSACTION_TOPIC.to_string(),
            partitions: c.int("transaction.state.log.num.partitions") as u32,
            replication_factor: c.int("transaction.state.log.replication.factor") as u32,
            configs,
        })
    }

    /// Creates `__consumer_offsets` as Kafka does on the first coordinator lookup.
    pub(super) fn ensure_offsets_topic(&mut self) -> Result<(), CommandError> {
        if self.metadata().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        self.apply(Command::CreateTopic {
            name: OFFSETS_TOPIC.to_string(),
            partitions: self.setup.configs.int("offsets.topic.num.partitions") as u32,
            replication_factor: self.setup.configs.int("offsets.topic.replication.factor") as u32,
            configs: Configs::new(crate::config::Scope::Topic),
        })
    }

    pub(super) fn check_broker_ids(&self, field: &str, ids: &[u32]) -> Result<(), CommandError> {
        match ids.iter().find(|&&b| b >= self.setup.brokers) {
            Some(b) => reject(
                field,
                format!("no broker {b}; brokers are 0 to {}", self.setup.brokers - 1),
            ),
            None => Ok(()),
        }
    }

    /// Applies a command now, or says why not (and changes nothing).
    pub fn apply(&mut self, command: Command) -> Result<(), CommandError> {
        self.validate(&command)?;
        self.touched = Touched::Everything;
        match command.family() {
            Family::Topic => self.apply_topic(command),
            Family::Producer => self.apply_producer(command),
            Family::Consumer => self.apply_consumer(command),
            Family::Processor => self.apply_processor(command),
            Family::Fault => self.apply_fault(command),
        }
    }

    /// Topics created and deleted.
    fn apply_topic(&mut self, command: Command) -> Result<(), CommandError> {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                replication_factor,
                configs,
            } => {
                let ids = self.broker_ids();
                let assignment = assign_replicas(
                    &ids,
                    partitions,
                    replication_factor,
                    &mut self.placement_rng,
                );
                let config = TopicConfig::resolve(&configs, &self.setup.configs);
                let topic: Arc<str> = Arc::from(name.as_str());
                self.update_metadata(|m| {
                    let t = TopicMetadata::created(topic.clone(), assignment, config);
                    m.topics.insert(topic, t);
                });
                self.record(TraceKind::TopicCreated {
                    topic: name,
                    partitions,
                    replication_factor,
                });
            }
            Command::DeleteTopic { name } => {
                self.update_metadata(|m| {
                    m.topics.remove(name.as_str());
                });
                self.record(TraceKind::TopicDeleted { topic: name });
            }
            Command::AlterTopicConfig { topic, set } => {
                let config = self.altered_topic(&topic, &set)?;
                let keys = set
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.update_metadata(|m| {
                    if let Some(t) = m.topics.get_mut(topic.as_str()) {
                        t.config = config;
                    }
                });
                self.record(TraceKind::TopicConfigAltered { topic, keys });
            }
            _ => unreachable!("apply routes only topic commands here"),
        }
        Ok(())
    }

    /// Producers added, removed, started, stopped, throttled, or asked to send one record.
    fn apply_producer(&mut self, command: Command) -> Result<(), CommandError> {
        match command {
            Command::AddProducer(spec) => self.add_producer(spec)?,
            Command::RemoveProducer { name } => {
                let i = self.producer_index(&name).expect("validated");
                self.producers[i] = None;
                self.record(TraceKind::ProducerRemoved { producer: i as u32 });
            }
            Command::SetProducerRunning { name, running } => {
                let i = self.producer_index(&name).expect("validated");
                self.with_producer(i, |p, now, out| p.set_running(now, running, out));
            }
            Command::SetProducerRate { name, rate_per_sec } => {
                let i = self.producer_index(&name).expect("validated");
                self.with_producer(i, |p, now, out| p.set_rate(now, rate_per_sec, out));
            }
            Command::ProduceOne { producer, record } => {
                let i = self.producer_index(&producer).expect("validated");
                self.with_producer(i, |p, now, out| p.produce_one(now, record, out));
            }
            Command::ReconfigureProducer { name, set } => self.reconfigure_producer(&name, &set)?,
            _ => unreachable!("apply routes only producer commands here"),
        }
        Ok(())
    }

    /// Consumers added, removed, stopped, crashed, restarted, slowed, or sought.
    fn apply_consumer(&mut self, command: Command) -> Result<(), CommandError> {
        match command {
            Command::AddConsumer(spec) => self.add_consumer(spec)?,
            Command::RemoveConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.stop(now, out));
                self.consumers[i] = None;
                self.record(TraceKind::ConsumerRemoved { consumer: i as u32 });
            }
            Command::StopConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.stop(now, out));
            }
            Command::CrashConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.crash(now, out));
                self.consumer_incarnations[i] += 1;
                self.crash_forwarders(i);
            }
            Command::RestartConsumer { name } => self.restart_consumer(&name)?,
            Command::ReconfigureConsumer { name, set } => {
                let spec = self.reconfigured_consumer(&name, &set)?;
                let i = self.consumer_index(&name).expect("validated");
                let c = self.consumers[i].as_mut().expect("indexed");
                let running = !matches!(c.state, AppState::Stopped | AppState::Crashed);
                c.spec = spec;
                if running {
                    self.with_consumer(i, |c, now, out| c.stop(now, out));
                    self.restart_consumer(&name)?;
                }
            }
            Command::SetConsumerProcessing {
                name,
                per_record_us,
            } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, _, out| {
                    c.set_processing_time(Duration(per_record_us), out)
                });
            }
            Command::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => {
                let i = self.consumer_index(&consumer).expect("validated");
                let tp = TopicPartition::new(&topic, partition);
                let mut found = true;
                self.with_node(NodeId::Consumer(i as u32), |node, now, out| {
                    if let NodeRef::Consumer(c) = node {
                        found = c.seek(now, &tp, Offset(offset), out);
                    }
                });
                if !found {
                    return reject(
                        "partition",
                        format!("consumer {consumer:?} is not assigned {tp}"),
                    );
                }
            }
            _ => unreachable!("apply routes only consumer commands here"),
        }
        Ok(())
    }

    /// A new producer starts at once; a transactional one needs `__transaction_state`.
    pub(super) fn add_producer(&mut self, spec: ProducerSpec) -> Result<(), CommandError> {
        if spec.configs.str("transactional.id").is_some() {
            self.ensure_transaction_topic()?;
        }
        let index = self.producers.len() as u32;
        let rng = Prng::stream(self.seed, Stream::Producer(index));
        let name = spec.name.clone();
        let mut producer = Producer::new(index, spec, rng, self.broker_ids(), self.now)?;
        producer.set_send_cost(self.setup.hardware.producer_send_ns_per_record);
        self.producers.push(Some(producer));
        self.names.producers.push(name);
        self.record(TraceKind::ProducerAdded { producer: index });
        self.with_producer(index as usize, |p, now, out| p.start(now, out));
        Ok(())
    }

    /// A new consumer starts at once; a group member needs `__consumer_offsets`.
    pub(super) fn add_consumer(
        &mut self,
        mut spec: crate::consumer::ConsumerSpec,
    ) -> Result<(), CommandError> {
        let config = crate::consumer::ConsumerConfig::from_configs(&spec.configs)?;
        let audience = crate::consumer::audience_of(&config, &spec.name);
        self.prepare_failures(&mut spec, audience)?;
        let index = self.consumers.len() as u32;
        let rng = Prng::stream(self.seed, Stream::Consumer(index));
        let mut consumer = Consumer::new(index, spec, self.broker_ids(), rng)?;
        consumer.set_cost(self.setup.hardware.consumer_cost());
        #[cfg(feature = "planted-bugs")]
        {
            consumer.planted = self.planted;
        }
        if consumer.membership.is_some() {
            self.ensure_offsets_topic()?;
        }
        self.names.consumers.push(consumer.spec.name.clone());
        self.consumers.push(Some(consumer));
        self.consumer_incarnations.push(0);
        self.record(TraceKind::ConsumerAdded { consumer: index });
        self.with_node(NodeId::Consumer(index), |node, now, out| {
            if let NodeRef::Consumer(c) = node {
                c.start(now, out);
            }
        });
        Ok(())
    }

    /// A crashed or stopped consumer comes back as a new process: same spec, fresh client
    /// state, its own random stream per incarnation.
    pub(super) fn restart_consumer(&mut self, name: &str) -> Result<(), CommandError> {
        let i = self.consumer_index(name).expect("validated");
        let old = self.consumers[i].as_ref().expect("indexed");
        let spec = old.spec.clone();
        let requests_sent = old.requests_sent();
        let incarnation = self.consumer_incarnations[i] + 1;
        let stream = Stream::Restart {
            consumer: i as u32,
            incarnation,
        };
        let rng = Prng::stream(self.seed, stream);
        let mut consumer = Consumer::new(i as u32, spec, self.broker_ids(), rng)?;
        consumer.set_cost(self.setup.hardware.consumer_cost());
        // A new process has new connections: answers to the old one's requests (a
        // coordinator may answer a parked JoinGroup after the restart) are not for it.
        consumer.continue_requests_from(requests_sent);
        #[cfg(feature = "planted-bugs")]
        {
            consumer.planted = self.planted;
        }
        self.consumers[i] = Some(consumer);
        self.consumer_incarnations[i] = incarnation;
        self.restart_forwarders(i)?;
        self.record(TraceKind::ConsumerRestarted { consumer: i as u32 });
        self.with_consumer(i, |c, now, out| c.start(now, out));
        Ok(())
    }

    /// Faults: brokers crashed, restarted and paused, the network partitioned, healed and slowed.
    fn apply_fault(&mut self, command: Command) -> Result<(), CommandError> {
        match command {
            Command::CrashBroker { broker } => self.crash_broker(BrokerId(broker)),
            Command::RestartBroker { broker } => {
                // It comes back with the metadata it had; the controller's updates reach it
                // after its first heartbeat, if the network lets them.
                self.brokers[broker as usize].up = true;
                self.record(TraceKind::BrokerRestarted {
                    broker: BrokerId(broker),
                });
                self.start_broker(BrokerId(broker));
            }
            Command::PartitionNetwork { isolated } => {
                self.partition_network(isolated.into_iter().map(BrokerId).collect())
            }
            Command::HealNetwork => {
                let cut = self.net.heal();
                self.record(TraceKind::NetworkHealed);
                // Connections broken during the partition reset now, so both sides reconnect
                // instead of waiting for their request timeouts.
                for (from, to) in cut {
                    let at = self.net.delivery_time(self.now, from, to);
                    self.push(at, Event::Disconnect { from, to });
                }
            }
            Command::SlowLink { a, b, extra_ms } => {
                self.net.slow_link(
                    NodeId::Broker(BrokerId(a)),
                    NodeId::Broker(BrokerId(b)),
                    Duration::from_millis(extra_ms),
                );
                self.record(TraceKind::LinkDelayed {
                    from: BrokerId(a),
                    to: BrokerId(b),
                    extra_ms,
                });
            }
            Command::PauseBroker {
                broker,
                duration_ms,
            } => {
                let until = self.now + Duration::from_millis(duration_ms);
                self.brokers[broker as usize].paused_until = Some(until);
                self.record(TraceKind::BrokerPaused {
                    broker: BrokerId(broker),
                });
                self.push(until, Event::Command(Command::ResumeBroker { broker }));
            }
            Command::ResumeBroker { broker } => {
                self.brokers[broker as usize].paused_until = None;
                self.record(TraceKind::BrokerResumed {
                    broker: BrokerId(broker),
                });
            }

            _ => unreachable!("apply routes only fault commands here"),
        }
        Ok(())
    }

    pub(super) fn with_producer(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Producer, Instant, &mut Vec<Effect>),
    ) {
        self.with_node(NodeId::Producer(i as u32), |node, now, out| {
            if let NodeRef::Producer(p) = node {
                f(p, now, out);
            }
        });
    }

    pub(super) fn with_consumer(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Consumer, Instant, &mut Vec<Effect>),
    ) {
        self.with_node(NodeId::Consumer(i as u32), |node, now, out| {
            if let NodeRef::Consumer(c) = node {
                f(c, now, out);
            }
        });
    }

    /// Cuts the `isolated` brokers off from the other brokers and the controller.
    fn partition_network(&mut self, isolated: Vec<BrokerId>) {
        let side_a: Vec<NodeId> = isolated.iter().map(|&b| NodeId::Broker(b)).collect();
        let side_b: Vec<NodeId> = self
            .broker_ids()
            .into_iter()
            .filter(|b| !isolated.contains(b))
            .map(NodeId::Broker)
            .chain(std::iter::once(NodeId::Controller))
            .collect();
        self.net.partition(&side_a, &side_b);
        self.record(TraceKind::NetworkPartitioned { isolated });
    }

    pub(super) fn crash_broker(&mut self, broker: BrokerId) {
        let slot = &mut self.brokers[broker.0 as usize];
        slot.up = false;
        slot.paused_until = None;
        slot.incarnation += 1;
        slot.broker.crash();
        self.costs_broker_crashed(broker);
        self.requests.broker_crashed(broker);
        self.record(TraceKind::BrokerCrashed { broker });
        // The process is gone: connections to it reset, for clients and other brokers alike.
        let from = NodeId::Broker(broker);
        let peers: Vec<NodeId> = self
            .producers
            .iter()
            .flatten()
            .map(|p| NodeId::Producer(p.index))
            .chain(
                self.consumers
                    .iter()
                    .flatten()
                    .map(|c| NodeId::Consumer(c.index)),
            )
            .chain(
                self.broker_ids()
                    .into_iter()
                    .filter(|&b| b != broker)
                    .map(NodeId::Broker),
            )
            .collect();
        for to in peers {
            if self.net.is_blocked(from, to) {
                continue;
            }
            let at = self.net.delivery_time(self.now, from, to);
            self.push(at, Event::Disconnect { from, to });
        }
    }

    /// The topic's configuration with `set` applied over its explicit configs, checked as
    /// Kafka's `AlterConfigs` checks it: the names and values, and that `min.insync.replicas`
    /// does not exceed the replication factor.
    fn altered_topic(
        &self,
        topic: &str,
        set: &[(String, ConfigValue)],
    ) -> Result<TopicConfig, CommandError> {
        let Some(t) = self.metadata().topics.get(topic) else {
            return reject("topic", format!("no topic {topic:?}"));
        };
        if set.is_empty() {
            return reject("config", "name at least one topic config to alter");
        }
        let mut configs = t.config.configs.clone();
        set_all(&mut configs, set)?;
        let resolved = TopicConfig::resolve(&configs, &self.setup.configs);
        let rf = t.partitions.first().map_or(0, |p| p.replicas.len() as u32);
        if resolved.min_insync_replicas > rf {
            let m = format!(
                "{} exceeds the replication factor {rf}, so acks=all writes could never succeed",
                resolved.min_insync_replicas
            );
            return reject("min.insync.replicas", m);
        }
        Ok(resolved)
    }

    /// The producer's spec with `set` applied over its configs, checked.
    fn reconfigured_producer(
        &self,
        name: &str,
        set: &[(String, ConfigValue)],
    ) -> Result<crate::producer::ProducerSpec, CommandError> {
        let Some(i) = self.producer_index(name) else {
            return reject("producer", format!("no producer {name:?}"));
        };
        let mut spec = self.producers[i].as_ref().expect("indexed").spec.clone();
        set_all(&mut spec.configs, set)?;
        crate::producer::ProducerConfig::from_configs(&spec.configs)?;
        Ok(spec)
    }

    /// The running instance closes and a new one with the new configs takes its workload (see
    /// [`Command::ReconfigureProducer`]). The new instance is a new producer (a new index,
    /// so a new producer id, as a restarted Kafka producer gets one); the name finds it.
    fn reconfigure_producer(
        &mut self,
        name: &str,
        set: &[(String, ConfigValue)],
    ) -> Result<(), CommandError> {
        let mut spec = self.reconfigured_producer(name, set)?;
        let i = self.producer_index(name).expect("validated");
        let old = self.producers[i].as_ref().expect("indexed");
        let running = old.is_running();
        // The application's cap counts what it already sent through the old instance.
        spec.max_records = spec.max_records.map(|m| m.saturating_sub(old.generated()));
        self.with_producer(i, |p, now, out| p.set_running(now, false, out));
        let index = self.producers.len() as u32;
        let rng = Prng::stream(self.seed, Stream::Producer(index));
        let mut producer = Producer::new(index, spec, rng, self.broker_ids(), self.now)?;
        producer.set_send_cost(self.setup.hardware.producer_send_ns_per_record);
        self.producers.push(Some(producer));
        self.record(TraceKind::ProducerAdded { producer: index });
        let index = index as usize;
        self.with_producer(index, |p, now, out| {
            if running {
                p.start(now, out);
            } else {
                p.set_running(now, false, out);
            }
        });
        Ok(())
    }

    /// The consumer's spec with `set` applied over its configs, checked.
    fn reconfigured_consumer(
        &self,
        name: &str,
        set: &[(String, ConfigValue)],
    ) -> Result<crate::consumer::ConsumerSpec, CommandError> {
        let Some(i) = self.consumer_index(name) else {
            return reject("consumer", format!("no consumer {name:?}"));
        };
        let mut spec = self.consumers[i].as_ref().expect("indexed").spec.clone();
        set_all(&mut spec.configs, set)?;
        let config = crate::consumer::ConsumerConfig::from_configs(&spec.configs)?;
        if config.group_id.is_some() {
            self.check_offsets_topic()?;
        }
        Ok(spec)
    }

    pub(super) fn update_metadata(&mut self, f: impl FnOnce(&mut ClusterMetadata)) {
        let metadata = self.controller.admin_update(f);
        // Admin changes reach live brokers at once (CreateTopics waits for propagation).
        let ids: Vec<BrokerId> = self
            .brokers
            .iter()
            .filter(|s| s.up)
            .map(|s| s.broker.id)
            .collect();
        for id in ids {
            let m = metadata.clone();
            self.with_node(NodeId::Broker(id), |node, now, out| {
                if let NodeRef::Broker(b) = node {
                    b.apply_metadata(now, m, out);
                }
            });
        }
    }
}

/// Sets each config in turn; the error names the config.
fn set_all(configs: &mut Configs, set: &[(String, ConfigValue)]) -> Result<(), CommandError> {
    for (key, value) in set {
        configs.set(key, value.clone())?;
    }
    Ok(())
}
