//! Which partition a record goes to, exactly as Kafka's producer decides it
//! (reference §1): explicit partition, else murmur2 of the key, else the built-in
//! sticky partitioner (KIP-794) for null keys; `partitioner.class` may pick round-robin.
//!
//! This module computes; the producer owns the state and applies the decisions.

use crate::rng::Prng;

/// Kafka's `Utils.murmur2`, bit for bit (32-bit wrapping arithmetic, `>>>` as logical shift).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's fall-through switch over `length % 4`.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: a mask, not `abs`.
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % numPartitions`,
/// over all partitions of the topic, available or not.
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    assert!(num_partitions > 0);
    (to_positive(murmur2(key)) as u32) % num_partitions
}

/// Where a keyed record lands, step by step: `toPositive(murmur2(key)) % partitions`.
/// `kplay partition` and the web app both print these numbers, so they cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPlacement {
    pub murmur2: i32,
    /// `toPositive(murmur2)`.
    pub positive: i32,
    pub partitions: u32,
    /// `positive % partitions`, what [`partition_for_key`] returns.
    pub partition: u32,
}

/// Explains where a key lands (see [`KeyPlacement`]).
pub fn explain_key(key: &[u8], num_partitions: u32) -> KeyPlacement {
    let hash = murmur2(key);
    KeyPlacement {
        murmur2: hash,
        positive: to_positive(hash),
        partitions: num_partitions,
        partition: partition_for_key(key, num_partitions),
    }
}

/// Java's `String.hashCode` over UTF-16 code units, used for coordinator partitions (§1.5).
pub fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    h
}

/// Kafka's `Utils.abs`: `Integer.MIN_VALUE` maps to 0.
pub fn kafka_abs(x: i32) -> i32 {
    if x == i32::MIN {
        0
    } else {
        x.abs()
    }
}

/// The `__consumer_offsets` partition of a group: `abs(groupId.hashCode()) % partitions`.
pub fn coordinator_partition(group_id: &str, partitions: u32) -> u32 {
    (kafka_abs(java_string_hash(group_id)) as u32) % partitions
}

/// State of the built-in sticky partitioner for one topic (KIP-794, `BuiltInPartitioner`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StickyPartitioner {
    current: Option<u32>,
    produced_bytes: u64,
    sticky_batch_size: u64,
}

impl StickyPartitioner {
    pub fn new(batch_size: u32) -> StickyPartitioner {
        StickyPartitioner {
            current: None,
            produced_bytes: 0,
            sticky_batch_size: u64::from(batch_size),
        }
    }

    /// The current sticky partition, choosing one if there is none yet. `load` gives the
    /// queue sizes and availability per partition; it is only called when a choice is made,
    /// so the common case (a partition is already chosen) costs nothing.
    pub fn partition(
        &mut self,
        load: impl FnOnce() -> (Vec<u32>, Vec<bool>),
        rng: &mut Prng,
    ) -> u32 {
        match self.current {
            Some(p) => p,
            None => {
                let (queue_sizes, available) = load();
                let p = next_sticky_partition(&queue_sizes, &available, rng);
                self.current = Some(p);
                p
            }
        }
    }

    /// Called after a record of `bytes` was appended to the sticky partition's batch.
    /// `switch_allowed` is false while the current batch is not yet full, so that batches are
    /// not left fractional; past twice `batch.size` the switch happens regardless.
    pub fn on_append(
        &mut self,
        bytes: u32,
        switch_allowed: bool,
        load: impl FnOnce() -> (Vec<u32>, Vec<bool>),
        rng: &mut Prng,
    ) {
        self.produced_bytes += u64::from(bytes);
        let over = self.produced_bytes >= self.sticky_batch_size;
        let far_over = self.produced_bytes >= 2 * self.sticky_batch_size;
        if (over && switch_allowed) || far_over {
            let (queue_sizes, available) = load();
            self.current = Some(next_sticky_partition(&queue_sizes, &available, rng));
            self.produced_bytes = 0;
        }
    }

    /// The sticky partition if one is chosen.
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// Forget the choice, e.g. when the partition count changes.
    pub fn reset(&mut self) {
        self.current = None;
        self.produced_bytes = 0;
    }
}

/// Picks the next sticky partition: weighted by queue length when the queues differ
/// (adaptive partitioning), else uniformly among available partitions.
pub fn next_sticky_partition(queue_sizes: &[u32], available: &[bool], rng: &mut Prng) -> u32 {
    assert_eq!(queue_sizes.len(), available.len());
    let n = queue_sizes.len() as u32;
    assert!(n > 0);
    let candidates: Vec<u32> = (0..n).filter(|&p| available[p as usize]).collect();
    if candidates.is_empty() {
        return (rng.next_positive_i32() as u32) % n;
    }
    let sizes: Vec<u32> = candidates
        .iter()
        .map(|&p| queue_sizes[p as usize])
        .collect();
    let all_equal = sizes.iter().all(|&s| s == sizes[0]);
    if candidates.len() < 2 || all_equal {
        let i = (rng.next_positive_i32() as u32) % candidates.len() as u32;
        return candidates[i as usize];
    }
    // Cumulative frequency table with weight_i = (maxQueue + 1) - queue_i.
    let max_queue = *sizes.iter().max().expect("non-empty");
    let mut cumulative = Vec::with_capacity(sizes.len());
    let mut total: u64 = 0;
    for &s in &sizes {
        total += u64::from(max_queue + 1 - s);
        cumulative.push(total);
    }
    let r = (rng.next_positive_i32() as u64) % total;
    let index = cumulative.iter().position(|&c| c > r).expect("r < total");
    candidates[index]
}

/// `RoundRobinPartitioner`: a per-topic counter over the available partitions.
pub fn round_robin_partition(counter: u32, available: &[bool]) -> u32 {
    let up: Vec<u32> = (0..available.len() as u32)
        .filter(|&p| available[p as usize])
        .collect();
    let positive = to_positive(counter as i32) as u32;
    if up.is_empty() {
        positive % available.len() as u32
    } else {
        up[(positive % up.len() as u32) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_is_the_placement() {
        // What the CLI and the web app print is what the producer does.
        for key in ["", "user-42", "21", "foobar"] {
            let e = explain_key(key.as_bytes(), 7);
            assert_eq!(e.partition, partition_for_key(key.as_bytes(), 7));
            assert_eq!(e.partition, e.positive as u32 % 7);
            assert_eq!(e.positive, to_positive(murmur2(key.as_bytes())));
        }
    }

    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        let vectors: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, expected) in vectors {
            assert_eq!(murmur2(key.as_bytes()), expected, "key {key:?}");
        }
    }

    #[test]
    fn partitions_match_cross_checked_client_vectors() {
        // (key, murmur2, toPositive, %3, %6, %10, %12) from the reference, §1.2.
        let vectors: [(&str, i32, i32, [u32; 4]); 9] = [
            ("", 275_646_681, 275_646_681, [0, 3, 1, 9]),
            ("a", -1_563_381_124, 584_102_524, [1, 4, 4, 4]),
            ("key", -1_079_937_367, 1_067_546_281, [1, 1, 1, 1]),
            ("key-0", 29_210_041, 29_210_041, [1, 1, 1, 1]),
            ("key-1", 193_331_640, 193_331_640, [0, 0, 0, 0]),
            ("key-2", 852_269_702, 852_269_702, [2, 2, 2, 2]),
            ("user-42", 1_459_644_460, 1_459_644_460, [1, 4, 0, 4]),
            ("hello", 2_132_663_229, 2_132_663_229, [0, 3, 9, 9]),
            ("kafka", -798_503_068, 1_348_980_580, [1, 4, 0, 4]),
        ];
        for (key, hash, positive, parts) in vectors {
            assert_eq!(murmur2(key.as_bytes()), hash, "murmur2 {key:?}");
            assert_eq!(to_positive(hash), positive, "toPositive {key:?}");
            for (n, expected) in [3, 6, 10, 12].into_iter().zip(parts) {
                assert_eq!(
                    partition_for_key(key.as_bytes(), n),
                    expected,
                    "{key:?} % {n}"
                );
            }
        }
    }

    #[test]
    fn to_positive_is_a_mask_not_abs() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_ne!(to_positive(-5), 5);
    }

    #[test]
    fn coordinator_partition_matches_reference_vectors() {
        assert_eq!(java_string_hash("foo"), 101_574);
        assert_eq!(coordinator_partition("foo", 50), 24);
        assert_eq!(coordinator_partition("foo", 10), 4);
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(coordinator_partition("my-group", 50), 12);
        assert_eq!(coordinator_partition("group-1", 50), 49);
        assert_eq!(coordinator_partition("payments", 50), 13);
        assert_eq!(coordinator_partition("console-consumer-12345", 50), 6);
    }

    #[test]
    fn adaptive_choice_follows_the_cumulative_frequency_table() {
        // Queues [0,3,1] give weights [4,1,3], so over many draws p0 > p2 > p1.
        let mut rng = Prng::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..8000 {
            counts[next_sticky_partition(&[0, 3, 1], &[true; 3], &mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[2] && counts[2] > counts[1], "{counts:?}");
        // Roughly 4:1:3 of 8000.
        assert!((3600..4400).contains(&counts[0]), "{counts:?}");
        assert!((700..1300).contains(&counts[1]), "{counts:?}");
    }

    #[test]
    fn sticky_choice_skips_unavailable_partitions() {
        let mut rng = Prng::new(3);
        for _ in 0..200 {
            let p = next_sticky_partition(&[0, 0, 0, 0], &[false, true, false, true], &mut rng);
            assert!(p == 1 || p == 3);
        }
    }

    #[test]
    fn sticky_switches_only_after_batch_size_and_when_allowed() {
        let mut rng = Prng::new(9);
        let mut s = StickyPartitioner::new(100);
        let load = || (vec![0u32; 4], vec![true; 4]);
        let first = s.partition(load, &mut rng);
        s.on_append(60, true, load, &mut rng);
        assert_eq!(s.partition(load, &mut rng), first, "below batch.size: stay");
        s.on_append(60, false, load, &mut rng);
        assert_eq!(
            s.produced_bytes, 120,
            "switch not allowed yet: bytes keep counting"
        );
        s.on_append(90, false, load, &mut rng);
        assert_eq!(
            s.produced_bytes, 0,
            "at twice batch.size the switch is forced"
        );
    }

    #[test]
    fn round_robin_cycles_over_available_partitions() {
        let avail = [true, false, true];
        let picks: Vec<u32> = (0..4).map(|c| round_robin_partition(c, &avail)).collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
    }
}
