//! Latencies by the millisecond, for percentiles (p50, p99, p99.9) in reports and the page.
//! Kafka's own latencies (`EndToEndLatency`, `record-queue-time`) come from millisecond
//! timestamps, so a millisecond is the resolution they have too.

use std::collections::BTreeMap;

/// Below this many milliseconds a latency is counted in a flat array (the hot path: a
/// consumer counts every record it polls); above, in a map.
const FLAT: usize = 1_024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    flat: Vec<u64>,
    high: BTreeMap<u64, u64>,
    count: u64,
}

impl Histogram {
    pub fn record(&mut self, ms: u64) {
        self.record_n(ms, 1);
    }

    pub fn record_n(&mut self, ms: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.count += n;
        match usize::try_from(ms).ok().filter(|&i| i < FLAT) {
            Some(i) => {
                if self.flat.len() <= i {
                    self.flat.resize(i + 1, 0);
                }
                self.flat[i] += n;
            }
            None => *self.high.entry(ms).or_default() += n,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest latency at or below which `per_mille` thousandths of the samples lie
    /// (500: the median, 990: p99, 999: p99.9); `None` without samples.
    pub fn percentile(&self, per_mille: u64) -> Option<u64> {
        let rank = (self.count * per_mille).div_ceil(1_000).max(1);
        let mut seen = 0;
        let flat = self.flat.iter().enumerate().map(|(ms, n)| (ms as u64, *n));
        let high = self.high.iter().map(|(ms, n)| (*ms, *n));
        flat.chain(high).find_map(|(ms, n)| {
            seen += n;
            (seen >= rank).then_some(ms)
        })
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (ms, n) in other.flat.iter().enumerate() {
            self.record_n(ms as u64, *n);
        }
        for (ms, n) in &other.high {
            self.record_n(*ms, *n);
        }
    }

    /// The samples recorded since `earlier`, a copy of this histogram taken before.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut out = Histogram::default();
        for (ms, n) in self.flat.iter().enumerate() {
            let before = earlier.flat.get(ms).copied().unwrap_or(0);
            out.record_n(ms as u64, n.saturating_sub(before));
        }
        for (ms, n) in &self.high {
            let before = earlier.high.get(ms).copied().unwrap_or(0);
            out.record_n(*ms, n.saturating_sub(before));
        }
        out
    }

    /// p50, p99 and p99.9, when there are samples.
    pub fn summary(&self) -> Option<Percentiles> {
        Some(Percentiles {
            p50: self.percentile(500)?,
            p99: self.percentile(990)?,
            p999: self.percentile(999)?,
            count: self.count,
        })
    }
}

/// Latency percentiles in milliseconds, and how many samples they summarize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ranks_over_both_halves() {
        let mut h = Histogram::default();
        assert_eq!(h.summary(), None);
        h.record_n(2, 980);
        h.record_n(3, 15);
        h.record_n(5_000, 5);
        let s = h.summary().expect("samples");
        assert_eq!((s.p50, s.p99, s.p999, s.count), (2, 3, 5_000, 1_000));
        let mut sum = Histogram::default();
        sum.merge(&h);
        sum.merge(&h);
        assert_eq!(sum.count(), 2_000);
        assert_eq!(sum.percentile(990), Some(3));
        let later = sum.since(&h);
        assert_eq!(later, h);
    }
}
