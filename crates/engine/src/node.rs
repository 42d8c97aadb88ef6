//! What every node (broker, producer, consumer) takes in and gives out.
//! Nodes are state machines: `handle(now, input, &mut effects)`. They never touch the
//! network, the event queue or the clock; the simulator turns effects into events.

use crate::ledger::Observation;
use crate::protocol::Message;
use crate::time::Instant;
use crate::trace::{BrokerId, NodeId, TraceKind};

/// Something arriving at a node.
#[derive(Clone, Debug)]
pub enum Input {
    /// A message from a peer.
    Message { from: NodeId, msg: Message },
    /// The connection to a peer was closed (its process died, or it refused to connect).
    Disconnected { peer: NodeId },
    /// A timer the node set went off.
    Timer(Timer),
    /// The other client of the same processor calls (see `processor`).
    App(crate::processor::AppCall),
}

/// Timers. A node ignores a timer that no longer applies (there is no cancellation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A client's general wake-up: generate records, drain batches, poll.
    Wake,
    /// A client request may have timed out.
    RequestTimeout { correlation_id: u32 },
    /// A parked fetch on a broker reached its `max_wait`.
    FetchExpiry { id: u64 },
    /// A delayed acks=all produce on a broker reached its timeout.
    ProduceExpiry { id: u64 },
    /// Periodic log retention check on a broker.
    RetentionCheck,
    /// A broker sends its heartbeat to the controller.
    Heartbeat,
    /// A leader checks its followers for the ISR (every `replica.lag.time.max.ms / 2`).
    IsrCheck,
    /// A follower's fetch to `leader` may have timed out.
    ReplicaFetchTimeout {
        leader: BrokerId,
        correlation_id: u32,
    },
    /// A follower retries fetching after an error (`replica.fetch.backoff.ms`).
    ReplicaFetchBackoff,
    /// The controller looks for brokers past `broker.session.timeout.ms`.
    SessionCheck,
    /// The controller's preferred leader check.
    LeaderRebalance,
    /// A group coordinator's deadline for one group (join phase, sessions): it re-checks them.
    GroupDeadline { group: u32 },
    /// A coordinator's write (an offset commit, a generation) reached
    /// `offsets.commit.timeout.ms`.
    CoordinatorWriteExpiry { id: u64 },
    /// A transaction coordinator looks for transactions past their timeout.
    TxnAbortCheck,
    /// A transaction coordinator sends again the markers that failed.
    TxnMarkerRetry,
}

/// What a node asks the simulator to do.
#[derive(Clone, Debug)]
pub enum Effect {
    Send {
        to: NodeId,
        msg: Message,
    },
    SetTimer {
        at: Instant,
        timer: Timer,
    },
    Trace(TraceKind),
    /// A fact for the ledger (acknowledgements, failures, deliveries).
    Observe(Observation),
    /// A call to the other client of the same processor, within the process.
    Handoff(crate::processor::AppCall),
}
