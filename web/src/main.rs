//! The kplay playground in the browser: a Yew app that drives the engine directly.
//!
//! One component owns the [`Playground`] (in a non-rendering holder) and advances it on
//! animation frames; wall time decides only how far virtual time moves, never what happens.
//! Everything below it renders the plain [`Snapshot`] and sends [`Action`]s back.
//!
//! The page also keeps the user's work safe: it measures its memory and lets the playground
//! pause a run at the memory budget (`memory`), stops cleanly on a panic (`crash`), never
//! saves over the saved session while the playground keeps it, and opens a share link pasted
//! into a running tab, asking first when that would lose unsaved changes.

mod clients;
mod cluster;
mod colour;
mod controls;
mod crash;
mod ctx;
mod describe;
mod events;
mod glossary;
mod groups;
mod heatmap;
mod input;
mod journey;
mod lessons;
mod memory;
mod metrics;
mod onscreen;
mod setup;
#[cfg(test)]
mod tests;
mod timeline;
mod topics;
mod transactions;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::events::EventListener;
use gloo::render::{request_animation_frame, AnimationFrame};
use gloo::storage::{LocalStorage, Storage};
use kplay_engine::snapshot::{RecordsOf, Snapshot};
use kplay_engine::Instant;
use kplay_playground::{memory_budget_bytes, Action, LessonAction, Playground};
use yew::prelude::*;

pub use ctx::{Ctx, MemoryUse};

/// Where the playground is saved between visits.
const STORAGE_KEY: &str = "kplay.v1";
/// Newest records shown per partition: the DOM stays the same size however long the log.
pub const RECORD_WINDOW: usize = 16;
/// Trace events kept for the event log.
pub const TRACE_WINDOW: usize = 200;
/// How often (in frames) the playground is saved while it plays.
const SAVE_EVERY_FRAMES: u32 = 120;
/// How often (in frames) a fork's comparison is brought up to date while playing: it reads
/// every record of both runs (about once a second at 60 fps).
const FORK_EVERY_FRAMES: u32 = 60;

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
/// Where the snapshot of the current cycle of turns is kept, after the panels' slots.
const CYCLE: usize = TURNS as usize;

/// What the page address asks of the app, read once at start.
#[derive(Clone, Debug, PartialEq)]
struct PageOptions {
    /// `memory_budget_mb`: see [`memory_budget_bytes`].
    memory_budget_bytes: u64,
    /// `test_panic_at_ms`: the frame loop panics (with the playground borrowed, as an engine
    /// panic would) once virtual time reaches it. It exists for the browser test of the crash
    /// banner; no control of the page sets it.
    test_panic_at: Option<Instant>,
    /// `test_oom_at_ms`: likewise, but the frame loop allocates until the wasm memory is
    /// exhausted, for the test that running out of memory shows the banner too.
    test_oom_at: Option<Instant>,
    /// `test_time_warp`: each frame plays this many times the wall time it measured (2 to 100;
    /// a frame still plays at most `MAX_FRAME_MS`). It exists so a browser test can play what
    /// ten minutes at 100x would play (the welcome run's 1.2 M records) in about a minute;
    /// no control of the page sets it.
    test_time_warp: u32,
}

fn page_options() -> PageOptions {
    let params = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok());
    let get = |name: &str| params.as_ref().and_then(|p| p.get(name));
    let instant = |name: &str| {
        get(name)
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map(Instant::from_millis)
    };
    PageOptions {
        memory_budget_bytes: memory_budget_bytes(get("memory_budget_mb").as_deref()),
        test_panic_at: instant("test_panic_at_ms"),
        test_oom_at: instant("test_oom_at_ms"),
        test_time_warp: get("test_time_warp")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| (2..=100).contains(n))
            .unwrap_or(1),
    }
}

/// Reserves a GiB at a time (untouched, so the machine does not fill up) until the wasm
/// memory cannot grow: the counting allocator then panics (`memory.rs`).
fn exhaust_memory() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(Vec::with_capacity(1 << 30));
        std::hint::black_box(&hoard);
    }
}

fn location_hash() -> Option<String> {
    web_sys::window()?
        .location()
        .hash()
        .ok()
        .filter(|h| h.len() > 1)
}

pub fn page_url_without_hash() -> String {
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

/// Saves the playground in the browser, unless it keeps the session saved there.
fn save(p: &Playground) {
    if p.may_save() {
        let _ = LocalStorage::set(STORAGE_KEY, p.saved());
    }
}

/// Pauses the run if the live heap reached the budget; returns whether it paused.
fn enforce_budget(p: &mut Playground, options: &PageOptions) -> bool {
    p.enforce_memory_budget(memory::live_bytes(), options.memory_budget_bytes)
}

/// Puts a share link in the page address (without a `hashchange`, so it is not opened again).
fn put_in_address(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window
            .history()
            .and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url)));
    }
}

/// Takes the share link out of the page address (without a `hashchange`), so a reload opens
/// the session saved in the browser rather than a link that was declined, broken or replaced.
pub fn forget_link() {
    let Some(window) = web_sys::window() else {
        return;
    };
    if location_hash().is_none() {
        return;
    }
    let url = page_url_without_hash();
    let _ = window
        .history()
        .and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)));
}

/// Whether `action` replaces the user's run with one of ours (a lesson's setup), so unsaved
/// changes need the user's word first. A lesson's solution replaces only the lesson's run.
fn replaces_run(action: &Action) -> bool {
    matches!(action, Action::Lesson(LessonAction::Open(_)))
}

/// Asks the user; `false` when the browser cannot ask.
fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

/// A share link arrived in the address of a running tab: opens it, asking first when that
/// would lose unsaved changes. A declined or broken link leaves the session as it was (a
/// broken one without asking: it would replace nothing).
fn open_link(playground: &RefCell<Playground>, fragment: String, options: &PageOptions) {
    let Ok(mut p) = playground.try_borrow_mut() else {
        return;
    };
    if p.has_unsaved_changes() && Playground::check_link(&fragment).is_ok() {
        drop(p);
        if !confirm(
            "Open the share link? It replaces this session, whose changes have not been \
             shared or exported.",
        ) {
            forget_link();
            return;
        }
        let Ok(again) = playground.try_borrow_mut() else {
            return;
        };
        p = again;
    }
    if p.dispatch(Action::OpenLink(fragment)).is_err() {
        forget_link();
    }
    enforce_budget(&mut p, options);
    save(&p);
}

/// The one way the page acts: an `Action` for the playground, then the address (a share
/// link), the memory budget, the saved session and a full refresh.
#[hook]
fn use_dispatch(
    playground: Rc<RefCell<Playground>>,
    refresh: Rc<dyn Fn(RecordsOf)>,
    options: Rc<PageOptions>,
) -> Callback<Action> {
    // Made once: a new callback every frame would make every panel's context change.
    let dispatch = use_memo((), move |_| {
        Callback::from(move |action: Action| {
            if crash::crashed() {
                return;
            }
            let chose = matches!(action, Action::RestoreSaved | Action::ReplaceSaved);
            let sharing = matches!(action, Action::Share { .. });
            if replaces_run(&action)
                && playground.borrow().has_unsaved_changes()
                && !confirm(
                    "Open the lesson? It replaces this session, whose changes have not been \
                 shared or exported.",
                )
            {
                return;
            }
            let mut p = playground.borrow_mut();
            let done = p.dispatch(action);
            controls::remember_anchor(done.is_err());
            if done.is_ok() && chose {
                // The broken link is dealt with: a reload opens the saved session.
                forget_link();
            }
            if let Some(link) = p.share_link().filter(|_| sharing) {
                put_in_address(link);
            }
            // Play while over the budget pauses again at once.
            enforce_budget(&mut p, &options);
            save(&p);
            drop(p);
            refresh(RecordsOf::All);
        })
    });
    (*dispatch).clone()
}

/// The frame loop: advance by elapsed wall time × speed, then re-render if anything moved.
#[hook]
fn use_frame_loop(
    playground: Rc<RefCell<Playground>>,
    refresh: Rc<dyn Fn(RecordsOf)>,
    options: Rc<PageOptions>,
) {
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
            options: Rc<PageOptions>,
        ) {
            let h = handle.clone();
            let frame = request_animation_frame(move |timestamp| {
                if crash::crashed() {
                    // The loop ends here: no next frame is requested.
                    return;
                }
                let (elapsed, now) = elapsed_ms(*last.borrow(), timestamp);
                *last.borrow_mut() = Some(now);
                let playing = playground.borrow().is_playing();
                if playing {
                    let mut p = playground.borrow_mut();
                    let _ = p.dispatch(Action::Frame {
                        elapsed_ms: elapsed.saturating_mul(options.test_time_warp),
                    });
                    if options.test_panic_at.is_some_and(|at| p.now() >= at) {
                        panic!("test_panic_at_ms: virtual time reached {}", p.now());
                    }
                    if options.test_oom_at.is_some_and(|at| p.now() >= at) {
                        exhaust_memory();
                    }
                    let paused = enforce_budget(&mut p, &options);
                    *frames.borrow_mut() += 1;
                    let frame = *frames.borrow();
                    if paused || frame.is_multiple_of(SAVE_EVERY_FRAMES) {
                        save(&p);
                    }
                    drop(p);
                    refresh(if paused {
                        // Paused, everything is brought up to date, as a user's pause does.
                        RecordsOf::All
                    } else {
                        RecordsOf::Turn {
                            every: TURNS,
                            turn: frame % TURNS,
                        }
                    });
                }
                schedule(h, last, frames, playground, refresh, options);
            });
            *handle.borrow_mut() = Some(frame);
        }
        schedule(handle.clone(), last, frames, playground, refresh, options);
        move || drop(handle.borrow_mut().take())
    });
}

/// A share link pasted into the address bar of this tab changes only the fragment: the page
/// is not loaded again, so the link is opened here.
#[hook]
fn use_share_links(
    playground: Rc<RefCell<Playground>>,
    refresh: Rc<dyn Fn(RecordsOf)>,
    options: Rc<PageOptions>,
) {
    use_effect_with((), move |_| {
        let listener = EventListener::new(&gloo::utils::window(), "hashchange", move |_| {
            if crash::crashed() {
                return;
            }
            // An emptied fragment is not a link; sharing writes the address without an event.
            let Some(fragment) = location_hash() else {
                return;
            };
            open_link(&playground, fragment, &options);
            // Opened, declined or broken, the link that was shown is not this session's.
            if let Ok(mut p) = playground.try_borrow_mut() {
                let _ = p.dispatch(Action::DismissShare);
            }
            refresh(RecordsOf::All);
        });
        move || drop(listener)
    });
}

/// The page's memory now, against its budget.
fn memory_use(options: &PageOptions) -> MemoryUse {
    MemoryUse {
        live_bytes: memory::live_bytes(),
        wasm_bytes: memory::wasm_bytes(),
        budget_bytes: options.memory_budget_bytes,
    }
}

#[function_component]
fn App() -> Html {
    let options = use_memo((), |_| page_options());
    let playground = use_mut_ref(|| {
        let saved: Option<String> = LocalStorage::get(STORAGE_KEY).ok();
        Playground::open(saved.as_deref(), location_hash().as_deref())
    });
    // Per side panel slot the snapshot it shows; then the cycle's (`CYCLE`, `Ctx::cycle`).
    let panels = use_mut_ref(|| vec![None::<Rc<Snapshot>>; CYCLE + 1]);
    let (snapshot, travel, refresh) = use_view(&playground);
    let dispatch = use_dispatch(playground.clone(), refresh.clone(), options.clone());

    use_frame_loop(playground.clone(), refresh.clone(), options.clone());
    use_share_links(playground.clone(), refresh.clone(), options.clone());

    let memory_use = memory_use(&options);
    let p = playground.borrow();
    let (ctx, lesson) = (Ctx::of(&p, snapshot, dispatch), p.lesson().cloned());
    let metrics_view = p.metrics();
    drop(p);
    let mut panels = panels.borrow_mut();
    let cycle = ctx.cycle(&mut panels[CYCLE]);
    let mut panel = |slot: usize| ctx.for_panel(slot, &mut panels[slot], &cycle);
    let (brokers, producers, consumers, groups, events, setup) = (
        panel(BROKERS),
        panel(PRODUCERS),
        panel(CONSUMERS),
        panel(GROUPS),
        panel(EVENTS),
        panel(SETUP),
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
                <controls::Memory memory={memory_use} />
                { glossary::term("offset", "Glossary") }
            </header>
            <timeline::TimelineBar travel={travel} dispatch={ctx.dispatch.clone()} />
            <controls::Banner notice={ctx.notice.clone()} keeps_saved={ctx.keeps_saved}
                dispatch={ctx.dispatch.clone()} />
            <main data-testid="app-ready">
                <section class="column wide">
                    <ContextProvider<Ctx> context={brokers}><cluster::Brokers /></ContextProvider<Ctx>>
                    <topics::Topics />
                    <metrics::MetricsPanel view={metrics_view} dispatch={ctx.dispatch.clone()} />
                </section>
                <section class="column">
                    <lessons::Lessons state={lesson} dispatch={ctx.dispatch.clone()} />
                    <ContextProvider<Ctx> context={producers}><clients::Producers /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={consumers}><clients::Consumers /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={groups.clone()}>
                        <groups::Groups />
                    </ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={groups}>
                        <transactions::Transactions />
                    </ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={setup}><setup::Setup /></ContextProvider<Ctx>>
                    <ContextProvider<Ctx> context={events}><events::EventLog /></ContextProvider<Ctx>>
                </section>
            </main>
            <glossary::Glossary />
        </ContextProvider<Ctx>>
    }
}

/// Re-reads the playground into the rendered state, with the records of some partitions.
type Refresh = Rc<dyn Fn(RecordsOf)>;

/// The rendered state (the snapshot, the timeline) and the refresh that re-reads it. The
/// timeline's fork figures are re-read on user actions and pauses (`RecordsOf::All`) and every
/// `FORK_EVERY_FRAMES` refreshes; its clock and marks every time.
#[hook]
fn use_view(playground: &Rc<RefCell<Playground>>) -> (Rc<Snapshot>, Rc<timeline::Travel>, Refresh) {
    let snapshot = use_state(|| Rc::new(playground.borrow().snapshot(RECORD_WINDOW, TRACE_WINDOW)));
    let travel = use_state(|| timeline::travel_of(&playground.borrow(), None));
    // The last timeline shown, for the refresh (the frame loop keeps the first one made).
    let last = use_mut_ref(|| (*travel).clone());
    let refreshes = use_mut_ref(|| 0u32);
    let (playground, set_snapshot, set_travel) =
        (playground.clone(), snapshot.setter(), travel.setter());
    let refresh = Rc::new(move |records_of: RecordsOf| {
        let p = playground.borrow();
        set_snapshot.set(Rc::new(p.snapshot_of(
            RECORD_WINDOW,
            records_of,
            TRACE_WINDOW,
        )));
        let mut n = refreshes.borrow_mut();
        *n += 1;
        let keep = records_of != RecordsOf::All && !n.is_multiple_of(FORK_EVERY_FRAMES);
        let mut last = last.borrow_mut();
        let next = timeline::travel_of(&p, keep.then_some(&**last));
        *last = next.clone();
        set_travel.set(next);
    });
    ((*snapshot).clone(), (*travel).clone(), refresh)
}

fn main() {
    crash::install_hook();
    yew::Renderer::<App>::new().render();
}
