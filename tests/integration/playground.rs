//! The page checks the invariants too (`kplay_playground`'s guard): every step the run takes
//! for the first time, as `kplay run --check` does. A deliberate bug is caught while playing,
//! pauses the run and is marked on the timeline; time travel and a changed past raise nothing
//! false.

use kplay_engine::planted::{Bug, Planted};
use kplay_engine::Instant;
use kplay_playground::{Action, MarkerKind, Notice, Playground, TimelineAction};
use kplay_scenario::Scenario;

/// The welcome scenario with its consumer in a group, so it commits offsets.
fn grouped() -> Playground {
    let text = kplay_playground::WELCOME.replace(
        "config = { \"auto.offset.reset\" = \"earliest\" }",
        "config = { \"auto.offset.reset\" = \"earliest\", \"group.id\" = \"billing\" }",
    );
    assert!(text.contains("group.id"), "the welcome scenario changed");
    Playground::new(Scenario::parse(&text).expect("parses")).expect("builds")
}

/// Plays `ms` of virtual time in 16 ms frames at 10x, or until the run pauses.
fn play(p: &mut Playground, ms: u64) {
    p.dispatch(Action::SetSpeed(1000)).expect("10x");
    p.dispatch(Action::Play).expect("play");
    let end = p.now() + kplay_engine::Duration(ms * 1000);
    while p.is_playing() && p.now() < end {
        p.dispatch(Action::Frame { elapsed_ms: 16 }).expect("frame");
    }
}

fn violations(p: &Playground) -> Vec<String> {
    let timeline = p.timeline();
    let marked = timeline.markers.iter();
    marked
        .filter(|m| m.kind == MarkerKind::Violation)
        .map(|m| m.label.clone())
        .collect()
}

#[test]
fn a_planted_bug_is_caught_while_playing_the_run_pauses_and_the_timeline_marks_it() {
    let mut p = grouped();
    let bug = Bug::CommitAboveHighWatermark;
    p.plant(Planted::one(bug));
    play(&mut p, 60_000);
    assert!(!p.is_playing(), "the violation paused the run");
    let marked = violations(&p);
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert!(
        bug.caught_by().iter().any(|inv| marked[0].contains(inv)),
        "{marked:?} names one of {:?}",
        bug.caught_by()
    );
    match p.notice() {
        Some(Notice::Error(m)) => {
            assert!(m.contains("bug in kplay") && m.contains("--check"), "{m}");
        }
        other => panic!("expected the violation's notice, got {other:?}"),
    }
}

#[test]
fn the_same_run_without_the_bug_passes_and_a_changed_past_is_checked_from_its_moment() {
    let mut p = grouped();
    play(&mut p, 30_000);
    assert!(p.is_playing(), "no violation stopped the run");
    // Back to 12 s, where a broker crashes: the future is replaced, and the checker, taken
    // back to 12 s from its checkpoint, checks the new one.
    p.dispatch(Action::Seek { at_ms: 12_000 }).expect("seek");
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash");
    play(&mut p, 30_000);
    assert!(
        p.is_playing() && p.now() >= Instant::from_millis(40_000),
        "{:?}",
        p.notice()
    );
    assert_eq!(violations(&p), Vec::<String>::new());
    // The checker still has teeth after the rewind.
    p.plant(Planted::one(Bug::CommitAboveHighWatermark));
    play(&mut p, 60_000);
    assert!(!p.is_playing());
    assert_eq!(violations(&p).len(), 1);
}
