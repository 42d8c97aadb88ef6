//! Kafka's request metrics (`kafka.network:type=RequestMetrics`, kept by `RequestChannel`):
//! per broker and request type, how long a request took from the moment the broker read it
//! off its connection to the moment its response left, and the parts a learner asks about.
//!
//! - `TotalTimeMs`: read to response sent.
//! - `RequestQueueTimeMs`: waiting in the request queue for a handler thread (`num.io.threads`;
//!   only the cost model makes a request wait).
//! - `RemoteTimeMs`: handled, then parked in purgatory until it can be answered: a produce
//!   request with acks=all waits for the followers to fetch its records (the replication
//!   share of a produce latency), a fetch for `fetch.min.bytes` or `fetch.max.wait.ms`.
//!
//! The rest (`LocalTimeMs`, the handler thread's own work and the log append, and the response's
//! time on the card) is what is left of the total. A request held behind a muted connection
//! (one request per connection at a time) has not been read yet, so that wait counts nowhere
//! here: the producer's `request-latency-avg` sees it. kplay measures the three request types
//! Kafka's operations guide charts: `Produce`, `FetchConsumer` and `FetchFollower`; an acks=0
//! produce request has no response and is not timed.
//!
//! Only a run with a metrics monitor keeps these (they read the run and change nothing).

use crate::protocol::{Acks, Message};
use crate::time::Instant;
use crate::trace::{BrokerId, NodeId};

/// The request types timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RequestType {
    Produce,
    FetchConsumer,
    FetchFollower,
}

impl RequestType {
    pub(super) const ALL: [RequestType; 3] = [
        RequestType::Produce,
        RequestType::FetchConsumer,
        RequestType::FetchFollower,
    ];

    fn of(msg: &Message) -> Option<RequestType> {
        match msg {
            Message::ProduceRequest(r) if r.acks != Acks::Zero => Some(RequestType::Produce),
            Message::FetchRequest(r) if r.replica_id.is_some() => Some(RequestType::FetchFollower),
            Message::FetchRequest(_) => Some(RequestType::FetchConsumer),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Kafka's name for it (the `request` tag of its MBeans).
    pub(super) fn name(self) -> &'static str {
        match self {
            RequestType::Produce => "Produce",
            RequestType::FetchConsumer => "FetchConsumer",
            RequestType::FetchFollower => "FetchFollower",
        }
    }
}

/// The correlation id pairing a timed request with its response.
fn correlation(msg: &Message) -> u32 {
    match msg {
        Message::ProduceRequest(r) => r.correlation_id,
        Message::ProduceResponse(r) => r.correlation_id,
        Message::FetchRequest(r) => r.correlation_id,
        Message::FetchResponse(r) => r.correlation_id,
        _ => 0,
    }
}

/// Summed times of the requests of one type answered so far, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Times {
    pub(super) count: u64,
    pub(super) total_us: u64,
    pub(super) queue_us: u64,
    pub(super) remote_us: u64,
}

impl Times {
    pub(super) fn since(self, before: Times) -> Times {
        Times {
            count: self.count.saturating_sub(before.count),
            total_us: self.total_us.saturating_sub(before.total_us),
            queue_us: self.queue_us.saturating_sub(before.queue_us),
            remote_us: self.remote_us.saturating_sub(before.remote_us),
        }
    }
}

/// A request a broker has read and not answered yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Open {
    kind: RequestType,
    read: Instant,
    queue_us: u64,
    handled: Option<Instant>,
}

/// Requests under way are few (a client has a handful in flight): past this many, something
/// is never answered, and timing stops rather than growing without bound.
const MAX_OPEN: usize = 10_000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct RequestMetrics {
    /// By broker, client and correlation id: a few per client, so a vector (each map type
    /// is kilobytes of the page's wasm).
    open: Vec<((BrokerId, NodeId, u32), Open)>,
    /// Per broker, per [`RequestType`].
    done: Vec<[Times; 3]>,
}

impl RequestMetrics {
    /// Broker `b` read `msg` from `from` at `read`; a handler thread takes it `queue_us` later.
    pub(super) fn read(
        &mut self,
        b: BrokerId,
        from: NodeId,
        msg: &Message,
        read: Instant,
        queue_us: u64,
    ) {
        let Some(kind) = RequestType::of(msg) else {
            return;
        };
        if self.open.len() >= MAX_OPEN {
            return;
        }
        let open = Open {
            kind,
            read,
            queue_us,
            handled: None,
        };
        let key = (b, from, correlation(msg));
        match self.open.iter_mut().find(|(k, _)| *k == key) {
            Some((_, o)) => *o = open,
            None => self.open.push((key, open)),
        }
    }

    /// Broker `b`'s handler is done with `msg` at `now`: what follows is remote time.
    pub(super) fn handled(&mut self, b: BrokerId, from: NodeId, msg: &Message, now: Instant) {
        if RequestType::of(msg).is_none() {
            return;
        }
        let key = (b, from, correlation(msg));
        if let Some((_, open)) = self.open.iter_mut().find(|(k, _)| *k == key) {
            open.handled = Some(now);
        }
    }

    /// Broker `b` answered `to` with `msg` at `now`; its response left the card at `sent`.
    pub(super) fn responded(
        &mut self,
        b: BrokerId,
        to: NodeId,
        msg: &Message,
        now: Instant,
        sent: Instant,
    ) {
        if !matches!(msg, Message::ProduceResponse(_) | Message::FetchResponse(_)) {
            return;
        }
        let key = (b, to, correlation(msg));
        let Some(i) = self.open.iter().position(|(k, _)| *k == key) else {
            return;
        };
        let (_, open) = self.open.swap_remove(i);
        let i = b.0 as usize;
        if self.done.len() <= i {
            self.done.resize(i + 1, [Times::default(); 3]);
        }
        let t = &mut self.done[i][open.kind.index()];
        t.count += 1;
        t.total_us += sent.saturating_since(open.read).as_micros();
        t.queue_us += open.queue_us;
        let handled = open.handled.unwrap_or(now);
        t.remote_us += now.saturating_since(handled).as_micros();
    }

    /// A crashed broker answers nothing it had read.
    pub(super) fn broker_crashed(&mut self, b: BrokerId) {
        self.open.retain(|((broker, _, _), _)| *broker != b);
    }

    /// Broker `b`'s times so far, by [`RequestType::ALL`].
    pub(super) fn times(&self, b: BrokerId) -> [Times; 3] {
        self.done.get(b.0 as usize).copied().unwrap_or_default()
    }
}
