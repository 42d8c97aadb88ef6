//! What the machines cost: a cluster's hardware profile.
//!
//! Without one (`ideal`, the default) a message costs only its link's latency: links have no
//! bandwidth, brokers no CPU or disk, and a producer's application is as fast as its rate says.
//! A profile gives every broker and client machine the numbers that make throughput and
//! latency come out of the settings, as they do in Kafka:
//! - a network card per machine, each way: a message takes `size / bandwidth` to leave its
//!   sender and as long to enter its receiver, behind whatever is queued there (replication
//!   traffic shares a broker's card with its clients');
//! - request handler threads per broker (`num.io.threads`): a request waits for a free
//!   thread, which spends a fixed CPU time on it, a time per partition it names (a produce
//!   request appends to each, a fetch reads each), plus its bytes at the thread's byte rate;
//! - a disk append rate per broker (the page cache): a log append of a produce request or a
//!   follower's fetch costs its bytes at that rate, one append after another;
//! - a producer application's `send()` per record (serializing, partitioning, appending to
//!   its batch), which bounds a closed-loop producer (`rate_per_sec = "max"`).
//!
//! Every number is an integer: rates in bytes per second, times in nanoseconds. Zero means
//! free (no limit). The simulator applies the costs (`sim::costs`); nodes never see them.

/// The cost model of a cluster's machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hardware {
    /// The profile it started from (`ideal`, `kreps-2014`, ...).
    pub profile: &'static str,
    /// A broker's network card, bytes per second each way.
    pub broker_network_bytes_per_sec: u64,
    /// A client machine's network card, bytes per second each way.
    pub client_network_bytes_per_sec: u64,
    /// CPU time a request handler thread spends on any request.
    pub request_cpu_ns: u64,
    /// CPU time a network thread spends reading a request, and writing a response.
    pub network_cpu_ns: u64,
    /// And on each partition a produce or fetch request names, data or not.
    pub request_cpu_ns_per_partition: u64,
    /// Bytes per second a request handler thread gets through (checksums, copies).
    pub request_cpu_bytes_per_sec: u64,
    /// A broker's log append rate, bytes per second.
    pub disk_bytes_per_sec: u64,
    /// A producer application's time per `send()`.
    pub producer_send_ns_per_record: u64,
    /// A consumer's `poll()` time per fetch response it parses (Kafka's consumer parses a
    /// fetch's data on the application thread, `FetchCollector`), per record it returns, and
    /// its bytes' rate (checksums, `check.crcs`, and copies); decompression comes on top, by
    /// codec.
    pub consumer_ns_per_fetch: u64,
    pub consumer_ns_per_record: u64,
    pub consumer_bytes_per_sec: u64,
    /// The controller's time per partition leader it elects, one after another: its
    /// MetadataUpdate (and everything after it) waits for them all.
    pub controller_ns_per_election: u64,
}

/// What a consumer's `poll()` costs its application thread (from [`Hardware`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsumerCost {
    pub ns_per_fetch: u64,
    pub ns_per_record: u64,
    pub bytes_per_sec: u64,
}

/// Every named profile, for errors and the UI's choice.
pub const PROFILES: &[&str] = &["ideal", "kreps-2014", "cloud-2024"];

/// Every number a scenario may override, with its unit, for errors and docs.
pub const FIELDS: &[(&str, &str)] = &[
    ("broker_network_bytes_per_sec", "bytes per second, each way"),
    ("client_network_bytes_per_sec", "bytes per second, each way"),
    ("request_cpu_ns", "nanoseconds per request"),
    (
        "network_cpu_ns",
        "nanoseconds per request read and per response written",
    ),
    (
        "request_cpu_ns_per_partition",
        "nanoseconds per partition a produce or fetch request names",
    ),
    ("request_cpu_bytes_per_sec", "bytes per second per thread"),
    ("disk_bytes_per_sec", "bytes per second"),
    ("producer_send_ns_per_record", "nanoseconds per record"),
    (
        "consumer_ns_per_fetch",
        "nanoseconds per fetch response a consumer parses",
    ),
    (
        "consumer_ns_per_record",
        "nanoseconds per record poll() returns",
    ),
    (
        "consumer_bytes_per_sec",
        "bytes per second a consumer's poll() gets through",
    ),
    (
        "controller_ns_per_election",
        "nanoseconds per partition leader the controller elects",
    ),
];

/// The largest number a field takes: a petabyte a second, or 1,000 s per item.
pub const MAX_FIELD: u64 = 1_000_000_000_000_000;

impl Hardware {
    /// No costs: the simulation before the cost model, and the default.
    pub fn ideal() -> Hardware {
        Hardware {
            profile: "ideal",
            broker_network_bytes_per_sec: 0,
            client_network_bytes_per_sec: 0,
            request_cpu_ns: 0,
            network_cpu_ns: 0,
            request_cpu_ns_per_partition: 0,
            request_cpu_bytes_per_sec: 0,
            disk_bytes_per_sec: 0,
            producer_send_ns_per_record: 0,
            consumer_ns_per_fetch: 0,
            consumer_ns_per_record: 0,
            consumer_bytes_per_sec: 0,
            controller_ns_per_election: 0,
        }
    }

    /// What a consumer pays in `poll()`.
    pub fn consumer_cost(&self) -> ConsumerCost {
        ConsumerCost {
            ns_per_fetch: self.consumer_ns_per_fetch,
            ns_per_record: self.consumer_ns_per_record,
            bytes_per_sec: self.consumer_bytes_per_sec,
        }
    }

    /// Whether anything costs time (the simulator skips the whole model otherwise).
    pub fn is_ideal(&self) -> bool {
        *self
            == Hardware {
                profile: self.profile,
                ..Hardware::ideal()
            }
    }

    /// A named profile.
    pub fn named(name: &str) -> Option<Hardware> {
        match name {
            "ideal" => Some(Hardware::ideal()),
            // Jay Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three
            // Cheap Machines)", 2014: six 2.5 GHz cores, six 7,200 rpm SATA drives, 32 GB of
            // RAM per machine. The post says 1 GbE, yet at RF 3 every broker takes in every
            // record: 193 MB/s with three producers, which 1 GbE (125 MB/s) cannot carry. The
            // numbers here (with 0.4 ms one way, set by `scenarios/perf/`) are what
            // reproduces the post's figures (`kplay bench-table`): the three producers' row
            // saturates the brokers' cards, the others a producer's send() (1 producer) or
            // one request per connection waiting for the followers (acks=all).
            "kreps-2014" => Some(Hardware {
                profile: "kreps-2014",
                broker_network_bytes_per_sec: 225_000_000,
                client_network_bytes_per_sec: 225_000_000,
                request_cpu_ns: 10_000,
                // Inside request_cpu_ns: the post gives no way to tell them apart.
                network_cpu_ns: 0,
                // Not calibrated: Kreps' setups name six partitions a request, and any cost here
                // moves the low-load latency off the post's 2 ms. A scenario sets it where the
                // partition count is the point (scenarios/perf/too-many-partitions.toml).
                request_cpu_ns_per_partition: 0,
                request_cpu_bytes_per_sec: 1_000_000_000,
                disk_bytes_per_sec: 1_000_000_000,
                producer_send_ns_per_record: 1_200,
                // The post's one consumer read 940,521 records/s (1.06 µs each, fetching
                // included); parsing a fetch costs about what handling a request does.
                consumer_ns_per_fetch: 10_000,
                consumer_ns_per_record: 1_000,
                consumer_bytes_per_sec: 1_000_000_000,
                // KRaft (what kplay models) writes a failover's elections as one batch of
                // metadata records: no cost a run could see. The ZooKeeper-era controller
                // took about 5 ms a partition (scenarios/perf/too-many-partitions-failover.toml).
                controller_ns_per_election: 0,
            }),
            // A current cloud instance: 10 Gb/s cards, NVMe, faster cores.
            "cloud-2024" => Some(Hardware {
                profile: "cloud-2024",
                broker_network_bytes_per_sec: 1_250_000_000,
                client_network_bytes_per_sec: 1_250_000_000,
                request_cpu_ns: 10_000,
                network_cpu_ns: 0,
                request_cpu_ns_per_partition: 0,
                request_cpu_bytes_per_sec: 1_000_000_000,
                disk_bytes_per_sec: 2_000_000_000,
                producer_send_ns_per_record: 600,
                consumer_ns_per_fetch: 10_000,
                consumer_ns_per_record: 500,
                consumer_bytes_per_sec: 2_000_000_000,
                controller_ns_per_election: 0,
            }),
            _ => None,
        }
    }

    /// Sets one field by its name (a scenario's override).
    pub fn set(&mut self, field: &str, value: u64) -> Result<(), String> {
        if value > MAX_FIELD {
            return Err(format!("must be at most {MAX_FIELD}, got {value}"));
        }
        let slot = match field {
            "broker_network_bytes_per_sec" => &mut self.broker_network_bytes_per_sec,
            "client_network_bytes_per_sec" => &mut self.client_network_bytes_per_sec,
            "request_cpu_ns" => &mut self.request_cpu_ns,
            "network_cpu_ns" => &mut self.network_cpu_ns,
            "request_cpu_ns_per_partition" => &mut self.request_cpu_ns_per_partition,
            "request_cpu_bytes_per_sec" => &mut self.request_cpu_bytes_per_sec,
            "disk_bytes_per_sec" => &mut self.disk_bytes_per_sec,
            "producer_send_ns_per_record" => &mut self.producer_send_ns_per_record,
            "consumer_ns_per_fetch" => &mut self.consumer_ns_per_fetch,
            "consumer_ns_per_record" => &mut self.consumer_ns_per_record,
            "consumer_bytes_per_sec" => &mut self.consumer_bytes_per_sec,
            "controller_ns_per_election" => &mut self.controller_ns_per_election,
            _ => {
                let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
                return Err(format!(
                    "unknown field, expected one of {}",
                    known.join(", ")
                ));
            }
        };
        *slot = value;
        Ok(())
    }

    /// Every field with its value, in `FIELDS` order (for writing a scenario back).
    pub fn fields(&self) -> [(&'static str, u64); 12] {
        [
            (
                "broker_network_bytes_per_sec",
                self.broker_network_bytes_per_sec,
            ),
            (
                "client_network_bytes_per_sec",
                self.client_network_bytes_per_sec,
            ),
            ("request_cpu_ns", self.request_cpu_ns),
            ("network_cpu_ns", self.network_cpu_ns),
            (
                "request_cpu_ns_per_partition",
                self.request_cpu_ns_per_partition,
            ),
            ("request_cpu_bytes_per_sec", self.request_cpu_bytes_per_sec),
            ("disk_bytes_per_sec", self.disk_bytes_per_sec),
            (
                "producer_send_ns_per_record",
                self.producer_send_ns_per_record,
            ),
            ("consumer_ns_per_fetch", self.consumer_ns_per_fetch),
            ("consumer_ns_per_record", self.consumer_ns_per_record),
            ("consumer_bytes_per_sec", self.consumer_bytes_per_sec),
            (
                "controller_ns_per_election",
                self.controller_ns_per_election,
            ),
        ]
    }
}

/// Nanoseconds to move `bytes` at `per_sec` bytes a second (0: free).
pub fn transfer_ns(bytes: u64, per_sec: u64) -> u64 {
    if per_sec == 0 {
        return 0;
    }
    ((u128::from(bytes) * 1_000_000_000).div_ceil(u128::from(per_sec))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_named_and_only_ideal_is_free() {
        for name in PROFILES {
            let hw = Hardware::named(name).expect("listed profiles exist");
            assert_eq!(hw.profile, *name);
            assert_eq!(hw.is_ideal(), *name == "ideal");
        }
        assert!(Hardware::named("fast").is_none());
    }

    #[test]
    fn a_field_is_set_by_name_and_a_wrong_one_is_named() {
        let mut hw = Hardware::ideal();
        hw.set("disk_bytes_per_sec", 5).expect("known");
        assert_eq!(hw.disk_bytes_per_sec, 5);
        assert!(!hw.is_ideal());
        let err = hw.set("disk", 5).expect_err("unknown");
        assert!(err.contains("disk_bytes_per_sec"), "{err}");
        assert!(hw.set("request_cpu_ns", u64::MAX).is_err());
        assert_eq!(hw.fields().len(), FIELDS.len());
    }

    #[test]
    fn transfers_round_up_to_the_nanosecond() {
        assert_eq!(transfer_ns(100, 0), 0);
        assert_eq!(transfer_ns(125, 125_000_000), 1_000);
        assert_eq!(transfer_ns(1, 3), 333_333_334);
    }
}
