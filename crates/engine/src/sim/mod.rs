//! The simulator: the only owner of virtual time, the event queue, the PRNG, the network and
//! faults. It feeds inputs to nodes, turns their effects into events, records the trace and
//! keeps the ledger. Same setup + same seed + same commands = the same run, bit for bit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::sync::Arc;

use crate::broker::Broker;
use crate::config::{ConfigError, ConfigValue, Configs};
use crate::consumer::{AppState, Consumer, ConsumerSpec};
use crate::controller::Controller;
use crate::group::coordinator::{Group, OFFSETS_TOPIC};
use crate::hardware::Hardware;
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
use crate::trace::{
    numbers, BrokerId, NodeId, NodeNames, Trace, TraceEvent, TraceKind, TruncatedRecords,
};

mod alerts;
mod command;
mod costs;
mod failed_records;
mod journey;
mod metrics;
mod processors;
mod queue;
mod request_metrics;
mod stats;
mod view;

pub use alerts::{decimal, AlertRule, AlertView};
pub use command::*;
use journey::Watch;
pub use journey::{EndKind, Journey, JourneyStep, StepKind};
pub use metrics::{MetricPoint, METRICS};
use queue::*;
use stats::*;

/// The shape of the cluster. No `Default`: the cluster shape and the seed are always explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSetup {
    pub brokers: u32,
    pub configs: Configs,
    pub network: NetworkConfig,
    /// What the machines cost (`ideal`: nothing but latency).
    pub hardware: Hardware,
    /// How many recent trace events to keep (the digest covers all of them regardless).
    pub trace_capacity: usize,
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
        /// Through the cost model already: read off its connection and served by a request
        /// handler thread (`costs`), so it is handled now whatever the network does.
        admitted: bool,
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
    /// A call from one client of a processor to the other, within the process.
    Handoff {
        to: NodeId,
        call: crate::processor::AppCall,
    },
}

impl Event {
    /// The node a message, a disconnection or a timer is for.
    fn network_target(&self) -> Option<NodeId> {
        match self {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Some(*to),
            Event::Timer { node, .. } => Some(*node),
            Event::Handoff { .. } | Event::Command(_) => None,
        }
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
    /// The cost model's queues, unless the hardware is `ideal`.
    costs: Option<Box<costs::Costs>>,
    /// Per broker, what producers sent it and consumers fetched from it (its metrics).
    traffic: Vec<metrics::Traffic>,
    /// Brokers' request times (`TotalTimeMs`, ...), kept while a monitor runs.
    requests: request_metrics::RequestMetrics,
    placement_rng: Prng,
    controller: Controller,
    brokers: Vec<BrokerSlot>,
    producers: Vec<Option<Producer>>,
    consumers: Vec<Option<Consumer>>,
    /// Every client's name by its index, kept after it is removed, so its events still read
    /// with the name the panels showed.
    names: NodeNames,
    /// Per consumer: its process incarnation; messages and timers of an older one are dropped.
    consumer_incarnations: Vec<u32>,
    /// What is recorded about groups over time, fed every trace event.
    groups: GroupObserver,
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
    /// The one record followed, if any (`journey`): it reads and never changes the run.
    watch: Option<Watch>,
    /// Kafka's metrics sampled at an interval, and the alert rules on them, if watched: it
    /// reads the run, and adds alerts to the trace.
    monitor: Option<Box<metrics::Monitor>>,
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
                .map(BrokerId)
                .map(|id| BrokerRegistration { id, fenced: false })
                .collect(),
            controller: BrokerId(0),
            topics: BTreeMap::new(),
        });
        let brokers = (0..setup.brokers)
            .map(BrokerId)
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
            costs: costs::Costs::of(&setup),
            traffic: Vec::new(),
            requests: request_metrics::RequestMetrics::default(),
            placement_rng: Prng::stream(seed, Stream::Placement),
            trace: Trace::new(setup.trace_capacity),
            setup,
            controller,
            brokers,
            producers: Vec::new(),
            consumers: Vec::new(),
            names: NodeNames::default(),
            consumer_incarnations: Vec::new(),
            groups: GroupObserver::default(),
            ledger: Ledger::new(),
            effects: Vec::new(),
            refused: Vec::new(),
            refused_count: 0,
            touched: Touched::Everything,
            step_observations: Vec::new(),
            observations: 0,
            watch: None,
            monitor: None,
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        };
        sim.with_node(NodeId::Controller, |node, now, out| {
            if let NodeRef::Controller(c) = node {
                c.start(now, out);
            }
        });
        for id in sim.broker_ids() {
            sim.record(TraceKind::BrokerStarted { broker: id });
            sim.start_broker(id);
        }
        Ok(sim)
    }

    /// The clients' names by the index their trace events carry.
    pub fn names(&self) -> &NodeNames {
        &self.names
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
    pub fn broker(&self, id: BrokerId) -> Option<(&Broker, bool)> {
        self.brokers.get(id.0 as usize).map(|s| (&s.broker, s.up))
    }

    fn start_broker(&mut self, id: BrokerId) {
        let incarnation = self.brokers[id.0 as usize].incarnation;
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

    /// Forgets the scheduled commands due at `from` or later: a timeline whose future was
    /// replaced (the playground edits history after a seek back) schedules its new future.
    pub fn drop_commands_from(&mut self, from: Instant) {
        self.queue.drop_commands_from(from);
    }

    /// Processes the next event. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else {
            return false;
        };
        assert!(at >= self.now, "time never goes backwards");
        if self.monitor.is_some() {
            self.sample_metrics(at, false);
        }
        self.now = at;
        self.events_processed += 1;
        self.step_observations.clear();
        self.touched = match &event {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Touched::Node(*to),
            Event::Timer { node, .. } => Touched::Node(*node),
            Event::Handoff { to, .. } => Touched::Node(*to),
            Event::Command(_) => Touched::Everything,
        };
        // Following a record costs this branch when nothing is followed.
        let watching = self.watch.is_some();
        if watching {
            self.watch_before(&event);
        }
        self.dispatch(event);
        if watching {
            self.watch_after();
        }
        if self.now >= self.groups.next_lag_sample {
            self.sample_lag();
        }
        true
    }

    /// Processes every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        while self.queue.next_at().is_some_and(|at| at <= until) {
            self.step();
        }
        if self.monitor.is_some() {
            self.sample_metrics(until, true);
        }
        self.now = self.now.max(until);
    }

    /// Like `run_until`, but stops after `max_events` (for a UI frame budget).
    /// Returns true when `until` was reached.
    pub fn run_until_bounded(&mut self, until: Instant, max_events: u64) -> bool {
        for _ in 0..max_events {
            if self.queue.next_at().is_none_or(|at| at > until) {
                if self.monitor.is_some() {
                    self.sample_metrics(until, true);
                }
                self.now = self.now.max(until);
                return true;
            }
            self.step();
        }
        false
    }

    /// Takes every metrics sample due before `limit` (or at it, if `inclusive`): a sample at
    /// T sees every event up to and including T. Alerts that fire or resolve are traced at
    /// the sample's time.
    fn sample_metrics(&mut self, limit: Instant, inclusive: bool) {
        while let Some(due) = self.monitor.as_ref().map(|m| m.next_at()) {
            if due > limit || (due == limit && !inclusive) {
                return;
            }
            let mut monitor = self.monitor.take().expect("checked above");
            self.now = self.now.max(due);
            let changes = monitor.sample(self, due);
            self.monitor = Some(monitor);
            for c in changes {
                self.record(TraceKind::Alert {
                    rule: c.rule,
                    scope: c.scope,
                    fired: c.fired,
                    value_milli: c.value_milli,
                });
            }
        }
    }

    /// Samples Kafka's metrics every `interval` of virtual time from now on, and checks
    /// `rules` against each sample: a fired or resolved alert is a trace event. It reads the
    /// run and changes nothing else in it. Replaces any earlier monitor.
    pub fn monitor(&mut self, interval: Duration, rules: &[AlertRule]) {
        self.monitor = Some(Box::new(metrics::Monitor::new(interval, rules)));
    }

    /// Keeps every metrics sample for [`Sim::take_metric_points`] (starting a monitor without
    /// alerts, every `interval`, unless one runs).
    pub fn keep_metric_points(&mut self, interval: Duration) {
        self.monitor
            .get_or_insert_with(|| Box::new(metrics::Monitor::new(interval, &[])))
            .keep_points();
    }

    /// The metric points sampled since the last call (see [`Sim::keep_metric_points`]).
    pub fn take_metric_points(&mut self) -> Vec<MetricPoint> {
        self.monitor
            .as_mut()
            .map_or_else(Vec::new, |m| m.take_points())
    }

    /// The metrics sampling interval, if metrics are watched.
    pub fn metrics_interval(&self) -> Option<Duration> {
        self.monitor.as_ref().map(|m| m.interval())
    }

    /// Alerts fired and resolved so far, in order.
    pub fn alert_history(&self) -> Vec<crate::snapshot::AlertEvent> {
        self.monitor
            .as_ref()
            .map_or_else(Vec::new, |m| m.history().to_vec())
    }

    /// The alert rules and the scopes each fires on now.
    pub fn alerts(&self) -> Vec<AlertView> {
        self.monitor.as_ref().map_or_else(Vec::new, |m| m.alerts())
    }

    fn push(&mut self, at: Instant, event: Event) {
        self.next_seq += 1;
        self.queue.push(at, self.next_seq, event);
    }

    /// A truncation's removed records become, for its words, how many of each producer's had
    /// been acknowledged (the ledger knows; the broker does not).
    fn with_acknowledged(&self, kind: TraceKind) -> TraceKind {
        let TraceKind::FollowerTruncated {
            broker,
            tp,
            from,
            to,
            records: TruncatedRecords::Removed(ids),
        } = kind
        else {
            return kind;
        };
        let mut lost: Vec<(u32, u64, String)> = Vec::new();
        for (offset, id) in ids {
            // Acknowledged at this very place: a copy whose retry was acknowledged elsewhere
            // is not lost.
            let here = Outcome::Acked {
                partition: tp.partition,
                offset: Some(offset),
            };
            if self.ledger.outcome(id) != here {
                continue;
            }
            match lost.iter_mut().find(|(p, _, _)| *p == id.producer) {
                Some(entry) => entry.1 += 1,
                None => {
                    let acks = self
                        .producers
                        .get(id.producer as usize)
                        .and_then(|p| p.as_ref().map(|p| p.config().acks.name().to_string()));
                    lost.push((id.producer, 1, acks.unwrap_or_default()));
                }
            }
        }
        let records = TruncatedRecords::Acknowledged(lost);
        TraceKind::FollowerTruncated {
            broker,
            tp,
            from,
            to,
            records,
        }
    }

    /// Every trace event goes to the trace and to the observers beside the loop.
    fn record(&mut self, kind: TraceKind) {
        let consumers = &self.consumers;
        let group_of = |c: u32| {
            consumers
                .get(c as usize)?
                .as_ref()?
                .membership
                .as_ref()
                .map(|m| m.group.clone())
        };
        self.groups.on_trace(self.now, &kind, group_of);
        if let Some(watch) = &mut self.watch {
            watch.on_trace(&kind);
        }
        self.trace.push(TraceEvent { at: self.now, kind });
    }

    fn dispatch(&mut self, event: Event) {
        // A paused broker handles nothing: its events wait, in order, until it resumes.
        if let Some(NodeId::Broker(b)) = event.network_target() {
            if let Some(until) = self.brokers[b.0 as usize]
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
                admitted,
            } => {
                if !admitted && self.net.is_blocked(from, to) {
                    return; // Lost in a network partition.
                }
                if let NodeId::Consumer(c) = to {
                    if self.consumer_incarnations[c as usize] != incarnation {
                        return; // The process that sent this request is gone.
                    }
                }
                if let NodeId::Broker(b) = to {
                    let slot = &self.brokers[b.0 as usize];
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
                    if self.costs.is_some() && from != NodeId::Controller {
                        self.served(from, b, msg, incarnation, admitted);
                        return;
                    }
                    self.time_request(b, from, &msg);
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
                    let slot = &self.brokers[b.0 as usize];
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
            Event::Handoff { to, call } => self.hand_off(to, call),
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
                .get_mut(i.0 as usize)
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

    /// A node's trace event: recorded, and an election paid for by the controller.
    fn trace_effect(&mut self, kind: TraceKind) {
        if let (TraceKind::LeaderElected { .. }, Some(costs)) = (&kind, self.costs.as_mut()) {
            costs.elected();
        }
        let kind = self.with_acknowledged(kind);
        self.record(kind)
    }

    fn apply_effects(&mut self, from: NodeId, out: &mut Vec<Effect>) {
        for effect in out.drain(..) {
            match effect {
                Effect::Send { to, msg } => {
                    self.count_traffic(from, to, &msg);
                    let sent = match self.costs.is_some() {
                        true => self.transmit(from, to, &msg),
                        false => self.now,
                    };
                    if let (NodeId::Broker(b), true) = (from, self.monitor.is_some()) {
                        self.requests.responded(b, to, &msg, self.now, sent);
                    }
                    let at = self.net.delivery_time(sent, from, to);
                    let incarnation = self.incarnation_of(to);
                    self.push(
                        at,
                        Event::Deliver {
                            from,
                            to,
                            msg,
                            incarnation,
                            admitted: false,
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
                Effect::Trace(kind) => self.trace_effect(kind),
                Effect::Handoff(call) => {
                    let (topic, call) = failed_records::unwrap_forward(call);
                    let to = match (topic, from) {
                        (Some(topic), NodeId::Consumer(c)) => self.forwarder(c, &topic),
                        (_, NodeId::Producer(p)) => {
                            self.partner_of(from).or(self.forwarding_consumer(p))
                        }
                        _ => self.partner_of(from),
                    };
                    if let Some(to) = to {
                        self.push(self.now, Event::Handoff { to, call });
                    }
                }
                Effect::Observe(observation) => {
                    use crate::ledger::Observation as O;
                    if let Some(watch) = &mut self.watch {
                        watch.on_observation(&observation);
                    }
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
            NodeId::Broker(b) => self.brokers[b.0 as usize].incarnation,
            NodeId::Consumer(c) => self.consumer_incarnations[c as usize],
            _ => 0,
        }
    }

    /// The newest producer of that name: a reconfigured producer's closed instance keeps it
    /// while it sends what it holds (see [`Command::ReconfigureProducer`]).
    fn producer_index(&self, name: &str) -> Option<usize> {
        self.producers
            .iter()
            .rposition(|p| p.as_ref().is_some_and(|p| p.spec.name == name))
    }

    fn consumer_index(&self, name: &str) -> Option<usize> {
        self.consumers
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.spec.name == name))
    }

    fn broker_ids(&self) -> Vec<BrokerId> {
        (0..self.setup.brokers).map(BrokerId).collect()
    }

    /// The replica whose log is the partition's truth: the leader's, else the first replica's.
    fn authoritative_replica(
        &self,
        tp: &TopicPartition,
        pm: &PartitionMetadata,
    ) -> Option<&crate::broker::Replica> {
        let id = pm.leader.unwrap_or(pm.replicas[0]);
        self.brokers[id.0 as usize].broker.replica(tp)
    }

    /// Every group a consumer names, sorted.
    fn group_names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self
            .consumers
            .iter()
            .flatten()
            .filter_map(|c| c.membership.as_ref().map(|m| m.group.clone()))
            .collect();
        crate::sort::sort(&mut names);
        names.dedup();
        names
    }

    /// The group's offsets partition, its coordinator (that partition's leader) and the
    /// group's state there.
    pub fn coordinator_of(&self, group: &str) -> (u32, Option<BrokerId>, Option<&Group>) {
        let md = self.controller.metadata();
        let partitions = md
            .topics
            .get(OFFSETS_TOPIC)
            .map_or(1, |t| t.partitions.len() as u32);
        let partition = crate::partitioner::coordinator_partition(group, partitions);
        let leader = md.leader(OFFSETS_TOPIC, partition);
        let state = leader
            .map(|b| &self.brokers[b.0 as usize])
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
}

enum NodeRef<'a> {
    Controller(&'a mut Controller),
    Broker(&'a mut Broker),
    Producer(&'a mut Producer),
    Consumer(&'a mut Consumer),
}
