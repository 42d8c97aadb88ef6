//! The controller (KRaft style, modelled as one always-available node): it owns the cluster
//! metadata, tracks broker liveness by heartbeats, fences silent brokers after
//! `broker.session.timeout.ms`, elects leaders (first live ISR member in assignment order,
//! or any live replica when unclean election is allowed), applies ISR changes requested by
//! leaders (AlterPartition), creates the topics brokers ask for (`auto.create.topics.enable`),
//! and moves leadership back to preferred replicas (reference §3.3–3.4).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Configs, Scope};
use crate::metadata::{
    assign_replicas, ClusterMetadata, PartitionMetadata, TopicConfig, TopicMetadata,
};
use crate::node::{Effect, Input, Timer};
use crate::protocol::{AlterPartitionRequest, AlterPartitionResponse, ErrorCode, Message};
use crate::record::{LeaderEpoch, TopicPartition};
use crate::rng::Prng;
use crate::time::{Duration, Instant};
use crate::trace::{BrokerId, FenceCause, NodeId, PartitionChangeCause, TraceKind};

#[derive(Clone, Debug, PartialEq, Eq)]
struct BrokerLiveness {
    last_heartbeat: Instant,
    incarnation: u32,
    fenced: bool,
}

/// The controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    metadata: Arc<ClusterMetadata>,
    brokers: BTreeMap<BrokerId, BrokerLiveness>,
    session_timeout: Duration,
    heartbeat_interval: Duration,
    auto_leader_rebalance: bool,
    rebalance_interval: Duration,
    /// When the next preferred-leader balance runs (Kafka's `imbalancedScheduled`).
    balance: BalanceSchedule,
    /// Broker settings: the defaults of topics it creates on request.
    configs: Configs,
    /// Replica placement of those topics.
    rng: Prng,
    /// The first producer id of the next block (`ProducerIdControlManager.nextProducerBlock`).
    next_producer_id: i64,
    /// Deliberate bugs for the checker's tests (`planted`).
    #[cfg(feature = "planted-bugs")]
    pub(crate) planted: crate::planted::Planted,
}

/// `QuorumController.ImbalanceSchedule`: a balance is scheduled, or the next one runs a
/// full `leader.imbalance.check.interval.seconds` after it is scheduled (`Deferred`), or
/// 10 ms after (`Immediately`: the last run stopped at its cap of elections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BalanceSchedule {
    Deferred,
    Immediately,
    Scheduled,
}

/// `ReplicationControlManager.MAX_ELECTIONS_PER_IMBALANCE`.
const MAX_ELECTIONS_PER_BALANCE: usize = 1_000;

/// Kafka's leader election for one partition (§3.4). Returns the new leader and whether the
/// choice was unclean.
pub fn elect_leader(
    pm: &PartitionMetadata,
    unclean_allowed: bool,
    alive: impl Fn(BrokerId) -> bool,
) -> Option<(BrokerId, bool)> {
    if let Some(current) = pm.leader.filter(|&l| alive(l) && pm.isr.contains(&l)) {
        return Some((current, false));
    }
    if let Some(&r) = pm
        .replicas
        .iter()
        .find(|&&r| pm.isr.contains(&r) && alive(r))
    {
        return Some((r, false));
    }
    if unclean_allowed {
        return pm.replicas.iter().find(|&&r| alive(r)).map(|&r| (r, true));
    }
    None
}

impl Controller {
    pub fn new(metadata: Arc<ClusterMetadata>, configs: &Configs, rng: Prng) -> Controller {
        let ms = |k: &str| Duration::from_millis(configs.int(k) as u64);
        let brokers = crate::sort::map(metadata.brokers.iter().map(|b| {
            (
                b.id,
                BrokerLiveness {
                    last_heartbeat: Instant::ZERO,
                    incarnation: 0,
                    fenced: false,
                },
            )
        }));
        Controller {
            metadata,
            brokers,
            session_timeout: ms("broker.session.timeout.ms"),
            heartbeat_interval: ms("broker.heartbeat.interval.ms"),
            auto_leader_rebalance: configs.bool("auto.leader.rebalance.enable"),
            rebalance_interval: Duration::from_millis(
                configs.int("leader.imbalance.check.interval.seconds") as u64 * 1000,
            ),
            balance: BalanceSchedule::Deferred,
            configs: configs.clone(),
            rng,
            next_producer_id: 0,
            #[cfg(feature = "planted-bugs")]
            planted: Default::default(),
        }
    }

    pub fn metadata(&self) -> &Arc<ClusterMetadata> {
        &self.metadata
    }

    /// When an unfenced broker's session runs out unless it heartbeats (its last heartbeat
    /// plus `broker.session.timeout.ms`); the controller fences it at its first session check
    /// after that. `None` for a fenced or unknown broker.
    pub fn session_expires(&self, broker: BrokerId) -> Option<Instant> {
        let b = self.brokers.get(&broker).filter(|b| !b.fenced)?;
        Some(b.last_heartbeat + self.session_timeout)
    }

    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    pub fn is_fenced(&self, broker: BrokerId) -> bool {
        self.brokers.get(&broker).is_some_and(|b| b.fenced)
    }

    pub fn start(&mut self, now: Instant, out: &mut Vec<Effect>) {
        out.push(Effect::SetTimer {
            at: now + self.heartbeat_interval,
            timer: Timer::SessionCheck,
        });
    }

    /// An admin change (create or delete a topic): applied at once; the caller publishes.
    pub fn admin_update(&mut self, f: impl FnOnce(&mut ClusterMetadata)) -> Arc<ClusterMetadata> {
        let mut m = (*self.metadata).clone();
        f(&mut m);
        m.version += 1;
        self.metadata = Arc::new(m);
        self.metadata.clone()
    }

    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Effect>) {
        match input {
            Input::App(call) => unreachable!("the controller got {call:?}"),
            Input::Message { from, msg } => match msg {
                Message::BrokerHeartbeat {
                    broker,
                    incarnation,
                    metadata_version,
                } => {
                    self.on_heartbeat(now, broker, incarnation, out);
                    if metadata_version < self.metadata.version {
                        let msg = Message::MetadataUpdate {
                            metadata: self.metadata.clone(),
                        };
                        out.push(Effect::Send { to: from, msg });
                    }
                }
                Message::AlterPartition(request) => self.on_alter_partition(from, request, out),
                Message::CreateTopics { topic } => self.on_create_topic(from, topic, out),
                Message::AllocateProducerIds { .. } => {
                    // `ProducerIdControlManager`: consecutive blocks from 0, each handed once.
                    let first = crate::record::ProducerId(self.next_producer_id);
                    let count = crate::txn::PRODUCER_ID_BLOCK;
                    self.next_producer_id += i64::from(count);
                    let msg = Message::AllocateProducerIdsResponse { first, count };
                    out.push(Effect::Send { to: from, msg });
                }
                other => unreachable!("controller got {}", other.kind()),
            },
            Input::Disconnected { .. } => {}
            Input::Timer(Timer::SessionCheck) => {
                let expired: Vec<BrokerId> = self
                    .brokers
                    .iter()
                    .filter(|(_, b)| {
                        !b.fenced && now.saturating_since(b.last_heartbeat) > self.session_timeout
                    })
                    .map(|(&id, _)| id)
                    .collect();
                let cause = FenceCause::SessionExpired {
                    session_timeout_ms: self.session_timeout.as_millis(),
                };
                for broker in expired {
                    self.fence(broker, cause.clone(), out);
                }
                out.push(Effect::SetTimer {
                    at: now + self.heartbeat_interval,
                    timer: Timer::SessionCheck,
                });
            }
            Input::Timer(Timer::LeaderRebalance) => {
                let capped = self.preferred_leader_election(out);
                self.balance = if capped {
                    BalanceSchedule::Immediately
                } else {
                    BalanceSchedule::Deferred
                };
            }
            Input::Timer(other) => unreachable!("controller got timer {other:?}"),
        }
        self.maybe_schedule_balance(now, out);
    }

    /// `QuorumController.maybeScheduleNextBalancePartitionLeaders`, after every write: if a
    /// partition is not led by its preferred replica and no balance is scheduled, one runs
    /// `leader.imbalance.check.interval.seconds` from now (10 ms if the last was capped). So
    /// the clock starts when the imbalance appears, not at a fixed period.
    fn maybe_schedule_balance(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if !self.auto_leader_rebalance || self.balance == BalanceSchedule::Scheduled {
            return;
        }
        let imbalanced = self
            .metadata
            .topics
            .values()
            .flat_map(|t| &t.partitions)
            .any(|pm| pm.leader != Some(pm.replicas[0]));
        if !imbalanced {
            return;
        }
        let delay = match self.balance {
            BalanceSchedule::Immediately => Duration::from_millis(10),
            _ => self.rebalance_interval,
        };
        self.balance = BalanceSchedule::Scheduled;
        out.push(Effect::SetTimer {
            at: now + delay,
            timer: Timer::LeaderRebalance,
        });
    }

    fn on_heartbeat(
        &mut self,
        now: Instant,
        broker: BrokerId,
        incarnation: u32,
        out: &mut Vec<Effect>,
    ) {
        let Some(b) = self.brokers.get_mut(&broker) else {
            return;
        };
        b.last_heartbeat = now;
        let restarted = b.incarnation != incarnation;
        b.incarnation = incarnation;
        let was_fenced = b.fenced;
        if restarted && !was_fenced {
            // A new incarnation without a fence means an unclean restart inside the session
            // timeout: treat it as a failure first, so it rejoins as a follower (KIP-966).
            self.fence(broker, FenceCause::RestartedWithinSession, out);
        }
        if restarted || was_fenced {
            self.unfence(broker, out);
        }
    }

    /// Applies `change` to every partition, tracing leader and ISR changes. Returns whether
    /// anything changed; the caller publishes.
    fn update_partitions<F>(
        &mut self,
        out: &mut Vec<Effect>,
        cause: PartitionChangeCause,
        mut change: F,
    ) -> bool
    where
        F: FnMut(&TopicPartition, &mut PartitionMetadata, &dyn Fn(BrokerId) -> bool, bool),
    {
        let fenced: BTreeMap<BrokerId, bool> =
            crate::sort::map(self.brokers.iter().map(|(&id, b)| (id, b.fenced)));
        let alive = |b: BrokerId| fenced.get(&b).is_some_and(|f| !f);
        let (unclean_always, same_epoch) = (
            planted!(self, UncleanElection),
            planted!(self, EpochNotBumped),
        );
        let mut m = (*self.metadata).clone();
        let mut changed = false;
        for topic in m.topics.values_mut() {
            let unclean = topic.config.unclean_leader_election || unclean_always;
            for (i, pm) in topic.partitions.iter_mut().enumerate() {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: i as u32,
                };
                let before = pm.clone();
                change(&tp, pm, &alive, unclean);
                if *pm == before {
                    continue;
                }
                changed = true;
                pm.partition_epoch += 1;
                if pm.leader != before.leader {
                    if !same_epoch {
                        pm.leader_epoch = pm.leader_epoch.next();
                    }
                    match pm.leader {
                        Some(leader) => {
                            let unclean = !before.isr.contains(&leader);
                            let event = TraceKind::LeaderElected {
                                tp: tp.clone(),
                                leader,
                                leader_epoch: pm.leader_epoch,
                                unclean,
                                previous: before.leader,
                                cause: cause.clone(),
                            };
                            out.push(Effect::Trace(event));
                        }
                        None => out.push(Effect::Trace(TraceKind::PartitionOffline {
                            tp: tp.clone(),
                        })),
                    }
                }
                if pm.isr != before.isr {
                    out.push(Effect::Trace(TraceKind::IsrChanged {
                        tp,
                        isr: pm.isr.clone(),
                        previous: before.isr.clone(),
                        cause: cause.clone(),
                    }));
                }
            }
        }
        if changed {
            m.version += 1;
            self.metadata = Arc::new(m);
        }
        changed
    }

    fn sync_registrations(&mut self) {
        let mut m = (*self.metadata).clone();
        for b in &mut m.brokers {
            b.fenced = self.brokers.get(&b.id).is_some_and(|l| l.fenced);
        }
        m.version += 1;
        self.metadata = Arc::new(m);
    }

    /// A broker stopped heartbeating: out of every ISR (never emptying one), and new leaders
    /// where it led.
    fn fence(&mut self, broker: BrokerId, cause: FenceCause, out: &mut Vec<Effect>) {
        self.brokers.get_mut(&broker).expect("known broker").fenced = true;
        out.push(Effect::Trace(TraceKind::BrokerFenced { broker, cause }));
        self.sync_registrations();
        let cause = PartitionChangeCause::Fenced(broker);
        self.update_partitions(out, cause, |_, pm, alive, unclean| {
            if pm.isr.len() > 1 {
                pm.isr.retain(|&r| r != broker);
            }
            if pm.leader == Some(broker) || pm.leader.is_none() {
                match elect_leader(pm, unclean, alive) {
                    Some((leader, was_unclean)) => {
                        pm.leader = Some(leader);
                        if was_unclean {
                            pm.isr = vec![leader];
                        }
                    }
                    None => pm.leader = None,
                }
            }
        });
        self.publish(out);
    }

    /// A broker is back: offline partitions it can lead get it as leader.
    fn unfence(&mut self, broker: BrokerId, out: &mut Vec<Effect>) {
        self.brokers.get_mut(&broker).expect("known broker").fenced = false;
        out.push(Effect::Trace(TraceKind::BrokerUnfenced { broker }));
        self.sync_registrations();
        let cause = PartitionChangeCause::Unfenced(broker);
        self.update_partitions(out, cause, |_, pm, alive, unclean| {
            if pm.leader.is_none() {
                if let Some((leader, was_unclean)) = elect_leader(pm, unclean, alive) {
                    pm.leader = Some(leader);
                    if was_unclean {
                        pm.isr = vec![leader];
                    }
                }
            }
        });
        self.publish(out);
    }

    /// A broker asks for a topic a client needs (auto-creation): `num.partitions` partitions
    /// of `default.replication.factor` replicas, placed over the unfenced brokers as Kafka
    /// places them; refused when there are fewer unfenced brokers than replicas.
    fn on_create_topic(&mut self, from: NodeId, topic: Arc<str>, out: &mut Vec<Effect>) {
        let error = if self.metadata.topics.contains_key(&topic) {
            ErrorCode::None
        } else {
            let partitions = self.configs.int("num.partitions") as u32;
            let rf = self.configs.int("default.replication.factor") as u32;
            let live: Vec<BrokerId> = self
                .brokers
                .iter()
                .filter(|(_, b)| !b.fenced)
                .map(|(&id, _)| id)
                .collect();
            if rf as usize > live.len() {
                ErrorCode::InvalidReplicationFactor
            } else {
                let assignment = assign_replicas(&live, partitions, rf, &mut self.rng);
                let config = TopicConfig::resolve(&Configs::new(Scope::Topic), &self.configs);
                let name = topic.clone();
                self.admin_update(|m| {
                    let t = TopicMetadata::created(name.clone(), assignment, config);
                    m.topics.insert(name, t);
                });
                let by = match from {
                    NodeId::Broker(b) => b,
                    _ => BrokerId(u32::MAX),
                };
                out.push(Effect::Trace(TraceKind::TopicAutoCreated {
                    topic: topic.to_string(),
                    partitions,
                    replication_factor: rf,
                    broker: by,
                }));
                self.publish(out);
                ErrorCode::None
            }
        };
        let msg = Message::CreateTopicsResponse { topic, error };
        out.push(Effect::Send { to: from, msg });
    }

    /// Why a leader's AlterPartition changes an ISR, with the setting that decides it.
    fn alter_partition_cause(&self, leader: BrokerId) -> PartitionChangeCause {
        PartitionChangeCause::AlterPartition {
            leader,
            replica_lag_time_max_ms: self.configs.int("replica.lag.time.max.ms") as u64,
        }
    }

    fn on_alter_partition(
        &mut self,
        from: NodeId,
        request: AlterPartitionRequest,
        out: &mut Vec<Effect>,
    ) {
        let current = self
            .metadata
            .partition(&request.tp.topic, request.tp.partition)
            .cloned();
        let alive = |b: BrokerId| self.brokers.get(&b).is_some_and(|l| !l.fenced);
        let error = match &current {
            None => ErrorCode::UnknownTopicOrPartition,
            Some(pm)
                if pm.leader != Some(request.leader) || pm.leader_epoch != request.leader_epoch =>
            {
                ErrorCode::FencedLeaderEpoch
            }
            Some(pm) if pm.partition_epoch != request.partition_epoch => {
                ErrorCode::InvalidUpdateVersion
            }
            // The ISR holds replicas only, and always its leader (Kafka's `validateIsr`).
            Some(pm)
                if request.new_isr.iter().any(|r| !pm.replicas.contains(r))
                    || !request.new_isr.contains(&request.leader) =>
            {
                ErrorCode::InvalidRequest
            }
            // A member it adds must be live (`ineligibleReplicasForIsr`).
            Some(pm)
                if request
                    .new_isr
                    .iter()
                    .any(|r| !pm.isr.contains(r) && !alive(*r)) =>
            {
                ErrorCode::IneligibleReplica
            }
            Some(_) => ErrorCode::None,
        };
        if error == ErrorCode::None {
            let tp = request.tp.clone();
            let cause = self.alter_partition_cause(request.leader);
            let mut new_isr = request.new_isr.clone();
            let shrink = current
                .as_ref()
                .is_some_and(|pm| new_isr.len() < pm.isr.len());
            if planted!(self, ShrinkRemovesLeader) && shrink && new_isr.len() > 1 {
                new_isr.retain(|&b| b != request.leader);
            }
            let changed = self.update_partitions(out, cause, |t, pm, _, _| {
                if *t == tp {
                    pm.isr = new_isr.clone();
                }
            });
            if changed {
                self.publish(out);
            }
        }
        let pm = self
            .metadata
            .partition(&request.tp.topic, request.tp.partition);
        let response = AlterPartitionResponse {
            tp: request.tp,
            proposal: request.proposal,
            error,
            isr: pm.map_or_else(Vec::new, |p| p.isr.clone()),
            leader_epoch: pm.map_or(LeaderEpoch(0), |p| p.leader_epoch),
            partition_epoch: pm.map_or(0, |p| p.partition_epoch),
        };
        out.push(Effect::Send {
            to: from,
            msg: Message::AlterPartitionResponse(response),
        });
    }

    /// `ReplicationControlManager.maybeBalancePartitionLeaders` with KRaft's rule
    /// (`PartitionChangeBuilder.electPreferredLeader`): every partition not led by its
    /// preferred replica (the first) moves to it if it is live and in the ISR. There is no
    /// per-broker threshold: `leader.imbalance.per.broker.percentage` belongs to the ZooKeeper
    /// controller, and the KRaft controller ignores it. At most 1,000 elections per run;
    /// returns whether the run stopped there.
    fn preferred_leader_election(&mut self, out: &mut Vec<Effect>) -> bool {
        let mut elections = 0;
        let cause = PartitionChangeCause::PreferredLeader;
        let changed = self.update_partitions(out, cause, |_, pm, alive, _| {
            let p = pm.replicas[0];
            if elections < MAX_ELECTIONS_PER_BALANCE
                && pm.leader != Some(p)
                && alive(p)
                && pm.isr.contains(&p)
            {
                pm.leader = Some(p);
                elections += 1;
            }
        });
        if changed {
            self.publish(out);
        }
        elections >= MAX_ELECTIONS_PER_BALANCE
    }

    fn publish(&self, out: &mut Vec<Effect>) {
        for b in &self.metadata.brokers {
            let msg = Message::MetadataUpdate {
                metadata: self.metadata.clone(),
            };
            out.push(Effect::Send {
                to: NodeId::Broker(b.id),
                msg,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::ids;

    fn pm(replicas: &[u32], leader: Option<u32>, isr: &[u32]) -> PartitionMetadata {
        PartitionMetadata {
            replicas: ids(replicas),
            leader: leader.map(BrokerId),
            leader_epoch: LeaderEpoch(0),
            partition_epoch: 0,
            isr: ids(isr),
        }
    }

    #[test]
    fn election_prefers_the_first_live_isr_member_in_assignment_order() {
        let p = pm(&[2, 0, 1], Some(2), &[0, 1, 2]);
        assert_eq!(
            elect_leader(&p, false, |b| b != BrokerId(2)),
            Some((BrokerId(0), false))
        );
        let p = pm(&[2, 0, 1], Some(2), &[1, 2]);
        assert_eq!(
            elect_leader(&p, false, |b| b != BrokerId(2)),
            Some((BrokerId(1), false))
        );
        assert_eq!(
            elect_leader(&p, false, |_| true),
            Some((BrokerId(2), false)),
            "a valid leader is kept"
        );
    }

    #[test]
    fn without_a_live_isr_member_only_unclean_election_finds_a_leader() {
        let p = pm(&[0, 1, 2], Some(0), &[0]);
        assert_eq!(elect_leader(&p, false, |b| b != BrokerId(0)), None);
        assert_eq!(
            elect_leader(&p, true, |b| b != BrokerId(0)),
            Some((BrokerId(1), true))
        );
    }

    /// Twenty partitions preferring broker 0, one of them (t-7) led by broker 1 with broker 0
    /// in its ISR: 5 % of broker 0's partitions, under the ZooKeeper controller's 10 %
    /// threshold, which the KRaft controller does not have.
    fn one_partition_off_its_preferred_leader() -> Controller {
        use crate::config::Scope;
        let broker = Configs::new(Scope::Broker);
        let config = TopicConfig::resolve(&Configs::new(Scope::Topic), &broker);
        let mut topic = TopicMetadata::created(Arc::from("t"), vec![ids(&[0, 1, 2]); 20], config);
        topic.partitions[7].leader = Some(BrokerId(1));
        let metadata = ClusterMetadata {
            version: 1,
            brokers: (0..3)
                .map(BrokerId)
                .map(|id| crate::metadata::BrokerRegistration { id, fenced: false })
                .collect(),
            controller: BrokerId(0),
            topics: [(Arc::from("t"), topic)].into_iter().collect(),
        };
        Controller::new(Arc::new(metadata), &broker, Prng::new(1))
    }

    fn timers(out: &[Effect]) -> Vec<Instant> {
        out.iter()
            .filter_map(|e| match e {
                Effect::SetTimer {
                    at,
                    timer: Timer::LeaderRebalance,
                } => Some(*at),
                _ => None,
            })
            .collect()
    }

    /// `QuorumController.maybeScheduleNextBalancePartitionLeaders` and
    /// `ReplicationControlManager.maybeBalancePartitionLeaders`: the first write that sees an
    /// imbalance schedules a balance `leader.imbalance.check.interval.seconds` (300) later,
    /// once; it moves every partition back, however few are off.
    #[test]
    fn a_single_partition_off_its_preferred_leader_moves_back_one_interval_after_it_is_seen() {
        let mut c = one_partition_off_its_preferred_leader();
        let mut out = Vec::new();
        c.start(Instant::ZERO, &mut out);
        assert!(timers(&out).is_empty(), "nothing scheduled before a write");
        let heartbeat = |broker| Input::Message {
            from: NodeId::Broker(broker),
            msg: Message::BrokerHeartbeat {
                broker,
                incarnation: 0,
                metadata_version: 1,
            },
        };
        let at = Instant::from_millis(1_500);
        c.handle(at, heartbeat(BrokerId(0)), &mut out);
        c.handle(
            at + Duration::from_millis(100),
            heartbeat(BrokerId(1)),
            &mut out,
        );
        assert_eq!(
            timers(&out),
            vec![at + Duration::from_millis(300_000)],
            "one balance, 300 s after the first write that saw the imbalance"
        );
        out.clear();
        c.handle(
            at + Duration::from_millis(300_000),
            Input::Timer(Timer::LeaderRebalance),
            &mut out,
        );
        assert_eq!(
            c.metadata().partition("t", 7).expect("t-7").leader,
            Some(BrokerId(0))
        );
        assert!(
            timers(&out).is_empty(),
            "balanced: nothing more to schedule"
        );
    }
}
