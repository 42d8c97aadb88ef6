//! An idempotent producer's id (Kafka's `TransactionManager` without a `transactional.id`):
//! before its first batch it asks any broker (the least loaded) for a producer id with
//! InitProducerId, and gets a fresh one at epoch 0 from the block its broker holds (reference
//! §2.3). Until then its batches wait, as Kafka's `Sender` waits in
//! `maybeSendAndPollTransactionalRequest`.
//! A restarted process asks again, and so never writes under its predecessor's id.

use super::*;

/// Where an idempotent producer is with its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IdState {
    /// Not idempotent, or transactional (its coordinator gives the id): nothing to ask.
    NotNeeded,
    /// Waiting: the request out (correlation id, broker), and when to ask again.
    Asking {
        in_flight: Option<(u32, BrokerId)>,
        retry_at: Instant,
    },
    Known,
}

impl IdState {
    pub(super) fn new(config: &ProducerConfig, transactional: bool) -> IdState {
        match config.idempotent && !transactional {
            true => IdState::Asking {
                in_flight: None,
                retry_at: Instant::ZERO,
            },
            false => IdState::NotNeeded,
        }
    }
}

impl Producer {
    /// Whether batches must wait for the producer id.
    pub(super) fn awaits_producer_id(&self) -> bool {
        matches!(self.id_state, IdState::Asking { .. })
    }

    /// Sends InitProducerId when due (nothing else out, the backoff passed).
    pub(super) fn ask_producer_id(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let IdState::Asking {
            in_flight: None,
            retry_at,
        } = self.id_state
        else {
            return;
        };
        if now < retry_at {
            return;
        }
        let Some(broker) = self.connections.least_loaded_node(now) else {
            return;
        };
        let correlation_id = self.next_correlation();
        self.id_state = IdState::Asking {
            in_flight: Some((correlation_id, broker)),
            retry_at,
        };
        out.push(Effect::Send {
            to: NodeId::Broker(broker),
            msg: Message::InitProducerId {
                correlation_id,
                transactional_id: None,
                timeout_ms: 0,
            },
        });
        out.push(Effect::SetTimer {
            at: now + self.config.request_timeout,
            timer: Timer::RequestTimeout { correlation_id },
        });
    }

    /// Whether `msg` answered this producer's InitProducerId (then it is handled here).
    pub(super) fn on_producer_id(&mut self, now: Instant, msg: &Message) -> bool {
        let Message::InitProducerIdResponse {
            correlation_id,
            error,
            producer,
        } = msg
        else {
            return false;
        };
        let IdState::Asking {
            in_flight: Some((c, _)),
            ..
        } = self.id_state
        else {
            return self.txn.is_none();
        };
        if c != *correlation_id {
            return self.txn.is_none();
        }
        if *error == ErrorCode::None {
            self.producer_id = producer.producer_id;
            self.producer_epoch = producer.epoch;
            self.id_state = IdState::Known;
        } else {
            // COORDINATOR_LOAD_IN_PROGRESS (no block of ids yet) and the like: ask again.
            self.id_retry(now);
        }
        true
    }

    /// The request was lost (timed out, or its connection broke): ask again after the backoff.
    pub(super) fn producer_id_request_lost(
        &mut self,
        now: Instant,
        lost: impl Fn(u32, BrokerId) -> bool,
    ) {
        if let IdState::Asking {
            in_flight: Some((c, b)),
            ..
        } = self.id_state
        {
            if lost(c, b) {
                self.id_retry(now);
            }
        }
    }

    fn id_retry(&mut self, now: Instant) {
        self.id_state = IdState::Asking {
            in_flight: None,
            retry_at: now + self.config.retry_backoff,
        };
    }

    /// When the id request waits for its backoff.
    pub(super) fn producer_id_wake(&self) -> Option<Instant> {
        match self.id_state {
            IdState::Asking {
                in_flight: None,
                retry_at,
            } => Some(retry_at),
            _ => None,
        }
    }
}
