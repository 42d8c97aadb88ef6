//! `kplay lesson`: list the built-in lessons, show one's steps, and check that a lesson still
//! teaches what it says (its setup fails its challenge and its reference solution passes).

use std::io::Write;

use kplay_scenario::{builtin, Lesson, Track};

use crate::Failure;

pub(crate) fn lesson(args: &[String], out: &mut dyn Write) -> Result<(), Failure> {
    match (
        args.first().map(String::as_str),
        &args.get(1..).unwrap_or_default(),
    ) {
        (Some("list"), []) => list(out),
        (Some("show"), [which]) => show(&load(which)?, out),
        (Some("check"), []) => {
            let mut broken = Vec::new();
            for (id, _) in builtin() {
                if !check(&load(id)?, out)? {
                    broken.push(*id);
                }
            }
            match broken.is_empty() {
                true => Ok(()),
                false => Err(Failure::Violation(format!(
                    "broken lessons: {}",
                    broken.join(", ")
                ))),
            }
        }
        (Some("check"), [which]) => match check(&load(which)?, out)? {
            true => Ok(()),
            false => Err(Failure::Violation(format!(
                "{which}: the setup must fail the challenge and the solution pass it"
            ))),
        },
        _ => Err(Failure::BadInput(
            "expected `lesson list`, `lesson show ID|FILE` or `lesson check [ID|FILE]`".into(),
        )),
    }
}

/// A built-in lesson by id, or a lesson file (whose id must be its file's stem).
fn load(which: &str) -> Result<Lesson, Failure> {
    if let Some((_, text)) = builtin().iter().find(|(id, _)| *id == which) {
        return Lesson::parse(text).map_err(|e| Failure::BadInput(format!("{which}: {e}")));
    }
    let path = std::path::Path::new(which);
    if !which.ends_with(".toml") && !path.exists() {
        let ids: Vec<&str> = builtin().iter().map(|(id, _)| *id).collect();
        return Err(Failure::BadInput(format!(
            "no lesson {which:?}; the lessons are {} (or give a lesson file)",
            ids.join(", ")
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("cannot read {which}: {e}")))?;
    let lesson = Lesson::parse(&text).map_err(|e| Failure::BadInput(format!("{which}: {e}")))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if lesson.id != stem {
        return Err(Failure::BadInput(format!(
            "{which}: `id`: {:?} must be the file's name without .toml ({stem:?})",
            lesson.id
        )));
    }
    Ok(lesson)
}

fn list(out: &mut dyn Write) -> Result<(), Failure> {
    let mut lessons = Vec::new();
    for (id, text) in builtin() {
        lessons.push(Lesson::parse(text).map_err(|e| Failure::BadInput(format!("{id}: {e}")))?);
    }
    for track in [Track::Concepts, Track::Failures] {
        let mut of_track: Vec<&Lesson> = lessons.iter().filter(|l| l.track == track).collect();
        of_track.sort_by_key(|l| l.level);
        let mut level = 0;
        for l in of_track {
            if l.level != level {
                level = l.level;
                let title = match track {
                    Track::Concepts => format!("Level {level}"),
                    Track::Failures => format!("Production failures (level {level})"),
                };
                let _ = writeln!(out, "{title}");
            }
            let challenge = if l.challenge.is_some() {
                "challenge"
            } else {
                ""
            };
            let _ = writeln!(out, "  {:<34} {:<9}  {}", l.id, challenge, l.title);
        }
    }
    Ok(())
}

fn show(l: &Lesson, out: &mut dyn Write) -> Result<(), Failure> {
    let _ = writeln!(out, "{} (level {}, {})\n", l.title, l.level, l.track.name());
    let _ = writeln!(out, "{}\n", l.summary);
    for (i, s) in l.steps.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, s.text);
        if let Some(a) = &s.action {
            let _ = writeln!(out, "   Do: {a}");
        }
        if !s.watch.is_empty() {
            let _ = writeln!(out, "   Watch: {}", s.watch.join(", "));
        }
    }
    if let Some(c) = &l.challenge {
        let _ = writeln!(
            out,
            "\nChallenge (you may change {}):",
            c.may_change.join(", ")
        );
        for g in &c.goals {
            let at = g
                .at_ms
                .map_or("at the end".to_string(), |ms| format!("at {ms} ms"));
            let _ = writeln!(out, "  {at}: {}  ({})", g.expect, g.why);
        }
    }
    Ok(())
}

/// Prints the verdict; true when the lesson is sound.
fn check(l: &Lesson, out: &mut dyn Write) -> Result<bool, Failure> {
    let verdict = l
        .check_lesson()
        .map_err(|e| Failure::BadInput(format!("{}: {e}", l.id)))?;
    let _ = write!(out, "{verdict}");
    Ok(verdict.ok)
}
