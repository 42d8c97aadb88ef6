//! Unit tests of lesson files: errors name the line and the field, and the checks measure.

use super::*;

/// A small lesson, with `{GOAL}` and `{SOLUTION}` replaced by each test.
const LESSON: &str = r#"id = "tiny"
level = 1
title = "Tiny"
setup = '''
seed = 1
duration_ms = 2000
[cluster]
brokers = 1
[[topic]]
name = "t"
partitions = 2
[[producer]]
id = "p"
topic = "t"
rate_per_sec = 100
'''
[[step]]
text = "Watch the producer."
watch = ["producer-p", "partition-t-1"]
[challenge]
may_change = ["producer.p.rate_per_sec"]
[[challenge.goal]]
expect = "{GOAL}"
why = "enough records"
[challenge.solution]
{SOLUTION}
"#;

fn lesson(goal: &str, solution: &str) -> Result<Lesson, ScenarioError> {
    Lesson::parse(
        &LESSON
            .replace("{GOAL}", goal)
            .replace("{SOLUTION}", solution),
    )
}

#[test]
fn the_setup_fails_and_the_solution_passes() {
    let l = lesson("acked >= 300", "\"producer.p.rate_per_sec\" = 200").unwrap();
    let v = l.check_lesson().unwrap();
    assert!(v.ok, "{v}");
    let setup = v.setup.unwrap();
    assert!(!setup.passed);
    assert_eq!(setup.parts[0].at_ms, 2000);
    // 100 records per second for two seconds.
    assert_eq!(setup.parts[0].actual, "acked = 200", "{setup}");
    assert_eq!(setup.parts[0].why, "enough records");
    assert_eq!(
        l.solution_scenario().unwrap().producers[0].rate_per_sec,
        200
    );
}

#[test]
fn a_solution_that_does_not_pass_makes_the_lesson_broken() {
    let l = lesson("acked >= 300", "\"producer.p.rate_per_sec\" = 120").unwrap();
    let v = l.check_lesson().unwrap();
    assert!(!v.ok);
    assert!(v.to_string().contains("FAILS (it must pass)"), "{v}");
    // And a setup that already passes makes it broken too.
    let l = lesson("acked >= 10", "\"producer.p.rate_per_sec\" = 200").unwrap();
    assert!(!l.check_lesson().unwrap().ok);
}

#[test]
fn goals_are_evaluated_at_their_times_in_one_run() {
    let text = LESSON.replace(
        "[[challenge.goal]]\nexpect = \"{GOAL}\"",
        "[[challenge.goal]]\nexpect = \"acked >= 150\"\n[[challenge.goal]]\nat_ms = 1000\n\
         expect = \"acked <= 100\"",
    );
    let l = Lesson::parse(&text.replace("{SOLUTION}", "\"producer.p.rate_per_sec\" = 90")).unwrap();
    let c = l.check_run(&l.setup).unwrap();
    // The parts keep the lesson's order, each looked at its own time.
    assert_eq!(c.parts[0].at_ms, 2000);
    assert_eq!(c.parts[1].at_ms, 1000);
    assert!(c.parts[0].passed && c.parts[1].passed, "{c}");
}

#[test]
fn an_unknown_report_path_is_an_error_naming_the_goal() {
    let l = lesson("groups.nobody.lag == 0", "\"producer.p.rate_per_sec\" = 1").unwrap();
    let e = l.check_lesson().unwrap_err();
    assert_eq!(e.field, "challenge.goal[1].expect");
    assert!(
        e.message
            .contains("`groups` has nothing named `nobody.lag`"),
        "{e}"
    );
}

#[test]
fn errors_name_the_line_and_the_field() {
    let sol = "\"producer.p.rate_per_sec\" = 200";
    for (text, line, field, says) in [
        (
            LESSON.replace("{GOAL}", "acked >= 95 of produced"),
            23,
            "challenge.goal[1].expect",
            "report path",
        ),
        (
            LESSON
                .replace("{GOAL}", "acked > 1")
                .replace("level = 1", "level = 9"),
            2,
            "level",
            "between 1 and 6",
        ),
        (
            LESSON
                .replace("{GOAL}", "acked > 1")
                .replace("rate_per_sec = 100", "rate = 100"),
            15,
            "setup.producer.rate",
            "unknown field `rate`",
        ),
        (
            LESSON
                .replace("{GOAL}", "acked > 1")
                .replace("partitions = 2", "partitions = 0"),
            11,
            "setup.topic.partitions",
            "between",
        ),
        (
            LESSON
                .replace("{GOAL}", "acked > 1")
                .replace("partition-t-1", "partition-t-2"),
            19,
            "step[1].watch",
            "partition-t-2",
        ),
        (
            LESSON
                .replace("{GOAL}", "acked > 1")
                .replace("id = \"tiny\"", "id = \"Tiny\""),
            1,
            "id",
            "a-z",
        ),
    ] {
        let e = Lesson::parse(&text.replace("{SOLUTION}", sol)).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(line), field), "{e}");
        assert!(e.message.contains(says), "{e}");
    }
}

#[test]
fn a_solution_outside_may_change_or_impossible_is_refused() {
    let e = lesson("acked > 1", "\"topic.t.partitions\" = 3").unwrap_err();
    assert_eq!(e.field, "challenge.solution.\"topic.t.partitions\"");
    assert!(e.message.contains("outside `may_change`"), "{e}");
    let e = lesson("acked > 1", "\"producer.p.rate_per_sec\" = -5").unwrap_err();
    assert_eq!(e.field, "challenge.solution.\"producer.p.rate_per_sec\"");
    let e = lesson("acked > 1", "explain = \"nothing\"").unwrap_err();
    assert!(e.message.contains("changes nothing"), "{e}");
}

#[test]
fn changes_outside_may_change_are_listed() {
    let l = lesson("acked >= 300", "\"producer.p.rate_per_sec\" = 200").unwrap();
    let allowed = l
        .setup
        .with_setting("producer.p.rate_per_sec", "250")
        .unwrap();
    assert_eq!(l.changes_outside(&allowed), Vec::<String>::new());
    let other = allowed.with_setting("topic.t.partitions", "3").unwrap();
    assert_eq!(
        l.changes_outside(&other),
        vec!["partitions = 3".to_string()]
    );
}

#[test]
fn no_input_makes_it_panic() {
    // Cut the lesson at every character boundary: each prefix parses or is refused.
    for end in (0..LESSON.len()).filter(|&i| LESSON.is_char_boundary(i)) {
        let _ = Lesson::parse(&LESSON[..end]);
    }
}

#[cfg(feature = "builtin-lessons")]
#[test]
fn every_builtin_lesson_parses() {
    for (id, text) in builtin() {
        let l = Lesson::parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(l.id, *id);
    }
}
