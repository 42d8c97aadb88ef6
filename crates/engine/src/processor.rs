//! A consume-transform-produce application (a `[[processor]]`): one process holding a
//! consumer (a group member reading the input topics) and a producer (writing the output
//! topic), as a Kafka Streams task or a hand-written loop does. The two are separate clients
//! with their own connections; the application between them is a hand-over of calls
//! ([`AppCall`]) that the simulator passes from one to the other within the process, at no
//! network cost.
//!
//! Its loop, by guarantee (reference §5; Kafka's `sendOffsetsToTransaction` example in
//! `KafkaProducer`'s documentation):
//! - exactly-once: `poll()`, process, `send()` the outputs, `sendOffsetsToTransaction` the
//!   positions with the group's metadata (AddOffsetsToTxn, then TxnOffsetCommit), then
//!   `commitTransaction()`, and only then poll again. An aborted transaction rewinds the
//!   consumer to the committed offsets. Reads `read_committed`.
//! - at-least-once: `poll()`, process, `send()`, `flush()`, then `commitSync()`.
//! - at-most-once: `poll()`, `commitSync()`, process, `send()`.

use std::sync::Arc;

use crate::config::Configs;
use crate::group::Generation;
use crate::producer::ManualRecord;
use crate::record::{Offset, TopicPartition};
use crate::time::Duration;

/// What the application promises about its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarantee {
    ExactlyOnce,
    AtLeastOnce,
    AtMostOnce,
}

impl Guarantee {
    pub const NAMES: &'static [&'static str] = &["exactly-once", "at-least-once", "at-most-once"];

    pub fn parse(name: &str) -> Option<Guarantee> {
        Some(match name {
            "exactly-once" => Guarantee::ExactlyOnce,
            "at-least-once" => Guarantee::AtLeastOnce,
            "at-most-once" => Guarantee::AtMostOnce,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::AtMostOnce => "at-most-once",
        }
    }
}

/// What the application makes of each input record: one output each, with the input's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The value upper-cased (ASCII).
    Uppercase,
    /// The value as it came.
    Copy,
}

impl Transform {
    pub const NAMES: &'static [&'static str] = &["uppercase", "copy"];

    pub fn parse(name: &str) -> Option<Transform> {
        Some(match name {
            "uppercase" => Transform::Uppercase,
            "copy" => Transform::Copy,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Transform::Uppercase => "uppercase",
            Transform::Copy => "copy",
        }
    }

    /// The output of one input record, the one at `at` (its partition and offset).
    pub fn apply(
        self,
        input: &crate::record::Record,
        at: (&TopicPartition, Offset),
    ) -> ManualRecord {
        let value = match self {
            Transform::Copy => input.value.clone(),
            Transform::Uppercase => input
                .value
                .as_deref()
                .map(|v| Arc::from(v.to_ascii_uppercase())),
        };
        ManualRecord {
            key: input.key.clone(),
            value,
            headers: Vec::new(),
            partition: None,
            source: Some((at.0.clone(), at.1)),
        }
    }
}

/// Everything needed to create a processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorSpec {
    pub name: String,
    pub inputs: Vec<String>,
    pub output: String,
    /// Its consumer's `group.id`.
    pub group: String,
    pub transform: Transform,
    pub guarantee: Guarantee,
    pub processing_per_record: Duration,
    /// Which inputs fail, and what the application does then: crash and skip with any
    /// guarantee; the dead letter and retry topics at-least-once only (their copies are sent
    /// outside any transaction, and at-most-once commits before it knows what failed).
    pub failures: crate::consumer::failure::FailurePolicy,
    /// Its consumer's configuration (beyond what the guarantee sets).
    pub consumer_configs: Configs,
    /// Its producer's configuration (beyond what the guarantee sets).
    pub producer_configs: Configs,
}

/// The role a consumer or producer plays in a processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    pub guarantee: Guarantee,
    pub transform: Transform,
}

/// A group's offsets for `sendOffsetsToTransaction`, with the consumer's group metadata
/// (`ConsumerGroupMetadata`: generation and member id fence a zombie, KIP-447).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOffsets {
    pub group: Arc<str>,
    pub generation: Option<Generation>,
    pub member_id: Arc<str>,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

/// A call between the two clients of one processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCall {
    /// Consumer → producer, as processing of a poll begins: the application `send()`s each
    /// output as it finishes processing its input, at these times.
    Send {
        records: Vec<(crate::time::Instant, ManualRecord)>,
    },
    /// Consumer → producer, once the poll is processed: exactly-once, `offsets` go into the
    /// transaction and `commitTransaction()` follows; at-least-once, `flush()` (`flush`).
    Commit {
        offsets: Option<TxnOffsets>,
        flush: bool,
    },
    /// Producer → consumer: `commitTransaction()` returned (or the transaction aborted).
    TransactionEnded { committed: bool },
    /// Producer → consumer: `flush()` returned; `failed` records handed over since the last
    /// `flush()` were not delivered.
    Flushed { failed: u64 },
    /// Consumer → the producer publishing its failed records to `topic` (a retry or dead
    /// letter topic): `call` (`Send`, `Commit` for its `flush()`, or `Restart`).
    Forward { topic: String, call: Box<AppCall> },
    /// Producer → consumer: the producer is fenced (PRODUCER_FENCED): the application
    /// closes both clients and its supervisor starts it again.
    Fenced,
    /// Consumer → producer: the process restarts: a new producer instance.
    Restart,
}
