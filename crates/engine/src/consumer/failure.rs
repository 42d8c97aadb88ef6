//! What the application does with a record whose processing throws (`on_failure`), as the
//! common patterns do it. Kafka itself has no such thing: these are the application's, and
//! the names, defaults and headers follow Spring for Apache Kafka, the most used of them:
//! - `crash`: the exception escapes the poll loop; the process dies and its supervisor starts
//!   it again (the records since the last commit are processed again);
//! - `skip`: retried in place (`DefaultErrorHandler` with a `FixedBackOff`), then logged and
//!   dropped;
//! - `dlq`: retried in place, then published to `<topic>-dlt` (`DeadLetterPublishingRecoverer`):
//!   the partition waits through the retries, so order is kept and throughput is not;
//! - `retry-topics`: non-blocking retries (`@RetryableTopic`): the record goes to
//!   `<topic>-retry-0`, `<topic>-retry-1`, ... with a due time, and after the last attempt to
//!   `<topic>-dlt`. The partition moves on at once, so a retried record loses its place
//!   among its key's records.
//!
//! Defaults are Spring's (`RetryTopicConstants`): 3 attempts in all, 1 s apart. A forwarded
//! record's copy is acknowledged before the application goes on (the recoverer waits for its
//! send result), so its offset is never committed before its copy is safe.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{polled_records, AppState, Consumer};
use crate::ledger::{Fate, Handled};
use crate::node::Effect;
use crate::processor::AppCall;
use crate::producer::ManualRecord;
use crate::record::{Bytes, Header, Offset, Record, TopicPartition};
use crate::time::{Duration, Instant};

/// What the application does once a record has failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    #[default]
    Crash,
    Skip,
    RetryTopics,
    DeadLetter,
}

impl OnFailure {
    pub const NAMES: &'static [&'static str] = &["crash", "skip", "retry-topics", "dlq"];

    pub fn parse(name: &str) -> Option<OnFailure> {
        Some(match name {
            "crash" => OnFailure::Crash,
            "skip" => OnFailure::Skip,
            "retry-topics" => OnFailure::RetryTopics,
            "dlq" => OnFailure::DeadLetter,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            OnFailure::Crash => "crash",
            OnFailure::Skip => "skip",
            OnFailure::RetryTopics => "retry-topics",
            OnFailure::DeadLetter => "dlq",
        }
    }

    /// Whether the application handles failures itself (anything but `crash`).
    pub fn routes(self) -> bool {
        self != OnFailure::Crash
    }

    /// Whether failed records are published to other topics (retry topics or the DLT).
    pub fn forwards(self) -> bool {
        matches!(self, OnFailure::RetryTopics | OnFailure::DeadLetter)
    }
}

/// Spring's default number of processing attempts, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// Spring's default wait between attempts.
pub const DEFAULT_BACKOFF: Duration = Duration(1_000_000);
/// Most attempts a scenario may ask for (each is a topic with retry topics).
pub const MAX_ATTEMPTS: u32 = 10;

/// Header names, as Spring writes them (`KafkaHeaders.DLT_*`, `RetryTopicHeaders`).
pub const ORIGINAL_TOPIC: &str = "kafka_dlt-original-topic";
pub const ORIGINAL_PARTITION: &str = "kafka_dlt-original-partition";
pub const ORIGINAL_OFFSET: &str = "kafka_dlt-original-offset";
pub const EXCEPTION_MESSAGE: &str = "kafka_dlt-exception-message";
/// The attempt the copy is for (2 for the first retry).
pub const ATTEMPTS: &str = "retry_topic-attempts";
/// When the copy may be processed, in milliseconds of virtual time.
pub const BACKOFF_TIMESTAMP: &str = "retry_topic-backoff-timestamp";

/// The exception message a failed record carries.
pub const POISON_MESSAGE: &str = "poison record: processing always throws";
pub const TRANSIENT_MESSAGE: &str = "processing threw";

/// What to do with failures, and which records fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Processing attempts (per million) that throw.
    pub failure_ppm: u32,
    pub on_failure: OnFailure,
    /// Processing attempts before a record counts as failed for good, the first included.
    pub attempts: u32,
    /// The wait before each retry: the i-th retry waits `backoff[i]`, or the last one given.
    pub backoff: Vec<Duration>,
    /// Records with these keys fail every attempt (poison pills); others fail at
    /// `failure_ppm` per attempt.
    pub poison_keys: Vec<Bytes>,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            failure_ppm: 0,
            on_failure: OnFailure::Crash,
            attempts: DEFAULT_ATTEMPTS,
            backoff: vec![DEFAULT_BACKOFF],
            poison_keys: Vec::new(),
        }
    }
}

impl FailurePolicy {
    /// The wait before retry `i` (0: the first retry).
    pub fn backoff(&self, i: u32) -> Duration {
        let last = self.backoff.len().saturating_sub(1);
        self.backoff
            .get((i as usize).min(last))
            .copied()
            .unwrap_or(DEFAULT_BACKOFF)
    }

    pub fn is_poison(&self, record: &Record) -> bool {
        record
            .key
            .as_ref()
            .is_some_and(|k| self.poison_keys.contains(k))
    }

    /// The topics this application reads besides its own: its retry topics.
    pub fn retry_topics(&self, topic: &str) -> Vec<String> {
        match self.on_failure {
            OnFailure::RetryTopics => (0..self.attempts.saturating_sub(1))
                .map(|i| retry_topic(topic, i))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The topics failed records of any of `topics` may be published to (retry and dead
    /// letter topics themselves aside).
    pub fn all_destinations(&self, topics: &[String]) -> Vec<String> {
        let sources = topics.iter().filter(|t| source_topic(t).is_none());
        sources.flat_map(|t| self.destinations(t)).collect()
    }

    /// The topics failed records of `topic` may be published to.
    pub fn destinations(&self, topic: &str) -> Vec<String> {
        if !self.on_failure.forwards() {
            return Vec::new();
        }
        let mut out = self.retry_topics(topic);
        out.push(dead_letter_topic(topic));
        out
    }
}

pub fn retry_topic(topic: &str, i: u32) -> String {
    format!("{topic}-retry-{i}")
}

pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}-dlt")
}

/// The source topic of a retry or dead letter topic's name, if it is one.
pub fn source_topic(topic: &str) -> Option<&str> {
    if let Some(s) = topic.strip_suffix("-dlt") {
        return Some(s);
    }
    let (s, i) = topic.rsplit_once("-retry-")?;
    (!i.is_empty() && i.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

fn header<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    let h = record.headers.iter().find(|h| &*h.key == key)?;
    std::str::from_utf8(h.value.as_deref()?).ok()
}

fn text(key: &str, value: impl ToString) -> Header {
    Header {
        key: Arc::from(key),
        value: Some(Bytes::from(value.to_string().into_bytes())),
    }
}

/// Where a record first came from: its own place, or for a copy the place its headers name.
pub fn origin(record: &Record, at: (&TopicPartition, Offset)) -> (TopicPartition, Offset) {
    let named = (|| {
        let topic = header(record, ORIGINAL_TOPIC)?;
        let partition = header(record, ORIGINAL_PARTITION)?.parse().ok()?;
        let offset = header(record, ORIGINAL_OFFSET)?.parse().ok()?;
        Some((TopicPartition::new(topic, partition), Offset(offset)))
    })();
    named.unwrap_or_else(|| (at.0.clone(), at.1))
}

/// Which attempt this delivery is: 1 for a record of the source topic.
pub fn attempt(record: &Record) -> u32 {
    header(record, ATTEMPTS)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1)
}

/// When a retry topic's record may be processed; `None` for any other record.
pub fn due(record: &Record) -> Option<Instant> {
    let ms: u64 = header(record, BACKOFF_TIMESTAMP)?.parse().ok()?;
    Some(Instant(ms.saturating_mul(1_000)))
}

/// The copy of a failed record for its next topic: key and value as they were, the origin,
/// the error, and for a retry the attempt it is for and when it is due.
pub fn copy(
    record: &Record,
    at: (&TopicPartition, Offset),
    error: &str,
    retry: Option<(u32, Instant)>,
) -> ManualRecord {
    let (topic, offset) = origin(record, at);
    let mut headers = vec![
        text(ORIGINAL_TOPIC, &topic.topic),
        text(ORIGINAL_PARTITION, topic.partition),
        text(ORIGINAL_OFFSET, offset.0),
        text(EXCEPTION_MESSAGE, error),
    ];
    if let Some((attempt, due)) = retry {
        headers.push(text(ATTEMPTS, attempt));
        // Rounded up: the copy is never processed before its backoff has passed.
        headers.push(text(BACKOFF_TIMESTAMP, due.0.div_ceil(1_000)));
    }
    ManualRecord {
        key: record.key.clone(),
        value: record.value.clone(),
        headers,
        // The original's partition, as Spring's default destination resolver does: the
        // key's records stay together in every retry topic.
        partition: Some(topic.partition),
        source: Some((at.0.clone(), at.1)),
    }
}

/// How many of the first `n` records are due by `now`.
pub(super) fn due_prefix(records: &[Record], n: u32, now: Instant) -> u32 {
    (records.iter().take(n as usize))
        .take_while(|r| due(r).is_none_or(|d| d <= now))
        .count() as u32
}

impl Consumer {
    /// Plans the processing of the current poll when the application handles failures: each
    /// record's attempts (each takes the processing time; a retry in place waits its backoff
    /// first), its fate, and the copies of failed records, handed to the producers of their
    /// topics at the time each failure is known. Returns how long processing takes, and when
    /// each record's processing ended.
    pub(super) fn plan_failures(
        &mut self,
        now: Instant,
        out: &mut Vec<Effect>,
    ) -> (Duration, Vec<Instant>) {
        let per = self.spec.processing_per_record;
        let policy = &self.spec.failures;
        let ppm = u64::from(policy.failure_ppm);
        let rng = &mut self.rng;
        let mut t = now;
        let mut copies: BTreeMap<String, Vec<(Instant, ManualRecord)>> = BTreeMap::new();
        let mut ends = Vec::new();
        for (tp, offset, r) in polled_records(&self.processing) {
            let poison = policy.is_poison(r);
            let mut fails = || poison || (ppm > 0 && rng.chance(ppm, 1_000_000));
            let error = if poison {
                POISON_MESSAGE
            } else {
                TRANSIENT_MESSAGE
            };
            let origin = origin(r, (tp, offset));
            // Where copies go follows the topic it was read from (its headers may say
            // anything: a user can produce to a retry topic by hand).
            let source = source_topic(&tp.topic).unwrap_or(&tp.topic);
            let mut attempt = attempt(r).max(1);
            let fate = loop {
                t = t + per;
                if !fails() {
                    break Fate::Processed;
                }
                let retries_left = attempt < policy.attempts;
                match policy.on_failure {
                    OnFailure::RetryTopics if retries_left => {
                        let due = t + policy.backoff(attempt - 1);
                        let topic = retry_topic(source, attempt - 1);
                        let copy = copy(r, (tp, offset), error, Some((attempt + 1, due)));
                        copies.entry(topic).or_default().push((t, copy));
                        break Fate::Retried;
                    }
                    // Blocking retries: the same record again after the backoff.
                    OnFailure::Skip | OnFailure::DeadLetter if retries_left => {
                        t = t + policy.backoff(attempt - 1);
                        attempt += 1;
                    }
                    OnFailure::Skip => break Fate::Skipped,
                    _ => {
                        let topic = dead_letter_topic(source);
                        let copy = copy(r, (tp, offset), error, None);
                        copies.entry(topic).or_default().push((t, copy));
                        break Fate::DeadLettered;
                    }
                }
            };
            ends.push(t);
            self.fates.push(Handled {
                at: (tp.clone(), offset),
                origin,
                id: r.id,
                key: r.key.clone(),
                fate,
            });
        }
        for (topic, records) in copies {
            self.forward_topics.push(topic.clone());
            let call = Box::new(AppCall::Send { records });
            out.push(Effect::Handoff(AppCall::Forward { topic, call }));
        }
        (Duration(t.0 - now.0), ends)
    }

    /// Tells the ledger what became of the poll's records (their fates were planned as its
    /// processing started).
    pub(super) fn report_fates(&mut self, out: &mut Vec<Effect>) {
        if !self.fates.is_empty() {
            out.push(Effect::Observe(crate::ledger::Observation::Handled {
                audience: self.audience.clone(),
                records: std::mem::take(&mut self.fates),
            }));
        }
    }

    /// After a poll whose failed records were published: `flush()` their producers and wait
    /// (the recoverer waits for each send's result). Returns whether it waits.
    pub(super) fn await_forwards(&mut self, out: &mut Vec<Effect>) -> bool {
        let topics = std::mem::take(&mut self.forward_topics);
        if topics.is_empty() || planted!(self, CommitBeforeForwarded) {
            return false;
        }
        self.awaiting_forwards = topics.len() as u32;
        self.forward_failed = false;
        self.state = AppState::AwaitingOutput;
        for topic in topics {
            let call = Box::new(AppCall::Commit {
                offsets: None,
                flush: true,
            });
            out.push(Effect::Handoff(AppCall::Forward { topic, call }));
        }
        true
    }

    /// One of the producers publishing failed records answered its `flush()`. Once all have:
    /// a failed send is the recoverer's exception, so the process dies and the poll is
    /// processed again; else it commits as it would have.
    pub(super) fn forwards_flushed(&mut self, now: Instant, failed: u64, out: &mut Vec<Effect>) {
        if self.awaiting_forwards == 0 || self.state != AppState::AwaitingOutput {
            return;
        }
        self.awaiting_forwards -= 1;
        self.forward_failed |= failed > 0;
        if self.awaiting_forwards > 0 {
            return;
        }
        if self.forward_failed {
            return self.die_and_restart(now, 0, out);
        }
        self.state = AppState::Polling;
        if self.spec.processor.is_some() {
            // An at-least-once processor's `flush()` returned: it commits.
            if self.commit(now, true, out) {
                self.state = AppState::Committing { then: None };
            }
        } else {
            self.commit_after_processing(now, true, out);
        }
    }

    /// Whether `tp` is one of its retry topics, whose records wait for their due time.
    pub(super) fn waits_for_due(&self, tp: &TopicPartition) -> bool {
        self.spec.failures.on_failure == OnFailure::RetryTopics
            && source_topic(&tp.topic).is_some()
            && !tp.topic.ends_with("-dlt")
    }

    /// When the next record of the `i`-th ready partition is due, if it waits for a time.
    pub(super) fn head_due_at(&self, i: usize) -> Option<Instant> {
        let tp = &self.ready[i];
        if !self.waits_for_due(tp) {
            return None;
        }
        let p = self.positions.get(tp)?;
        let position = p.position?;
        let batch = p
            .buffered
            .iter()
            .find(|b| !b.is_control && b.next_offset() > position && b.base_offset <= position)?;
        let i = position.0.checked_sub(batch.base_offset.0)? as usize;
        due(batch.records.get(i)?)
    }

    /// Whether the `i`-th ready partition's next record may be taken now.
    pub(super) fn head_due(&self, i: usize, now: Instant) -> bool {
        self.head_due_at(i).is_none_or(|d| d <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Headers, RecordId};

    fn record(key: &str) -> Record {
        Record {
            timestamp_ms: 0,
            key: Some(Bytes::from(key.as_bytes())),
            value: Some(Bytes::from(&b"v"[..])),
            headers: Headers::default(),
            id: RecordId {
                producer: 0,
                seq: 0,
            },
        }
    }

    fn delivered(m: ManualRecord) -> Record {
        Record {
            headers: Headers::new(m.headers),
            key: m.key,
            value: m.value,
            ..record("")
        }
    }

    #[test]
    fn a_copy_names_its_origin_through_every_hop() {
        let tp = TopicPartition::new("orders", 2);
        let first = delivered(copy(
            &record("k"),
            (&tp, Offset(7)),
            TRANSIENT_MESSAGE,
            Some((2, Instant(1_500_001))),
        ));
        assert_eq!(attempt(&first), 2);
        assert_eq!(due(&first), Some(Instant(1_501_000)));
        let retry = TopicPartition::new("orders-retry-0", 2);
        let second = delivered(copy(&first, (&retry, Offset(0)), TRANSIENT_MESSAGE, None));
        assert_eq!(origin(&second, (&retry, Offset(0))), (tp, Offset(7)));
        assert_eq!(attempt(&record("k")), 1);
        assert_eq!(due(&record("k")), None);
    }

    #[test]
    fn retry_and_dead_letter_topics_are_named_as_spring_names_them() {
        let p = FailurePolicy {
            on_failure: OnFailure::RetryTopics,
            ..FailurePolicy::default()
        };
        assert_eq!(
            p.destinations("orders"),
            ["orders-retry-0", "orders-retry-1", "orders-dlt"]
        );
        assert_eq!(source_topic("orders-retry-1"), Some("orders"));
        assert_eq!(source_topic("orders-dlt"), Some("orders"));
        assert_eq!(source_topic("orders-retry-x"), None);
        assert_eq!(source_topic("orders"), None);
        let blocking = FailurePolicy {
            on_failure: OnFailure::DeadLetter,
            backoff: vec![Duration(1), Duration(2)],
            ..FailurePolicy::default()
        };
        assert_eq!(blocking.destinations("orders"), ["orders-dlt"]);
        assert_eq!(blocking.backoff(5), Duration(2));
    }
}
