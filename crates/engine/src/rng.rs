//! The one source of randomness: a seeded PRNG with independent sub-streams.
//!
//! Algorithm: xoshiro256** (Blackman and Vigna), seeded through splitmix64.
//! Sub-streams are derived from the root seed and a purpose id, so adding a draw in one place
//! (say, network jitter) does not reshuffle another (say, key choice).
//! The API is integer-only: no floats reach a decision.

/// A deterministic pseudo-random generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a sub-stream is for. Each purpose gets its own stream from the run's seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Replica placement of new topics.
    Placement,
    /// Network latency jitter.
    Network,
    /// One producer's workload and partitioner choices.
    Producer(u32),
    /// One consumer's processing model.
    Consumer(u32),
    /// Retry backoff jitter of one client.
    Backoff(u32),
    /// A restarted consumer process (its `incarnation`-th start).
    Restart { consumer: u32, incarnation: u32 },
    /// Replica placement of topics the controller creates on a client's request
    /// (`auto.create.topics.enable`).
    AutoCreate,
    /// A restarted processor's new producer (its `incarnation`-th start).
    ProducerRestart { producer: u32, incarnation: u32 },
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Stream::Placement => 1,
            Stream::Network => 2,
            Stream::Producer(i) => (3 << 32) | u64::from(i),
            Stream::Consumer(i) => (4 << 32) | u64::from(i),
            Stream::Backoff(i) => (5 << 32) | u64::from(i),
            Stream::Restart {
                consumer,
                incarnation,
            } => (6 << 56) | (u64::from(incarnation) << 32) | u64::from(consumer),
            Stream::AutoCreate => 7,
            Stream::ProducerRestart {
                producer,
                incarnation,
            } => (8 << 56) | (u64::from(incarnation) << 32) | u64::from(producer),
        }
    }
}

impl Prng {
    pub fn new(seed: u64) -> Prng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Prng { s }
    }

    /// An independent stream for one purpose, derived from the run's seed.
    pub fn stream(seed: u64, stream: Stream) -> Prng {
        let mut sm = seed ^ stream.id().wrapping_mul(0xd6e8_feb8_6659_fd93);
        Prng::new(splitmix64(&mut sm))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Like Java's `toPositive(ThreadLocalRandom.nextInt())`: a non-negative 31-bit value.
    pub fn next_positive_i32(&mut self) -> i32 {
        (self.next_u32() & 0x7fff_ffff) as i32
    }

    /// A uniform value in `0..bound` (Lemire's method, unbiased). `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        loop {
            let x = self.next_u64();
            let m = u128::from(x) * u128::from(bound);
            let low = m as u64;
            if low >= bound.wrapping_neg() % bound {
                return (m >> 64) as u64;
            }
        }
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        assert!(denominator > 0);
        self.below(denominator) < numerator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let mut a = Prng::stream(42, Stream::Network);
        let mut b = Prng::stream(42, Stream::Network);
        let mut c = Prng::stream(42, Stream::Placement);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Prng::new(7);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            let v = r.below(6);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800 && n < 1200), "{seen:?}");
    }
}
