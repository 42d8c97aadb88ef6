//! What every panel reads: the context (`Ctx`: the snapshot, a way to act, and what the
//! playground holds for the page), and the context each side panel gets on its frame turn.

use std::rc::Rc;

use kplay_engine::snapshot::{RecordsOf, Snapshot};
use kplay_playground::{Action, Audit, Notice};
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
    /// The setup and the timeline as a Kafka user would type them (shared: made again only
    /// after a user action).
    pub kafka_commands: Rc<[String]>,
    /// The playground keeps the saved session (a broken link opened instead of it): the page
    /// offers to restore or replace it.
    pub keeps_saved: bool,
}

impl Ctx {
    /// The context of the side panel in `slot`, whose last shown snapshot is `shown`: a new
    /// snapshot on the panel's turn (see `crate::TURNS`), or whenever everything refreshes.
    pub fn for_panel(&self, slot: usize, shown: &mut Option<Rc<Snapshot>>) -> Ctx {
        let on_turn = !self.playing
            || match self.snapshot.records_of {
                RecordsOf::All => true,
                RecordsOf::Turn { turn, .. } => turn as usize == slot,
            };
        if on_turn || shown.is_none() {
            *shown = Some(self.snapshot.clone());
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
