//! Processors in the simulator (see `processor`): adding one as its consumer and producer,
//! both named after it; crashing and restarting its process; and passing the calls between
//! its two clients, which are one process and so share no network.

use super::*;
use crate::config::ConfigValue;
use crate::consumer::CommitStrategy;
use crate::processor::{AppCall, Guarantee, ProcessorSpec, Role};
use crate::producer::KeyMode;

impl Sim {
    pub(super) fn validate_processor(&self, command: &Command) -> Result<(), CommandError> {
        match command {
            Command::AddProcessor(spec) => {
                let (consumer, producer) = processor_clients(spec)?;
                if spec.failures.on_failure.forwards() && spec.guarantee != Guarantee::AtLeastOnce {
                    let m = format!(
                        "{:?} needs guarantee = \"at-least-once\": copies of failed records \
                         are not sent inside a transaction here, and at-most-once commits \
                         before it knows what failed",
                        spec.failures.on_failure.name()
                    );
                    return reject("on_failure", m);
                }
                if spec.inputs.contains(&spec.output) {
                    let m = format!("{:?} is also one of its inputs", spec.output);
                    return reject("output", m);
                }
                self.validate(&Command::AddConsumer(consumer))?;
                self.validate(&Command::AddProducer(producer))
            }
            Command::CrashProcessor { name } | Command::RestartProcessor { name } => {
                let Some(c) = self.processor_consumer(name) else {
                    return reject("processor", format!("no processor {name:?}"));
                };
                let down = matches!(c.state, AppState::Stopped | AppState::Crashed);
                match command {
                    Command::CrashProcessor { .. } if down => {
                        reject("processor", format!("processor {name:?} is not running"))
                    }
                    Command::RestartProcessor { .. } if !down => reject(
                        "processor",
                        format!("processor {name:?} is running; crash it first"),
                    ),
                    _ => Ok(()),
                }
            }
            _ => unreachable!("validate routes only processor commands here"),
        }
    }

    pub(super) fn apply_processor(&mut self, command: Command) -> Result<(), CommandError> {
        match command {
            Command::AddProcessor(spec) => {
                let (consumer, producer) = processor_clients(&spec)?;
                self.add_producer(producer)?;
                self.add_consumer(consumer)?;
            }
            Command::CrashProcessor { name } => {
                let i = self.consumer_index(&name).expect("validated");
                self.with_consumer(i, |c, now, out| c.crash(now, out));
                self.consumer_incarnations[i] += 1;
                if let Some(p) = self.producer_index(&name) {
                    self.producers[p].as_mut().expect("indexed").crashed = true;
                }
                self.crash_forwarders(i);
            }
            Command::RestartProcessor { name } => {
                self.restart_processor_producer(&name)?;
                self.restart_consumer(&name)?;
            }
            _ => unreachable!("apply routes only processor commands here"),
        }
        Ok(())
    }

    /// A processor's clients answer to processor commands only (crash, restart): a command
    /// for one of them alone (`what`: producer, consumer) is refused.
    pub(super) fn refuse_processor_client(
        &self,
        name: &str,
        what: &str,
    ) -> Result<(), CommandError> {
        if self.processor_consumer(name).is_none() {
            return Ok(());
        }
        let m = format!("{name:?} is a processor's {what}: crash or restart the processor instead");
        reject(what, m)
    }

    /// The consumer of the processor `name`, if there is one.
    fn processor_consumer(&self, name: &str) -> Option<&Consumer> {
        let i = self.consumer_index(name)?;
        self.consumers[i]
            .as_ref()
            .filter(|c| c.spec.processor.is_some())
    }

    /// A processor's new process gets a new producer: same spec and transactional id (its
    /// `initTransactions()` fences the old instance and aborts what it left open), fresh
    /// client state; record numbers and correlation ids carry on.
    pub(super) fn restart_processor_producer(&mut self, name: &str) -> Result<(), CommandError> {
        let i = self
            .producer_index(name)
            .expect("a processor has a producer");
        let old = self.producers[i].as_ref().expect("indexed");
        let stream = Stream::ProducerRestart {
            producer: i as u32,
            incarnation: old.incarnation + 1,
        };
        let rng = Prng::stream(self.seed, stream);
        let producer = Producer::restarted(old, rng, self.now)?;
        self.producers[i] = Some(producer);
        self.with_producer(i, |p, now, out| p.start(now, out));
        Ok(())
    }

    /// The other client of the processor `from` belongs to.
    pub(super) fn partner_of(&self, from: NodeId) -> Option<NodeId> {
        match from {
            NodeId::Consumer(c) => {
                let name = &self.consumers.get(c as usize)?.as_ref()?.spec.name;
                Some(NodeId::Producer(self.producer_index(name)? as u32))
            }
            NodeId::Producer(p) => {
                let name = &self.producers.get(p as usize)?.as_ref()?.spec.name;
                Some(NodeId::Consumer(self.consumer_index(name)? as u32))
            }
            _ => None,
        }
    }

    /// Passes a call to the other client; a restart replaces the producer.
    pub(super) fn hand_off(&mut self, to: NodeId, call: AppCall) {
        if let (NodeId::Producer(p), AppCall::Restart) = (to, &call) {
            let name = self.producers[p as usize]
                .as_ref()
                .map(|p| p.spec.name.clone());
            if let Some(name) = name {
                // Its spec was valid when it was created: a restart cannot fail.
                self.restart_processor_producer(&name)
                    .expect("the spec was valid when the processor was added");
            }
            return;
        }
        self.deliver(to, Input::App(call));
    }
}

/// The consumer and the producer a processor is made of, with what its guarantee sets:
/// exactly-once reads read_committed and writes with a `transactional.id` (the processor's
/// name unless given); every guarantee commits by hand (`enable.auto.commit=false`).
fn processor_clients(spec: &ProcessorSpec) -> Result<(ConsumerSpec, ProducerSpec), CommandError> {
    let role = Some(Role {
        guarantee: spec.guarantee,
        transform: spec.transform,
    });
    let eos = spec.guarantee == Guarantee::ExactlyOnce;
    let mut cc = spec.consumer_configs.clone();
    cc.set("group.id", ConfigValue::Str(spec.group.clone()))?;
    cc.set("enable.auto.commit", ConfigValue::Bool(false))?;
    if eos && !cc.is_explicit("isolation.level") {
        cc.set("isolation.level", ConfigValue::Str("read_committed".into()))?;
    }
    let mut pc = spec.producer_configs.clone();
    if eos && pc.str("transactional.id").is_none() {
        pc.set("transactional.id", ConfigValue::Str(spec.name.clone()))?;
    }
    if !eos && pc.is_explicit("transactional.id") {
        return reject(
            "transactional.id",
            "only an exactly-once processor is transactional",
        );
    }
    let consumer = ConsumerSpec {
        name: spec.name.clone(),
        topics: spec.inputs.clone(),
        processing_per_record: spec.processing_per_record,
        commit: match spec.guarantee {
            Guarantee::AtMostOnce => CommitStrategy::BeforeProcessing { sync: true },
            _ => CommitStrategy::Auto,
        },
        failures: spec.failures.clone(),
        configs: cc,
        processor: role,
    };
    let producer = ProducerSpec {
        name: spec.name.clone(),
        topic: spec.output.clone(),
        rate_per_sec: 0,
        max_records: None,
        keys: KeyMode::Null,
        value_bytes: 0,
        values: Default::default(),
        // The application ends each transaction itself, after each poll.
        records_per_transaction: 1_000_000,
        abort_ppm: 0,
        configs: pc,
        processor: role,
    };
    Ok((consumer, producer))
}
