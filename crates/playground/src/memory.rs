//! The playground's memory budget: how much live heap a run may hold before the playground
//! pauses it. The page measures (a counting allocator in `web/`); the decision is here, so it
//! is plain Rust tested natively. Without it a long fast run grew the wasm memory to its 4 GiB
//! limit and the tab died (issue #11); paused with a notice, the user keeps the run.

use crate::{Action, Notice, Playground};

/// Live heap a run may hold before the playground pauses it, by default. Well below the
/// 4 GiB a wasm32 memory can reach, and below what a phone's browser grants a tab.
pub const MEMORY_BUDGET_BYTES: u64 = 256 * MB;

/// Smallest and largest budget the page address may ask for, in MB.
const BUDGET_MB_RANGE: std::ops::RangeInclusive<u64> = 1..=4096;

/// One megabyte as the page counts it (2^20 bytes, as the browser's memory tools do).
const MB: u64 = 1 << 20;

/// Once the budget has paused a run, it plays again only below this share of the budget
/// (the budget less an eighth). A run paused at the budget soon sits just under it (the
/// frame's snapshot is replaced by a smaller one), and without a margin every press of Play
/// would play one more frame and pause again, creeping on past the budget.
fn resume_below(budget_bytes: u64) -> u64 {
    budget_bytes - budget_bytes / 8
}

/// The budget from the page address's `memory_budget_mb` (whole MB), else the default.
///
/// It exists for tests: reaching 256 MB takes minutes, a budget a few MB above what the page
/// holds at the start is reached in seconds, without a special build. Read once at start; a
/// value that is not a whole number from 1 to 4096 is ignored.
pub fn memory_budget_bytes(query_mb: Option<&str>) -> u64 {
    query_mb
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|mb| BUDGET_MB_RANGE.contains(mb))
        .map_or(MEMORY_BUDGET_BYTES, |mb| mb * MB)
}

/// Bytes in whole MB, rounded down, for messages.
pub fn whole_mb(bytes: u64) -> u64 {
    bytes / MB
}

impl Playground {
    /// Pauses a playing run whose live heap (`live_bytes`, measured by the page) reached
    /// `budget_bytes`, with a notice saying why and what to do; returns whether it paused.
    ///
    /// The page calls it after every frame and every action, so pressing play while still
    /// over the budget pauses again at once instead of playing on into a crash (after a pause,
    /// "over" means above seven eighths of it: `resume_below`). Stepping, resetting and
    /// exporting stay possible: they do not grow the run by much, and resetting is how the
    /// memory comes back.
    pub fn enforce_memory_budget(&mut self, live_bytes: u64, budget_bytes: u64) -> bool {
        let limit = if self.budget_reached {
            resume_below(budget_bytes)
        } else {
            budget_bytes
        };
        self.budget_reached = live_bytes >= limit;
        if !self.playing || !self.budget_reached {
            return false;
        }
        // Pausing as the user would: on a whole millisecond, so saving it is exact.
        let _ = self.apply(Action::Pause);
        self.notice = Some(Notice::Error(format!(
            "Paused: this run holds {} MB, and the playground's memory budget is {} MB \
             (playing on could crash the tab). Press Reset to start again from 0 s, or \
             export the scenario and run it with `kplay run` (2 GB by default, \
             `--memory-budget-mb` for more).",
            whole_mb(live_bytes),
            whole_mb(budget_bytes),
        )));
        true
    }
}

#[cfg(test)]
mod tests {
    //! The budget decision with made-up measurements: the page's counting allocator is what
    //! measures, and it exists only in the browser.

    use super::*;
    use kplay_engine::Instant;

    fn playing(p: &mut Playground, ms: u32) {
        p.dispatch(Action::Play).expect("play");
        for _ in 0..ms / 10 {
            p.dispatch(Action::Frame { elapsed_ms: 10 }).expect("frame");
        }
    }

    #[test]
    fn a_run_at_the_budget_pauses_and_play_does_not_resume_it_while_over() {
        let mut p = Playground::welcome();
        playing(&mut p, 505);
        assert!(!p.enforce_memory_budget(MEMORY_BUDGET_BYTES - 1, MEMORY_BUDGET_BYTES));
        assert!(p.is_playing(), "below the budget nothing changes");
        assert_eq!(p.notice(), None);

        // A frame may end between two milliseconds; the pause finishes the millisecond.
        p.dispatch(Action::Frame { elapsed_ms: 3 }).expect("frame");
        let held = 300 * MB + 12_345;
        assert!(p.enforce_memory_budget(held, MEMORY_BUDGET_BYTES));
        assert!(!p.is_playing());
        assert_eq!(
            p.now().as_micros() % 1000,
            0,
            "paused on a whole millisecond"
        );
        let Some(Notice::Error(message)) = p.notice() else {
            panic!("a notice says why: {:?}", p.notice());
        };
        assert!(
            message.starts_with("Paused: this run holds 300 MB"),
            "{message}"
        );
        assert!(message.contains("memory budget is 256 MB"), "{message}");
        assert!(message.contains("Reset"), "{message}");

        // Play while still over: paused again before any frame, the notice back.
        let paused_at = p.now();
        p.dispatch(Action::Play).expect("play");
        assert!(p.enforce_memory_budget(held, MEMORY_BUDGET_BYTES));
        p.dispatch(Action::Frame { elapsed_ms: 100 })
            .expect("frame");
        assert_eq!(p.now(), paused_at, "no frame plays while over the budget");
        assert!(matches!(p.notice(), Some(Notice::Error(m)) if m.contains("memory budget")));
        // Just under the budget is still over it once it paused the run: otherwise each Play
        // would play one frame more.
        p.dispatch(Action::Play).expect("play");
        assert!(p.enforce_memory_budget(MEMORY_BUDGET_BYTES - MB, MEMORY_BUDGET_BYTES));
        p.dispatch(Action::Play).expect("play");
        assert!(
            p.enforce_memory_budget(224 * MB, MEMORY_BUDGET_BYTES),
            "7/8 of it"
        );

        // Paused, nothing to decide; stepping is still allowed.
        assert!(!p.enforce_memory_budget(held, MEMORY_BUDGET_BYTES));
        p.dispatch(Action::Step).expect("step");

        // Reset frees the run: well below the budget it plays again, up to the budget itself.
        p.dispatch(Action::Reset).expect("reset");
        assert_eq!(p.now(), Instant::ZERO);
        assert!(!p.enforce_memory_budget(8 * MB, MEMORY_BUDGET_BYTES));
        playing(&mut p, 100);
        assert!(!p.enforce_memory_budget(8 * MB, MEMORY_BUDGET_BYTES));
        assert!(p.is_playing());
        assert_eq!(p.now(), Instant::from_millis(100));
        assert!(!p.enforce_memory_budget(MEMORY_BUDGET_BYTES - 1, MEMORY_BUDGET_BYTES));
        assert!(p.is_playing());
    }

    #[test]
    fn the_budget_comes_from_the_page_address_or_is_the_default() {
        assert_eq!(memory_budget_bytes(None), 256 << 20);
        assert_eq!(memory_budget_bytes(Some("16")), 16 << 20);
        assert_eq!(memory_budget_bytes(Some(" 8 ")), 8 << 20);
        assert_eq!(memory_budget_bytes(Some("4096")), 4096 << 20);
        for ignored in ["", "0", "-1", "1.5", "lots", "4097", "99999999999999999999"] {
            assert_eq!(
                memory_budget_bytes(Some(ignored)),
                MEMORY_BUDGET_BYTES,
                "{ignored:?}"
            );
        }
        assert_eq!(whole_mb(MEMORY_BUDGET_BYTES + MB - 1), 256);
    }
}
