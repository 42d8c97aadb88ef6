//! What a producer is made of: its spec (topic, rate, keys, values) and the Kafka
//! configuration the client acts on, with Kafka's names and defaults.

use super::*;

/// How the workload picks record keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// Null keys: the sticky partitioner spreads them.
    Null,
    /// `key-0` .. `key-{n-1}`, chosen uniformly.
    Pool(u32),
    /// A new key for every record.
    Unique,
}

/// `rate_per_sec` of an application that calls `send()` in a loop, as fast as its machine
/// allows (`rate_per_sec = "max"`, Kafka's `ProducerPerformance --throughput -1`): it needs a
/// hardware profile, which says what a `send()` costs; `buffer.memory` and `max.block.ms`
/// then hold it back.
pub const RATE_MAX: u64 = u64::MAX;

/// Everything needed to create a producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSpec {
    pub name: String,
    pub topic: String,
    /// Records per second the application sends; 0 sends only records produced by hand.
    pub rate_per_sec: u64,
    /// Stop after this many generated records.
    pub max_records: Option<u64>,
    pub keys: KeyMode,
    pub value_bytes: u32,
    /// What its values are like, for how well they compress.
    pub values: crate::compression::Values,
    /// With a `transactional.id`: the application commits every this many records.
    pub records_per_transaction: u64,
    /// With a `transactional.id`: the chance, in a million, that the application aborts a
    /// transaction instead of committing it.
    pub abort_ppm: u32,
    pub configs: Configs,
    /// The output half of a processor: it sends what its consumer hands it.
    pub processor: Option<crate::processor::Role>,
}

/// The producer configuration the client acts on, derived and validated as Kafka does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub acks: Acks,
    pub idempotent: bool,
    pub retries: u32,
    pub max_in_flight: u32,
    pub batch_size: u32,
    pub linger: Duration,
    pub delivery_timeout: Duration,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub buffer_memory: u64,
    pub max_block: Duration,
    pub metadata_max_age: Duration,
    pub max_request_size: u32,
    pub round_robin: bool,
    pub ignore_keys: bool,
    pub adaptive: bool,
    /// `compression.type`.
    pub compression: crate::compression::Codec,
}

/// `ProducerConfig.postProcessAndValidateIdempotenceConfigs`: a `transactional.id` needs
/// idempotence, whatever turned it off.
fn transactions_need_idempotence(
    c: &Configs,
    idempotent: bool,
    conflict: Option<&str>,
) -> Result<(), ConfigError> {
    if c.str("transactional.id").is_none() || idempotent {
        return Ok(());
    }
    let why = conflict.unwrap_or("enable.idempotence must not be false");
    Err(ConfigError {
        key: "transactional.id".into(),
        message: format!("Cannot set a transactional.id without also enabling idempotence: {why}"),
    })
}

impl ProducerConfig {
    /// Kafka's `postProcessAndValidateIdempotenceConfigs` and delivery-timeout rules (§2.1).
    pub fn from_configs(c: &Configs) -> Result<ProducerConfig, ConfigError> {
        let acks = match c.str("acks").as_deref() {
            Some("0") => Acks::Zero,
            Some("1") => Acks::One,
            _ => Acks::All,
        };
        let retries = c.int("retries") as u32;
        let max_in_flight = c.int("max.in.flight.requests.per.connection") as u32;
        let mut idempotent = c.bool("enable.idempotence");
        let conflict = if retries == 0 {
            Some("retries must be greater than 0")
        } else if acks != Acks::All {
            Some("acks must be all")
        } else if max_in_flight > 5 {
            Some("max.in.flight.requests.per.connection must be at most 5")
        } else {
            None
        };
        if let (true, Some(why)) = (idempotent, conflict) {
            if c.is_explicit("enable.idempotence") {
                let message = format!("idempotence requires that {why}");
                return Err(ConfigError {
                    key: "enable.idempotence".into(),
                    message,
                });
            }
            // Not asked for explicitly: Kafka quietly turns idempotence off.
            idempotent = false;
        }
        transactions_need_idempotence(c, idempotent, conflict)?;
        let ms = |k: &str| Duration::from_millis(c.int(k) as u64);
        let linger = ms("linger.ms");
        let request_timeout = ms("request.timeout.ms");
        let mut delivery_timeout = ms("delivery.timeout.ms");
        let floor = linger + request_timeout;
        if delivery_timeout < floor {
            if c.is_explicit("delivery.timeout.ms") {
                let message = format!(
                    "must be at least linger.ms + request.timeout.ms = {}",
                    floor.as_millis()
                );
                return Err(ConfigError {
                    key: "delivery.timeout.ms".into(),
                    message,
                });
            }
            delivery_timeout = floor;
        }
        Ok(ProducerConfig {
            acks,
            idempotent,
            retries,
            max_in_flight,
            batch_size: c.int("batch.size") as u32,
            max_block: ms("max.block.ms"),
            metadata_max_age: ms("metadata.max.age.ms"),
            linger,
            delivery_timeout,
            request_timeout,
            retry_backoff: ms("retry.backoff.ms"),
            retry_backoff_max: ms("retry.backoff.max.ms"),
            buffer_memory: c.int("buffer.memory") as u64,
            max_request_size: c.int("max.request.size") as u32,
            round_robin: c.str("partitioner.class").is_some(),
            ignore_keys: c.bool("partitioner.ignore.keys"),
            adaptive: c.bool("partitioner.adaptive.partitioning.enable"),
            compression: codec(c),
        })
    }
}

/// A record produced by hand (the UI's "produce one record").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    pub partition: Option<u32>,
    /// A processor's output: the input record (partition, offset) it was made from.
    pub source: Option<(TopicPartition, crate::record::Offset)>,
}

/// `compression.type` (checked against its choices when set).
fn codec(c: &Configs) -> crate::compression::Codec {
    let name = c.str("compression.type").unwrap_or_default();
    crate::compression::Codec::parse(&name).unwrap_or_default()
}
