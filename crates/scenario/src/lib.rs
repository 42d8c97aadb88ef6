//! Scenario files: one TOML format for the CLI, the tests, and the browser's import, export and
//! share links. Keys use Kafka's own configuration names.
//!
//! [`Scenario::parse`] reads and validates a file, reporting the first problem with its line and
//! field; [`Scenario::to_toml`] writes one back; [`Scenario::build`] turns one into a running
//! [`kplay_engine::Sim`]. Nothing here panics on user input.

mod emit;
pub mod goal;
pub mod kafka_tools;
mod lesson;
mod link;
mod model;
mod parse;
mod read;
mod report;
mod setting;
mod write;

#[cfg(feature = "builtin-lessons")]
pub use lesson::builtin;
pub use lesson::{
    Challenge, Check, Goal, Lesson, Part, Step, Track, Verdict, IDS as LESSON_IDS, MAX_CHECK_EVENTS,
};
pub use link::{decode_link, encode_link, MAX_LINK_CHARS};
pub use model::*;
pub use parse::{ScenarioError, MAX_SCENARIO_BYTES};
pub use report::report_json;
pub use setting::{parse_value, SettingPath};
