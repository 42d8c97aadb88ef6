//! Native tests of time travel and forks: landing at a time gives the state the run had
//! then, stepping back undoes exactly one event, a live action after a seek back replaces the
//! future, and a fork is the original plus one change, replayable from its scenario.

use super::*;

/// Plays `ms` of virtual time at 10x, in frames of 16 ms.
fn play(p: &mut Playground, ms: u64) {
    p.dispatch(Action::SetSpeed(1000)).expect("10x");
    p.dispatch(Action::Play).expect("play");
    let until = p.now() + kplay_engine::Duration(ms * 1000);
    while p.now() < until {
        p.dispatch(Action::Frame { elapsed_ms: 16 }).expect("frame");
    }
    p.dispatch(Action::Pause).expect("pause");
}

/// A run's state as far as a test compares it: its clock, events and trace digest.
fn state(p: &Playground) -> (Instant, u64, u64) {
    (p.now(), p.sim().events_processed(), p.sim().digest())
}

#[test]
fn seeking_back_and_playing_on_gives_the_same_run() {
    // Method: play 20 s, keeping the state at about 7.3 s; seek there (a time between
    // checkpoints), compare, then play to 20 s again: the digest is the first run's.
    let mut p = Playground::welcome();
    play(&mut p, 7_300);
    let at_7 = state(&p);
    play(&mut p, 12_700);
    let end = state(&p);
    assert!(
        p.checkpoint_stats().0 > 2,
        "checkpoints were taken as the run went"
    );
    let at_ms = at_7.0.as_millis();
    assert_ne!(at_ms % 2_500, 0, "a time between checkpoints");
    p.dispatch(Action::Seek { at_ms }).expect("seek");
    assert_eq!(
        state(&p),
        at_7,
        "landing there gives the state the run had then"
    );
    assert!(p.timeline().rewound);
    assert_eq!(p.timeline().furthest_ms, end.0.as_millis());
    play(&mut p, 12_700);
    assert_eq!(state(&p), end, "playing on from there is the same run");
    // Seeking past the furthest point lands at it.
    p.dispatch(Action::Seek { at_ms: 0 }).expect("seek to 0");
    assert_eq!(p.now(), Instant::ZERO);
    p.dispatch(Action::Seek { at_ms: u64::MAX })
        .expect("seek far");
    assert_eq!(state(&p), end);
}

#[test]
fn step_back_undoes_exactly_one_event() {
    let mut p = Playground::welcome();
    play(&mut p, 3_000);
    for _ in 0..5 {
        p.dispatch(Action::Step).expect("step");
    }
    let before = state(&p);
    p.dispatch(Action::Step).expect("step");
    assert_ne!(state(&p), before);
    p.dispatch(Action::StepBack).expect("step back");
    assert_eq!(p.sim().events_processed(), before.1);
    assert_eq!(
        p.sim().digest(),
        before.2,
        "the trace is the one before the step"
    );
    p.dispatch(Action::Step).expect("step again");
    p.dispatch(Action::StepBack).expect("and back");
    assert_eq!(p.sim().digest(), before.2);
    let mut start = Playground::welcome();
    let e = start
        .dispatch(Action::StepBack)
        .expect_err("nothing before the start");
    assert!(e.contains("start of the run"), "{e}");
}

#[test]
fn a_live_action_after_a_seek_back_replaces_the_future() {
    // Method: crash broker 1 at about 5 s, play on to 10 s, seek to 2 s and crash broker 2:
    // the crash of broker 1 is gone from the timeline and from the run.
    let mut p = Playground::welcome();
    play(&mut p, 5_000);
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash 1");
    play(&mut p, 5_000);
    assert!(p
        .timeline()
        .markers
        .iter()
        .any(|m| m.kind == MarkerKind::Fault));
    p.dispatch(Action::Seek { at_ms: 2_000 }).expect("seek");
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 2 }))
        .expect("crash 2");
    let crashes: Vec<_> = p
        .scenario()
        .events
        .iter()
        .map(|e| e.action.clone())
        .collect();
    assert_eq!(crashes, vec![TimelineAction::CrashBroker { broker: 2 }]);
    assert!(!p.timeline().rewound, "the run's end is now");
    assert!(p.timeline().markers.iter().all(|m| m.at_ms < 2_001));
    play(&mut p, 8_000);
    let up: Vec<bool> = p
        .snapshot(0, 0)
        .brokers
        .iter()
        .map(|b| b.status == kplay_engine::snapshot::BrokerStatus::Up)
        .collect();
    assert_eq!(
        up,
        vec![true, true, false],
        "broker 1 never crashed in the new future"
    );
    // The run is the one its scenario replays.
    let text = {
        p.dispatch(Action::Export).expect("export");
        p.exported().expect("exported").to_string()
    };
    let replay = Scenario::parse(&text)
        .expect("parses")
        .build(None)
        .map(|mut s| {
            s.run_until(p.now());
            s.digest()
        });
    assert_eq!(replay.expect("builds"), p.sim().digest());
}

#[test]
fn a_fork_is_the_original_plus_one_change_and_replays_from_its_scenario() {
    // Method: fork at 4 s with min.insync.replicas 3 and broker 2 crashed in the original
    // timeline at 6 s: the original keeps acknowledging (ISR 2 ≥ 2), the fork cannot (ISR 2 <
    // 3), and the fork's own scenario replays to the fork's digest.
    let mut p = Playground::welcome();
    play(&mut p, 2_000);
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 2 }))
        .expect("crash");
    p.dispatch(Action::Seek { at_ms: 1_000 })
        .expect("back to 1 s");
    p.dispatch(Action::Fork(ForkChange::Setting {
        path: "topic.orders.min.insync.replicas".into(),
        value: "3".into(),
    }))
    .expect("fork");
    play(&mut p, 40_000);
    let view = p.fork_view().expect("a fork");
    assert_eq!(view.at_ms, 1_001);
    assert_eq!(view.original.now_ms, view.fork.now_ms, "side by side");
    assert!(view.original.acked > view.fork.acked + 100, "{view:?}");
    assert!(
        view.fork.produced > view.fork.acked,
        "the fork's acks=all writes wait"
    );
    // acks=all waits for every ISR member: the records sent while the crashed broker was
    // still in the ISR waited until the controller fenced it and the ISR shrank.
    let (p50, p99) = view
        .original
        .latency_ms
        .expect("acknowledged records have a latency");
    assert!(p50 < 100 && p99 > 1_000, "{view:?}");
    let fork = p.fork_scenario().expect("scenario").clone();
    let mut replay = fork.build(None).expect("builds");
    replay.run_until(p.fork_sim().expect("sim").now());
    assert_eq!(
        replay.digest(),
        view.fork.digest,
        "the fork replays from its file"
    );
    let text = fork.to_toml();
    assert!(text.contains("alter_topic_config"), "{text}");
    p.dispatch(Action::CloseFork).expect("close");
    assert!(p.fork_view().is_none());
}

#[test]
fn a_fork_redeploys_a_client_and_refuses_what_a_running_cluster_cannot_change() {
    let mut p = Playground::welcome();
    play(&mut p, 1_000);
    p.dispatch(Action::Fork(ForkChange::Setting {
        path: "producer.checkout.acks".into(),
        value: "1".into(),
    }))
    .expect("fork with acks=1");
    play(&mut p, 2_000);
    let producers = p.fork_sim().expect("fork").producers().count();
    assert_eq!(
        producers, 2,
        "the old instance closes, a new one takes over"
    );
    let view = p.fork_view().expect("fork");
    assert!(view.fork.acked > 0);
    for (path, value, says) in [
        ("cluster.brokers", "5", "keeps its brokers"),
        ("seed", "7", "keeps the seed"),
        ("producer.checkout.acks", "most", "acks"),
        ("topic.nope.retention.ms", "1", "topic"),
    ] {
        let e = p
            .dispatch(Action::Fork(ForkChange::Setting {
                path: path.into(),
                value: value.into(),
            }))
            .expect_err(path);
        assert!(e.contains(says), "{path}: {e}");
    }
}

#[test]
fn important_events_are_pinned_however_many_events_a_frame_runs() {
    // 5,000 records/s at 100x: a frame of 250 ms runs 25 virtual seconds, far more trace
    // events than the trace keeps, so reading the trace after the frame would miss the crash.
    let text = include_str!("../../../tests/browser/frame-scenario.toml");
    let mut p = Playground::new(Scenario::parse(text).expect("parses")).expect("builds");
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash");
    p.dispatch(Action::SetSpeed(10_000)).expect("100x");
    p.dispatch(Action::Play).expect("play");
    p.dispatch(Action::Frame { elapsed_ms: 250 })
        .expect("frame");
    let crash_in_trace = p
        .sim()
        .trace()
        .recent()
        .any(|e| matches!(e.kind, kplay_engine::trace::TraceKind::BrokerCrashed { .. }));
    assert!(
        !crash_in_trace,
        "the trace window still holds the crash: test needs more load"
    );
    let pins = p.pins();
    assert!(
        pins.iter()
            .any(|pin| pin.text.contains("broker 1") && pin.text.contains("crashed")),
        "{pins:#?}"
    );
    assert!(p
        .timeline()
        .markers
        .iter()
        .any(|m| m.kind == MarkerKind::Fault));
    // In order, without repeats.
    assert!(pins.windows(2).all(|w| w[0].index < w[1].index));
}
