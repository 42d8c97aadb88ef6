//! The records the group coordinator keeps in `__consumer_offsets` (Kafka's
//! `GroupCoordinatorRecordHelpers`, in a readable encoding of kplay's own): a commit per
//! group and partition, and a group's metadata (generation, protocol, leader, members and
//! their assignments). The last record of a key wins when a coordinator loads the partition.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::classic::{Group, Member};
use super::coordinator::INTERNAL_RECORD;
use super::Generation;
use crate::protocol::Subscription;
use crate::record::{Offset, Record, TopicPartition};
use crate::time::{Duration, Instant};
use crate::trace::NodeId;

/// Separators of the group metadata value: fields, members, member fields, list items.
const FIELD: char = '\u{1}';
const MEMBER: char = '\u{2}';
const MFIELD: char = '\u{3}';
const ITEM: char = '\u{4}';

/// `__consumer_offsets` key of a commit: group, topic, partition.
pub(super) fn commit_key(group: &str, tp: &TopicPartition) -> Vec<u8> {
    format!("offset\0{group}\0{}\0{}", tp.topic, tp.partition).into_bytes()
}

pub(super) fn parse_commit(record: &Record) -> Option<(Arc<str>, TopicPartition, Offset)> {
    let key = std::str::from_utf8(record.key.as_deref()?).ok()?;
    let mut parts = key.split('\0');
    if parts.next()? != "offset" {
        return None;
    }
    let group = parts.next()?;
    let topic = parts.next()?;
    let partition = parts.next()?.parse().ok()?;
    let value = std::str::from_utf8(record.value.as_deref()?).ok()?;
    let offset = value.parse().ok()?;
    Some((
        Arc::from(group),
        TopicPartition::new(topic, partition),
        Offset(offset),
    ))
}

pub(super) fn group_key(group: &str) -> Vec<u8> {
    format!("group\0{group}").into_bytes()
}

/// The `GroupMetadataValue` of a group: generation, protocol, leader and every member with its
/// subscription and assignment. Consumer node ids stand in for Kafka's client host.
pub(super) fn encode_group(g: &Group, now: Instant) -> Record {
    let tps = |v: &[TopicPartition]| -> String {
        v.iter()
            .map(|tp| format!("{}:{}", tp.topic, tp.partition))
            .collect::<Vec<_>>()
            .join(&ITEM.to_string())
    };
    let members: Vec<String> = g
        .members
        .values()
        .map(|m| {
            let client = match m.client {
                NodeId::Consumer(i) => i,
                _ => u32::MAX,
            };
            [
                m.id.to_string(),
                m.instance_id.as_deref().unwrap_or("").to_string(),
                client.to_string(),
                m.session_timeout.as_micros().to_string(),
                m.rebalance_timeout.as_micros().to_string(),
                m.protocols.join(&ITEM.to_string()),
                m.subscription.topics.join(&ITEM.to_string()),
                tps(&m.assignment),
                m.joined.to_string(),
            ]
            .join(&MFIELD.to_string())
        })
        .collect();
    let value = [
        g.generation.to_string(),
        g.protocol.clone().unwrap_or_default(),
        g.leader.as_deref().unwrap_or("").to_string(),
        members.join(&MEMBER.to_string()),
    ]
    .join(&FIELD.to_string());
    Record {
        timestamp_ms: (now.0 / 1000) as i64,
        key: Some(Arc::from(group_key(&g.id))),
        value: Some(Arc::from(value.into_bytes())),
        headers: crate::record::Headers::default(),
        id: INTERNAL_RECORD,
    }
}

pub(super) struct StoredGroup {
    pub(super) id: Arc<str>,
    pub(super) generation: Generation,
    pub(super) protocol: Option<String>,
    pub(super) leader: Option<Arc<str>>,
    pub(super) members: BTreeMap<Arc<str>, Member>,
}

pub(super) fn parse_group(record: &Record) -> Option<StoredGroup> {
    let key = std::str::from_utf8(record.key.as_deref()?).ok()?;
    let id = key.strip_prefix("group\0")?;
    let value = std::str::from_utf8(record.value.as_deref()?).ok()?;
    let mut fields = value.split(FIELD);
    let generation = Generation(fields.next()?.parse().ok()?);
    let protocol = Some(fields.next()?.to_string()).filter(|p| !p.is_empty());
    let leader = Some(fields.next()?)
        .filter(|l| !l.is_empty())
        .map(Arc::from);
    let list = |s: &str| -> Vec<String> {
        s.split(ITEM)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut members = BTreeMap::new();
    for m in fields.next()?.split(MEMBER).filter(|m| !m.is_empty()) {
        let f: Vec<&str> = m.split(MFIELD).collect();
        let [mid, instance, client, session, rebalance, protocols, topics, assignment, joined] =
            f[..]
        else {
            return None;
        };
        let assignment = list(assignment)
            .iter()
            .filter_map(|tp| {
                let (t, p) = tp.rsplit_once(':')?;
                Some(TopicPartition::new(t, p.parse().ok()?))
            })
            .collect::<Vec<_>>();
        let client: u32 = client.parse().ok()?;
        let member = Member {
            id: Arc::from(mid),
            instance_id: Some(instance).filter(|i| !i.is_empty()).map(Arc::from),
            client: if client == u32::MAX {
                NodeId::Controller
            } else {
                NodeId::Consumer(client)
            },
            session_timeout: Duration(session.parse().ok()?),
            rebalance_timeout: Duration(rebalance.parse().ok()?),
            protocols: list(protocols),
            subscription: Subscription {
                topics: list(topics),
                owned: assignment.clone(),
                previous: assignment.clone(),
                generation: Some(generation),
            },
            assignment,
            session_deadline: Instant::ZERO,
            awaiting_join: None,
            awaiting_sync: None,
            joined: joined.parse().ok()?,
        };
        members.insert(member.id.clone(), member);
    }
    Some(StoredGroup {
        id: Arc::from(id),
        generation,
        protocol,
        leader,
        members,
    })
}
