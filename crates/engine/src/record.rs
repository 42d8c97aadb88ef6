//! Records and record batches, sized as Kafka's batch format v2 sizes them (reference §6.3).
//!
//! Batches are immutable once sealed and shared (`Arc`) between the producer, the log,
//! replicas and fetch responses, so moving them around costs a reference count.

use std::fmt;
use std::sync::Arc;

/// Immutable bytes, shared.
pub type Bytes = Arc<[u8]>;

/// A topic name and partition number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> TopicPartition {
        TopicPartition {
            topic: Arc::from(topic),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// An offset in a partition's log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A leader epoch (Kafka's `leaderEpoch`): 0 for a partition's first leader, one more at each
/// election. A batch a producer sent carries none until its leader stamps it (Kafka's
/// `NO_PARTITION_LEADER_EPOCH`, −1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaderEpoch(pub u32);

impl LeaderEpoch {
    pub fn next(self) -> LeaderEpoch {
        LeaderEpoch(self.0 + 1)
    }
}

impl fmt::Display for LeaderEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A record header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub key: Arc<str>,
    pub value: Option<Bytes>,
}

/// A record's headers. Nearly every record has none, and a run keeps millions of records:
/// one pointer (8 bytes) instead of a `Vec` (24) when there are none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(clippy::box_collection)] // On purpose: a thin pointer, and no allocation when empty.
pub struct Headers(Option<Box<Vec<Header>>>);

impl Headers {
    pub fn new(headers: Vec<Header>) -> Headers {
        Headers((!headers.is_empty()).then(|| Box::new(headers)))
    }
    pub fn as_slice(&self) -> &[Header] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The simulation's identity of a record: which producer made it, and its number there.
/// Not a Kafka concept; it lets the ledger follow a record through retries and failovers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    pub producer: u32,
    pub seq: u64,
}

/// One record as the application produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Headers,
    pub id: RecordId,
}

/// Size of a zigzag varint (`ByteUtils.sizeOfVarint`).
pub fn varint_size(value: i32) -> u32 {
    let mut v = ((value << 1) ^ (value >> 31)) as u32;
    let mut bytes = 1;
    while v >= 0x80 {
        v >>= 7;
        bytes += 1;
    }
    bytes
}

/// Size of a zigzag varlong (`ByteUtils.sizeOfVarlong`).
pub fn varlong_size(value: i64) -> u32 {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    let mut bytes = 1;
    while v >= 0x80 {
        v >>= 7;
        bytes += 1;
    }
    bytes
}

fn field_size(bytes: Option<&[u8]>) -> u32 {
    match bytes {
        Some(b) => varint_size(b.len() as i32) + b.len() as u32,
        None => varint_size(-1),
    }
}

/// Bytes the record takes inside a v2 batch (`DefaultRecord.sizeInBytes`).
pub fn record_size(offset_delta: u32, timestamp_delta: i64, record: &Record) -> u32 {
    let mut body = 1; // attributes
    body += varlong_size(timestamp_delta);
    body += varint_size(offset_delta as i32);
    body += field_size(record.key.as_deref());
    body += field_size(record.value.as_deref());
    body += varint_size(record.headers.len() as i32);
    for h in &record.headers {
        body += varint_size(h.key.len() as i32) + h.key.len() as u32;
        body += field_size(h.value.as_deref());
    }
    varint_size(body as i32) + body
}

/// `RECORD_BATCH_OVERHEAD`: the v2 batch header.
pub const BATCH_OVERHEAD: u32 = 61;

/// A producer id as the cluster hands it out (Kafka's `producerId`, a long): it names one
/// idempotent producer to the brokers, whose state per partition is kept by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProducerId(pub i64);

/// Producer id, epoch and base sequence of an idempotent batch (reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdentity {
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// A record batch as it travels and as the log stores it: one shared copy for the leader's log,
/// every follower's log, fetch responses and consumers' buffers (a replica's log keeps a
/// pointer, not 72 bytes, per batch). Changing a field (the leader stamping its offset and
/// epoch) copies the batch if anyone else holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBatch(Arc<BatchData>);

impl From<BatchData> for RecordBatch {
    fn from(data: BatchData) -> RecordBatch {
        RecordBatch(Arc::new(data))
    }
}

impl std::ops::Deref for RecordBatch {
    type Target = BatchData;
    fn deref(&self) -> &BatchData {
        &self.0
    }
}

impl std::ops::DerefMut for RecordBatch {
    fn deref_mut(&mut self) -> &mut BatchData {
        Arc::make_mut(&mut self.0)
    }
}

/// What a [`RecordBatch`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchData {
    /// Offset of the first record; assigned by the leader on append.
    pub base_offset: Offset,
    /// Leader epoch stamped by the leader on append (-1 from the producer).
    pub partition_leader_epoch: Option<LeaderEpoch>,
    /// Present when the producer is idempotent.
    pub producer: Option<ProducerIdentity>,
    pub is_transactional: bool,
    pub is_control: bool,
    /// Its size on the wire and on disk: compressed, if its codec compresses.
    pub size_bytes: u32,
    /// What it takes uncompressed (`size_bytes` without compression).
    pub uncompressed_bytes: u32,
    pub codec: crate::compression::Codec,
    /// What its values are like (how a broker recompressing it finds them).
    pub values: crate::compression::Values,
    pub max_timestamp_ms: i64,
    pub records: Arc<Vec<Record>>,
}

/// A control record's type (Kafka's `ControlRecordType`): the marker that ends a transaction
/// in one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

impl ControlType {
    /// The control record's key: version (int16, 0) and type (int16: 0 ABORT, 1 COMMIT).
    fn key(self) -> [u8; 4] {
        [0, 0, 0, self as u8]
    }
}

/// The marker batch a partition leader appends when a transaction ends there
/// (`EndTransactionMarker`): transactional and control, one record whose key is the type and
/// whose value is the version (int16) and the coordinator epoch (int32); no sequence.
pub fn marker_batch(
    producer_id: ProducerId,
    epoch: i16,
    kind: ControlType,
    coordinator_epoch: u32,
    timestamp_ms: i64,
) -> RecordBatch {
    let mut value = vec![0, 0];
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        timestamp_ms,
        key: Some(Arc::from(&kind.key()[..])),
        value: Some(Arc::from(value)),
        headers: Headers::default(),
        id: crate::group::coordinator::INTERNAL_RECORD,
    };
    RecordBatch::from(BatchData {
        base_offset: Offset(0),
        partition_leader_epoch: None,
        producer: Some(ProducerIdentity {
            producer_id,
            producer_epoch: epoch,
            base_sequence: -1,
        }),
        is_transactional: true,
        is_control: true,
        size_bytes: BATCH_OVERHEAD + record_size(0, 0, &record),
        uncompressed_bytes: BATCH_OVERHEAD + record_size(0, 0, &record),
        codec: crate::compression::Codec::None,
        values: crate::compression::Values::Random,
        max_timestamp_ms: timestamp_ms,
        records: Arc::new(vec![record]),
    })
}

impl BatchData {
    /// The marker a control batch holds.
    pub fn control_type(&self) -> Option<ControlType> {
        if !self.is_control {
            return None;
        }
        let key = self.records.first()?.key.as_deref()?;
        Some(match key.get(3) {
            Some(1) => ControlType::Commit,
            _ => ControlType::Abort,
        })
    }

    /// The coordinator epoch a marker carries (its value: version int16, epoch int32).
    pub fn marker_coordinator_epoch(&self) -> Option<u32> {
        self.control_type()?;
        let v = self.records.first()?.value.as_deref()?;
        Some(u32::from_be_bytes(v.get(2..6)?.try_into().ok()?))
    }

    pub fn record_count(&self) -> u32 {
        self.records.len() as u32
    }
    /// Offset after the last record.
    pub fn next_offset(&self) -> Offset {
        Offset(self.base_offset.0 + self.records.len() as u64)
    }
    pub fn last_offset(&self) -> Offset {
        assert!(!self.records.is_empty());
        Offset(self.next_offset().0 - 1)
    }
    /// Last sequence number of an idempotent batch.
    pub fn last_sequence(&self) -> Option<i32> {
        if self.is_control {
            return None;
        }
        let delta = self.records.len() as i32 - 1;
        self.producer
            .map(|p| p.base_sequence.wrapping_add(delta) & i32::MAX)
    }
}

/// A batch of `n` empty records numbered from `first_seq` (producer 0), for tests of the log
/// and the broker: the one place such batches are built.
#[cfg(test)]
pub(crate) fn test_batch(
    base_offset: Offset,
    first_seq: u64,
    n: u64,
    size_bytes: u32,
) -> RecordBatch {
    let records = (0..n)
        .map(|i| Record {
            timestamp_ms: 0,
            key: None,
            value: None,
            headers: Headers::default(),
            id: RecordId {
                producer: 0,
                seq: first_seq + i,
            },
        })
        .collect();
    RecordBatch::from(BatchData {
        base_offset,
        partition_leader_epoch: Some(LeaderEpoch(0)),
        producer: None,
        is_transactional: false,
        is_control: false,
        size_bytes,
        uncompressed_bytes: size_bytes,
        codec: crate::compression::Codec::None,
        values: crate::compression::Values::Random,
        max_timestamp_ms: 0,
        records: Arc::new(records),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_64_bytes() {
        // What a run holds per record in its logs; see `Headers`.
        assert_eq!(std::mem::size_of::<Record>(), 64);
    }

    #[test]
    fn varints_match_kafka_sizes() {
        assert_eq!(varint_size(0), 1);
        assert_eq!(varint_size(-1), 1);
        assert_eq!(varint_size(63), 1);
        assert_eq!(varint_size(64), 2);
        assert_eq!(varint_size(300), 2);
        assert_eq!(varlong_size(0), 1);
        assert_eq!(varlong_size(7), 1);
        assert_eq!(varint_size(i32::MAX), 5);
    }

    #[test]
    fn record_sizes_match_the_reference_batch() {
        // The reference's 94-byte batch: 61 header bytes + three records.
        let k1: Bytes = Arc::from(&b"k1"[..]);
        let mk = |ts: i64, key: Option<Bytes>, value: Option<&[u8]>, headers: Vec<Header>| Record {
            timestamp_ms: ts,
            key,
            value: value.map(Arc::from),
            headers: Headers::new(headers),
            id: RecordId {
                producer: 0,
                seq: 0,
            },
        };
        let h = Header {
            key: Arc::from("h"),
            value: Some(Arc::from(&b"x"[..])),
        };
        let r0 = mk(0, Some(k1.clone()), Some(b"v1"), vec![]);
        let r1 = mk(5, None, Some(b"v2"), vec![h]);
        let r2 = mk(7, Some(k1), None, vec![]);
        let total = BATCH_OVERHEAD
            + record_size(0, 0, &r0)
            + record_size(1, 5, &r1)
            + record_size(2, 7, &r2);
        assert_eq!(total, 94);
    }
}
