//! Cross-crate tests in one binary: example scenarios end to end, determinism, the CLI, and
//! malformed input.

mod cli;
mod determinism;
mod groups;
mod malformed;
mod replication;
mod scenarios;
mod sweep;
mod tidy;
