//! Observers beside the event loop: what the simulator records about groups over time.

use super::*;

/// What the simulator records about a group over time.
#[derive(Clone, Debug, Default)]
pub(super) struct GroupStats {
    /// (virtual ms, lag); halved and re-spaced when full, so it stays bounded.
    pub(super) history: std::collections::VecDeque<(u64, u64)>,
    pub(super) rebalances: u64,
    /// When the rebalance under way started, and the rebalances' summed time
    /// (`rebalance-latency-avg`: from its start to its generation).
    pub(super) rebalance_started: Option<Instant>,
    pub(super) rebalance_us_total: u64,
}

pub(super) const LAG_SAMPLES: usize = 240;

/// Beside the event loop, fed every trace event (`Sim::record`), as TigerBeetle's checkers sit
/// beside its replicas: per group its rebalances and lag over time, where it started reading
/// each partition (for the lost-record audit), and its latest events (the rebalance timeline).
#[derive(Clone, Debug, Default)]
pub(super) struct GroupObserver {
    pub(super) stats: BTreeMap<Arc<str>, GroupStats>,
    pub(super) next_lag_sample: Instant,
    /// Per group and partition: where the group started reading (its first offset reset).
    pub(super) starts: BTreeMap<(Arc<str>, TopicPartition), Offset>,
    pub(super) events: std::collections::VecDeque<TraceEvent>,
    /// Transactions completed, aborted, timed out, and producers fenced.
    pub(super) transactions: crate::snapshot::TransactionsReport,
    /// ISR changes that removed replicas, and that added some (`IsrShrinksPerSec`, ...).
    pub(super) isr_shrinks: u64,
    pub(super) isr_expands: u64,
}

/// How many group events the rebalance timeline keeps.
const GROUP_EVENTS: usize = 200;

impl GroupObserver {
    /// Rebalances and their time per group, ISR shrinks and expands (`sim::metrics`).
    fn count_for_metrics(&mut self, at: Instant, kind: &TraceKind) {
        use TraceKind as K;
        match kind {
            K::GenerationStarted { group, .. } => {
                let stats = self.stats.entry(group.clone()).or_default();
                stats.rebalances += 1;
                if let Some(started) = stats.rebalance_started.take() {
                    stats.rebalance_us_total += at.saturating_since(started).as_micros();
                }
            }
            K::RebalanceStarted { group, .. } => {
                let stats = self.stats.entry(group.clone()).or_default();
                stats.rebalance_started.get_or_insert(at);
            }
            K::IsrChanged { isr, previous, .. } => match isr.len().cmp(&previous.len()) {
                std::cmp::Ordering::Less => self.isr_shrinks += 1,
                std::cmp::Ordering::Greater => self.isr_expands += 1,
                std::cmp::Ordering::Equal => {}
            },
            _ => {}
        }
    }

    /// `group_of` names the group of a consumer (by index), if it has one.
    pub(super) fn on_trace(
        &mut self,
        at: Instant,
        kind: &TraceKind,
        group_of: impl Fn(u32) -> Option<Arc<str>>,
    ) {
        use TraceKind as K;
        match kind {
            K::GenerationStarted { .. } | K::RebalanceStarted { .. } | K::IsrChanged { .. } => {
                self.count_for_metrics(at, kind)
            }
            K::TransactionCompleted { committed, .. } => {
                let t = &mut self.transactions;
                *if *committed {
                    &mut t.committed
                } else {
                    &mut t.aborted
                } += 1;
            }
            K::TransactionTimedOut { .. } => self.transactions.timed_out += 1,
            K::ProducerFenced { .. } => self.transactions.fenced += 1,
            K::OffsetReset {
                consumer,
                tp,
                offset,
                ..
            } => {
                if let Some(group) = group_of(*consumer) {
                    let start = self.starts.entry((group, tp.clone())).or_insert(*offset);
                    *start = (*start).min(*offset);
                }
            }
            _ => {}
        }
        let timeline = matches!(
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
        );
        if timeline {
            if self.events.len() == GROUP_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back(TraceEvent {
                at,
                kind: kind.clone(),
            });
        }
    }
}

impl Sim {
    /// Samples every group's lag (the observer cannot: lag needs the cluster's state).
    pub(super) fn sample_lag(&mut self) {
        let ms = self.now.0 / 1000;
        let mut period = 500;
        for g in self.group_names() {
            let lag = self.group_lag(&g);
            let stats = self.groups.stats.entry(g).or_default();
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
        self.groups.next_lag_sample = Instant((ms / period + 1) * period * 1000);
    }
}
