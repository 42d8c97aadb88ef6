//! Text inputs bound to state: the one hook every form uses, so a field shows what the user
//! typed and the form reads it from one place.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

/// A text the user types: its state, and the `oninput` that keeps the state in step.
#[derive(Clone, Debug, PartialEq)]
pub struct TextField {
    pub text: UseStateHandle<String>,
    pub oninput: Callback<InputEvent>,
}

impl TextField {
    /// The text as typed.
    pub fn value(&self) -> String {
        (*self.text).clone()
    }
}

/// A text field that starts as `initial()`.
#[hook]
pub fn use_text_field<F>(initial: F) -> TextField
where
    F: FnOnce() -> String,
{
    let text = use_state(initial);
    let setter = text.setter();
    let oninput = use_callback((), move |e: InputEvent, _| setter.set(typed(&e)));
    TextField { text, oninput }
}

/// What an `<input>` or a `<textarea>` holds after an input event.
fn typed(e: &InputEvent) -> String {
    if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
        return input.value();
    }
    e.target_dyn_into::<HtmlTextAreaElement>()
        .map(|t| t.value())
        .unwrap_or_default()
}
