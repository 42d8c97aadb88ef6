//! A broker as a follower (Kafka's `ReplicaFetcherThread`): one fetch per leader for every
//! partition it follows there, appending what comes back, truncating where its log diverged
//! from the leader's (KIP-101/279), and backing off after an error.

use super::*;
use crate::record::{LeaderEpoch, RecordId};
use crate::trace::TruncatedRecords;

/// How long a follower waits for a fetch response before sending another.
const REPLICA_FETCH_TIMEOUT: Duration = Duration(30_000_000);

impl Broker {
    /// As follower: one fetch per leader for every partition it leads and we follow.
    pub(super) fn send_replica_fetches(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if now < self.replica_fetch_backoff_until {
            return;
        }
        let me = self.id;
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, r) in &self.replicas {
            let Some(leader) = r.leader.filter(|&l| l != me) else {
                continue;
            };
            if self.replica_fetches.contains_key(&leader) {
                continue;
            }
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: r.log.log_end(),
                partition_max_bytes: self.replica_fetch_max_bytes,
                current_leader_epoch: Some(r.leader_epoch),
                last_fetched_epoch: r.last_epoch(),
            });
        }
        for (leader, partitions) in by_leader {
            self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
            let correlation_id = self.next_correlation_id;
            let request = FetchRequest {
                isolation: crate::protocol::Isolation::ReadUncommitted,
                correlation_id,
                replica_id: Some(me),
                max_wait_ms: self.replica_fetch_wait,
                min_bytes: 1,
                max_bytes: 10 * 1024 * 1024,
                partitions,
            };
            self.replica_fetches.insert(leader, correlation_id);
            out.push(Effect::Send {
                to: NodeId::Broker(leader),
                msg: Message::FetchRequest(request),
            });
            let at = now + REPLICA_FETCH_TIMEOUT;
            out.push(Effect::SetTimer {
                at,
                timer: Timer::ReplicaFetchTimeout {
                    leader,
                    correlation_id,
                },
            });
        }
    }

    pub(super) fn on_replica_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: FetchResponse,
        out: &mut Vec<Effect>,
    ) {
        let NodeId::Broker(leader) = from else {
            unreachable!("fetch responses come from brokers")
        };
        if self.replica_fetches.get(&leader) != Some(&response.correlation_id) {
            return;
        }
        self.replica_fetches.remove(&leader);
        let me = self.id;
        let mut backoff = false;
        for fetched in response.partitions {
            let Some(r) = self.replicas.get_mut(&fetched.tp) else {
                continue;
            };
            if r.leader != Some(leader) {
                continue; // Leadership moved while the fetch was out.
            }
            if fetched.error != ErrorCode::None {
                backoff = true;
                continue;
            }
            if let Some(diverging) = fetched.diverging {
                out.extend(truncate_diverged(me, &fetched.tp, r, diverging));
                continue;
            }
            for batch in fetched.batches {
                if batch.base_offset < r.log.log_end() {
                    continue; // Already have it (a retried fetch).
                }
                if batch.base_offset > r.log.log_end() {
                    break; // A gap means the leader's log moved under us; fetch again.
                }
                r.append_stamped(batch, now);
            }
            r.high_watermark = fetched.high_watermark.min(r.log.log_end());
        }
        if backoff {
            self.replica_fetch_backoff_until = now + self.replica_fetch_backoff;
            out.push(Effect::SetTimer {
                at: self.replica_fetch_backoff_until,
                timer: Timer::ReplicaFetchBackoff,
            });
        } else {
            self.send_replica_fetches(now, out);
        }
    }
}

/// A follower's log diverges from its leader's after `end` of `epoch` (KIP-279): it removes
/// what the leader does not have, and says which records went (the simulator tells the event
/// log which of them had been acknowledged).
fn truncate_diverged(
    me: BrokerId,
    tp: &TopicPartition,
    r: &mut Replica,
    (epoch, end): (LeaderEpoch, Offset),
) -> Option<Effect> {
    let from = r.log.log_end();
    let target = end.min(r.local_end_offset_for_epoch(epoch)).min(from);
    // From the batch holding the target, since a batch straddling it goes whole.
    let floor = r.log.batch_at(target).map_or(target, |b| b.base_offset);
    let removed: Vec<(Offset, RecordId)> = r
        .log
        .records_between(floor, from)
        .map(|(o, rec)| (o, rec.id))
        .collect();
    r.truncate_to(target);
    let to = r.log.log_end();
    (to < from).then(|| {
        let removed = removed.into_iter().filter(|&(o, _)| o >= to).collect();
        Effect::Trace(TraceKind::FollowerTruncated {
            broker: me,
            tp: tp.clone(),
            from,
            to,
            records: TruncatedRecords::Removed(removed),
        })
    })
}
