//! Reading a scenario file: TOML syntax and types first (`crate::read`, with the place of every
//! value), then field-level checks, each error naming the line and the field.

use std::collections::BTreeMap;
use std::fmt;

use kplay_engine::config::ConfigValue;
use kplay_engine::consumer::{failure, CommitStrategy};
use kplay_engine::processor::{Guarantee, Transform};
use kplay_engine::producer::KeyMode;
use toml::Spanned;

use crate::model::*;

/// What is wrong with a scenario, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The field at fault, as a dotted path (`topic.replication_factor`); empty for syntax errors.
    pub field: String,
    pub message: String,
}

impl ScenarioError {
    pub fn field(
        line: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// The largest scenario file accepted (share links carry the whole file).
pub const MAX_SCENARIO_BYTES: usize = 256 * 1024;

use crate::read::{ConfigTable, Fields, Int, Number as Millis, Section};

/// A scenario file's sections as written, each read by hand (`crate::read`) with the place of
/// every value, before the field-level checks below.
struct RawScenario {
    seed: Option<Int>,
    duration_ms: Option<Int>,
    cluster: Option<RawCluster>,
    network: Option<RawNetwork>,
    hardware: Option<ConfigTable>,
    /// `[metrics] interval_ms`.
    metrics_interval_ms: Option<Int>,
    /// `[[alert]] when = "records-lag-max > 1000 for 30 s"`.
    alert: Vec<Spanned<Spanned<String>>>,
    topic: Vec<Spanned<RawTopic>>,
    producer: Vec<Spanned<RawProducer>>,
    consumer: Vec<Spanned<RawConsumer>>,
    processor: Vec<Spanned<RawProcessor>>,
    event: Vec<Spanned<RawEvent>>,
}

struct RawCluster {
    brokers: Option<Int>,
    hardware: Option<Spanned<String>>,
    config: Option<ConfigTable>,
}

struct RawNetwork {
    latency_us: Option<Int>,
    jitter_us: Option<Int>,
}

struct RawTopic {
    name: Spanned<String>,
    partitions: Option<Int>,
    replication_factor: Option<Int>,
    start_ms: Option<Int>,
    config: Option<ConfigTable>,
}

struct RawProducer {
    id: Spanned<String>,
    topic: Spanned<String>,
    rate_per_sec: Option<Int>,
    records: Option<Int>,
    keys: Option<Spanned<String>>,
    value_bytes: Option<Int>,
    values: Option<Spanned<String>>,
    records_per_transaction: Option<Int>,
    abort_rate: Option<Spanned<Millis>>,
    start_ms: Option<Int>,
    config: Option<ConfigTable>,
}

struct RawConsumer {
    id: Spanned<String>,
    topics: Spanned<Vec<String>>,
    /// Milliseconds may be fractional (`0.25`); they become whole microseconds on reading.
    processing_ms_per_record: Option<Spanned<Millis>>,
    commit: Option<Spanned<String>>,
    failures: RawFailures,
    start_ms: Option<Int>,
    config: Option<ConfigTable>,
}

/// Which records fail and what the application does then, as a consumer or a processor
/// writes it.
struct RawFailures {
    /// `consumer` or `processor`, for errors.
    section: &'static str,
    line: usize,
    failure_rate: Option<Spanned<Millis>>,
    on_failure: Option<Spanned<String>>,
    retry_attempts: Option<Int>,
    retry_backoff_ms: Option<Vec<Int>>,
    poison_keys: Option<Spanned<Vec<String>>>,
}

impl RawFailures {
    fn read(f: &mut Fields<'_, '_>, section: &'static str) -> Result<RawFailures, ScenarioError> {
        let mut r = RawFailures {
            section,
            line: f.line(),
            failure_rate: f.number("failure_rate")?,
            on_failure: f.string("on_failure")?,
            retry_attempts: None,
            retry_backoff_ms: None,
            poison_keys: f.strings("poison_keys")?,
        };
        let path = if section == "consumer" {
            "consumer.retry"
        } else {
            "processor.retry"
        };
        if let Some(mut retry) = f.nested("retry", path)? {
            r.retry_attempts = retry.int("attempts")?;
            r.retry_backoff_ms = retry.int_or_ints("backoff_ms")?;
            retry.finish()?;
        }
        Ok(r)
    }
}

struct RawProcessor {
    id: Spanned<String>,
    inputs: Spanned<Vec<String>>,
    output: Spanned<String>,
    group: Option<Spanned<String>>,
    transform: Option<Spanned<String>>,
    guarantee: Option<Spanned<String>>,
    processing_ms_per_record: Option<Spanned<Millis>>,
    failures: RawFailures,
    start_ms: Option<Int>,
    consumer_config: Option<ConfigTable>,
    producer_config: Option<ConfigTable>,
}

struct RawEvent {
    at_ms: Int,
    action: Spanned<String>,
    broker: Option<Int>,
    producer: Option<String>,
    consumer: Option<String>,
    processor: Option<String>,
    topic: Option<String>,
    partition: Option<Int>,
    partitions: Option<Int>,
    replication_factor: Option<Int>,
    offset: Option<Int>,
    rate_per_sec: Option<Int>,
    key: Option<String>,
    value: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    brokers: Option<Vec<Int>>,
    peer: Option<Int>,
    extra_ms: Option<Int>,
    duration_ms: Option<Int>,
    processing_ms_per_record: Option<Spanned<Millis>>,
    topics: Option<Vec<String>>,
    group: Option<String>,
    commit: Option<String>,
    config: Option<ConfigTable>,
}

/// Reads every `[[key]]` table of `f` with `read`, each with its place.
fn each<'a, 'i, T>(
    f: &mut Fields<'a, 'i>,
    lines: &'a Lines<'a>,
    key: &'static str,
    read: impl Fn(Fields<'a, 'i>) -> Result<T, ScenarioError>,
) -> Result<Vec<Spanned<T>>, ScenarioError> {
    let mut out = Vec::new();
    for t in f.tables(key)? {
        let span = t.span();
        out.push(Spanned::new(span, read(Fields::new(lines, key, t))?));
    }
    Ok(out)
}

fn text(v: Option<Spanned<String>>) -> Option<String> {
    v.map(Spanned::into_inner)
}

impl RawScenario {
    fn read<'a>(lines: &'a Lines<'a>, doc: Section<'a, '_>) -> Result<RawScenario, ScenarioError> {
        let mut f = Fields::new(lines, "", doc);
        let raw = RawScenario {
            seed: f.int("seed")?,
            duration_ms: f.int("duration_ms")?,
            cluster: match f.table("cluster")? {
                None => None,
                Some(t) => {
                    let mut c = Fields::new(lines, "cluster", t);
                    let cluster = RawCluster {
                        brokers: c.int("brokers")?,
                        hardware: c.string("hardware")?,
                        config: c.config("config")?,
                    };
                    c.finish()?;
                    Some(cluster)
                }
            },
            network: match f.table("network")? {
                None => None,
                Some(t) => {
                    let mut n = Fields::new(lines, "network", t);
                    let network = RawNetwork {
                        latency_us: n.int("latency_us")?,
                        jitter_us: n.int("jitter_us")?,
                    };
                    n.finish()?;
                    Some(network)
                }
            },
            hardware: f.config("hardware")?,
            metrics_interval_ms: match f.table("metrics")? {
                None => None,
                Some(t) => {
                    let mut m = Fields::new(lines, "metrics", t);
                    let interval = m.int("interval_ms")?;
                    m.finish()?;
                    interval
                }
            },
            alert: each(&mut f, lines, "alert", |mut a| {
                let when = a.string("when")?;
                let when = a.required("when", when)?;
                a.finish()?;
                Ok(when)
            })?,
            topic: each(&mut f, lines, "topic", RawTopic::read)?,
            producer: each(&mut f, lines, "producer", RawProducer::read)?,
            consumer: each(&mut f, lines, "consumer", RawConsumer::read)?,
            processor: each(&mut f, lines, "processor", RawProcessor::read)?,
            event: each(&mut f, lines, "event", RawEvent::read)?,
        };
        f.finish()?;
        Ok(raw)
    }
}

impl RawTopic {
    fn read(mut f: Fields<'_, '_>) -> Result<RawTopic, ScenarioError> {
        let name = f.string("name")?;
        let t = RawTopic {
            name: f.required("name", name)?,
            partitions: f.int("partitions")?,
            replication_factor: f.int("replication_factor")?,
            start_ms: f.int("start_ms")?,
            config: f.config("config")?,
        };
        f.finish()?;
        Ok(t)
    }
}

impl RawProducer {
    fn read(mut f: Fields<'_, '_>) -> Result<RawProducer, ScenarioError> {
        let (id, topic) = (f.string("id")?, f.string("topic")?);
        let p = RawProducer {
            id: f.required("id", id)?,
            topic: f.required("topic", topic)?,
            rate_per_sec: f.int_or_max("rate_per_sec")?,
            records: f.int("records")?,
            keys: f.string("keys")?,
            value_bytes: f.int("value_bytes")?,
            values: f.string("values")?,
            records_per_transaction: f.int("records_per_transaction")?,
            abort_rate: f.number("abort_rate")?,
            start_ms: f.int("start_ms")?,
            config: f.config("config")?,
        };
        f.finish()?;
        Ok(p)
    }
}

impl RawConsumer {
    fn read(mut f: Fields<'_, '_>) -> Result<RawConsumer, ScenarioError> {
        let (id, topics) = (f.string("id")?, f.strings("topics")?);
        let c = RawConsumer {
            id: f.required("id", id)?,
            topics: f.required("topics", topics)?,
            processing_ms_per_record: f.number("processing_ms_per_record")?,
            commit: f.string("commit")?,
            failures: RawFailures::read(&mut f, "consumer")?,
            start_ms: f.int("start_ms")?,
            config: f.config("config")?,
        };
        f.finish()?;
        Ok(c)
    }
}

impl RawProcessor {
    fn read(mut f: Fields<'_, '_>) -> Result<RawProcessor, ScenarioError> {
        let (id, inputs, output) = (f.string("id")?, f.strings("inputs")?, f.string("output")?);
        let p = RawProcessor {
            id: f.required("id", id)?,
            inputs: f.required("inputs", inputs)?,
            output: f.required("output", output)?,
            group: f.string("group")?,
            transform: f.string("transform")?,
            guarantee: f.string("guarantee")?,
            processing_ms_per_record: f.number("processing_ms_per_record")?,
            failures: RawFailures::read(&mut f, "processor")?,
            start_ms: f.int("start_ms")?,
            consumer_config: f.config("consumer_config")?,
            producer_config: f.config("producer_config")?,
        };
        f.finish()?;
        Ok(p)
    }
}

impl RawEvent {
    fn read(mut f: Fields<'_, '_>) -> Result<RawEvent, ScenarioError> {
        let (at_ms, action) = (f.int("at_ms")?, f.string("action")?);
        let e = RawEvent {
            at_ms: f.required("at_ms", at_ms)?,
            action: f.required("action", action)?,
            broker: f.int("broker")?,
            producer: text(f.string("producer")?),
            consumer: text(f.string("consumer")?),
            processor: text(f.string("processor")?),
            topic: text(f.string("topic")?),
            partition: f.int("partition")?,
            partitions: f.int("partitions")?,
            replication_factor: f.int("replication_factor")?,
            offset: f.int("offset")?,
            rate_per_sec: f.int_or_max("rate_per_sec")?,
            key: text(f.string("key")?),
            value: text(f.string("value")?),
            headers: f.string_table("headers")?,
            brokers: f.ints("brokers")?,
            peer: f.int("peer")?,
            extra_ms: f.int("extra_ms")?,
            duration_ms: f.int("duration_ms")?,
            processing_ms_per_record: f.number("processing_ms_per_record")?,
            topics: f.strings("topics")?.map(Spanned::into_inner),
            group: text(f.string("group")?),
            commit: text(f.string("commit")?),
            config: f.config("config")?,
        };
        f.finish()?;
        Ok(e)
    }
}

/// Maps byte offsets to 1-based line numbers.
pub(crate) struct Lines<'a>(pub(crate) &'a str);

impl Lines<'_> {
    pub(crate) fn at(&self, offset: usize) -> usize {
        let end = offset.min(self.0.len());
        self.0.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
    pub(crate) fn of<T>(&self, s: &Spanned<T>) -> usize {
        self.at(s.span().start)
    }
}

fn int_in(
    lines: &Lines<'_>,
    v: &Int,
    field: &str,
    min: i64,
    max: i64,
) -> Result<i64, ScenarioError> {
    let x = *v.get_ref();
    if x < min || x > max {
        let m = format!("must be between {min} and {max}, got {x}");
        return Err(ScenarioError::field(Some(lines.of(v)), field, m));
    }
    Ok(x)
}

/// A producer's rate: records a second, or `"max"` (`RATE_MAX`, a closed loop).
fn rate(lines: &Lines<'_>, v: &Int, field: &str) -> Result<u64, ScenarioError> {
    if *v.get_ref() == i64::MAX {
        return Ok(kplay_engine::producer::RATE_MAX);
    }
    Ok(int_in(
        lines,
        v,
        field,
        0,
        kplay_engine::sim::MAX_RATE_PER_SEC as i64,
    )? as u64)
}

/// A producer's `values`: `random` (the default) or `json`.
fn values(
    l: &Lines<'_>,
    v: &Option<Spanned<String>>,
) -> Result<kplay_engine::compression::Values, ScenarioError> {
    let Some(v) = v else {
        return Ok(Default::default());
    };
    kplay_engine::compression::Values::parse(v.get_ref()).ok_or_else(|| {
        let m = format!("expected \"random\" or \"json\", got {:?}", v.get_ref());
        ScenarioError::field(Some(l.of(v)), "producer.values", m)
    })
}

/// `[metrics] interval_ms` and the `[[alert]]` rules.
fn metrics_and_alerts(
    l: &Lines<'_>,
    raw: &RawScenario,
    s: &mut Scenario,
) -> Result<(), ScenarioError> {
    s.metrics_interval_ms = opt_int(
        l,
        &raw.metrics_interval_ms,
        "metrics.interval_ms",
        10,
        MAX_DURATION_MS as i64,
        crate::model::METRICS_INTERVAL_MS as i64,
    )? as u64;
    for a in &raw.alert {
        let when = a.get_ref();
        let rule = kplay_engine::sim::AlertRule::parse(when.get_ref())
            .map_err(|m| ScenarioError::field(Some(l.of(when)), "alert.when", m))?;
        s.alerts.push(rule);
    }
    Ok(())
}

/// `[cluster] hardware` and the `[hardware]` table's overrides.
fn hardware(
    lines: &Lines<'_>,
    profile: &Option<Spanned<String>>,
    overrides: &Option<ConfigTable>,
) -> Result<kplay_engine::hardware::Hardware, ScenarioError> {
    use kplay_engine::hardware::{Hardware, MAX_FIELD, PROFILES};
    let mut hw = match profile {
        None => Hardware::ideal(),
        Some(name) => Hardware::named(name.get_ref()).ok_or_else(|| {
            let m = format!(
                "unknown hardware profile {:?}, expected one of {}",
                name.get_ref(),
                PROFILES.join(", ")
            );
            ScenarioError::field(Some(lines.of(name)), "cluster.hardware", m)
        })?,
    };
    for (key, value) in overrides.iter().flatten() {
        let line = Some(lines.of(value));
        let field = format!("hardware.{key}");
        let n = match value.get_ref() {
            toml::Value::Integer(i) if (0..=MAX_FIELD as i64).contains(i) => *i as u64,
            _ => {
                let m = format!("must be a whole number between 0 and {MAX_FIELD}");
                return Err(ScenarioError::field(line, field, m));
            }
        };
        hw.set(key, n)
            .map_err(|m| ScenarioError::field(line, field, m))?;
    }
    Ok(hw)
}

fn opt_int(
    lines: &Lines<'_>,
    v: &Option<Int>,
    field: &str,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ScenarioError> {
    v.as_ref()
        .map_or(Ok(default), |v| int_in(lines, v, field, min, max))
}

fn config_pairs(
    lines: &Lines<'_>,
    table: &Option<ConfigTable>,
    context: &str,
) -> Result<ConfigPairs, ScenarioError> {
    let mut out = Vec::new();
    for (key, value) in table.iter().flatten() {
        let line = Some(lines.of(value));
        let field = format!("{context}.config.{key}");
        let v = match value.get_ref() {
            toml::Value::Integer(i) => ConfigValue::Int(*i),
            toml::Value::Boolean(b) => ConfigValue::Bool(*b),
            toml::Value::String(s) => ConfigValue::Str(s.clone()),
            toml::Value::Array(items) => {
                let mut list = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => list.push(s.to_string()),
                        None => {
                            return Err(ScenarioError::field(
                                line,
                                field,
                                "list items must be strings",
                            ))
                        }
                    }
                }
                ConfigValue::List(list)
            }
            other => {
                let m = format!(
                    "expected an integer, boolean, string or list of strings, got a {}",
                    other.type_str()
                );
                return Err(ScenarioError::field(line, field, m));
            }
        };
        out.push((key.clone(), v));
    }
    Ok(out)
}

fn key_mode(lines: &Lines<'_>, keys: &Option<Spanned<String>>) -> Result<KeyMode, ScenarioError> {
    let Some(k) = keys else {
        return Ok(KeyMode::Null);
    };
    let bad = || {
        let m = format!(
            "expected \"none\", \"unique\" or \"pool:N\", got {:?}",
            k.get_ref()
        );
        ScenarioError::field(Some(lines.of(k)), "producer.keys", m)
    };
    match k.get_ref().as_str() {
        "none" => Ok(KeyMode::Null),
        "unique" => Ok(KeyMode::Unique),
        other => {
            let n = other.strip_prefix("pool:").ok_or_else(bad)?;
            let n: u32 = n.trim().parse().map_err(|_| bad())?;
            if n == 0 || n > kplay_engine::sim::MAX_KEY_POOL {
                let m = format!(
                    "a key pool has 1 to {} keys, got {n}",
                    kplay_engine::sim::MAX_KEY_POOL
                );
                return Err(ScenarioError::field(Some(lines.of(k)), "producer.keys", m));
            }
            Ok(KeyMode::Pool(n))
        }
    }
}

const U32: i64 = u32::MAX as i64;

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = Scenario::parse_unchecked(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads a scenario, checking syntax, types and ranges, but not whether it can run.
    pub fn parse_unchecked(text: &str) -> Result<Scenario, ScenarioError> {
        if text.len() > MAX_SCENARIO_BYTES {
            let m = format!(
                "the file is {} bytes; the limit is {MAX_SCENARIO_BYTES}",
                text.len()
            );
            return Err(ScenarioError::field(None, "", m));
        }
        let lines = Lines(text);
        let doc = crate::read::document(text, &lines)?;
        let raw = RawScenario::read(&lines, Spanned::new(doc.span(), doc.get_ref()))?;
        let l = &lines;
        let mut s = Scenario::empty(1);
        s.seed = opt_int(l, &raw.seed, "seed", 0, i64::MAX, 42)? as u64;
        s.duration_ms = opt_int(
            l,
            &raw.duration_ms,
            "duration_ms",
            1,
            MAX_DURATION_MS as i64,
            30_000,
        )? as u64;
        if let Some(c) = &raw.cluster {
            s.cluster.brokers = opt_int(
                l,
                &c.brokers,
                "cluster.brokers",
                1,
                kplay_engine::sim::MAX_BROKERS as i64,
                1,
            )? as u32;
            s.cluster.config = config_pairs(l, &c.config, "cluster")?;
        }
        let profile = raw.cluster.as_ref().and_then(|c| c.hardware.clone());
        s.cluster.hardware = hardware(l, &profile, &raw.hardware)?;
        metrics_and_alerts(l, &raw, &mut s)?;
        if let Some(n) = &raw.network {
            s.cluster.latency_us =
                opt_int(l, &n.latency_us, "network.latency_us", 0, 60_000_000, 500)? as u64;
            s.cluster.jitter_us =
                opt_int(l, &n.jitter_us, "network.jitter_us", 0, 60_000_000, 0)? as u64;
        }
        for t in &raw.topic {
            let line = lines.of(t);
            let t = t.get_ref();
            s.topics.push(TopicDef {
                name: t.name.get_ref().clone(),
                partitions: opt_int(l, &t.partitions, "topic.partitions", 1, U32, 1)? as u32,
                replication_factor: opt_int(
                    l,
                    &t.replication_factor,
                    "topic.replication_factor",
                    1,
                    U32,
                    1,
                )? as u32,
                config: config_pairs(l, &t.config, "topic")?,
                start_ms: start_ms(l, &t.start_ms, "topic")?,
                line,
            });
        }
        for p in &raw.producer {
            let line = lines.of(p);
            let p = p.get_ref();
            s.producers.push(ProducerDef {
                id: p.id.get_ref().clone(),
                topic: p.topic.get_ref().clone(),
                rate_per_sec: match &p.rate_per_sec {
                    None => 100,
                    Some(r) => rate(l, r, "producer.rate_per_sec")?,
                },
                records: records_cap(l, p)?,
                keys: key_mode(l, &p.keys)?,
                value_bytes: opt_int(
                    l,
                    &p.value_bytes,
                    "producer.value_bytes",
                    0,
                    kplay_engine::sim::MAX_VALUE_BYTES as i64,
                    100,
                )? as u32,
                values: values(l, &p.values)?,
                records_per_transaction: records_per_transaction(l, p)?,
                abort_ppm: abort_ppm(l, p)?,
                start_ms: start_ms(l, &p.start_ms, "producer")?,
                config: config_pairs(l, &p.config, "producer")?,
                line,
            });
        }
        for c in &raw.consumer {
            let line = lines.of(c);
            let c = c.get_ref();
            let processing_us_per_record = match c.processing_ms_per_record.as_ref() {
                None => 0,
                Some(v) => millis_to_us(v.get_ref()).ok_or_else(|| {
                    let m = "must be a number of milliseconds from 0 to 3600000";
                    ScenarioError::field(Some(lines.of(v)), "consumer.processing_ms_per_record", m)
                })?,
            };
            let commit = match c.commit.as_ref() {
                None => CommitStrategy::Auto,
                Some(v) => CommitStrategy::parse(v.get_ref()).ok_or_else(|| {
                    let m = format!(
                        "unknown commit strategy {:?}; expected one of {}",
                        v.get_ref(),
                        CommitStrategy::NAMES.join(", ")
                    );
                    ScenarioError::field(Some(lines.of(v)), "consumer.commit", m)
                })?,
            };
            s.consumers.push(ConsumerDef {
                id: c.id.get_ref().clone(),
                topics: c.topics.get_ref().clone(),
                processing_us_per_record,
                commit,
                failures: failure_policy(l, &c.failures)?,
                start_ms: start_ms(l, &c.start_ms, "consumer")?,
                config: config_pairs(l, &c.config, "consumer")?,
                line,
            });
        }
        read_processors_and_events(l, &raw, &mut s)?;
        Ok(s)
    }
}

/// A consumer's `failure_rate`, `poison_keys`, `on_failure` and `retry`.
fn failure_policy(l: &Lines<'_>, c: &RawFailures) -> Result<FailurePolicy, ScenarioError> {
    let field = |name: &str| format!("{}.{name}", c.section);
    let line = c.line;
    let mut policy = FailurePolicy::default();
    if let Some(v) = &c.failure_rate {
        policy.failure_ppm = rate_to_ppm(v.get_ref()).ok_or_else(|| {
            let m = "must be a chance per attempt from 0 to 1 (0.001: one in a thousand)";
            ScenarioError::field(Some(l.of(v)), field("failure_rate"), m)
        })?;
    }
    if let Some(v) = &c.on_failure {
        policy.on_failure = OnFailure::parse(v.get_ref()).ok_or_else(|| {
            let m = format!(
                "unknown {:?}; expected one of {}",
                v.get_ref(),
                OnFailure::NAMES.join(", ")
            );
            ScenarioError::field(Some(l.of(v)), field("on_failure"), m)
        })?;
    }
    let retry_given = c.retry_attempts.is_some() || c.retry_backoff_ms.is_some();
    if retry_given && !policy.on_failure.routes() {
        let m = "retries need on_failure = \"skip\", \"dlq\" or \"retry-topics\" \
                 (\"crash\" does not retry)";
        return Err(ScenarioError::field(Some(line), field("retry"), m));
    }
    if let Some(v) = &c.retry_attempts {
        let max = i64::from(failure::MAX_ATTEMPTS);
        policy.attempts = int_in(l, v, &field("retry.attempts"), 1, max)? as u32;
    }
    if let Some(items) = &c.retry_backoff_ms {
        if items.is_empty() {
            let m = "list at least one backoff";
            return Err(ScenarioError::field(
                Some(line),
                field("retry.backoff_ms"),
                m,
            ));
        }
        policy.backoff = items
            .iter()
            .map(|v| int_in(l, v, &field("retry.backoff_ms"), 0, 3_600_000))
            .map(|ms| ms.map(|ms| kplay_engine::Duration(ms as u64 * 1_000)))
            .collect::<Result<_, _>>()?;
    }
    if let Some(keys) = &c.poison_keys {
        policy.poison_keys = (keys.get_ref().iter())
            .map(|k| kplay_engine::record::Bytes::from(k.as_bytes()))
            .collect();
    }
    Ok(policy)
}

fn read_processors_and_events(
    l: &Lines<'_>,
    raw: &RawScenario,
    s: &mut Scenario,
) -> Result<(), ScenarioError> {
    for p in &raw.processor {
        s.processors.push(processor_def(l, p.get_ref(), l.of(p))?);
    }
    for e in &raw.event {
        s.events.push(parse_event(l, e.get_ref(), l.of(e))?);
    }
    Ok(())
}

/// A `[[processor]]` as the model holds it: the group defaults to its id, the transform to
/// `uppercase`, the guarantee to `at-least-once` (Kafka Streams' `processing.guarantee`
/// default).
fn processor_def(
    l: &Lines<'_>,
    p: &RawProcessor,
    line: usize,
) -> Result<ProcessorDef, ScenarioError> {
    let named = |v: &Option<Spanned<String>>, field: &str, names: &[&str], default: &str| {
        let Some(v) = v else {
            return Ok(default.to_string());
        };
        if names.contains(&v.get_ref().as_str()) {
            return Ok(v.get_ref().clone());
        }
        let m = format!(
            "unknown {field} {:?}; expected one of {}",
            v.get_ref(),
            names.join(", ")
        );
        Err(ScenarioError::field(
            Some(l.of(v)),
            format!("processor.{field}"),
            m,
        ))
    };
    let transform = named(&p.transform, "transform", Transform::NAMES, "uppercase")?;
    let guarantee = named(&p.guarantee, "guarantee", Guarantee::NAMES, "at-least-once")?;
    let processing_us_per_record = match p.processing_ms_per_record.as_ref() {
        None => 0,
        Some(v) => millis_to_us(v.get_ref()).ok_or_else(|| {
            let m = "must be a number of milliseconds from 0 to 3600000";
            ScenarioError::field(Some(l.of(v)), "processor.processing_ms_per_record", m)
        })?,
    };
    let id = p.id.get_ref().clone();
    Ok(ProcessorDef {
        group: p.group.as_ref().map_or(id.clone(), |g| g.get_ref().clone()),
        id,
        inputs: p.inputs.get_ref().clone(),
        output: p.output.get_ref().clone(),
        transform: Transform::parse(&transform).expect("checked"),
        guarantee: Guarantee::parse(&guarantee).expect("checked"),
        processing_us_per_record,
        failures: failure_policy(l, &p.failures)?,
        start_ms: start_ms(l, &p.start_ms, "processor")?,
        consumer_config: config_pairs(l, &p.consumer_config, "processor.consumer")?,
        producer_config: config_pairs(l, &p.producer_config, "processor.producer")?,
        line,
    })
}

/// When a topic, producer or consumer starts: 0 (before anything else) up to the longest run.
fn start_ms(l: &Lines<'_>, v: &Option<Int>, context: &str) -> Result<u64, ScenarioError> {
    Ok(opt_int(
        l,
        v,
        &format!("{context}.start_ms"),
        0,
        MAX_DURATION_MS as i64,
        0,
    )? as u64)
}

/// Whole microseconds from milliseconds; floats are converted once here, never used later.
/// A probability from 0 to 1, in parts per million (the engine decides with integers only).
/// A producer's `records`: how many it sends before it stops, if it stops.
fn records_cap(l: &Lines<'_>, p: &RawProducer) -> Result<Option<u64>, ScenarioError> {
    let cap = p.records.as_ref();
    let n = cap.map(|r| int_in(l, r, "producer.records", 0, i64::MAX));
    Ok(n.transpose()?.map(|r| r as u64))
}

/// A transactional producer's `records_per_transaction` (100 by default).
fn records_per_transaction(l: &Lines<'_>, p: &RawProducer) -> Result<u64, ScenarioError> {
    let n = opt_int(
        l,
        &p.records_per_transaction,
        "producer.records_per_transaction",
        1,
        1_000_000,
        DEFAULT_RECORDS_PER_TRANSACTION as i64,
    )?;
    Ok(n as u64)
}

/// A transactional producer's `abort_rate`, as a chance in a million.
fn abort_ppm(l: &Lines<'_>, p: &RawProducer) -> Result<u32, ScenarioError> {
    let Some(v) = p.abort_rate.as_ref() else {
        return Ok(0);
    };
    rate_to_ppm(v.get_ref()).ok_or_else(|| {
        let m = "must be a probability per transaction from 0 to 1 \
                 (0.1: one transaction in ten aborts)";
        ScenarioError::field(Some(l.of(v)), "producer.abort_rate", m)
    })
}

fn rate_to_ppm(m: &Millis) -> Option<u32> {
    let ppm = match *m {
        Millis::Int(i @ 0..=1) => i * 1_000_000,
        Millis::Int(_) => return None,
        Millis::Float(f) if f.is_finite() => (f * 1_000_000.0).round() as i64,
        Millis::Float(_) => return None,
    };
    (0..=1_000_000).contains(&ppm).then_some(ppm as u32)
}

fn millis_to_us(m: &Millis) -> Option<u64> {
    let us = match *m {
        Millis::Int(i) => i.checked_mul(1000)?,
        Millis::Float(f) if f.is_finite() => (f * 1000.0).round() as i64,
        Millis::Float(_) => return None,
    };
    (0..=3_600_000_000).contains(&us).then_some(us as u64)
}

fn parse_event(l: &Lines<'_>, e: &RawEvent, line: usize) -> Result<EventDef, ScenarioError> {
    let at_ms = int_in(l, &e.at_ms, "event.at_ms", 0, MAX_DURATION_MS as i64)? as u64;
    let action_name = e.action.get_ref().as_str();
    let ev = Event {
        l,
        e,
        line,
        action_name,
    };
    // Fields each action may use; anything else present is a mistake worth reporting.
    let present = present_fields(e);
    let Some(&(_, allowed)) = ACTION_FIELDS.iter().find(|(n, _)| *n == action_name) else {
        let m = format!(
            "unknown action {action_name:?}; expected one of {}",
            action_names().collect::<Vec<_>>().join(", ")
        );
        return Err(ScenarioError::field(
            Some(l.of(&e.action)),
            "event.action",
            m,
        ));
    };
    if let Some(extra) = present.iter().find(|f| !allowed.contains(f)) {
        return Err(ev.err(extra, format!("does not apply to action {action_name:?}")));
    }
    let action = match [
        broker_action,
        producer_action,
        consumer_action,
        processor_action,
        topic_action,
    ]
    .into_iter()
    .find_map(|family| family(&ev).transpose())
    {
        Some(action) => action?,
        None => {
            // Every name in `ACTION_FIELDS` has an arm in a family; this stays an error.
            let m = format!(
                "unknown action {action_name:?}; expected one of {}",
                action_names().collect::<Vec<_>>().join(", ")
            );
            return Err(ScenarioError::field(
                Some(l.of(&e.action)),
                "event.action",
                m,
            ));
        }
    };
    Ok(EventDef {
        at_ms,
        action,
        line,
    })
}

/// The fields an `[[event]]` has.
fn present_fields(e: &RawEvent) -> Vec<&'static str> {
    [
        ("broker", e.broker.is_some()),
        ("producer", e.producer.is_some()),
        ("consumer", e.consumer.is_some()),
        ("processor", e.processor.is_some()),
        ("topic", e.topic.is_some()),
        ("partition", e.partition.is_some()),
        ("partitions", e.partitions.is_some()),
        ("replication_factor", e.replication_factor.is_some()),
        ("offset", e.offset.is_some()),
        ("rate_per_sec", e.rate_per_sec.is_some()),
        ("key", e.key.is_some()),
        ("value", e.value.is_some()),
        ("headers", e.headers.is_some()),
        ("brokers", e.brokers.is_some()),
        ("peer", e.peer.is_some()),
        ("extra_ms", e.extra_ms.is_some()),
        ("duration_ms", e.duration_ms.is_some()),
        (
            "processing_ms_per_record",
            e.processing_ms_per_record.is_some(),
        ),
        ("topics", e.topics.is_some()),
        ("group", e.group.is_some()),
        ("commit", e.commit.is_some()),
        ("config", e.config.is_some()),
    ]
    .into_iter()
    .filter(|(_, p)| *p)
    .map(|(n, _)| n)
    .collect()
}

/// One `[[event]]` as it is read: its fields, and how to say what is wrong with one.
struct Event<'a> {
    l: &'a Lines<'a>,
    e: &'a RawEvent,
    line: usize,
    action_name: &'a str,
}

impl Event<'_> {
    fn err(&self, field: &str, m: String) -> ScenarioError {
        ScenarioError::field(Some(self.line), format!("event.{field}"), m)
    }

    fn missing(&self, field: &str) -> ScenarioError {
        self.err(
            field,
            format!("action {:?} needs `{field}`", self.action_name),
        )
    }

    fn str(&self, v: &Option<String>, field: &str) -> Result<String, ScenarioError> {
        v.clone().ok_or_else(|| self.missing(field))
    }

    fn int(&self, v: &Option<Int>, field: &str, min: i64, max: i64) -> Result<i64, ScenarioError> {
        match v {
            Some(v) => int_in(self.l, v, &format!("event.{field}"), min, max),
            None => Err(self.missing(field)),
        }
    }
}

/// Faults on brokers and the network.
fn broker_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    Ok(Some(match ev.action_name {
        "crash_broker" => Action::CrashBroker {
            broker: ev.int(&ev.e.broker, "broker", 0, U32)? as u32,
        },
        "restart_broker" => Action::RestartBroker {
            broker: ev.int(&ev.e.broker, "broker", 0, U32)? as u32,
        },
        "partition_network" => {
            let list = ev.e.brokers.as_ref().ok_or_else(|| {
                ev.err(
                    "brokers",
                    format!("action {:?} needs `brokers`", ev.action_name),
                )
            })?;
            let brokers = list
                .iter()
                .map(|b| int_in(ev.l, b, "event.brokers", 0, U32).map(|b| b as u32))
                .collect::<Result<_, _>>()?;
            Action::PartitionNetwork { brokers }
        }
        "heal_network" => Action::HealNetwork,
        "slow_link" => Action::SlowLink {
            broker: ev.int(&ev.e.broker, "broker", 0, U32)? as u32,
            peer: ev.int(&ev.e.peer, "peer", 0, U32)? as u32,
            extra_ms: ev.int(&ev.e.extra_ms, "extra_ms", 0, 600_000)? as u64,
        },
        "pause_broker" => Action::PauseBroker {
            broker: ev.int(&ev.e.broker, "broker", 0, U32)? as u32,
            duration_ms: ev.int(&ev.e.duration_ms, "duration_ms", 1, 3_600_000)? as u64,
        },
        _ => return Ok(None),
    }))
}

/// What happens to producers.
fn producer_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    Ok(Some(match ev.action_name {
        "start_producer" => Action::StartProducer {
            producer: ev.str(&ev.e.producer, "producer")?,
        },
        "stop_producer" => Action::StopProducer {
            producer: ev.str(&ev.e.producer, "producer")?,
        },
        "set_rate" => Action::SetRate {
            producer: ev.str(&ev.e.producer, "producer")?,
            rate_per_sec: match &ev.e.rate_per_sec {
                Some(v) => rate(ev.l, v, "event.rate_per_sec")?,
                None => return Err(ev.missing("rate_per_sec")),
            },
        },
        "produce" => Action::Produce {
            producer: ev.str(&ev.e.producer, "producer")?,
            key: ev.e.key.clone(),
            value: ev.e.value.clone(),
            partition: ev
                .e
                .partition
                .as_ref()
                .map(|p| int_in(ev.l, p, "event.partition", 0, U32))
                .transpose()?
                .map(|p| p as u32),
            headers: ev
                .e
                .headers
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        },
        "remove_producer" => Action::RemoveProducer {
            producer: ev.str(&ev.e.producer, "producer")?,
        },
        _ => return Ok(None),
    }))
}

/// What happens to consumers.
fn processor_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    let processor = || ev.str(&ev.e.processor, "processor");
    Ok(Some(match ev.action_name {
        "crash_processor" => Action::CrashProcessor {
            processor: processor()?,
        },
        "restart_processor" => Action::RestartProcessor {
            processor: processor()?,
        },
        _ => return Ok(None),
    }))
}

fn consumer_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    Ok(Some(match ev.action_name {
        "stop_consumer" => Action::StopConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
        },
        "add_consumer" => Action::AddConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
            topics: match &ev.e.topics {
                Some(t) if !t.is_empty() => t.clone(),
                _ => return Err(ev.err("topics", "list at least one topic".to_string())),
            },
            group: ev.e.group.clone(),
            processing_us_per_record: match ev.e.processing_ms_per_record.as_ref() {
                None => 0,
                Some(v) => millis_to_us(v.get_ref()).ok_or_else(|| {
                    ev.err(
                        "processing_ms_per_record",
                        "must be a number of milliseconds from 0 to 3600000".to_string(),
                    )
                })?,
            },
            commit: match ev.e.commit.as_deref() {
                None => CommitStrategy::Auto,
                Some(c) => CommitStrategy::parse(c).ok_or_else(|| {
                    ev.err(
                        "commit",
                        format!(
                            "unknown commit strategy {c:?}; expected one of {}",
                            CommitStrategy::NAMES.join(", ")
                        ),
                    )
                })?,
            },
        },
        "crash_consumer" => Action::CrashConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
        },
        "restart_consumer" => Action::RestartConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
        },
        "slow_consumer" => Action::SlowConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
            processing_us_per_record: match ev.e.processing_ms_per_record.as_ref() {
                None => {
                    return Err(ev.err(
                        "processing_ms_per_record",
                        format!(
                            "action {:?} needs `processing_ms_per_record`",
                            ev.action_name
                        ),
                    ))
                }
                Some(v) => millis_to_us(v.get_ref()).ok_or_else(|| {
                    ev.err(
                        "processing_ms_per_record",
                        "must be a number of milliseconds from 0 to 3600000".to_string(),
                    )
                })?,
            },
        },
        "seek" => Action::Seek {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
            topic: ev.str(&ev.e.topic, "topic")?,
            partition: ev.int(&ev.e.partition, "partition", 0, U32)? as u32,
            offset: ev.int(&ev.e.offset, "offset", 0, i64::MAX)? as u64,
        },
        _ => return Ok(None),
    }))
}

/// Topics created and deleted (and configs altered, see [`config_action`]).
fn topic_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    Ok(Some(match ev.action_name {
        "create_topic" => Action::CreateTopic {
            topic: ev.str(&ev.e.topic, "topic")?,
            partitions: ev.int(&ev.e.partitions, "partitions", 1, U32)? as u32,
            replication_factor: ev.e.replication_factor.as_ref().map_or(Ok(1), |v| {
                int_in(ev.l, v, "event.replication_factor", 1, U32)
            })? as u32,
        },
        "delete_topic" => Action::DeleteTopic {
            topic: ev.str(&ev.e.topic, "topic")?,
        },
        _ => return config_action(ev),
    }))
}

/// Configs altered on a live topic, or a client redeployed with new ones.
fn config_action(ev: &Event<'_>) -> Result<Option<Action>, ScenarioError> {
    let config = || -> Result<ConfigPairs, ScenarioError> {
        let pairs = config_pairs(ev.l, &ev.e.config, "event")?;
        if pairs.is_empty() {
            return Err(ev.missing("config"));
        }
        Ok(pairs)
    };
    Ok(Some(match ev.action_name {
        "alter_topic_config" => Action::AlterTopicConfig {
            topic: ev.str(&ev.e.topic, "topic")?,
            config: config()?,
        },
        "reconfigure_producer" => Action::ReconfigureProducer {
            producer: ev.str(&ev.e.producer, "producer")?,
            config: config()?,
        },
        "reconfigure_consumer" => Action::ReconfigureConsumer {
            consumer: ev.str(&ev.e.consumer, "consumer")?,
            config: config()?,
        },
        _ => return Ok(None),
    }))
}
