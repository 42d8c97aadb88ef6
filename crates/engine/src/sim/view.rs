//! Views: the snapshots the UI reads and the report a run ends with, with the lost-record
//! audit they carry.

use super::*;

/// A partition a group subscribes to: who owns it, where the group committed, its lag.
pub(super) struct GroupPartition {
    pub(super) tp: TopicPartition,
    /// The consumer (by name) that owns it now.
    pub(super) owner: Option<String>,
    pub(super) committed: Option<u64>,
    pub(super) hw: u64,
    /// High watermark − committed offset (or where the group started, before a commit).
    pub(super) lag: u64,
}

/// Time to drain `lag` at the rate it fell over the last samples (None when not falling).
/// The topic settings the brokers' own configuration sets for every topic that does not set
/// its own (Kafka's `STATIC_BROKER_CONFIG` source, which `kafka-topics.sh --describe` lists
/// with the topic's own), by the topic config's name: the synonyms `TopicConfig::resolve`
/// reads.
fn broker_overrides(topic: &Configs, broker: &Configs) -> Vec<(String, String)> {
    const SYNONYMS: &[(&str, &str)] = &[
        ("max.message.bytes", "message.max.bytes"),
        ("min.insync.replicas", "min.insync.replicas"),
        ("retention.bytes", "log.retention.bytes"),
        ("segment.bytes", "log.segment.bytes"),
        (
            "unclean.leader.election.enable",
            "unclean.leader.election.enable",
        ),
    ];
    let set = |key: &str| broker.explicit().find(|(k, _)| *k == key).map(|(_, v)| v);
    let mut out = Vec::new();
    if !topic.is_explicit("retention.ms") && set("log.retention.hours").is_some() {
        let hours = broker.int("log.retention.hours");
        let ms = if hours < 0 { -1 } else { hours * 3_600_000 };
        out.push(("retention.ms".to_string(), ms.to_string()));
    }
    for (key, broker_key) in SYNONYMS {
        if let Some(v) = set(broker_key).filter(|_| !topic.is_explicit(key)) {
            out.push((key.to_string(), v.kafka_text()));
        }
    }
    out
}

/// The consumer (by name) that holds `member` now: a running one whose membership has its id.
fn consumer_of(members_of: &[&Consumer], member: &str) -> Option<String> {
    members_of
        .iter()
        .filter(|c| !matches!(c.state, AppState::Crashed | AppState::Stopped))
        .find(|c| {
            c.membership
                .as_ref()
                .is_some_and(|m| &*m.member_id == member)
        })
        .map(|c| c.spec.name.clone())
}

/// The `client.id` a member joined with: its consumer's (the consumer's name when unset, as
/// its JoinGroup says), found by member id or by `group.instance.id`; else the member id's
/// prefix, as the coordinator names a dynamic member `client.id` plus `-` and a number
/// (`GroupCoordinator::new_member_id`; Kafka appends a UUID the same way).
fn client_id_of(members_of: &[&Consumer], member: &crate::group::classic::Member) -> String {
    let holds = |c: &&&Consumer| {
        c.membership
            .as_ref()
            .is_some_and(|m| m.member_id == member.id)
            || (member.instance_id.is_some() && c.config().instance_id == member.instance_id)
    };
    match members_of.iter().find(holds) {
        Some(c) => c
            .config()
            .client_id
            .as_deref()
            .unwrap_or(&c.spec.name)
            .to_string(),
        None => member
            .id
            .rsplit_once('-')
            .map_or(&*member.id, |(client, _)| client)
            .to_string(),
    }
}

pub(super) fn drain_time(history: &[(u64, u64)]) -> Option<u64> {
    let last = *history.last()?;
    let first = history[history.len().saturating_sub(10)];
    if last.1 == 0 || first.1 <= last.1 || last.0 <= first.0 {
        return None;
    }
    let fell = first.1 - last.1;
    Some(last.1.saturating_mul(last.0 - first.0) / fell)
}

pub(super) fn record_view(offset: Offset, r: &crate::record::Record) -> RecordView {
    const PREVIEW: usize = 64;
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(PREVIEW)]).into_owned();
        if b.len() > PREVIEW {
            format!("{s}…")
        } else {
            s
        }
    };
    // A transaction marker: a control record (key: version 0, type 0 ABORT or 1 COMMIT).
    let marker = match r.key.as_deref() {
        Some(&[0, 0, 0, t]) if r.id == crate::group::coordinator::INTERNAL_RECORD => Some(t == 1),
        _ => None,
    };
    RecordView {
        marker,
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

pub(super) fn producer_view(p: &Producer) -> ProducerView {
    let c = p.config();
    ProducerView {
        name: p.spec.name.clone(),
        topic: p.spec.topic.clone(),
        running: p.is_running(),
        rate_per_sec: p.spec.rate_per_sec,
        acks: c.acks.name().to_string(),
        idempotent: c.idempotent,
        keys: p.spec.keys.clone(),
        produced: p.stats.produced,
        acked: p.stats.acked,
        failed: p.stats.failed,
        retries: p.stats.retries,
        requests: p.stats.requests,
        batches: p.stats.batches,
        queued_batches: p.queued_batches(),
        in_flight_batches: p.in_flight_batches(),
        produce_latency: p.stats.latency_ms.summary(),
        transaction: p.txn.as_ref().map(|t| crate::snapshot::ProducerTxnView {
            transactional_id: t.transactional_id.to_string(),
            state: t.state.name(),
            committed: t.committed,
            aborted: t.aborted,
        }),
    }
}

pub(super) fn consumer_view(c: &Consumer) -> ConsumerView {
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
        AppState::AwaitingOutput => "waiting for its producer".to_string(),
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
        generation: m.and_then(|m| m.generation).map(|g| g.0),
        member_state: m.map(|m| format!("{:?}", m.state)),
        processing_us_per_record: c.spec.processing_per_record.as_micros(),
        // A processor commits as its guarantee says (in its transaction, after a flush, or
        // before processing).
        commit: match c.spec.processor {
            Some(role) => format!("processor, {}", role.guarantee.name()),
            None => c.spec.commit.name().to_string(),
        },
        processed: c.stats.processed,
        commits: c.stats.commits,
        failed_commits: c.stats.failed_commits,
        paused_ms: c.stats.paused.as_millis(),
        consumed: c.stats.consumed,
        lag: partitions.iter().filter_map(|p| p.lag).sum(),
        partitions,
    }
}

impl Sim {
    /// Records the producers' applications handed to `send()`, all producers together.
    fn produced(&self) -> u64 {
        self.producers
            .iter()
            .flatten()
            .map(|p| p.stats.produced)
            .sum()
    }

    /// The produce latency (milliseconds from `send()` to the acknowledgement) of the
    /// records acknowledged so far, every producer together: its median and 99th percentile.
    pub fn produce_latency_ms(&self) -> Option<(u64, u64)> {
        let mut all = crate::histogram::Histogram::default();
        for p in self.producers.iter().flatten() {
            all.merge(&p.stats.latency_ms);
        }
        Some((all.percentile(500)?, all.percentile(990)?))
    }

    /// A plain-data view for UIs, with up to `records_per_partition` newest records each.
    pub fn snapshot(&self, records_per_partition: usize, trace_events: usize) -> Snapshot {
        self.snapshot_of(records_per_partition, RecordsOf::All, trace_events)
    }

    /// Every broker as the Brokers panel shows it.
    fn broker_views(&self) -> Vec<BrokerView> {
        self.brokers
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
                    id: id.0,
                    fenced: self.controller.is_fenced(id),
                    session_expires: self.controller.session_expires(id),
                    session_timeout_ms: self.controller.session_timeout().as_millis(),
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
            .collect()
    }

    /// A topic as the UI shows it, with the newest records of the partitions `records_of` names.
    fn topic_view(
        &self,
        t: &crate::metadata::TopicMetadata,
        records_per_partition: usize,
        records_of: RecordsOf,
    ) -> TopicView {
        let topic = &t.config.configs;
        TopicView {
            name: t.name.to_string(),
            internal: &*t.name == OFFSETS_TOPIC,
            retry_of: retry_of(&t.name, &self.controller.metadata().topics),
            replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len() as u32),
            configs: topic
                .explicit()
                .map(|(k, v)| (k.to_string(), v.kafka_text()))
                .collect(),
            broker_overrides: broker_overrides(topic, &self.setup.configs),
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
        }
    }

    /// A snapshot with newest records for the partitions `records_of` names only.
    pub fn snapshot_of(
        &self,
        records_per_partition: usize,
        records_of: RecordsOf,
        trace_events: usize,
    ) -> Snapshot {
        let brokers = self.broker_views();
        let topics = self
            .controller
            .metadata()
            .topics
            .values()
            .map(|t| self.topic_view(t, records_per_partition, records_of))
            .collect();
        let producers = self.producers.iter().flatten().map(producer_view).collect();
        let consumers = self.consumers.iter().flatten().map(consumer_view).collect();
        let groups = self
            .group_names()
            .iter()
            .map(|g| self.group_view(g, false))
            .collect();
        let totals = Totals {
            produced: self.produced(),
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
            group_events: self.groups.events.iter().cloned().collect(),
            transactions: self.transaction_views(),
            totals,
            trace: recent.skip(skip).cloned().collect(),
            names: self.names.clone(),
            trace_total: self.trace.total(),
            digest: self.digest(),
        }
    }

    pub(super) fn partition_view(
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
                let slot = &self.brokers[b.0 as usize];
                let r = slot.broker.replica(tp);
                ReplicaView {
                    broker: b.0,
                    log_end: r.map_or(0, |r| r.log.log_end().0),
                    high_watermark: r.map_or(0, |r| r.high_watermark.0),
                    in_isr: pm.isr.contains(&b),
                    is_leader: pm.leader == Some(b),
                    up: slot.up,
                }
            })
            .collect();
        PartitionView {
            last_stable_offset: replica.map_or(0, |r| r.last_stable_offset().0),
            open_transactions: replica.map_or(0, |r| r.txns.open_count() as u32),
            replica_states,
            topic: tp.topic.to_string(),
            partition: tp.partition,
            replicas: numbers(&pm.replicas),
            leader: pm.leader.map(|b| b.0),
            leader_epoch: pm.leader_epoch.0,
            isr: numbers(&pm.isr),
            log_start,
            high_watermark: hw,
            log_end: leo,
            segments,
            size_bytes: size,
            latest,
        }
    }

    /// The records of aborted transactions, read from every partition's log and its aborted
    /// transaction index (acknowledged to their producer, never committed).
    pub fn aborted_records(&self) -> std::collections::BTreeSet<crate::record::RecordId> {
        let mut aborted = std::collections::BTreeSet::new();
        for topic in self.controller.metadata().topics.values() {
            for (i, pm) in topic.partitions.iter().enumerate() {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: i as u32,
                };
                let Some(r) = self.authoritative_replica(&tp, pm) else {
                    continue;
                };
                for &(pid, first, last) in &r.txns.aborted {
                    let mut at = first.max(r.log.log_start());
                    while at < last {
                        let Some(b) = r.log.batch_at(at) else { break };
                        at = b.next_offset();
                        let of_it = b.producer.is_some_and(|p| p.producer_id == pid);
                        if of_it && b.is_transactional && !b.is_control {
                            aborted.extend(b.records.iter().map(|r| r.id));
                        }
                    }
                }
            }
        }
        aborted
    }

    /// Every transactional id, from the broker that coordinates it now (the leader of its
    /// `__transaction_state` partition, by the controller), in id order.
    pub fn transaction_views(&self) -> Vec<crate::snapshot::TxnView> {
        let md = self.controller.metadata();
        let mut views = Vec::new();
        for slot in self.brokers.iter().filter(|s| s.up) {
            let b = &slot.broker;
            for m in b.txn.coordinated() {
                let partition = b.txn.partition_of(&m.transactional_id);
                if md.leader(crate::txn::TRANSACTION_TOPIC, partition) != Some(b.id) {
                    continue;
                }
                let open = m.state == crate::txn::TxnState::Ongoing;
                views.push(crate::snapshot::TxnView {
                    transactional_id: m.transactional_id.to_string(),
                    coordinator: b.id.0,
                    producer_id: m.producer_id.0,
                    epoch: m.epoch,
                    state: m.state.name(),
                    partitions: m.partitions.iter().map(|tp| tp.to_string()).collect(),
                    timeout_ms: m.timeout_ms,
                    open_ms: open.then(|| self.now.saturating_since(m.started_at).as_millis()),
                });
            }
        }
        crate::sort::sort_by(&mut views, |a, b| {
            a.transactional_id.cmp(&b.transactional_id)
        });
        views
    }

    /// What each audience read: counts, duplicates, records out of order, and records of
    /// aborted transactions.
    fn audience_reports(&self) -> Vec<AudienceReport> {
        let aborted = self.aborted_records();
        let read_aborted = |a: &crate::ledger::Audience| {
            aborted.iter().filter(|&&id| a.was_delivered(id)).count() as u64
        };
        self.ledger
            .audiences()
            .iter()
            .map(|(name, a)| AudienceReport {
                audience: name.to_string(),
                consumed: a.consumed,
                duplicates: a.duplicates,
                out_of_order: a.out_of_order,
                read_aborted: read_aborted(a),
                failed: failed_records(a),
            })
            .collect()
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
                    leader: pm.leader.map(|b| b.0),
                    isr: numbers(&pm.isr),
                    log_start: r.map_or(0, |r| r.log.log_start().0),
                    high_watermark: r.map_or(0, |r| r.high_watermark.0),
                    last_stable_offset: r.map_or(0, |r| r.last_stable_offset().0),
                    log_end: r.map_or(0, |r| r.log.log_end().0),
                }
            })
            .collect();
        let audiences = self.audience_reports();
        Report {
            seed: self.seed,
            digest: self.digest(),
            now: self.now,
            events: self.events_processed,
            produced: self.produced(),
            acked: self.ledger.acked,
            failed: self.ledger.failed,
            abandoned: self.producers().map(|p| p.stats.abandoned).sum(),
            failures: failures.into_iter().collect(),
            consumed: self.ledger.consumed(),
            lost_acked,
            lost,
            expired,
            duplicates: self.ledger.duplicates(),
            out_of_order: self.ledger.out_of_order(),
            partitions,
            audiences,
            groups: self.group_views(true),
            refused: self.refused.clone(),
            refused_count: self.refused_count,
            waiting_for_topics: self.waiting_for_topics(),
            transactions: self.groups.transactions.clone(),
            processors: self.processor_reports(),
            producers: self.producers.iter().flatten().map(producer_view).collect(),
            alerts: self.alert_history(),
        }
    }

    /// Every group's view (`audit`: with the records it never processed).
    fn group_views(&self, audit: bool) -> Vec<GroupView> {
        let names = self.group_names();
        names.iter().map(|g| self.group_view(g, audit)).collect()
    }

    /// Every processor's inputs processed and committed outputs, read from the output
    /// topic's logs (the leaders').
    fn processor_reports(&self) -> Vec<ProcessorReport> {
        let mut out = Vec::new();
        for c in self.consumers.iter().flatten() {
            let (Some(role), Some(p)) = (c.spec.processor, self.producer_index(&c.spec.name))
            else {
                continue;
            };
            let producer = self.producers[p].as_ref().expect("indexed");
            let mut inputs = std::collections::BTreeSet::new();
            let (mut outputs, mut duplicates) = (0, 0);
            for tp in self.partitions_of(producer.topic()) {
                let (records, _) = self.committed_records(&tp, Offset(0), Offset(u64::MAX));
                for (_, output) in records {
                    let Some(input) = self.ledger.source(output) else {
                        continue;
                    };
                    outputs += 1;
                    if !inputs.insert(input.clone()) {
                        duplicates += 1;
                    }
                }
            }
            out.push(ProcessorReport {
                name: c.spec.name.clone(),
                guarantee: role.guarantee.name(),
                // Over every process it ran as (a restart starts the counters anew).
                inputs_processed: (self.ledger.audiences().get(c.audience()))
                    .map_or(0, |a| a.consumed),
                outputs_committed: outputs,
                duplicates_in_output: duplicates,
            });
        }
        out
    }

    /// Exactly-once processors' output topics, with the index of the producer writing each.
    pub fn exactly_once_outputs(&self) -> BTreeMap<Arc<str>, u32> {
        use crate::processor::Guarantee;
        (self.producers.iter().flatten())
            .filter(|p| {
                p.spec
                    .processor
                    .is_some_and(|r| r.guarantee == Guarantee::ExactlyOnce)
            })
            .map(|p| (Arc::from(p.topic()), p.index))
            .collect()
    }

    /// The partitions of `topic` now.
    pub fn partitions_of(&self, topic: &str) -> Vec<TopicPartition> {
        let md = self.controller.metadata();
        let n = md
            .topics
            .get(topic)
            .map_or(0, |t| t.partitions.len() as u32);
        (0..n).map(|p| TopicPartition::new(topic, p)).collect()
    }

    /// The records of `tp` on its leader up to its high watermark, with their offsets
    /// (markers left out): what a read_uncommitted reader of the whole log gets.
    pub fn records_of(&self, tp: &TopicPartition) -> Vec<(Offset, crate::record::Record)> {
        let md = self.controller.metadata();
        let pm = md.partition(&tp.topic, tp.partition);
        let Some(r) = pm.and_then(|pm| self.authoritative_replica(tp, pm)) else {
            return Vec::new();
        };
        let batches = r.log.batches_between(r.log.log_start(), r.high_watermark);
        let records = batches.filter(|b| !b.is_control).flat_map(|b| {
            let base = b.base_offset.0;
            (b.records.iter().enumerate())
                .map(move |(i, rec)| (Offset(base + i as u64), rec.clone()))
        });
        records.filter(|(at, _)| *at < r.high_watermark).collect()
    }

    /// The records of `tp` in `[from, to)` as a read_committed reader sees them on its
    /// leader: below the last stable offset, neither markers nor aborted transactions; and
    /// where that stopped (`to`, or the last stable offset below it).
    pub fn committed_records(
        &self,
        tp: &TopicPartition,
        from: Offset,
        to: Offset,
    ) -> (Vec<(Offset, crate::record::RecordId)>, Offset) {
        let md = self.controller.metadata();
        let pm = md.partition(&tp.topic, tp.partition);
        let Some(r) = pm.and_then(|pm| self.authoritative_replica(tp, pm)) else {
            return (Vec::new(), from);
        };
        let to = to.min(r.last_stable_offset());
        let mut out = Vec::new();
        for batch in r.log.batches_between(from.max(r.log.log_start()), to) {
            if batch.is_control || r.txns.is_aborted(batch) {
                continue;
            }
            for (i, record) in batch.records.iter().enumerate() {
                let at = Offset(batch.base_offset.0 + i as u64);
                if from <= at && at < to {
                    out.push((at, record.id));
                }
            }
        }
        (out, to.max(from))
    }

    /// (consumer, topic) for every topic a running consumer wants that does not exist.
    pub(super) fn waiting_for_topics(&self) -> Vec<(String, String)> {
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

    /// Every partition the group subscribes to, as the group sees it.
    pub(super) fn group_partitions(&self, group: &Arc<str>) -> Vec<GroupPartition> {
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
        crate::sort::sort(&mut topics);
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
                        self.groups
                            .starts
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

    pub(super) fn group_lag(&self, group: &Arc<str>) -> u64 {
        self.group_partitions(group).iter().map(|p| p.lag).sum()
    }

    pub(super) fn group_view(&self, group: &Arc<str>, audit: bool) -> GroupView {
        let (offsets_partition, coordinator, state) = self.coordinator_of(group);
        let members_of: Vec<&Consumer> = self
            .consumers
            .iter()
            .flatten()
            .filter(|c| c.membership.as_ref().is_some_and(|m| m.group == *group))
            .collect();
        let members = state.map_or(Vec::new(), |g| {
            g.members
                .values()
                .map(|m| GroupMemberView {
                    member_id: m.id.to_string(),
                    consumer: consumer_of(&members_of, &m.id),
                    client_id: client_id_of(&members_of, m),
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
        let stats = self.groups.stats.get(group);
        let history: Vec<(u64, u64)> =
            stats.map_or(Vec::new(), |s| s.history.iter().copied().collect());
        let drain_ms = drain_time(&history);
        let audience = self.ledger.audiences().get(&*format!("group:{group}"));
        let lost = audit.then(|| self.audit_group_lost(group, &parts));
        GroupView {
            group: group.to_string(),
            coordinator: coordinator.map(|b| b.0),
            offsets_partition,
            state: state.map_or("Empty".to_string(), |g| g.state.name().to_string()),
            generation: state.map_or(0, |g| g.generation.0),
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
            failed: audience.map_or_else(Default::default, failed_records),
            lost,
            end_to_end: {
                let mut all = crate::histogram::Histogram::default();
                for c in &members_of {
                    all.merge(&c.stats.end_to_end_ms);
                }
                all.summary()
            },
        }
    }

    /// Records between where the group started and its committed offset that it never
    /// processed: committed past without processing (at-most-once after a crash).
    pub(super) fn audit_group_lost(&self, group: &Arc<str>, parts: &[GroupPartition]) -> u64 {
        let Some(audience) = self.ledger.audiences().get(&*format!("group:{group}")) else {
            return 0;
        };
        let md = self.controller.metadata();
        // A read_committed group never reads aborted transactions' records.
        let committed_only = self.consumers.iter().flatten().any(|c| {
            c.membership.as_ref().is_some_and(|m| m.group == *group)
                && c.config().isolation == crate::protocol::Isolation::ReadCommitted
        });
        let mut lost = 0;
        for GroupPartition { tp, committed, .. } in parts {
            let Some(committed) = committed else { continue };
            let Some(start) = self.groups.starts.get(&(group.clone(), tp.clone())) else {
                continue;
            };
            let Some(pm) = md.partition(&tp.topic, tp.partition) else {
                continue;
            };
            let Some(r) = self.authoritative_replica(tp, pm) else {
                continue;
            };
            for batch in r.log.segments().iter().flat_map(|s| s.batches.iter()) {
                // Markers are never delivered; aborted records not to read_committed readers.
                if batch.is_control || (committed_only && r.txns.is_aborted(batch)) {
                    continue;
                }
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
    pub(super) fn audit_lost(&self) -> (Vec<LostRecord>, u64, u64) {
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

/// What an audience that handles failed records made of them.
fn failed_records(a: &crate::ledger::Audience) -> FailedRecords {
    let Some(r) = a.routing.as_deref() else {
        return FailedRecords::default();
    };
    FailedRecords {
        routed: true,
        retried: r.retried,
        dead_lettered: r.dead_lettered,
        skipped: r.skipped,
        reordered: r.reordered,
    }
}

/// A retry or dead letter topic's source topic and attempt, if its source exists.
fn retry_of(
    name: &str,
    topics: &BTreeMap<Arc<str>, crate::metadata::TopicMetadata>,
) -> Option<RetryOf> {
    use crate::consumer::failure::source_topic;
    let source = source_topic(name).filter(|s| topics.contains_key(*s))?;
    let index = name
        .rsplit_once("-retry-")
        .and_then(|(_, i)| i.parse::<u32>().ok());
    Some(RetryOf {
        source: source.to_string(),
        attempt: if name.ends_with("-dlt") {
            None
        } else {
            index.map(|i| i + 2)
        },
    })
}
