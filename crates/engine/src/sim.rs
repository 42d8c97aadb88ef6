//! The simulator: the only owner of virtual time, the event queue, the PRNG, the network and
//! faults. It feeds inputs to nodes, turns their effects into events, records the trace and
//! keeps the ledger. Same setup + same seed + same commands = the same run, bit for bit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::sync::Arc;

use crate::broker::Broker;
use crate::config::{ConfigError, Configs};
use crate::consumer::{AppState, Consumer, ConsumerSpec};
use crate::controller::Controller;
use crate::group::coordinator::{Group, OFFSETS_TOPIC};
use crate::ledger::{Ledger, Outcome};
use crate::metadata::{
    assign_replicas, BrokerRegistration, ClusterMetadata, PartitionMetadata, TopicConfig,
    TopicMetadata,
};
use crate::net::{Network, NetworkConfig};
use crate::node::{Effect, Input, Timer};
use crate::producer::{ManualRecord, Producer, ProducerSpec};
use crate::protocol::Message;
use crate::record::{Offset, TopicPartition};
use crate::rng::{Prng, Stream};
use crate::snapshot::*;
use crate::time::{Duration, Instant};
use crate::trace::{NodeId, Trace, TraceEvent, TraceKind};

/// Limits that keep a run inside a browser tab's memory. Bigger values are rejected, not clamped.
pub const MAX_BROKERS: u32 = 64;
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 1_000;
pub const MAX_RATE_PER_SEC: u64 = 10_000_000;
pub const MAX_VALUE_BYTES: u32 = 1_048_576;
pub const MAX_KEY_POOL: u32 = 10_000_000;

/// The shape of the cluster. No `Default`: the cluster shape and the seed are always explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSetup {
    pub brokers: u32,
    pub configs: Configs,
    pub network: NetworkConfig,
    /// How many recent trace events to keep (the digest covers all of them regardless).
    pub trace_capacity: usize,
}

/// A change to the running simulation: from a scenario's timeline, the UI, or a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    CreateTopic {
        name: String,
        partitions: u32,
        replication_factor: u32,
        configs: Configs,
    },
    DeleteTopic {
        name: String,
    },
    AddProducer(ProducerSpec),
    RemoveProducer {
        name: String,
    },
    SetProducerRunning {
        name: String,
        running: bool,
    },
    SetProducerRate {
        name: String,
        rate_per_sec: u64,
    },
    ProduceOne {
        producer: String,
        record: ManualRecord,
    },
    AddConsumer(ConsumerSpec),
    RemoveConsumer {
        name: String,
    },
    /// `close()`: commit (with auto-commit), leave the group, stop. The consumer stays listed.
    StopConsumer {
        name: String,
    },
    /// The consumer's process dies mid-poll: no commit, no LeaveGroup.
    CrashConsumer {
        name: String,
    },
    /// A stopped or crashed consumer starts again as a new process (same name and settings).
    RestartConsumer {
        name: String,
    },
    /// Change the application's processing time per record (a slow consumer).
    SetConsumerProcessing {
        name: String,
        per_record_us: u64,
    },
    Seek {
        consumer: String,
        topic: String,
        partition: u32,
        offset: u64,
    },
    CrashBroker {
        broker: u32,
    },
    RestartBroker {
        broker: u32,
    },
    /// Cut these brokers off from the other brokers and the controller (clients still reach
    /// every broker).
    PartitionNetwork {
        isolated: Vec<u32>,
    },
    HealNetwork,
    /// Add latency between two brokers, both ways (0 restores the link).
    SlowLink {
        a: u32,
        b: u32,
        extra_ms: u64,
    },
    /// Stop a broker's process for a while, as a long garbage-collection pause does.
    PauseBroker {
        broker: u32,
        duration_ms: u64,
    },
    ResumeBroker {
        broker: u32,
    },
}

/// A command or setup the simulation refuses, naming the field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError {
            field: e.key,
            message: e.message,
        }
    }
}

fn reject<T>(field: &str, message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError {
        field: field.to_string(),
        message: message.into(),
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// `incarnation` is the receiving broker's, at send time: a message sent to a process
    /// that has since crashed dies with its connection.
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: Message,
        incarnation: u32,
    },
    Disconnect {
        from: NodeId,
        to: NodeId,
    },
    Timer {
        node: NodeId,
        timer: Timer,
        incarnation: u32,
    },
    Command(Command),
}

/// An event's place in the queue: the heap orders these small keys, while the events
/// themselves (a message can be large) stay put in [`Queue::slots`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at: Instant,
    /// Commands run first at their instant, whenever they were scheduled: a command a UI
    /// schedules live then lands exactly where the same command from a scenario file does,
    /// so an exported run replays to the same digest.
    class: u8,
    seq: u64,
    slot: u32,
}

/// The future events, in (time, class, sequence) order.
#[derive(Clone, Debug, Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    slots: Vec<Option<Event>>,
    free: Vec<u32>,
}

impl Queue {
    fn push(&mut self, at: Instant, seq: u64, event: Event) {
        let class = match event {
            Event::Command(_) => 0,
            _ => 1,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Reverse(Scheduled {
            at,
            class,
            seq,
            slot,
        }));
    }

    fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    fn pop(&mut self) -> Option<(Instant, Event)> {
        let Reverse(next) = self.heap.pop()?;
        let event = self.slots[next.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(next.slot);
        Some((next.at, event))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct BrokerSlot {
    broker: Broker,
    up: bool,
    incarnation: u32,
    /// A paused process (a long GC stop) handles nothing until then.
    paused_until: Option<Instant>,
}

/// What the simulator records about a group over time.
#[derive(Clone, Debug, Default)]
struct GroupStats {
    /// (virtual ms, lag); halved and re-spaced when full, so it stays bounded.
    history: std::collections::VecDeque<(u64, u64)>,
    rebalances: u64,
}

const LAG_SAMPLES: usize = 240;

/// A partition a group subscribes to: who owns it, where the group committed, its lag.
struct GroupPartition {
    tp: TopicPartition,
    /// The consumer (by name) that owns it now.
    owner: Option<String>,
    committed: Option<u64>,
    hw: u64,
    /// High watermark − committed offset (or where the group started, before a commit).
    lag: u64,
}

/// A whole simulated cluster with its clients. `Clone` gives an independent copy: a checkpoint
/// to scrub back to, or a fork for a "what if" run.
#[derive(Clone, Debug)]
pub struct Sim {
    seed: u64,
    now: Instant,
    queue: Queue,
    next_seq: u64,
    events_processed: u64,
    setup: ClusterSetup,
    net: Network,
    placement_rng: Prng,
    controller: Controller,
    brokers: Vec<BrokerSlot>,
    producers: Vec<Option<Producer>>,
    consumers: Vec<Option<Consumer>>,
    /// Per consumer: its process incarnation; messages and timers of an older one are dropped.
    consumer_incarnations: Vec<u32>,
    /// Per group: lag samples over virtual time.
    group_stats: BTreeMap<Arc<str>, GroupStats>,
    next_lag_sample: Instant,
    /// Per group and partition: where the group started reading (its first offset reset).
    group_starts: BTreeMap<(Arc<str>, TopicPartition), Offset>,
    /// The latest group events, for rebalance timelines.
    group_events: std::collections::VecDeque<TraceEvent>,
    trace: Trace,
    ledger: Ledger,
    effects: Vec<Effect>,
    /// Commands refused when they ran (the first 100), and how many.
    refused: Vec<(Instant, String)>,
    refused_count: u64,
    /// What the latest step may have changed, and what it acknowledged (for the checker).
    touched: Touched,
    step_observations: Vec<StepObservation>,
    observations: u64,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    planted: crate::planted::Planted,
}

/// What a step may have changed: one node's state (nodes only change themselves), or anything
/// (a command, or a change made outside the event loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touched {
    Everything,
    Node(NodeId),
    Nothing,
}

/// What a producer or an application saw in the latest step: an acknowledgement or a delivery
/// (`Observation::Acked` and `Observation::Delivered`), numbered over the whole run so a
/// reader never takes one twice.
pub type StepObservation = (u64, crate::ledger::Observation);

impl Sim {
    pub fn new(setup: ClusterSetup, seed: u64) -> Result<Sim, CommandError> {
        if setup.brokers == 0 || setup.brokers > MAX_BROKERS {
            return reject(
                "brokers",
                format!("must be between 1 and {MAX_BROKERS}, got {}", setup.brokers),
            );
        }
        let metadata = Arc::new(ClusterMetadata {
            version: 1,
            brokers: (0..setup.brokers)
                .map(|id| BrokerRegistration { id, fenced: false })
                .collect(),
            controller: 0,
            topics: BTreeMap::new(),
        });
        let brokers = (0..setup.brokers)
            .map(|id| BrokerSlot {
                broker: Broker::new(id, metadata.clone(), &setup.configs),
                up: true,
                incarnation: 0,
                paused_until: None,
            })
            .collect();
        let rng = Prng::stream(seed, Stream::AutoCreate);
        let controller = Controller::new(metadata.clone(), &setup.configs, rng);
        let mut sim = Sim {
            seed,
            now: Instant::ZERO,
            queue: Queue::default(),
            next_seq: 0,
            events_processed: 0,
            net: Network::new(setup.network.clone(), Prng::stream(seed, Stream::Network)),
            placement_rng: Prng::stream(seed, Stream::Placement),
            trace: Trace::new(setup.trace_capacity),
            setup,
            controller,
            brokers,
            producers: Vec::new(),
            consumers: Vec::new(),
            consumer_incarnations: Vec::new(),
            group_stats: BTreeMap::new(),
            next_lag_sample: Instant::ZERO,
            group_starts: BTreeMap::new(),
            group_events: std::collections::VecDeque::new(),
            ledger: Ledger::new(),
            effects: Vec::new(),
            refused: Vec::new(),
            refused_count: 0,
            touched: Touched::Everything,
            step_observations: Vec::new(),
            observations: 0,
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        };
        sim.with_node(NodeId::Controller, |node, now, out| {
            if let NodeRef::Controller(c) = node {
                c.start(now, out);
            }
        });
        for id in 0..sim.setup.brokers {
            sim.record(TraceKind::BrokerStarted { broker: id });
            sim.start_broker(id);
        }
        Ok(sim)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn setup(&self) -> &ClusterSetup {
        &self.setup
    }
    pub fn digest(&self) -> u64 {
        self.trace.digest()
    }
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    pub fn metadata(&self) -> &ClusterMetadata {
        self.controller.metadata()
    }

    /// The brokers, for the invariant checker.
    pub fn brokers(&self) -> impl Iterator<Item = (&Broker, bool)> {
        self.brokers.iter().map(|s| (&s.broker, s.up))
    }

    /// Plants deliberate bugs in every node, present and future (tests of the checker only).
    #[cfg(feature = "planted-bugs")]
    pub fn plant(&mut self, planted: crate::planted::Planted) {
        self.planted = planted;
        self.controller.planted = planted;
        for slot in &mut self.brokers {
            slot.broker.planted = planted;
            slot.broker.coordinator.planted = planted;
        }
        for c in self.consumers.iter_mut().flatten() {
            c.planted = planted;
        }
    }

    /// One broker and whether its process is up.
    pub fn broker(&self, id: u32) -> Option<(&Broker, bool)> {
        self.brokers.get(id as usize).map(|s| (&s.broker, s.up))
    }

    fn start_broker(&mut self, id: u32) {
        let incarnation = self.brokers[id as usize].incarnation;
        self.with_node(NodeId::Broker(id), |node, now, out| {
            if let NodeRef::Broker(b) = node {
                b.start(now, incarnation, out);
            }
        });
    }
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// When the next event happens, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.next_at()
    }

    /// Schedules a command for later. It is checked when it runs; a rejected one is traced.
    pub fn schedule(&mut self, at: Instant, command: Command) {
        let at = at.max(self.now);
        self.push(at, Event::Command(command));
    }

    /// Processes the next event. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else {
            return false;
        };
        assert!(at >= self.now, "time never goes backwards");
        self.now = at;
        self.events_processed += 1;
        self.step_observations.clear();
        self.touched = match &event {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Touched::Node(*to),
            Event::Timer { node, .. } => Touched::Node(*node),
            Event::Command(_) => Touched::Everything,
        };
        self.dispatch(event);
        if self.now >= self.next_lag_sample {
            self.sample_lag();
        }
        true
    }

    /// Processes every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        while self.queue.next_at().is_some_and(|at| at <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Like `run_until`, but stops after `max_events` (for a UI frame budget).
    /// Returns true when `until` was reached.
    pub fn run_until_bounded(&mut self, until: Instant, max_events: u64) -> bool {
        for _ in 0..max_events {
            if self.queue.next_at().is_none_or(|at| at > until) {
                self.now = self.now.max(until);
                return true;
            }
            self.step();
        }
        false
    }

    fn push(&mut self, at: Instant, event: Event) {
        self.next_seq += 1;
        self.queue.push(at, self.next_seq, event);
    }

    fn record(&mut self, kind: TraceKind) {
        use TraceKind as K;
        if matches!(
            kind,
            K::RebalanceStarted { .. }
                | K::GenerationStarted { .. }
                | K::GroupStable { .. }
                | K::MemberRemoved { .. }
                | K::JoinPhaseExtended { .. }
                | K::OffsetsLoaded { .. }
                | K::MemberJoined { .. }
                | K::PartitionsRevoked { .. }
                | K::PartitionsAssigned { .. }
                | K::MemberLeaving { .. }
                | K::ConsumerCrashed { .. }
                | K::ConsumerRestarted { .. }
                | K::ProcessingTimeChanged { .. }
        ) {
            if self.group_events.len() == 200 {
                self.group_events.pop_front();
            }
            self.group_events.push_back(TraceEvent {
                at: self.now,
                kind: kind.clone(),
            });
        }
        self.trace.push(TraceEvent { at: self.now, kind });
    }

    fn dispatch(&mut self, event: Event) {
        // A paused broker handles nothing: its events wait, in order, until it resumes.
        let target = match &event {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Some(*to),
            Event::Timer { node, .. } => Some(*node),
            Event::Command(_) => None,
        };
        if let Some(NodeId::Broker(b)) = target {
            if let Some(until) = self.brokers[b as usize]
                .paused_until
                .filter(|&u| u > self.now)
            {
                self.push(until, event);
                return;
            }
        }
        match event {
            Event::Deliver {
                from,
                to,
                msg,
                incarnation,
            } => {
                if self.net.is_blocked(from, to) {
                    return; // Lost in a network partition.
                }
                if let NodeId::Consumer(c) = to {
                    if self.consumer_incarnations[c as usize] != incarnation {
                        return; // The process that sent this request is gone.
                    }
                }
                if let NodeId::Broker(b) = to {
                    let slot = &self.brokers[b as usize];
                    // A restarted broker opens its listeners once it has the controller's
                    // metadata; until then only the controller reaches it.
                    let listening = slot.broker.is_serving() || from == NodeId::Controller;
                    if !slot.up || slot.incarnation != incarnation || !listening {
                        // Connection refused or reset: the sender learns after a round trip.
                        if slot.incarnation == incarnation {
                            let at = self.net.delivery_time(self.now, to, from);
                            self.push(at, Event::Disconnect { from: to, to: from });
                        }
                        return;
                    }
                }
                self.deliver(to, Input::Message { from, msg });
            }
            Event::Disconnect { from, to } => self.deliver(to, Input::Disconnected { peer: from }),
            Event::Timer {
                node,
                timer,
                incarnation,
            } => {
                if let NodeId::Broker(b) = node {
                    let slot = &self.brokers[b as usize];
                    if !slot.up || slot.incarnation != incarnation {
                        return;
                    }
                }
                if let NodeId::Consumer(c) = node {
                    if self.consumer_incarnations[c as usize] != incarnation {
                        return;
                    }
                }
                self.deliver(node, Input::Timer(timer));
            }
            Event::Command(command) => {
                if let Err(e) = self.apply(command) {
                    let reason = e.to_string();
                    self.refused_count += 1;
                    if self.refused.len() < 100 {
                        self.refused.push((self.now, reason.clone()));
                    }
                    self.record(TraceKind::CommandRejected { reason });
                }
            }
        }
    }

    fn deliver(&mut self, to: NodeId, input: Input) {
        self.with_node(to, |node, now, out| match node {
            NodeRef::Controller(c) => c.handle(now, input, out),
            NodeRef::Broker(b) => b.handle(now, input, out),
            NodeRef::Producer(p) => p.handle(now, input, out),
            NodeRef::Consumer(c) => c.handle(now, input, out),
        });
    }

    /// Runs `f` on a node with a reusable effects buffer, then applies the effects.
    /// A node that no longer exists (removed client) receives nothing.
    fn with_node(&mut self, id: NodeId, f: impl FnOnce(NodeRef<'_>, Instant, &mut Vec<Effect>)) {
        let mut out = std::mem::take(&mut self.effects);
        let now = self.now;
        let node = match id {
            NodeId::Controller => Some(NodeRef::Controller(&mut self.controller)),
            NodeId::Broker(i) => self
                .brokers
                .get_mut(i as usize)
                .map(|s| NodeRef::Broker(&mut s.broker)),
            NodeId::Producer(i) => self
                .producers
                .get_mut(i as usize)
                .and_then(Option::as_mut)
                .map(NodeRef::Producer),
            NodeId::Consumer(i) => self
                .consumers
                .get_mut(i as usize)
                .and_then(Option::as_mut)
                .map(NodeRef::Consumer),
        };
        if let Some(node) = node {
            f(node, now, &mut out);
        }
        self.apply_effects(id, &mut out);
        self.effects = out;
    }

    fn apply_effects(&mut self, from: NodeId, out: &mut Vec<Effect>) {
        for effect in out.drain(..) {
            match effect {
                Effect::Send { to, msg } => {
                    let at = self.net.delivery_time(self.now, from, to);
                    let incarnation = self.incarnation_of(to);
                    self.push(
                        at,
                        Event::Deliver {
                            from,
                            to,
                            msg,
                            incarnation,
                        },
                    );
                }
                Effect::SetTimer { at, timer } => {
                    let incarnation = self.incarnation_of(from);
                    self.push(
                        at.max(self.now),
                        Event::Timer {
                            node: from,
                            timer,
                            incarnation,
                        },
                    );
                }
                Effect::Trace(kind) => {
                    if let TraceKind::GenerationStarted { group, .. } = &kind {
                        self.group_stats
                            .entry(group.clone())
                            .or_default()
                            .rebalances += 1;
                    }
                    if let (TraceKind::OffsetReset { tp, offset, .. }, NodeId::Consumer(c)) =
                        (&kind, from)
                    {
                        self.note_group_start(c, tp, *offset);
                    }
                    self.record(kind)
                }
                Effect::Observe(observation) => {
                    use crate::ledger::Observation as O;
                    if matches!(
                        observation,
                        O::Acked { .. } | O::Delivered { .. } | O::CommitAcked { .. }
                    ) {
                        self.observations += 1;
                        let seen = (self.observations, observation.clone());
                        self.step_observations.push(seen);
                    }
                    self.ledger.observe(observation)
                }
            }
        }
    }

    fn incarnation_of(&self, node: NodeId) -> u32 {
        match node {
            NodeId::Broker(b) => self.brokers[b as usize].incarnation,
            NodeId::Consumer(c) => self.consumer_incarnations[c as usize],
            _ => 0,
        }
    }

    /// Remembers where a group first started reading a partition (for the lost-record audit).
    fn note_group_start(&mut self, consumer: u32, tp: &TopicPartition, offset: Offset) {
        let Some(group) = self.consumers[consumer as usize]
            .as_ref()
            .and_then(|c| c.membership.as_ref())
            .map(|m| m.group.clone())
        else {
            return;
        };
        let start = self
            .group_starts
            .entry((group, tp.clone()))
            .or_insert(offset);
        *start = (*start).min(offset);
    }

    fn producer_index(&self, name: &str) -> Option<usize> {
        self.producers
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.spec.name == name))
    }

    fn consumer_index(&self, name: &str) -> Option<usize> {
        self.consumers
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.spec.name == name))
    }

    fn broker_ids(&self) -> Vec<u32> {
        (0..self.setup.brokers).collect()
    }

    /// Checks a command against the current state without applying it.
    pub fn validate(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                replication_factor,
                configs,
            } => {
                validate_topic_name(name)?;
                if self
                    .controller
                    .metadata()
                    .topics
                    .contains_key(name.as_str())
                {
                    return reject("name", format!("topic {name:?} already exists"));
                }
                if *partitions == 0 || *partitions > MAX_PARTITIONS_PER_TOPIC {
                    let m = format!(
                        "must be between 1 and {MAX_PARTITIONS_PER_TOPIC}, got {partitions}"
                    );
                    return reject("partitions", m);
                }
                if *replication_factor == 0 || *replication_factor > self.setup.brokers {
                    let m = format!(
                        "must be between 1 and the number of brokers ({}), got {replication_factor}",
                        self.setup.brokers
                    );
                    return reject("replication_factor", m);
                }
                let resolved = TopicConfig::resolve(configs, &self.setup.configs);
                if resolved.min_insync_replicas > *replication_factor {
                    let m = format!(
                        "{} exceeds the replication factor {replication_factor}, so acks=all writes could never succeed",
                        resolved.min_insync_replicas
                    );
                    return reject("min.insync.replicas", m);
                }
                Ok(())
            }
            Command::DeleteTopic { name } if name == OFFSETS_TOPIC => reject(
                "name",
                "__consumer_offsets is internal; Kafka does not let you delete it",
            ),
            Command::DeleteTopic { name } => match self
                .controller
                .metadata()
                .topics
                .contains_key(name.as_str())
            {
                true => Ok(()),
                false => reject("name", format!("no topic {name:?}")),
            },
            Command::AddProducer(spec) => {
                validate_client_name(&spec.name)?;
                if self.producer_index(&spec.name).is_some() {
                    return reject("id", format!("a producer {:?} already exists", spec.name));
                }
                validate_topic_name(&spec.topic).map_err(|e| CommandError {
                    field: "topic".into(),
                    ..e
                })?;
                if spec.rate_per_sec > MAX_RATE_PER_SEC {
                    return reject(
                        "rate_per_sec",
                        format!("must be at most {MAX_RATE_PER_SEC}"),
                    );
                }
                if spec.value_bytes > MAX_VALUE_BYTES {
                    return reject("value_bytes", format!("must be at most {MAX_VALUE_BYTES}"));
                }
                if let crate::producer::KeyMode::Pool(n) = spec.keys {
                    if n == 0 || n > MAX_KEY_POOL {
                        return reject(
                            "keys",
                            format!("pool size must be between 1 and {MAX_KEY_POOL}"),
                        );
                    }
                }
                crate::producer::ProducerConfig::from_configs(&spec.configs)?;
                Ok(())
            }
            Command::AddConsumer(spec) => {
                validate_client_name(&spec.name)?;
                if self.consumer_index(&spec.name).is_some() {
                    return reject("id", format!("a consumer {:?} already exists", spec.name));
                }
                if spec.topics.is_empty() {
                    return reject("topics", "list at least one topic");
                }
                let config = crate::consumer::ConsumerConfig::from_configs(&spec.configs)?;
                if config.group_id.is_some() {
                    self.check_offsets_topic()?;
                }
                Ok(())
            }
            Command::StopConsumer { name }
            | Command::CrashConsumer { name }
            | Command::RestartConsumer { name }
            | Command::SetConsumerProcessing { name, .. } => {
                let Some(i) = self.consumer_index(name) else {
                    return reject("consumer", format!("no consumer {name:?}"));
                };
                let state = self.consumers[i].as_ref().expect("indexed").state;
                let down = matches!(state, AppState::Stopped | AppState::Crashed);
                match command {
                    Command::StopConsumer { .. } | Command::CrashConsumer { .. } if down => {
                        reject("consumer", format!("consumer {name:?} is not running"))
                    }
                    Command::RestartConsumer { .. } if !down => reject(
                        "consumer",
                        format!("consumer {name:?} is running; stop or crash it first"),
                    ),
                    Command::SetConsumerProcessing { per_record_us, .. }
                        if *per_record_us > 3_600_000_000 =>
                    {
                        reject("processing_ms_per_record", "at most 3600000 (one hour)")
                    }
                    _ => Ok(()),
                }
            }
            Command::RemoveProducer { name }
            | Command::SetProducerRunning { name, .. }
            | Command::SetProducerRate { name, .. }
            | Command::ProduceOne { producer: name, .. } => {
                if self.producer_index(name).is_none() {
                    return reject("producer", format!("no producer {name:?}"));
                }
                if let Command::SetProducerRate { rate_per_sec, .. } = command {
                    if *rate_per_sec > MAX_RATE_PER_SEC {
                        return reject(
                            "rate_per_sec",
                            format!("must be at most {MAX_RATE_PER_SEC}"),
                        );
                    }
                }
                Ok(())
            }
            Command::RemoveConsumer { name } | Command::Seek { consumer: name, .. } => {
                match self.consumer_index(name) {
                    Some(_) => Ok(()),
                    None => reject("consumer", format!("no consumer {name:?}")),
                }
            }
            Command::CrashBroker { broker } | Command::RestartBroker { broker } => {
                let Some(slot) = self.brokers.get(*broker as usize) else {
                    let m = format!(
                        "no broker {broker}; brokers are 0 to {}",
                        self.setup.brokers - 1
                    );
                    return reject("broker", m);
                };
                match (command, slot.up) {
                    (Command::CrashBroker { .. }, false) => {
                        reject("broker", format!("broker {broker} is already down"))
                    }
                    (Command::RestartBroker { .. }, true) => {
                        reject("broker", format!("broker {broker} is already up"))
                    }
                    _ => Ok(()),
                }
            }
            Command::PartitionNetwork { isolated } => {
                if isolated.is_empty() || isolated.len() as u32 >= self.setup.brokers {
                    return reject(
                        "brokers",
                        "isolate at least one broker and leave at least one on the other side",
                    );
                }
                self.check_broker_ids("brokers", isolated)
            }
            Command::HealNetwork => Ok(()),
            Command::SlowLink { a, b, extra_ms } => {
                self.check_broker_ids("broker", &[*a, *b])?;
                if a == b {
                    return reject("broker", "a link joins two different brokers");
                }
                if *extra_ms > 600_000 {
                    return reject("extra_ms", "at most 600000 (ten minutes)");
                }
                Ok(())
            }
            Command::PauseBroker {
                broker,
                duration_ms,
            } => {
                self.check_broker_ids("broker", &[*broker])?;
                if !self.brokers[*broker as usize].up {
                    return reject("broker", format!("broker {broker} is down"));
                }
                if *duration_ms == 0 || *duration_ms > 3_600_000 {
                    return reject("duration_ms", "between 1 and 3600000 (one hour)");
                }
                Ok(())
            }
            Command::ResumeBroker { broker } => self.check_broker_ids("broker", &[*broker]),
        }
    }

    /// `__consumer_offsets` exists or can be created (Kafka refuses while the cluster has fewer
    /// brokers than `offsets.topic.replication.factor`, and groups cannot work).
    fn check_offsets_topic(&self) -> Result<(), CommandError> {
        if self.metadata().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let rf = self.setup.configs.int("offsets.topic.replication.factor") as u32;
        if rf > self.setup.brokers {
            let m = format!(
                "{rf} exceeds the number of brokers ({}): Kafka cannot create __consumer_offsets, so consumer groups cannot work; set it to at most {} in the cluster configs",
                self.setup.brokers, self.setup.brokers
            );
            return reject("offsets.topic.replication.factor", m);
        }
        Ok(())
    }

    /// Creates `__consumer_offsets` as Kafka does on the first coordinator lookup.
    fn ensure_offsets_topic(&mut self) -> Result<(), CommandError> {
        if self.metadata().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        self.apply(Command::CreateTopic {
            name: OFFSETS_TOPIC.to_string(),
            partitions: self.setup.configs.int("offsets.topic.num.partitions") as u32,
            replication_factor: self.setup.configs.int("offsets.topic.replication.factor") as u32,
            configs: Configs::new(crate::config::Scope::Topic),
        })
    }

    fn check_broker_ids(&self, field: &str, ids: &[u32]) -> Result<(), CommandError> {
        match ids.iter().find(|&&b| b >= self.setup.brokers) {
            Some(b) => reject(
                field,
                format!("no broker {b}; brokers are 0 to {}", self.setup.brokers - 1),
            ),
            None => Ok(()),
        }
    }

    /// Applies a command now, or says why not (and changes nothing).
    pub fn apply(&mut self, command: Command) -> Result<(), CommandError> {
        self.validate(&command)?;
        self.touched = Touched::Everything;
        match command {
            Command::CreateTopic {
                name,
                partitions,
                replication_factor,
                configs,
            } => {
                let ids = self.broker_ids();
                let assignment = assign_replicas(
                    &ids,
                    partitions,
                    replication_factor,
                    &mut self.placement_rng,
                );
                let config = TopicConfig::resolve(&configs, &self.setup.configs);
                let topic: Arc<str> = Arc::from(name.as_str());
                self.update_metadata(|m| {
                    let t = TopicMetadata::created(topic.clone(), assignment, config);
                    m.topics.insert(topic, t);
                });
                self.record(TraceKind::TopicCreated {
                    topic: name,
                    partitions,
                    replication_factor,
                });
            }
            Command::DeleteTopic { name } => {
                self.update_metadata(|m| {
                    m.topics.remove(name.as_str());
                });
                self.record(TraceKind::TopicDeleted { topic: name });
            }
            Command::AddProducer(spec) => {
                let index = self.producers.len() as u32;
                let rng = Prng::stream(self.seed, Stream::Producer(index));
                let producer = Producer::new(index, spec, rng, self.broker_ids(), self.now)?;
                self.producers.push(Some(producer));
                self.record(TraceKind::ProducerAdded { producer: index });
                self.with_producer(index as usize, |p, now, out| p.start(now, out));
            }
            Command::RemoveProducer { name } => {
                let i = self.producer_index(&name).expect("validated");
                self.producers[i] = None;
                self.record(TraceKind::ProducerRemoved { producer: i as u32 });
            }
            Command::SetProducerRunning { name, running } => {
                let i = self.producer_index(&name).expect("validated");
                self.with_producer(i, |p, now, out| p.set_running(now, running, out));
            }
            Command::SetProducerRate { name, rate_per_sec } => {
                let i = self.producer_index(&name).expect("validated");
                self.with_producer(i, |p, now, out| p.set_rate(now, rate_per_sec, out));
            }
            Command::ProduceOne { producer, record } => {
                let i = self.producer_index(&producer).expect("validated");
                self.with_producer(i, |p, now, out| p.produce_one(now, record, out));
            }
            Command::AddConsumer(spec) => {
                let index = self.consumers.len() as u32;
                let rng = Prng::stream(self.seed, Stream::Consumer(index));
                #[allow(unused_mut)]
                let mut consumer = Consumer::new(index, spec, self.broker_ids(), rng)?;
                #[cfg(feature = "planted-bugs")]
                {
                    consumer.planted = self.planted;
                }
                if consumer.membership.is_some() {
                    self.ensure_offsets_topic()?;
                }
                self.consumers.push(Some(consumer));
                self.consumer_incarnations.push(0);
                self.record(TraceKind::ConsumerAdded { consumer: index });
                self.with_node(NodeId::Consumer(index), |node, now, out| {
                    if let NodeRef::Consumer(c) = node {
                        c.start(now, out);
                    }
                });
            }
            Command::RemoveConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.stop(now, out));
                self.consumers[i] = None;
                self.record(TraceKind::ConsumerRemoved { consumer: i as u32 });
            }
            Command::StopConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.stop(now, out));
            }
            Command::CrashConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.crash(now, out));
                self.consumer_incarnations[i] += 1;
            }
            Command::RestartConsumer { name } => {
                let i = self.consumer_index(&name).expect("validated");
                let old = self.consumers[i].as_ref().expect("indexed");
                let spec = old.spec.clone();
                let requests_sent = old.requests_sent();
                let incarnation = self.consumer_incarnations[i] + 1;
                let stream = Stream::Restart {
                    consumer: i as u32,
                    incarnation,
                };
                let rng = Prng::stream(self.seed, stream);
                let mut consumer = Consumer::new(i as u32, spec, self.broker_ids(), rng)?;
                // A new process has new connections: answers to the old one's requests (a
                // coordinator may answer a parked JoinGroup after the restart) are not for it.
                consumer.continue_requests_from(requests_sent);
                #[cfg(feature = "planted-bugs")]
                {
                    consumer.planted = self.planted;
                }
                self.consumers[i] = Some(consumer);
                self.consumer_incarnations[i] = incarnation;
                self.record(TraceKind::ConsumerRestarted { consumer: i as u32 });
                self.with_consumer(i, |c, now, out| c.start(now, out));
            }
            Command::SetConsumerProcessing {
                name,
                per_record_us,
            } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, _, out| {
                    c.set_processing_time(Duration(per_record_us), out)
                });
            }
            Command::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => {
                let i = self.consumer_index(&consumer).expect("validated");
                let tp = TopicPartition::new(&topic, partition);
                let mut found = true;
                self.with_node(NodeId::Consumer(i as u32), |node, now, out| {
                    if let NodeRef::Consumer(c) = node {
                        found = c.seek(now, &tp, Offset(offset), out);
                    }
                });
                if !found {
                    return reject(
                        "partition",
                        format!("consumer {consumer:?} is not assigned {tp}"),
                    );
                }
            }
            Command::CrashBroker { broker } => self.crash_broker(broker),
            Command::RestartBroker { broker } => {
                // It comes back with the metadata it had; the controller's updates reach it
                // after its first heartbeat, if the network lets them.
                self.brokers[broker as usize].up = true;
                self.record(TraceKind::BrokerRestarted { broker });
                self.start_broker(broker);
            }
            Command::PartitionNetwork { isolated } => {
                let side_a: Vec<NodeId> = isolated.iter().map(|&b| NodeId::Broker(b)).collect();
                let side_b: Vec<NodeId> = (0..self.setup.brokers)
                    .filter(|b| !isolated.contains(b))
                    .map(NodeId::Broker)
                    .chain(std::iter::once(NodeId::Controller))
                    .collect();
                self.net.partition(&side_a, &side_b);
                self.record(TraceKind::NetworkPartitioned { isolated });
            }
            Command::HealNetwork => {
                let cut = self.net.heal();
                self.record(TraceKind::NetworkHealed);
                // Connections broken during the partition reset now, so both sides reconnect
                // instead of waiting for their request timeouts.
                for (from, to) in cut {
                    let at = self.net.delivery_time(self.now, from, to);
                    self.push(at, Event::Disconnect { from, to });
                }
            }
            Command::SlowLink { a, b, extra_ms } => {
                self.net.slow_link(
                    NodeId::Broker(a),
                    NodeId::Broker(b),
                    Duration::from_millis(extra_ms),
                );
                self.record(TraceKind::LinkDelayed {
                    from: a,
                    to: b,
                    extra_ms,
                });
            }
            Command::PauseBroker {
                broker,
                duration_ms,
            } => {
                let until = self.now + Duration::from_millis(duration_ms);
                self.brokers[broker as usize].paused_until = Some(until);
                self.record(TraceKind::BrokerPaused { broker });
                self.push(until, Event::Command(Command::ResumeBroker { broker }));
            }
            Command::ResumeBroker { broker } => {
                self.brokers[broker as usize].paused_until = None;
                self.record(TraceKind::BrokerResumed { broker });
            }
        }
        Ok(())
    }

    fn with_producer(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Producer, Instant, &mut Vec<Effect>),
    ) {
        self.with_node(NodeId::Producer(i as u32), |node, now, out| {
            if let NodeRef::Producer(p) = node {
                f(p, now, out);
            }
        });
    }

    fn with_consumer(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Consumer, Instant, &mut Vec<Effect>),
    ) {
        self.with_node(NodeId::Consumer(i as u32), |node, now, out| {
            if let NodeRef::Consumer(c) = node {
                f(c, now, out);
            }
        });
    }

    fn crash_broker(&mut self, broker: u32) {
        let slot = &mut self.brokers[broker as usize];
        slot.up = false;
        slot.paused_until = None;
        slot.incarnation += 1;
        slot.broker.crash();
        self.record(TraceKind::BrokerCrashed { broker });
        // The process is gone: connections to it reset, for clients and other brokers alike.
        let from = NodeId::Broker(broker);
        let peers: Vec<NodeId> = self
            .producers
            .iter()
            .flatten()
            .map(|p| NodeId::Producer(p.index))
            .chain(
                self.consumers
                    .iter()
                    .flatten()
                    .map(|c| NodeId::Consumer(c.index)),
            )
            .chain(
                (0..self.setup.brokers)
                    .filter(|&b| b != broker)
                    .map(NodeId::Broker),
            )
            .collect();
        for to in peers {
            if self.net.is_blocked(from, to) {
                continue;
            }
            let at = self.net.delivery_time(self.now, from, to);
            self.push(at, Event::Disconnect { from, to });
        }
    }

    fn update_metadata(&mut self, f: impl FnOnce(&mut ClusterMetadata)) {
        let metadata = self.controller.admin_update(f);
        // Admin changes reach live brokers at once (CreateTopics waits for propagation).
        let ids: Vec<u32> = self
            .brokers
            .iter()
            .filter(|s| s.up)
            .map(|s| s.broker.id)
            .collect();
        for id in ids {
            let m = metadata.clone();
            self.with_node(NodeId::Broker(id), |node, now, out| {
                if let NodeRef::Broker(b) = node {
                    b.apply_metadata(now, m, out);
                }
            });
        }
    }

    /// The replica whose log is the partition's truth: the leader's, else the first replica's.
    fn authoritative_replica(
        &self,
        tp: &TopicPartition,
        pm: &PartitionMetadata,
    ) -> Option<&crate::broker::Replica> {
        let id = pm.leader.unwrap_or(pm.replicas[0]);
        self.brokers[id as usize].broker.replica(tp)
    }

    /// A plain-data view for UIs, with up to `records_per_partition` newest records each.
    pub fn snapshot(&self, records_per_partition: usize, trace_events: usize) -> Snapshot {
        self.snapshot_of(records_per_partition, RecordsOf::All, trace_events)
    }

    /// A snapshot with newest records for the partitions `records_of` names only.
    pub fn snapshot_of(
        &self,
        records_per_partition: usize,
        records_of: RecordsOf,
        trace_events: usize,
    ) -> Snapshot {
        let brokers = self
            .brokers
            .iter()
            .map(|s| {
                let id = s.broker.id;
                let replicas = s.broker.replicas().len() as u32;
                let leader_of = self
                    .controller
                    .metadata()
                    .topics
                    .values()
                    .flat_map(|t| &t.partitions)
                    .filter(|p| p.leader == Some(id))
                    .count() as u32;
                BrokerView {
                    id,
                    fenced: self.controller.is_fenced(id),
                    paused: s.paused_until.is_some_and(|u| u > self.now),
                    isolated: self.net.is_blocked(NodeId::Broker(id), NodeId::Controller),
                    status: if s.up {
                        BrokerStatus::Up
                    } else {
                        BrokerStatus::Crashed
                    },
                    is_controller: self.controller.metadata().controller == id,
                    leader_of,
                    replicas,
                }
            })
            .collect();
        let topics = self
            .controller
            .metadata()
            .topics
            .values()
            .map(|t| TopicView {
                name: t.name.to_string(),
                internal: &*t.name == OFFSETS_TOPIC,
                replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len() as u32),
                configs: t
                    .config
                    .configs
                    .explicit()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                partitions: t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, pm)| {
                        let tp = TopicPartition {
                            topic: t.name.clone(),
                            partition: i as u32,
                        };
                        let n = if records_of.includes(i as u32) {
                            records_per_partition
                        } else {
                            0
                        };
                        self.partition_view(&tp, pm, n)
                    })
                    .collect(),
            })
            .collect();
        let producers = self.producers.iter().flatten().map(producer_view).collect();
        let consumers = self.consumers.iter().flatten().map(consumer_view).collect();
        let groups = self
            .group_names()
            .iter()
            .map(|g| self.group_view(g, false))
            .collect();
        let totals = Totals {
            produced: self
                .producers
                .iter()
                .flatten()
                .map(|p| p.stats.produced)
                .sum(),
            acked: self.ledger.acked,
            failed: self.ledger.failed,
            consumed: self.ledger.consumed(),
            duplicates: self.ledger.duplicates(),
            out_of_order: self.ledger.out_of_order(),
        };
        let recent = self.trace.recent();
        let skip = recent.len().saturating_sub(trace_events);
        Snapshot {
            records_of,
            now: self.now,
            seed: self.seed,
            events_processed: self.events_processed,
            brokers,
            topics,
            producers,
            consumers,
            groups,
            group_events: self.group_events.iter().cloned().collect(),
            totals,
            trace: recent.skip(skip).cloned().collect(),
            trace_total: self.trace.total(),
            digest: self.digest(),
        }
    }

    fn partition_view(
        &self,
        tp: &TopicPartition,
        pm: &PartitionMetadata,
        n: usize,
    ) -> PartitionView {
        let replica = self.authoritative_replica(tp, pm);
        let (log_start, hw, leo, segments, size) = replica.map_or((0, 0, 0, 0, 0), |r| {
            (
                r.log.log_start().0,
                r.high_watermark.0,
                r.log.log_end().0,
                r.log.segments().len() as u32,
                r.log.size_bytes(),
            )
        });
        let latest = replica.map_or_else(Vec::new, |r| {
            r.log
                .latest(n, r.log.log_end())
                .into_iter()
                .map(|(o, rec)| record_view(o, rec))
                .collect()
        });
        let replica_states = pm
            .replicas
            .iter()
            .map(|&b| {
                let slot = &self.brokers[b as usize];
                let r = slot.broker.replica(tp);
                ReplicaView {
                    broker: b,
                    log_end: r.map_or(0, |r| r.log.log_end().0),
                    high_watermark: r.map_or(0, |r| r.high_watermark.0),
                    in_isr: pm.isr.contains(&b),
                    is_leader: pm.leader == Some(b),
                    up: slot.up,
                }
            })
            .collect();
        PartitionView {
            replica_states,
            topic: tp.topic.to_string(),
            partition: tp.partition,
            replicas: pm.replicas.clone(),
            leader: pm.leader,
            leader_epoch: pm.leader_epoch,
            isr: pm.isr.clone(),
            log_start,
            high_watermark: hw,
            log_end: leo,
            segments,
            size_bytes: size,
            latest,
        }
    }

    /// The run's outcome: counts, losses found by auditing every acknowledged record against
    /// the logs, and the final partition states.
    pub fn report(&self) -> Report {
        let (lost, lost_acked, expired) = self.audit_lost();
        let mut failures: BTreeMap<crate::protocol::ErrorCode, u64> = BTreeMap::new();
        for p in self.producers.iter().flatten() {
            for o in self.ledger.outcomes(p.index).iter() {
                if let Outcome::Failed(e) = o {
                    *failures.entry(e).or_default() += 1;
                }
            }
        }
        let partitions = self
            .controller
            .metadata()
            .topics
            .values()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .enumerate()
                    .map(move |(i, pm)| (t, i, pm))
            })
            .map(|(t, i, pm)| {
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: i as u32,
                };
                let r = self.authoritative_replica(&tp, pm);
                PartitionReport {
                    topic: t.name.to_string(),
                    partition: i as u32,
                    leader: pm.leader,
                    isr: pm.isr.clone(),
                    log_start: r.map_or(0, |r| r.log.log_start().0),
                    high_watermark: r.map_or(0, |r| r.high_watermark.0),
                    log_end: r.map_or(0, |r| r.log.log_end().0),
                }
            })
            .collect();
        let audiences = self
            .ledger
            .audiences()
            .iter()
            .map(|(name, a)| AudienceReport {
                audience: name.to_string(),
                consumed: a.consumed,
                duplicates: a.duplicates,
                out_of_order: a.out_of_order,
            })
            .collect();
        Report {
            seed: self.seed,
            digest: self.digest(),
            now: self.now,
            events: self.events_processed,
            produced: self
                .producers
                .iter()
                .flatten()
                .map(|p| p.stats.produced)
                .sum(),
            acked: self.ledger.acked,
            failed: self.ledger.failed,
            failures: failures.into_iter().collect(),
            consumed: self.ledger.consumed(),
            lost_acked,
            lost,
            expired,
            duplicates: self.ledger.duplicates(),
            out_of_order: self.ledger.out_of_order(),
            partitions,
            audiences,
            groups: self
                .group_names()
                .iter()
                .map(|g| self.group_view(g, true))
                .collect(),
            refused: self.refused.clone(),
            refused_count: self.refused_count,
            waiting_for_topics: self.waiting_for_topics(),
        }
    }

    /// (consumer, topic) for every topic a running consumer wants that does not exist.
    fn waiting_for_topics(&self) -> Vec<(String, String)> {
        let md = self.controller.metadata();
        self.consumers
            .iter()
            .flatten()
            .filter(|c| !matches!(c.state, AppState::Crashed | AppState::Stopped))
            .flat_map(|c| c.spec.topics.iter().map(move |t| (c, t)))
            .filter(|(_, t)| !md.topics.contains_key(t.as_str()))
            .map(|(c, t)| (c.spec.name.clone(), t.clone()))
            .collect()
    }

    /// Every group a consumer names, sorted.
    fn group_names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self
            .consumers
            .iter()
            .flatten()
            .filter_map(|c| c.membership.as_ref().map(|m| m.group.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The group's offsets partition, its coordinator (that partition's leader) and the
    /// group's state there.
    pub fn coordinator_of(&self, group: &str) -> (u32, Option<u32>, Option<&Group>) {
        let md = self.controller.metadata();
        let partitions = md
            .topics
            .get(OFFSETS_TOPIC)
            .map_or(1, |t| t.partitions.len() as u32);
        let partition = crate::partitioner::coordinator_partition(group, partitions);
        let leader = md.leader(OFFSETS_TOPIC, partition);
        let state = leader
            .map(|b| &self.brokers[b as usize])
            .filter(|slot| slot.up)
            .and_then(|slot| slot.broker.coordinator.groups().find(|g| &*g.id == group));
        (partition, leader, state)
    }

    /// The producers, for the invariant checker.
    pub fn producers(&self) -> impl Iterator<Item = &Producer> {
        self.producers.iter().flatten()
    }

    /// The producer with this index, if it still exists.
    pub fn producer(&self, index: u32) -> Option<&Producer> {
        self.producers.get(index as usize).and_then(Option::as_ref)
    }

    /// What the latest step may have changed (the checker looks only there).
    pub fn touched(&self) -> Touched {
        self.touched
    }

    /// The acknowledgements and deliveries of the latest step (for the checker).
    pub fn step_observations(&self) -> &[StepObservation] {
        &self.step_observations
    }

    /// The consumers, for the invariant checker.
    pub fn consumers(&self) -> impl Iterator<Item = &Consumer> {
        self.consumers.iter().flatten()
    }

    fn sample_lag(&mut self) {
        let ms = self.now.0 / 1000;
        let mut period = 500;
        for g in self.group_names() {
            let lag = self.group_lag(&g);
            let stats = self.group_stats.entry(g).or_default();
            if stats.history.len() >= LAG_SAMPLES {
                // Keep every other sample: twice the span at half the resolution.
                let kept: std::collections::VecDeque<(u64, u64)> =
                    stats.history.iter().step_by(2).copied().collect();
                stats.history = kept;
            }
            stats.history.push_back((ms, lag));
            if let (Some(a), Some(b)) = (stats.history.front(), stats.history.back()) {
                let span = b.0 - a.0;
                period = period.max(span / (LAG_SAMPLES as u64 / 2));
            }
        }
        self.next_lag_sample = Instant((ms / period + 1) * period * 1000);
    }

    /// Every partition the group subscribes to, as the group sees it.
    fn group_partitions(&self, group: &Arc<str>) -> Vec<GroupPartition> {
        let (_, _, state) = self.coordinator_of(group);
        let md = self.controller.metadata();
        let in_group = |c: &&Consumer| c.membership.as_ref().is_some_and(|m| m.group == *group);
        let mut topics: Vec<&str> = self
            .consumers
            .iter()
            .flatten()
            .filter(in_group)
            .flat_map(|c| c.spec.topics.iter().map(String::as_str))
            .collect();
        topics.sort();
        topics.dedup();
        let mut out = Vec::new();
        for t in topics {
            let Some(topic) = md.topics.get(t) else {
                continue;
            };
            for (i, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: i as u32,
                };
                let r = self.authoritative_replica(&tp, pm);
                let hw = r.map_or(0, |r| r.high_watermark.0);
                let log_start = r.map_or(0, |r| r.log.log_start().0);
                let committed = state.and_then(|g| g.offsets.get(&tp)).map(|o| o.0);
                let from = committed
                    .or_else(|| {
                        self.group_starts
                            .get(&(group.clone(), tp.clone()))
                            .map(|o| o.0)
                    })
                    .unwrap_or(log_start);
                let owner = self
                    .consumers
                    .iter()
                    .flatten()
                    .filter(in_group)
                    .filter(|c| !matches!(c.state, AppState::Crashed | AppState::Stopped))
                    .find(|c| c.positions.contains_key(&tp))
                    .map(|c| c.spec.name.clone());
                out.push(GroupPartition {
                    lag: hw.saturating_sub(from),
                    tp,
                    owner,
                    committed,
                    hw,
                });
            }
        }
        out
    }

    fn group_lag(&self, group: &Arc<str>) -> u64 {
        self.group_partitions(group).iter().map(|p| p.lag).sum()
    }

    fn group_view(&self, group: &Arc<str>, audit: bool) -> GroupView {
        let (offsets_partition, coordinator, state) = self.coordinator_of(group);
        let members_of: Vec<&Consumer> = self
            .consumers
            .iter()
            .flatten()
            .filter(|c| c.membership.as_ref().is_some_and(|m| m.group == *group))
            .collect();
        let consumer_of = |member: &str| {
            members_of
                .iter()
                .filter(|c| !matches!(c.state, AppState::Crashed | AppState::Stopped))
                .find(|c| {
                    c.membership
                        .as_ref()
                        .is_some_and(|m| &*m.member_id == member)
                })
                .map(|c| c.spec.name.clone())
        };
        let members = state.map_or(Vec::new(), |g| {
            g.members
                .values()
                .map(|m| GroupMemberView {
                    member_id: m.id.to_string(),
                    consumer: consumer_of(&m.id),
                    instance_id: m.instance_id.as_ref().map(|s| s.to_string()),
                    assignment: m
                        .assignment
                        .iter()
                        .map(|tp| (tp.topic.to_string(), tp.partition))
                        .collect(),
                })
                .collect()
        });
        let parts = self.group_partitions(group);
        let lag = parts.iter().map(|p| p.lag).sum();
        let stats = self.group_stats.get(group);
        let history: Vec<(u64, u64)> =
            stats.map_or(Vec::new(), |s| s.history.iter().copied().collect());
        let drain_ms = drain_time(&history);
        let audience = self.ledger.audiences().get(&*format!("group:{group}"));
        let lost = audit.then(|| self.audit_group_lost(group, &parts));
        GroupView {
            group: group.to_string(),
            coordinator,
            offsets_partition,
            state: state.map_or("Empty".to_string(), |g| g.state.name().to_string()),
            generation: state.map_or(0, |g| g.generation),
            protocol: state.and_then(|g| g.protocol.clone()),
            leader: state.and_then(|g| g.leader.as_ref().map(|l| l.to_string())),
            members,
            partitions: parts
                .into_iter()
                .map(|p| GroupPartitionView {
                    topic: p.tp.topic.to_string(),
                    partition: p.tp.partition,
                    owner: p.owner,
                    committed: p.committed,
                    high_watermark: p.hw,
                    lag: p.lag,
                })
                .collect(),
            lag,
            lag_history: history,
            drain_ms,
            rebalances: stats.map_or(0, |s| s.rebalances),
            paused_ms: members_of.iter().map(|c| c.stats.paused.as_millis()).sum(),
            processed: audience.map_or(0, |a| a.consumed),
            duplicates: audience.map_or(0, |a| a.duplicates),
            lost,
        }
    }

    /// Records between where the group started and its committed offset that it never
    /// processed: committed past without processing (at-most-once after a crash).
    fn audit_group_lost(&self, group: &Arc<str>, parts: &[GroupPartition]) -> u64 {
        let Some(audience) = self.ledger.audiences().get(&*format!("group:{group}")) else {
            return 0;
        };
        let md = self.controller.metadata();
        let mut lost = 0;
        for GroupPartition { tp, committed, .. } in parts {
            let Some(committed) = committed else { continue };
            let Some(start) = self.group_starts.get(&(group.clone(), tp.clone())) else {
                continue;
            };
            let Some(pm) = md.partition(&tp.topic, tp.partition) else {
                continue;
            };
            let Some(r) = self.authoritative_replica(tp, pm) else {
                continue;
            };
            for batch in r.log.segments().iter().flat_map(|s| s.batches.iter()) {
                for (i, rec) in batch.records.iter().enumerate() {
                    let offset = batch.base_offset.0 + i as u64;
                    if offset >= start.0 && offset < *committed && !audience.was_delivered(rec.id) {
                        lost += 1;
                    }
                }
            }
        }
        lost
    }

    /// Acknowledged records that are no longer in their partition's log (and were not removed
    /// by retention). Returns the first 100, the count, and the count expired by retention.
    fn audit_lost(&self) -> (Vec<LostRecord>, u64, u64) {
        let mut lost = Vec::new();
        let (mut lost_count, mut expired) = (0u64, 0u64);
        for p in self.producers.iter().flatten() {
            let Some(topic) = self.controller.metadata().topics.get(p.spec.topic.as_str()) else {
                continue;
            };
            // Which of this producer's records each partition still holds.
            let outcomes = self.ledger.outcomes(p.index);
            let mut present = vec![false; outcomes.len()];
            let mut log_starts = Vec::with_capacity(topic.partitions.len());
            for (i, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: i as u32,
                };
                let Some(r) = self.authoritative_replica(&tp, pm) else {
                    log_starts.push(0);
                    continue;
                };
                log_starts.push(r.log.log_start().0);
                for segment in r.log.segments() {
                    for batch in &segment.batches {
                        for rec in batch
                            .records
                            .iter()
                            .filter(|rec| rec.id.producer == p.index)
                        {
                            if let Some(slot) = present.get_mut(rec.id.seq as usize) {
                                *slot = true;
                            }
                        }
                    }
                }
            }
            for (seq, outcome) in outcomes.iter().enumerate() {
                let Outcome::Acked { partition, offset } = outcome else {
                    continue;
                };
                if present[seq] {
                    continue;
                }
                let log_start = log_starts.get(partition as usize).copied().unwrap_or(0);
                let below_start = offset.map_or(log_start > 0, |o| o.0 < log_start);
                if below_start {
                    expired += 1;
                    continue;
                }
                lost_count += 1;
                if lost.len() < 100 {
                    lost.push(LostRecord {
                        id: crate::record::RecordId {
                            producer: p.index,
                            seq: seq as u64,
                        },
                        producer: p.spec.name.clone(),
                        topic: p.spec.topic.clone(),
                        partition,
                        offset: offset.map(|o| o.0),
                    });
                }
            }
        }
        (lost, lost_count, expired)
    }
}

/// Time to drain `lag` at the rate it fell over the last samples (None when not falling).
fn drain_time(history: &[(u64, u64)]) -> Option<u64> {
    let last = *history.last()?;
    let first = history[history.len().saturating_sub(10)];
    if last.1 == 0 || first.1 <= last.1 || last.0 <= first.0 {
        return None;
    }
    let fell = first.1 - last.1;
    Some(last.1.saturating_mul(last.0 - first.0) / fell)
}

enum NodeRef<'a> {
    Controller(&'a mut Controller),
    Broker(&'a mut Broker),
    Producer(&'a mut Producer),
    Consumer(&'a mut Consumer),
}

/// Kafka's topic name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() || name.len() > 249 {
        return reject("name", "a topic name has 1 to 249 characters");
    }
    if name == "." || name == ".." {
        return reject("name", "a topic name cannot be \".\" or \"..\"");
    }
    legal_characters("name", name, "a topic name")
}

/// Topic names and client ids use Kafka's legal characters: letters, digits, '.', '_', '-'.
fn legal_characters(field: &str, name: &str, what: &str) -> Result<(), CommandError> {
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => reject(
            field,
            format!("{c:?} is not allowed in {what} (use letters, digits, '.', '_', '-')"),
        ),
        None => Ok(()),
    }
}

fn validate_client_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() || name.len() > 64 {
        return reject("id", "an id has 1 to 64 characters");
    }
    legal_characters("id", name, "an id")
}

fn record_view(offset: Offset, r: &crate::record::Record) -> RecordView {
    const PREVIEW: usize = 64;
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(PREVIEW)]).into_owned();
        if b.len() > PREVIEW {
            format!("{s}…")
        } else {
            s
        }
    };
    RecordView {
        offset: offset.0,
        timestamp_ms: r.timestamp_ms,
        key: r.key.as_deref().map(text),
        value: r.value.as_deref().map(text),
        value_bytes: r.value.as_ref().map_or(0, |v| v.len() as u32),
        headers: r
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    h.value.as_deref().map(text).unwrap_or_default(),
                )
            })
            .collect(),
        id: r.id,
    }
}

fn producer_view(p: &Producer) -> ProducerView {
    let c = p.config();
    ProducerView {
        name: p.spec.name.clone(),
        topic: p.spec.topic.clone(),
        running: p.is_running(),
        rate_per_sec: p.spec.rate_per_sec,
        acks: c.acks.name().to_string(),
        idempotent: c.idempotent,
        produced: p.stats.produced,
        acked: p.stats.acked,
        failed: p.stats.failed,
        retries: p.stats.retries,
        requests: p.stats.requests,
        batches: p.stats.batches,
        queued_batches: p.queued_batches(),
        in_flight_batches: p.in_flight_batches(),
    }
}

fn consumer_view(c: &Consumer) -> ConsumerView {
    let partitions: Vec<ConsumerPartitionView> = c
        .positions
        .iter()
        .map(|(tp, p)| ConsumerPartitionView {
            topic: tp.topic.to_string(),
            partition: tp.partition,
            position: p.position.map(|o| o.0),
            high_watermark: p.high_watermark.map(|o| o.0),
            lag: p.lag(),
        })
        .collect();
    let state = match c.state {
        AppState::Polling => "polling".to_string(),
        AppState::Processing { .. } => "processing".to_string(),
        AppState::Committing { .. } => "committing".to_string(),
        AppState::Crashed => "crashed".to_string(),
        AppState::Restarting { .. } => "restarting".to_string(),
        AppState::Stopped => "stopped".to_string(),
        AppState::Failed(e) => format!("failed: {e}"),
    };
    let m = c.membership.as_ref();
    ConsumerView {
        name: c.spec.name.clone(),
        group: c.config().group_id.clone(),
        state,
        member_id: m.map(|m| m.member_id.to_string()),
        generation: m.map(|m| m.generation),
        member_state: m.map(|m| format!("{:?}", m.state)),
        processing_us_per_record: c.spec.processing_per_record.as_micros(),
        commit: c.spec.commit.name().to_string(),
        processed: c.stats.processed,
        commits: c.stats.commits,
        failed_commits: c.stats.failed_commits,
        paused_ms: c.stats.paused.as_millis(),
        consumed: c.stats.consumed,
        lag: partitions.iter().filter_map(|p| p.lag).sum(),
        partitions,
    }
}
