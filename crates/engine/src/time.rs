//! Virtual time. The simulator owns the clock; nodes receive `now` as an argument.
//! Nothing here reads a wall clock.

use std::fmt;
use std::ops::{Add, Sub};

/// A point in virtual time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

/// A span of virtual time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);
    pub const MAX: Instant = Instant(u64::MAX);

    pub fn from_millis(ms: u64) -> Instant {
        Instant(ms.saturating_mul(1000))
    }
    pub fn as_micros(self) -> u64 {
        self.0
    }
    /// Whole milliseconds, as Kafka timestamps are.
    pub fn as_millis(self) -> u64 {
        self.0 / 1000
    }
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(1000))
    }
    pub fn from_micros(us: u64) -> Duration {
        Duration(us)
    }
    pub fn as_micros(self) -> u64 {
        self.0
    }
    pub fn as_millis(self) -> u64 {
        self.0 / 1000
    }
    pub fn saturating_sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_sub(rhs.0))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Instant {
    /// Formats as seconds with millisecond precision, e.g. `12.345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1000;
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}
