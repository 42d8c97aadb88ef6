//! The ledger: ground truth about every record, kept outside the nodes by the simulator.
//! It follows each record from `send()` through acknowledgement or failure to every delivery,
//! and answers the questions users ask: which acknowledged records were lost, which were
//! delivered twice, which arrived out of the order their producer sent them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::protocol::ErrorCode;
use crate::record::{Offset, Record, RecordId, TopicPartition};

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
    /// `poll()` returned `records[from..to]` (a slice of one batch) to an application.
    Delivered {
        audience: Arc<str>,
        tp: TopicPartition,
        base_offset: Offset,
        records: Arc<Vec<Record>>,
        from: u32,
        to: u32,
    },
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

/// Who counts as one reader for duplicate detection: a consumer group, or a standalone consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    /// Deliveries per record, indexed by producer then record number (saturating at 255).
    delivered: Vec<Vec<u8>>,
    /// Per partition and producer: the newest producer record number delivered so far.
    newest: BTreeMap<TopicPartition, Vec<Option<u64>>>,
    pub consumed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
}

/// The whole run's bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    outcomes: Vec<Vec<Outcome>>,
    audiences: BTreeMap<Arc<str>, Audience>,
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
                let outcomes = slot(&mut self.outcomes, producer as usize, Vec::new());
                for (i, r) in records.iter().enumerate() {
                    let offset = base_offset.map(|b| Offset(b.0 + i as u64));
                    let o = slot(outcomes, r.id.seq as usize, Outcome::Pending);
                    assert_eq!(
                        *o,
                        Outcome::Pending,
                        "a record is acknowledged or failed once"
                    );
                    *o = Outcome::Acked {
                        partition: tp.partition,
                        offset,
                    };
                }
                self.acked += records.len() as u64;
            }
            Observation::Failed {
                producer,
                records,
                error,
            } => {
                let outcomes = slot(&mut self.outcomes, producer as usize, Vec::new());
                for r in records.iter() {
                    let o = slot(outcomes, r.id.seq as usize, Outcome::Pending);
                    assert_eq!(
                        *o,
                        Outcome::Pending,
                        "a record is acknowledged or failed once"
                    );
                    *o = Outcome::Failed(error);
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
            Observation::CommitAcked { .. } => {}
        }
    }

    pub fn outcome(&self, id: RecordId) -> Outcome {
        self.outcomes
            .get(id.producer as usize)
            .and_then(|v| v.get(id.seq as usize))
            .copied()
            .unwrap_or(Outcome::Pending)
    }

    /// Outcomes of one producer's records, indexed by record number.
    pub fn outcomes(&self, producer: u32) -> &[Outcome] {
        self.outcomes
            .get(producer as usize)
            .map_or(&[], Vec::as_slice)
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

impl Audience {
    fn record_deliveries(&mut self, tp: &TopicPartition, records: &[Record]) {
        let newest = self.newest.entry(tp.clone()).or_default();
        for r in records {
            self.consumed += 1;
            let count = slot(
                slot(&mut self.delivered, r.id.producer as usize, Vec::new()),
                r.id.seq as usize,
                0,
            );
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
        self.delivered
            .get(id.producer as usize)
            .and_then(|v| v.get(id.seq as usize))
            .is_some_and(|&c| c > 0)
    }
}
