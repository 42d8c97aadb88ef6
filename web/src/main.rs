//! The kplay playground in the browser: a Yew app that drives the engine directly.
//!
//! One component owns the [`Playground`] (in a non-rendering holder) and advances it on
//! animation frames; wall time decides only how far virtual time moves, never what happens.
//! Everything below it renders the plain [`Snapshot`] and sends [`Action`]s back.

mod clients;
mod cluster;
mod controls;
mod events;
mod groups;
mod onscreen;
mod setup;
#[cfg(test)]
mod tests;
mod topics;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::render::{request_animation_frame, AnimationFrame};
use gloo::storage::{LocalStorage, Storage};
use kplay_engine::snapshot::{RecordsOf, Snapshot};
use kplay_playground::{Action, Notice, Playground};
use yew::prelude::*;

/// Where the playground is saved between visits.
const STORAGE_KEY: &str = "kplay.v1";
/// Newest records shown per partition: the DOM stays the same size however long the log.
pub const RECORD_WINDOW: usize = 16;
/// Trace events kept for the event log.
pub const TRACE_WINDOW: usize = 200;
/// How often (in frames) the playground is saved while it plays.
const SAVE_EVERY_FRAMES: u32 = 120;

/// While playing, the page refreshes in turns, so no frame re-renders everything (the frame
/// budget of issue #3; `tests/browser/frame-time.mjs`). Frame `n` is turn `n % TURNS`: it
/// refreshes the partition rows numbered `turn` modulo `TURNS` (each row five times a second at
/// 60 fps), and its snapshot carries the newest records of those rows only (records are most of
/// a snapshot's cost); the side panel whose slot is `turn` gets the new snapshot too (every
/// other frame one of them). The clock follows every frame. Any user action, and pausing,
/// refresh everything at once: their snapshot carries every record (`RecordsOf::All`).
pub const TURNS: u32 = 12;
const BROKERS: usize = 0;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 4;
const GROUPS: usize = 6;
const EVENTS: usize = 8;
const SETUP: usize = 10;

/// What every panel gets: the current snapshot and a way to act.
#[derive(Clone, Debug, PartialEq)]
pub struct Ctx {
    pub snapshot: Rc<Snapshot>,
    pub dispatch: Callback<Action>,
    pub playing: bool,
    pub speed: u32,
    pub notice: Option<Notice>,
    pub share: Option<String>,
    /// Shared: every panel's context holds it, every frame.
    pub exported: Option<Rc<str>>,
    pub request: Callback<Request>,
    /// The last loss audit: at what time, and what it found.
    pub audit: Option<Audit>,
}

/// What the loss audit found: every acknowledged record checked against the logs.
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    pub at: String,
    pub acked: u64,
    pub lost: u64,
    pub examples: Vec<String>,
}

/// Requests that need the whole page, not just the playground.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Share,
    Export,
    Audit,
}

fn location_hash() -> Option<String> {
    web_sys::window()?
        .location()
        .hash()
        .ok()
        .filter(|h| h.len() > 1)
}

fn page_url_without_hash() -> String {
    let Some(window) = web_sys::window() else {
        return String::new();
    };
    let href = window.location().href().unwrap_or_default();
    href.split('#').next().unwrap_or_default().to_string()
}

/// The whole milliseconds of wall time since the last frame, and the new (timestamp, fraction
/// not yet played). The fraction carries over: dropping it ran a 60 Hz display at 0.96×.
pub fn elapsed_ms(last: Option<(f64, f64)>, timestamp: f64) -> (u32, (f64, f64)) {
    let (previous, carry) = last.unwrap_or((timestamp, 0.0));
    let total = (timestamp - previous).max(0.0) + carry;
    let whole = total.floor();
    // Saturating: a tab asleep for weeks is capped by the playground anyway.
    (
        whole.min(f64::from(u32::MAX)) as u32,
        (timestamp, total - whole),
    )
}

fn save(p: &Playground) {
    let _ = LocalStorage::set(STORAGE_KEY, p.saved());
}

#[function_component]
fn App() -> Html {
    let playground = use_mut_ref(|| {
        let saved: Option<String> = LocalStorage::get(STORAGE_KEY).ok();
        Playground::open(saved.as_deref(), location_hash().as_deref())
    });
    let snapshot = use_state(|| Rc::new(playground.borrow().snapshot(RECORD_WINDOW, TRACE_WINDOW)));
    let share = use_state(|| None::<String>);
    let exported = use_state(|| None::<Rc<str>>);
    let audit = use_state(|| None::<Audit>);
    // Per side panel slot: the snapshot it shows.
    let panels = use_mut_ref(|| vec![None::<Rc<Snapshot>>; TURNS as usize]);

    // Re-read the playground into the rendered state, with the records of some partitions.
    let refresh = {
        let playground = playground.clone();
        let snapshot = snapshot.setter();
        Rc::new(move |records_of: RecordsOf| {
            snapshot.set(Rc::new(playground.borrow().snapshot_of(
                RECORD_WINDOW,
                records_of,
                TRACE_WINDOW,
            )));
        })
    };

    let dispatch = {
        let playground = playground.clone();
        let refresh = refresh.clone();
        let share = share.clone();
        // Made once: a new callback every frame would make every panel's context change.
        use_memo((), move |_| {
            Callback::from(move |action: Action| {
                let mut p = playground.borrow_mut();
                let _ = p.dispatch(action);
                save(&p);
                drop(p);
                share.set(None);
                refresh(RecordsOf::All);
            })
        })
    };
    let dispatch = (*dispatch).clone();

    let request = {
        let playground = playground.clone();
        let share = share.clone();
        let exported = exported.clone();
        let audit = audit.clone();
        let refresh = refresh.clone();
        use_memo((), move |_| {
            Callback::from(move |r: Request| {
                let mut p = playground.borrow_mut();
                match r {
                    Request::Share => {
                        let fragment = p.share_fragment();
                        let url = format!("{}#{fragment}", page_url_without_hash());
                        if let Some(window) = web_sys::window() {
                            let _ = window.history().and_then(|h| {
                                h.replace_state_with_url(
                                    &wasm_bindgen::JsValue::NULL,
                                    "",
                                    Some(&url),
                                )
                            });
                        }
                        share.set(Some(url));
                    }
                    Request::Export => exported.set(Some(Rc::from(p.export()))),
                    Request::Audit => {
                        let r = p.sim().report();
                        let examples = r
                            .lost
                            .iter()
                            .take(20)
                            .map(|l| {
                                let offset = l.offset.map_or("?".to_string(), |o| o.to_string());
                                format!(
                                    "{} record #{} → {}-{} offset {offset}",
                                    l.producer, l.id.seq, l.topic, l.partition
                                )
                            })
                            .collect();
                        audit.set(Some(Audit {
                            at: p.now().to_string(),
                            acked: r.acked,
                            lost: r.lost_acked,
                            examples,
                        }));
                    }
                }
                drop(p);
                refresh(RecordsOf::All);
            })
        })
    };
    let request = (*request).clone();

    // The frame loop: advance by elapsed wall time × speed, then re-render if anything moved.
    {
        let playground = playground.clone();
        let refresh = refresh.clone();
        use_effect_with((), move |_| {
            let handle: Rc<RefCell<Option<AnimationFrame>>> = Rc::new(RefCell::new(None));
            // The last frame's timestamp and the fraction of a millisecond not yet played.
            let last = Rc::new(RefCell::new(None::<(f64, f64)>));
            let frames = Rc::new(RefCell::new(0u32));
            fn schedule(
                handle: Rc<RefCell<Option<AnimationFrame>>>,
                last: Rc<RefCell<Option<(f64, f64)>>>,
                frames: Rc<RefCell<u32>>,
                playground: Rc<RefCell<Playground>>,
                refresh: Rc<dyn Fn(RecordsOf)>,
            ) {
                let h = handle.clone();
                let frame = request_animation_frame(move |timestamp| {
                    let (elapsed, now) = elapsed_ms(*last.borrow(), timestamp);
                    *last.borrow_mut() = Some(now);
                    let playing = playground.borrow().is_playing();
                    if playing {
                        let mut p = playground.borrow_mut();
                        let _ = p.dispatch(Action::Frame {
                            elapsed_ms: elapsed,
                        });
                        *frames.borrow_mut() += 1;
                        let frame = *frames.borrow();
                        if frame.is_multiple_of(SAVE_EVERY_FRAMES) {
                            save(&p);
                        }
                        drop(p);
                        refresh(RecordsOf::Turn {
                            every: TURNS,
                            turn: frame % TURNS,
                        });
                    }
                    schedule(h, last, frames, playground, refresh);
                });
                *handle.borrow_mut() = Some(frame);
            }
            schedule(handle.clone(), last, frames, playground, refresh);
            move || drop(handle.borrow_mut().take())
        });
    }

    let p = playground.borrow();
    let ctx = Ctx {
        snapshot: (*snapshot).clone(),
        dispatch,
        playing: p.is_playing(),
        speed: p.speed(),
        notice: p.notice().cloned(),
        share: (*share).clone(),
        exported: (*exported).clone(),
        request,
        audit: (*audit).clone(),
    };
    drop(p);
    let mut panels = panels.borrow_mut();
    let mut panel_ctx = |slot: usize| -> Ctx {
        let shown = &mut panels[slot];
        let on_turn = !ctx.playing
            || match ctx.snapshot.records_of {
                RecordsOf::All => true,
                RecordsOf::Turn { turn, .. } => turn as usize == slot,
            };
        if on_turn || shown.is_none() {
            *shown = Some(ctx.snapshot.clone());
        }
        Ctx {
            snapshot: shown.clone().expect("set above"),
            ..ctx.clone()
        }
    };
    let (brokers, producers, consumers, groups, events, setup) = (
        panel_ctx(BROKERS),
        panel_ctx(PRODUCERS),
        panel_ctx(CONSUMERS),
        panel_ctx(GROUPS),
        panel_ctx(EVENTS),
        panel_ctx(SETUP),
    );
    drop(panels);
    html! {
        <ContextProvider<Ctx> context={ctx.clone()}>
            <header class="top">
                <div class="brand">
                    <h1>{ "kplay" }</h1>
                    <span class="tagline">{ "a Kafka cluster you can poke" }</span>
                </div>
                <controls::Controls />
            </header>
            <controls::Banner />
            <main data-testid="app-ready">
                <section class="column wide">
                    <ContextProvider<Ctx> context={brokers}><cluster::Brokers /></ContextProvider<Ctx>>
                    <topics::Topics />
                </section>
                <section class="column">
                    <ContextProvider<Ctx> context={producers}><clients::Producers /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={consumers}><clients::Consumers /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={groups}><groups::Groups /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={setup}><setup::Setup /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={events}><events::EventLog /></ContextProvider<Ctx>>
                </section>
            </main>
        </ContextProvider<Ctx>>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
