//! The lessons panel: the list by level (progress kept in this browser), the open lesson's
//! step beside the cluster with the elements it names highlighted, "check my answer" and "show
//! me". The lessons are data: the files of `lessons/`, which Trunk copies beside the wasm and
//! this panel fetches when it first shows (the page need not carry 49 KB of lesson text); the
//! playground keeps where the learner is (`LessonState`); this only shows it and sends
//! `LessonAction`s.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use gloo::net::http::Request;
use gloo::storage::{LocalStorage, Storage};
use kplay_playground::{Action, LessonAction, LessonState};
use kplay_scenario::{Check, Lesson, Track, LESSON_IDS};
use yew::prelude::*;

/// Where the ids of the lessons passed in this browser are kept.
const PROGRESS_KEY: &str = "kplay.lessons.v1";

/// The levels of understanding Kafka, as the lessons are grouped.
fn level_name(level: u32) -> &'static str {
    match level {
        1 => "Level 1: producer, topic, consumer",
        2 => "Level 2: partitions, replication, groups, offsets",
        3 => "Level 3: delivery semantics",
        4 => "Level 4: design patterns",
        5 => "Level 5: performance tuning",
        _ => "Level 6: operations",
    }
}

#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    pub state: Option<Rc<LessonState>>,
    pub dispatch: Callback<Action>,
}

/// The lessons passed in this browser.
fn passed() -> BTreeSet<String> {
    LocalStorage::get(PROGRESS_KEY).unwrap_or_default()
}

/// The lesson files as the panel has them.
#[derive(Clone, Debug, Default, PartialEq)]
struct Library {
    /// Every lesson read, in teaching order; empty until all have answered.
    lessons: Vec<Rc<Lesson>>,
    /// A file that could not be fetched or read, with why (our bug, or a host that does not
    /// serve `lessons/`): said in the panel, the other lessons still listed.
    failed: Vec<String>,
    loaded: bool,
}

/// Each lesson file's answer, in `LESSON_IDS` order, once it has come.
type Answers = Rc<RefCell<Vec<Option<Result<Lesson, String>>>>>;

/// Fetches every lesson file at once and sets `library` when the last has answered.
fn fetch_library(library: UseStateHandle<Library>) {
    let answers: Answers = Rc::new(RefCell::new(LESSON_IDS.iter().map(|_| None).collect()));
    for (i, id) in LESSON_IDS.iter().enumerate() {
        let (answers, library) = (answers.clone(), library.clone());
        yew::platform::spawn_local(async move {
            let answer = fetch_lesson(id).await;
            let mut answers = answers.borrow_mut();
            answers[i] = Some(answer);
            if answers.iter().all(Option::is_some) {
                let mut next = Library {
                    loaded: true,
                    ..Library::default()
                };
                for answer in answers.drain(..).flatten() {
                    match answer {
                        Ok(lesson) => next.lessons.push(Rc::new(lesson)),
                        Err(e) => next.failed.push(e),
                    }
                }
                library.set(next);
            }
        });
    }
}

/// `lessons/{id}.toml`, relative to the page, read as a lesson.
async fn fetch_lesson(id: &str) -> Result<Lesson, String> {
    let url = format!("lessons/{id}.toml");
    let response = Request::get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    Lesson::parse(&text).map_err(|e| format!("{url}: {e}"))
}

#[function_component]
pub fn Lessons(props: &LessonsProps) -> Html {
    let library = use_state(Library::default);
    {
        let library = library.clone();
        use_effect_with((), move |_| fetch_library(library));
    }
    let lessons = &library.lessons;
    let done = use_state(passed);
    {
        // A pass of the learner's own run (not of the solution "show me" loaded) is progress.
        let done = done.clone();
        let won = props.state.as_ref().and_then(|s| {
            let passed = s.check.as_ref()?.passed && !s.showing_solution;
            passed.then(|| s.lesson.id.clone())
        });
        use_effect_with(won, move |won| {
            if let Some(id) = won {
                let mut set = passed();
                if set.insert(id.clone()) {
                    let _ = LocalStorage::set(PROGRESS_KEY, &set);
                }
                done.set(set);
            }
        });
    }
    let d = &props.dispatch;
    let open = props.state.as_ref().map(|s| s.lesson.id.clone());
    let passed = lessons.iter().filter(|l| done.contains(&l.id)).count();
    let challenges = lessons.iter().filter(|l| l.challenge.is_some()).count();
    let list_title = if open.is_some() {
        "All lessons"
    } else {
        "Choose a lesson"
    };
    html! {
        <div class="panel lessons" data-testid="lessons">
            <div class="panel-head">
                <h2>{ "Lessons" }</h2>
                <span class="meta" data-testid="lesson-progress">
                    { format!("{passed} of {challenges} passed") }
                </span>
            </div>
            if let Some(state) = &props.state {
                <OpenLesson state={state.clone()} dispatch={d.clone()} />
            }
            <details class="lesson-list" data-testid="lesson-list" open={open.is_none()}>
                <summary>{ list_title }</summary>
                if !library.loaded {
                    <p class="meta" role="status">{ "Loading the lessons…" }</p>
                }
                { for library.failed.iter().map(|e| html! {
                    <p class="error" data-testid="lesson-load-error">
                        { format!("A lesson could not be loaded: {e}") }
                    </p>
                }) }
                { lesson_list(lessons, &done, open.as_deref(), d) }
            </details>
        </div>
    }
}

/// The lessons by level, then the production failures, each with a tick when passed.
fn lesson_list(
    lessons: &[Rc<Lesson>],
    done: &BTreeSet<String>,
    open: Option<&str>,
    d: &Callback<Action>,
) -> Html {
    let mut groups: Vec<(String, Vec<&Rc<Lesson>>)> = Vec::new();
    for l in lessons {
        let name = match l.track {
            Track::Concepts => level_name(l.level).to_string(),
            Track::Failures => "Production failures".to_string(),
        };
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ls)) => ls.push(l),
            None => groups.push((name, vec![l])),
        }
    }
    kplay_engine::sort::sort_by_key(&mut groups, |(_, ls)| (ls[0].track, ls[0].level));
    html! {
        { for groups.into_iter().map(|(name, ls)| html! {
            <section key={name.clone()} class="lesson-level">
                <h3>{ name }</h3>
                <ul>
                    { for ls.into_iter().map(|l| {
                        let lesson = Rc::clone(l);
                        let start = d.reform(move |_| {
                            Action::Lesson(LessonAction::Open(Rc::clone(&lesson)))
                        });
                        let current = (open == Some(l.id.as_str())).then_some("current");
                        let passed = done.contains(&l.id);
                        html! {
                            <li key={l.id.clone()}>
                                <button class={classes!("lesson-link", current)}
                                    data-testid={format!("lesson-{}", l.id)} onclick={start}
                                    title={l.summary.clone()}>
                                    { &l.title }
                                    if passed {
                                        <span class="tick" aria-label="passed">{ " ✓" }</span>
                                    }
                                    if l.challenge.is_none() {
                                        <span class="meta">{ " (walk-through)" }</span>
                                    }
                                </button>
                            </li>
                        }
                    }) }
                </ul>
            </section>
        }) }
    }
}

#[derive(Properties, PartialEq)]
struct OpenProps {
    state: Rc<LessonState>,
    dispatch: Callback<Action>,
}

/// The open lesson: its step, the challenge, the last check.
#[function_component]
fn OpenLesson(props: &OpenProps) -> Html {
    let (s, d) = (&props.state, &props.dispatch);
    let lesson = &s.lesson;
    let n = lesson.steps.len();
    let step = lesson.steps.get(s.step);
    let go = |to: usize| d.reform(move |_| Action::Lesson(LessonAction::Step(to)));
    let close = d.reform(|_| Action::Lesson(LessonAction::Close));
    html! {
        <div class="lesson" data-testid="lesson-open" data-lesson={lesson.id.clone()}>
            <h3>{ &lesson.title }</h3>
            <p class="summary">{ &lesson.summary }</p>
            if let Some(step) = step {
                <div class="lesson-step" data-testid="lesson-step" data-step={s.step.to_string()}
                    aria-live="polite">
                    <p class="step-count">{ format!("Step {} of {n}", s.step + 1) }</p>
                    <p>{ &step.text }</p>
                    if let Some(todo) = &step.action {
                        <p class="do"><strong>{ "Do: " }</strong>{ todo }</p>
                    }
                </div>
                <style>{ highlight(&step.watch) }</style>
            }
            <div class="row">
                <button disabled={s.step == 0} onclick={go(s.step.saturating_sub(1))}
                    data-testid="lesson-back">{ "← Back" }</button>
                <button disabled={s.step + 1 >= n} onclick={go(s.step + 1)}
                    data-testid="lesson-next">{ "Next →" }</button>
                <button onclick={close} data-testid="lesson-close">{ "Close lesson" }</button>
            </div>
            if let Some(challenge) = &lesson.challenge {
                <div class="challenge">
                    <h4>{ "Challenge" }</h4>
                    <p>{ "Change " }{ for challenge.may_change.iter().enumerate()
                        .map(|(i, p)| html! {
                        <>{ if i > 0 { ", " } else { "" } }<code>{ p }</code></>
                    }) }{ " (in the setup forms below) so that:" }</p>
                    <ul>
                        { for challenge.goals.iter().map(|g| html! {
                            <li><code>{ &g.expect }</code>{ seconds(g.at_ms) }
                                { format!(": {}", g.why) }</li>
                        }) }
                    </ul>
                    { check_buttons(s, d) }
                    if let Some(check) = &s.check { { check_result(check, s) } }
                </div>
            }
        </div>
    }
}

fn check_buttons(s: &LessonState, d: &Callback<Action>) -> Html {
    let check = d.reform(|_| Action::Lesson(LessonAction::Check));
    let solution = d.reform(|_| Action::Lesson(LessonAction::ShowSolution));
    let passed = s.check.as_ref().map(|c| c.passed.to_string());
    html! {
        <div class="row">
            <button class="primary" data-testid="lesson-check" data-passed={passed} onclick={check}
                title="Run your setup from 0 s on its own and test every goal">
                { "Check my answer" }
            </button>
            <button data-testid="lesson-solution" onclick={solution}
                title="Load the lesson's reference solution (from 0 s)">{ "Show me" }</button>
        </div>
    }
}

/// Which goals held, with the values read, and why a failed one matters.
fn check_result(check: &Check, s: &LessonState) -> Html {
    let explain = s
        .lesson
        .challenge
        .as_ref()
        .map(|c| c.explain.clone())
        .unwrap_or_default();
    html! {
        <div class={classes!("check", if check.passed { "passed" } else { "failed" })}
            data-testid="lesson-result" role="status">
            <p><strong>{ match (check.passed, s.showing_solution) {
                (true, true) => "The reference solution passes.",
                (true, false) => "Passed: every goal holds.",
                (false, _) => "Not yet: a goal does not hold.",
            } }</strong></p>
            <ul>
                { for check.parts.iter().map(|p| html! {
                    <li class={if p.passed { "ok" } else { "bad" }}
                        data-passed={p.passed.to_string()}>
                        { if p.passed { "✓ " } else { "✗ " } }<code>{ &p.expect }</code>
                        { format!("{}: {}", seconds(Some(p.at_ms)), p.actual) }
                        if !p.passed { <span class="why">{ format!(" ({})", p.why) }</span> }
                    </li>
                }) }
            </ul>
            if !s.outside.is_empty() {
                <p class="note" data-testid="lesson-outside">
                    { "You also changed settings the challenge did not ask for: " }
                    { for s.outside.iter().map(|l| html! { <code>{ format!("{l} ") }</code> }) }</p>
            }
            if s.showing_solution && !explain.is_empty() { <p class="explain">{ explain }</p> }
        </div>
    }
}

/// " at 12.5 s" for a goal looked at then; nothing for the run's end.
fn seconds(at_ms: Option<u64>) -> String {
    at_ms.map_or(String::new(), |t| {
        format!(" at {}.{:03} s", t / 1000, t % 1000)
    })
}

/// A style sheet outlining the elements the step names (by `data-testid`): no element is
/// touched, so what Yew renders stays Yew's.
fn highlight(watch: &[String]) -> String {
    watch
        .iter()
        .filter(|id| {
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|id| {
            format!(
                "[data-testid=\"{id}\"] {{ outline: 3px solid #b45309; outline-offset: 2px; \
                 border-radius: 4px; }}\n"
            )
        })
        .collect()
}
