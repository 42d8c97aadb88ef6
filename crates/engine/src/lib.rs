//! The kplay engine: a deterministic, sans-IO simulation of a Kafka cluster.
//!
//! Nodes (brokers, producers, consumers) are state machines that take inputs and return
//! effects. Only [`sim::Sim`] owns time, randomness, the network and faults. Hosts (the CLI,
//! the web app, the wasm facade) drive a `Sim` with [`sim::Command`]s and read
//! [`snapshot::Snapshot`]s and [`snapshot::Report`]s. The engine depends on `std` only.

/// Whether a deliberate bug is planted in this node (see `planted`); without the
/// `planted-bugs` feature, always false and compiled away.
#[cfg(feature = "planted-bugs")]
macro_rules! planted {
    ($node:expr, $bug:ident) => {
        $node.planted.has($crate::planted::Bug::$bug)
    };
}
#[cfg(not(feature = "planted-bugs"))]
macro_rules! planted {
    ($node:expr, $bug:ident) => {
        false
    };
}

pub(crate) mod broker;
pub mod check;
pub(crate) mod client;
pub mod compression;
pub mod config;
pub mod consumer;
pub(crate) mod controller;
pub mod group;
pub mod hardware;
pub mod histogram;
pub mod ledger;
pub(crate) mod log;
pub(crate) mod metadata;
pub mod net;
pub(crate) mod node;
pub mod partitioner;
#[cfg(feature = "planted-bugs")]
pub mod planted;
pub mod processor;
pub mod producer;
pub(crate) mod protocol;
pub mod record;
pub mod rng;
pub mod sim;
pub mod snapshot;
pub mod sort;
pub mod time;
pub mod trace;
pub mod txn;

pub use sim::{ClusterSetup, Command, CommandError, Sim};
pub use time::{Duration, Instant};
