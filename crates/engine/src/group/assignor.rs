//! The classic protocol's client-side assignors, computed as Kafka computes them
//! (reference §4.4): range, roundrobin, sticky and cooperative-sticky.
//!
//! Pure functions: members and partition counts in, an assignment out. Deterministic: every
//! ordering Kafka leaves to a hash map is made explicit (member ids, then topics, then
//! partition numbers).

use std::collections::{BTreeMap, BTreeSet};

/// A (topic, partition) as the assignors see it.
pub type Tp = (String, u32);

/// Who asks for partitions: a member's id, static instance id, subscription and what it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    /// Partitions the member owns now (cooperative protocol, and sticky's stickiness).
    pub owned: Vec<Tp>,
    /// The generation in which it owned them; claims from older generations lose.
    pub generation: Option<i32>,
}

/// The assignor strategies of `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

impl Strategy {
    /// From a protocol name (`ConsumerPartitionAssignor.name()`, what JoinGroup carries) or
    /// the class name `partition.assignment.strategy` holds.
    pub fn parse(name: &str) -> Option<Strategy> {
        match name {
            "range" | RANGE_CLASS => Some(Strategy::Range),
            "roundrobin" | ROUND_ROBIN_CLASS => Some(Strategy::RoundRobin),
            "sticky" | STICKY_CLASS => Some(Strategy::Sticky),
            "cooperative-sticky" | COOPERATIVE_STICKY_CLASS => Some(Strategy::CooperativeSticky),
            _ => None,
        }
    }
}

/// The assignors' class names, as a Kafka client's `partition.assignment.strategy` wants them.
pub const RANGE_CLASS: &str = "org.apache.kafka.clients.consumer.RangeAssignor";
pub const ROUND_ROBIN_CLASS: &str = "org.apache.kafka.clients.consumer.RoundRobinAssignor";
pub const STICKY_CLASS: &str = "org.apache.kafka.clients.consumer.StickyAssignor";
pub const COOPERATIVE_STICKY_CLASS: &str =
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";

/// How a consumer rebalances (KIP-429).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Revoke everything before rejoining.
    Eager,
    /// Keep what you own; give up only what moves, in a second round.
    Cooperative,
}

impl Strategy {
    /// The protocols an assignor supports (only cooperative-sticky supports cooperative).
    fn supports(self, protocol: RebalanceProtocol) -> bool {
        protocol == RebalanceProtocol::Eager || self == Strategy::CooperativeSticky
    }
}

/// A consumer's rebalance protocol: the highest one every configured assignor supports. The
/// default `[range, cooperative-sticky]` is therefore eager (reference §4.3).
pub fn rebalance_protocol(strategies: &[Strategy]) -> RebalanceProtocol {
    if !strategies.is_empty()
        && strategies
            .iter()
            .all(|s| s.supports(RebalanceProtocol::Cooperative))
    {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

/// The group's assignor (reference §4.2): among the strategies every member supports, each
/// member votes for its first (most preferred) one, and the most votes win; ties go to the
/// earlier candidate in the first member's list. `None` when the members share none
/// (Kafka's INCONSISTENT_GROUP_PROTOCOL).
pub fn choose_strategy(members: &[Vec<Strategy>]) -> Option<Strategy> {
    let first = members.first()?;
    let common: Vec<Strategy> = first
        .iter()
        .copied()
        .filter(|s| members.iter().all(|m| m.contains(s)))
        .collect();
    if common.is_empty() {
        return None;
    }
    let mut votes: Vec<(Strategy, usize)> = common.iter().map(|&s| (s, 0)).collect();
    for m in members {
        if let Some(pick) = m.iter().find(|s| common.contains(s)) {
            votes.iter_mut().find(|(s, _)| s == pick).expect("common").1 += 1;
        }
    }
    let best = votes.iter().map(|(_, n)| *n).max().expect("non-empty");
    votes.into_iter().find(|(_, n)| *n == best).map(|(s, _)| s)
}

/// Member id → its partitions, sorted.
pub type Assignment = BTreeMap<String, Vec<Tp>>;

/// Computes an assignment. `partitions` gives each topic's partition count; subscriptions to
/// topics that do not exist are ignored, as Kafka does.
pub fn assign(
    strategy: Strategy,
    partitions: &BTreeMap<String, u32>,
    members: &[Member],
) -> Assignment {
    let mut out = match strategy {
        Strategy::Range => range(partitions, members),
        Strategy::RoundRobin => round_robin(partitions, members),
        Strategy::Sticky => sticky(partitions, members),
        Strategy::CooperativeSticky => cooperative_sticky(partitions, members),
    };
    for m in members {
        out.entry(m.id.clone()).or_default();
    }
    for v in out.values_mut() {
        crate::sort::sort(v);
    }
    out
}

/// Kafka's member order for range and roundrobin: static members first by instance id, then
/// dynamic members by member id.
fn kafka_order(members: &[Member]) -> Vec<&Member> {
    let mut sorted: Vec<&Member> = members.iter().collect();
    crate::sort::sort_by(&mut sorted, |a, b| match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then(a.id.cmp(&b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    });
    sorted
}

/// RangeAssignor: per topic, contiguous ranges; the first `P % C` consumers get one more.
fn range(partitions: &BTreeMap<String, u32>, members: &[Member]) -> Assignment {
    let mut out = Assignment::new();
    let ordered = kafka_order(members);
    for (topic, &count) in partitions {
        let subscribed: Vec<&&Member> = ordered
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let c = subscribed.len() as u32;
        let (n, extra) = (count / c, count % c);
        let mut start = 0;
        for (i, m) in subscribed.iter().enumerate() {
            let len = n + u32::from((i as u32) < extra);
            let entry = out.entry(m.id.clone()).or_default();
            entry.extend((start..start + len).map(|p| (topic.clone(), p)));
            start += len;
        }
    }
    out
}

/// RoundRobinAssignor: all subscribed partitions in (topic, partition) order, dealt to members
/// in order, skipping members not subscribed to the partition's topic.
fn round_robin(partitions: &BTreeMap<String, u32>, members: &[Member]) -> Assignment {
    let mut out = Assignment::new();
    let ordered = kafka_order(members);
    if ordered.is_empty() {
        return out;
    }
    let mut next = 0usize;
    for (topic, &count) in partitions {
        if !ordered.iter().any(|m| m.topics.contains(topic)) {
            continue;
        }
        for p in 0..count {
            while !ordered[next % ordered.len()].topics.contains(topic) {
                next += 1;
            }
            out.entry(ordered[next % ordered.len()].id.clone())
                .or_default()
                .push((topic.clone(), p));
            next += 1;
        }
    }
    out
}

/// Each claimed partition (existing and subscribed) and the members that claim it in the
/// newest generation among its claims: one is its valid owner; two or more invalidate it for
/// all (Kafka: "consumers claiming the same partition" in the same generation).
fn newest_claims<'m>(
    partitions: &BTreeMap<String, u32>,
    members: &'m [Member],
) -> BTreeMap<Tp, Vec<&'m str>> {
    let mut claims: BTreeMap<Tp, Vec<(i32, &str)>> = BTreeMap::new();
    for m in members {
        for tp in &m.owned {
            let exists = partitions.get(&tp.0).is_some_and(|&n| tp.1 < n);
            if exists && m.topics.contains(&tp.0) {
                claims
                    .entry(tp.clone())
                    .or_default()
                    .push((m.generation.unwrap_or(-1), &m.id));
            }
        }
    }
    crate::sort::map(claims.into_iter().map(|(tp, c)| {
        let newest = c.iter().map(|claim| claim.0).max().expect("a claim");
        let winners = c.iter().filter(|(g, _)| *g == newest).map(|(_, id)| *id);
        (tp, winners.collect())
    }))
}

/// Each member's valid owned partitions: existing, subscribed, and not claimed by another
/// member of the same or a newer generation (same generation: nobody keeps it).
fn valid_owned(
    partitions: &BTreeMap<String, u32>,
    members: &[Member],
) -> BTreeMap<String, Vec<Tp>> {
    let mut out: BTreeMap<String, Vec<Tp>> =
        crate::sort::map(members.iter().map(|m| (m.id.clone(), Vec::new())));
    for (tp, winners) in newest_claims(partitions, members) {
        if let [owner] = winners[..] {
            out.get_mut(owner).expect("member").push(tp);
        }
    }
    for v in out.values_mut() {
        // "Sorted by partition then topic", as Kafka's constrained assignor keeps them.
        crate::sort::sort_by(v, |a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    }
    out
}

/// Sticky: balance first, then keep what members own (AbstractStickyAssignor). Identical
/// subscriptions use Kafka's constrained algorithm exactly; differing ones a general one that
/// keeps valid ownership and hands each free partition to the eligible member with the fewest.
fn sticky(partitions: &BTreeMap<String, u32>, members: &[Member]) -> Assignment {
    if members.is_empty() {
        return Assignment::new();
    }
    let owned = valid_owned(partitions, members);
    if identical_subscriptions(members) {
        constrained(partitions, members, owned)
    } else {
        general(partitions, members, owned)
    }
}

fn identical_subscriptions(members: &[Member]) -> bool {
    members.windows(2).all(|w| {
        let a: BTreeSet<&String> = crate::sort::set(&w[0].topics);
        let b: BTreeSet<&String> = crate::sort::set(&w[1].topics);
        a == b
    })
}

fn all_partitions(partitions: &BTreeMap<String, u32>, topics: &BTreeSet<&String>) -> Vec<Tp> {
    partitions
        .iter()
        .filter(|(t, _)| topics.contains(t))
        .flat_map(|(t, &n)| (0..n).map(move |p| (t.clone(), p)))
        .collect()
}

/// Kafka's `constrainedAssign` for identical subscriptions.
fn constrained(
    partitions: &BTreeMap<String, u32>,
    members: &[Member],
    owned: BTreeMap<String, Vec<Tp>>,
) -> Assignment {
    let topics: BTreeSet<&String> = crate::sort::set(&members[0].topics);
    let all = all_partitions(partitions, &topics);
    let m = members.len();
    let (min_quota, max_quota) = (all.len() / m, all.len().div_ceil(m));
    let expected_over_min = all.len() % m;
    let mut over_min = 0usize;
    let mut out = Assignment::new();
    let mut under_min: Vec<String> = Vec::new();
    let mut exactly_min: Vec<String> = Vec::new();
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    // Step 1: keep owned partitions up to the quotas.
    let mut ids: Vec<&String> = owned.keys().collect();
    crate::sort::sort(&mut ids);
    for id in ids {
        let mine = &owned[id];
        let keep = if mine.len() < min_quota {
            under_min.push(id.clone());
            mine.len()
        } else if over_min < expected_over_min && mine.len() >= max_quota {
            over_min += 1;
            max_quota
        } else {
            if over_min < expected_over_min {
                exactly_min.push(id.clone());
            }
            min_quota
        };
        let kept: Vec<Tp> = mine[..keep].to_vec();
        taken.extend(kept.iter().cloned());
        out.insert(id.clone(), kept);
    }
    if over_min == expected_over_min {
        exactly_min.clear();
    }
    // Step 2: deal the rest, round-robin over members under the minimum, then to members at
    // exactly the minimum until enough members hold the maximum.
    let mut cursor = 0usize;
    for tp in all.into_iter().filter(|tp| !taken.contains(tp)) {
        let id = if !under_min.is_empty() {
            if cursor >= under_min.len() {
                cursor = 0;
            }
            under_min[cursor].clone()
        } else if !exactly_min.is_empty() {
            exactly_min.remove(0)
        } else {
            unreachable!("quotas always leave room for every partition");
        };
        let entry = out.entry(id.clone()).or_default();
        entry.push(tp);
        let n = entry.len();
        if under_min.contains(&id) {
            if n == min_quota {
                under_min.remove(cursor);
                if over_min < expected_over_min {
                    exactly_min.push(id.clone());
                }
            } else {
                cursor += 1;
            }
        }
        if n == max_quota && max_quota > min_quota {
            over_min += 1;
            exactly_min.retain(|e| *e != id);
            if over_min == expected_over_min {
                exactly_min.clear();
            }
        }
    }
    out
}

/// Differing subscriptions, as Kafka's `GeneralAssignmentBuilder`: keep valid ownership; list
/// the partitions topic by topic, the topics with the fewest possible members first (ties by
/// name: `TopicComparator`); give each free one to the eligible member with the fewest
/// partitions (ties by member id: `SubscriptionComparator`); then `performReassignments`: while
/// some partition's owner holds two more than another member that may take it, move it to the
/// least loaded member that may; and keep the result only if it is better balanced than what
/// the members held before (`getBalanceScore`).
fn general(
    partitions: &BTreeMap<String, u32>,
    members: &[Member],
    owned: BTreeMap<String, Vec<Tp>>,
) -> Assignment {
    let mut out: Assignment = owned;
    let potential = |topic: &str| -> Vec<&String> {
        members
            .iter()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .map(|m| &m.id)
            .collect()
    };
    let mut topics: Vec<&String> = partitions
        .keys()
        .filter(|t| !potential(t).is_empty())
        .collect();
    crate::sort::sort_by_key(&mut topics, |t| (potential(t).len(), *t));
    let sorted: Vec<Tp> = topics
        .iter()
        .flat_map(|t| (0..partitions[*t]).map(move |p| ((*t).clone(), p)))
        .collect();
    let subscribed = |id: &str, topic: &str| {
        members
            .iter()
            .any(|m| m.id == id && m.topics.iter().any(|t| t == topic))
    };
    // The least loaded member that may take a partition of `topic` (ties by id).
    let least_loaded = |out: &Assignment, topic: &str| -> Option<String> {
        out.iter()
            .filter(|(id, _)| subscribed(id, topic))
            .min_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0)))
            .map(|(id, _)| id.clone())
    };
    let before = out.clone();
    let taken: BTreeSet<Tp> = crate::sort::set(out.values().flatten().cloned());
    for tp in sorted.iter().filter(|tp| !taken.contains(*tp)) {
        if let Some(id) = least_loaded(&out, &tp.0) {
            out.get_mut(&id).expect("member").push(tp.clone());
        }
    }
    let initializing = before.values().all(|v| v.is_empty());
    let pre_balance = out.clone();
    let owner_of = |out: &Assignment, tp: &Tp| -> Option<String> {
        out.iter()
            .find(|(_, v)| v.contains(tp))
            .map(|(id, _)| id.clone())
    };
    // `performReassignments`: passes over the partitions in order until one moves nothing;
    // a pass stops early once the assignment is balanced (`isBalanced`).
    let mut moved_any = false;
    loop {
        let mut moved = false;
        for tp in &sorted {
            if is_balanced(&out, partitions, members) {
                break;
            }
            let eligible = potential(&tp.0);
            if eligible.len() < 2 {
                continue; // `canParticipateInReassignment`
            }
            let Some(owner) = owner_of(&out, tp) else {
                continue;
            };
            let owner_load = out[&owner].len();
            let better = eligible
                .iter()
                .any(|other| owner_load > out.get(*other).map_or(0, Vec::len) + 1);
            if !better {
                continue;
            }
            let Some(to) = least_loaded(&out, &tp.0) else {
                continue;
            };
            out.get_mut(&owner).expect("owner").retain(|x| x != tp);
            out.get_mut(&to).expect("member").push(tp.clone());
            moved = true;
            moved_any = true;
        }
        if !moved {
            break;
        }
    }
    if !initializing && moved_any && balance_score(&out) >= balance_score(&pre_balance) {
        return pre_balance;
    }
    out
}

/// Kafka's `isBalanced`: loads differ by at most one, or no member could take a partition it
/// may hold from a member holding more than it does.
fn is_balanced(out: &Assignment, partitions: &BTreeMap<String, u32>, members: &[Member]) -> bool {
    let min = out.values().map(Vec::len).min().unwrap_or(0);
    let max = out.values().map(Vec::len).max().unwrap_or(0);
    if min + 1 >= max {
        return true;
    }
    let owner: BTreeMap<&Tp, &String> = crate::sort::map(
        out.iter()
            .flat_map(|(id, v)| v.iter().map(move |tp| (tp, id))),
    );
    for m in members {
        let Some(mine) = out.get(&m.id) else { continue };
        let topics: BTreeSet<&String> = crate::sort::set(&m.topics);
        for tp in all_partitions(partitions, &topics) {
            if mine.contains(&tp) {
                continue;
            }
            if owner.get(&tp).is_some_and(|o| mine.len() < out[*o].len()) {
                return false;
            }
        }
    }
    true
}

/// Kafka's `getBalanceScore`: the sum, over every pair of members, of the difference in how
/// many partitions they hold (0 is perfect balance).
fn balance_score(out: &Assignment) -> usize {
    let loads: Vec<usize> = out.values().map(Vec::len).collect();
    let mut score = 0;
    for (i, a) in loads.iter().enumerate() {
        for b in &loads[i + 1..] {
            score += a.abs_diff(*b);
        }
    }
    score
}

/// CooperativeSticky: the sticky placement, minus the partitions whose ownership transfers in
/// this round; their owner revokes them now and the next round assigns them (KIP-429). Which
/// ones transfer is Kafka's `partitionsTransferringOwnership`: with identical subscriptions
/// (`ConstrainedAssignmentBuilder`), a partition going to a member that is not its valid owner
/// while it has one, or while two members claim it in the same generation; otherwise
/// (`CooperativeStickyAssignor.computePartitionsTransferringOwnership`), a partition added to a
/// member that did not claim it and revoked from one that did. A stale claim (an older
/// generation's) withholds nothing: its partition stays with the member the placement gives it.
fn cooperative_sticky(partitions: &BTreeMap<String, u32>, members: &[Member]) -> Assignment {
    let mut out = sticky(partitions, members);
    let transferring: BTreeSet<Tp> = if identical_subscriptions(members) {
        let claims = newest_claims(partitions, members);
        crate::sort::set(
            out.iter()
                .flat_map(|(id, tps)| tps.iter().map(move |tp| (id, tp)))
                .filter(|(id, tp)| match claims.get(*tp).map(Vec::as_slice) {
                    Some([owner]) => owner != id,
                    Some(_) => true, // Claimed twice in one generation.
                    None => false,
                })
                .map(|(_, tp)| tp.clone()),
        )
    } else {
        let mut added = BTreeSet::new();
        let mut revoked = BTreeSet::new();
        for m in members {
            let assigned = out.get(&m.id).map_or(&[][..], Vec::as_slice);
            added.extend(assigned.iter().filter(|tp| !m.owned.contains(tp)).cloned());
            revoked.extend(m.owned.iter().filter(|tp| !assigned.contains(tp)).cloned());
        }
        crate::sort::set(added.intersection(&revoked).cloned())
    };
    for tps in out.values_mut() {
        tps.retain(|tp| !transferring.contains(tp));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(spec: &[(&str, u32)]) -> BTreeMap<String, u32> {
        spec.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn member(id: &str, subs: &[&str], owned: &[(&str, u32)]) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            topics: subs.iter().map(|s| s.to_string()).collect(),
            owned: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            generation: Some(1),
        }
    }

    fn tps(spec: &[(&str, u32)]) -> Vec<Tp> {
        spec.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    #[test]
    fn the_default_strategy_list_is_eager_and_picks_range() {
        use Strategy::*;
        let default = vec![Range, CooperativeSticky];
        assert_eq!(rebalance_protocol(&default), RebalanceProtocol::Eager);
        assert_eq!(
            choose_strategy(&[default.clone(), default.clone()]),
            Some(Range)
        );
        // Dropping range (the second step of a rolling upgrade) switches to cooperative.
        let upgraded = vec![CooperativeSticky];
        assert_eq!(
            rebalance_protocol(&upgraded),
            RebalanceProtocol::Cooperative
        );
        // Mid-upgrade, with members on both lists, the common choice is cooperative-sticky.
        assert_eq!(
            choose_strategy(&[default, upgraded]),
            Some(CooperativeSticky)
        );
        assert_eq!(
            choose_strategy(&[vec![Range], vec![RoundRobin]]),
            None,
            "INCONSISTENT_GROUP_PROTOCOL"
        );
        assert_eq!(
            choose_strategy(&[vec![Sticky, Range], vec![Range, Sticky], vec![Range]]),
            Some(Range),
            "most votes"
        );
    }

    #[test]
    fn range_matches_the_javadoc_example() {
        let a = assign(
            Strategy::Range,
            &topics(&[("t0", 3), ("t1", 3)]),
            &[
                member("C0", &["t0", "t1"], &[]),
                member("C1", &["t0", "t1"], &[]),
            ],
        );
        assert_eq!(a["C0"], tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
        assert_eq!(a["C1"], tps(&[("t0", 2), ("t1", 2)]));
    }

    #[test]
    fn roundrobin_matches_the_javadoc_examples() {
        let a = assign(
            Strategy::RoundRobin,
            &topics(&[("t0", 3), ("t1", 3)]),
            &[
                member("C0", &["t0", "t1"], &[]),
                member("C1", &["t0", "t1"], &[]),
            ],
        );
        assert_eq!(a["C0"], tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
        assert_eq!(a["C1"], tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));
        let members = [
            member("C0", &["t0"], &[]),
            member("C1", &["t0", "t1"], &[]),
            member("C2", &["t0", "t1", "t2"], &[]),
        ];
        let a = assign(
            Strategy::RoundRobin,
            &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]),
            &members,
        );
        assert_eq!(a["C0"], tps(&[("t0", 0)]));
        assert_eq!(a["C1"], tps(&[("t1", 0)]));
        assert_eq!(a["C2"], tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    #[test]
    fn static_members_come_first_in_kafka_order() {
        let mut m1 = member("B", &["t"], &[]);
        m1.instance_id = Some("z".into());
        let m0 = member("A", &["t"], &[]);
        let a = assign(Strategy::Range, &topics(&[("t", 3)]), &[m0, m1]);
        assert_eq!(
            a["B"],
            tps(&[("t", 0), ("t", 1)]),
            "the static member sorts before the dynamic one"
        );
    }

    #[test]
    fn sticky_fresh_group_matches_the_javadoc_example() {
        let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let subs = ["t0", "t1", "t2", "t3"];
        let a = assign(
            Strategy::Sticky,
            &t,
            &[
                member("C0", &subs, &[]),
                member("C1", &subs, &[]),
                member("C2", &subs, &[]),
            ],
        );
        assert_eq!(a["C0"], tps(&[("t0", 0), ("t1", 1), ("t3", 0)]));
        assert_eq!(a["C1"], tps(&[("t0", 1), ("t2", 0), ("t3", 1)]));
        assert_eq!(a["C2"], tps(&[("t1", 0), ("t2", 1)]));
    }

    #[test]
    fn sticky_keeps_everything_owned_when_a_member_leaves() {
        // The Javadoc example after C1 leaves: C0 and C2 keep all they had and split C1's.
        let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let subs = ["t0", "t1", "t2", "t3"];
        let c0 = member("C0", &subs, &[("t0", 0), ("t1", 1), ("t3", 0)]);
        let c2 = member("C2", &subs, &[("t1", 0), ("t2", 1)]);
        let a = assign(Strategy::Sticky, &t, &[c0, c2]);
        assert_eq!(a["C0"].len(), 4);
        assert_eq!(a["C2"].len(), 4);
        for tp in tps(&[("t0", 0), ("t1", 1), ("t3", 0)]) {
            assert!(a["C0"].contains(&tp));
        }
        for tp in tps(&[("t1", 0), ("t2", 1)]) {
            assert!(a["C2"].contains(&tp));
        }
    }

    #[test]
    fn cooperative_sticky_leaves_moving_partitions_out_for_a_second_round() {
        // C1 joins a group where C0 owns everything: half must move, so this round assigns C1
        // nothing and C0 only what it keeps.
        let c0 = member("C0", &["t"], &[("t", 0), ("t", 1), ("t", 2), ("t", 3)]);
        let c1 = member("C1", &["t"], &[]);
        let round1 = assign(Strategy::CooperativeSticky, &topics(&[("t", 4)]), &[c0, c1]);
        assert_eq!(round1["C0"].len(), 2);
        assert!(round1["C1"].is_empty(), "{round1:?}");
        // Round two: C0 revoked the others; now they are free and go to C1.
        let c0 = member(
            "C0",
            &["t"],
            &round1["C0"]
                .iter()
                .map(|(t, p)| (t.as_str(), *p))
                .collect::<Vec<_>>(),
        );
        let c1 = member("C1", &["t"], &[]);
        let round2 = assign(Strategy::CooperativeSticky, &topics(&[("t", 4)]), &[c0, c1]);
        assert_eq!(round2["C0"], round1["C0"], "nothing owned moves");
        assert_eq!(round2["C1"].len(), 2);
    }

    #[test]
    fn members_beyond_the_partition_count_sit_idle() {
        let members: Vec<Member> = (0..5)
            .map(|i| member(&format!("C{i}"), &["t"], &[]))
            .collect();
        for s in [Strategy::Range, Strategy::RoundRobin, Strategy::Sticky] {
            let a = assign(s, &topics(&[("t", 3)]), &members);
            assert_eq!(
                a.values().filter(|v| v.is_empty()).count(),
                2,
                "{s:?}: {a:?}"
            );
            assert_eq!(a.values().map(Vec::len).sum::<usize>(), 3);
        }
    }

    #[test]
    fn every_assignor_gives_each_partition_to_exactly_one_subscribed_member() {
        // A small exhaustive property check over group shapes and subscriptions.
        let t = topics(&[("a", 3), ("b", 5), ("c", 1)]);
        let subsets: [&[&str]; 5] = [&["a"], &["a", "b"], &["b", "c"], &["a", "b", "c"], &["c"]];
        for n in 1..=5usize {
            for shift in 0..subsets.len() {
                let members: Vec<Member> = (0..n)
                    .map(|i| member(&format!("m{i}"), subsets[(i + shift) % subsets.len()], &[]))
                    .collect();
                for s in [
                    Strategy::Range,
                    Strategy::RoundRobin,
                    Strategy::Sticky,
                    Strategy::CooperativeSticky,
                ] {
                    let a = assign(s, &t, &members);
                    let mut seen = BTreeSet::new();
                    for (id, list) in &a {
                        let m = members.iter().find(|m| m.id == *id).expect("member");
                        for tp in list {
                            assert!(
                                m.topics.contains(&tp.0),
                                "{s:?}: {id} got {tp:?} without subscribing"
                            );
                            assert!(seen.insert(tp.clone()), "{s:?}: {tp:?} given twice");
                        }
                    }
                    let wanted: BTreeSet<&String> =
                        members.iter().flat_map(|m| m.topics.iter()).collect();
                    assert_eq!(
                        seen.len(),
                        all_partitions(&t, &wanted).len(),
                        "{s:?} n={n} shift={shift}: {a:?}"
                    );
                    assert_eq!(a, assign(s, &t, &members), "deterministic");
                }
            }
        }
    }

    #[test]
    fn sticky_balances_identical_subscriptions_within_one() {
        let members: Vec<Member> = (0..4)
            .map(|i| member(&format!("C{i}"), &["t"], &[]))
            .collect();
        let a = assign(Strategy::Sticky, &topics(&[("t", 10)]), &members);
        let sizes: Vec<usize> = a.values().map(Vec::len).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
}
