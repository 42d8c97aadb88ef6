//! The scenario model: plain data a user (or the web UI) edits, validated and built into a sim.

use kplay_engine::config::{ConfigValue, Configs, Scope};
pub use kplay_engine::consumer::failure::{FailurePolicy, OnFailure};
use kplay_engine::consumer::{CommitStrategy, ConsumerSpec};
use kplay_engine::net::NetworkConfig;
use kplay_engine::processor::{Guarantee, ProcessorSpec, Transform};
use kplay_engine::producer::{KeyMode, ManualRecord, ProducerSpec};
use kplay_engine::record::Header;
use kplay_engine::{ClusterSetup, Command, CommandError, Duration, Instant, Sim};
use std::sync::Arc;

use crate::parse::ScenarioError;

/// The longest run a scenario may ask for: one simulated day.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// Trace events a run keeps (the newest), for `--trace` and the reports.
pub const TRACE_CAPACITY: usize = 100_000;

/// Every command of a scenario with its time and the line it came from (0: added in the UI).
pub type Timeline = Vec<(Instant, Command, usize)>;

/// Configuration pairs as written, in file order.
pub type ConfigPairs = Vec<(String, ConfigValue)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub seed: u64,
    pub duration_ms: u64,
    pub cluster: ClusterDef,
    pub topics: Vec<TopicDef>,
    pub producers: Vec<ProducerDef>,
    pub consumers: Vec<ConsumerDef>,
    pub processors: Vec<ProcessorDef>,
    pub events: Vec<EventDef>,
    /// How often Kafka's metrics are sampled (`[metrics] interval_ms`): the charts' step
    /// and how often alerts are checked.
    pub metrics_interval_ms: u64,
    /// Alert rules on the metrics (`[[alert]] when = "..."`).
    pub alerts: Vec<kplay_engine::sim::AlertRule>,
}

/// The default `[metrics] interval_ms`: Kafka's `metrics.sample.window.ms` is 30 s, but a
/// playground run lasts seconds, so a second shows its changes.
pub const METRICS_INTERVAL_MS: u64 = 1_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterDef {
    pub brokers: u32,
    pub config: ConfigPairs,
    /// One-way network latency, microseconds.
    pub latency_us: u64,
    pub jitter_us: u64,
    /// What the machines cost: a named profile with any fields overridden (`[hardware]`).
    pub hardware: kplay_engine::hardware::Hardware,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicDef {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub config: ConfigPairs,
    /// When the topic is created (0: before anything else).
    pub start_ms: u64,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerDef {
    pub id: String,
    pub topic: String,
    pub rate_per_sec: u64,
    pub records: Option<u64>,
    pub keys: KeyMode,
    pub value_bytes: u32,
    /// What the values are like (`values = "random" | "json"`), for how well they compress.
    pub values: kplay_engine::compression::Values,
    /// With a `transactional.id`: records per transaction, and the chance in a million that
    /// the application aborts one (`abort_rate`).
    pub records_per_transaction: u64,
    pub abort_ppm: u32,
    pub start_ms: u64,
    pub config: ConfigPairs,
    pub line: usize,
}

/// Records per transaction when a transactional producer does not say.
pub const DEFAULT_RECORDS_PER_TRANSACTION: u64 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerDef {
    pub id: String,
    pub topics: Vec<String>,
    pub processing_us_per_record: u64,
    /// Manual commits: "auto" (none), or sync/async before/after processing.
    pub commit: CommitStrategy,
    /// Which records fail (`failure_rate` per attempt, `poison_keys` always) and what the
    /// application does then (`on_failure`, `retry`).
    pub failures: FailurePolicy,
    pub start_ms: u64,
    pub config: ConfigPairs,
    pub line: usize,
}

/// A consume-transform-produce application (`[[processor]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorDef {
    pub id: String,
    pub inputs: Vec<String>,
    pub output: String,
    /// Its consumer's `group.id` (default: its id).
    pub group: String,
    pub transform: Transform,
    pub guarantee: Guarantee,
    pub processing_us_per_record: u64,
    /// Which inputs fail, and what the application does then.
    pub failures: FailurePolicy,
    pub start_ms: u64,
    pub consumer_config: ConfigPairs,
    pub producer_config: ConfigPairs,
    pub line: usize,
}

/// A timeline action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CrashBroker {
        broker: u32,
    },
    RestartBroker {
        broker: u32,
    },
    StartProducer {
        producer: String,
    },
    StopProducer {
        producer: String,
    },
    SetRate {
        producer: String,
        rate_per_sec: u64,
    },
    Produce {
        producer: String,
        key: Option<String>,
        value: Option<String>,
        partition: Option<u32>,
        headers: Vec<(String, String)>,
    },
    /// `close()`: commit, leave the group (unless static), stop.
    StopConsumer {
        consumer: String,
    },
    /// A new consumer (a new member when `group` is set) joins now.
    AddConsumer {
        consumer: String,
        topics: Vec<String>,
        group: Option<String>,
        processing_us_per_record: u64,
        commit: CommitStrategy,
    },
    /// The process dies: no commit, no LeaveGroup.
    CrashConsumer {
        consumer: String,
    },
    /// Start a stopped or crashed consumer again.
    RestartConsumer {
        consumer: String,
    },
    /// A processor's process dies mid-poll (its open transaction stays open).
    CrashProcessor {
        processor: String,
    },
    /// A crashed processor starts again.
    RestartProcessor {
        processor: String,
    },
    /// Change how long the consumer needs per record.
    SlowConsumer {
        consumer: String,
        processing_us_per_record: u64,
    },
    Seek {
        consumer: String,
        topic: String,
        partition: u32,
        offset: u64,
    },
    CreateTopic {
        topic: String,
        partitions: u32,
        replication_factor: u32,
    },
    DeleteTopic {
        topic: String,
    },
    /// Cut these brokers off from the other brokers and the controller.
    PartitionNetwork {
        brokers: Vec<u32>,
    },
    HealNetwork,
    /// Add latency between two brokers.
    SlowLink {
        broker: u32,
        peer: u32,
        extra_ms: u64,
    },
    /// A long GC pause.
    PauseBroker {
        broker: u32,
        duration_ms: u64,
    },
    /// `kafka-configs.sh --alter --entity-type topics --entity-name TOPIC --add-config ...`:
    /// these topic configs change now, on the live topic.
    AlterTopicConfig {
        topic: String,
        config: ConfigPairs,
    },
    /// The producer is redeployed with these configs changed (a client's configuration is
    /// fixed while it runs): the old instance closes, a new one takes over its workload.
    ReconfigureProducer {
        producer: String,
        config: ConfigPairs,
    },
    /// The consumer is redeployed with these configs changed: `close()`, then a new process.
    ReconfigureConsumer {
        consumer: String,
        config: ConfigPairs,
    },
    /// Close a producer for good (what it already sent stays).
    RemoveProducer {
        producer: String,
    },
}

impl Action {
    /// The name used in `action = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::CrashBroker { .. } => "crash_broker",
            Action::RestartBroker { .. } => "restart_broker",
            Action::StartProducer { .. } => "start_producer",
            Action::StopProducer { .. } => "stop_producer",
            Action::SetRate { .. } => "set_rate",
            Action::Produce { .. } => "produce",
            Action::StopConsumer { .. } => "stop_consumer",
            Action::AddConsumer { .. } => "add_consumer",
            Action::CrashConsumer { .. } => "crash_consumer",
            Action::RestartConsumer { .. } => "restart_consumer",
            Action::CrashProcessor { .. } => "crash_processor",
            Action::RestartProcessor { .. } => "restart_processor",
            Action::SlowConsumer { .. } => "slow_consumer",
            Action::Seek { .. } => "seek",
            Action::CreateTopic { .. } => "create_topic",
            Action::DeleteTopic { .. } => "delete_topic",
            Action::PartitionNetwork { .. } => "partition_network",
            Action::HealNetwork => "heal_network",
            Action::SlowLink { .. } => "slow_link",
            Action::PauseBroker { .. } => "pause_broker",
            Action::RemoveProducer { .. } => "remove_producer",
            Action::AlterTopicConfig { .. } => "alter_topic_config",
            Action::ReconfigureProducer { .. } => "reconfigure_producer",
            Action::ReconfigureConsumer { .. } => "reconfigure_consumer",
        }
    }
}

/// Every action by its name in `action = "..."`, with the event fields it takes.
pub const ACTION_FIELDS: &[(&str, &[&str])] = &[
    ("crash_broker", &["broker"]),
    ("restart_broker", &["broker"]),
    ("start_producer", &["producer"]),
    ("stop_producer", &["producer"]),
    ("set_rate", &["producer", "rate_per_sec"]),
    (
        "produce",
        &["producer", "key", "value", "partition", "headers"],
    ),
    ("stop_consumer", &["consumer"]),
    (
        "add_consumer",
        &[
            "consumer",
            "topics",
            "group",
            "processing_ms_per_record",
            "commit",
        ],
    ),
    ("crash_consumer", &["consumer"]),
    ("restart_consumer", &["consumer"]),
    ("crash_processor", &["processor"]),
    ("restart_processor", &["processor"]),
    ("slow_consumer", &["consumer", "processing_ms_per_record"]),
    ("seek", &["consumer", "topic", "partition", "offset"]),
    (
        "create_topic",
        &["topic", "partitions", "replication_factor"],
    ),
    ("delete_topic", &["topic"]),
    ("partition_network", &["brokers"]),
    ("heal_network", &[]),
    ("slow_link", &["broker", "peer", "extra_ms"]),
    ("pause_broker", &["broker", "duration_ms"]),
    ("remove_producer", &["producer"]),
    ("alter_topic_config", &["topic", "config"]),
    ("reconfigure_producer", &["producer", "config"]),
    ("reconfigure_consumer", &["consumer", "config"]),
];

/// Every action name, for error messages and the UI.
pub fn action_names() -> impl Iterator<Item = &'static str> {
    ACTION_FIELDS.iter().map(|(name, _)| *name)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDef {
    pub at_ms: u64,
    pub action: Action,
    pub line: usize,
}

impl Scenario {
    /// An empty cluster of `brokers` with defaults everywhere.
    pub fn empty(brokers: u32) -> Scenario {
        Scenario {
            seed: 42,
            duration_ms: 30_000,
            cluster: ClusterDef {
                brokers,
                config: Vec::new(),
                latency_us: 500,
                jitter_us: 0,
                hardware: kplay_engine::hardware::Hardware::ideal(),
            },
            topics: Vec::new(),
            producers: Vec::new(),
            consumers: Vec::new(),
            processors: Vec::new(),
            events: Vec::new(),
            metrics_interval_ms: METRICS_INTERVAL_MS,
            alerts: Vec::new(),
        }
    }

    /// The cluster shape for the engine.
    pub fn setup(&self) -> Result<ClusterSetup, ScenarioError> {
        let configs = Configs::parse(Scope::Broker, &self.cluster.config).map_err(|e| {
            ScenarioError::field(None, format!("cluster.config.{}", e.key), e.message)
        })?;
        Ok(ClusterSetup {
            brokers: self.cluster.brokers,
            configs,
            network: NetworkConfig {
                latency: Duration(self.cluster.latency_us),
                jitter: Duration(self.cluster.jitter_us),
            },
            hardware: self.cluster.hardware.clone(),
            trace_capacity: TRACE_CAPACITY,
        })
    }

    /// Everything that happens, in time order (definitions first at equal times).
    pub fn commands(&self) -> Result<Timeline, ScenarioError> {
        let mut out = Vec::new();
        for t in &self.topics {
            out.push((Instant::from_millis(t.start_ms), t.command()?, t.line));
        }
        for p in &self.producers {
            out.push((Instant::from_millis(p.start_ms), p.command()?, p.line));
        }
        for c in &self.consumers {
            out.push((Instant::from_millis(c.start_ms), c.command()?, c.line));
        }
        for p in &self.processors {
            out.push((Instant::from_millis(p.start_ms), p.command()?, p.line));
        }
        for e in &self.events {
            out.push((Instant::from_millis(e.at_ms), e.action.command(), e.line));
        }
        // Stable: equal times keep definition order.
        kplay_engine::sort::sort_by_key(&mut out, |(at, _, _)| *at);
        Ok(out)
    }

    /// Checks the scenario as a whole: runs every command against a scratch simulation in time
    /// order, so impossible values (RF above brokers, unknown producers, ...) are caught with
    /// their line before anything runs. Timeline conflicts that depend on the run (restarting a
    /// broker that is up) are caught too.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.build(None).map(|_| ())
    }

    /// A simulation at time zero with every command scheduled. `seed` overrides the file's.
    pub fn build(&self, seed: Option<u64>) -> Result<Sim, ScenarioError> {
        self.build_traced(seed, TRACE_CAPACITY)
    }

    /// [`Scenario::build`] keeping the newest `trace_capacity` trace events (the digest covers
    /// all of them whatever the window): the playground keeps fewer, since every checkpoint of
    /// a run copies the window.
    pub fn build_traced(
        &self,
        seed: Option<u64>,
        trace_capacity: usize,
    ) -> Result<Sim, ScenarioError> {
        if self.duration_ms == 0 || self.duration_ms > MAX_DURATION_MS {
            let m = format!(
                "must be between 1 and {MAX_DURATION_MS} (one day), got {}",
                self.duration_ms
            );
            return Err(ScenarioError::field(None, "duration_ms", m));
        }
        let setup = ClusterSetup {
            trace_capacity,
            ..self.setup()?
        };
        let seed = seed.unwrap_or(self.seed);
        let mut sim = Sim::new(setup, seed).map_err(|e| command_error(None, "cluster", e))?;
        if !self.alerts.is_empty() {
            sim.monitor(self.metrics_interval(), &self.alerts);
        }
        let commands = self.dry_run(&sim)?;
        for (at, command, _) in commands {
            if at == Instant::ZERO {
                sim.apply(command)
                    .map_err(|e| command_error(None, "scenario", e))?;
            } else {
                sim.schedule(at, command);
            }
        }
        Ok(sim)
    }

    /// `[metrics] interval_ms` as a duration.
    pub fn metrics_interval(&self) -> Duration {
        Duration::from_millis(self.metrics_interval_ms.max(1))
    }

    /// Checks the timeline alone, for a scenario whose setup and duration were checked before
    /// and that only gained something after time zero (what the playground adds while a run
    /// plays): the dry run of [`Scenario::build`], without building the run.
    pub fn check_timeline(&self) -> Result<(), ScenarioError> {
        let sim =
            Sim::new(self.setup()?, self.seed).map_err(|e| command_error(None, "cluster", e))?;
        self.dry_run(&sim).map(|_| ())
    }

    /// Every command in time order, once a scratch copy of `sim` applied each of them in that
    /// order without simulating any traffic, so state changes (topics created, brokers crashed)
    /// are checked in sequence.
    fn dry_run(&self, sim: &Sim) -> Result<Timeline, ScenarioError> {
        let commands = self.commands()?;
        let mut scratch = sim.clone();
        for (_, command, line) in &commands {
            let fail = |e| command_error(Some(*line), context_of(command), e);
            match command {
                // A seek depends on the run (the consumer's assignment); check its target only.
                Command::Seek {
                    topic, partition, ..
                } => {
                    scratch.validate(command).map_err(fail)?;
                    check_seek_target(&scratch, topic, *partition).map_err(fail)?;
                }
                _ => scratch.apply(command.clone()).map_err(fail)?,
            }
        }
        Ok(commands)
    }

    /// The scenario's virtual end time.
    pub fn end(&self) -> Instant {
        Instant::from_millis(self.duration_ms)
    }
}

/// The topic and partition a seek names exist (its assignment depends on the run).
fn check_seek_target(sim: &Sim, topic: &str, partition: u32) -> Result<(), CommandError> {
    match sim.metadata().topics.get(topic).map(|t| t.partitions.len()) {
        None => Err(CommandError {
            field: "topic".into(),
            message: format!("no topic {topic:?}"),
        }),
        Some(n) if partition as usize >= n => Err(CommandError {
            field: "partition".into(),
            message: format!("topic {topic:?} has {n} partitions"),
        }),
        Some(_) => Ok(()),
    }
}

impl TopicDef {
    /// The engine command that creates this topic.
    pub fn command(&self) -> Result<Command, ScenarioError> {
        let configs = Configs::parse(Scope::Topic, &self.config)
            .map_err(|e| config_error(self.line, "topic", e))?;
        Ok(Command::CreateTopic {
            name: self.name.clone(),
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            configs,
        })
    }
}

impl ProducerDef {
    /// The engine command that adds this producer.
    pub fn command(&self) -> Result<Command, ScenarioError> {
        let configs = Configs::parse(Scope::Producer, &self.config)
            .map_err(|e| config_error(self.line, "producer", e))?;
        Ok(Command::AddProducer(ProducerSpec {
            processor: None,
            name: self.id.clone(),
            topic: self.topic.clone(),
            rate_per_sec: self.rate_per_sec,
            max_records: self.records,
            keys: self.keys.clone(),
            value_bytes: self.value_bytes,
            values: self.values,
            records_per_transaction: self.records_per_transaction,
            abort_ppm: self.abort_ppm,
            configs,
        }))
    }
}

impl ConsumerDef {
    /// The engine command that adds this consumer.
    pub fn command(&self) -> Result<Command, ScenarioError> {
        let configs = Configs::parse(Scope::Consumer, &self.config)
            .map_err(|e| config_error(self.line, "consumer", e))?;
        Ok(Command::AddConsumer(ConsumerSpec {
            processor: None,
            name: self.id.clone(),
            topics: self.topics.clone(),
            processing_per_record: Duration(self.processing_us_per_record),
            commit: self.commit,
            failures: self.failures.clone(),
            configs,
        }))
    }
}

impl ProcessorDef {
    /// The engine command that adds this processor.
    pub fn command(&self) -> Result<Command, ScenarioError> {
        let consumer_configs = Configs::parse(Scope::Consumer, &self.consumer_config)
            .map_err(|e| config_error(self.line, "processor.consumer", e))?;
        let producer_configs = Configs::parse(Scope::Producer, &self.producer_config)
            .map_err(|e| config_error(self.line, "processor.producer", e))?;
        Ok(Command::AddProcessor(ProcessorSpec {
            name: self.id.clone(),
            inputs: self.inputs.clone(),
            output: self.output.clone(),
            group: self.group.clone(),
            transform: self.transform,
            guarantee: self.guarantee,
            processing_per_record: Duration(self.processing_us_per_record),
            failures: self.failures.clone(),
            consumer_configs,
            producer_configs,
        }))
    }
}

/// A record produced by hand (`produce`), as the engine takes it.
fn manual_record(
    key: Option<String>,
    value: Option<String>,
    headers: Vec<(String, String)>,
    partition: Option<u32>,
) -> ManualRecord {
    let headers = headers.into_iter().map(|(k, v)| Header {
        key: Arc::from(k.as_str()),
        value: Some(Arc::from(v.into_bytes())),
    });
    ManualRecord {
        source: None,
        key: key.map(|k| Arc::from(k.into_bytes())),
        value: value.map(|v| Arc::from(v.into_bytes())),
        headers: headers.collect(),
        partition,
    }
}

fn context_of(command: &Command) -> &'static str {
    match command {
        Command::CreateTopic { .. } | Command::DeleteTopic { .. } => "topic",
        Command::AddProducer(_) => "producer",
        Command::AddConsumer(_) => "consumer",
        Command::AddProcessor(_) => "processor",
        _ => "event",
    }
}

fn config_error(line: usize, context: &str, e: kplay_engine::config::ConfigError) -> ScenarioError {
    ScenarioError::field(
        Some(line).filter(|&l| l > 0),
        format!("{context}.config.{}", e.key),
        e.message,
    )
}

fn command_error(line: Option<usize>, context: &str, e: CommandError) -> ScenarioError {
    // Line 0 marks things added from the UI rather than read from a file.
    ScenarioError::field(
        line.filter(|&l| l > 0),
        format!("{context}.{}", e.field),
        e.message,
    )
}

impl Action {
    /// The engine command this action becomes.
    pub fn command(&self) -> Command {
        match self.clone() {
            Action::CrashBroker { broker } => Command::CrashBroker { broker },
            Action::RestartBroker { broker } => Command::RestartBroker { broker },
            Action::StartProducer { producer } => Command::SetProducerRunning {
                name: producer,
                running: true,
            },
            Action::StopProducer { producer } => Command::SetProducerRunning {
                name: producer,
                running: false,
            },
            Action::SetRate {
                producer,
                rate_per_sec,
            } => Command::SetProducerRate {
                name: producer,
                rate_per_sec,
            },
            Action::Produce {
                producer,
                key,
                value,
                partition,
                headers,
            } => Command::ProduceOne {
                producer,
                record: manual_record(key, value, headers, partition),
            },
            Action::StopConsumer { consumer } => Command::StopConsumer { name: consumer },
            Action::AddConsumer {
                consumer,
                topics,
                group,
                processing_us_per_record,
                commit,
            } => {
                let mut configs = Configs::new(Scope::Consumer);
                if let Some(g) = group {
                    // A text config takes any string: this cannot fail.
                    let _ = configs.set("group.id", ConfigValue::Str(g));
                }
                Command::AddConsumer(ConsumerSpec {
                    processor: None,
                    name: consumer,
                    topics,
                    processing_per_record: Duration(processing_us_per_record),
                    commit,
                    failures: Default::default(),
                    configs,
                })
            }
            Action::CrashConsumer { consumer } => Command::CrashConsumer { name: consumer },
            Action::RestartConsumer { consumer } => Command::RestartConsumer { name: consumer },
            Action::CrashProcessor { processor } => Command::CrashProcessor { name: processor },
            Action::RestartProcessor { processor } => Command::RestartProcessor { name: processor },
            Action::SlowConsumer {
                consumer,
                processing_us_per_record,
            } => Command::SetConsumerProcessing {
                name: consumer,
                per_record_us: processing_us_per_record,
            },
            Action::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => Command::Seek {
                consumer,
                topic,
                partition,
                offset,
            },
            Action::CreateTopic {
                topic,
                partitions,
                replication_factor,
            } => Command::CreateTopic {
                name: topic,
                partitions,
                replication_factor,
                configs: Configs::new(Scope::Topic),
            },
            Action::DeleteTopic { topic } => Command::DeleteTopic { name: topic },
            Action::PartitionNetwork { brokers } => Command::PartitionNetwork { isolated: brokers },
            Action::HealNetwork => Command::HealNetwork,
            Action::SlowLink {
                broker,
                peer,
                extra_ms,
            } => Command::SlowLink {
                a: broker,
                b: peer,
                extra_ms,
            },
            Action::PauseBroker {
                broker,
                duration_ms,
            } => Command::PauseBroker {
                broker,
                duration_ms,
            },
            Action::RemoveProducer { producer } => Command::RemoveProducer { name: producer },
            Action::AlterTopicConfig { topic, config } => {
                Command::AlterTopicConfig { topic, set: config }
            }
            Action::ReconfigureProducer { producer, config } => Command::ReconfigureProducer {
                name: producer,
                set: config,
            },
            Action::ReconfigureConsumer { consumer, config } => Command::ReconfigureConsumer {
                name: consumer,
                set: config,
            },
        }
    }
}
