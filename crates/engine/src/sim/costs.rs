//! The cost model applied: what the cluster's hardware (`hardware::Hardware`) makes each
//! message wait for. With the `ideal` profile none of this runs and a message costs only its
//! link's latency.
//!
//! - **Network cards.** A message carrying records takes `size / bandwidth` on its sender's
//!   card, after the transfers queued there, and as long on its receiver's card, as it
//!   arrives and after the transfers queued there: a saturated card delays every transfer
//!   queued behind it, replication traffic included. A message that fits in one frame (a
//!   request without records, an answer) takes only its own time: its frame goes in between
//!   the frames of the transfers under way.
//! - **Network threads.** Each connection has one of the broker's `num.network.threads`; it
//!   spends `network_cpu_ns` reading each request and writing each response, one at a time.
//!   With `queued.max.requests` requests waiting for a handler thread, it stops until one
//!   starts, and its other connections wait with it.
//! - **Request handler threads.** A request reaching a broker waits for the first free of its
//!   `num.io.threads` threads (Kafka's `KafkaRequestHandlerPool` taking from the one
//!   `RequestChannel` queue, so first come first served), which spends `request_cpu_ns` plus
//!   its bytes at `request_cpu_bytes_per_sec`; a produce request then appends its bytes to the
//!   log at the disk's rate, one append after another. The broker handles the request when
//!   its thread is done.
//! - **One request per connection.** Kafka's `SocketServer` mutes a connection once it has
//!   read a request and unmutes it when the response is sent, so "requests will be processed
//!   in the order they are sent" (the protocol guide): a producer's
//!   `max.in.flight.requests.per.connection` only fills the socket, and a produce request with
//!   acks=all holds its connection until the followers have the records. kplay keeps this for
//!   produce requests, the only ones a client pipelines (a consumer and a follower have one
//!   fetch per broker at a time); an acks=0 request unmutes as soon as it is handled.
//! - **The controller.** It elects partition leaders one after another at
//!   `controller_ns_per_election` each (0 in the named profiles: KRaft), and what it sends
//!   leaves once they are all made.
//! - **Follower appends.** A follower's fetcher thread appends what it fetched at the disk's
//!   rate before it handles the response.
//!
//! Time here is in nanoseconds, rounded up to the clock's microseconds when an event is set.

use std::collections::VecDeque;

use crate::hardware::{transfer_ns, Hardware};
use crate::protocol::{Acks, Message};
use crate::time::Instant;
use crate::trace::{BrokerId, NodeId};

/// A message of at most one Ethernet frame: it takes its own time on the card and queues
/// behind no transfer. Larger messages (record batches) queue behind each other on a card, in
/// the order they were sent, so the card's bandwidth is shared and never exceeded.
const FRAME_BYTES: u64 = 1_500;

/// A message waiting for its connection to unmute, with the broker incarnation it was sent to.
type Waiting = (NodeId, Message, u32);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Connection {
    /// The broker's incarnation the mute belongs to: a restarted broker has fresh connections.
    incarnation: u32,
    busy: bool,
    waiting: VecDeque<Waiting>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Costs {
    hw: Hardware,
    /// When each machine's card is next free to send, and to receive.
    /// By `slot` (vectors rather than maps: each map type is kilobytes of the page's wasm).
    card_out: Vec<u64>,
    card_in: Vec<u64>,
    /// Per broker: when each request handler thread is next free.
    io_threads: Vec<Vec<u64>>,
    /// Per broker: when each network thread (`num.network.threads`) is next free.
    network: Vec<Vec<u64>>,
    /// `queued.max.requests`.
    queued_max: usize,
    /// Per broker: when its log is next free to append.
    disk: Vec<u64>,
    /// Produce connections, by producer then broker.
    produce: Vec<Vec<Connection>>,
    /// Per broker: the requests in or bound for the request queue, as (read into it, taken by
    /// a handler thread), for `queued.max.requests` and `RequestQueueSize`; and the handler
    /// threads' busy time.
    starts: Vec<VecDeque<(u64, u64)>>,
    /// Per broker: the network thread each client's connection was given, in the order they
    /// came (Kafka's `Acceptor` deals new connections to its `Processor`s in turn).
    connections: Vec<Vec<NodeId>>,
    busy_ns: Vec<u64>,
    /// When the controller is next free, and the elections it has made and not yet paid for.
    controller_free: u64,
    elections: u64,
}

/// A node's place in the cards' vectors: the controller, brokers, then clients interleaved.
fn slot(node: NodeId) -> usize {
    let brokers = crate::sim::MAX_BROKERS as usize;
    match node {
        NodeId::Controller => 0,
        NodeId::Broker(b) => 1 + b.0 as usize,
        NodeId::Producer(p) => 1 + brokers + 2 * p as usize,
        NodeId::Consumer(c) => 2 + brokers + 2 * c as usize,
    }
}

fn free_at(cards: &[u64], slot: usize) -> u64 {
    cards.get(slot).copied().unwrap_or(0)
}

fn set_free_at(cards: &mut Vec<u64>, slot: usize, at: u64) {
    if cards.len() <= slot {
        cards.resize(slot + 1, 0);
    }
    cards[slot] = at;
}

fn ns(at: Instant) -> u64 {
    at.as_micros().saturating_mul(1_000)
}

fn instant(ns: u64) -> Instant {
    Instant(ns.div_ceil(1_000))
}

/// A request read off its connection and given a handler thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Served {
    /// When its network thread had read it (into the request queue).
    pub(super) read: Instant,
    /// How long it waited there for a handler thread (ns).
    pub(super) queued_ns: u64,
    /// When the handler thread is done with it.
    pub(super) done: Instant,
}

/// What handling a request takes once a thread has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Read and served.
    At(Served),
    /// Its connection is muted: it waits for the response before it.
    Queued,
}

impl Costs {
    /// The running model of a cluster's profile, or `None` for a free one.
    pub(super) fn of(setup: &super::ClusterSetup) -> Option<Box<Costs>> {
        let threads = setup.configs.int("num.io.threads") as usize;
        let network = setup.configs.int("num.network.threads") as usize;
        let queued_max = setup.configs.int("queued.max.requests") as usize;
        if setup.hardware.is_ideal() {
            return None;
        }
        let brokers = setup.brokers as usize;
        Some(Box::new(Costs {
            hw: setup.hardware.clone(),
            card_out: Vec::new(),
            card_in: Vec::new(),
            io_threads: vec![vec![0; threads.max(1)]; brokers],
            network: vec![vec![0; network.max(1)]; brokers],
            queued_max: queued_max.max(1),
            disk: vec![0; brokers],
            produce: Vec::new(),
            starts: vec![VecDeque::new(); brokers],
            connections: vec![Vec::new(); brokers],
            busy_ns: vec![0; brokers],
            controller_free: 0,
            elections: 0,
        }))
    }

    fn card(&self, node: NodeId) -> u64 {
        match node {
            NodeId::Broker(_) => self.hw.broker_network_bytes_per_sec,
            NodeId::Producer(_) | NodeId::Consumer(_) => self.hw.client_network_bytes_per_sec,
            NodeId::Controller => 0,
        }
    }

    /// When a message of `bytes` sent now from `from` would leave if the link's latency came
    /// after its last byte: the sender's card sends it after the transfers queued there, the
    /// receiver's card takes it in as it arrives (no sooner than `latency` after each byte
    /// left) and after the transfers queued there. Two queues in tandem, each busy only with
    /// its own bytes, so neither idles while the other is saturated.
    pub(super) fn transmit(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        bytes: u64,
        latency_ns: u64,
    ) -> Instant {
        let out_span = transfer_ns(bytes, self.card(from));
        let in_span = transfer_ns(bytes, self.card(to));
        if bytes <= FRAME_BYTES {
            // One frame slips in between the frames of the transfers under way (TCP streams
            // share a card frame by frame): it waits for none of them.
            return instant(ns(now) + out_span.max(in_span));
        }
        let (from, to) = (slot(from), slot(to));
        let out_done = ns(now).max(free_at(&self.card_out, from)) + out_span;
        if out_span > 0 {
            set_free_at(&mut self.card_out, from, out_done);
        }
        let in_free = free_at(&self.card_in, to);
        let in_done = (out_done + latency_ns).max(in_free + in_span);
        if in_span > 0 {
            set_free_at(&mut self.card_in, to, in_done);
        }
        instant(in_done - latency_ns)
    }

    /// The controller elected a partition's leader.
    pub(super) fn elected(&mut self) {
        self.elections += 1;
    }

    /// When a message the controller sends now leaves: after the elections before it, one
    /// after another (its event loop is one thread: `QuorumController`'s queue).
    fn controller_send(&mut self, now: Instant) -> Instant {
        let elections = std::mem::take(&mut self.elections);
        let spent = elections.saturating_mul(self.hw.controller_ns_per_election);
        self.controller_free = ns(now).max(self.controller_free).saturating_add(spent);
        instant(self.controller_free)
    }

    /// A request has reached broker `to` (incarnation `incarnation`) from `from`: when its
    /// handler is done with it, or that it waits for its connection.
    pub(super) fn admit(
        &mut self,
        now: Instant,
        from: NodeId,
        to: BrokerId,
        msg: &Message,
        incarnation: u32,
        codec_ns: u64,
    ) -> Admission {
        if let Message::ProduceRequest(_) = msg {
            let conn = self.connection(from, to);
            if conn.incarnation != incarnation {
                *conn = Connection {
                    incarnation,
                    ..Connection::default()
                };
            }
            if conn.busy {
                conn.waiting.push_back((from, msg.clone(), incarnation));
                return Admission::Queued;
            }
            conn.busy = true;
        }
        let (arrived, read) = self.read(ns(now), to, from);
        let (done, start) = self.serve(ns(now), read, to, msg, codec_ns);
        // Kafka's clock starts as the network thread hands the request to the queue, before
        // it blocks on a full one (`Processor.processCompletedReceives`).
        Admission::At(Served {
            read: instant(arrived),
            queued_ns: start - arrived,
            done,
        })
    }

    /// The network thread of `client`'s connection reads a request from `at`: when it was
    /// read, and when it is in the request queue. A full queue (`queued.max.requests`) stops
    /// the thread
    /// until a handler thread takes a request (`RequestChannel.sendRequest` blocks), and every
    /// connection it serves waits with it.
    fn read(&mut self, at: u64, broker: BrokerId, client: NodeId) -> (u64, u64) {
        let b = broker.0 as usize;
        let p = self.network_thread(broker, client);
        let arrived = at.max(self.network[b][p]) + self.hw.network_cpu_ns;
        // Queued at `arrived`: read by then and not yet taken.
        let queued = |&&(r, s): &&(u64, u64)| r <= arrived && s > arrived;
        let starts = &self.starts[b];
        let waiting = starts.iter().filter(queued).count();
        let mut read = arrived;
        if waiting >= self.queued_max {
            let mut later: Vec<u64> = starts.iter().filter(queued).map(|&(_, s)| s).collect();
            crate::sort::sort(&mut later);
            // The queue holds fewer than queued.max.requests once this many have started.
            read = later[waiting - self.queued_max];
        }
        self.network[b][p] = read;
        (arrived, read)
    }

    /// The network thread of `client`'s connection to `broker`: the next in turn for a new one.
    fn network_thread(&mut self, broker: BrokerId, client: NodeId) -> usize {
        let b = broker.0 as usize;
        let threads = self.network[b].len();
        let conns = &mut self.connections[b];
        let i = match conns.iter().position(|&c| c == client) {
            Some(i) => i,
            None => {
                conns.push(client);
                conns.len() - 1
            }
        };
        i % threads
    }

    /// When a broker's response to `client`, ready now, has been written by its network
    /// thread (the card's time comes after).
    fn write(&mut self, now: Instant, broker: BrokerId, client: NodeId) -> Instant {
        let p = self.network_thread(broker, client);
        let threads = &mut self.network[broker.0 as usize];
        let at = ns(now).max(threads[p]) + self.hw.network_cpu_ns;
        threads[p] = at;
        instant(at)
    }

    /// A request handler thread takes the request at the first moment one is free; it also
    /// spends `codec_ns` on its batches' compression (see `Sim::codec_ns`).
    /// When it is done, and when a thread took it (ns), for a request in the queue from `read`
    /// (ns) on; `now` (ns) prunes what has started.
    fn serve(
        &mut self,
        now: u64,
        read: u64,
        broker: BrokerId,
        msg: &Message,
        codec_ns: u64,
    ) -> (Instant, u64) {
        let b = broker.0 as usize;
        let bytes = msg.wire_bytes();
        let (slot, free) = self.io_threads[b]
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(i, at)| (at, i))
            .expect("at least one thread");
        let start = read.max(free);
        let partitions = match msg {
            Message::ProduceRequest(r) => r.partitions.len() as u64,
            Message::FetchRequest(r) => r.partitions.len() as u64,
            _ => 0,
        };
        let mut done = start
            + self.hw.request_cpu_ns
            + partitions * self.hw.request_cpu_ns_per_partition
            + transfer_ns(bytes, self.hw.request_cpu_bytes_per_sec)
            + codec_ns;
        if let Message::ProduceRequest(r) = msg {
            let appended: u64 = r.partitions.iter().map(|(_, b)| b.size_bytes as u64).sum();
            done = self.append(b, done, appended);
        }
        self.io_threads[b][slot] = done;
        self.busy_ns[b] += done - start;
        let starts = &mut self.starts[b];
        starts.retain(|&(_, s)| s > now);
        starts.push_back((read, start));
        (instant(done), start)
    }

    /// The broker's log takes `bytes` from `at` on, after the appends before them.
    fn append(&mut self, broker: usize, at: u64, bytes: u64) -> u64 {
        let span = transfer_ns(bytes, self.hw.disk_bytes_per_sec);
        if span == 0 {
            return at;
        }
        let done = at.max(self.disk[broker]) + span;
        self.disk[broker] = done;
        done
    }

    /// A follower's fetcher appends what a fetch brought before it handles the response.
    pub(super) fn follower_append(
        &mut self,
        now: Instant,
        broker: BrokerId,
        msg: &Message,
    ) -> Instant {
        let Message::FetchResponse(r) = msg else {
            return now;
        };
        let bytes: u64 = r
            .partitions
            .iter()
            .flat_map(|p| &p.batches)
            .map(|b| b.size_bytes as u64)
            .sum();
        instant(self.append(broker.0 as usize, ns(now), bytes))
    }

    /// The broker sent `msg` to `to`: a produce response unmutes its connection, and the
    /// request waiting behind it, if any, is read next.
    pub(super) fn responded(
        &mut self,
        broker: BrokerId,
        to: NodeId,
        msg: &Message,
    ) -> Option<Waiting> {
        if !matches!(msg, Message::ProduceResponse(_)) {
            return None;
        }
        self.unmute(broker, to)
    }

    /// An acks=0 produce request has no response: its connection unmutes once it is handled.
    pub(super) fn handled(
        &mut self,
        broker: BrokerId,
        from: NodeId,
        msg: &Message,
    ) -> Option<Waiting> {
        match msg {
            Message::ProduceRequest(r) if r.acks == Acks::Zero => self.unmute(broker, from),
            _ => None,
        }
    }

    /// Requests waiting for a handler thread at `now` (`RequestQueueSize`).
    pub(super) fn request_queue(&self, broker: BrokerId, now: Instant) -> u64 {
        let now = ns(now);
        let starts = &self.starts[broker.0 as usize];
        starts.iter().filter(|&&(r, s)| r <= now && s > now).count() as u64
    }

    /// The handler threads' time spent on requests so far, summed over threads.
    pub(super) fn busy_ns(&self, broker: BrokerId) -> u64 {
        self.busy_ns[broker.0 as usize]
    }

    /// The handler threads a broker has.
    pub(super) fn threads(&self, broker: BrokerId) -> u64 {
        self.io_threads[broker.0 as usize].len() as u64
    }

    /// A producer's connection to a broker (only producers have their requests muted here).
    fn connection(&mut self, client: NodeId, broker: BrokerId) -> &mut Connection {
        let NodeId::Producer(p) = client else {
            unreachable!("only produce connections are muted")
        };
        let p = p as usize;
        if self.produce.len() <= p {
            self.produce.resize_with(p + 1, Vec::new);
        }
        let conns = &mut self.produce[p];
        let b = broker.0 as usize;
        if conns.len() <= b {
            conns.resize_with(b + 1, Connection::default);
        }
        &mut conns[b]
    }

    fn broker_crashed(&mut self, broker: BrokerId) {
        self.starts[broker.0 as usize].clear();
        self.connections[broker.0 as usize].clear();
        for conns in &mut self.produce {
            if let Some(conn) = conns.get_mut(broker.0 as usize) {
                *conn = Connection::default();
            }
        }
        self.io_threads[broker.0 as usize].fill(0);
        self.network[broker.0 as usize].fill(0);
    }

    fn unmute(&mut self, broker: BrokerId, client: NodeId) -> Option<Waiting> {
        let conn = self.connection(client, broker);
        conn.busy = false;
        conn.waiting.pop_front()
    }
}

impl super::Sim {
    /// A message leaves `from` through the cost model: when it has left its sender's card. A
    /// broker's produce response unmutes its connection, and the request behind it is read.
    pub(super) fn transmit(&mut self, from: NodeId, to: NodeId, msg: &Message) -> Instant {
        let latency = self.setup.network.latency.as_micros() * 1_000;
        let Some(costs) = self.costs.as_mut() else {
            return self.now;
        };
        if from == NodeId::Controller {
            // After its elections, then on the broker's card like any message.
            let at = costs.controller_send(self.now);
            return costs.transmit(at, from, to, msg.wire_bytes(), latency);
        }
        let written = match from {
            NodeId::Broker(b) if msg.is_response() => costs.write(self.now, b, to),
            _ => self.now,
        };
        let sent = costs.transmit(written, from, to, msg.wire_bytes(), latency);
        if let NodeId::Broker(b) = from {
            let next = costs.responded(b, to, msg);
            self.admit_waiting(b, next);
        }
        sent
    }

    /// A message reached broker `b`'s process, which is up and listening: a request waits
    /// for its connection and a request handler thread, a follower's fetch result for its
    /// log append; then the broker handles it.
    pub(super) fn served(
        &mut self,
        from: NodeId,
        b: BrokerId,
        msg: Message,
        incarnation: u32,
        admitted: bool,
    ) {
        let costs = self.costs.as_mut().expect("only with a cost model");
        let to = NodeId::Broker(b);
        if admitted {
            let next = costs.handled(b, from, &msg);
            if self.monitor.is_some() {
                self.requests.handled(b, from, &msg, self.now);
            }
            self.deliver(to, crate::node::Input::Message { from, msg });
            self.admit_waiting(b, next);
            return;
        }
        let at = if msg.is_response() {
            Some(costs.follower_append(self.now, b, &msg))
        } else {
            let codec_ns = self.codec_ns(&msg);
            let costs = self.costs.as_mut().expect("only with a cost model");
            match costs.admit(self.now, from, b, &msg, incarnation, codec_ns) {
                Admission::At(served) => {
                    self.read_request(b, from, &msg, served);
                    Some(served.done)
                }
                Admission::Queued => None,
            }
        };
        if let Some(at) = at {
            self.push_admitted(at, from, b, msg, incarnation);
        }
    }

    fn push_admitted(
        &mut self,
        at: Instant,
        from: NodeId,
        b: BrokerId,
        msg: Message,
        incarnation: u32,
    ) {
        let event = super::Event::Deliver {
            from,
            to: NodeId::Broker(b),
            msg,
            incarnation,
            admitted: true,
        };
        self.push(at, event);
    }

    /// The request read off a connection that just unmuted, if its broker is the same process.
    fn admit_waiting(&mut self, b: BrokerId, next: Option<Waiting>) {
        let Some((from, msg, incarnation)) = next else {
            return;
        };
        if self.brokers[b.0 as usize].incarnation != incarnation {
            return; // Its connection died with the process it was sent to.
        }
        let codec_ns = self.codec_ns(&msg);
        let costs = self.costs.as_mut().expect("only with a cost model");
        if let Admission::At(served) = costs.admit(self.now, from, b, &msg, incarnation, codec_ns) {
            self.read_request(b, from, &msg, served);
            self.push_admitted(served.done, from, b, msg, incarnation);
        }
    }

    /// Broker `b` reads and handles a request at once (no cost model), for its metrics.
    pub(super) fn time_request(&mut self, b: BrokerId, from: NodeId, msg: &Message) {
        if self.monitor.is_some() {
            self.requests.read(b, from, msg, self.now, 0);
            self.requests.handled(b, from, msg, self.now);
        }
    }

    /// Broker `b` has read a request off its connection (for its request metrics).
    fn read_request(&mut self, b: BrokerId, from: NodeId, msg: &Message, served: Served) {
        if self.monitor.is_some() {
            let queue_us = served.queued_ns / 1_000;
            self.requests.read(b, from, msg, served.read, queue_us);
        }
    }

    /// What a produce request's batches cost a handler thread beyond their bytes: each
    /// compressed batch decompressed to be validated, and recompressed when its topic has a
    /// compression.type of its own (`LogValidator`).
    fn codec_ns(&self, msg: &Message) -> u64 {
        let Message::ProduceRequest(r) = msg else {
            return 0;
        };
        let md = self.controller.metadata();
        let topic_codec = |topic: &str| md.topics.get(topic).and_then(|t| t.config.compression);
        let batch_ns = |(tp, b): &(crate::record::TopicPartition, crate::record::RecordBatch)| {
            let bytes = u64::from(b.uncompressed_bytes);
            let recompress = topic_codec(&tp.topic).filter(|c| *c != b.codec);
            b.codec.decompress_ns(bytes) + recompress.map_or(0, |c| c.compress_ns(bytes))
        };
        r.partitions.iter().map(batch_ns).sum()
    }

    /// A crashed broker's connections and queues are gone with it.
    pub(super) fn costs_broker_crashed(&mut self, b: BrokerId) {
        if let Some(costs) = self.costs.as_mut() {
            costs.broker_crashed(b);
        }
    }
}
