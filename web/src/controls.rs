//! Playback controls (play, pause, step, speed, seed, reset, share), the memory gauge and the
//! notice banner.

use std::cell::RefCell;

use kplay_engine::Instant;
use kplay_playground::{whole_mb, Action, Notice, SPEEDS};
use web_sys::{Element, HtmlSelectElement};
use yew::prelude::*;

use crate::input::use_text_field;
use crate::{page_url_without_hash, Ctx, MemoryUse};

fn speed_label(percent: u32) -> String {
    if percent >= 100 {
        format!("{}×", percent / 100)
    } else {
        format!("{}×", percent as f64 / 100.0)
    }
}

#[function_component]
pub fn Controls() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let d = &ctx.dispatch;
    let seed_text = use_text_field(|| ctx.snapshot.seed.to_string());
    {
        // Follow seed changes made elsewhere (reset, import).
        let seed_text = seed_text.text.clone();
        use_effect_with(ctx.snapshot.seed, move |seed| {
            seed_text.set(seed.to_string());
        });
    }
    let play = d.reform(|_| Action::Play);
    let pause = d.reform(|_| Action::Pause);
    let step = d.reform(|_| Action::Step);
    let reset = d.reform(|_| Action::Reset);
    let speed = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Ok(p) = value.parse() {
                d.emit(Action::SetSpeed(p));
            }
        })
    };
    let apply_seed = {
        let d = d.clone();
        let seed_text = seed_text.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            d.emit(Action::SetSeed(seed_text.value()));
        })
    };
    let share = d.reform(|_| Action::Share {
        page: page_url_without_hash(),
    });
    let now = ctx.snapshot.now;
    html! {
        <div class="controls" role="toolbar" aria-label="Playback">
            if ctx.playing {
                <button data-testid="pause" onclick={pause} aria-label="Pause">{ "❚❚ Pause" }</button>
            } else {
                <button data-testid="play" class="primary" onclick={play} aria-label="Play">{ "▶ Play" }</button>
            }
            <button data-testid="step" onclick={step} title="Process the next event">{ "Step" }</button>
            <label class="inline">{ "Speed " }
                <select data-testid="speed" onchange={speed} aria-label="Speed">
                    { for SPEEDS.iter().map(|&s| html! {
                        <option value={s.to_string()} selected={s == ctx.speed}>{ speed_label(s) }</option>
                    }) }
                </select>
            </label>
            <form class="inline" onsubmit={apply_seed}>
                <label>{ "Seed " }
                    <input data-testid="seed" class="seed" value={seed_text.value()} oninput={seed_text.oninput.clone()} aria-label="Seed" inputmode="numeric" />
                </label>
                <button type="submit" title="Restart with this seed">{ "Apply" }</button>
            </form>
            <button data-testid="reset" onclick={reset} title="Restart from 0 s">{ "Reset" }</button>
            <button data-testid="share" onclick={share} title="Put this run in the page address">{ "Share" }</button>
            <span class="clock" data-testid="clock" data-now-us={now.as_micros().to_string()}>{ clock_text(now, ctx.playing) }</span>
            { pending(&ctx) }
            if let Some(url) = ctx.share.clone() {
                <input data-testid="share-link" class="share-link" readonly=true value={url} aria-label="Share link" />
            }
        </div>
    }
}

/// The user's actions that wait for the clock while it is paused: a live action runs at the
/// next whole millisecond, so without this line a change made while paused shows nothing
/// until Play or Step. (Actions a scenario file schedules later are not the user's waiting.)
fn pending(ctx: &Ctx) -> Html {
    let now_ms = ctx.snapshot.now.as_micros() / 1000;
    let waiting: Vec<String> = ctx
        .pending
        .iter()
        .filter(|(at, _)| *at <= now_ms + 1)
        .map(|(at, name)| {
            format!(
                "{} at {}.{:03} s",
                name.replace('_', " "),
                at / 1000,
                at % 1000
            )
        })
        .collect();
    if ctx.playing || waiting.is_empty() {
        return html! {};
    }
    html! {
        <span class="pending" data-testid="pending" role="status">
            { format!("Waiting for the clock: {}. Press Play or Step.", waiting.join(", ")) }
        </span>
    }
}

thread_local! {
    /// The control of the last refused action: see [`remember_anchor`].
    static ANCHOR: RefCell<Option<Element>> = const { RefCell::new(None) };
}

/// Remembers the focused control, or forgets it (`refused` false). A refused action's message
/// is shown beside it, where the user is looking, as well as in the banner at the top of a
/// page that may have scrolled away from it.
pub fn remember_anchor(refused: bool) {
    let focused = refused
        .then(|| gloo::utils::document().active_element())
        .flatten()
        // The body itself has focus after a click on something that takes none.
        .filter(|e| e.tag_name() != "BODY");
    ANCHOR.with(|a| *a.borrow_mut() = focused);
}

/// Where the anchor is now, in page coordinates (left, bottom): measured after the banner
/// rendered, since the banner moves everything below it.
fn anchor_position() -> Option<(f64, f64)> {
    let window = gloo::utils::window();
    let rect = ANCHOR.with(|a| a.borrow().as_ref().map(Element::get_bounding_client_rect))?;
    (rect.height() > 0.0)
        .then(|| {
            Some((
                rect.left() + window.scroll_x().ok()?,
                rect.bottom() + window.scroll_y().ok()?,
            ))
        })
        .flatten()
}

#[derive(Properties, PartialEq)]
struct FieldErrorProps {
    message: String,
    dismiss: Callback<MouseEvent>,
}

/// A refused action's message beside the control that made it (the banner announces it; this
/// copy is for the eyes).
#[function_component]
fn FieldError(props: &FieldErrorProps) -> Html {
    let at = use_state(|| None::<(f64, f64)>);
    {
        let at = at.clone();
        use_effect_with(props.message.clone(), move |_| at.set(anchor_position()));
    }
    let Some((left, top)) = *at else {
        return html! {};
    };
    html! {
        <div class="field-error" data-testid="field-error" aria-hidden="true"
            style={format!("left:{left:.0}px;top:{:.0}px", top + 4.0)} onclick={props.dismiss.clone()}>
            { &props.message }
        </div>
    }
}

/// What the banner shows: the notice, and whether the saved session is kept.
#[derive(Properties, PartialEq)]
pub struct BannerProps {
    pub notice: Option<Notice>,
    pub keeps_saved: bool,
    pub dispatch: Callback<Action>,
}

#[function_component]
pub fn Banner(props: &BannerProps) -> Html {
    let ctx = props;
    let dismiss = ctx.dispatch.reform(|_| Action::DismissNotice);
    // While a broken link's playground keeps the saved session, the user chooses here; the
    // choice outlives the error message (which the next action clears).
    let kept = ctx.keeps_saved.then(|| {
        let restore = ctx.dispatch.reform(|_| Action::RestoreSaved);
        let replace = ctx.dispatch.reform(|_| Action::ReplaceSaved);
        html! {
            <span class="choices">
                <button class="choice" data-testid="restore-saved" onclick={restore}>{ "Restore your saved session" }</button>
                <button class="choice" data-testid="replace-saved" onclick={replace} title="Save this playground over it from now on">{ "Keep this playground instead" }</button>
            </span>
        }
    });
    match (&ctx.notice, kept) {
        (Some(Notice::Error(message)), kept) => html! {
            <>
                <div class="banner error" role="alert" data-testid="error-banner">
                    <span>{ message }</span>
                    { kept.unwrap_or_default() }
                    <button onclick={dismiss.clone()} aria-label="Dismiss">{ "×" }</button>
                </div>
                <FieldError message={message.clone()} {dismiss} />
            </>
        },
        (notice, kept) => html! {
            <>
                if let Some(kept) = kept {
                    <div class="banner warn" role="status" data-testid="kept-banner">
                        <span>{ "Your saved session is kept: this playground is not saved over it until you choose." }</span>
                        { kept }
                    </div>
                }
                if let Some(Notice::Info(message)) = notice {
                    <div class="banner info" role="status" data-testid="info-banner">
                        <span>{ message }</span>
                        <button onclick={dismiss} aria-label="Dismiss">{ "×" }</button>
                    </div>
                }
            </>
        },
    }
}

#[derive(Properties, PartialEq)]
pub struct MemoryProps {
    pub memory: MemoryUse,
}

/// The live heap against the memory budget. The exact figures are data attributes for tests;
/// the text changes only a few times a second at most, so it hardly costs a frame.
#[function_component]
pub fn Memory(props: &MemoryProps) -> Html {
    let m = props.memory;
    let over = m.live_bytes >= m.budget_bytes;
    html! {
        <span class={classes!("memory", over.then_some("over"))} data-testid="memory"
              data-live-bytes={m.live_bytes.to_string()} data-wasm-bytes={m.wasm_bytes.to_string()}
              data-budget-bytes={m.budget_bytes.to_string()}
              title={format!("Live heap of this page; its wasm memory is {} MB. At the budget, playing pauses.", whole_mb(m.wasm_bytes))}>
            { format!("memory {} MB of {} MB", mb_text(m.live_bytes), whole_mb(m.budget_bytes)) }
        </span>
    }
}

/// Megabytes with a decimal while few (a fresh page holds well under one), whole above ten.
pub fn mb_text(bytes: u64) -> String {
    if bytes < 10 << 20 {
        format!("{:.1}", bytes as f64 / f64::from(1u32 << 20))
    } else {
        whole_mb(bytes).to_string()
    }
}

/// The clock in tenths of a second while playing: milliseconds flickering 60 times a second
/// cannot be read, and repainting the header every frame made the display compositor redraw
/// from the header down to whatever row changed. Paused (and stepping), to the millisecond.
pub fn clock_text(now: Instant, playing: bool) -> String {
    if playing {
        let tenths = now.as_millis() / 100;
        format!("t = {}.{}s", tenths / 10, tenths % 10)
    } else {
        format!("t = {now}")
    }
}
