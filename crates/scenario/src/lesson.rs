//! Lessons: data, not code. A lesson is a TOML file in `lessons/` (shared by the browser, the CLI
//! and the tests): an id, a level, a title, a setup (a whole scenario file, kept verbatim in a
//! `setup = '''...'''` string so a teacher pastes a scenario as it is and errors keep its
//! lines), steps (what to understand, what to do, which UI elements to watch), and, where it
//! fits, a challenge: the settings the learner may change, goals over the run's report (the
//! language of [`crate::goal`]), and a reference solution.
//!
//! [`Lesson::parse`] checks everything it can without running (the setup, the setting paths,
//! the goals' syntax, the solution); [`Lesson::check_run`] runs a scenario once and evaluates
//! every goal at its time; [`Lesson::check_lesson`] requires the setup to fail the challenge and
//! the solution to pass it, so no lesson can rot. Nothing here panics on user input.

use std::fmt;

use kplay_engine::time::Instant;
use toml::Spanned;

use crate::goal::Predicate;
use crate::read::Fields;
use crate::setting::section_table;
use crate::{report_json, Scenario, ScenarioError, SettingPath};

/// Every lesson shipped with kplay, as (id, file text), in teaching order.
#[cfg(feature = "builtin-lessons")]
pub fn builtin() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}

macro_rules! lessons {
    ($($id:literal),* $(,)?) => {
        /// The id of every lesson shipped with kplay (`lessons/{id}.toml`), in teaching order:
        /// the page fetches the files beside its wasm.
        pub const IDS: &[&str] = &[$($id),*];
        #[cfg(feature = "builtin-lessons")]
        const BUILTIN: &[(&str, &str)] =
            &[$(($id, include_str!(concat!("../../../lessons/", $id, ".toml")))),*];
    };
}

lessons![
    "where-a-key-goes",
    "null-keys-sticky-partitioner",
    "ordering-per-partition",
    "acks-and-leader-crash",
    "acks-zero-fire-and-forget",
    "min-insync-replicas",
    "broker-failure",
    "retries-duplicate-records",
    "unclean-leader-election",
    "consumer-group-scale-out",
    "eager-vs-cooperative",
    "hot-key",
    "static-membership",
    "commit-before-or-after-processing",
    "read-committed",
    "slow-consumer-lag",
    "max-poll-interval",
    "where-produce-latency-goes",
    "compression",
    "exactly-once-myth",
    "exactly-once-pipeline",
    "dead-letter-queues",
    "alerts-on-lag",
];

/// The most events one check may run: a learner's setting can make a run far larger than the
/// lesson meant, and the browser checks synchronously.
pub const MAX_CHECK_EVENTS: u64 = 5_000_000;

/// A lesson, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// `[a-z0-9-]`, the file's stem.
    pub id: String,
    /// 1 (first steps) to 6.
    pub level: u32,
    pub track: Track,
    pub title: String,
    pub summary: String,
    /// The scenario the lesson starts from.
    pub setup: Scenario,
    /// The setup's text as the lesson wrote it (comments included).
    pub setup_text: String,
    pub steps: Vec<Step>,
    pub challenge: Option<Challenge>,
}

/// Which path through the lessons one belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    /// How Kafka works, level by level.
    Concepts,
    /// The failures seen in production: duplication, loss, backpressure, imbalance, crashes.
    Failures,
}

impl Track {
    pub fn name(self) -> &'static str {
        match self {
            Track::Concepts => "concepts",
            Track::Failures => "failures",
        }
    }
}

/// One step of a lesson.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What to understand, in a few sentences.
    pub text: String,
    /// What to do in the UI (the file's `do`).
    pub action: Option<String>,
    /// `data-testid` values of the UI elements to highlight.
    pub watch: Vec<String>,
}

/// What the learner is asked to achieve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Setting paths ([`Scenario::with_setting`]) the learner may change.
    pub may_change: Vec<String>,
    pub goals: Vec<Goal>,
    /// The reference solution: (setting path, value as TOML), applied in order.
    pub solution: Vec<(String, String)>,
    /// Why the solution works.
    pub explain: String,
}

/// One part of a challenge's goal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    /// When to look (virtual ms); `None`: at the run's end.
    pub at_ms: Option<u64>,
    /// The predicate as written.
    pub expect: String,
    /// Said to the learner when this part fails.
    pub why: String,
    predicate: Predicate,
}

/// The outcome of one run against a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    /// Events the run processed: what the check cost, the same natively and in wasm.
    pub events: u64,
    /// One per goal, in the lesson's order.
    pub parts: Vec<Part>,
}

/// One goal's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub expect: String,
    pub why: String,
    /// When it was looked at (virtual ms).
    pub at_ms: u64,
    /// The values the goal read, as `lost_acked = 12`.
    pub actual: String,
    pub passed: bool,
}

/// What [`Lesson::check_lesson`] found: the setup must fail, the solution pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub id: String,
    /// `None` for a lesson without a challenge.
    pub setup: Option<Check>,
    pub solution: Option<Check>,
    /// The setup fails and the solution passes (or there is no challenge).
    pub ok: bool,
}

/// A lesson file's tables as written, read by hand (`crate::read`) with every value's place.
struct RawLesson {
    id: Spanned<String>,
    level: Spanned<i64>,
    track: Option<Spanned<String>>,
    title: Spanned<String>,
    summary: Option<String>,
    setup: Spanned<String>,
    step: Vec<Spanned<RawStep>>,
    challenge: Option<Spanned<RawChallenge>>,
}

struct RawStep {
    text: String,
    /// `do` in the file.
    action: Option<String>,
    watch: Vec<Spanned<String>>,
}

struct RawChallenge {
    may_change: Vec<String>,
    goal: Vec<Spanned<RawGoal>>,
    solution: Option<Spanned<toml::Table>>,
}

struct RawGoal {
    at_ms: Option<Spanned<i64>>,
    expect: Spanned<String>,
    why: Option<String>,
}

impl RawLesson {
    fn read(text: &str, lines: &crate::parse::Lines<'_>) -> Result<RawLesson, ScenarioError> {
        let doc = crate::read::document(text, lines)?;
        let mut f = Fields::new(lines, "", Spanned::new(doc.span(), doc.get_ref()));
        let (id, level, title, setup) = (
            f.string("id")?,
            f.int("level")?,
            f.string("title")?,
            f.string("setup")?,
        );
        let mut steps = Vec::new();
        for t in f.tables("step")? {
            let span = t.span();
            let mut s = Fields::new(lines, "step", t);
            let text = s.string("text")?;
            let step = RawStep {
                text: s.required("text", text)?.into_inner(),
                action: s.string("do")?.map(Spanned::into_inner),
                watch: s.spanned_strings("watch")?.unwrap_or_default(),
            };
            s.finish()?;
            steps.push(Spanned::new(span, step));
        }
        let challenge = match f.table("challenge")? {
            None => None,
            Some(t) => {
                let span = t.span();
                let mut c = Fields::new(lines, "challenge", t);
                let may_change = c.strings("may_change")?.map(Spanned::into_inner);
                let mut goals = Vec::new();
                for t in c.tables("goal")? {
                    let span = t.span();
                    let mut g = Fields::new(lines, "challenge.goal", t);
                    let (at_ms, expect) = (g.int("at_ms")?, g.string("expect")?);
                    let goal = RawGoal {
                        at_ms,
                        expect: g.required("expect", expect)?,
                        why: g.string("why")?.map(Spanned::into_inner),
                    };
                    g.finish()?;
                    goals.push(Spanned::new(span, goal));
                }
                let challenge = RawChallenge {
                    may_change: may_change.unwrap_or_default(),
                    goal: goals,
                    solution: c.plain_table("solution")?,
                };
                c.finish()?;
                Some(Spanned::new(span, challenge))
            }
        };
        let raw = RawLesson {
            id: f.required("id", id)?,
            level: f.required("level", level)?,
            track: f.string("track")?,
            title: f.required("title", title)?,
            summary: f.string("summary")?.map(Spanned::into_inner),
            setup: f.required("setup", setup)?,
            step: steps,
            challenge,
        };
        f.finish()?;
        Ok(raw)
    }
}

/// Lines as the scenario parser counts them; a lesson's errors always know theirs.
struct Lines<'a>(crate::parse::Lines<'a>);

impl Lines<'_> {
    fn at(&self, offset: usize) -> usize {
        self.0.at(offset)
    }
    fn of<T>(&self, s: &Spanned<T>) -> Option<usize> {
        Some(self.0.of(s))
    }
}

impl Lesson {
    /// Reads and checks a lesson file, reporting the first problem with its line and field.
    pub fn parse(text: &str) -> Result<Lesson, ScenarioError> {
        let lines = Lines(crate::parse::Lines(text));
        let raw = RawLesson::read(text, &lines.0)?;
        let setup = parse_setup(&lines, &raw.setup)?;
        let lesson = Lesson {
            id: parse_id(&lines, &raw.id)?,
            level: parse_level(&lines, &raw.level)?,
            track: parse_track(&lines, raw.track.as_ref())?,
            title: non_empty(&lines, &raw.title, "title")?,
            summary: raw.summary.unwrap_or_default(),
            steps: parse_steps(&lines, &raw.step, &setup)?,
            challenge: match &raw.challenge {
                Some(c) => Some(parse_challenge(&lines, c, &setup)?),
                None => None,
            },
            setup_text: raw.setup.get_ref().clone(),
            setup,
        };
        // The solution must apply: a lesson whose solution is refused teaches nothing.
        lesson.solution_scenario()?;
        Ok(lesson)
    }

    /// The setup with the reference solution's settings applied, or the setup itself for a
    /// lesson without a challenge.
    pub fn solution_scenario(&self) -> Result<Scenario, ScenarioError> {
        // Settings may depend on each other (a replication factor before the
        // min.insync.replicas it allows), and the file's table has no order: apply in passes
        // until every setting applies, or a pass makes no progress.
        let mut s = self.setup.clone();
        let mut pending: Vec<&(String, String)> =
            self.challenge.iter().flat_map(|c| &c.solution).collect();
        while !pending.is_empty() {
            let mut refused = Vec::new();
            let mut first_error = None;
            for setting @ (path, value) in pending.iter().copied() {
                match s.with_setting(path, value) {
                    Ok(next) => s = next,
                    Err(e) => {
                        first_error.get_or_insert(ScenarioError {
                            field: format!("challenge.solution.{path:?}"),
                            ..e
                        });
                        refused.push(setting);
                    }
                }
            }
            if let Some(e) = first_error.filter(|_| refused.len() == pending.len()) {
                return Err(e);
            }
            pending = refused;
        }
        Ok(s)
    }

    /// Runs `scenario` once, to each goal's time in order, and evaluates every goal there.
    /// Refused when the lesson has no challenge, the scenario cannot run, the run is too large,
    /// or a goal names something the report does not have (naming the goal).
    pub fn check_run(&self, scenario: &Scenario) -> Result<Check, ScenarioError> {
        let challenge = self
            .challenge
            .as_ref()
            .ok_or_else(|| ScenarioError::field(None, "challenge", "this lesson has none"))?;
        let mut sim = scenario.build(None)?;
        let mut order: Vec<(u64, usize)> = challenge
            .goals
            .iter()
            .enumerate()
            .map(|(i, g)| (g.at_ms.unwrap_or(scenario.duration_ms), i))
            .collect();
        kplay_engine::sort::sort(&mut order);
        let mut parts: Vec<Option<Part>> = vec![None; challenge.goals.len()];
        let mut events = 0u64;
        for (at_ms, i) in order {
            let before = sim.events_processed();
            let reached =
                sim.run_until_bounded(Instant::from_millis(at_ms), MAX_CHECK_EVENTS - events);
            events += sim.events_processed() - before;
            if !reached {
                return Err(ScenarioError::field(
                    None,
                    "",
                    format!(
                        "the run needs more than {MAX_CHECK_EVENTS} events to reach {at_ms} ms; \
                         lower a rate or the duration"
                    ),
                ));
            }
            let goal = &challenge.goals[i];
            let report = report_json(&sim.report());
            let outcome = goal.predicate.eval(&report).map_err(|e| {
                ScenarioError::field(None, format!("challenge.goal[{}].expect", i + 1), e)
            })?;
            parts[i] = Some(Part {
                expect: goal.expect.clone(),
                why: goal.why.clone(),
                at_ms,
                actual: outcome.actual,
                passed: outcome.passed,
            });
        }
        let parts: Vec<Part> = parts.into_iter().flatten().collect();
        Ok(Check {
            passed: parts.iter().all(|p| p.passed),
            events,
            parts,
        })
    }

    /// Checks the lesson itself: the setup, unchanged, must fail its challenge, and the
    /// reference solution must pass it. A lesson without a challenge needs only a setup that
    /// runs to its end.
    pub fn check_lesson(&self) -> Result<Verdict, ScenarioError> {
        if self.challenge.is_none() {
            let mut sim = self.setup.build(None)?;
            if !sim.run_until_bounded(self.setup.end(), MAX_CHECK_EVENTS) {
                return Err(ScenarioError::field(
                    None,
                    "setup",
                    format!("the run needs more than {MAX_CHECK_EVENTS} events"),
                ));
            }
            return Ok(Verdict {
                id: self.id.clone(),
                setup: None,
                solution: None,
                ok: true,
            });
        }
        let setup = self.check_run(&self.setup)?;
        let solution = self.check_run(&self.solution_scenario()?)?;
        Ok(Verdict {
            id: self.id.clone(),
            ok: !setup.passed && solution.passed,
            setup: Some(setup),
            solution: Some(solution),
        })
    }

    /// The settings of `scenario` that differ from the lesson's setup outside the challenge's
    /// `may_change`, as the TOML lines that differ (empty when the learner kept to the rules).
    /// The learner's allowed settings are copied onto the setup and the two files compared, so
    /// everything else the learner changed shows, whatever it is. Timeline events added while
    /// playing are not settings and are left out.
    pub fn changes_outside(&self, scenario: &Scenario) -> Vec<String> {
        let table = |s: &Scenario| -> Option<toml::Table> {
            let mut s = s.clone();
            s.events.clear();
            crate::read::table(&s.to_toml()).ok()
        };
        let (Some(mut reference), Some(theirs)) = (table(&self.setup), table(scenario)) else {
            return Vec::new();
        };
        let mut theirs_copy = theirs.clone();
        for path in self.challenge.iter().flat_map(|c| &c.may_change) {
            let Ok(at) = SettingPath::parse(&self.setup, path) else {
                continue;
            };
            let value = section_table(&mut theirs_copy, &at).and_then(|t| {
                let t = if at.is_config {
                    t.get("config")?.as_table()?
                } else {
                    t
                };
                t.get(&at.key).cloned()
            });
            let Some(value) = value else { continue };
            if let Some(t) = section_table(&mut reference, &at) {
                let t = if at.is_config {
                    match t
                        .entry("config")
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    {
                        toml::Value::Table(c) => c,
                        _ => continue,
                    }
                } else {
                    t
                };
                t.insert(at.key.clone(), value);
            }
        }
        let ours = crate::emit::table(&reference);
        let theirs = crate::emit::table(&theirs);
        let ours: Vec<&str> = ours.lines().collect();
        theirs
            .lines()
            .filter(|l| !l.trim().is_empty() && !ours.contains(l))
            .map(str::to_string)
            .collect()
    }
}

fn parse_setup(lines: &Lines<'_>, setup: &Spanned<String>) -> Result<Scenario, ScenarioError> {
    // A multi-line string's first line is the one after its opening quotes.
    let quote_line = lines.at(setup.span().start);
    let text = lines.0 .0;
    let after = &text[setup.span().start.min(text.len())..];
    let first = after
        .find('\n')
        .filter(|&n| after[..n].trim_end().len() == 3)
        .map_or(quote_line, |_| quote_line + 1);
    Scenario::parse(setup.get_ref()).map_err(|e| ScenarioError {
        line: Some(e.line.map_or(quote_line, |l| first + l - 1)),
        field: if e.field.is_empty() {
            "setup".to_string()
        } else {
            format!("setup.{}", e.field)
        },
        message: e.message,
    })
}

fn parse_id(lines: &Lines<'_>, id: &Spanned<String>) -> Result<String, ScenarioError> {
    let s = id.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(ScenarioError::field(
            lines.of(id),
            "id",
            format!("expected 1 to 64 of a-z, 0-9 and -, got {s:?}"),
        ));
    }
    Ok(s.clone())
}

fn parse_level(lines: &Lines<'_>, level: &Spanned<i64>) -> Result<u32, ScenarioError> {
    match *level.get_ref() {
        n @ 1..=6 => Ok(n as u32),
        n => Err(ScenarioError::field(
            lines.of(level),
            "level",
            format!("must be between 1 and 6, got {n}"),
        )),
    }
}

fn parse_track(lines: &Lines<'_>, track: Option<&Spanned<String>>) -> Result<Track, ScenarioError> {
    match track.map(|t| t.get_ref().as_str()) {
        None | Some("concepts") => Ok(Track::Concepts),
        Some("failures") => Ok(Track::Failures),
        Some(other) => Err(ScenarioError::field(
            track.and_then(|t| lines.of(t)),
            "track",
            format!("expected \"concepts\" or \"failures\", got {other:?}"),
        )),
    }
}

fn non_empty(lines: &Lines<'_>, s: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
    if s.get_ref().trim().is_empty() {
        return Err(ScenarioError::field(
            lines.of(s),
            field,
            "must not be empty",
        ));
    }
    Ok(s.get_ref().clone())
}

fn parse_steps(
    lines: &Lines<'_>,
    raw: &[Spanned<RawStep>],
    setup: &Scenario,
) -> Result<Vec<Step>, ScenarioError> {
    if raw.is_empty() {
        return Err(ScenarioError::field(
            None,
            "step",
            "a lesson needs at least one [[step]]",
        ));
    }
    let mut steps = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let line = lines.of(s);
        let field = |f: &str| format!("step[{}].{f}", i + 1);
        let r = s.get_ref();
        if r.text.trim().is_empty() {
            return Err(ScenarioError::field(
                line,
                field("text"),
                "must not be empty",
            ));
        }
        for w in &r.watch {
            check_watch(setup, w.get_ref())
                .map_err(|m| ScenarioError::field(lines.of(w), field("watch"), m))?;
        }
        steps.push(Step {
            text: r.text.clone(),
            action: r.action.clone(),
            watch: r.watch.iter().map(|w| w.get_ref().clone()).collect(),
        });
    }
    Ok(steps)
}

/// The web app's `data-testid`s a step may highlight: fixed ones, and ones named after
/// something in the setup (`partition-payments-0`, `consumer-ledger`, `broker-1`).
const WATCH_FIXED: &[&str] = &[
    "clock",
    "play",
    "pause",
    "step",
    "speed",
    "reset",
    "seed",
    "controller",
    "groups",
    "rebalance-timeline",
    "record-totals",
    "record-detail",
    "event-log",
    "audit",
    "audit-result",
    "produce-key",
    "produce-value",
    "produce-submit",
    "produce-explanation",
    "heal-network",
    "slow-link",
    "scenario-text",
    "config-target",
    "config-set",
    "topic-add",
    "producer-add",
    "consumer-add",
    "share",
    "export",
    "metrics",
    "metric-picker",
    "alerts",
];

/// Whether `w` names something the web app shows for `setup`.
fn check_watch(setup: &Scenario, w: &str) -> Result<(), String> {
    if WATCH_FIXED.contains(&w) {
        return Ok(());
    }
    let brokers = (0..setup.cluster.brokers).map(|b| b.to_string());
    let mut named: Vec<String> = Vec::new();
    for b in brokers {
        for p in ["broker", "crash", "restart"] {
            named.push(format!("{p}-{b}"));
        }
    }
    for t in &setup.topics {
        named.push(format!("topic-{}", t.name));
        for p in 0..t.partitions {
            named.push(format!("partition-{}-{p}", t.name));
        }
    }
    for p in &setup.producers {
        named.push(format!("producer-{}", p.id));
    }
    let mut groups: Vec<String> = setup
        .consumers
        .iter()
        .filter_map(|c| c.config.iter().find(|(k, _)| k == "group.id"))
        .map(|(_, v)| v.to_string().trim_matches('"').to_string())
        .collect();
    let mut consumers: Vec<String> = setup.consumers.iter().map(|c| c.id.clone()).collect();
    for e in &setup.events {
        if let crate::Action::AddConsumer {
            consumer, group, ..
        } = &e.action
        {
            consumers.push(consumer.clone());
            groups.extend(group.clone());
        }
    }
    for p in &setup.processors {
        // A processor shows as its producer and its consumer, both named after it.
        named.push(format!("producer-{}", p.id));
        named.push(format!("consumer-{}", p.id));
        groups.push(p.group.clone());
    }
    for c in consumers {
        for p in [
            "consumer",
            "consumer-crash",
            "consumer-restart",
            "consumer-stop",
            "consumer-slow",
        ] {
            named.push(format!("{p}-{c}"));
        }
    }
    for g in groups {
        named.push(format!("group-{g}"));
        named.push(format!("group-add-{g}"));
    }
    if named.iter().any(|n| n == w) {
        Ok(())
    } else {
        Err(format!(
            "{w:?} is not a UI element of this setup (fixed ones: {}; or broker-N, \
             partition-TOPIC-N, topic-T, producer-ID, consumer-ID, group-G, ...)",
            WATCH_FIXED.join(", ")
        ))
    }
}

fn parse_challenge(
    lines: &Lines<'_>,
    raw: &Spanned<RawChallenge>,
    setup: &Scenario,
) -> Result<Challenge, ScenarioError> {
    let line = lines.of(raw);
    let r = raw.get_ref();
    for path in &r.may_change {
        SettingPath::parse(setup, path).map_err(|e| {
            ScenarioError::field(
                line,
                "challenge.may_change",
                format!("{path:?}: {}", e.message),
            )
        })?;
    }
    if r.goal.is_empty() {
        return Err(ScenarioError::field(
            line,
            "challenge.goal",
            "a challenge needs at least one [[challenge.goal]]",
        ));
    }
    let mut goals = Vec::new();
    for (i, g) in r.goal.iter().enumerate() {
        goals.push(parse_goal(lines, g, i, setup)?);
    }
    let (solution, explain) = parse_solution(lines, raw, r)?;
    Ok(Challenge {
        may_change: r.may_change.clone(),
        goals,
        solution,
        explain,
    })
}

fn parse_goal(
    lines: &Lines<'_>,
    g: &Spanned<RawGoal>,
    i: usize,
    setup: &Scenario,
) -> Result<Goal, ScenarioError> {
    let field = |f: &str| format!("challenge.goal[{}].{f}", i + 1);
    let r = g.get_ref();
    let at_ms = match &r.at_ms {
        None => None,
        Some(at) => match *at.get_ref() {
            n if n >= 1 && n as u64 <= setup.duration_ms => Some(n as u64),
            n => {
                return Err(ScenarioError::field(
                    lines.of(at),
                    field("at_ms"),
                    format!(
                        "must be between 1 and the setup's duration_ms ({}), got {n}",
                        setup.duration_ms
                    ),
                ))
            }
        },
    };
    let predicate = Predicate::parse(r.expect.get_ref())
        .map_err(|m| ScenarioError::field(lines.of(&r.expect), field("expect"), m))?;
    Ok(Goal {
        at_ms,
        expect: r.expect.get_ref().clone(),
        why: r.why.clone().unwrap_or_default(),
        predicate,
    })
}

fn parse_solution(
    lines: &Lines<'_>,
    raw: &Spanned<RawChallenge>,
    r: &RawChallenge,
) -> Result<(Vec<(String, String)>, String), ScenarioError> {
    let Some(table) = &r.solution else {
        return Err(ScenarioError::field(
            lines.of(raw),
            "challenge.solution",
            "a challenge needs a reference solution",
        ));
    };
    let line = lines.of(table);
    let mut solution = Vec::new();
    let mut explain = String::new();
    for (path, value) in table.get_ref() {
        if path == "explain" {
            match value.as_str() {
                Some(s) => explain = s.to_string(),
                None => {
                    return Err(ScenarioError::field(
                        line,
                        "challenge.solution.explain",
                        "expected text",
                    ))
                }
            }
            continue;
        }
        if !r.may_change.contains(path) {
            return Err(ScenarioError::field(
                line,
                format!("challenge.solution.{path:?}"),
                "the solution changes a setting outside `may_change`",
            ));
        }
        solution.push((path.clone(), crate::emit::value(value)));
    }
    if solution.is_empty() {
        return Err(ScenarioError::field(
            line,
            "challenge.solution",
            "the solution changes nothing",
        ));
    }
    Ok((solution, explain))
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            let mark = if p.passed { "pass" } else { "FAIL" };
            writeln!(
                f,
                "  {mark}  at {} ms: {}  ({})",
                p.at_ms, p.expect, p.actual
            )?;
            if !p.passed && !p.why.is_empty() {
                writeln!(f, "        {}", p.why)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.setup, &self.solution) {
            (Some(setup), Some(solution)) => {
                let s = if setup.passed {
                    "passes (it must fail)"
                } else {
                    "fails, as it must"
                };
                writeln!(f, "{}: the setup {s} ({} events)", self.id, setup.events)?;
                write!(f, "{setup}")?;
                let s = if solution.passed {
                    "passes"
                } else {
                    "FAILS (it must pass)"
                };
                writeln!(
                    f,
                    "{}: the solution {s} ({} events)",
                    self.id, solution.events
                )?;
                write!(f, "{solution}")?;
            }
            _ => writeln!(f, "{}: no challenge; the setup runs to its end", self.id)?,
        }
        let ok = if self.ok { "ok" } else { "BROKEN" };
        writeln!(f, "{}: {ok}", self.id)
    }
}

#[cfg(test)]
#[path = "lesson_tests.rs"]
mod tests;
