//! Component tests in a real browser (wasm-bindgen-test with chromedriver): render components
//! with a playground's snapshot and check the DOM they produce, test hooks included.

use std::rc::Rc;

use kplay_playground::{Action, Notice, Playground, TimelineAction};
use wasm_bindgen_test::*;
use yew::prelude::*;

use crate::Ctx;

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Properties, PartialEq)]
struct HostProps {
    ctx: Ctx,
}

#[function_component]
fn Host(props: &HostProps) -> Html {
    html! {
        <ContextProvider<Ctx> context={props.ctx.clone()}>
            <crate::controls::Banner notice={props.ctx.notice.clone()}
                keeps_saved={props.ctx.keeps_saved} dispatch={props.ctx.dispatch.clone()} />
            <crate::cluster::Brokers />
            <crate::topics::Topics />
            <crate::clients::Consumers />
            <crate::events::EventLog />
        </ContextProvider<Ctx>>
    }
}

fn ctx_of(p: &Playground, notice: Option<Notice>) -> Ctx {
    Ctx {
        snapshot: Rc::new(p.snapshot(crate::RECORD_WINDOW, crate::TRACE_WINDOW)),
        dispatch: Callback::from(|_: Action| {}),
        playing: false,
        speed: 100,
        notice,
        share: None,
        exported: None,
        audit: None,
        journey: None,
        journey_of_produced: false,
        kafka_commands: p.kafka_commands().clone(),
        keeps_saved: false,
        pending: p.pending().into(),
        pins: p.pins(),
        violation: None,
    }
}

/// Renders `ctx` into a fresh element and lets Yew finish rendering.
async fn render(ctx: Ctx) -> web_sys::Element {
    let document = gloo::utils::document();
    let root = document.create_element("div").expect("div");
    document
        .body()
        .expect("body")
        .append_child(&root)
        .expect("append");
    yew::Renderer::<Host>::with_root_and_props(root.clone(), HostProps { ctx }).render();
    // Yield to the event loop once so the scheduled render runs (no wall-clock wait).
    yew::platform::time::sleep(std::time::Duration::ZERO).await;
    root
}

fn attr(root: &web_sys::Element, selector: &str, name: &str) -> Option<String> {
    root.query_selector(selector)
        .ok()
        .flatten()?
        .get_attribute(name)
}

#[wasm_bindgen_test]
async fn partitions_carry_their_offsets_as_test_hooks() {
    let mut p = Playground::welcome();
    p.dispatch(Action::Play).expect("play");
    for _ in 0..100 {
        p.dispatch(Action::Frame { elapsed_ms: 30 }).expect("frame");
    }
    let snapshot = p.snapshot(crate::RECORD_WINDOW, 0);
    let root = render(ctx_of(&p, None)).await;
    for part in &snapshot.topics[0].partitions {
        let sel = format!("[data-testid=partition-orders-{}]", part.partition);
        assert_eq!(
            attr(&root, &sel, "data-leo"),
            Some(part.log_end.to_string())
        );
        assert_eq!(
            attr(&root, &sel, "data-hw"),
            Some(part.high_watermark.to_string())
        );
        assert_eq!(
            attr(&root, &sel, "data-log-start"),
            Some(part.log_start.to_string())
        );
    }
    let lag = snapshot.consumers[0].lag.to_string();
    assert_eq!(
        attr(&root, "[data-testid=consumer-billing]", "data-lag"),
        Some(lag)
    );
}

#[wasm_bindgen_test]
async fn a_crashed_broker_is_shown_as_crashed() {
    let mut p = Playground::welcome();
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 2 }))
        .expect("crash");
    // Live actions take effect at the next whole millisecond.
    p.dispatch(Action::Play).expect("play");
    p.dispatch(Action::Frame { elapsed_ms: 10 }).expect("frame");
    let root = render(ctx_of(&p, None)).await;
    assert_eq!(
        attr(&root, "[data-testid=broker-2]", "data-state").as_deref(),
        Some("crashed")
    );
    assert_eq!(
        attr(&root, "[data-testid=broker-0]", "data-state").as_deref(),
        Some("up")
    );
}

#[wasm_bindgen_test]
async fn an_error_notice_shows_the_banner() {
    let p = Playground::welcome();
    let root = render(ctx_of(
        &p,
        Some(Notice::Error("`partitions`: enter a whole number".into())),
    ))
    .await;
    let banner = root
        .query_selector("[data-testid=error-banner]")
        .ok()
        .flatten()
        .expect("banner");
    assert!(banner
        .text_content()
        .unwrap_or_default()
        .contains("partitions"));
    let quiet = render(ctx_of(&p, None)).await;
    assert!(quiet
        .query_selector("[data-testid=error-banner]")
        .ok()
        .flatten()
        .is_none());
}

#[wasm_bindgen_test]
async fn a_broken_invariant_is_pinned_among_the_important_events() {
    let p = Playground::welcome();
    let mut ctx = ctx_of(&p, None);
    let pinned = |root: &web_sys::Element| {
        root.query_selector("[data-testid=pinned-violation]")
            .ok()
            .flatten()
            .map(|e| e.text_content().unwrap_or_default())
    };
    assert_eq!(pinned(&render(ctx.clone()).await), None);
    ctx.violation = Some(kplay_engine::check::Violation {
        invariant: "NoAcknowledgedRecordLost",
        at: kplay_engine::Instant::from_millis(1500),
        detail: "orders-0 offset 7".into(),
    });
    let text = pinned(&render(ctx).await).expect("pinned");
    assert!(
        text.contains("NoAcknowledgedRecordLost") && text.contains("a bug in kplay"),
        "{text}"
    );
}

#[wasm_bindgen_test]
fn a_60_hz_display_plays_one_virtual_second_per_second() {
    let mut last = None;
    let mut played = 0;
    for frame in 0..=60 {
        let (ms, now) = crate::elapsed_ms(last, 5000.0 + f64::from(frame) * 1000.0 / 60.0);
        last = Some(now);
        played += ms;
    }
    // Not 60 × 16 = 960: the fractions of a millisecond add up.
    assert!((999..=1000).contains(&played), "played {played} ms");
    // A clock that steps back (it should not) plays nothing rather than wrapping.
    let (ms, _) = crate::elapsed_ms(Some((100.0, 0.0)), 50.0);
    assert_eq!(ms, 0);
}

#[wasm_bindgen_test]
fn the_clock_shows_tenths_while_playing_and_milliseconds_paused() {
    let at = kplay_engine::Instant(12_345_678);
    assert_eq!(crate::controls::clock_text(at, true), "t = 12.3s");
    assert_eq!(crate::controls::clock_text(at, false), "t = 12.345s");
    let start = kplay_engine::Instant(99_999);
    assert_eq!(crate::controls::clock_text(start, true), "t = 0.0s");
}

#[wasm_bindgen_test]
async fn a_kept_session_offers_its_choices_with_or_without_an_error() {
    // The choices outlive the error message the next action clears.
    let p = Playground::welcome();
    let kept = |notice: Option<Notice>| Ctx {
        keeps_saved: true,
        ..ctx_of(&p, notice)
    };
    let with_error = render(kept(Some(Notice::Error("link broken".into())))).await;
    for choice in ["restore-saved", "replace-saved"] {
        let sel = format!("[data-testid=error-banner] [data-testid={choice}]");
        assert!(
            with_error.query_selector(&sel).ok().flatten().is_some(),
            "{sel}"
        );
    }
    let alone = render(kept(None)).await;
    let sel = "[data-testid=kept-banner] [data-testid=restore-saved]";
    assert!(alone.query_selector(sel).ok().flatten().is_some());
    let not_kept = render(ctx_of(&p, None)).await;
    assert!(not_kept
        .query_selector("[data-testid=restore-saved]")
        .ok()
        .flatten()
        .is_none());
}

#[wasm_bindgen_test]
fn the_allocator_counts_live_bytes() {
    // The budget is only as good as this count: a block counts while it lives.
    let before = crate::memory::live_bytes();
    let block = std::hint::black_box(vec![0u8; 1 << 20]);
    assert!(crate::memory::live_bytes() >= before + (1 << 20));
    let mut grown = block;
    grown.reserve_exact(3 << 20);
    assert!(crate::memory::live_bytes() >= before + (4 << 20));
    drop(grown);
    assert!(crate::memory::live_bytes() < before + (1 << 20));
    assert!(crate::memory::wasm_bytes() >= 4 << 20);
}

#[wasm_bindgen_test]
fn the_memory_gauge_reads_in_megabytes() {
    assert_eq!(crate::controls::mb_text(200_000), "0.2");
    assert_eq!(crate::controls::mb_text((9 << 20) + (1 << 19)), "9.5");
    assert_eq!(crate::controls::mb_text((84 << 20) + 12_345), "84");
}
