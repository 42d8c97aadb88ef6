//! A plan: one seed's cluster, workload and faults, drawn at random (swarm testing, after
//! FoundationDB's simulation and TigerBeetle's VOPR). Each seed gets its own fault profile
//! (which kinds of fault, how many: calm, a few, or a storm) and its own timeouts, and fault
//! timing is drawn around the timeouts that matter (just before and after
//! `broker.session.timeout.ms`, `replica.lag.time.max.ms`, `session.timeout.ms`,
//! `request.timeout.ms`; a restart a few milliseconds after fencing; two faults at once).
//!
//! Every fault ends before the heal time; from then on the plan is healed and the run must
//! settle (the liveness phase).

use kplay_engine::config::ConfigValue::{self, Bool, Int, List, Str};
use kplay_engine::consumer::CommitStrategy;
use kplay_engine::producer::KeyMode;
use kplay_engine::rng::Prng;
use kplay_scenario::{Action, ConsumerDef, EventDef, ProducerDef, Scenario, TopicDef};

use kplay_engine::group::assignor::{
    COOPERATIVE_STICKY_CLASS, RANGE_CLASS, ROUND_ROBIN_CLASS, STICKY_CLASS,
};

/// The assignor lists members are drawn with (`partition.assignment.strategy`).
const STRATEGIES: &[&[&str]] = &[
    &[RANGE_CLASS],
    &[ROUND_ROBIN_CLASS],
    &[STICKY_CLASS],
    &[COOPERATIVE_STICKY_CLASS],
    &[RANGE_CLASS, COOPERATIVE_STICKY_CLASS],
    // Cooperative-sticky picked, but eager: range supports nothing else.
    &[COOPERATIVE_STICKY_CLASS, RANGE_CLASS],
];

/// One fault: what, and from when (virtual milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub at_ms: u64,
    pub kind: FaultKind,
}

/// The faults a plan may hold; each ends on its own (a restart, a heal) before the heal time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    CrashBroker {
        broker: u32,
        down_ms: u64,
    },
    IsolateBrokers {
        brokers: Vec<u32>,
        for_ms: u64,
    },
    SlowLink {
        broker: u32,
        peer: u32,
        extra_ms: u64,
        for_ms: u64,
    },
    PauseBroker {
        broker: u32,
        for_ms: u64,
    },
    CrashConsumer {
        consumer: String,
        down_ms: u64,
    },
    CloseConsumer {
        consumer: String,
        down_ms: u64,
    },
    SlowConsumer {
        consumer: String,
        per_record_us: u64,
        for_ms: u64,
        normal_us: u64,
    },
    CrashProcessor {
        processor: String,
        down_ms: u64,
    },
}

impl FaultKind {
    /// How long the fault lasts.
    fn lasts_ms(&self) -> u64 {
        match self {
            FaultKind::CrashBroker { down_ms, .. }
            | FaultKind::CrashConsumer { down_ms, .. }
            | FaultKind::CloseConsumer { down_ms, .. }
            | FaultKind::CrashProcessor { down_ms, .. } => *down_ms,
            FaultKind::IsolateBrokers { for_ms, .. }
            | FaultKind::SlowLink { for_ms, .. }
            | FaultKind::PauseBroker { for_ms, .. }
            | FaultKind::SlowConsumer { for_ms, .. } => *for_ms,
        }
    }

    /// The timeline events that make the fault happen and end.
    fn events(&self, at: u64) -> Vec<(u64, Action)> {
        let end = at + self.lasts_ms();
        match self.clone() {
            FaultKind::CrashBroker { broker, .. } => vec![
                (at, Action::CrashBroker { broker }),
                (end, Action::RestartBroker { broker }),
            ],
            FaultKind::IsolateBrokers { brokers, .. } => vec![
                (at, Action::PartitionNetwork { brokers }),
                (end, Action::HealNetwork),
            ],
            FaultKind::SlowLink {
                broker,
                peer,
                extra_ms,
                ..
            } => vec![
                (
                    at,
                    Action::SlowLink {
                        broker,
                        peer,
                        extra_ms,
                    },
                ),
                (
                    end,
                    Action::SlowLink {
                        broker,
                        peer,
                        extra_ms: 0,
                    },
                ),
            ],
            FaultKind::PauseBroker { broker, for_ms } => vec![(
                at,
                Action::PauseBroker {
                    broker,
                    duration_ms: for_ms,
                },
            )],
            FaultKind::CrashConsumer { consumer, .. } => {
                let crash = Action::CrashConsumer {
                    consumer: consumer.clone(),
                };
                vec![(at, crash), (end, Action::RestartConsumer { consumer })]
            }
            FaultKind::CloseConsumer { consumer, .. } => {
                let close = Action::StopConsumer {
                    consumer: consumer.clone(),
                };
                vec![(at, close), (end, Action::RestartConsumer { consumer })]
            }
            FaultKind::CrashProcessor { processor, .. } => {
                let crash = Action::CrashProcessor {
                    processor: processor.clone(),
                };
                vec![(at, crash), (end, Action::RestartProcessor { processor })]
            }
            FaultKind::SlowConsumer {
                consumer,
                per_record_us,
                normal_us,
                ..
            } => vec![
                (
                    at,
                    Action::SlowConsumer {
                        consumer: consumer.clone(),
                        processing_us_per_record: per_record_us,
                    },
                ),
                (
                    end,
                    Action::SlowConsumer {
                        consumer,
                        processing_us_per_record: normal_us,
                    },
                ),
            ],
        }
    }

    /// What the fault happens to: a broker or a consumer (two faults on one never overlap).
    fn target(&self) -> Target {
        match self {
            FaultKind::CrashBroker { broker, .. } | FaultKind::PauseBroker { broker, .. } => {
                Target::Broker(*broker)
            }
            FaultKind::CrashConsumer { consumer, .. }
            | FaultKind::CloseConsumer { consumer, .. }
            | FaultKind::SlowConsumer { consumer, .. } => Target::Consumer(consumer.clone()),
            FaultKind::CrashProcessor { processor, .. } => Target::Consumer(processor.clone()),
            FaultKind::IsolateBrokers { .. } => Target::Network,
            FaultKind::SlowLink { broker, peer, .. } => {
                Target::Link(*broker.min(peer), *broker.max(peer))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Broker(u32),
    Consumer(String),
    Network,
    Link(u32, u32),
}

/// The kinds of fault a profile may enable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Crash,
    Isolate,
    SlowLink,
    Pause,
    ConsumerCrash,
    ConsumerClose,
    ConsumerSlow,
    StaticRestart,
}

const KINDS: [Kind; 8] = [
    Kind::Crash,
    Kind::Isolate,
    Kind::SlowLink,
    Kind::Pause,
    Kind::ConsumerCrash,
    Kind::ConsumerClose,
    Kind::ConsumerSlow,
    Kind::StaticRestart,
];

/// A seed's fault profile: which kinds are enabled, and how many faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub kinds: Vec<Kind>,
    pub faults: u64,
}

impl Profile {
    /// A word for reports: calm, a few, or a storm.
    pub fn name(&self) -> &'static str {
        match self.faults {
            0 => "calm",
            1..=4 => "few",
            _ => "storm",
        }
    }
}

/// The timeouts fault timing is drawn around, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub broker_session: u64,
    pub broker_heartbeat: u64,
    pub replica_lag: u64,
    pub request: u64,
    pub delivery: u64,
    pub consumer_session: u64,
    pub max_poll_interval: u64,
}

/// One seed's whole run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    /// The cluster and the clients, without faults.
    pub base: Scenario,
    pub faults: Vec<Fault>,
    pub profile: Profile,
    pub timeouts: Timeouts,
    /// Every fault has ended by now; the liveness phase starts.
    pub heal_ms: u64,
    pub end_ms: u64,
    /// Readers that commit after processing, so they must read every acknowledged record
    /// of their topics.
    pub at_least_once: Vec<Reader>,
}

/// A consumer group (`group:ID`) or a standalone consumer (`consumer:ID`), as the ledger names
/// them, and the topics it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub audience: String,
    pub topics: Vec<String>,
}

impl Plan {
    /// The plan as a scenario file: its faults on the timeline, producers stopped and the
    /// network healed at the heal time.
    pub fn scenario(&self) -> Scenario {
        let mut s = self.base.clone();
        s.seed = self.seed;
        s.duration_ms = self.end_ms;
        let mut events: Vec<(u64, Action)> = self
            .faults
            .iter()
            .flat_map(|f| f.kind.events(f.at_ms))
            .collect();
        events.push((self.heal_ms, Action::HealNetwork));
        for p in &self.base.producers {
            let producer = p.id.clone();
            events.push((self.heal_ms, Action::StopProducer { producer }));
        }
        // Stable: at equal times, a fault's end comes before another's start.
        events.sort_by_key(|(at, _)| *at);
        s.events = events
            .into_iter()
            .map(|(at_ms, action)| EventDef {
                at_ms,
                action,
                line: 0,
            })
            .collect();
        s
    }

    /// The same plan without fault `i` (for shrinking).
    pub fn without(&self, i: usize) -> Plan {
        let mut plan = self.clone();
        plan.faults.remove(i);
        plan
    }
}

/// Draws a seed's plan. The same seed always gives the same plan.
pub fn generate(seed: u64) -> Plan {
    let mut rng = Prng::new(seed ^ 0x7377_6172_6d21);
    let mut g = Generator {
        rng: &mut rng,
        seed,
    };
    g.plan()
}

struct Generator<'a> {
    rng: &'a mut Prng,
    seed: u64,
}

/// What the generator knows of the cluster while it places faults.
struct Layout {
    brokers: u32,
    consumers: Vec<ConsumerInfo>,
}

struct ConsumerInfo {
    id: String,
    start_ms: u64,
    static_member: bool,
    processing_us: u64,
    max_poll_records: u64,
}

/// How long a coordinator may take to abort a transaction left open: the longest
/// `transaction.timeout.ms` of the transactional producers, plus the coordinator's check
/// interval (`transaction.abort.timed.out.transaction.cleanup.interval.ms`, 10 s).
fn transaction_abort_ms(s: &Scenario) -> u64 {
    let timeout = |p: &ProducerDef| {
        let set = p.config.iter().find(|(k, _)| k == "transaction.timeout.ms");
        match set {
            Some((_, Int(ms))) => *ms as u64,
            _ => 60_000,
        }
    };
    let transactional = |p: &&ProducerDef| p.config.iter().any(|(k, _)| k == "transactional.id");
    let longest = s.producers.iter().filter(transactional).map(timeout).max();
    longest.map_or(0, |ms| ms + 10_000)
}

impl Generator<'_> {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n.max(1))
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.chance(percent, 100)
    }

    fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn plan(&mut self) -> Plan {
        let brokers = 3 + self.below(3) as u32;
        let mut s = Scenario::empty(brokers);
        s.seed = self.seed;
        let timeouts = self.cluster(&mut s);
        let topics = self.topics(&mut s);
        let (producer_timeouts, total_rate) = self.producers(&mut s, &topics);
        let (consumers, consumer_timeouts, mut at_least_once) =
            self.consumers(&mut s, &topics, total_rate);
        let timeouts = Timeouts {
            request: producer_timeouts.0,
            delivery: producer_timeouts.1,
            consumer_session: consumer_timeouts.0,
            max_poll_interval: consumer_timeouts.1,
            ..timeouts
        };
        let heal_ms = 15_000 + self.below(45_001);
        let layout = Layout { brokers, consumers };
        let profile = self.profile(&layout);
        let mut faults = self.faults(&profile, &layout, &timeouts, heal_ms);
        let failures_settle = self.maybe_failed_records(&mut s, &mut at_least_once);
        let processor_settle = self
            .maybe_processor(&mut s, &topics, total_rate, &profile, heal_ms)
            .map_or(0, |(reader, settle, crashes)| {
                at_least_once.push(reader);
                faults.extend(crashes);
                faults.sort_by_key(|f| f.at_ms);
                settle
            });
        // A poll taken while a consumer was slow is processed at that speed to its end; the
        // backlog built meanwhile drains at least as fast as it grew (consumers have twice
        // the producers' rate at least).
        let slow_ms = faults
            .iter()
            .filter_map(|f| match &f.kind {
                FaultKind::SlowConsumer {
                    consumer,
                    per_record_us,
                    for_ms,
                    ..
                } => {
                    let c = layout.consumers.iter().find(|c| c.id == *consumer)?;
                    Some(2 * (per_record_us * c.max_poll_records / 1_000 + for_ms))
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        // Long enough after the heal for a retried batch to time out, a dead member's session
        // to expire, a rebalance to finish, and a transaction left open (its producer fenced
        // mid-transaction) to be aborted by its coordinator.
        let settle = (timeouts.delivery + timeouts.request)
            .max(transaction_abort_ms(&s))
            .max(2 * timeouts.consumer_session + 3_000)
            .max(timeouts.max_poll_interval.min(60_000))
            .max(timeouts.broker_session)
            .max(slow_ms)
            .max(processor_settle.max(failures_settle))
            + 20_000;
        Plan {
            seed: self.seed,
            base: s,
            faults,
            profile,
            timeouts,
            heal_ms,
            end_ms: heal_ms + settle,
            at_least_once,
        }
    }

    /// Broker settings: often Kafka's defaults, often shorter, so faults meet the timeouts.
    fn cluster(&mut self, s: &mut Scenario) -> Timeouts {
        let brokers = s.cluster.brokers;
        let broker_session = if self.chance(50) {
            9_000
        } else {
            2_000 + self.below(7_001)
        };
        let broker_heartbeat = if broker_session >= 6_000 {
            2_000
        } else {
            (broker_session / 3).max(500)
        };
        let replica_lag = if self.chance(40) {
            30_000
        } else {
            2_000 + self.below(18_001)
        };
        let offsets_partitions = if self.chance(15) {
            50
        } else {
            1 + self.below(10)
        };
        let mut config = vec![
            cfg("broker.session.timeout.ms", Int(broker_session as i64)),
            cfg("broker.heartbeat.interval.ms", Int(broker_heartbeat as i64)),
            cfg("replica.lag.time.max.ms", Int(replica_lag as i64)),
            cfg(
                "offsets.topic.num.partitions",
                Int(offsets_partitions as i64),
            ),
            cfg(
                "offsets.topic.replication.factor",
                Int(i64::from(brokers.min(3))),
            ),
            cfg(
                "transaction.state.log.num.partitions",
                Int(offsets_partitions as i64),
            ),
        ];
        if self.chance(50) {
            let delay = self.below(3_001) as i64;
            config.push(cfg("group.initial.rebalance.delay.ms", Int(delay)));
        }
        s.cluster.config = config;
        self.maybe_hardware(s);
        Timeouts {
            broker_session,
            broker_heartbeat,
            replica_lag,
            request: 30_000,
            delivery: 120_000,
            consumer_session: 45_000,
            max_poll_interval: 300_000,
        }
    }

    /// One or two topics at RF 2 or 3 with `min.insync.replicas` 2: the settings under which
    /// Kafka promises no acknowledged record is lost.
    fn topics(&mut self, s: &mut Scenario) -> Vec<String> {
        let count = 1 + self.below(2);
        let mut names = Vec::new();
        for i in 0..count {
            let name = format!("t{i}");
            let rf = if s.cluster.brokers >= 3 && self.chance(70) {
                3
            } else {
                2
            };
            s.topics.push(TopicDef {
                name: name.clone(),
                partitions: 1 + self.below(6) as u32,
                replication_factor: rf,
                config: vec![cfg("min.insync.replicas", Int(2))],
                start_ms: 0,
                line: 0,
            });
            names.push(name);
        }
        names
    }

    /// One or two producers with acks=all, mostly idempotent. Returns the longest request and
    /// delivery timeouts, and the total rate.
    fn producers(&mut self, s: &mut Scenario, topics: &[String]) -> ((u64, u64), u64) {
        let count = 1 + self.below(2);
        let (mut request_max, mut delivery_max, mut total_rate) = (0, 0, 0);
        for i in 0..count {
            let topic = self.pick(topics).clone();
            let rate = 50 + self.below(451);
            total_rate += rate;
            let linger = self.below(21);
            let request = if self.chance(50) {
                30_000
            } else {
                1_500 + self.below(8_501)
            };
            // Kafka requires delivery.timeout.ms >= linger.ms + request.timeout.ms.
            let delivery = if request == 30_000 && self.chance(50) {
                120_000
            } else {
                linger + request + self.below(20_001)
            };
            request_max = request_max.max(request);
            delivery_max = delivery_max.max(delivery);
            let mut config = vec![
                cfg("acks", Str("all".into())),
                cfg("linger.ms", Int(linger as i64)),
                cfg("request.timeout.ms", Int(request as i64)),
                cfg("delivery.timeout.ms", Int(delivery as i64)),
                cfg(
                    "max.in.flight.requests.per.connection",
                    Int(1 + self.below(5) as i64),
                ),
            ];
            let mut per_txn = 0;
            let mut abort_ppm = 0;
            if self.chance(20) {
                config.push(cfg("enable.idempotence", Bool(false)));
            } else if self.chance(30) {
                // Transactional: commits every few records, sometimes aborts; a timeout near
                // the faults' durations, or Kafka's minute.
                config.push(cfg("transactional.id", Str(format!("tx-{i}"))));
                if self.chance(50) {
                    let timeout = 3_000 + self.below(20_001) as i64;
                    config.push(cfg("transaction.timeout.ms", Int(timeout)));
                }
                per_txn = 1 + self.below(200);
                abort_ppm = if self.chance(50) { 100_000 } else { 0 };
            }
            let keys = match self.below(3) {
                0 => KeyMode::Null,
                1 => KeyMode::Pool(1 + self.below(50) as u32),
                _ => KeyMode::Unique,
            };
            s.producers.push(ProducerDef {
                id: format!("p{i}"),
                topic,
                rate_per_sec: rate,
                records: None,
                keys,
                value_bytes: 20 + self.below(181) as u32,
                values: Default::default(),
                records_per_transaction: per_txn.max(1),
                abort_ppm,
                start_ms: 0,
                config,
                line: 0,
            });
        }
        self.maybe_compression(s);
        ((request_max, delivery_max), total_rate)
    }

    /// A standalone consumer of every topic, from the earliest offset, sometimes
    /// read_committed.
    fn solo(
        &mut self,
        s: &mut Scenario,
        topics: &[String],
        max_processing_us: u64,
    ) -> ConsumerInfo {
        let processing = self.below(max_processing_us);
        let mut config = vec![cfg("auto.offset.reset", Str("earliest".into()))];
        if self.chance(40) {
            config.push(cfg("isolation.level", Str("read_committed".into())));
        }
        s.consumers.push(ConsumerDef {
            id: "solo".into(),
            topics: topics.to_vec(),
            processing_us_per_record: processing,
            commit: CommitStrategy::Auto,
            failures: Default::default(),
            start_ms: 0,
            config,
            line: 0,
        });
        ConsumerInfo {
            id: "solo".into(),
            start_ms: 0,
            static_member: false,
            processing_us: processing,
            max_poll_records: 500,
        }
    }

    /// Maybe a standalone consumer, maybe a group of one to four members (some static), all
    /// fast enough to keep up. Returns what the fault generator needs, the longest session
    /// and poll timeouts, and the audiences that must read every acknowledged record.
    fn consumers(
        &mut self,
        s: &mut Scenario,
        topics: &[String],
        total_rate: u64,
    ) -> (Vec<ConsumerInfo>, (u64, u64), Vec<Reader>) {
        // Half of one consumer's capacity at most, whatever partitions it gets.
        let max_processing_us = 500_000 / total_rate.max(1);
        let mut infos = Vec::new();
        let mut at_least_once = Vec::new();
        let (mut session_max, mut poll_max) = (0, 0);
        if self.chance(50) {
            infos.push(self.solo(s, topics, max_processing_us));
            at_least_once.push(Reader {
                audience: "consumer:solo".into(),
                topics: topics.to_vec(),
            });
        }
        let members = if infos.is_empty() || self.chance(70) {
            1 + self.below(4)
        } else {
            0
        };
        if members == 0 {
            return (infos, (session_max, poll_max), at_least_once);
        }
        let strategy = self.pick(STRATEGIES).to_vec();
        let subscribed: Vec<String> = if topics.len() > 1 && self.chance(30) {
            vec![self.pick(topics).clone()]
        } else {
            topics.to_vec()
        };
        let session = if self.chance(30) {
            45_000
        } else {
            6_000 + self.below(14_001)
        };
        // A rebalance waits max.poll.interval.ms for members, who hear of it at their next
        // heartbeat: shorter than a heartbeat interval, members are removed in turn for ever,
        // in Kafka too. So at least the session timeout (three heartbeats).
        let poll_interval = if self.chance(60) {
            300_000
        } else {
            session + self.below(16_001)
        };
        session_max = session_max.max(session);
        poll_max = poll_max.max(poll_interval);
        let mut every_member_after = true;
        // The group reads committed transactions only, or everything.
        let read_committed = self.chance(40);
        for i in 0..members {
            let id = format!("g{i}");
            let commit = match self.below(10) {
                0 => CommitStrategy::BeforeProcessing { sync: true },
                1..=3 => CommitStrategy::Auto,
                4..=6 => CommitStrategy::AfterProcessing { sync: true },
                _ => CommitStrategy::AfterProcessing { sync: false },
            };
            every_member_after &= !matches!(commit, CommitStrategy::BeforeProcessing { .. });
            let static_member = self.chance(30);
            let max_poll_records = [10, 100, 500][self.below(3) as usize];
            let mut config = vec![
                cfg("group.id", Str("g".into())),
                cfg("auto.offset.reset", Str("earliest".into())),
                cfg("session.timeout.ms", Int(session as i64)),
                cfg("heartbeat.interval.ms", Int((session / 3) as i64)),
                cfg("max.poll.interval.ms", Int(poll_interval as i64)),
                cfg("max.poll.records", Int(max_poll_records)),
                cfg(
                    "partition.assignment.strategy",
                    List(strategy.iter().map(|s| s.to_string()).collect()),
                ),
                cfg("enable.auto.commit", Bool(commit == CommitStrategy::Auto)),
            ];
            if static_member {
                config.push(cfg("group.instance.id", Str(format!("{id}-host"))));
            }
            if read_committed {
                config.push(cfg("isolation.level", Str("read_committed".into())));
            }
            let processing = self.below(max_processing_us);
            let start_ms = if i > 0 && self.chance(30) {
                self.below(10_000)
            } else {
                0
            };
            s.consumers.push(ConsumerDef {
                id: id.clone(),
                topics: subscribed.clone(),
                processing_us_per_record: processing,
                commit,
                failures: Default::default(),
                start_ms,
                config,
                line: 0,
            });
            infos.push(ConsumerInfo {
                id,
                start_ms,
                static_member,
                processing_us: processing,
                max_poll_records: max_poll_records as u64,
            });
        }
        if every_member_after {
            at_least_once.push(Reader {
                audience: "group:g".into(),
                topics: subscribed,
            });
        }
        (infos, (session_max, poll_max), at_least_once)
    }

    /// Four seeds in ten run on a hardware profile (`kreps-2014` or `cloud-2024`), half of
    /// them with slower machines (cards down to 5 MB/s, up to 200 µs of CPU per request, one
    /// to eight handler threads, one to three network threads stopping at a request queue of
    /// 1 to 20, consumers paying up to 100 µs a fetch and 20 µs a record, a controller taking
    /// up to 5 ms an election), so requests queue on cards and threads and produce
    /// connections hold their requests one at a time while faults strike. Drawn from a stream
    /// of its own, so that the rest of each seed's plan stays what it was.
    fn maybe_hardware(&self, s: &mut Scenario) {
        use kplay_engine::config::ConfigValue;
        use kplay_engine::hardware::Hardware;
        let mut prng = Prng::new(self.seed ^ 0x6861_7264_7761_7265);
        let mut h = Generator {
            rng: &mut prng,
            seed: self.seed,
        };
        if !h.chance(40) {
            return;
        }
        let name = *h.pick(&["kreps-2014", "cloud-2024"]);
        let mut hw = Hardware::named(name).expect("a listed profile");
        if h.chance(50) {
            let card = 5_000_000 + h.below(95_000_001);
            hw.broker_network_bytes_per_sec = card;
            hw.client_network_bytes_per_sec = card;
            hw.request_cpu_ns = 1_000 + h.below(199_001);
            let threads = 1 + h.below(8) as i64;
            s.cluster
                .config
                .push(("num.io.threads".into(), ConfigValue::Int(threads)));
            hw.request_cpu_ns_per_partition = h.below(20_001);
            // Network threads that cost time, a request queue that fills (stopping them),
            // consumers paying for their polls, a controller slow to elect.
            let network = 1 + h.below(3) as i64;
            let queued = 1 + h.below(20) as i64;
            let config = &mut s.cluster.config;
            config.push(("num.network.threads".into(), ConfigValue::Int(network)));
            config.push(("queued.max.requests".into(), ConfigValue::Int(queued)));
            hw.network_cpu_ns = h.below(100_001);
            hw.consumer_ns_per_fetch = h.below(100_001);
            hw.consumer_ns_per_record = h.below(20_001);
            hw.controller_ns_per_election = h.below(5_000_001);
        }
        s.cluster.hardware = hw;
    }

    /// Four seeds in ten compress: each producer picks a codec and its values (JSON, or random
    /// bytes that do not shrink), and some topics recompress to a codec of their own, so
    /// batches change size between the producer, the request and the log while faults strike.
    /// Drawn from a stream of its own, so that the rest of each seed's plan stays what it was.
    fn maybe_compression(&self, s: &mut Scenario) {
        use kplay_engine::compression::{Values, CODECS};
        use kplay_engine::config::ConfigValue;
        let mut prng = Prng::new(self.seed ^ 0x636f_6d70_7265_7373);
        let mut h = Generator {
            rng: &mut prng,
            seed: self.seed,
        };
        if !h.chance(40) {
            return;
        }
        for p in &mut s.producers {
            let (codec, _) = *h.pick(&CODECS);
            p.config
                .push(("compression.type".into(), ConfigValue::Str(codec.into())));
            p.values = *h.pick(&[Values::Json, Values::Random]);
        }
        for t in &mut s.topics {
            if h.chance(25) {
                let codec = *h.pick(&["uncompressed", "gzip", "snappy", "lz4", "zstd"]);
                t.config
                    .push(("compression.type".into(), ConfigValue::Str(codec.into())));
            }
        }
    }

    /// Three seeds in ten make group `g` handle failing records (`on_failure`): retry topics
    /// (1 to 5 attempts in a hundred failing, backoffs up to 3 s, some with a poison key), or
    /// blocking retries then the dead letter topic, or skipping (1 to 5 in a thousand, backoffs
    /// up to 20 ms). Drawn from a stream of its own, so that the
    /// rest of each seed's plan stays what it was. The group then reads its retry topics too,
    /// and must read every copy in them. Returns how long the run needs to settle: the longest
    /// chain of retries, and the default `delivery.timeout.ms` of the producers publishing the
    /// copies (they take Kafka's defaults).
    fn maybe_failed_records(&self, s: &mut Scenario, at_least_once: &mut [Reader]) -> u64 {
        use kplay_engine::consumer::failure::{FailurePolicy, OnFailure};
        use kplay_engine::Duration;
        let mut prng = Prng::new(self.seed ^ 0x6661_696c_6564_7265);
        let mut f = Generator {
            rng: &mut prng,
            seed: self.seed,
        };
        let members = s.consumers.iter().filter(|c| c.id.starts_with('g')).count();
        if members == 0 || !f.chance(30) {
            return 0;
        }
        let commits_after = s
            .consumers
            .iter()
            .filter(|c| c.id.starts_with('g'))
            .all(|c| !matches!(c.commit, CommitStrategy::BeforeProcessing { .. }));
        let on_failure = match f.below(10) {
            _ if !commits_after => OnFailure::Skip,
            0..=5 => OnFailure::RetryTopics,
            6..=8 => OnFailure::DeadLetter,
            _ => OnFailure::Skip,
        };
        // Blocking retries hold the consumer through each backoff: rare failures and short
        // backoffs, or the group falls behind its producers for good (seed 903967: 3% of
        // attempts failing, 100 ms each, left a group able to read 270 records/s of 389).
        let (max_backoff, failure_ppm) = match on_failure {
            OnFailure::RetryTopics => (3_000, 10_000 + f.below(40_001) as u32),
            _ => (20, 1_000 + f.below(4_001) as u32),
        };
        let attempts = 1 + f.below(4) as u32;
        let backoff: Vec<Duration> = (0..1 + f.below(3))
            .map(|_| Duration(f.below(max_backoff + 1) * 1_000))
            .collect();
        let poison_keys = if on_failure == OnFailure::RetryTopics && f.chance(40) {
            vec![kplay_engine::record::Bytes::from(&b"key-1"[..])]
        } else {
            Vec::new()
        };
        let policy = FailurePolicy {
            failure_ppm,
            on_failure,
            attempts,
            backoff,
            poison_keys,
        };
        let mut retry_topics = Vec::new();
        for c in s.consumers.iter_mut().filter(|c| c.id.starts_with('g')) {
            c.failures = policy.clone();
            retry_topics = c
                .topics
                .iter()
                .flat_map(|t| policy.retry_topics(t))
                .collect();
        }
        if let Some(r) = at_least_once.iter_mut().find(|r| r.audience == "group:g") {
            r.topics.extend(retry_topics);
        }
        let chain: u64 = (0..attempts).map(|i| policy.backoff(i).as_millis()).sum();
        match on_failure {
            OnFailure::Skip => chain,
            _ => chain + 150_000,
        }
    }

    /// Three seeds in ten have a processor, drawn from a stream of its own so that the rest
    /// of each seed's plan stays what it was before processors came.
    fn maybe_processor(
        &self,
        s: &mut Scenario,
        topics: &[String],
        total_rate: u64,
        profile: &Profile,
        heal_ms: u64,
    ) -> Option<(Reader, u64, Vec<Fault>)> {
        let mut prng = Prng::new(self.seed ^ 0x7072_6f63_6573_736f);
        let mut p = Generator {
            rng: &mut prng,
            seed: self.seed,
        };
        p.chance(30)
            .then(|| p.processor(s, topics, total_rate, profile, heal_ms))
    }

    /// A consume-transform-produce processor of every topic into `out`, exactly-once or
    /// at-least-once, fast enough to keep up; with the profile's faults, crashes of it around
    /// its session timeout. Returns it as an at-least-once reader of its inputs, how long a
    /// crashed instance may take to be replaced (its old member's session; its transaction's
    /// timeout), and its crashes.
    fn processor(
        &mut self,
        s: &mut Scenario,
        topics: &[String],
        total_rate: u64,
        profile: &Profile,
        heal_ms: u64,
    ) -> (Reader, u64, Vec<Fault>) {
        use kplay_engine::processor::{Guarantee, Transform};
        let rf = 2 + u32::from(s.cluster.brokers >= 3 && self.chance(70));
        s.topics.push(TopicDef {
            name: "out".into(),
            partitions: 1 + self.below(6) as u32,
            replication_factor: rf,
            config: vec![cfg("min.insync.replicas", Int(2))],
            start_ms: 0,
            line: 0,
        });
        let guarantee = if self.chance(60) {
            Guarantee::ExactlyOnce
        } else {
            Guarantee::AtLeastOnce
        };
        let session = 6_000 + self.below(14_001);
        // A poll is a transaction: ten records a poll would cap it near 300 records a second
        // (a commit's round trips), below what the producers may write.
        let max_poll_records = [100, 500][self.below(2) as usize];
        let consumer_config = vec![
            cfg("auto.offset.reset", Str("earliest".into())),
            cfg("session.timeout.ms", Int(session as i64)),
            cfg("heartbeat.interval.ms", Int((session / 3) as i64)),
            cfg("max.poll.records", Int(max_poll_records)),
        ];
        let linger = self.below(21);
        let mut producer_config = vec![cfg("linger.ms", Int(linger as i64))];
        let mut txn_timeout = 60_000;
        if guarantee == Guarantee::ExactlyOnce && self.chance(50) {
            txn_timeout = 3_000 + self.below(20_001);
            producer_config.push(cfg("transaction.timeout.ms", Int(txn_timeout as i64)));
        }
        s.processors.push(kplay_scenario::ProcessorDef {
            id: "proc".into(),
            inputs: topics.to_vec(),
            output: "out".into(),
            group: "proc".into(),
            transform: if self.chance(50) {
                Transform::Uppercase
            } else {
                Transform::Copy
            },
            guarantee,
            processing_us_per_record: self.below(500_000 / total_rate.max(1)),
            failures: Default::default(),
            start_ms: 0,
            consumer_config,
            producer_config,
            line: 0,
        });
        let crashes = self.processor_crashes(profile, session, heal_ms);
        let reader = Reader {
            audience: "group:proc".into(),
            topics: topics.to_vec(),
        };
        // A crashed instance's member holds the group's rebalance until its session ends; its
        // open transaction ends when the next instance starts, or after its timeout.
        let settle = (2 * session + 3_000).max(txn_timeout + 10_000);
        (reader, settle, crashes)
    }

    /// With the profile's faults, up to three crashes of the processor, none overlapping,
    /// some around its session timeout.
    fn processor_crashes(&mut self, profile: &Profile, session: u64, heal_ms: u64) -> Vec<Fault> {
        let mut crashes = Vec::new();
        let count = if profile.faults == 0 {
            0
        } else {
            self.below(4)
        };
        for _ in 0..count {
            let at = 1_000 + self.below(heal_ms.saturating_sub(2_000));
            let down_ms = match self.below(3) {
                0 => self.around(session),
                1 => 1 + self.below(500),
                _ => 100 + self.below(20_000),
            };
            let overlaps = |f: &Fault| f.at_ms <= at + down_ms && at <= f.at_ms + f.kind.lasts_ms();
            if at + down_ms < heal_ms && !crashes.iter().any(overlaps) {
                let processor = "proc".to_string();
                let kind = FaultKind::CrashProcessor { processor, down_ms };
                crashes.push(Fault { at_ms: at, kind });
            }
        }
        crashes
    }

    /// Which kinds of fault this seed has, and how many faults: some seeds are calm, some
    /// are storms.
    fn profile(&mut self, layout: &Layout) -> Profile {
        let faults = match self.below(10) {
            0 => 0,
            1..=5 => 1 + self.below(4),
            _ => 5 + self.below(11),
        };
        let mut kinds: Vec<Kind> = KINDS
            .iter()
            .copied()
            .filter(|k| match k {
                Kind::ConsumerCrash | Kind::ConsumerClose | Kind::ConsumerSlow => {
                    !layout.consumers.is_empty()
                }
                Kind::StaticRestart => layout.consumers.iter().any(|c| c.static_member),
                _ => true,
            })
            .collect();
        // A random non-empty subset.
        let keep: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|_| self.rng.chance(1, 2))
            .collect();
        if !keep.is_empty() {
            kinds = keep;
        } else {
            let k = *self.pick(&kinds);
            kinds = vec![k];
        }
        Profile { kinds, faults }
    }

    fn faults(
        &mut self,
        profile: &Profile,
        layout: &Layout,
        timeouts: &Timeouts,
        heal_ms: u64,
    ) -> Vec<Fault> {
        let mut starts: Vec<u64> = Vec::new();
        for _ in 0..profile.faults {
            // Sometimes two faults at the same instant.
            let at = match starts.last() {
                Some(&last) if self.chance(15) => last,
                _ => 1_000 + self.below(heal_ms - 2_000),
            };
            starts.push(at);
        }
        starts.sort_unstable();
        let mut faults: Vec<Fault> = Vec::new();
        // Per broker, when it last (re)started: its heartbeats are timed from then.
        let mut started = vec![0u64; layout.brokers as usize];
        for at in starts {
            for _attempt in 0..4 {
                let kind = *self.pick(&profile.kinds);
                let Some(fault) = self.fault(kind, at, layout, timeouts, &started) else {
                    continue;
                };
                let end = at + fault.lasts_ms();
                let overlaps = faults.iter().any(|f| {
                    f.kind.target() == fault.target()
                        && f.at_ms <= end
                        && at <= f.at_ms + f.kind.lasts_ms()
                });
                if end >= heal_ms || overlaps {
                    continue;
                }
                if let FaultKind::CrashBroker { broker, .. } = fault {
                    started[broker as usize] = end;
                }
                faults.push(Fault {
                    at_ms: at,
                    kind: fault,
                });
                break;
            }
        }
        faults
    }

    fn fault(
        &mut self,
        kind: Kind,
        at: u64,
        layout: &Layout,
        t: &Timeouts,
        started: &[u64],
    ) -> Option<FaultKind> {
        let broker = self.below(u64::from(layout.brokers)) as u32;
        // The instant the controller fences a broker that goes silent now (its heartbeats
        // are timed from its start; the controller checks every heartbeat interval).
        let fenced_after = fence_delay(
            at,
            started[broker as usize],
            t.broker_heartbeat,
            t.broker_session,
        );
        let fault = match kind {
            Kind::Crash => {
                let down_ms = match self.below(4) {
                    // A restart a few milliseconds after fencing, or just before it.
                    0 => fenced_after + 1 + self.below(5),
                    1 => fenced_after.saturating_sub(1 + self.below(5)).max(1),
                    2 => self.around(t.replica_lag),
                    _ => 100 + self.below(3 * t.broker_session),
                };
                FaultKind::CrashBroker { broker, down_ms }
            }
            Kind::Pause => {
                let for_ms = match self.below(5) {
                    0 => fenced_after + 1 + self.below(5),
                    1 => self.around(t.broker_session),
                    2 => self.around(t.replica_lag),
                    3 => self.around(t.request),
                    _ => 50 + self.below(15_000),
                };
                FaultKind::PauseBroker { broker, for_ms }
            }
            Kind::Isolate => {
                let mut brokers = vec![broker];
                if layout.brokers >= 5 && self.chance(30) {
                    brokers.push((broker + 1 + self.below(4) as u32) % layout.brokers);
                    brokers.sort_unstable();
                    brokers.dedup();
                }
                let for_ms = match self.below(4) {
                    0 => fenced_after + 1 + self.below(5),
                    1 => self.around(t.replica_lag),
                    2 => self.around(t.request),
                    _ => 100 + self.below(20_000),
                };
                FaultKind::IsolateBrokers { brokers, for_ms }
            }
            Kind::SlowLink => {
                let peer = (broker + 1 + self.below(u64::from(layout.brokers - 1)) as u32)
                    % layout.brokers;
                let extra_ms = match self.below(3) {
                    0 => self.around(500), // replica.fetch.wait.max.ms
                    1 => 10 + self.below(200),
                    _ => self.around(t.request / 2),
                };
                let for_ms = 500 + self.below(t.replica_lag + 5_000);
                FaultKind::SlowLink {
                    broker,
                    peer,
                    extra_ms: extra_ms.min(600_000),
                    for_ms,
                }
            }
            Kind::ConsumerCrash | Kind::ConsumerClose | Kind::StaticRestart => {
                let candidates: Vec<&ConsumerInfo> = layout
                    .consumers
                    .iter()
                    .filter(|c| c.start_ms < at)
                    .filter(|c| kind != Kind::StaticRestart || c.static_member)
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                let consumer = self.pick(&candidates).id.clone();
                let down_ms = match (kind, self.below(3)) {
                    // A static member back just before its session expires (no rebalance),
                    // or just after (it was removed).
                    (Kind::StaticRestart, 0) => {
                        t.consumer_session.saturating_sub(1 + self.below(50))
                    }
                    (Kind::StaticRestart, 1) => t.consumer_session + 1 + self.below(50),
                    (Kind::StaticRestart, _) => 100 + self.below(t.consumer_session),
                    (_, 0) => self.around(t.consumer_session),
                    _ => 100 + self.below(20_000),
                };
                match kind {
                    Kind::ConsumerClose => FaultKind::CloseConsumer { consumer, down_ms },
                    _ => FaultKind::CrashConsumer { consumer, down_ms },
                }
            }
            Kind::ConsumerSlow => {
                let started: Vec<&ConsumerInfo> = layout
                    .consumers
                    .iter()
                    .filter(|c| c.start_ms < at)
                    .collect();
                if started.is_empty() {
                    return None;
                }
                let c = *self.pick(&started);
                // One poll's records take about max.poll.interval.ms: kicked out, or just not.
                let batch = c.max_poll_records.max(1);
                let per_record_us = match self.below(2) {
                    0 => self.around(t.max_poll_interval.min(60_000)) * 1_000 / batch,
                    _ => 2_000 + self.below(50_000),
                };
                FaultKind::SlowConsumer {
                    consumer: c.id.clone(),
                    per_record_us: per_record_us.max(1),
                    for_ms: 1_000 + self.below(20_000),
                    normal_us: c.processing_us,
                }
            }
        };
        Some(fault)
    }

    /// A duration near `center` ms: just below, just above, within a few ms, or anywhere up
    /// to twice it.
    fn around(&mut self, center: u64) -> u64 {
        let d = match self.below(4) {
            0 => center.saturating_sub(1 + self.below(50)),
            1 => center + 1 + self.below(50),
            2 => (center + self.below(7)).saturating_sub(3),
            _ => center / 4 + self.below(2 * center),
        };
        d.max(1)
    }
}

/// How long after `at` the controller fences a broker that stops heartbeating at `at`: its
/// heartbeats go out at `started + k × heartbeat` (one due exactly at `at` is not sent, since
/// commands run first at their instant) and reach the controller half a millisecond later; the
/// controller checks at every multiple of the heartbeat interval and fences when more than
/// `session` has passed since the last one arrived.
pub fn fence_delay(at: u64, started: u64, heartbeat: u64, session: u64) -> u64 {
    let last_sent = if at > started {
        started + (at - started - 1) / heartbeat * heartbeat
    } else {
        started
    };
    let check = ((last_sent + session) / heartbeat + 1) * heartbeat;
    check.saturating_sub(at)
}

fn cfg(key: &str, value: ConfigValue) -> (String, ConfigValue) {
    (key.to_string(), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_reproducible_and_build() {
        for seed in 1..=200 {
            let plan = generate(seed);
            assert_eq!(plan, generate(seed), "seed {seed}");
            let scenario = plan.scenario();
            if let Err(e) = scenario.build(None) {
                panic!("seed {seed} does not build: {e}\n{}", scenario.to_toml());
            }
            let last_end = plan
                .faults
                .iter()
                .map(|f| f.at_ms + f.kind.lasts_ms())
                .max();
            assert!(last_end.is_none_or(|end| end < plan.heal_ms), "seed {seed}");
        }
    }

    #[test]
    fn profiles_range_from_calm_to_storms() {
        let names: Vec<&str> = (1..=200).map(|s| generate(s).profile.name()).collect();
        for name in ["calm", "few", "storm"] {
            assert!(names.contains(&name), "no {name} profile in 200 seeds");
        }
    }

    #[test]
    fn fencing_is_predicted_to_the_heartbeat() {
        // Heartbeats at 0, 2, 4, 6, 8 s; a crash at 10 s (the 10 s beat is not sent): the last
        // arrives at 8.0005 s, and the 18 s check is the first more than 9 s later.
        assert_eq!(fence_delay(10_000, 0, 2_000, 9_000), 8_000);
        // A crash at 9 s: same last heartbeat.
        assert_eq!(fence_delay(9_000, 0, 2_000, 9_000), 9_000);
        // Restarted at 1.3 s: beats at 1.3, 3.3, ..., 9.3; crash at 10 s, fenced at 20 s.
        assert_eq!(fence_delay(10_000, 1_300, 2_000, 9_000), 10_000);
    }
}
