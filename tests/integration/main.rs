//! Cross-crate tests in one binary: example scenarios end to end, determinism, the CLI,
//! malformed input, and the swarm.

mod cli;
mod determinism;
mod failed_records;
mod groups;
mod journey;
mod kafka_tests;
mod lessons;
mod malformed;
mod metrics;
mod missing_topics;
mod perf;
mod playground;
mod replication;
mod scenarios;
mod swarm;
mod tidy;
mod transactions;
