//! Native tests of the playground's state machine: playback, live actions, edits, and the
//! round trips through export, import, saved state and share links.

use super::*;

fn playing(p: &mut Playground, ms: u32) {
    p.dispatch(Action::Play).expect("play");
    let mut left = ms;
    while left > 0 {
        let step = left.min(16);
        p.dispatch(Action::Frame { elapsed_ms: step })
            .expect("frame");
        left -= step;
    }
}

/// The record the tests send by hand: key `user-42` through the welcome producer.
fn produce_user_42() -> TimelineAction {
    TimelineAction::Produce {
        producer: "checkout".into(),
        key: Some("user-42".into()),
        value: Some("hi".into()),
        partition: None,
        headers: Vec::new(),
    }
}

#[test]
fn frames_advance_virtual_time_by_speed_only_while_playing() {
    let mut p = Playground::welcome();
    p.dispatch(Action::Frame { elapsed_ms: 100 })
        .expect("frame");
    assert_eq!(
        p.now(),
        Instant::ZERO,
        "paused: wall time passes, virtual time does not"
    );
    playing(&mut p, 1000);
    assert_eq!(p.now(), Instant::from_millis(1000));
    p.dispatch(Action::SetSpeed(1000)).expect("10x");
    p.dispatch(Action::Frame { elapsed_ms: 100 })
        .expect("frame");
    assert_eq!(p.now(), Instant::from_millis(2000));
    // A long gap (a background tab) is capped.
    p.dispatch(Action::Frame { elapsed_ms: 60_000 })
        .expect("frame");
    assert_eq!(p.now(), Instant::from_millis(2000 + 2500));
    assert!(p.dispatch(Action::SetSpeed(333)).is_err());
}

#[test]
fn step_processes_exactly_one_event() {
    let mut p = Playground::welcome();
    let before = p.sim().events_processed();
    p.dispatch(Action::Step).expect("step");
    assert_eq!(p.sim().events_processed(), before + 1);
    assert!(!p.is_playing());
}

#[test]
fn an_exported_live_session_replays_to_the_same_digest() {
    let mut p = Playground::welcome();
    playing(&mut p, 1500);
    p.dispatch(Action::Live(produce_user_42()))
        .expect("produce");
    playing(&mut p, 700);
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash");
    playing(&mut p, 2300);
    let add = Edit::AddConsumer {
        id: "late".into(),
        topics: "orders".into(),
        processing_ms: "0".into(),
        offset_reset: "latest".into(),
        group: String::new(),
        commit: "auto".into(),
    };
    p.dispatch(Action::Edit(add)).expect("add consumer");
    playing(&mut p, 1200);
    let text = p.export();
    let digest = p.sim().digest();
    // What `kplay run` does with the exported file:
    let scenario = Scenario::parse(&text).expect("export parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.run_until(scenario.end());
    assert_eq!(sim.digest(), digest, "exported:\n{text}");
}

#[test]
fn an_invalid_edit_changes_nothing_and_says_why() {
    let mut p = Playground::welcome();
    playing(&mut p, 500);
    let before = (p.scenario().clone(), p.sim().digest(), p.now());
    let bad = [
        Edit::AddTopic {
            name: "orders".into(),
            partitions: "3".into(),
            replication_factor: "1".into(),
            min_insync: String::new(),
        },
        Edit::AddTopic {
            name: "t".into(),
            partitions: "0".into(),
            replication_factor: "1".into(),
            min_insync: String::new(),
        },
        Edit::AddTopic {
            name: "t".into(),
            partitions: "3".into(),
            replication_factor: "4".into(),
            min_insync: String::new(),
        },
        Edit::AddTopic {
            name: "t".into(),
            partitions: "3".into(),
            replication_factor: "2".into(),
            min_insync: "3".into(),
        },
        Edit::AddProducer {
            id: "p".into(),
            topic: "orders".into(),
            rate_per_sec: "-5".into(),
            keys: "none".into(),
            acks: "all".into(),
        },
        Edit::AddProducer {
            id: "p".into(),
            topic: "orders".into(),
            rate_per_sec: "5".into(),
            keys: "none".into(),
            acks: "2".into(),
        },
        Edit::SetConfig {
            target: Target::Producer("checkout".into()),
            key: "linger.mss".into(),
            value: "5".into(),
        },
        Edit::SetConfig {
            target: Target::Producer("checkout".into()),
            key: "linger.ms".into(),
            value: "-1".into(),
        },
        Edit::SetConfig {
            target: Target::Topic("orders".into()),
            key: "min.insync.replicas".into(),
            value: "4".into(),
        },
        Edit::SetBrokers("2".into()),
        Edit::SetBrokers("huge".into()),
    ];
    for edit in bad {
        let e = p.dispatch(Action::Edit(edit.clone())).expect_err("refused");
        assert!(!e.is_empty(), "{edit:?}");
        assert!(matches!(p.notice(), Some(Notice::Error(_))));
        assert_eq!(
            (p.scenario().clone(), p.sim().digest(), p.now()),
            before,
            "{edit:?} changed something"
        );
    }
}

#[test]
fn a_config_change_restarts_the_run_with_the_new_setting() {
    let mut p = Playground::welcome();
    playing(&mut p, 800);
    let set = Edit::SetConfig {
        target: Target::Producer("checkout".into()),
        key: "acks".into(),
        value: "1".into(),
    };
    p.dispatch(Action::Edit(set)).expect("set acks");
    assert_eq!(p.now(), Instant::ZERO);
    assert!(matches!(p.notice(), Some(Notice::Info(_))));
    assert_eq!(p.snapshot(0, 0).producers[0].acks, "1");
}

#[test]
fn live_actions_on_missing_things_are_refused() {
    let mut p = Playground::welcome();
    assert!(p
        .dispatch(Action::Live(TimelineAction::CrashBroker { broker: 9 }))
        .is_err());
    assert!(p
        .dispatch(Action::Live(TimelineAction::StopProducer {
            producer: "ghost".into()
        }))
        .is_err());
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 0 }))
        .expect("crash");
    playing(&mut p, 10);
    assert!(
        p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 0 }))
            .is_err(),
        "already down"
    );
    assert_eq!(p.scenario().events.len(), 1);
}

#[test]
fn a_share_link_reopens_the_same_run() {
    let mut p = Playground::welcome();
    playing(&mut p, 1234);
    p.dispatch(Action::Live(TimelineAction::StopProducer {
        producer: "checkout".into(),
    }))
    .expect("stop");
    playing(&mut p, 300);
    let fragment = p.share_fragment();
    let digest = p.sim().digest();
    let opened = Playground::open(None, Some(&format!("#{fragment}")));
    assert_eq!(opened.notice(), None);
    assert_eq!(opened.sim().digest(), digest);
    assert_eq!(opened.now(), p.now());
}

#[test]
fn broken_links_and_saves_give_a_clean_playground_and_a_banner() {
    let good = Playground::welcome().share_fragment();
    for fragment in ["#v1.!!!!", "#nonsense", &good[..good.len() / 3], "#v1.AAAA"] {
        let p = Playground::open(None, Some(fragment));
        assert!(
            matches!(p.notice(), Some(Notice::Error(m)) if m.contains("share link")),
            "{fragment}"
        );
        assert_eq!(p.scenario(), Playground::welcome().scenario());
    }
    let p = Playground::open(Some("[cluster]\nbrokers = -3"), None);
    assert!(matches!(p.notice(), Some(Notice::Error(m)) if m.contains("saved playground")));
    // No fragment and nothing saved: the welcome scenario, no banner.
    let p = Playground::open(None, Some("#"));
    assert_eq!(p.notice(), None);
}

#[test]
fn saved_state_survives_a_reload() {
    let mut p = Playground::welcome();
    playing(&mut p, 2000);
    p.dispatch(Action::SetSeed("7".into())).expect("seed");
    playing(&mut p, 900);
    let saved = p.export();
    let restored = Playground::open(Some(&saved), None);
    assert_eq!(restored.seed(), 7);
    assert_eq!(restored.sim().digest(), p.sim().digest());
}

#[test]
fn seeds_are_checked() {
    let mut p = Playground::welcome();
    for bad in ["-1", "x", "99999999999999999999", ""] {
        assert!(p.dispatch(Action::SetSeed(bad.into())).is_err(), "{bad}");
    }
    p.dispatch(Action::SetSeed(" 12 ".into())).expect("seed");
    assert_eq!(p.seed(), 12);
}

#[test]
fn import_replaces_everything_or_nothing() {
    let mut p = Playground::welcome();
    let before = p.scenario().clone();
    assert!(p
        .dispatch(Action::Import("[[topic]]\nname = 3".into()))
        .is_err());
    assert_eq!(p.scenario(), &before);
    let other = "seed = 9\nduration_ms = 500\n[cluster]\nbrokers = 1\n[[topic]]\nname = \"x\"\n";
    p.dispatch(Action::Import(other.into())).expect("import");
    assert_eq!(p.seed(), 9);
    assert_eq!(p.now(), Instant::from_millis(500));
    assert_eq!(p.snapshot(0, 0).topics[0].name, "x");
}

#[test]
fn a_valid_edit_after_a_refused_one_applies() {
    let mut p = Playground::welcome();
    let add = |rf: &str| Edit::AddTopic {
        name: "audit".into(),
        partitions: "3".into(),
        replication_factor: rf.into(),
        min_insync: "2".into(),
    };
    assert!(p.dispatch(Action::Edit(add("7"))).is_err());
    p.dispatch(Action::Edit(add("3"))).expect("valid");
    assert_eq!(p.snapshot(0, 0).topics.len(), 2);
}

#[test]
fn saving_does_not_change_the_run_and_an_error_clears_on_success() {
    let mut p = Playground::welcome();
    let _ = p.saved();
    assert_eq!(p.now(), Instant::ZERO, "saving is read-only");
    let bad = Edit::AddTopic {
        name: "orders".into(),
        partitions: "1".into(),
        replication_factor: "1".into(),
        min_insync: String::new(),
    };
    assert!(p.dispatch(Action::Edit(bad)).is_err());
    p.dispatch(Action::Pause).expect("pause");
    assert_eq!(p.notice(), None, "the next action clears a stale error");
}

#[test]
fn producers_can_be_removed_and_their_key_mode_changed() {
    let mut p = Playground::welcome();
    assert!(p
        .dispatch(Action::Edit(Edit::SetProducerKeys {
            producer: "checkout".into(),
            keys: "pool:0".into()
        }))
        .is_err());
    p.dispatch(Action::Edit(Edit::SetProducerKeys {
        producer: "checkout".into(),
        keys: "unique".into(),
    }))
    .expect("keys");
    assert_eq!(p.scenario().producers[0].keys, KeyMode::Unique);
    playing(&mut p, 300);
    p.dispatch(Action::Live(TimelineAction::RemoveProducer {
        producer: "checkout".into(),
    }))
    .expect("remove");
    playing(&mut p, 300);
    assert!(p.snapshot(0, 0).producers.is_empty());
    // And the exported session replays: removal included.
    let text = p.export();
    let scenario = Scenario::parse(&text).expect("parses");
    let mut sim = scenario.build(None).expect("builds");
    sim.run_until(scenario.end());
    assert_eq!(sim.digest(), p.sim().digest());
}

#[test]
fn a_very_long_run_opens_partway_with_a_notice_instead_of_freezing() {
    let text = "seed = 1\nduration_ms = 86400000\n[cluster]\nbrokers = 1\n[[topic]]\nname = \"t\"\n\
                [[producer]]\nid = \"p\"\ntopic = \"t\"\nrate_per_sec = 1000\nconfig = { \"linger.ms\" = 0 }\n";
    let p = Playground::open(Some(text), None);
    assert!(p.now() < Instant::from_millis(86_400_000));
    assert!(p.now() > Instant::ZERO);
    assert!(
        matches!(p.notice(), Some(Notice::Info(m)) if m.contains("Press play")),
        "{:?}",
        p.notice()
    );
}

#[test]
fn a_snapshot_of_one_turn_of_partitions_carries_their_records_only() {
    let mut p = Playground::welcome();
    playing(&mut p, 3000);
    let all = p.snapshot(16, 0);
    let turn = RecordsOf::Turn { every: 3, turn: 1 };
    let some = p.snapshot_of(16, turn, 0);
    assert_eq!(some.records_of, turn);
    let mut with_records = 0;
    for (a, s) in all.topics.iter().zip(&some.topics) {
        for (pa, ps) in a.partitions.iter().zip(&s.partitions) {
            if ps.partition % 3 == 1 {
                assert_eq!(
                    pa, ps,
                    "a partition on turn is the same as in a full snapshot"
                );
                with_records += usize::from(!ps.latest.is_empty());
            } else {
                assert!(
                    ps.latest.is_empty(),
                    "{}-{} is not on turn",
                    ps.topic,
                    ps.partition
                );
                assert_eq!(
                    (pa.log_end, pa.high_watermark),
                    (ps.log_end, ps.high_watermark)
                );
            }
        }
    }
    assert!(
        with_records > 0,
        "the welcome scenario has records after 3 s"
    );
    assert_eq!(
        (all.producers, all.consumers, all.trace_total),
        (some.producers, some.consumers, some.trace_total)
    );
}

/// A session that differs from the welcome one, saved as the page saves it.
fn a_saved_session() -> (String, Playground) {
    let mut p = Playground::welcome();
    p.dispatch(Action::SetSeed("7".into())).expect("seed");
    playing(&mut p, 1200);
    p.dispatch(Action::Pause).expect("pause");
    (p.saved(), p)
}

#[test]
fn a_broken_link_keeps_the_saved_session_until_the_user_chooses() {
    // Goal: opening a broken link never costs the session saved in the browser (issue #11).
    // Method: open with a saved session and broken links, act, then restore or replace.
    let (saved, original) = a_saved_session();
    for fragment in ["#v1.!!!!", "#nonsense", "#v1.AAAA"] {
        let mut p = Playground::open(Some(&saved), Some(fragment));
        assert!(!p.may_save(), "{fragment}: the saved session is kept");
        let says = |m: &str| m.contains("share link") && m.contains("kept");
        assert!(
            matches!(p.notice(), Some(Notice::Error(m)) if says(m)),
            "{fragment}: {:?}",
            p.notice()
        );
        // Working with the fresh playground is not a choice about the saved session.
        p.dispatch(Action::Step).expect("step");
        playing(&mut p, 50);
        p.dispatch(Action::Import(WELCOME.into())).expect("import");
        assert!(
            !p.may_save(),
            "{fragment}: still kept after step, play and import"
        );

        p.dispatch(Action::RestoreSaved).expect("restore");
        assert!(p.may_save());
        assert_eq!(p.seed(), 7);
        assert_eq!(p.now(), original.now());
        assert_eq!(p.sim().digest(), original.sim().digest());
        assert!(
            p.dispatch(Action::RestoreSaved).is_err(),
            "nothing left to restore"
        );
    }

    // The other choice: this playground may be saved from now on.
    let mut p = Playground::open(Some(&saved), Some("#v1.!!!!"));
    p.dispatch(Action::ReplaceSaved).expect("replace");
    assert!(p.may_save());
    assert_eq!(p.seed(), 42, "replacing keeps this playground");

    // Nothing saved, nothing to keep; a saved session that is itself broken stays kept when
    // a restore fails, so the user can still replace it.
    assert!(Playground::open(None, Some("#v1.!!!!")).may_save());
    let mut p = Playground::open(Some("[cluster]\nbrokers = -3"), Some("#v1.!!!!"));
    let e = p.dispatch(Action::RestoreSaved).expect_err("broken too");
    assert!(e.contains("saved session could not be opened"), "{e}");
    assert!(!p.may_save());
    // A good link and a plain reload save as before.
    let good = Playground::welcome().share_fragment();
    assert!(Playground::open(Some(&saved), Some(&good)).may_save());
    assert!(Playground::open(Some(&saved), None).may_save());
}

#[test]
fn a_link_opened_in_a_running_playground_replaces_it_or_changes_nothing() {
    // Goal: a link pasted into a tab that shows kplay opens, and a broken one keeps the
    // session. Method: dispatch `OpenLink` over a playground with changes of its own.
    let (_, mut source) = a_saved_session();
    let fragment = format!("#{}", source.share_fragment());
    let mut p = Playground::welcome();
    playing(&mut p, 300);
    p.dispatch(Action::Live(TimelineAction::StopProducer {
        producer: "checkout".into(),
    }))
    .expect("stop");
    playing(&mut p, 300);
    let before = (p.scenario().clone(), p.now(), p.sim().digest());
    assert_eq!(Playground::check_link(&fragment), Ok(()));
    for broken in ["#v1.!!!!", "#nonsense", &fragment[..fragment.len() / 2]] {
        assert!(Playground::check_link(broken).is_err(), "{broken}");
        let e = p
            .dispatch(Action::OpenLink(broken.into()))
            .expect_err("broken");
        assert!(e.contains("this session was kept"), "{e}");
        assert_eq!((p.scenario().clone(), p.now(), p.sim().digest()), before);
        assert!(p.has_unsaved_changes(), "still the user's unsaved session");
    }
    p.dispatch(Action::OpenLink(fragment)).expect("open");
    assert_eq!(p.seed(), 7);
    assert_eq!(p.now(), source.now());
    assert_eq!(p.sim().digest(), source.sim().digest());
    assert!(!p.has_unsaved_changes(), "a link is loaded, not changed");
    assert!(p.may_save());
}

#[test]
fn unsaved_changes_are_changes_to_the_scenario_since_it_was_loaded_shared_or_exported() {
    // Goal: the question before a link replaces the session is asked exactly when something
    // would be lost. Method: walk through every way a scenario changes or is kept.
    let mut p = Playground::welcome();
    assert!(!p.has_unsaved_changes());
    playing(&mut p, 400);
    p.dispatch(Action::Step).expect("step");
    p.dispatch(Action::Reset).expect("reset");
    p.dispatch(Action::SetSpeed(1000)).expect("speed");
    assert!(
        !p.has_unsaved_changes(),
        "playing, stepping, resetting change nothing"
    );
    let produce = TimelineAction::Produce {
        producer: "checkout".into(),
        key: None,
        value: None,
        partition: None,
        headers: Vec::new(),
    };
    p.dispatch(Action::Live(produce)).expect("produce");
    assert!(p.has_unsaved_changes(), "a live action");
    let _ = p.share_fragment();
    assert!(!p.has_unsaved_changes(), "shared");
    p.dispatch(Action::SetSeed("9".into())).expect("seed");
    assert!(p.has_unsaved_changes(), "a new seed");
    let exported = p.export();
    assert!(!p.has_unsaved_changes(), "exported");
    p.dispatch(Action::Edit(Edit::SetBrokers("4".into())))
        .expect("brokers");
    assert!(p.has_unsaved_changes(), "an edit");
    p.dispatch(Action::Import(exported)).expect("import");
    assert!(
        !p.has_unsaved_changes(),
        "imported from a file the user has"
    );

    // After a reload the page cannot know what was shared: anything but the welcome
    // scenario counts as changed, so the user is asked rather than surprised.
    let mut welcome = Playground::welcome();
    playing(&mut welcome, 700);
    assert!(!Playground::open(Some(&welcome.saved()), None).has_unsaved_changes());
    let (saved, _) = a_saved_session();
    assert!(Playground::open(Some(&saved), None).has_unsaved_changes());
}

/// Share, export and the audit go through `dispatch` like every other action: their results
/// stay with the playground for the page, a share link until the run changes, an export and an
/// audit until asked again (even over an import, as the page showed them).
#[test]
fn share_export_and_audit_are_actions_whose_results_the_page_reads() {
    let mut p = Playground::welcome();
    playing(&mut p, 500);
    p.dispatch(Action::Share {
        page: "https://kplay.test/".into(),
    })
    .expect("share");
    let link = p.share_link().expect("a link").to_string();
    assert!(link.starts_with("https://kplay.test/#v1."), "{link}");
    let fragment = link.split('#').nth(1).expect("a fragment");
    assert_eq!(fragment, p.share_fragment(), "the link reproduces the run");
    p.dispatch(Action::Export).expect("export");
    p.dispatch(Action::Audit).expect("audit");
    p.dispatch(Action::Frame { elapsed_ms: 16 }).expect("frame");
    assert_eq!(
        p.share_link(),
        Some(link.as_str()),
        "looking at the run keeps the link"
    );
    let audit = p.audit().expect("an audit").clone();
    assert_eq!(audit.lost, 0);
    assert!(audit.acked > 0, "{audit:?}");
    let exported = p.exported().expect("an export").clone();
    assert!(Scenario::parse(&exported).is_ok());
    p.dispatch(Action::Step).expect("step");
    assert_eq!(
        p.share_link(),
        None,
        "a change to the run makes the link stale"
    );
    p.dispatch(Action::Share {
        page: String::new(),
    })
    .expect("share");
    p.dispatch(Action::DismissShare).expect("dismiss");
    assert_eq!(p.share_link(), None);
    p.dispatch(Action::Import(exported.to_string()))
        .expect("import");
    assert_eq!(p.exported(), Some(&exported), "kept over an import");
    assert_eq!(p.audit(), Some(&audit), "kept over an import");
}

#[test]
fn an_action_made_while_paused_is_pending_until_the_clock_reaches_it() {
    let mut p = Playground::welcome();
    playing(&mut p, 500);
    p.dispatch(Action::Pause).expect("pause");
    assert_eq!(p.pending(), vec![]);
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash");
    assert_eq!(p.pending(), vec![(501, "crash_broker")]);
    playing(&mut p, 16);
    assert_eq!(p.pending(), vec![], "ran once the clock passed 501 ms");
}

#[test]
fn a_typed_rate_or_processing_time_is_refused_for_what_it_is() {
    let mut p = Playground::welcome();
    let producer = p.snapshot(0, 0).producers[0].name.clone();
    let consumer = p.snapshot(0, 0).consumers[0].name.clone();
    let e = p
        .dispatch(Action::Edit(Edit::SetRate {
            producer: producer.clone(),
            rate_per_sec: "-10".into(),
        }))
        .unwrap_err();
    assert!(
        e.contains("`rate_per_sec`: enter a whole number") && e.contains("\"-10\""),
        "{e}"
    );
    p.dispatch(Action::Edit(Edit::SetRate {
        producer: producer.clone(),
        rate_per_sec: " 250 ".into(),
    }))
    .expect("a rate");
    // The welcome cluster has no hardware profile: nothing would pace a closed loop.
    let e = p
        .dispatch(Action::Edit(Edit::SetRate {
            producer: producer.clone(),
            rate_per_sec: "max".into(),
        }))
        .unwrap_err();
    assert!(e.contains("rate_per_sec") && e.contains("hardware"), "{e}");
    p.dispatch(Action::Edit(Edit::SetRate {
        producer: producer.clone(),
        rate_per_sec: "300".into(),
    }))
    .expect("the session goes on after the refusal");
    for bad in ["-1", "0.0005", "x", "", "3600000.001"] {
        let e = p
            .dispatch(Action::Edit(Edit::SetProcessing {
                consumer: consumer.clone(),
                processing_ms: bad.into(),
            }))
            .unwrap_err();
        assert!(e.starts_with("`processing_ms_per_record`"), "{bad}: {e}");
    }
    for (typed, us) in [("20", 20_000), ("0.25", 250), ("0", 0)] {
        p.dispatch(Action::Edit(Edit::SetProcessing {
            consumer: consumer.clone(),
            processing_ms: typed.into(),
        }))
        .expect("a time");
        let last = p.scenario().events.last().expect("recorded").action.clone();
        assert_eq!(
            last,
            TimelineAction::SlowConsumer {
                consumer: consumer.clone(),
                processing_us_per_record: us
            }
        );
    }
}

#[test]
fn a_lesson_opens_at_its_setup_fails_its_check_and_passes_with_the_solution() {
    let mut p = Playground::welcome();
    let lesson = |a| Action::Lesson(a);
    let (_, text) = kplay_scenario::builtin()
        .iter()
        .find(|(id, _)| *id == "acks-and-leader-crash")
        .expect("built in");
    let acks = Rc::new(kplay_scenario::Lesson::parse(text).expect("parses"));
    p.dispatch(lesson(LessonAction::Open(acks))).expect("open");
    assert_eq!(p.now(), Instant::ZERO);
    let state = p.lesson().expect("open");
    assert_eq!(p.scenario(), &state.lesson.setup);
    p.dispatch(lesson(LessonAction::Step(1))).expect("step");
    assert_eq!(p.lesson().expect("open").step, 1);
    assert!(
        p.timeline()
            .markers
            .iter()
            .any(|m| m.kind == MarkerKind::Lesson && m.label.ends_with("step 2 of 3")),
        "the step is marked on the timeline"
    );
    assert!(p.dispatch(lesson(LessonAction::Step(99))).is_err());

    p.dispatch(lesson(LessonAction::Check)).expect("check");
    let check = p.lesson().and_then(|l| l.check.clone()).expect("checked");
    assert!(!check.passed, "the setup loses acknowledged records");
    assert!(check
        .parts
        .iter()
        .any(|part| !part.passed && part.expect == "lost_acked == 0"));

    // The learner changes an allowed setting: the old check is stale at once.
    p.dispatch(Action::Edit(Edit::SetConfig {
        target: Target::Producer("api".into()),
        key: "acks".into(),
        value: "all".into(),
    }))
    .expect("acks=all");
    assert_eq!(p.lesson().expect("open").check, None);

    p.dispatch(lesson(LessonAction::ShowSolution))
        .expect("show me");
    p.dispatch(lesson(LessonAction::Check)).expect("check");
    let state = p.lesson().expect("open");
    assert!(state.showing_solution);
    assert!(state.check.as_ref().expect("checked").passed);
    assert_eq!(state.outside, Vec::<String>::new());
    p.dispatch(lesson(LessonAction::Close)).expect("close");
    assert!(p.lesson().is_none());
}

#[test]
fn a_record_produced_by_hand_can_be_followed_to_its_acknowledgement() {
    // The page's "Follow this record" after Send: the journey of exactly that record, with
    // the run left as it was (following replays a copy).
    let mut p = Playground::welcome();
    assert!(
        p.dispatch(Action::FollowProduced).is_err(),
        "nothing sent by hand yet"
    );
    playing(&mut p, 1500);
    p.dispatch(Action::Live(produce_user_42()))
        .expect("produce");
    p.dispatch(Action::FollowProduced).expect("follow");
    let early = p.journey().expect("a journey").clone();
    assert_eq!(early.end, kplay_engine::sim::EndKind::NotSent, "{early:?}");
    playing(&mut p, 1000);
    let digest = p.sim().digest();
    p.dispatch(Action::FollowProduced).expect("follow");
    assert_eq!(p.sim().digest(), digest, "following changes nothing");
    let j = p.journey().expect("a journey").clone();
    assert_eq!(j.key.as_deref(), Some("user-42"));
    let kinds: Vec<_> = j.steps.iter().map(|s| s.kind).collect();
    use kplay_engine::sim::StepKind as K;
    for k in [K::Send, K::Request, K::Appended, K::Acknowledged] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
    // The same record followed from the partition view, by its identity.
    let offset = j.offset.expect("appended");
    let snapshot = p.snapshot(100_000, 0);
    let partition = j.partition.expect("placed");
    let mut view = snapshot.topics.iter().flat_map(|t| &t.partitions);
    let row = view
        .find(|v| Some(&v.topic) == j.topic.as_ref() && v.partition == partition)
        .expect("its partition");
    let record = row
        .latest
        .iter()
        .find(|r| r.offset == offset)
        .expect("in the log");
    p.dispatch(Action::FollowRecord(record.id)).expect("follow");
    assert_eq!(p.journey().map(|j| j.record), Some(j.record));
    p.dispatch(Action::CloseJourney).expect("close");
    assert!(p.journey().is_none());
}

/// Goal: the page's Kafka commands follow the scenario: the welcome setup as
/// `kafka-topics.sh --create` and client properties, then each live action with its time, and
/// nothing changes while frames only play on. Method: crash a broker live and compare.
#[test]
fn kafka_commands_follow_the_setup_and_every_live_action() {
    let mut p = Playground::welcome();
    let create = "kafka-topics.sh --bootstrap-server localhost:9092 --create --topic orders \
                  --partitions 6 --replication-factor 3 --config min.insync.replicas=2";
    assert!(
        p.kafka_commands().iter().any(|c| c == create),
        "{:?}",
        p.kafka_commands()
    );
    assert!(p
        .kafka_commands()
        .iter()
        .any(|c| c.contains("bootstrap.servers=localhost:9092\nacks=all\nlinger.ms=5\n")));
    let before = p.kafka_commands().len();
    playing(&mut p, 100);
    p.dispatch(Action::Pause).expect("pause");
    p.dispatch(Action::Live(TimelineAction::CrashBroker { broker: 1 }))
        .expect("crash");
    let commands = p.kafka_commands().clone();
    assert_eq!(commands.len(), before + 1);
    let last = commands.last().expect("one");
    // A live action takes effect at the next whole millisecond.
    assert!(
        last.starts_with("# at 101 ms: crash_broker\nkill -9"),
        "{last}"
    );
    p.dispatch(Action::Play).expect("play");
    let shown = p.kafka_commands().clone();
    for _ in 0..3 {
        p.dispatch(Action::Frame { elapsed_ms: 16 }).expect("frame");
    }
    assert!(
        Rc::ptr_eq(&shown, p.kafka_commands()),
        "frames leave them alone"
    );
}

#[test]
fn a_member_added_to_a_group_with_retry_topics_handles_failures_as_its_group_does() {
    let mut p = Playground::welcome();
    let text = include_str!("../../../scenarios/retry-and-dlq.toml");
    p.dispatch(Action::Import(text.into())).expect("import");
    // As the page's "Add a member" sends it: the group's topics, its retry topics among them.
    let add = Edit::AddConsumer {
        id: "billing-2".into(),
        topics: "orders,orders-retry-0,orders-retry-1".into(),
        processing_ms: "1".into(),
        offset_reset: "earliest".into(),
        group: "billing".into(),
        commit: "sync-after".into(),
    };
    p.dispatch(Action::Edit(add)).expect("add a member");
    let def = p.scenario().consumers.iter().find(|c| c.id == "billing-2");
    let def = def.expect("added");
    let billing = &p.scenario().consumers[0];
    assert_eq!(def.failures, billing.failures);
    assert_eq!(
        def.topics,
        ["orders"],
        "its retry topics follow from on_failure"
    );
    playing(&mut p, 100);
    let member = p.sim().consumers().find(|c| c.spec.name == "billing-2");
    let topics = &member.expect("running").spec.topics;
    assert_eq!(topics, &["orders", "orders-retry-0", "orders-retry-1"]);
}
