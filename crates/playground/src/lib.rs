//! The playground's state, without any UI: a scenario (the setup plus everything the user did,
//! as a timeline), the simulation it drives, and play/pause/speed. The Yew app renders
//! [`Playground::snapshot`] and sends [`Action`]s; everything here is plain Rust, tested natively.
//!
//! Live actions (produce a record, crash a broker, add a consumer) are recorded in the scenario
//! at the millisecond they take effect, so exporting the scenario and running it with
//! `kplay run` reproduces the run, digest included. Changing a setting of something that already
//! runs restarts the run from zero with the new setup, as restarting a Kafka client would.
//!
//! Nothing of the user's is lost by accident: a share link that cannot be opened leaves the
//! session saved in the browser alone until the user restores or replaces it
//! ([`Playground::may_save`]), a link opened over a session with unsaved changes is asked
//! about first ([`Playground::has_unsaved_changes`]), and a run that reached the memory budget
//! pauses instead of crashing the tab ([`Playground::enforce_memory_budget`]).

mod fork;
mod guard;
pub mod lessons;
mod memory;
pub mod metrics;
mod travel;

pub use fork::{ForkChange, ForkView, RunFigures};
pub use lessons::{LessonAction, LessonState};
pub use memory::{memory_budget_bytes, whole_mb, MEMORY_BUDGET_BYTES};
pub use travel::{
    important, Marker, MarkerKind, Pin, Timeline, MAX_CHECKPOINTS, MAX_MARKERS, MAX_PINNED,
};

use fork::Fork;
use guard::Guard;
use travel::{Checkpoints, Markers};

use kplay_engine::config::{ConfigValue, Configs, Scope};
use kplay_engine::consumer::CommitStrategy;
use kplay_engine::producer::KeyMode;
use kplay_engine::record::RecordId;
use kplay_engine::sim::Journey;
use kplay_engine::snapshot::{RecordsOf, Snapshot};
use kplay_engine::{Command, Instant, Sim};
use kplay_scenario::{
    decode_link, encode_link, kafka_tools, ConsumerDef, EventDef, ProducerDef, Scenario,
    ScenarioError, TopicDef,
};
use std::rc::Rc;

/// Something the user does to the running cluster, recorded on the timeline: the scenario's
/// own action, so the timeline, the CLI and the UI speak one language.
pub use kplay_scenario::Action as TimelineAction;

/// The scenario a first visit starts with: slow enough to watch, busy enough to see batching.
pub const WELCOME: &str = include_str!("welcome.toml");

/// Playback speeds offered, in percent of real time.
pub const SPEEDS: &[u32] = &[10, 25, 50, 100, 200, 500, 1000, 10_000];

/// Most simulation events one frame may process, so a frame never stalls the page.
pub const FRAME_EVENT_BUDGET: u64 = 200_000;

/// Most events replayed when a saved, shared or imported run opens (a few seconds of work).
pub const RESUME_EVENT_BUDGET: u64 = 1_000_000;

/// Longest wall-clock gap one frame catches up on (a background tab comes back calmly).
pub const MAX_FRAME_MS: u32 = 250;

/// A message for the user, shown as a banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Error(String),
    Info(String),
}

/// What a setting belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Cluster,
    Topic(String),
    Producer(String),
    Consumer(String),
}

/// A change to the setup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    AddTopic {
        name: String,
        partitions: String,
        replication_factor: String,
        min_insync: String,
    },
    AddProducer {
        id: String,
        topic: String,
        rate_per_sec: String,
        keys: String,
        acks: String,
    },
    AddConsumer {
        id: String,
        topics: String,
        processing_ms: String,
        offset_reset: String,
        /// `group.id`; empty for a standalone consumer.
        group: String,
        /// A `CommitStrategy` name.
        commit: String,
    },
    /// Set a configuration by its Kafka name; the value is parsed as Kafka would read it.
    SetConfig {
        target: Target,
        key: String,
        value: String,
    },
    RemoveConfig {
        target: Target,
        key: String,
    },
    SetBrokers(String),
    /// A producer's key mode: `none`, `unique` or `pool:N`.
    SetProducerKeys {
        producer: String,
        keys: String,
    },
    /// A running producer's rate as typed: checked here, so `-10` is refused as not a rate
    /// (not as a number too large), then changed live like [`TimelineAction::SetRate`].
    SetRate {
        producer: String,
        rate_per_sec: String,
    },
    /// A consumer's processing time per record as typed (milliseconds, `0.5` allowed), changed
    /// live like [`TimelineAction::SlowConsumer`]; 0 undoes a slowdown.
    SetProcessing {
        consumer: String,
        processing_ms: String,
    },
    /// An alert rule as an operator types it (`records-lag-max > 1000 for 30 s`).
    AddAlert(String),
    /// The alert rule at this index.
    RemoveAlert(usize),
}

/// Everything the UI can ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Play,
    Pause,
    /// Process exactly one event.
    Step,
    SetSpeed(u32),
    SetSeed(String),
    /// Start the same scenario again from time zero.
    Reset,
    /// Wall-clock time passed while playing.
    Frame {
        elapsed_ms: u32,
    },
    /// Something done to the running cluster, at the next whole millisecond.
    Live(TimelineAction),
    Edit(Edit),
    /// Replace everything with a scenario file's contents.
    Import(String),
    DismissNotice,
    /// Open a share link in this playground (the page address changed). A link that cannot
    /// be opened changes nothing and says why.
    OpenLink(String),
    /// Bring back the saved session a broken share link opened instead of.
    RestoreSaved,
    /// Let this playground be saved over the session a broken share link kept.
    ReplaceSaved,
    /// Make a share link of the run so far: the page at `page` (an address without a fragment)
    /// with the fragment that reproduces it (see [`Playground::share_link`]).
    Share {
        page: String,
    },
    /// Hide the share link (a link opened over this session was declined).
    DismissShare,
    /// Write the run so far as a scenario file (see [`Playground::exported`]).
    Export,
    /// Check every acknowledged record against the logs (see [`Playground::audit`]).
    Audit,
    /// Open, follow, check or leave a lesson (see [`lessons`]).
    Lesson(LessonAction),
    /// Land at this virtual time (at most as far as the run went), paused: the state is the
    /// one the run had then. Play continues from there, as the run did.
    Seek {
        at_ms: u64,
    },
    /// Go back one event: the state just before the newest event processed.
    StepBack,
    /// From this moment, a second run with one change, side by side with this one (see
    /// [`Playground::fork_view`]). A fork replaces the previous one.
    Fork(ForkChange),
    /// Stop showing the fork.
    CloseFork,
    /// Follow a record through the run so far (see [`Playground::journey`]).
    FollowRecord(RecordId),
    /// Follow the record the latest `produce` action on the timeline sent.
    FollowProduced,
    /// Stop showing the journey.
    CloseJourney,
}

impl Action {
    /// Whether the action only reads the run or moves the clock: it leaves the banner and the
    /// share link alone (a new share link aside).
    fn only_looks(&self) -> bool {
        matches!(
            self,
            Action::Frame { .. }
                | Action::Share { .. }
                | Action::DismissShare
                | Action::Export
                | Action::Audit
                | Action::Lesson(LessonAction::Step(_) | LessonAction::Check)
                | Action::FollowRecord(_)
                | Action::FollowProduced
                | Action::CloseJourney
        )
    }
}

/// What the loss audit found: every acknowledged record checked against the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    /// The virtual time of the audit.
    pub at: String,
    pub acked: u64,
    pub lost: u64,
    /// The first lost records (at most 20), one line each.
    pub examples: Vec<String>,
}

/// The playground.
#[derive(Clone, Debug)]
pub struct Playground {
    scenario: Scenario,
    sim: Sim,
    playing: bool,
    speed: u32,
    notice: Option<Notice>,
    /// The session saved in the browser that this playground must not be saved over: set when
    /// a share link could not be opened instead of it, until the user restores or replaces it.
    /// Without it, one Step after a broken link overwrote the user's saved work (issue #11).
    kept: Option<String>,
    /// The scenario the user could get back without this tab (see [`baseline_of`]): as last
    /// loaded from a link or a file, shared or exported; the welcome scenario after a reload,
    /// since the browser does not remember what was shared before.
    baseline: String,
    /// The memory budget paused this run and the heap has not come back well below it since
    /// (see [`Playground::enforce_memory_budget`]).
    budget_reached: bool,
    /// What the page asked for. It outlives a run that is replaced (an import, a link), as the
    /// page showed it until asked again.
    outputs: Outputs,
    /// Clones of this run's past, to land anywhere in it.
    checkpoints: Checkpoints,
    /// The invariants, checked after every step the run takes for the first time.
    guard: Guard,
    /// The invariant this run broke, if any (checking stops there).
    violation: Option<kplay_engine::check::Violation>,
    /// The notable moments as far as the run went.
    markers: Markers,
    /// The furthest virtual time the run reached (the timeline's end).
    furthest: Instant,
    /// The second run, forked from this one.
    fork: Option<Box<Fork>>,
    /// The scenario as a Kafka user would type it (see [`Playground::kafka_commands`]): made
    /// again after each user action, never per frame.
    kafka_commands: Rc<[String]>,
    /// Kafka's metrics sampled so far, for the charts.
    metrics: metrics::MetricStore,
}

/// The last share link, export and loss audit the page asked for.
#[derive(Clone, Debug, Default)]
struct Outputs {
    /// Cleared by any action that does more than look at the run ([`Action::only_looks`]).
    share_link: Option<String>,
    /// Shared with the page: it can be large, and the page holds it every frame.
    exported: Option<Rc<str>>,
    audit: Option<Audit>,
    /// The lesson the learner follows: it outlives the runs it loads (its setup, its solution).
    lesson: Option<Rc<LessonState>>,
    /// The journey of the record followed last, as far as the run had gone then.
    journey: Option<Rc<Journey>>,
    /// It is the journey of the record produced by hand last (`Action::FollowProduced`).
    journey_of_produced: bool,
}

/// A scenario as compared for unsaved changes: its text without the duration, since how far
/// a run has played is not a change (playing again gets there).
fn baseline_of(scenario: &Scenario) -> String {
    let mut s = scenario.clone();
    s.duration_ms = 0;
    s.to_toml()
}

fn err(e: ScenarioError) -> String {
    e.to_string()
}

/// Milliseconds as typed (`2`, `0.25`) in whole microseconds, at most an hour; `None` for
/// anything else (a sign, a fourth decimal, text).
fn micros_of_millis(ms: &str) -> Option<u64> {
    let ms = ms.trim();
    let (whole, frac) = ms.split_once('.').unwrap_or((ms, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || frac.len() > 3 || !digits(whole) || !digits(frac) {
        return None;
    }
    let us = whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(format!("{frac:0<3}").parse().ok()?)?;
    (us <= 3_600_000_000).then_some(us)
}

/// Trace events a playground's run keeps: the page shows the newest 200 and the timeline's
/// markers are read after every frame, and every checkpoint copies the window (100,000 events
/// were 5 MB a checkpoint).
pub const TRACE_CAPACITY: usize = 10_000;

/// The run of a scenario from time zero, as the playground keeps it.
fn build(scenario: &Scenario) -> Result<Sim, String> {
    let mut sim = scenario.build_traced(None, TRACE_CAPACITY).map_err(err)?;
    sim.keep_metric_points(scenario.metrics_interval());
    Ok(sim)
}

fn parse_u32(field: &str, text: &str, min: u32, max: u32) -> Result<u32, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= u64::from(min) && n <= u64::from(max) => Ok(n as u32),
        _ => Err(format!(
            "`{field}`: enter a whole number from {min} to {max}, got {text:?}"
        )),
    }
}

/// Reads a config value as typed in a form: numbers, booleans, lists with commas, else text.
fn config_value(text: &str) -> ConfigValue {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return ConfigValue::Int(i);
    }
    match t {
        "true" => ConfigValue::Bool(true),
        "false" => ConfigValue::Bool(false),
        _ => ConfigValue::Str(t.to_string()),
    }
}

/// The setup as Kafka commands and client properties, then every action of the timeline with
/// its time and what a Kafka user would do (`kplay_scenario::kafka_tools`).
fn kafka_commands_of(scenario: &Scenario) -> Rc<[String]> {
    let mut out = kafka_tools::setup_commands(scenario);
    for e in &scenario.events {
        let command = kafka_tools::action_command(&e.action, scenario);
        out.push(format!(
            "# at {} ms: {}\n{command}",
            e.at_ms,
            e.action.name()
        ));
    }
    out.into()
}

impl Playground {
    /// What a Kafka user would type for this playground: the setup's commands and client
    /// properties, then each action of the timeline, in order.
    pub fn kafka_commands(&self) -> &Rc<[String]> {
        &self.kafka_commands
    }

    /// Kafka's metrics up to the run's time, and the alerts (shared: made again only when a
    /// sample is taken or the run's time crosses one).
    pub fn metrics(&self) -> Rc<metrics::MetricsView> {
        self.metrics.view()
    }

    /// A playground running `scenario` from time zero, paused.
    pub fn new(scenario: Scenario) -> Result<Playground, String> {
        let sim = build(&scenario)?;
        let (guard, violation) = Guard::new(&sim);
        let mut p = Playground {
            checkpoints: Checkpoints::new(&sim, guard.checker_at(&sim)),
            guard,
            violation: None,
            markers: Markers::default(),
            furthest: sim.now(),
            fork: None,
            baseline: baseline_of(&scenario),
            kafka_commands: kafka_commands_of(&scenario),
            scenario,
            sim,
            playing: false,
            speed: 100,
            notice: None,
            kept: None,
            budget_reached: false,
            outputs: Outputs::default(),
            metrics: metrics::MetricStore::default(),
        };
        if let Some(v) = violation {
            p.violated(v);
        }
        p.metrics.refresh(&mut p.sim);
        Ok(p)
    }

    /// The welcome scenario.
    pub fn welcome() -> Playground {
        let scenario = Scenario::parse(WELCOME).expect("the welcome scenario is valid");
        Playground::new(scenario).expect("the welcome scenario builds")
    }

    /// Opens a saved or shared playground: the scenario, fast-forwarded to where it was saved
    /// (its `duration_ms`). A broken input yields the welcome playground and an error notice,
    /// never a blank page; a broken link also keeps the saved session (see [`Self::may_save`]).
    pub fn open(saved: Option<&str>, fragment: Option<&str>) -> Playground {
        let fragment = fragment.filter(|f| !f.trim_start_matches('#').is_empty());
        if let Some(fragment) = fragment {
            return match Playground::from_link(fragment) {
                Ok(p) => p,
                Err(e) => {
                    let mut p = Playground::welcome();
                    let kept = if saved.is_some() {
                        " Your saved session is kept: it is not saved over until you restore \
                         it or replace it."
                    } else {
                        ""
                    };
                    p.kept = saved.map(str::to_string);
                    p.notice = Some(Notice::Error(format!(
                        "The share link could not be opened, so a fresh playground was \
                         started.{kept} {e}"
                    )));
                    p
                }
            };
        }
        match saved.map(Playground::from_saved) {
            None => Playground::welcome(),
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let mut p = Playground::welcome();
                p.notice = Some(Notice::Error(format!(
                    "The saved playground could not be opened, so a fresh playground was \
                     started. {e}"
                )));
                p
            }
        }
    }

    /// The playground a share link (a URL fragment, `#` or not) describes.
    fn from_link(fragment: &str) -> Result<Playground, String> {
        decode_link(fragment)
            .map_err(err)
            .and_then(Playground::resume)
    }

    /// The playground saved in the browser. What it was last compared against is not saved,
    /// so it is compared against the welcome scenario: a session the user built counts as
    /// having unsaved changes, one that only played the welcome scenario does not.
    fn from_saved(text: &str) -> Result<Playground, String> {
        let mut p = Scenario::parse(text)
            .map_err(err)
            .and_then(Playground::resume)?;
        let welcome = Scenario::parse(WELCOME).expect("the welcome scenario is valid");
        p.baseline = baseline_of(&welcome);
        Ok(p)
    }

    /// Whether a share link can be opened, without opening it: the page asks before a link
    /// replaces unsaved changes, and a broken link replaces nothing, so it is not asked about.
    pub fn check_link(fragment: &str) -> Result<(), String> {
        decode_link(fragment).map(|_| ()).map_err(err)
    }

    /// Whether the page may save this playground over the session saved in the browser: not
    /// while it keeps a session that a broken share link opened instead of (the user chooses
    /// with [`Action::RestoreSaved`] or [`Action::ReplaceSaved`]).
    pub fn may_save(&self) -> bool {
        self.kept.is_none()
    }

    /// Whether the user changed the scenario (setup, timeline or seed) since it was last
    /// loaded, shared or exported: what opening another link over it would lose. Playing on
    /// is not a change.
    pub fn has_unsaved_changes(&self) -> bool {
        baseline_of(&self.scenario) != self.baseline
    }

    /// Becomes `other`, a playground just opened, still keeping the session this one keeps:
    /// opening a file or a link is not the user's choice about that session.
    fn replace_with(&mut self, other: Playground) {
        let kept = self.kept.take();
        let outputs = std::mem::take(&mut self.outputs);
        *self = other;
        self.kept = kept;
        self.outputs = outputs;
    }

    /// A playground fast-forwarded to the scenario's `duration_ms`, paused.
    fn resume(scenario: Scenario) -> Result<Playground, String> {
        let mut p = Playground::new(scenario)?;
        let end = p.scenario.end();
        p.replay_to(end);
        Ok(p)
    }

    pub fn is_playing(&self) -> bool {
        self.playing
    }
    pub fn speed(&self) -> u32 {
        self.speed
    }
    pub fn seed(&self) -> u64 {
        self.sim.seed()
    }
    pub fn now(&self) -> Instant {
        self.sim.now()
    }
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
    pub fn sim(&self) -> &Sim {
        &self.sim
    }
    /// The timeline's actions that have not run yet, as `(at_ms, action name)`: a live action
    /// waits for the next whole millisecond, so one made while paused waits for Play or Step,
    /// and the page says so instead of showing nothing.
    pub fn pending(&self) -> Vec<(u64, &'static str)> {
        let now = self.sim.now();
        self.scenario
            .events
            .iter()
            .filter(|e| Instant::from_millis(e.at_ms) > now)
            .map(|e| (e.at_ms, e.action.name()))
            .collect()
    }
    /// The link [`Action::Share`] made, until an action changes the run.
    pub fn share_link(&self) -> Option<&str> {
        self.outputs.share_link.as_deref()
    }
    /// The scenario file [`Action::Export`] wrote last.
    pub fn exported(&self) -> Option<&Rc<str>> {
        self.outputs.exported.as_ref()
    }
    /// What [`Action::Audit`] found last.
    pub fn audit(&self) -> Option<&Audit> {
        self.outputs.audit.as_ref()
    }
    /// The journey [`Action::FollowRecord`] or [`Action::FollowProduced`] traced last.
    pub fn journey(&self) -> Option<&Rc<Journey>> {
        self.outputs.journey.as_ref()
    }
    /// Whether [`Self::journey`] is that of the record produced by hand last.
    pub fn journey_of_produced(&self) -> bool {
        self.outputs.journey_of_produced
    }

    pub fn snapshot(&self, records_per_partition: usize, trace_events: usize) -> Snapshot {
        self.sim.snapshot(records_per_partition, trace_events)
    }

    /// A snapshot with newest records for some partitions only (see [`RecordsOf`]).
    pub fn snapshot_of(
        &self,
        records_per_partition: usize,
        records_of: RecordsOf,
        trace_events: usize,
    ) -> Snapshot {
        self.sim
            .snapshot_of(records_per_partition, records_of, trace_events)
    }

    /// The scenario up to now as a file: `duration_ms` is the current virtual time, so
    /// `kplay run` on it stops where the playground is and prints the same digest.
    /// Finishes the current millisecond first, so the state is one a run can reach.
    fn export(&mut self) -> String {
        let now_ms = self.sim.now().as_micros().div_ceil(1000).max(1);
        self.advance(Instant::from_millis(now_ms), u64::MAX);
        let mut s = self.scenario.clone();
        s.seed = self.sim.seed();
        s.duration_ms = now_ms;
        // The user has it now (a file, or a link that `share_fragment` makes of it).
        self.baseline = baseline_of(&s);
        s.to_toml()
    }

    /// The scenario for automatic saving, without touching the run: `duration_ms` is the
    /// current virtual time in whole milliseconds (at least 1). A paused playground sits on a
    /// whole millisecond, so saving it is exact.
    pub fn saved(&self) -> String {
        let mut s = self.scenario.clone();
        s.seed = self.sim.seed();
        s.duration_ms = self.sim.now().as_millis().max(1);
        s.to_toml()
    }

    /// The URL fragment that reproduces this playground.
    fn share_fragment(&mut self) -> String {
        let text = self.export();
        let scenario = Scenario::parse_unchecked(&text).expect("an export parses");
        encode_link(&scenario)
    }

    /// Applies an action. An action that cannot be applied changes nothing and says why.
    pub fn dispatch(&mut self, action: Action) -> Result<(), String> {
        if !action.only_looks() {
            // A new action makes an old error message and share link stale.
            if matches!(self.notice, Some(Notice::Error(_))) {
                self.notice = None;
            }
            self.outputs.share_link = None;
            self.forget_lesson_check();
        }
        let changes = !action.only_looks();
        let result = self.apply(action);
        self.observe();
        if changes {
            self.kafka_commands = kafka_commands_of(&self.scenario);
        }
        if let Err(e) = &result {
            self.notice = Some(Notice::Error(e.clone()));
        }
        result
    }

    fn apply(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::Play => self.playing = true,
            Action::Pause => {
                self.playing = false;
                // Stop on a whole millisecond: what is saved or shared is then exactly this.
                let ms = self.sim.now().as_micros().div_ceil(1000);
                self.advance(Instant::from_millis(ms), u64::MAX);
            }
            Action::Step => self.step_forward(),
            Action::Seek { at_ms } => self.seek(at_ms),
            Action::StepBack => self.step_back()?,
            Action::Fork(change) => self.fork_with(change)?,
            Action::CloseFork => self.fork = None,
            Action::SetSpeed(percent) => {
                if !SPEEDS.contains(&percent) {
                    return Err(format!("speed {percent}% is not offered"));
                }
                self.speed = percent;
            }
            Action::SetSeed(text) => {
                self.scenario.seed = parse_seed(&text)?;
                self.restart()?;
            }
            Action::Reset => self.restart()?,
            Action::Frame { elapsed_ms } => {
                if self.playing {
                    let wall = u64::from(elapsed_ms.min(MAX_FRAME_MS));
                    let advance_us = wall * 1000 * u64::from(self.speed) / 100;
                    let target = self.sim.now() + kplay_engine::Duration(advance_us);
                    self.advance(target, FRAME_EVENT_BUDGET);
                }
            }
            Action::Live(live) => self.live(live)?,
            Action::Edit(edit) => self.edit(edit)?,
            Action::Import(text) => {
                let scenario = Scenario::parse(&text).map_err(err)?;
                self.replace_with(Playground::resume(scenario)?);
                self.notice = Some(Notice::Info("Scenario imported.".into()));
            }
            Action::DismissNotice => self.notice = None,
            Action::OpenLink(fragment) => {
                let opened = Playground::from_link(&fragment).map_err(|e| {
                    format!("The share link could not be opened, so this session was kept. {e}")
                })?;
                self.replace_with(opened);
                if self.notice.is_none() {
                    self.notice = Some(Notice::Info("Opened the share link.".into()));
                }
            }
            Action::RestoreSaved => self.restore_saved()?,
            Action::ReplaceSaved => self.kept = None,
            Action::Share { page } => {
                let fragment = self.share_fragment();
                self.outputs.share_link = Some(format!("{page}#{fragment}"));
            }
            Action::DismissShare => self.outputs.share_link = None,
            Action::Export => self.outputs.exported = Some(Rc::from(self.export())),
            Action::Lesson(action) => self.lesson_action(action)?,
            Action::Audit => self.outputs.audit = Some(self.audit_now()),
            Action::FollowRecord(id) => self.show_journey(self.follow(id, Instant::ZERO)?, false),
            Action::FollowProduced => self.show_journey(self.follow_produced()?, true),
            Action::CloseJourney => self.outputs.journey = None,
        }
        Ok(())
    }

    /// Brings back the session a broken share link kept.
    fn restore_saved(&mut self) -> Result<(), String> {
        let text = self
            .kept
            .take()
            .ok_or_else(|| "There is no saved session to restore.".to_string())?;
        match Playground::from_saved(&text) {
            Ok(restored) => {
                self.replace_with(restored);
                if self.notice.is_none() {
                    self.notice = Some(Notice::Info("Your saved session is back.".into()));
                }
                Ok(())
            }
            Err(e) => {
                // Still the user's: kept, so they may try again or replace it.
                self.kept = Some(text);
                Err(format!("Your saved session could not be opened. {e}"))
            }
        }
    }

    /// The loss audit of the run so far.
    fn audit_now(&self) -> Audit {
        let r = self.sim.report();
        let examples = r
            .lost
            .iter()
            .take(20)
            .map(|l| {
                let offset = l.offset.map_or("?".to_string(), |o| o.to_string());
                format!(
                    "{} record #{} → {}-{} offset {offset}",
                    l.producer, l.id.seq, l.topic, l.partition
                )
            })
            .collect();
        Audit {
            at: self.now().to_string(),
            acked: r.acked,
            lost: r.lost_acked,
            examples,
        }
    }

    fn show_journey(&mut self, journey: Journey, of_produced: bool) {
        self.outputs.journey = Some(Rc::new(journey));
        self.outputs.journey_of_produced = of_produced;
    }

    /// The journey of record `id` up to now: the run is deterministic, so a replay of the
    /// scenario from zero is this run, and an observer follows the record in it from `from`
    /// (before the record was sent) without changing it.
    fn follow(&self, id: RecordId, from: Instant) -> Result<Journey, String> {
        let mut replay = self.scenario.build(None).map_err(err)?;
        replay.run_until(from.min(self.sim.now()));
        replay.watch_record(id);
        replay.run_until(self.sim.now());
        replay
            .journey()
            .ok_or_else(|| "The record could not be followed.".to_string())
    }

    /// The journey of the record sent by the timeline's latest `produce` action: it is the
    /// next record its producer numbers when the action runs (commands run first at their
    /// instant), which a replay up to just before that millisecond tells.
    fn follow_produced(&self) -> Result<Journey, String> {
        let (producer, at_ms) = self
            .scenario
            .events
            .iter()
            .rev()
            .find_map(|e| match &e.action {
                TimelineAction::Produce { producer, .. } => Some((producer.clone(), e.at_ms)),
                _ => None,
            })
            .ok_or_else(|| "No record was produced by hand yet: send one first.".to_string())?;
        let before = Instant((at_ms * 1000).saturating_sub(1));
        let mut replay = self.scenario.build(None).map_err(err)?;
        replay.run_until(before);
        let p = replay
            .producers()
            .find(|p| p.spec.name == producer)
            .ok_or_else(|| format!("Producer {producer} was not running when it sent it."))?;
        let id = RecordId {
            producer: p.index,
            seq: p.stats.produced,
        };
        self.follow(id, before)
    }

    /// Rebuilds the run from time zero with the current scenario, keeping play state.
    fn restart(&mut self) -> Result<(), String> {
        let sim = build(&self.scenario)?;
        self.set_run(sim);
        Ok(())
    }

    /// Runs towards `until` (at most `budget` events), checking the invariants on new
    /// ground; a violation pauses the run. Returns whether `until` was reached.
    /// One step at a time, so the checker and the markers see every step the run takes for
    /// the first time (the trace keeps only the newest events, and a frame may run 200,000).
    fn advance(&mut self, until: Instant, budget: u64) -> bool {
        for _ in 0..budget {
            if self.sim.next_event_at().is_none_or(|at| at > until) {
                self.sim.run_until(until);
                return true;
            }
            if !self.step_checked() {
                return false;
            }
        }
        false
    }

    /// One step, checked and read for markers if new; false when it broke an invariant.
    fn step_checked(&mut self) -> bool {
        self.sim.step();
        if let Some(v) = self.guard.after_step(&self.sim) {
            self.violated(v);
            return false;
        }
        self.markers.observe(&self.sim);
        true
    }

    /// The important events of the run as far as it went (the event log pins them).
    pub fn pins(&self) -> Rc<Vec<Pin>> {
        self.markers.pins()
    }

    /// Plants a deliberate bug in the run from now on (see `kplay_engine::planted`): for the
    /// test that the page's checker catches one.
    #[cfg(feature = "planted-bugs")]
    pub fn plant(&mut self, planted: kplay_engine::planted::Planted) {
        self.sim.plant(planted);
    }

    /// The invariant this run broke, if any: kplay's bug (see [`Playground::violated`]).
    pub fn violation(&self) -> Option<&kplay_engine::check::Violation> {
        self.violation.as_ref()
    }

    /// One event forward, paused (checked if the run takes it for the first time).
    fn step_forward(&mut self) {
        self.playing = false;
        self.step_checked();
    }

    /// An invariant broke: kplay's bug, not the learner's. The run pauses where it broke, the
    /// timeline marks it, and the page says how to replay it.
    fn violated(&mut self, v: kplay_engine::check::Violation) {
        self.playing = false;
        self.violation = Some(v.clone());
        self.mark(Marker {
            at_ms: v.at.as_millis(),
            kind: MarkerKind::Violation,
            label: format!("invariant {} violated", v.invariant),
        });
        self.notice = Some(Notice::Error(format!(
            "kplay broke one of its own guarantees: {v}. This is a bug in kplay, not in your \
             settings. Export the scenario and replay it with `kplay run FILE --check` (seed {}) \
             to report it.",
            self.sim.seed()
        )));
    }

    /// A new run from time zero: its past so far is only its start.
    fn set_run(&mut self, sim: Sim) {
        let (guard, violation) = Guard::new(&sim);
        self.guard = guard;
        self.violation = None;
        self.checkpoints = Checkpoints::new(&sim, self.guard.checker_at(&sim));
        self.markers = Markers::default();
        self.furthest = sim.now();
        self.fork = None;
        self.metrics = metrics::MetricStore::default();
        self.sim = sim;
        if let Some(v) = violation {
            self.violated(v);
        }
    }

    /// The millisecond at which a live action takes effect: the next whole one.
    fn next_ms(&self) -> u64 {
        self.sim.now().as_millis() + 1
    }

    /// Something done to the running cluster. The action is checked against the live state,
    /// which knows what the run has done so far (topics it auto-created, brokers it crashed);
    /// then the timeline with it must still replay (see [`Self::commit_live`]).
    fn live(&mut self, action: TimelineAction) -> Result<(), String> {
        let at_ms = self.next_ms();
        let command = action.command();
        self.sim.validate(&command).map_err(|e| e.to_string())?;
        let mut candidate = self.editable_scenario();
        candidate.events.push(EventDef {
            at_ms,
            action,
            line: 0,
        });
        self.commit_live(candidate, at_ms, command)
    }

    /// Records `candidate` (the scenario with one more thing on its timeline at `at_ms`) and
    /// schedules `command` in the running simulation, if the timeline still replays: the live
    /// state has not applied what waits in the timeline (an action clicked in the same
    /// millisecond, or the rest of a timeline after a reset), and an export must open as a
    /// file. Otherwise nothing changes.
    ///
    /// After a seek back, the run's future is replaced, as editing history would: what the
    /// timeline held from `at_ms` on is dropped (see [`Self::replace_future`]).
    fn commit_live(
        &mut self,
        candidate: Scenario,
        at_ms: u64,
        command: Command,
    ) -> Result<(), String> {
        let rewound = self.rewound();
        candidate.check_timeline().map_err(err)?;
        self.scenario = candidate;
        let at = Instant::from_millis(at_ms);
        if rewound {
            self.replace_future(at);
        }
        self.checkpoints.schedule(at, &command);
        self.sim.schedule(at, command);
        Ok(())
    }

    fn edit(&mut self, edit: Edit) -> Result<(), String> {
        let start_ms = if self.sim.now() == Instant::ZERO {
            0
        } else {
            self.next_ms()
        };
        let mut candidate = self.editable_scenario();
        let command = match edit {
            Edit::AddTopic {
                name,
                partitions,
                replication_factor,
                min_insync,
            } => {
                let form = topic_def(&name, &partitions, &replication_factor, &min_insync)?;
                let def = TopicDef { start_ms, ..form };
                let command = def.command().map_err(err)?;
                candidate.topics.push(def);
                command
            }
            Edit::AddProducer {
                id,
                topic,
                rate_per_sec,
                keys,
                acks,
            } => {
                let form = producer_def(&id, &topic, &rate_per_sec, &keys, &acks)?;
                let def = ProducerDef { start_ms, ..form };
                let command = def.command().map_err(err)?;
                candidate.producers.push(def);
                command
            }
            Edit::AddConsumer {
                id,
                topics,
                processing_ms,
                offset_reset,
                group,
                commit,
            } => {
                let form =
                    consumer_def(&id, &topics, &processing_ms, &offset_reset, &group, &commit)?;
                let def = like_its_group(&candidate, ConsumerDef { start_ms, ..form });
                let command = def.command().map_err(err)?;
                candidate.consumers.push(def);
                command
            }
            Edit::SetConfig { target, key, value } => {
                let value = config_value(&value);
                return self.change_setup(|s| set_config(s, &target, key.trim(), Some(value)));
            }
            Edit::RemoveConfig { target, key } => {
                return self.change_setup(|s| set_config(s, &target, key.trim(), None));
            }
            Edit::SetProducerKeys { producer, keys } => {
                let mode = key_mode(&keys)?;
                return self.change_setup(|s| set_keys(s, &producer, mode));
            }
            Edit::SetRate {
                producer,
                rate_per_sec,
            } => {
                let max = kplay_engine::sim::MAX_RATE_PER_SEC;
                let rate = match rate_per_sec.trim().parse::<u64>() {
                    Ok(n) if n <= max => n,
                    // A closed loop (the engine refuses it without a hardware profile).
                    _ if rate_per_sec.trim() == "max" => kplay_engine::producer::RATE_MAX,
                    _ => {
                        return Err(format!(
                            "`rate_per_sec`: enter a whole number of records per second from \
                             0 to {max}, or \"max\", got {rate_per_sec:?}"
                        ))
                    }
                };
                return self.live(TimelineAction::SetRate {
                    producer,
                    rate_per_sec: rate,
                });
            }
            Edit::SetProcessing {
                consumer,
                processing_ms,
            } => {
                let us = micros_of_millis(&processing_ms).ok_or_else(|| {
                    format!(
                        "`processing_ms_per_record`: enter milliseconds per record from 0 to \
                         3600000 (0.001 is the smallest step), got {processing_ms:?}"
                    )
                })?;
                return self.live(TimelineAction::SlowConsumer {
                    consumer,
                    processing_us_per_record: us,
                });
            }
            Edit::AddAlert(_) | Edit::RemoveAlert(_) => return self.edit_alerts(edit),
            Edit::SetBrokers(text) => {
                let n = parse_u32("brokers", &text, 1, kplay_engine::sim::MAX_BROKERS)?;
                return self.change_setup(|s| {
                    s.cluster.brokers = n;
                    Ok(())
                });
            }
        };
        self.commit_def(candidate, start_ms, command)
    }

    /// Adds a definition that starts at `start_ms`, whose engine command is `command`.
    fn commit_def(
        &mut self,
        candidate: Scenario,
        start_ms: u64,
        command: Command,
    ) -> Result<(), String> {
        if start_ms == 0 {
            // Before anything ran: simply rebuild (which checks the whole scenario).
            let sim = build(&candidate)?;
            self.set_run(sim);
            self.scenario = candidate;
            return Ok(());
        }
        self.commit_live(candidate, start_ms, command)
    }

    /// Adds or removes an alert rule.
    fn edit_alerts(&mut self, edit: Edit) -> Result<(), String> {
        let mut candidate = self.scenario.clone();
        match edit {
            Edit::AddAlert(text) => {
                let rule = kplay_engine::sim::AlertRule::parse(&text)
                    .map_err(|e| format!("`alert`: {e}"))?;
                if candidate.alerts.contains(&rule) {
                    return Err(format!("`alert`: the rule {rule} is already set"));
                }
                candidate.alerts.push(rule);
            }
            Edit::RemoveAlert(i) if i < candidate.alerts.len() => {
                candidate.alerts.remove(i);
            }
            _ => return Err("there is no such alert rule".into()),
        }
        self.change_alerts(candidate)
    }

    /// New alert rules: they only read the run, so it is played again from zero to where it
    /// was (the same run, with the rules checked over all of it), paused there.
    fn change_alerts(&mut self, candidate: Scenario) -> Result<(), String> {
        let was = self.sim.now();
        let playing = self.playing;
        self.scenario = candidate;
        self.restart()?;
        self.observe();
        self.replay_to(was);
        self.playing = playing;
        Ok(())
    }

    /// Plays to `target` a second at a time, so the timeline gets its checkpoints and
    /// markers on the way; bounded, so a long session cannot freeze the tab. Returns whether
    /// it got there (else it stopped on a whole millisecond, and says so).
    fn replay_to(&mut self, target: Instant) -> bool {
        let mut reached = true;
        while reached && self.sim.now() < target {
            let until = (self.sim.now() + kplay_engine::Duration(1_000_000)).min(target);
            let left = RESUME_EVENT_BUDGET.saturating_sub(self.sim.events_processed());
            reached = left > 0 && self.advance(until, left);
            self.observe();
        }
        if !reached {
            let ms = self.sim.now().as_micros().div_ceil(1000);
            self.sim.run_until(Instant::from_millis(ms));
            self.notice = Some(Notice::Info(format!(
                "This run is long: it was replayed up to {} of {}. Press play to continue.",
                self.sim.now(),
                target
            )));
        }
        reached
    }

    /// Changes the setup of things that already exist: validated, then the run restarts.
    fn change_setup(
        &mut self,
        f: impl FnOnce(&mut Scenario) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut candidate = self.scenario.clone();
        f(&mut candidate)?;
        candidate.validate().map_err(err)?;
        self.scenario = candidate;
        let was = self.sim.now();
        self.restart()?;
        if was > Instant::ZERO {
            self.notice = Some(Notice::Info(
                "The setup changed, so the run restarted from 0 s with the new settings. To keep \
                 the run and change a setting from a moment on, use Fork on the timeline."
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Drops what the timeline holds from `from_ms` on: events, and topics and clients defined to
/// start then.
fn drop_future(s: &mut Scenario, from_ms: u64) {
    s.events.retain(|e| e.at_ms < from_ms);
    s.topics.retain(|t| t.start_ms < from_ms);
    s.producers.retain(|p| p.start_ms < from_ms);
    s.consumers.retain(|c| c.start_ms < from_ms);
}

/// A topic as typed in the form, starting at time zero.
fn topic_def(
    name: &str,
    partitions: &str,
    replication_factor: &str,
    min_insync: &str,
) -> Result<TopicDef, String> {
    let partitions = parse_u32(
        "partitions",
        partitions,
        1,
        kplay_engine::sim::MAX_PARTITIONS_PER_TOPIC,
    )?;
    let rf = parse_u32(
        "replication_factor",
        replication_factor,
        1,
        kplay_engine::sim::MAX_BROKERS,
    )?;
    let mut config = Vec::new();
    if !min_insync.trim().is_empty() {
        let m = parse_u32(
            "min.insync.replicas",
            min_insync,
            1,
            kplay_engine::sim::MAX_BROKERS,
        )?;
        config.push((
            "min.insync.replicas".to_string(),
            ConfigValue::Int(i64::from(m)),
        ));
    }
    Ok(TopicDef {
        name: name.trim().to_string(),
        partitions,
        replication_factor: rf,
        config,
        start_ms: 0,
        line: 0,
    })
}

/// A producer as typed in the form, starting at time zero.
fn producer_def(
    id: &str,
    topic: &str,
    rate_per_sec: &str,
    keys: &str,
    acks: &str,
) -> Result<ProducerDef, String> {
    let rate = rate_per_sec
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("`rate_per_sec`: enter a whole number, got {rate_per_sec:?}"))?;
    let keys = key_mode(keys)?;
    let config = vec![(
        "acks".to_string(),
        ConfigValue::Str(acks.trim().to_string()),
    )];
    Ok(ProducerDef {
        id: id.trim().to_string(),
        topic: topic.trim().to_string(),
        rate_per_sec: rate,
        records: None,
        keys,
        value_bytes: 100,
        values: Default::default(),
        records_per_transaction: kplay_scenario::DEFAULT_RECORDS_PER_TRANSACTION,
        abort_ppm: 0,
        start_ms: 0,
        config,
        line: 0,
    })
}

/// A new member handles failed records as its group's members do (`on_failure`, retries,
/// which records fail); with retry topics it names the source topics only, as the group's
/// members were written, and subscribes to their retry topics as they do.
fn like_its_group(s: &Scenario, mut def: ConsumerDef) -> ConsumerDef {
    let group_of = |c: &ConsumerDef| {
        let g = c.config.iter().find(|(k, _)| k == "group.id");
        g.map(|(_, v)| v.clone())
    };
    let group = group_of(&def);
    let member = s
        .consumers
        .iter()
        .find(|c| group.is_some() && group_of(c) == group);
    if let Some(member) = member {
        def.failures = member.failures.clone();
        if def.failures.on_failure.forwards() {
            let derived = kplay_engine::consumer::failure::source_topic;
            def.topics.retain(|t| derived(t).is_none());
        }
    }
    def
}

/// A consumer as typed in the form, starting at time zero.
fn consumer_def(
    id: &str,
    topics: &str,
    processing_ms: &str,
    offset_reset: &str,
    group: &str,
    commit: &str,
) -> Result<ConsumerDef, String> {
    let topics: Vec<String> = topics
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let ms: u64 = processing_ms.trim().parse().map_err(|_| {
        format!("`processing_ms_per_record`: enter a whole number, got {processing_ms:?}")
    })?;
    let mut config = vec![(
        "auto.offset.reset".to_string(),
        ConfigValue::Str(offset_reset.trim().to_string()),
    )];
    if !group.trim().is_empty() {
        config.push((
            "group.id".to_string(),
            ConfigValue::Str(group.trim().to_string()),
        ));
    }
    let commit = CommitStrategy::parse(commit.trim()).ok_or_else(|| {
        format!(
            "`commit`: expected one of {}, got {commit:?}",
            CommitStrategy::NAMES.join(", ")
        )
    })?;
    Ok(ConsumerDef {
        id: id.trim().to_string(),
        topics,
        processing_us_per_record: ms.saturating_mul(1000),
        commit,
        failures: Default::default(),
        start_ms: 0,
        config,
        line: 0,
    })
}

/// A seed as typed: Kafka's and the file's range, 0 to `i64::MAX`.
fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&s| s <= i64::MAX as u64)
        .ok_or_else(|| {
            format!(
                "`seed`: enter a whole number from 0 to {}, got {text:?}",
                i64::MAX
            )
        })
}

/// A key mode as typed: `none`, `unique` or `pool:N`.
fn key_mode(text: &str) -> Result<KeyMode, String> {
    match text.trim() {
        "none" | "" => Ok(KeyMode::Null),
        "unique" => Ok(KeyMode::Unique),
        other => match other
            .strip_prefix("pool:")
            .and_then(|n| n.trim().parse::<u32>().ok())
        {
            Some(n) if n > 0 && n <= kplay_engine::sim::MAX_KEY_POOL => Ok(KeyMode::Pool(n)),
            _ => Err(format!(
                "`keys`: use none, unique or pool:N (N from 1 to {}), got {other:?}",
                kplay_engine::sim::MAX_KEY_POOL
            )),
        },
    }
}

/// Sets a producer's key mode in a scenario.
fn set_keys(s: &mut Scenario, producer: &str, mode: KeyMode) -> Result<(), String> {
    let p = s
        .producers
        .iter_mut()
        .find(|p| p.id == producer)
        .ok_or_else(|| format!("no producer {producer:?}"))?;
    p.keys = mode;
    Ok(())
}

/// Sets or removes one config of `target` in a scenario, checking the name and value first.
fn set_config(
    s: &mut Scenario,
    target: &Target,
    key: &str,
    value: Option<ConfigValue>,
) -> Result<(), String> {
    let (scope, pairs) = match target {
        Target::Cluster => (Scope::Broker, &mut s.cluster.config),
        Target::Topic(name) => {
            let t = s
                .topics
                .iter_mut()
                .find(|t| t.name == *name)
                .ok_or_else(|| format!("no topic {name:?}"))?;
            (Scope::Topic, &mut t.config)
        }
        Target::Producer(id) => {
            let p = s
                .producers
                .iter_mut()
                .find(|p| p.id == *id)
                .ok_or_else(|| format!("no producer {id:?}"))?;
            (Scope::Producer, &mut p.config)
        }
        Target::Consumer(id) => {
            let c = s
                .consumers
                .iter_mut()
                .find(|c| c.id == *id)
                .ok_or_else(|| format!("no consumer {id:?}"))?;
            (Scope::Consumer, &mut c.config)
        }
    };
    pairs.retain(|(k, _)| k != key);
    if let Some(v) = value {
        // Check the one setting now, for a message about it rather than about the whole file.
        Configs::new(scope)
            .set(key, v.clone())
            .map_err(|e| e.to_string())?;
        pairs.push((key.to_string(), v));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod travel_tests;
