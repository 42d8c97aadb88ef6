//! What the page does when the app panics: it stops, says so, and keeps the user's session.
//!
//! A wasm panic aborts (a `RuntimeError: unreachable` in the browser) in the middle of
//! whatever ran, with no unwinding: the `RefCell`s it had borrowed stay borrowed and Yew's own
//! state may be half-updated. Before this, every later click panicked again with "already
//! borrowed", the Play button still said Pause and nothing told the user (issue #11). The hook
//! marks the app as crashed, which ends the frame loop and makes every callback of ours a
//! no-op, and shows a banner in plain DOM (Yew cannot be trusted to render any more), with a
//! Reload button. Nothing is saved after a panic, so the session saved in the browser is the
//! last good one, and reloading opens it.

use std::sync::atomic::{AtomicBool, Ordering};

use gloo::events::{EventListener, EventListenerOptions, EventListenerPhase};
use wasm_bindgen::JsCast;

/// Set by the panic hook, never cleared: only a reload brings the app back.
static CRASHED: AtomicBool = AtomicBool::new(false);

/// User events stopped before they reach Yew once the app has crashed (its listeners sit on
/// the body, in the capture phase, and may find their state still borrowed).
const BLOCKED_EVENTS: &[&str] = &[
    "click",
    "dblclick",
    "auxclick",
    "contextmenu",
    "input",
    "change",
    "submit",
    "keydown",
    "keyup",
    "keypress",
    "mousedown",
    "mouseup",
    "mousemove",
    "mouseover",
    "mouseout",
    "pointerdown",
    "pointerup",
    "pointermove",
    "pointerover",
    "pointerout",
    "focusin",
    "focusout",
    "wheel",
];

/// Whether the app panicked. Every callback that touches the playground checks it first.
pub fn crashed() -> bool {
    CRASHED.load(Ordering::Relaxed)
}

/// Installs the panic hook; call before anything else runs. Through Yew, which otherwise
/// replaces any hook with its own (a console message only) when the app is rendered.
pub fn install_hook() {
    yew::set_custom_panic_hook(Box::new(|info| {
        let first = !CRASHED.swap(true, Ordering::Relaxed);
        let message = panic_message(info);
        // For developers: the console keeps it after a reload.
        gloo::console::error!(format!("kplay: {message}"));
        if first {
            show_banner(&message);
        }
    }));
}

/// The panic's message and where it happened.
fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    match info.location() {
        Some(at) => format!("{text} (at {}:{})", at.file(), at.line()),
        None => text.to_string(),
    }
}

/// Puts the crash banner at the top of the page and makes the rest of it inert.
fn show_banner(message: &str) -> Option<()> {
    let window = web_sys::window()?;
    let document = window.document()?;
    let body = document.body()?;
    // The app's elements can no longer act: `inert` stops real pointers and keys (and greys
    // it in the style sheet), the listeners below stop events sent from scripts too.
    let children = body.children();
    for i in 0..children.length() {
        if let Some(child) = children.item(i) {
            let _ = child.set_attribute("inert", "");
        }
    }
    let banner = document.create_element("div").ok()?;
    banner.set_class_name("banner error crash");
    let _ = banner.set_attribute("role", "alert");
    let _ = banner.set_attribute("data-testid", "crash-banner");
    let text = document.create_element("p").ok()?;
    text.set_text_content(Some(
        "kplay stopped after an internal error, so nothing more was run or saved. The session \
         saved in this browser is kept: reload to continue from it.",
    ));
    let detail = document.create_element("code").ok()?;
    let _ = detail.set_attribute("data-testid", "crash-message");
    detail.set_text_content(Some(message));
    let reload = document.create_element("button").ok()?;
    let _ = reload.set_attribute("data-testid", "crash-reload");
    reload.set_text_content(Some("Reload"));
    EventListener::new(&reload, "click", |_| reload_saved_session()).forget();
    let _ = banner.append_with_node_3(&text, &detail, &reload);
    let _ = body.prepend_with_node_1(&banner);

    for &kind in BLOCKED_EVENTS {
        let banner = banner.clone();
        let options = EventListenerOptions {
            phase: EventListenerPhase::Capture,
            passive: false,
        };
        EventListener::new_with_options(&window, kind, options, move |event| {
            let in_banner = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
                .is_some_and(|node| banner.contains(Some(&node)));
            if !in_banner {
                event.stop_immediate_propagation();
                if kind == "submit" {
                    // Yew's handler would have prevented it: a real form submission
                    // navigates away with the form's fields in the address.
                    event.prevent_default();
                }
            }
        })
        .forget();
    }
    Some(())
}

/// Reloads the page without its fragment: a share link there would open the link again
/// instead of the session saved in the browser.
fn reload_saved_session() {
    let Some(window) = web_sys::window() else {
        return;
    };
    crate::forget_link();
    let _ = window.location().reload();
}
