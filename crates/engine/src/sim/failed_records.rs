//! Consumers that publish failed records (`on_failure = "retry-topics" | "dlq"`, see
//! `consumer::failure`): their retry and dead letter topics, created beside the source topic
//! as Spring's `@RetryableTopic` creates them (same partitions and replication, and its own
//! configuration); and one producer per destination topic, in the consumer's process, named
//! `<consumer>/<topic>`. Spring's recoverer has one `KafkaTemplate` for all of them; a
//! producer here writes one topic, and records of one source partition keep one order per
//! destination either way.

use super::*;
use crate::consumer::failure::{source_topic, OnFailure, MAX_ATTEMPTS};
use crate::processor::AppCall;
use crate::producer::KeyMode;

/// The longest backoff a scenario may ask for.
const MAX_BACKOFF: Duration = Duration(3_600_000_000);

impl Sim {
    /// A consumer's failure policy, before it is added: its retry and dead letter topics need
    /// their source topics, and committing before processing would commit failed records
    /// before their copies exist.
    pub(super) fn validate_failures(&self, spec: &ConsumerSpec) -> Result<(), CommandError> {
        let policy = &spec.failures;
        if !(1..=MAX_ATTEMPTS).contains(&policy.attempts) {
            let m = format!("must be from 1 to {MAX_ATTEMPTS}, got {}", policy.attempts);
            return reject("retry.attempts", m);
        }
        if policy.backoff.iter().any(|b| *b > MAX_BACKOFF) {
            return reject("retry.backoff_ms", "each at most 3600000 (one hour)");
        }
        if !policy.on_failure.forwards() {
            return Ok(());
        }
        if let crate::consumer::CommitStrategy::BeforeProcessing { .. } = spec.commit {
            let m = format!(
                "{:?} publishes failed records, which needs commits after processing; \
                 {:?} commits them before they fail",
                policy.on_failure.name(),
                spec.commit.name()
            );
            return reject("on_failure", m);
        }
        if let Some(t) = spec.topics.iter().find(|t| source_topic(t).is_some()) {
            let m = format!(
                "{t:?} is itself a retry or dead letter topic: its copies would have nowhere \
                 to go (read it with \"crash\" or \"skip\")"
            );
            return reject("on_failure", m);
        }
        for topic in spec.topics.iter().filter(|t| source_topic(t).is_none()) {
            if !self.metadata().topics.contains_key(topic.as_str()) {
                let m = format!(
                    "its retry and dead letter topics are made like topic {topic:?}, \
                     which does not exist"
                );
                return reject("on_failure", m);
            }
        }
        Ok(())
    }

    /// Creates what a consumer publishing its failed records needs (its topics and their
    /// producers), and subscribes it to its retry topics.
    pub(super) fn prepare_failures(
        &mut self,
        spec: &mut ConsumerSpec,
        audience: Arc<str>,
    ) -> Result<(), CommandError> {
        let policy = spec.failures.clone();
        if !policy.on_failure.forwards() {
            return Ok(());
        }
        let sources: Vec<String> = (spec.topics.iter())
            .filter(|t| source_topic(t).is_none())
            .cloned()
            .collect();
        for source in &sources {
            let Some(s) = self.metadata().topics.get(source.as_str()) else {
                continue;
            };
            let partitions = s.partitions.len() as u32;
            let replication_factor = s.partitions.first().map_or(1, |p| p.replicas.len() as u32);
            for topic in policy.destinations(source) {
                if !self.metadata().topics.contains_key(topic.as_str()) {
                    self.apply(Command::CreateTopic {
                        name: topic.clone(),
                        partitions,
                        replication_factor,
                        configs: Configs::new(crate::config::Scope::Topic),
                    })?;
                }
                let name = forwarder_name(&spec.name, &topic);
                if self.producer_index(&name).is_none() {
                    self.add_producer(forwarder_spec(name, &topic))?;
                    let index = self.producers.len() as u32 - 1;
                    self.ledger.register_forwarder(index, audience.clone());
                }
            }
            if policy.on_failure == OnFailure::RetryTopics {
                for topic in policy.retry_topics(source) {
                    if !spec.topics.contains(&topic) {
                        spec.topics.push(topic);
                    }
                }
            }
        }
        Ok(())
    }

    /// The producers publishing consumer `c`'s failed records.
    pub(super) fn forwarders_of(&self, c: usize) -> Vec<usize> {
        let Some(consumer) = self.consumers.get(c).and_then(Option::as_ref) else {
            return Vec::new();
        };
        let prefix = format!("{}/", consumer.spec.name);
        (self.producers.iter().enumerate())
            .filter(|(_, p)| p.as_ref().is_some_and(|p| p.spec.name.starts_with(&prefix)))
            .map(|(i, _)| i)
            .collect()
    }

    /// The consumer process died: so did the producers in it.
    pub(super) fn crash_forwarders(&mut self, c: usize) {
        for p in self.forwarders_of(c) {
            if let Some(p) = self.producers[p].as_mut() {
                p.crashed = true;
            }
        }
    }

    /// The consumer process starts again: with new producers, where they died with it (a
    /// stopped consumer's producers still deliver what they hold).
    pub(super) fn restart_forwarders(&mut self, c: usize) -> Result<(), CommandError> {
        for p in self.forwarders_of(c) {
            let producer = self.producers[p].as_ref().expect("listed");
            if producer.crashed {
                let name = producer.spec.name.clone();
                self.restart_processor_producer(&name)?;
            }
        }
        Ok(())
    }

    /// Where a call of consumer `c` for its producer of `topic` goes.
    pub(super) fn forwarder(&self, c: u32, topic: &str) -> Option<NodeId> {
        let consumer = self.consumers.get(c as usize)?.as_ref()?;
        let name = forwarder_name(&consumer.spec.name, topic);
        Some(NodeId::Producer(self.producer_index(&name)? as u32))
    }

    /// The consumer a forwarding producer belongs to.
    pub(super) fn forwarding_consumer(&self, p: u32) -> Option<NodeId> {
        let name = &self.producers.get(p as usize)?.as_ref()?.spec.name;
        let (consumer, _) = name.split_once('/')?;
        Some(NodeId::Consumer(self.consumer_index(consumer)? as u32))
    }

    /// Whether `name` is a producer of a consumer's failed records (commands leave it be).
    pub(super) fn refuse_forwarder(&self, name: &str) -> Result<(), CommandError> {
        let Some(p) = self.producer_index(name) else {
            return Ok(());
        };
        if self.forwarding_consumer(p as u32).is_none() {
            return Ok(());
        }
        let m = format!(
            "{name:?} publishes a consumer's failed records: it follows its consumer's process"
        );
        reject("producer", m)
    }
}

pub(super) fn forwarder_name(consumer: &str, topic: &str) -> String {
    format!("{consumer}/{topic}")
}

/// A producer as the recoverer's `KafkaTemplate` is: Kafka's defaults (acks=all, idempotent),
/// sending what it is handed.
fn forwarder_spec(name: String, topic: &str) -> ProducerSpec {
    ProducerSpec {
        name,
        topic: topic.to_string(),
        rate_per_sec: 0,
        max_records: None,
        keys: KeyMode::Null,
        value_bytes: 0,
        values: Default::default(),
        // Not transactional: unused.
        records_per_transaction: 1,
        abort_ppm: 0,
        configs: Configs::new(crate::config::Scope::Producer),
        processor: None,
    }
}

/// Passes a consumer's call to the producer of its `topic`.
pub(super) fn unwrap_forward(call: AppCall) -> (Option<String>, AppCall) {
    match call {
        AppCall::Forward { topic, call } => (Some(topic), *call),
        other => (None, other),
    }
}
