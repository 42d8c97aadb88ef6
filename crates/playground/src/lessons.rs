//! The lesson a learner follows in the playground: which one, at which step, and what the last
//! "check my answer" found. The lessons themselves are data (`kplay_scenario::lesson`); this is
//! only where the learner is in one.

use std::rc::Rc;

use kplay_scenario::{Check, Lesson};

use crate::{Marker, MarkerKind, Playground};

/// What the learner does with lessons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LessonAction {
    /// Start this lesson from its setup, at 0 s, paused. The host reads the lesson (the CLI
    /// and the tests from the files built in, the page from the files beside it), so the
    /// playground does not carry every lesson's text.
    Open(Rc<Lesson>),
    /// Show step `n` (0-based) of the open lesson.
    Step(usize),
    /// Run the learner's scenario (setup, changes, and what they did while playing) on its own
    /// and evaluate the challenge's goals.
    Check,
    /// Load the reference solution (the setup with the solution's settings), at 0 s.
    ShowSolution,
    Close,
}

/// The open lesson and the learner's place in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonState {
    pub lesson: Lesson,
    pub step: usize,
    /// The last check, until the scenario changes again.
    pub check: Option<Check>,
    /// Settings the learner changed outside the challenge's `may_change`, as file lines: the
    /// check still runs, but the page says the answer bends the rules.
    pub outside: Vec<String>,
    /// The solution is loaded ("show me"): a pass then is the lesson's, not the learner's.
    pub showing_solution: bool,
}

impl Playground {
    /// The open lesson, if any; shared, so the page holds it every frame without a copy.
    pub fn lesson(&self) -> Option<&Rc<LessonState>> {
        self.outputs.lesson.as_ref()
    }

    pub(crate) fn lesson_action(&mut self, action: LessonAction) -> Result<(), String> {
        match action {
            LessonAction::Open(lesson) => {
                self.replace_with(Playground::new(lesson.setup.clone())?);
                self.outputs.lesson = Some(Rc::new(LessonState {
                    lesson: Rc::unwrap_or_clone(lesson),
                    step: 0,
                    check: None,
                    outside: Vec::new(),
                    showing_solution: false,
                }));
            }
            LessonAction::Step(n) => {
                let state = self.open_lesson()?;
                if n >= state.lesson.steps.len() {
                    return Err(format!(
                        "`step`: the lesson has {} steps",
                        state.lesson.steps.len()
                    ));
                }
                state.step = n;
                let label = format!("{}: step {} of {}", state.lesson.title, n + 1, {
                    state.lesson.steps.len()
                });
                // The timeline shows where in the run the learner moved on.
                let at_ms = self.sim.now().as_millis();
                self.mark(Marker {
                    at_ms,
                    kind: MarkerKind::Lesson,
                    label,
                });
            }
            LessonAction::Check => {
                let mut scenario = self.scenario.clone();
                let state = self.open_lesson()?;
                // The learner's run as the lesson means it: to the setup's end (or further, if
                // the learner's own timeline goes on).
                scenario.duration_ms = scenario.duration_ms.max(state.lesson.setup.duration_ms);
                let check = state
                    .lesson
                    .check_run(&scenario)
                    .map_err(|e| e.to_string())?;
                state.outside = state.lesson.changes_outside(&scenario);
                state.check = Some(check);
            }
            LessonAction::ShowSolution => {
                let solution = self
                    .open_lesson()?
                    .lesson
                    .solution_scenario()
                    .map_err(|e| e.to_string())?;
                self.replace_with(Playground::new(solution)?);
                let state = self.open_lesson()?;
                state.check = None;
                state.showing_solution = true;
            }
            LessonAction::Close => self.outputs.lesson = None,
        }
        Ok(())
    }

    fn open_lesson(&mut self) -> Result<&mut LessonState, String> {
        self.outputs
            .lesson
            .as_mut()
            .map(Rc::make_mut)
            .ok_or_else(|| "no lesson is open".to_string())
    }

    /// Any change to the run makes the last check stale (called for every action that does
    /// more than look).
    pub(crate) fn forget_lesson_check(&mut self) {
        if let Some(state) = &mut self.outputs.lesson {
            if state.check.is_some() {
                Rc::make_mut(state).check = None;
            }
        }
    }
}
