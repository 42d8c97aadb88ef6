//! Compression of record batches as a cost, not as bytes: a codec (`compression.type`)
//! shrinks a batch by a ratio that depends on what the values are like (a producer's
//! `values`: random bytes do not compress, JSON does) and grows with the batch (a codec finds
//! more repetition in more records), and costs CPU per byte to compress (the producer's
//! `send()`, and a broker recompressing for a topic with its own `compression.type`) and to
//! decompress (a broker validating a batch, `LogValidator`). Bytes on the wire and on disk are
//! the compressed size.
//!
//! The ratios on JSON at large batches are the savings commonly published for typical JSON
//! payloads (gzip about 75%, zstd 72%, snappy 68%, lz4 65%); the speeds are one core's, of
//! the order lzbench reports for each codec at Kafka's default level. Shapes for a lesson,
//! not measurements of anyone's data.

/// A batch's codec (Kafka's `CompressionType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Codec {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// What the records' values are like, for how well they compress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Values {
    /// Random bytes (what `kafka-producer-perf-test` sends): no codec shrinks them.
    #[default]
    Random,
    /// JSON documents, as most applications send.
    Json,
}

/// Every codec by its `compression.type` name.
pub const CODECS: [(&str, Codec); 5] = [
    ("none", Codec::None),
    ("gzip", Codec::Gzip),
    ("snappy", Codec::Snappy),
    ("lz4", Codec::Lz4),
    ("zstd", Codec::Zstd),
];

/// Below this many bytes a batch compresses half as well as a large one (the ratio moves from
/// 1 towards the codec's as the batch grows: `K / (K + bytes)` of the way is left).
const HALF_WAY_BYTES: u64 = 1_024;

impl Codec {
    pub fn parse(name: &str) -> Option<Codec> {
        CODECS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub fn name(self) -> &'static str {
        CODECS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("none", |(n, _)| n)
    }

    /// Compressed over uncompressed for a large batch of these values, in thousandths.
    fn ratio_large(self, values: Values) -> u64 {
        match (self, values) {
            (Codec::None, _) | (_, Values::Random) => 1_000,
            (Codec::Gzip, Values::Json) => 250,
            (Codec::Zstd, Values::Json) => 280,
            (Codec::Snappy, Values::Json) => 320,
            (Codec::Lz4, Values::Json) => 350,
        }
    }

    /// The compressed size of `bytes` of records (the batch header stays as it is).
    pub fn compressed(self, values: Values, bytes: u32) -> u32 {
        let large = self.ratio_large(values);
        let b = u64::from(bytes);
        // ratio = large + (1 - large) * K / (K + bytes), in thousandths.
        let ratio = large + (1_000 - large) * HALF_WAY_BYTES / (HALF_WAY_BYTES + b);
        (b * ratio / 1_000).max(1) as u32
    }

    /// Bytes a second one core compresses, and decompresses (0: nothing to do).
    fn speeds(self) -> (u64, u64) {
        match self {
            Codec::None => (0, 0),
            Codec::Gzip => (30_000_000, 300_000_000),
            Codec::Snappy => (500_000_000, 1_500_000_000),
            Codec::Lz4 => (700_000_000, 3_500_000_000),
            Codec::Zstd => (300_000_000, 1_000_000_000),
        }
    }

    /// Nanoseconds of one core to compress `bytes`.
    pub fn compress_ns(self, bytes: u64) -> u64 {
        per_second(bytes, self.speeds().0)
    }

    /// Nanoseconds of one core to decompress what was `bytes` uncompressed.
    pub fn decompress_ns(self, bytes: u64) -> u64 {
        per_second(bytes, self.speeds().1)
    }
}

fn per_second(bytes: u64, rate: u64) -> u64 {
    match rate {
        0 => 0,
        r => (u128::from(bytes) * 1_000_000_000 / u128::from(r)) as u64,
    }
}

impl Values {
    pub fn parse(name: &str) -> Option<Values> {
        match name {
            "random" => Some(Values::Random),
            "json" => Some(Values::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Values::Random => "random",
            Values::Json => "json",
        }
    }
}

/// The producer's guess of its compression ratio, per topic as Kafka keeps it
/// (`CompressionRatioEstimator`): it starts at 1, falls by 0.005 a batch while batches
/// compress better than it, and rises by 0.05 (at least to what was seen) when one does worse.
/// Batches are closed by this guess, so a compressed batch holds more records than
/// `batch.size` of uncompressed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatioEstimate {
    pub milli: u64,
}

impl Default for RatioEstimate {
    fn default() -> Self {
        RatioEstimate { milli: 1_000 }
    }
}

impl RatioEstimate {
    /// A batch of `uncompressed` bytes came out at `compressed`.
    pub fn observe(&mut self, uncompressed: u32, compressed: u32) {
        let seen = u64::from(compressed) * 1_000 / u64::from(uncompressed.max(1));
        if seen > self.milli {
            self.milli = (self.milli + 50).max(seen);
        } else if seen < self.milli {
            self.milli = self.milli.saturating_sub(5).max(seen);
        }
    }

    /// What `bytes` of records are estimated to take compressed, with Kafka's 5% margin
    /// (`COMPRESSION_RATE_ESTIMATION_FACTOR`); exact without compression.
    pub fn estimate(self, codec: Codec, bytes: u32) -> u32 {
        match codec {
            Codec::None => bytes,
            _ => (u64::from(bytes) * self.milli * 105 / 100_000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_compresses_better_in_larger_batches_and_random_bytes_not_at_all() {
        for (_, codec) in CODECS {
            assert_eq!(codec.compressed(Values::Random, 16_000), 16_000);
        }
        let at = |bytes| Codec::Zstd.compressed(Values::Json, bytes) * 1_000 / bytes;
        assert!(
            at(200) > 800,
            "a record or two hardly compresses: {}",
            at(200)
        );
        assert_eq!(at(1_024), 639, "half way from 1 to 0.28, rounded down");
        assert!(at(65_536) < 300, "{}", at(65_536));
        let sizes: Vec<u32> = ["gzip", "zstd", "snappy", "lz4"]
            .iter()
            .map(|n| Codec::parse(n).unwrap().compressed(Values::Json, 100_000))
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    }

    #[test]
    fn gzip_costs_the_most_cpu_and_lz4_the_least() {
        let mb = 1_000_000;
        assert_eq!(Codec::None.compress_ns(mb), 0);
        assert!(Codec::Gzip.compress_ns(mb) > Codec::Zstd.compress_ns(mb) * 5);
        assert!(Codec::Lz4.compress_ns(mb) < Codec::Snappy.compress_ns(mb));
        assert!(Codec::Gzip.decompress_ns(mb) < Codec::Gzip.compress_ns(mb));
    }

    #[test]
    fn the_estimate_falls_slowly_and_rises_fast_as_kafka_s() {
        let mut e = RatioEstimate::default();
        e.observe(1_000, 300);
        assert_eq!(e.milli, 995);
        for _ in 0..200 {
            e.observe(1_000, 300);
        }
        assert_eq!(e.milli, 300);
        e.observe(1_000, 320);
        assert_eq!(e.milli, 350);
        assert_eq!(e.estimate(Codec::Lz4, 10_000), 3_675);
        assert_eq!(e.estimate(Codec::None, 10_000), 10_000);
    }
}
