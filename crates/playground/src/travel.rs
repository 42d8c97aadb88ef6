//! Time travel: checkpoints of the run to scrub back to, stepping back one event, the notable
//! moments of the run (markers on the timeline), and forks.
//!
//! The scenario's timeline is the truth and the `Sim` a cache of it: landing at a time restores
//! the newest checkpoint at or before it (a clone of the `Sim`) and replays from there, which
//! is deterministic, so the state is exactly the one the run had. Checkpoints are taken as the
//! run advances, evenly spaced in virtual time; when there are [`MAX_CHECKPOINTS`], or they
//! would hold more than [`CHECKPOINT_BUDGET_BYTES`], every other one goes and the spacing
//! doubles, so the memory they hold stays bounded and the replay to land anywhere is at most
//! a spacing long (see `benches/travel.rs` for the measured cost).
//!
//! A clone shares the record batches with the run but copies the ledger's outcomes and every
//! replica's list of batches: about 37 bytes per acknowledged record (measured at 1.2 M
//! records), so a long, busy run keeps few checkpoints and lands more slowly. Sharing those
//! lists between clones (copy on write by chunk) would make checkpoints nearly free.

use kplay_engine::check::Checker;
use kplay_engine::trace::TraceKind;
use kplay_engine::{Duration, Instant, Sim};
use std::rc::Rc;

use crate::guard::Guard;

/// Most checkpoints kept; the oldest (the run at its start) is never thinned.
pub const MAX_CHECKPOINTS: usize = 48;

/// Most heap the checkpoints may hold together, estimated (see [`clone_bytes`]): an eighth of
/// the page's memory budget, so a run the budget allows is not paused by its checkpoints.
pub const CHECKPOINT_BUDGET_BYTES: u64 = 32 << 20;

/// What a clone of `sim` holds, estimated: per acknowledged record its ledger entry and its
/// share of the replicas' batch lists (37 bytes measured, rounded up), plus the trace window
/// (`TRACE_CAPACITY` events) and the rest, which do not grow with the run.
fn clone_bytes(sim: &Sim) -> u64 {
    48 * sim.ledger().acked + (1 << 20)
}

/// The first spacing between checkpoints, in virtual time: it doubles each time the list is
/// full, so a ten-minute run of the welcome scenario keeps one about every 20 s.
const FIRST_SPACING: Duration = Duration(2_500_000);

/// Most markers kept: a long run with faults every second keeps its first ones.
pub const MAX_MARKERS: usize = 2_000;

/// Clones of the run at moments of its past.
#[derive(Clone, Debug)]
pub(crate) struct Checkpoints {
    /// In time order; the first is the run as built.
    sims: Vec<Sim>,
    /// Beside each checkpoint, the invariant checker of its moment (`crate::guard`); `None`
    /// where checking had stopped.
    checkers: Vec<Option<Checker>>,
    spacing: Duration,
}

impl Checkpoints {
    pub(crate) fn new(start: &Sim, checker: Option<Checker>) -> Checkpoints {
        Checkpoints {
            sims: vec![start.clone()],
            checkers: vec![checker],
            spacing: FIRST_SPACING,
        }
    }

    /// Takes a checkpoint of `sim` if it is a spacing past the newest one.
    /// `guard` gives the checker of `sim`'s moment, kept beside it (a fork is not checked).
    pub(crate) fn observe(&mut self, sim: &Sim, guard: Option<&Guard>) {
        let last = self.sims.last().expect("the start is kept");
        if sim.now() < last.now() + self.spacing {
            return;
        }
        self.sims.push(sim.clone());
        self.checkers.push(guard.and_then(|g| g.checker_at(sim)));
        while self.sims.len() > 2
            && (self.sims.len() > MAX_CHECKPOINTS || self.bytes() > CHECKPOINT_BUDGET_BYTES)
        {
            // Keep the start and every other one after it; the spacing doubles.
            let keep: Vec<bool> = (0..self.sims.len()).map(|i| i % 2 == 0).collect();
            self.keep(&keep);
            self.spacing = Duration(self.spacing.0 * 2);
        }
    }

    /// Keeps the checkpoints (and their checkers) whose `keep` is true.
    fn keep(&mut self, keep: &[bool]) {
        let mut flags = keep.iter();
        self.sims.retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        self.checkers.retain(|_| *flags.next().unwrap_or(&true));
    }

    /// The newest checkpoint at or before `sim` (by events), with its checker, if checking
    /// still ran there.
    pub(crate) fn checked_base(&self, sim: &Sim) -> Option<(&Sim, &Checker)> {
        let i = self
            .sims
            .iter()
            .rposition(|s| s.events_processed() <= sim.events_processed())
            .unwrap_or(0);
        let checker = self.checkers.get(i)?.as_ref()?;
        Some((&self.sims[i], checker))
    }

    /// What the checkpoints hold, estimated.
    pub(crate) fn bytes(&self) -> u64 {
        let checkers: u64 = self.checkers.iter().flatten().map(Checker::bytes).sum();
        self.sims.iter().map(clone_bytes).sum::<u64>() + checkers
    }

    /// The run at `at`: `current` played on, if it is before `at` and no checkpoint is
    /// closer, else the newest checkpoint before it replayed up to it.
    pub(crate) fn at_time(&self, current: &mut Sim, at: Instant) {
        let base = self
            .sims
            .iter()
            .rev()
            .find(|s| s.now() <= at)
            .unwrap_or(&self.sims[0]);
        if current.now() > at || current.now() < base.now() {
            *current = base.clone();
        }
        current.run_until(at);
    }

    /// The run after exactly `events` events (a checkpoint stepped up to it).
    pub(crate) fn at_event(&self, events: u64) -> Sim {
        let base = self
            .sims
            .iter()
            .rev()
            .find(|s| s.events_processed() <= events)
            .unwrap_or(&self.sims[0]);
        let mut sim = base.clone();
        while sim.events_processed() < events && sim.step() {}
        sim
    }

    /// The future from `from` was replaced: checkpoints at or after it go, and the ones
    /// before forget the commands the old future scheduled.
    pub(crate) fn cut(&mut self, from: Instant) {
        let keep: Vec<bool> = self
            .sims
            .iter()
            .map(|s| s.now() < from || s.events_processed() == 0)
            .collect();
        self.keep(&keep);
        for s in &mut self.sims {
            s.drop_commands_from(from);
        }
    }

    /// Schedules a command the timeline gained in every checkpoint before its time, so a
    /// replay from any of them runs it.
    pub(crate) fn schedule(&mut self, at: Instant, command: &kplay_engine::Command) {
        for s in self.sims.iter_mut().filter(|s| s.now() < at) {
            s.schedule(at, command.clone());
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sims.len()
    }

    /// The spacing between checkpoints now: the longest replay to land anywhere.
    pub(crate) fn spacing(&self) -> Duration {
        self.spacing
    }
}

/// What a marker on the timeline stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// A fault: a broker crashed, paused or restarted, the network cut or healed, a consumer
    /// crashed.
    Fault,
    /// A partition leader elected, or a partition gone offline.
    Election,
    IsrChange,
    Rebalance,
    /// A lesson's step (set by a lesson through [`crate::Playground::mark`]).
    Lesson,
    /// An invariant violated (set by a checker through [`crate::Playground::mark`]).
    Violation,
    /// An alert rule fired or resolved.
    Alert,
}

impl MarkerKind {
    /// A short name, for the page's classes and legends.
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Fault => "fault",
            MarkerKind::Election => "election",
            MarkerKind::IsrChange => "isr",
            MarkerKind::Rebalance => "rebalance",
            MarkerKind::Lesson => "lesson",
            MarkerKind::Violation => "violation",
            MarkerKind::Alert => "alert",
        }
    }
}

/// A notable moment of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub at_ms: u64,
    pub kind: MarkerKind,
    /// What happened, in the words of the event log.
    pub label: String,
}

/// The marker a trace event makes, if it is notable.
fn marker_of(at: Instant, kind: &TraceKind) -> Option<Marker> {
    use TraceKind as K;
    let marker_kind = match kind {
        K::BrokerCrashed { .. }
        | K::BrokerRestarted { .. }
        | K::BrokerPaused { .. }
        | K::NetworkPartitioned { .. }
        | K::NetworkHealed
        | K::LinkDelayed { .. }
        | K::ConsumerCrashed { .. }
        | K::TopicConfigAltered { .. } => MarkerKind::Fault,
        K::LeaderElected { .. } | K::PartitionOffline { .. } => MarkerKind::Election,
        K::IsrChanged { .. } => MarkerKind::IsrChange,
        K::RebalanceStarted { .. } => MarkerKind::Rebalance,
        K::Alert { .. } => MarkerKind::Alert,
        _ => return None,
    };
    Some(Marker {
        at_ms: at.as_millis(),
        kind: marker_kind,
        label: kind.to_string(),
    })
}

/// Whether an event is one a learner must not miss (the event log pins it): it changes who
/// leads, who is in sync, who owns what, or which records exist. `__consumer_offsets` is left
/// out: a fence moves dozens of its partitions at once, which would push the user's own topics
/// out of the list.
pub fn important(kind: &TraceKind) -> bool {
    use TraceKind as K;
    let internal = match kind {
        K::LeaderElected { tp, .. }
        | K::PartitionOffline { tp }
        | K::IsrChanged { tp, .. }
        | K::FollowerTruncated { tp, .. }
        | K::TruncationDetected { tp, .. }
        | K::BatchFailed { tp, .. } => &*tp.topic == "__consumer_offsets",
        _ => false,
    };
    !internal
        && matches!(
            kind,
            K::BrokerCrashed { .. }
                | K::BrokerFenced { .. }
                | K::LeaderElected { .. }
                | K::PartitionOffline { .. }
                | K::IsrChanged { .. }
                | K::RebalanceStarted { .. }
                | K::FollowerTruncated { .. }
                | K::TruncationDetected { .. }
                | K::ConsumerCrashed { .. }
                | K::BatchFailed { .. }
                | K::Alert { .. }
        )
}

/// Most important events kept for the event log (the newest): a broker crash in a cluster of
/// 36 partitions pins an election and an ISR change for each, and the crash must stay in view.
pub const MAX_PINNED: usize = 200;

/// An important event, in the event log's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Its place among all the trace events of the run.
    pub index: u64,
    pub at: Instant,
    pub text: String,
}

/// The notable moments of the run as far as it went: the timeline's markers and the event
/// log's important events. Read after every step the page plays (`Playground::advance`), so
/// none is missed however many events a frame runs (the trace keeps only the newest).
#[derive(Clone, Debug, Default)]
pub(crate) struct Markers {
    list: Rc<Vec<Marker>>,
    pins: Rc<Vec<Pin>>,
    /// Trace events read so far (the trace's `total`).
    seen: u64,
}

impl Markers {
    /// Reads the trace events `sim` recorded since the last call.
    pub(crate) fn observe(&mut self, sim: &Sim) {
        let total = sim.trace().total();
        if total <= self.seen {
            return;
        }
        let new = (total - self.seen) as usize;
        self.seen = total;
        let recent = sim.trace().recent();
        let skip = recent.len().saturating_sub(new);
        // The index in the whole run of the first event read (the trace keeps the newest).
        let start = total - (recent.len() - skip) as u64;
        let mut found = Vec::new();
        for (i, e) in recent.skip(skip).enumerate() {
            found.extend(marker_of(e.at, &e.kind));
            if important(&e.kind) {
                let pins = Rc::make_mut(&mut self.pins);
                pins.push(Pin {
                    index: start + i as u64,
                    at: e.at,
                    text: e.kind.explained(sim.names()).to_string(),
                });
                let excess = pins.len().saturating_sub(MAX_PINNED);
                pins.drain(..excess);
            }
        }
        for m in found {
            self.add(m);
        }
    }

    /// The important events, oldest first.
    pub(crate) fn pins(&self) -> Rc<Vec<Pin>> {
        self.pins.clone()
    }

    /// Adds a marker, unless the list is full or the same kind is already there at that
    /// millisecond (an election of every partition at once is one mark).
    pub(crate) fn add(&mut self, marker: Marker) {
        let list = Rc::make_mut(&mut self.list);
        if list.len() >= MAX_MARKERS
            || list
                .iter()
                .rev()
                .take_while(|m| m.at_ms == marker.at_ms)
                .any(|m| m.kind == marker.kind)
        {
            return;
        }
        let at = list.partition_point(|m| m.at_ms <= marker.at_ms);
        list.insert(at, marker);
    }

    /// The future from `from_ms` was replaced: its markers go. The trace is read again from
    /// where the run is.
    pub(crate) fn cut(&mut self, from_ms: u64, sim: &Sim) {
        Rc::make_mut(&mut self.list).retain(|m| m.at_ms < from_ms);
        Rc::make_mut(&mut self.pins).retain(|p| p.at.as_millis() < from_ms);
        self.seen = sim.trace().total();
    }

    pub(crate) fn list(&self) -> Rc<Vec<Marker>> {
        self.list.clone()
    }
}

impl crate::Playground {
    /// Whether the run is behind the furthest moment it reached (the user went back).
    pub(crate) fn rewound(&self) -> bool {
        self.sim.now() < self.furthest
    }

    /// The scenario a live action or an edit adds to: after a seek back, without its future
    /// (what it held from the next millisecond on), which the new action replaces.
    pub(crate) fn editable_scenario(&self) -> kplay_scenario::Scenario {
        let mut s = self.scenario.clone();
        if self.rewound() {
            crate::drop_future(&mut s, self.next_ms());
        }
        s
    }

    /// The run's future from `from` was replaced: the run and its checkpoints forget the
    /// commands it scheduled, the markers after it go, and the run's end is now.
    pub(crate) fn replace_future(&mut self, from: Instant) {
        self.sim.drop_commands_from(from);
        self.checkpoints.cut(from);
        self.markers.cut(from.as_millis(), &self.sim);
        self.furthest = self.sim.now();
        let base = self.checkpoints.checked_base(&self.sim);
        if let Some(v) = self.guard.rewind(&self.sim, base) {
            self.violated(v);
        }
    }

    /// Lands at `at_ms` (at most the furthest time reached), paused.
    pub(crate) fn seek(&mut self, at_ms: u64) {
        self.playing = false;
        let at = Instant::from_millis(at_ms).min(self.furthest);
        self.checkpoints.at_time(&mut self.sim, at);
    }

    /// Goes back one event, paused.
    pub(crate) fn step_back(&mut self) -> Result<(), String> {
        self.playing = false;
        let events = self.sim.events_processed();
        if events == 0 {
            return Err("This is the start of the run: there is no event before it.".into());
        }
        self.sim = self.checkpoints.at_event(events - 1);
        Ok(())
    }

    /// After every action: checkpoints and markers of the run as it advanced, and the fork
    /// brought to the same moment.
    pub(crate) fn observe(&mut self) {
        // Before a checkpoint copies the run: the samples it holds are taken first.
        self.metrics.refresh(&mut self.sim);
        self.checkpoints.observe(&self.sim, Some(&self.guard));
        // The markers were read after each step (`Playground::advance`).
        self.furthest = self.furthest.max(self.sim.now());
        if let Some(fork) = &mut self.fork {
            fork.follow(self.sim.now());
        }
    }

    /// The timeline under the controls: where the run is, how far it went, its markers.
    pub fn timeline(&self) -> Timeline {
        Timeline {
            now_ms: self.sim.now().as_millis(),
            furthest_ms: self.furthest.as_millis(),
            markers: self.markers.list(),
            rewound: self.rewound(),
        }
    }

    /// Marks a moment on the timeline: a lesson's step, an invariant violated.
    pub fn mark(&mut self, marker: Marker) {
        self.markers.add(marker);
    }

    /// How many checkpoints the run holds, their estimated bytes and their spacing in
    /// virtual microseconds (for tests and benchmarks).
    pub fn checkpoint_stats(&self) -> (usize, u64, u64) {
        let c = &self.checkpoints;
        (c.len(), c.bytes(), c.spacing().0)
    }
}

/// What the timeline shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    pub now_ms: u64,
    /// The furthest time the run reached: the end of the timeline.
    pub furthest_ms: u64,
    pub markers: Rc<Vec<Marker>>,
    /// The run is behind `furthest_ms`: a live action now replaces the future.
    pub rewound: bool,
}
