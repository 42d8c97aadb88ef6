//! Writing a scenario back to TOML, in the same shape people write by hand, so an export from
//! the browser reads like a file from the repository and parses back to the same scenario.

use std::fmt::Write;

use kplay_engine::config::ConfigValue;
use kplay_engine::consumer::CommitStrategy;
use kplay_engine::producer::KeyMode;

use crate::model::*;

/// A TOML string literal with escapes.
fn quote(s: &str) -> String {
    crate::emit::value(&toml::Value::String(s.to_string()))
}

fn config_value(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Str(s) => quote(s),
        ConfigValue::List(items) => {
            let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn config_line(out: &mut String, pairs: &ConfigPairs) {
    if pairs.is_empty() {
        return;
    }
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", quote(k), config_value(v)))
        .collect();
    let _ = writeln!(out, "config = {{ {} }}", items.join(", "));
}

/// `[metrics]` when its interval is not the default, and every `[[alert]]`.
fn write_metrics_and_alerts(o: &mut String, s: &Scenario) {
    if s.metrics_interval_ms != crate::model::METRICS_INTERVAL_MS {
        let _ = writeln!(o, "\n[metrics]\ninterval_ms = {}", s.metrics_interval_ms);
    }
    for rule in &s.alerts {
        let _ = writeln!(o, "\n[[alert]]\nwhen = {}", quote(&rule.to_string()));
    }
}

/// `[hardware]`: the fields that differ from the named profile.
fn write_hardware_overrides(o: &mut String, hw: &kplay_engine::hardware::Hardware) {
    let named = kplay_engine::hardware::Hardware::named(hw.profile).unwrap_or_else(|| hw.clone());
    let changed: Vec<_> = hw
        .fields()
        .into_iter()
        .zip(named.fields())
        .filter(|(mine, theirs)| mine != theirs)
        .map(|(mine, _)| mine)
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(o, "\n[hardware]");
        for (field, value) in changed {
            let _ = writeln!(o, "{field} = {value}");
        }
    }
}

fn millis(us: u64) -> String {
    if us.is_multiple_of(1000) {
        (us / 1000).to_string()
    } else {
        // Exact: microseconds have at most three decimals of milliseconds.
        let s = format!("{}.{:03}", us / 1000, us % 1000);
        s.trim_end_matches('0').to_string()
    }
}

impl Scenario {
    /// The scenario as a TOML file that [`Scenario::parse`] reads back to an equal scenario
    /// (line numbers aside).
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "seed = {}", self.seed);
        let _ = writeln!(o, "duration_ms = {}", self.duration_ms);
        let _ = writeln!(o, "\n[cluster]\nbrokers = {}", self.cluster.brokers);
        let hw = &self.cluster.hardware;
        if hw.profile != "ideal" {
            let _ = writeln!(o, "hardware = {}", quote(hw.profile));
        }
        config_line(&mut o, &self.cluster.config);
        let _ = writeln!(
            o,
            "\n[network]\nlatency_us = {}\njitter_us = {}",
            self.cluster.latency_us, self.cluster.jitter_us
        );
        write_hardware_overrides(&mut o, hw);
        write_metrics_and_alerts(&mut o, self);
        for t in &self.topics {
            let _ = writeln!(o, "\n[[topic]]\nname = {}", quote(&t.name));
            let _ = writeln!(
                o,
                "partitions = {}\nreplication_factor = {}",
                t.partitions, t.replication_factor
            );
            if t.start_ms > 0 {
                let _ = writeln!(o, "start_ms = {}", t.start_ms);
            }
            config_line(&mut o, &t.config);
        }
        for p in &self.producers {
            let _ = writeln!(
                o,
                "\n[[producer]]\nid = {}\ntopic = {}",
                quote(&p.id),
                quote(&p.topic)
            );
            match p.rate_per_sec {
                kplay_engine::producer::RATE_MAX => {
                    let _ = writeln!(o, "rate_per_sec = \"max\"");
                }
                rate => {
                    let _ = writeln!(o, "rate_per_sec = {rate}");
                }
            }
            if let Some(r) = p.records {
                let _ = writeln!(o, "records = {r}");
            }
            let keys = match p.keys {
                KeyMode::Null => "none".to_string(),
                KeyMode::Unique => "unique".to_string(),
                KeyMode::Pool(n) => format!("pool:{n}"),
            };
            let values = match p.values {
                kplay_engine::compression::Values::Random => String::new(),
                v => format!("\nvalues = {}", quote(v.name())),
            };
            let (keys, bytes) = (quote(&keys), p.value_bytes);
            let _ = writeln!(o, "keys = {keys}\nvalue_bytes = {bytes}{values}");
            if p.records_per_transaction != DEFAULT_RECORDS_PER_TRANSACTION {
                let _ = writeln!(o, "records_per_transaction = {}", p.records_per_transaction);
            }
            if p.abort_ppm > 0 {
                let _ = writeln!(o, "abort_rate = {}", ppm_text(p.abort_ppm));
            }
            if p.start_ms > 0 {
                let _ = writeln!(o, "start_ms = {}", p.start_ms);
            }
            config_line(&mut o, &p.config);
        }
        for c in &self.consumers {
            let topics: Vec<String> = c.topics.iter().map(|t| quote(t)).collect();
            let _ = writeln!(
                o,
                "\n[[consumer]]\nid = {}\ntopics = [{}]",
                quote(&c.id),
                topics.join(", ")
            );
            let _ = writeln!(
                o,
                "processing_ms_per_record = {}",
                millis(c.processing_us_per_record)
            );
            if c.commit != CommitStrategy::Auto {
                let _ = writeln!(o, "commit = {}", quote(c.commit.name()));
            }
            write_failures(&mut o, &c.failures);
            if c.start_ms > 0 {
                let _ = writeln!(o, "start_ms = {}", c.start_ms);
            }
            config_line(&mut o, &c.config);
        }
        self.processors
            .iter()
            .for_each(|p| write_processor(&mut o, p));
        self.events.iter().for_each(|e| write_event(&mut o, e));
        o
    }
}

fn write_event(o: &mut String, e: &EventDef) {
    let _ = writeln!(
        o,
        "\n[[event]]\nat_ms = {}\naction = {}",
        e.at_ms,
        quote(e.action.name())
    );
    write_action_fields(o, &e.action);
}

/// The fields of an action that carries configs (`alter_topic_config`, ...); false for any
/// other action.
fn write_config_fields(o: &mut String, action: &Action) -> bool {
    match action {
        Action::AlterTopicConfig { topic, config } => {
            let _ = writeln!(o, "topic = {}", quote(topic));
            config_line(o, config);
        }
        Action::ReconfigureProducer { producer, config } => {
            let _ = writeln!(o, "producer = {}", quote(producer));
            config_line(o, config);
        }
        Action::ReconfigureConsumer { consumer, config } => {
            let _ = writeln!(o, "consumer = {}", quote(consumer));
            config_line(o, config);
        }
        _ => return false,
    }
    true
}

fn write_processor(o: &mut String, p: &crate::model::ProcessorDef) {
    let inputs: Vec<String> = p.inputs.iter().map(|t| quote(t)).collect();
    let _ = writeln!(
        o,
        "\n[[processor]]\nid = {}\ninputs = [{}]\noutput = {}\ngroup = {}",
        quote(&p.id),
        inputs.join(", "),
        quote(&p.output),
        quote(&p.group)
    );
    let _ = writeln!(
        o,
        "transform = {}\nguarantee = {}\nprocessing_ms_per_record = {}",
        quote(p.transform.name()),
        quote(p.guarantee.name()),
        millis(p.processing_us_per_record)
    );
    write_failures(o, &p.failures);
    if p.start_ms > 0 {
        let _ = writeln!(o, "start_ms = {}", p.start_ms);
    }
    for (key, pairs) in [
        ("consumer_config", &p.consumer_config),
        ("producer_config", &p.producer_config),
    ] {
        if !pairs.is_empty() {
            let mut line = String::new();
            config_line(&mut line, pairs);
            let _ = write!(o, "{}", line.replacen("config = ", &format!("{key} = "), 1));
        }
    }
}

/// The fields of a processor's action; false for any other action.
fn write_processor_fields(o: &mut String, action: &Action) -> bool {
    match action {
        Action::CrashProcessor { processor } | Action::RestartProcessor { processor } => {
            let _ = writeln!(o, "processor = {}", quote(processor));
            true
        }
        _ => false,
    }
}

fn write_action_fields(o: &mut String, action: &Action) {
    if write_config_fields(o, action) || write_processor_fields(o, action) {
        return;
    }
    let mut field = |k: &str, v: String| {
        let _ = writeln!(o, "{k} = {v}");
    };
    match action {
        Action::CrashBroker { broker } | Action::RestartBroker { broker } => {
            field("broker", broker.to_string())
        }
        Action::StartProducer { producer } | Action::StopProducer { producer } => {
            field("producer", quote(producer))
        }
        Action::SetRate {
            producer,
            rate_per_sec,
        } => {
            field("producer", quote(producer));
            field("rate_per_sec", rate_per_sec.to_string());
        }
        Action::Produce {
            producer,
            key,
            value,
            partition,
            headers,
        } => {
            field("producer", quote(producer));
            if let Some(k) = key {
                field("key", quote(k));
            }
            if let Some(v) = value {
                field("value", quote(v));
            }
            if let Some(p) = partition {
                field("partition", p.to_string());
            }
            if !headers.is_empty() {
                let items: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
                    .collect();
                field("headers", format!("{{ {} }}", items.join(", ")));
            }
        }
        Action::StopConsumer { consumer }
        | Action::CrashConsumer { consumer }
        | Action::RestartConsumer { consumer } => field("consumer", quote(consumer)),
        Action::AddConsumer {
            consumer,
            topics,
            group,
            processing_us_per_record,
            commit,
        } => {
            field("consumer", quote(consumer));
            let topics: Vec<String> = topics.iter().map(|t| quote(t)).collect();
            field("topics", format!("[{}]", topics.join(", ")));
            if let Some(g) = group {
                field("group", quote(g));
            }
            field(
                "processing_ms_per_record",
                millis(*processing_us_per_record),
            );
            if *commit != CommitStrategy::Auto {
                field("commit", quote(commit.name()));
            }
        }
        Action::SlowConsumer {
            consumer,
            processing_us_per_record,
        } => {
            field("consumer", quote(consumer));
            field(
                "processing_ms_per_record",
                millis(*processing_us_per_record),
            );
        }
        Action::Seek {
            consumer,
            topic,
            partition,
            offset,
        } => {
            field("consumer", quote(consumer));
            field("topic", quote(topic));
            field("partition", partition.to_string());
            field("offset", offset.to_string());
        }
        Action::CreateTopic {
            topic,
            partitions,
            replication_factor,
        } => {
            field("topic", quote(topic));
            field("partitions", partitions.to_string());
            field("replication_factor", replication_factor.to_string());
        }
        Action::DeleteTopic { topic } => field("topic", quote(topic)),
        Action::PartitionNetwork { brokers } => {
            let list: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
            field("brokers", format!("[{}]", list.join(", ")));
        }
        Action::HealNetwork => {}
        Action::RemoveProducer { producer } => field("producer", quote(producer)),
        Action::SlowLink {
            broker,
            peer,
            extra_ms,
        } => {
            field("broker", broker.to_string());
            field("peer", peer.to_string());
            field("extra_ms", extra_ms.to_string());
        }
        Action::PauseBroker {
            broker,
            duration_ms,
        } => {
            field("broker", broker.to_string());
            field("duration_ms", duration_ms.to_string());
        }
        // Config and processor actions: written above.
        _ => {}
    }
}

/// A chance in a million as the decimal a scenario writes (`0.001`).
fn ppm_text(ppm: u32) -> String {
    let rate = format!("{}.{:06}", ppm / 1_000_000, ppm % 1_000_000);
    rate.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A consumer's `on_failure`, `retry` and `poison_keys`, where they differ from the defaults.
fn write_failures(o: &mut String, f: &FailurePolicy) {
    let default = FailurePolicy::default();
    if f.failure_ppm > 0 {
        let _ = writeln!(o, "failure_rate = {}", ppm_text(f.failure_ppm));
    }
    if f.on_failure != default.on_failure {
        let _ = writeln!(o, "on_failure = {}", quote(f.on_failure.name()));
    }
    if f.attempts != default.attempts {
        let _ = writeln!(o, "retry.attempts = {}", f.attempts);
    }
    if f.backoff != default.backoff {
        let ms: Vec<String> = f
            .backoff
            .iter()
            .map(|b| b.as_millis().to_string())
            .collect();
        let _ = writeln!(o, "retry.backoff_ms = [{}]", ms.join(", "));
    }
    if !f.poison_keys.is_empty() {
        let keys: Vec<String> = (f.poison_keys.iter())
            .map(|k| quote(&String::from_utf8_lossy(k)))
            .collect();
        let _ = writeln!(o, "poison_keys = [{}]", keys.join(", "));
    }
}
