//! Every lesson in `lessons/` is built in, and still teaches what it says: its setup fails its
//! challenge and its reference solution passes (so no lesson rots when the engine changes).
//! Also `kplay lesson`'s exit codes.

use kplay_scenario::{builtin, Lesson};
use kplay_tests::{kplay, root};

/// The most events a lesson's check (setup and solution) may run.
const MAX_LESSON_EVENTS: u64 = 600_000;

/// The built-in list is the directory: a lesson file nobody added to `builtin()` would be
/// invisible to the browser and the CLI.
#[test]
fn lessons_builtin_list_is_the_lessons_directory() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("lessons"))
        .expect("lessons/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    files.sort();
    let mut ids: Vec<String> = builtin().iter().map(|(id, _)| id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, files);
    for (id, text) in builtin() {
        let on_disk = std::fs::read_to_string(root().join("lessons").join(format!("{id}.toml")));
        assert_eq!(on_disk.as_deref().ok(), Some(*text), "{id}");
    }
}

/// Each lesson: the id is the file's stem, the setup fails the challenge, the solution passes;
/// and the check is small enough for the browser to run synchronously. Its size is counted in
/// events, which are the same on every machine (about 0.15 s per 100,000 natively in release).
#[test]
fn lessons_every_one_fails_as_set_up_and_passes_as_solved() {
    let mut broken = Vec::new();
    for (id, text) in builtin() {
        let lesson = Lesson::parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(lesson.id, *id);
        let verdict = lesson
            .check_lesson()
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        if !verdict.ok {
            broken.push(verdict.to_string());
        }
        let events: u64 = [&verdict.setup, &verdict.solution]
            .iter()
            .filter_map(|c| c.as_ref().map(|c| c.events))
            .sum();
        assert!(
            events <= MAX_LESSON_EVENTS,
            "{id}: the check runs {events} events"
        );
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// `kplay lesson list`, `show` and `check ID` of a sound lesson: exit 0.
#[test]
fn lessons_cli_exit_codes() {
    let out = kplay(&["lesson", "list"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (id, _) in builtin() {
        assert!(
            out.stdout.contains(id),
            "{id} missing from:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Level 1"), "{}", out.stdout);

    let out = kplay(&["lesson", "check", "where-a-key-goes"], "");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the setup fails, as it must"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("partitions.orders-0.hw = 2"),
        "{}",
        out.stdout
    );

    let out = kplay(&["lesson", "show", "where-a-key-goes"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1459644460"), "{}", out.stdout);
}

/// `kplay lesson check FILE`: 1 for a lesson whose solution does not solve it, 2 for a file
/// that is not a lesson or is misnamed, or an unknown id.
#[test]
fn lessons_cli_refuses_broken_lessons() {
    let text = builtin()
        .iter()
        .find(|(id, _)| *id == "where-a-key-goes")
        .expect("lesson")
        .1
        .replace(
            "\"topic.orders.partitions\" = 10",
            "\"topic.orders.partitions\" = 3",
        );
    let dir = std::env::temp_dir().join(format!("kplay-lesson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("where-a-key-goes.toml");
    std::fs::write(&file, text).expect("write");
    let out = kplay(&["lesson", "check", &file.to_string_lossy()], "");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAILS (it must pass)"),
        "{}",
        out.stdout
    );

    // Bad input: exit 2 with the reason.
    let out = kplay(&["lesson", "check", "no-such-lesson"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no lesson \"no-such-lesson\""),
        "{}",
        out.stderr
    );
    let misnamed = dir.join("other-name.toml");
    std::fs::copy(&file, &misnamed).expect("copy");
    let out = kplay(&["lesson", "check", &misnamed.to_string_lossy()], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`id`"), "{}", out.stderr);
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "id = \"broken\"\nlevel = 0\n").expect("write");
    let out = kplay(&["lesson", "check", &broken.to_string_lossy()], "");
    assert_eq!(out.code, 2);
    let out = kplay(&["lesson", "frobnicate"], "");
    assert_eq!(out.code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
