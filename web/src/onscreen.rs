//! Which partition rows are on screen, from one `IntersectionObserver`. While playing, a row
//! off screen is not refreshed: Chromium lays out and paints `content-visibility: auto` rows
//! up to about one and a half viewports away, and Yew diffs every row on its turn, so updating
//! rows nobody sees was most of a playing frame's work (issue #3's frame budget).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

/// A row is named by its topic and partition.
type RowId = (String, u32);

pub struct OnScreen {
    observer: Option<IntersectionObserver>,
    /// Kept alive for as long as the observer calls it.
    _callback: Option<Closure<dyn FnMut(js_sys::Array)>>,
    /// Rows the observer reported off screen; a row it has not reported on yet counts as on
    /// screen, so a row is never left stale by a missing report.
    off: Rc<RefCell<BTreeSet<RowId>>>,
}

impl OnScreen {
    /// Without `IntersectionObserver` (or outside a browser) every row counts as on screen.
    pub fn new() -> OnScreen {
        let off = Rc::new(RefCell::new(BTreeSet::new()));
        let callback = {
            let off = off.clone();
            Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
                // After a panic, `off` may still be borrowed by the render it interrupted.
                if crate::crash::crashed() {
                    return;
                }
                let mut off = off.borrow_mut();
                for entry in entries.iter() {
                    let Ok(entry) = entry.dyn_into::<IntersectionObserverEntry>() else {
                        continue;
                    };
                    let Some(id) = row_id(&entry.target()) else {
                        continue;
                    };
                    if entry.is_intersecting() {
                        off.remove(&id);
                    } else {
                        off.insert(id);
                    }
                }
            })
        };
        let init = IntersectionObserverInit::new();
        // Rows about to scroll in are refreshed already.
        init.set_root_margin("200px 0px");
        match IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &init) {
            Ok(observer) => OnScreen {
                observer: Some(observer),
                _callback: Some(callback),
                off,
            },
            Err(_) => OnScreen {
                observer: None,
                _callback: None,
                off,
            },
        }
    }

    pub fn observe(&self, row: &Element) {
        if let Some(o) = &self.observer {
            o.observe(row);
        }
    }

    pub fn unobserve(&self, row: &Element) {
        if let Some(o) = &self.observer {
            o.unobserve(row);
        }
        if let Some(id) = row_id(row) {
            self.off.borrow_mut().remove(&id);
        }
    }

    pub fn is_on_screen(&self, id: &RowId) -> bool {
        !self.off.borrow().contains(id)
    }
}

impl Drop for OnScreen {
    fn drop(&mut self) {
        if let Some(o) = &self.observer {
            o.disconnect();
        }
    }
}

/// One observer per page: props compare it by identity.
impl PartialEq for OnScreen {
    fn eq(&self, other: &OnScreen) -> bool {
        std::ptr::eq(self, other)
    }
}

/// A row element's topic and partition, from its `data-testid` (`partition-{topic}-{n}`).
fn row_id(row: &Element) -> Option<RowId> {
    let testid = row.get_attribute("data-testid")?;
    let (topic, n) = testid.strip_prefix("partition-")?.rsplit_once('-')?;
    Some((topic.to_string(), n.parse().ok()?))
}
