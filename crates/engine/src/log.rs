//! A partition replica's log: segments of record batches, log start offset and log end offset.
//!
//! The log only stores and reads; who may append, and up to where a reader may read
//! (the high watermark), is decided by the replica that owns it.

use crate::record::{Offset, Record, RecordBatch};
use crate::time::Instant;

/// One segment: a contiguous run of batches starting at `base_offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub base_offset: Offset,
    pub batches: Vec<RecordBatch>,
    pub size_bytes: u64,
    pub created_at: Instant,
    pub largest_timestamp_ms: i64,
}

impl Segment {
    fn new(base_offset: Offset, created_at: Instant) -> Segment {
        Segment {
            base_offset,
            batches: Vec::new(),
            size_bytes: 0,
            created_at,
            largest_timestamp_ms: i64::MIN,
        }
    }
    pub fn next_offset(&self) -> Offset {
        self.batches
            .last()
            .map_or(self.base_offset, |b| b.next_offset())
    }
}

/// When to roll a new segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentPolicy {
    pub segment_bytes: u64,
    pub segment_ms: u64,
}

/// The log of one replica of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLog {
    segments: Vec<Segment>,
    log_start: Offset,
    policy: SegmentPolicy,
}

impl PartitionLog {
    pub fn new(policy: SegmentPolicy, now: Instant) -> PartitionLog {
        PartitionLog {
            segments: vec![Segment::new(Offset(0), now)],
            log_start: Offset(0),
            policy,
        }
    }

    pub fn log_start(&self) -> Offset {
        self.log_start
    }

    /// Log end offset: the offset the next record will get.
    pub fn log_end(&self) -> Offset {
        self.active().next_offset()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size_bytes).sum()
    }

    fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// Appends a batch whose base offset the caller already set to the log end offset.
    pub fn append(&mut self, batch: RecordBatch, now: Instant) {
        assert_eq!(
            batch.base_offset,
            self.log_end(),
            "appends must be contiguous"
        );
        assert!(batch.record_count() > 0, "empty batches are never appended");
        let roll = {
            let active = self.active();
            let full = active.size_bytes + u64::from(batch.size_bytes) > self.policy.segment_bytes;
            let old = now.saturating_since(active.created_at).as_millis() >= self.policy.segment_ms;
            !active.batches.is_empty() && (full || old)
        };
        if roll {
            let base = self.log_end();
            self.segments.push(Segment::new(base, now));
        }
        let active = self.segments.last_mut().expect("active segment");
        active.size_bytes += u64::from(batch.size_bytes);
        active.largest_timestamp_ms = active.largest_timestamp_ms.max(batch.max_timestamp_ms);
        if active.batches.len() == active.batches.capacity() {
            // Grow by an eighth, not double: a segment (1 GiB by default) holds most of a
            // run's batches, on every replica, and doubling kept up to twice the room needed.
            let more = (active.batches.len() / 8).max(16);
            active.batches.reserve_exact(more);
        }
        active.batches.push(batch);
    }

    /// Batches holding offsets in `from..max_offset`, whole batches only, stopping once
    /// `max_bytes` is reached (the first batch is returned whatever its size, as Kafka does).
    pub fn read(&self, from: Offset, max_offset: Offset, max_bytes: u64) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        self.each_readable(from, max_offset, max_bytes, |b| out.push(b.clone()));
        out
    }

    /// Bytes a read would return, without copying anything (to test `fetch.min.bytes`).
    pub fn readable_bytes(&self, from: Offset, max_offset: Offset, max_bytes: u64) -> u64 {
        let mut bytes = 0;
        self.each_readable(from, max_offset, max_bytes, |b| {
            bytes += u64::from(b.size_bytes);
        });
        bytes
    }

    /// Visits the batches `read` returns, in order. No list of them is made: parked fetches
    /// ask for the readable bytes of every partition on every append.
    fn each_readable(
        &self,
        from: Offset,
        max_offset: Offset,
        max_bytes: u64,
        mut visit: impl FnMut(&RecordBatch),
    ) {
        if from >= max_offset {
            return;
        }
        let seg_index = self
            .segments
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        let mut bytes = 0u64;
        let mut first = true;
        for segment in &self.segments[seg_index..] {
            let start = segment.batches.partition_point(|b| b.next_offset() <= from);
            for batch in &segment.batches[start..] {
                if batch.next_offset() > max_offset {
                    return;
                }
                if !first && bytes + u64::from(batch.size_bytes) > max_bytes {
                    return;
                }
                first = false;
                bytes += u64::from(batch.size_bytes);
                visit(batch);
            }
        }
    }

    /// The batch containing `offset`, if still in the log.
    pub fn batch_at(&self, offset: Offset) -> Option<&RecordBatch> {
        let seg_index = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .checked_sub(1)?;
        let segment = &self.segments[seg_index];
        let i = segment
            .batches
            .partition_point(|b| b.next_offset() <= offset);
        segment.batches.get(i).filter(|b| b.base_offset <= offset)
    }

    /// The newest batch (it holds the offset just below the log end), found without a search.
    pub fn last_batch(&self) -> Option<&RecordBatch> {
        self.segments.iter().rev().find_map(|s| s.batches.last())
    }

    /// The record at `offset`, if still in the log.
    pub fn record_at(&self, offset: Offset) -> Option<&Record> {
        let batch = self.batch_at(offset)?;
        batch.records.get((offset.0 - batch.base_offset.0) as usize)
    }

    /// The batches holding offsets in `[from, to)`, in order (the first and last may hold
    /// offsets outside it).
    pub fn batches_between(
        &self,
        from: Offset,
        to: Offset,
    ) -> impl Iterator<Item = &RecordBatch> + Clone + '_ {
        let seg_index = self
            .segments
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        self.segments[seg_index..]
            .iter()
            .flat_map(move |segment| {
                let start = segment.batches.partition_point(|b| b.next_offset() <= from);
                segment.batches[start..].iter()
            })
            .take_while(move |batch| batch.base_offset < to)
    }

    /// The records at offsets `from..to`, oldest first, with their offsets.
    pub fn records_between(
        &self,
        from: Offset,
        to: Offset,
    ) -> impl Iterator<Item = (Offset, &Record)> + '_ {
        self.batches_between(from, to)
            .flat_map(|batch| {
                let base = batch.base_offset.0;
                batch
                    .records
                    .iter()
                    .enumerate()
                    .map(move |(i, r)| (Offset(base + i as u64), r))
            })
            .filter(move |(offset, _)| *offset >= from && *offset < to)
    }

    /// Up to `n` newest records below `below`, oldest first, with their offsets.
    pub fn latest(&self, n: usize, below: Offset) -> Vec<(Offset, &Record)> {
        let mut out = Vec::new();
        if n == 0 {
            // Not a search of the whole log for a count it never reaches.
            return out;
        }
        'outer: for segment in self.segments.iter().rev() {
            for batch in segment.batches.iter().rev() {
                for (i, record) in batch.records.iter().enumerate().rev() {
                    let offset = Offset(batch.base_offset.0 + i as u64);
                    if offset >= below {
                        continue;
                    }
                    out.push((offset, record));
                    if out.len() == n {
                        break 'outer;
                    }
                }
            }
        }
        out.reverse();
        out
    }

    /// Removes everything at and above `offset` (follower truncation).
    pub fn truncate_to(&mut self, offset: Offset) {
        assert!(
            offset >= self.log_start,
            "never truncate below the log start"
        );
        while self.segments.len() > 1 && self.active().base_offset >= offset {
            self.segments.pop();
        }
        let active = self.segments.last_mut().expect("active segment");
        // Batches straddling the point are dropped whole; callers truncate at batch bounds.
        active.batches.retain(|b| b.next_offset() <= offset);
        active.size_bytes = active.batches.iter().map(|b| u64::from(b.size_bytes)).sum();
    }

    /// Deletes whole segments from the oldest while `deletable` says so, never the active one
    /// and never past `limit` (the high watermark). Returns how many were deleted.
    pub fn delete_oldest_segments(
        &mut self,
        limit: Offset,
        mut deletable: impl FnMut(&Segment) -> bool,
    ) -> u32 {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let upper = self.segments[1].base_offset;
            if upper > limit || !deletable(&self.segments[0]) {
                break;
            }
            self.segments.remove(0);
            deleted += 1;
        }
        if deleted > 0 {
            self.log_start = self.log_start.max(self.segments[0].base_offset);
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: u64, n: u64, size: u32) -> RecordBatch {
        crate::record::test_batch(Offset(base), base, n, size)
    }

    fn policy() -> SegmentPolicy {
        SegmentPolicy {
            segment_bytes: 250,
            segment_ms: u64::MAX,
        }
    }

    #[test]
    fn append_read_and_roll_segments() {
        let mut log = PartitionLog::new(policy(), Instant::ZERO);
        for i in 0..10 {
            log.append(batch(i * 3, 3, 100), Instant::ZERO);
        }
        assert_eq!(log.log_end(), Offset(30));
        assert_eq!(
            log.segments().len(),
            5,
            "two 100-byte batches fit a 250-byte segment"
        );
        // A read from the middle of a batch returns that whole batch.
        let got = log.read(Offset(4), Offset(30), u64::MAX);
        assert_eq!(got.first().map(|b| b.base_offset), Some(Offset(3)));
        assert_eq!(got.len(), 9);
        // max_offset (the HW) cuts at batch bounds; max_bytes stops but keeps the first.
        assert_eq!(log.read(Offset(0), Offset(7), u64::MAX).len(), 2);
        assert_eq!(log.read(Offset(0), Offset(30), 1).len(), 1);
        assert_eq!(log.record_at(Offset(13)).map(|r| r.id.seq), Some(13));
        let latest: Vec<u64> = log.latest(4, Offset(30)).iter().map(|(o, _)| o.0).collect();
        assert_eq!(latest, vec![26, 27, 28, 29]);
        assert!(log.latest(0, Offset(30)).is_empty());
    }

    #[test]
    fn truncate_and_delete_keep_offsets_consistent() {
        let mut log = PartitionLog::new(policy(), Instant::ZERO);
        for i in 0..10 {
            log.append(batch(i * 3, 3, 100), Instant::ZERO);
        }
        log.truncate_to(Offset(21));
        assert_eq!(log.log_end(), Offset(21));
        let deleted = log.delete_oldest_segments(Offset(21), |_| true);
        assert_eq!(deleted, 3);
        assert_eq!(log.log_start(), Offset(18));
        assert!(log.record_at(Offset(3)).is_none());
        log.append(batch(21, 3, 100), Instant::ZERO);
        assert_eq!(log.log_end(), Offset(24));
    }
}
