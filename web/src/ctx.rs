//! What every panel reads: the context (`Ctx`: the snapshot, a way to act, and what the
//! playground holds for the page), and the context each side panel gets on its frame turn.

use std::rc::Rc;

use kplay_engine::sim::Journey;
use kplay_engine::snapshot::{RecordsOf, Snapshot};
use kplay_playground::{Action, Audit, Notice, Playground};
use yew::prelude::*;

/// What every panel gets: the current snapshot and a way to act.
#[derive(Clone, Debug, PartialEq)]
pub struct Ctx {
    pub snapshot: Rc<Snapshot>,
    pub dispatch: Callback<Action>,
    pub playing: bool,
    pub speed: u32,
    pub notice: Option<Notice>,
    /// The share link, while it describes the run.
    pub share: Option<String>,
    /// Shared: every panel's context holds it, every frame.
    pub exported: Option<Rc<str>>,
    /// The last loss audit: at what time, and what it found.
    pub audit: Option<Audit>,
    /// The journey of the record followed last (shared: every panel's context holds it).
    pub journey: Option<Rc<Journey>>,
    /// The journey is that of the record produced by hand last (the produce form shows it).
    pub journey_of_produced: bool,
    /// The setup and the timeline as a Kafka user would type them (shared: made again only
    /// after a user action).
    pub kafka_commands: Rc<[String]>,
    /// The playground keeps the saved session (a broken link opened instead of it): the page
    /// offers to restore or replace it.
    pub keeps_saved: bool,
    /// Actions the user made that wait for the clock (`Playground::pending`), with their time.
    pub pending: Rc<[(u64, &'static str)]>,
    /// The important events of the run so far (the playground reads every step for them).
    pub pins: Rc<Vec<kplay_playground::Pin>>,
    /// The invariant the run broke (kplay's bug), pinned among the important events.
    pub violation: Option<kplay_engine::check::Violation>,
}

impl Ctx {
    /// The context of the playground `p` as it is now, with its latest snapshot.
    pub fn of(p: &Playground, snapshot: Rc<Snapshot>, dispatch: Callback<Action>) -> Ctx {
        Ctx {
            snapshot,
            dispatch,
            playing: p.is_playing(),
            speed: p.speed(),
            notice: p.notice().cloned(),
            share: p.share_link().map(str::to_string),
            exported: p.exported().cloned(),
            audit: p.audit().cloned(),
            journey: p.journey().cloned(),
            journey_of_produced: p.journey_of_produced(),
            kafka_commands: p.kafka_commands().clone(),
            keeps_saved: !p.may_save(),
            pending: p.pending().into(),
            pins: p.pins(),
            violation: p.violation().cloned(),
        }
    }

    /// Whether this render brings every panel up to date: paused, or a snapshot of everything.
    fn refreshes_all(&self) -> bool {
        !self.playing || self.snapshot.records_of == RecordsOf::All
    }

    /// The snapshot the side panels show during this cycle of turns: the one of turn 0 (or of
    /// the last refresh of everything). Each panel re-renders on its own turn, but all of them
    /// show this one, so counters in different panels are of the same instant: a new user saw
    /// "produced 22,253" beside "sent 22,319" and "consumed 22,384" when each panel showed the
    /// snapshot of its own frame.
    pub fn cycle(&self, cycle: &mut Option<Rc<Snapshot>>) -> Rc<Snapshot> {
        let starts = self.refreshes_all()
            || matches!(self.snapshot.records_of, RecordsOf::Turn { turn: 0, .. });
        if starts || cycle.is_none() {
            *cycle = Some(self.snapshot.clone());
        }
        cycle.clone().expect("set above")
    }

    /// The context of the side panel in `slot`, whose last shown snapshot is `shown`: the
    /// cycle's snapshot on the panel's turn (see `crate::TURNS`), or whenever everything
    /// refreshes.
    pub fn for_panel(
        &self,
        slot: usize,
        shown: &mut Option<Rc<Snapshot>>,
        cycle: &Rc<Snapshot>,
    ) -> Ctx {
        let on_turn = self.refreshes_all()
            || matches!(self.snapshot.records_of,
                RecordsOf::Turn { turn, .. } if turn as usize == slot);
        if on_turn || shown.is_none() {
            *shown = Some(cycle.clone());
        }
        Ctx {
            snapshot: shown.clone().expect("set above"),
            ..self.clone()
        }
    }
}

/// The page's memory, as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUse {
    pub live_bytes: u64,
    pub wasm_bytes: u64,
    pub budget_bytes: u64,
}
