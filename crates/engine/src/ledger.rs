//! The ledger: ground truth about every record, kept outside the nodes by the simulator.
//! It follows each record from `send()` through acknowledgement or failure to every delivery,
//! and answers the questions users ask: which acknowledged records were lost, which were
//! delivered twice, which arrived out of the order their producer sent them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::protocol::ErrorCode;
use crate::record::{Bytes, Offset, Record, RecordId, TopicPartition};

/// A fact a node reports for the ledger.
#[derive(Clone, Debug)]
pub enum Observation {
    /// The producer received a successful acknowledgement (or sent with acks=0).
    Acked {
        producer: u32,
        tp: TopicPartition,
        base_offset: Option<Offset>,
        records: Arc<Vec<Record>>,
    },
    /// The producer gave up on these records.
    Failed {
        producer: u32,
        records: Arc<Vec<Record>>,
        error: ErrorCode,
    },
    /// A coordinator acknowledged an offset commit whose records it appended at
    /// `base_offset` of the group's `__consumer_offsets` partition `tp` (for the checker;
    /// the ledger follows producers' records only).
    CommitAcked {
        tp: TopicPartition,
        base_offset: Offset,
        records: Arc<Vec<Record>>,
    },
    /// A processor made record `output` from the record at `input` (a partition and an
    /// offset: a record its producer wrote twice is two inputs).
    Transformed {
        output: RecordId,
        input: (TopicPartition, Offset),
    },
    /// What an application that routes failed records (`on_failure`) made of the records of
    /// one poll, as it finished processing them.
    Handled {
        audience: Arc<str>,
        records: Vec<Handled>,
    },
    /// `poll()` returned `records[from..to]` (a slice of one batch) to an application.
    Delivered {
        audience: Arc<str>,
        tp: TopicPartition,
        base_offset: Offset,
        records: Arc<Vec<Record>>,
        from: u32,
        to: u32,
        /// The application reads with `isolation.level=read_committed`.
        read_committed: bool,
    },
}

/// One record an application handled, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// Where it was read.
    pub at: (TopicPartition, Offset),
    /// Where it first came from (a retry topic's copy names its original).
    pub origin: (TopicPartition, Offset),
    /// The record read (a copy is a record of its own).
    pub id: RecordId,
    pub key: Option<Bytes>,
    pub fate: Fate,
}

/// The end of one processing of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Processed,
    /// Failed for good and dropped (`on_failure = "skip"`).
    Skipped,
    /// Failed, and a copy was published to a retry topic.
    Retried,
    /// Failed for good, and a copy was published to the dead letter topic.
    DeadLettered,
}

/// What became of one record, from its producer's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// Acknowledged; the offset is unknown with acks=0.
    Acked {
        partition: u32,
        offset: Option<Offset>,
    },
    Failed(ErrorCode),
}

impl Outcome {
    /// Eight bytes per record, since the ledger keeps one per record for the whole run:
    /// 0 pending; `1 << 62 | error index` failed; `2 << 62 | partition << 40 | offset + 1`
    /// acknowledged (0 in the offset bits: unknown, acks=0). Partitions are below
    /// `MAX_PARTITIONS_PER_TOPIC` (1,000 < 2^22) and offsets below 2^40 - 1 (a trillion).
    fn pack(self) -> u64 {
        match self {
            Outcome::Pending => 0,
            Outcome::Failed(e) => 1 << 62 | e as u64,
            Outcome::Acked { partition, offset } => {
                let offset = offset.map_or(0, |o| o.0 + 1);
                assert!(u64::from(partition) < 1 << 22 && offset < 1 << 40);
                2 << 62 | u64::from(partition) << 40 | offset
            }
        }
    }

    fn unpack(packed: u64) -> Outcome {
        match packed >> 62 {
            0 => Outcome::Pending,
            1 => Outcome::Failed(ErrorCode::ALL[(packed & 0xff) as usize]),
            _ => {
                let offset = packed & ((1 << 40) - 1);
                Outcome::Acked {
                    partition: ((packed >> 40) & ((1 << 22) - 1)) as u32,
                    offset: offset.checked_sub(1).map(Offset),
                }
            }
        }
    }
}

/// Record numbers per chunk of a [`Chunked`].
const CHUNK: usize = 1 << 14;

/// A vector indexed by record number that grows a chunk at a time: a `Vec` doubling its
/// capacity would hold up to twice what the run needs, for the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunked<T> {
    chunks: Vec<Box<[T]>>,
    len: usize,
}

impl<T: Copy + Default + PartialEq> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The value at `i` (the default past the end).
    pub fn get(&self, i: usize) -> T {
        match self.chunks.get(i / CHUNK) {
            Some(c) if i < self.len => c[i % CHUNK],
            _ => T::default(),
        }
    }
    fn slot(&mut self, i: usize) -> &mut T {
        while self.chunks.len() <= i / CHUNK {
            self.chunks
                .push(vec![T::default(); CHUNK].into_boxed_slice());
        }
        self.len = self.len.max(i + 1);
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
    pub fn iter(&self) -> impl Iterator<Item = T> + Clone + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(self.len)
    }
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<T>()
    }
}

/// One producer's outcomes, indexed by record number.
#[derive(Clone, Copy, Debug)]
pub struct Outcomes<'a>(Option<&'a Chunked<u64>>);

impl<'a> Outcomes<'a> {
    pub fn len(&self) -> usize {
        self.0.map_or(0, Chunked::len)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, seq: usize) -> Outcome {
        Outcome::unpack(self.0.map_or(0, |c| c.get(seq)))
    }
    pub fn iter(&self) -> impl Iterator<Item = Outcome> + Clone + 'a {
        self.0
            .into_iter()
            .flat_map(|c| c.iter())
            .map(Outcome::unpack)
    }
}

/// Who counts as one reader for duplicate detection: a consumer group, or a standalone consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    /// Deliveries per record, indexed by producer then record number (saturating at 255).
    delivered: Vec<Chunked<u8>>,
    /// Per partition and producer: the newest producer record number delivered so far.
    newest: BTreeMap<TopicPartition, Vec<Option<u64>>>,
    pub consumed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// For an audience that routes failed records: what it did with them.
    pub routing: Option<Box<Routing>>,
}

/// An audience's failed records: counts for the report, and the ones whose copy is not yet
/// acknowledged (whose offsets must not be committed: `FailedRecordNeverLost`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    pub processed: u64,
    pub retried: u64,
    pub skipped: u64,
    /// Copies acknowledged in a dead letter topic.
    pub dead_lettered: u64,
    /// Records processed after a later record of the same key and origin partition: the order
    /// retries cost.
    pub reordered: u64,
    /// Per origin partition and key: the newest origin offset processed.
    newest: BTreeMap<(TopicPartition, Bytes), Offset>,
    /// Failed records (where they were read) whose copy is not acknowledged yet.
    pub unforwarded: BTreeMap<TopicPartition, std::collections::BTreeSet<Offset>>,
    /// Records (where they were read) with an acknowledged copy.
    forwarded: std::collections::BTreeSet<(TopicPartition, Offset)>,
}

/// The whole run's bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Per producer, per record number: the packed [`Outcome`].
    outcomes: Vec<Chunked<u64>>,
    audiences: BTreeMap<Arc<str>, Audience>,
    /// Per processor output record: the input record it was made from.
    sources: BTreeMap<RecordId, (TopicPartition, Offset)>,
    /// Producers publishing an audience's failed records (its retry and dead letter topics).
    forwarders: BTreeMap<u32, Arc<str>>,
    pub acked: u64,
    pub failed: u64,
}

fn slot<T: Clone>(v: &mut Vec<T>, i: usize, fill: T) -> &mut T {
    if v.len() <= i {
        v.resize(i + 1, fill);
    }
    &mut v[i]
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    pub fn observe(&mut self, observation: Observation) {
        match observation {
            Observation::Acked {
                producer,
                tp,
                base_offset,
                records,
            } => {
                let outcomes = slot(&mut self.outcomes, producer as usize, Chunked::default());
                for (i, r) in records.iter().enumerate() {
                    let offset = base_offset.map(|b| Offset(b.0 + i as u64));
                    let o = outcomes.slot(r.id.seq as usize);
                    assert_eq!(*o, 0, "a record is acknowledged or failed once");
                    *o = Outcome::Acked {
                        partition: tp.partition,
                        offset,
                    }
                    .pack();
                }
                self.acked += records.len() as u64;
                if let Some(audience) = self.forwarders.get(&producer) {
                    let a = self.audiences.entry(audience.clone()).or_default();
                    let routing = a.routing.get_or_insert_with(Default::default);
                    routing.copies_acked(&tp, &records, &self.sources);
                }
            }
            Observation::Failed {
                producer,
                records,
                error,
            } => {
                let outcomes = slot(&mut self.outcomes, producer as usize, Chunked::default());
                for r in records.iter() {
                    let o = outcomes.slot(r.id.seq as usize);
                    assert_eq!(*o, 0, "a record is acknowledged or failed once");
                    *o = Outcome::Failed(error).pack();
                }
                self.failed += records.len() as u64;
            }
            Observation::Delivered {
                audience,
                tp,
                records,
                from,
                to,
                ..
            } => {
                let a = self.audiences.entry(audience).or_default();
                a.record_deliveries(&tp, &records[from as usize..to as usize]);
            }
            Observation::Handled { audience, records } => {
                let a = self.audiences.entry(audience).or_default();
                for h in records {
                    // Processed again (a poll after a crash): a duplicate, not a reordering.
                    let again = a.deliveries(h.id) > 1;
                    let routing = a.routing.get_or_insert_with(Default::default);
                    routing.handled(h, again);
                }
            }
            Observation::CommitAcked { .. } => {}
            Observation::Transformed { output, input } => {
                self.sources.insert(output, input);
            }
        }
    }

    /// `producer` publishes `audience`'s failed records.
    pub fn register_forwarder(&mut self, producer: u32, audience: Arc<str>) {
        self.forwarders.insert(producer, audience);
    }

    /// The input record (its partition and offset) a processor made `output` from, if it is
    /// a processor's output.
    pub fn source(&self, output: RecordId) -> Option<&(TopicPartition, Offset)> {
        self.sources.get(&output)
    }

    pub fn outcome(&self, id: RecordId) -> Outcome {
        self.outcomes(id.producer).get(id.seq as usize)
    }

    /// Outcomes of one producer's records, indexed by record number.
    pub fn outcomes(&self, producer: u32) -> Outcomes<'_> {
        Outcomes(self.outcomes.get(producer as usize))
    }

    /// Bytes the ledger holds for its per-record facts.
    pub fn bytes(&self) -> usize {
        let outcomes: usize = self.outcomes.iter().map(Chunked::bytes).sum();
        let delivered: usize = self
            .audiences
            .values()
            .flat_map(|a| &a.delivered)
            .map(Chunked::bytes)
            .sum();
        outcomes + delivered
    }

    pub fn audiences(&self) -> &BTreeMap<Arc<str>, Audience> {
        &self.audiences
    }

    pub fn consumed(&self) -> u64 {
        self.audiences.values().map(|a| a.consumed).sum()
    }
    pub fn duplicates(&self) -> u64 {
        self.audiences.values().map(|a| a.duplicates).sum()
    }
    pub fn out_of_order(&self) -> u64 {
        self.audiences.values().map(|a| a.out_of_order).sum()
    }
}

impl Routing {
    fn handled(&mut self, h: Handled, again: bool) {
        match h.fate {
            Fate::Processed | Fate::Skipped => {
                if h.fate == Fate::Skipped {
                    self.skipped += 1;
                } else {
                    self.processed += 1;
                    if let Some(key) = h.key.as_ref().filter(|_| !again) {
                        let newest = self.newest.entry((h.origin.0.clone(), key.clone()));
                        let newest = newest.or_insert(h.origin.1);
                        if h.origin.1 < *newest {
                            self.reordered += 1;
                        }
                        *newest = (*newest).max(h.origin.1);
                    }
                }
                if let Some(offsets) = self.unforwarded.get_mut(&h.at.0) {
                    offsets.remove(&h.at.1);
                }
            }
            Fate::Retried | Fate::DeadLettered => {
                if h.fate == Fate::Retried {
                    self.retried += 1;
                }
                // A record the audience had already handled (processed, or its copy written)
                // and now fails again (a restarted member reading from an older committed
                // offset) loses nothing if its copy is never written: swarm seed 1203912, a
                // commit sent before the member's restart landed after its second failure.
                if !again && !self.forwarded.contains(&h.at) {
                    let offsets = self.unforwarded.entry(h.at.0.clone()).or_default();
                    offsets.insert(h.at.1);
                }
            }
        }
    }

    /// Copies of failed records acknowledged in `tp` (a retry or dead letter topic).
    fn copies_acked(
        &mut self,
        tp: &TopicPartition,
        records: &[Record],
        sources: &BTreeMap<RecordId, (TopicPartition, Offset)>,
    ) {
        if tp.topic.ends_with("-dlt") {
            self.dead_lettered += records.len() as u64;
        }
        for r in records {
            if let Some(input) = sources.get(&r.id) {
                if let Some(offsets) = self.unforwarded.get_mut(&input.0) {
                    offsets.remove(&input.1);
                }
                self.forwarded.insert(input.clone());
            }
        }
    }

    /// The first failed record of `tp` in `from..to` whose copy is not acknowledged.
    pub fn unforwarded_between(
        &self,
        tp: &TopicPartition,
        from: Offset,
        to: Offset,
    ) -> Option<Offset> {
        let offsets = self.unforwarded.get(tp)?;
        offsets.range(from..to).next().copied()
    }
}

impl Audience {
    fn record_deliveries(&mut self, tp: &TopicPartition, records: &[Record]) {
        let newest = self.newest.entry(tp.clone()).or_default();
        for r in records {
            self.consumed += 1;
            let count = slot(
                &mut self.delivered,
                r.id.producer as usize,
                Chunked::default(),
            )
            .slot(r.id.seq as usize);
            let first_time = *count == 0;
            *count = count.saturating_add(1);
            if !first_time {
                self.duplicates += 1;
                continue;
            }
            // Seeing, in one partition, a record its producer sent before one already seen.
            let n = slot(newest, r.id.producer as usize, None);
            match *n {
                Some(seq) if r.id.seq < seq => self.out_of_order += 1,
                _ => *n = Some(r.id.seq),
            }
        }
    }

    /// Whether the record reached this audience at least once.
    pub fn was_delivered(&self, id: RecordId) -> bool {
        self.deliveries(id) > 0
    }

    /// How many times the record reached this audience (at most 255).
    pub fn deliveries(&self, id: RecordId) -> u8 {
        self.delivered
            .get(id.producer as usize)
            .map_or(0, |v| v.get(id.seq as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_pack_into_eight_bytes_and_back() {
        let cases = [
            Outcome::Pending,
            Outcome::Acked {
                partition: 0,
                offset: None,
            },
            Outcome::Acked {
                partition: 999,
                offset: Some(Offset(0)),
            },
            Outcome::Acked {
                partition: 7,
                offset: Some(Offset((1 << 40) - 2)),
            },
        ];
        for o in cases.into_iter().chain(ErrorCode::ALL.map(Outcome::Failed)) {
            assert_eq!(Outcome::unpack(o.pack()), o);
        }
        for (i, e) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i, "ALL is in declaration order");
        }
    }

    #[test]
    fn chunked_reads_the_default_past_its_end() {
        let mut c = Chunked::<u8>::default();
        *c.slot(CHUNK + 3) = 9;
        assert_eq!(c.len(), CHUNK + 4);
        assert_eq!(c.get(CHUNK + 3), 9);
        assert_eq!(c.get(5), 0);
        assert_eq!(c.get(10 * CHUNK), 0);
        assert_eq!(c.iter().filter(|&v| v == 9).count(), 1);
        assert_eq!(c.iter().count(), CHUNK + 4);
    }
}
