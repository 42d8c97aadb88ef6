//! What a consumer is made of: its spec (topics, processing time, commit strategy) and the
//! Kafka configuration the client acts on, with Kafka's names and defaults.

use std::sync::Arc;

use crate::config::{ConfigError, Configs};
use crate::group::assignor::Strategy;
use crate::protocol::Isolation;
use crate::time::Duration;

/// Everything needed to create a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub name: String,
    pub topics: Vec<String>,
    /// Time the application spends on each record it polls.
    pub processing_per_record: Duration,
    /// When the application commits by hand (besides `enable.auto.commit`).
    pub commit: CommitStrategy,
    /// Which records throw, and what the application does then (with `on_failure = "crash"`
    /// it dies there, mid-batch, without committing or leaving, and its supervisor restarts it
    /// after [`RESTART_AFTER_FAILURE`]).
    pub failures: super::failure::FailurePolicy,
    pub configs: Configs,
    /// The input half of a processor: it hands its outputs to its producer.
    pub processor: Option<crate::processor::Role>,
}

/// How long a supervisor (systemd, Kubernetes) takes to restart a consumer that threw.
pub const RESTART_AFTER_FAILURE: Duration = Duration(5_000_000);

/// Manual commits of the application's poll loop: none (rely on `enable.auto.commit`), or
/// `commitSync`/`commitAsync` of the positions before processing (at-most-once) or after
/// (at-least-once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitStrategy {
    #[default]
    Auto,
    BeforeProcessing {
        sync: bool,
    },
    AfterProcessing {
        sync: bool,
    },
}

impl CommitStrategy {
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "sync-after",
        "async-after",
        "sync-before",
        "async-before",
    ];

    pub fn parse(name: &str) -> Option<CommitStrategy> {
        Some(match name {
            "auto" => CommitStrategy::Auto,
            "sync-after" => CommitStrategy::AfterProcessing { sync: true },
            "async-after" => CommitStrategy::AfterProcessing { sync: false },
            "sync-before" => CommitStrategy::BeforeProcessing { sync: true },
            "async-before" => CommitStrategy::BeforeProcessing { sync: false },
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CommitStrategy::Auto => "auto",
            CommitStrategy::AfterProcessing { sync: true } => "sync-after",
            CommitStrategy::AfterProcessing { sync: false } => "async-after",
            CommitStrategy::BeforeProcessing { sync: true } => "sync-before",
            CommitStrategy::BeforeProcessing { sync: false } => "async-before",
        }
    }
}

/// What `auto.offset.reset` says to do without a valid position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

/// The consumer configuration the client acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub group_id: Option<String>,
    pub max_poll_records: u32,
    pub fetch_min_bytes: u32,
    pub fetch_max_bytes: u32,
    pub fetch_max_wait: Duration,
    /// `isolation.level`.
    pub isolation: Isolation,
    pub max_partition_fetch_bytes: u32,
    pub auto_offset_reset: OffsetReset,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub instance_id: Option<Arc<str>>,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub strategies: Vec<Strategy>,
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    /// `client.id`: a group member's id starts with it (Kafka's `clientId-UUID`).
    pub client_id: Option<Arc<str>>,
    pub allow_auto_create: bool,
    pub metadata_max_age: Duration,
}

/// `partition.assignment.strategy`, the assignors kplay has.
fn strategies(c: &Configs) -> Vec<Strategy> {
    let names = c.list("partition.assignment.strategy");
    names.iter().filter_map(|s| Strategy::parse(s)).collect()
}

/// `isolation.level`.
fn isolation(c: &Configs) -> Isolation {
    match c.str("isolation.level").as_deref() {
        Some("read_committed") => Isolation::ReadCommitted,
        _ => Isolation::ReadUncommitted,
    }
}

impl ConsumerConfig {
    pub fn from_configs(c: &Configs) -> Result<ConsumerConfig, ConfigError> {
        let reset = match c.str("auto.offset.reset").as_deref() {
            Some("earliest") => OffsetReset::Earliest,
            Some("none") => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
        let ms = |k: &str| Duration::from_millis(c.int(k) as u64);
        if c.str("group.protocol").as_deref() == Some("consumer") {
            return Err(ConfigError {
                key: "group.protocol".to_string(),
                message: "the KIP-848 consumer protocol is not simulated yet; use \"classic\""
                    .to_string(),
            });
        }
        if c.str("group.id").is_some_and(|g| g.trim().is_empty()) {
            // Kafka's InvalidGroupIdException: subscribing needs a real group id.
            return Err(ConfigError {
                key: "group.id".to_string(),
                message: "must not be empty (leave it out for a standalone consumer)".to_string(),
            });
        }
        if c.str("group.instance.id")
            .is_some_and(|g| g.trim().is_empty())
        {
            return Err(ConfigError {
                key: "group.instance.id".to_string(),
                message: "must not be empty (leave it out for a dynamic member)".to_string(),
            });
        }
        if c.str("group.instance.id").is_some() && c.str("group.id").is_none() {
            return Err(ConfigError {
                key: "group.instance.id".to_string(),
                message: "static membership needs a group.id".to_string(),
            });
        }
        let heartbeat = c.int("heartbeat.interval.ms");
        if c.str("group.id").is_some() && heartbeat >= c.int("session.timeout.ms") {
            return Err(ConfigError {
                key: "heartbeat.interval.ms".to_string(),
                message: format!(
                    "must be lower than session.timeout.ms ({}), got {heartbeat}",
                    c.int("session.timeout.ms")
                ),
            });
        }
        Ok(ConsumerConfig {
            group_id: c.str("group.id"),
            max_poll_records: c.int("max.poll.records") as u32,
            fetch_min_bytes: c.int("fetch.min.bytes") as u32,
            fetch_max_bytes: c.int("fetch.max.bytes") as u32,
            fetch_max_wait: ms("fetch.max.wait.ms"),
            isolation: isolation(c),
            max_partition_fetch_bytes: c.int("max.partition.fetch.bytes") as u32,
            auto_offset_reset: reset,
            request_timeout: ms("request.timeout.ms"),
            retry_backoff: ms("retry.backoff.ms"),
            retry_backoff_max: ms("retry.backoff.max.ms"),
            instance_id: c.str("group.instance.id").map(Arc::from),
            session_timeout: ms("session.timeout.ms"),
            heartbeat_interval: ms("heartbeat.interval.ms"),
            max_poll_interval: ms("max.poll.interval.ms"),
            strategies: strategies(c),
            enable_auto_commit: c.bool("enable.auto.commit"),
            auto_commit_interval: ms("auto.commit.interval.ms"),
            client_id: c.str("client.id").map(Arc::from),
            allow_auto_create: c.bool("allow.auto.create.topics"),
            metadata_max_age: ms("metadata.max.age.ms"),
        })
    }
}
